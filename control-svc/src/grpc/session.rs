//! `AuthorizeSession`: the playground's caller. The relay forwards the headers that sign a browser in; they are
//! checked by the admin API's own session code (`admin/session.rs`), and the signed-in user becomes a caller
//! billed to the user alone under Veloera's name for it, `playground-<group>` (token 0: no token row, the token
//! side unlimited, no token rate limit). Candidates and price come from the same code as `Authorize`.

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use veloera_proto::v1::{AuthorizeResponse, AuthorizeSessionRequest, Caller, DenialReason};

use super::authorize::{deny, grant};
use crate::admin::session;
use crate::db;
use crate::error::ControlError;
use crate::notify::Preferences;
use crate::state::AppState;

/// Veloera bills playground requests under this token name, followed by the group.
const TOKEN_NAME_PREFIX: &str = "playground-";

pub async fn decide(state: &AppState, req: AuthorizeSessionRequest) -> Result<AuthorizeResponse, ControlError> {
    let headers = forwarded_headers(&req)?;
    let user = match session::active(state, &headers).await {
        Ok(user) => user,
        Err(ControlError::Unauthenticated) => {
            return Ok(deny(DenialReason::UnknownToken, "not signed in, or the session has ended; sign in again"));
        }
        Err(ControlError::Forbidden(why)) => return Ok(deny(DenialReason::UserDisabled, why)),
        Err(e) => return Err(e),
    };
    let prices = state.prices();
    let group = if req.group.is_empty() { user.group_name.clone() } else { req.group.clone() };
    if let Some(why) = prices.refuse_token_group(&user.group_name, &group) {
        return Ok(deny(DenialReason::ModelNotAllowed, why));
    }
    let (_, user_leased) = db::leases::outstanding(state.db(), db::leases::PLAYGROUND_TOKEN, user.id).await?;
    let user_quota = user.quota + user.subscription_quota + user_leased;
    if user_quota <= 0 {
        return Ok(deny(DenialReason::UserExhausted, "user quota is used up"));
    }
    let accept_unset = Preferences::parse(&db::users::setting(state.db(), user.id).await?).accept_unset_models;
    let caller = Caller {
        user_id: user.id,
        token_id: db::leases::PLAYGROUND_TOKEN,
        token_name: format!("{TOKEN_NAME_PREFIX}{group}"),
        models: state.channels().models_for_group(&group).into_iter().collect(),
        group,
        user_role: user.role as i32,
        unlimited_quota: true,
        token_remain_quota: 0,
        user_quota,
        expires_at: -1,
        model_allowlist: Vec::new(),
        ip_allowlist: Vec::new(),
        token_used_quota: 0,
        quota_per_unit: prices.quota_per_unit(),
        rate_limit_period: 0,
        rate_limit_count: 0,
        rate_limit_success: 0,
        accept_unset_model_ratio_model: accept_unset,
    };
    // A browser never pins a channel: the playground asks for the model as the user picked it.
    Ok(grant(state, caller, &req.model, None))
}

/// The request headers the session code reads, rebuilt from what the relay forwarded.
fn forwarded_headers(req: &AuthorizeSessionRequest) -> Result<HeaderMap, ControlError> {
    let mut headers = HeaderMap::new();
    let mut put = |name: HeaderName, value: &str| -> Result<(), ControlError> {
        if !value.is_empty() {
            let value = HeaderValue::from_str(value).map_err(|_| ControlError::Unauthenticated)?;
            headers.insert(name, value);
        }
        Ok(())
    };
    put(header::COOKIE, &req.cookie)?;
    put(header::AUTHORIZATION, &req.authorization)?;
    put(HeaderName::from_static("veloera-user"), &req.claimed_user)?;
    Ok(headers)
}
