//! `POST /api/user/topup`: a signed-in user redeems a redemption or gift code.

use axum::Json;
use axum::extract::State;
use veloera_admin_types::{Envelope, TopUpRequest, TopUpResult};

use super::JsonBody;
use super::session::Active;
use crate::db::{self, now_secs};
use crate::error::ControlError;
use crate::state::AppState;

/// Redeems `{key}`; `data` is `{quota, is_gift}`. Refusals say why (unknown, disabled, used, already used by
/// you, exhausted, not yet valid, expired) and change nothing.
pub async fn redeem(
    State(state): State<AppState>,
    Active(user): Active,
    JsonBody(body): JsonBody<TopUpRequest>,
) -> Result<Json<Envelope<TopUpResult>>, ControlError> {
    let key = body.key.trim();
    if key.is_empty() {
        return Err(ControlError::BadRequest("key is required".into()));
    }
    let redeemed =
        db::redemptions::redeem(state.db(), state.options().rebate_percentage, user.id, key, now_secs()).await?;
    Ok(Json(Envelope::ok(TopUpResult { quota: redeemed.quota, is_gift: redeemed.is_gift })))
}
