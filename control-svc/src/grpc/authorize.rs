//! `Authorize`: the cold path of a relay request. Checks the token and its user, then picks candidates.

use veloera_admin_types::status;
use veloera_proto::v1::{
    AuthorizeRequest, AuthorizeResponse, Caller, Candidate, Denial, DenialReason, Grant, Pricing,
    authorize_response::Outcome,
};

use crate::db::{self, now_secs};
use crate::error::ControlError;
use crate::routing::split_list;
use crate::state::AppState;
use veloera_proto::rules::ip_allowed;

fn deny(reason: DenialReason, message: impl Into<String>) -> AuthorizeResponse {
    AuthorizeResponse { outcome: Some(Outcome::Denial(Denial { reason: reason as i32, message: message.into() })) }
}

pub async fn decide(state: &AppState, req: AuthorizeRequest) -> Result<AuthorizeResponse, ControlError> {
    if req.key_digest.len() != 32 {
        return Err(ControlError::BadRequest("key_digest must be a 32-byte SHA-256".into()));
    }
    let Some(db::tokens::TokenWithOwner { token, owner_status, owner_role, owner_quota, owner_group }) =
        db::tokens::find_with_owner_by_digest(state.db(), &hex::encode(&req.key_digest)).await?
    else {
        return Ok(deny(DenialReason::UnknownToken, "invalid token"));
    };
    match token.status {
        s if s == status::TOKEN_EXHAUSTED as i64 => {
            return Ok(deny(DenialReason::TokenExhausted, "token quota is used up"));
        }
        s if s == status::TOKEN_EXPIRED as i64 => return Ok(deny(DenialReason::TokenExpired, "token has expired")),
        s if s != status::ENABLED as i64 => return Ok(deny(DenialReason::TokenDisabled, "token is disabled")),
        _ => {}
    }
    if token.expired_time != -1 && token.expired_time <= now_secs() {
        return Ok(deny(DenialReason::TokenExpired, "token has expired"));
    }
    if token.unlimited_quota == 0 && token.remain_quota <= 0 {
        return Ok(deny(DenialReason::TokenExhausted, "token quota is used up"));
    }
    let (Some(user_status), Some(user_role), Some(user_quota), Some(user_group)) =
        (owner_status, owner_role, owner_quota, owner_group)
    else {
        return Ok(deny(DenialReason::UserDisabled, "the token's user no longer exists"));
    };
    if user_status != status::ENABLED as i64 {
        return Ok(deny(DenialReason::UserDisabled, "user is disabled"));
    }
    if user_quota <= 0 {
        return Ok(deny(DenialReason::UserExhausted, "user quota is used up"));
    }

    let group = if token.group_name.is_empty() { user_group } else { token.group_name.clone() };
    let model_allowlist = if token.model_limits_enabled != 0 { split_list(&token.model_limits) } else { Vec::new() };
    let ip_allowlist = split_list(&token.allow_ips);
    let channels = state.channels();
    let models: Vec<String> = channels
        .models_for_group(&group)
        .into_iter()
        .filter(|m| model_allowlist.is_empty() || model_allowlist.contains(m))
        .collect();
    let caller = Caller {
        user_id: token.user_id,
        token_id: token.id,
        token_name: token.name.clone(),
        group: group.clone(),
        user_role: user_role as i32,
        unlimited_quota: token.unlimited_quota != 0,
        token_remain_quota: token.remain_quota,
        user_quota,
        expires_at: token.expired_time,
        model_allowlist: model_allowlist.clone(),
        ip_allowlist: ip_allowlist.clone(),
        models,
        token_used_quota: token.used_quota,
        quota_per_unit: state.prices().quota_per_unit(),
    };

    if !ip_allowed(&ip_allowlist, &req.client_ip) {
        return Ok(deny(DenialReason::IpNotAllowed, format!("IP {} is not allowed to use this token", req.client_ip)));
    }
    if req.model.is_empty() {
        return Ok(grant(caller, Vec::new(), None));
    }
    if !model_allowlist.is_empty() && !model_allowlist.contains(&req.model) {
        return Ok(deny(DenialReason::ModelNotAllowed, format!("this token may not use model {}", req.model)));
    }
    if req.pinned_channel_id.is_some() && user_role < veloera_admin_types::role::ADMIN as i64 {
        return Ok(deny(DenialReason::ChannelPinForbidden, "only administrators may pin a channel"));
    }
    let Some(price) = state.prices().lookup(&req.model, &group) else {
        return Ok(deny(
            DenialReason::ModelUnpriced,
            format!("model {} has no price configured; ask the administrator to set one", req.model),
        ));
    };
    let candidates: Vec<Candidate> = channels
        .candidates(&group, &req.model, req.pinned_channel_id)
        .into_iter()
        .map(|c| Candidate {
            channel_id: c.channel.id,
            channel_name: c.channel.name.clone(),
            channel_type: c.channel.channel_type,
            base_url: c.channel.base_url.clone(),
            api_key: c.channel.keys[c.key_slot].clone(),
            key_slot: c.key_slot as i32,
            upstream_model: c.upstream_model,
            openai_organization: c.channel.organization.clone(),
            api_version: c.channel.settings.api_version.clone(),
            param_override: c.channel.settings.param_override.clone(),
            system_prompt: c.channel.settings.system_prompt.clone(),
            extra_headers: c.channel.settings.headers.clone().into_iter().collect(),
            status_code_mapping: c.channel.settings.status_code_mapping.clone().into_iter().collect(),
            non_stream_only: c.channel.settings.non_stream_only,
            thinking_to_content: c.channel.settings.thinking_to_content,
            force_format: c.channel.settings.force_format,
            proxy: c.channel.settings.proxy.clone(),
        })
        .collect();
    if candidates.is_empty() {
        return Ok(deny(
            DenialReason::NoChannel,
            format!("no available channel for model {} in group {group}", req.model),
        ));
    }
    Ok(grant(caller, candidates, Some(price)))
}

fn grant(caller: Caller, candidates: Vec<Candidate>, pricing: Option<Pricing>) -> AuthorizeResponse {
    AuthorizeResponse { outcome: Some(Outcome::Grant(Grant { caller: Some(caller), candidates, pricing })) }
}
