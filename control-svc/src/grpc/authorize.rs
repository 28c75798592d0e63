//! `Authorize`: the cold path of a relay request. Checks the token and its user, then picks candidates.

use veloera_admin_types::{TokenStatus, UserStatus};
use veloera_proto::v1::{
    AuthorizeRequest, AuthorizeResponse, Caller, Candidate, ChannelKey, Denial, DenialReason, Grant, RetryPolicy,
    Timeouts, authorize_response::Outcome,
};

use crate::db::{self, now_secs};
use crate::error::ControlError;
use crate::notify::Preferences;
use crate::routing::{RoutableChannel, channel_types, split_list};
use crate::state::AppState;
use veloera_proto::rules::{CallerAsk, check_caller};

pub(super) fn deny(reason: DenialReason, message: impl Into<String>) -> AuthorizeResponse {
    AuthorizeResponse { outcome: Some(Outcome::Denial(Denial { reason: reason as i32, message: message.into() })) }
}

/// The reason `answer` denies, or `None` for a grant.
pub fn denial_of(answer: &AuthorizeResponse) -> Option<DenialReason> {
    match &answer.outcome {
        Some(Outcome::Denial(d)) => Some(DenialReason::try_from(d.reason).unwrap_or(DenialReason::Unspecified)),
        _ => None,
    }
}

pub async fn decide(state: &AppState, req: AuthorizeRequest) -> Result<AuthorizeResponse, ControlError> {
    if req.key_digest.len() != 32 {
        return Err(ControlError::BadRequest("key_digest must be a 32-byte SHA-256".into()));
    }
    let Some(db::tokens::TokenWithOwner {
        token,
        owner_status,
        owner_role,
        owner_quota,
        owner_subscription_quota,
        owner_group,
    }) = db::tokens::find_with_owner_by_digest(state.db(), &hex::encode(&req.key_digest)).await?
    else {
        return Ok(deny(DenialReason::UnknownToken, "invalid token"));
    };
    // Sent only when the token's limit is on, so a relay sees zeros (no limit) otherwise.
    let rate_limited = token.rate_limit_enabled != 0 && token.rate_limit_period > 0;
    let rate_limit = |v: i64| if rate_limited { v.max(0) } else { 0 };
    let (rate_limit_period, rate_limit_count, rate_limit_success) =
        (rate_limit(token.rate_limit_period), rate_limit(token.rate_limit_count), rate_limit(token.rate_limit_success));
    // Any number but these (disabled, or one Veloera never wrote) refuses the token as disabled.
    match TokenStatus::try_from(token.status) {
        Ok(TokenStatus::Enabled) => {}
        Ok(TokenStatus::Exhausted) => return Ok(deny(DenialReason::TokenExhausted, "token quota is used up")),
        Ok(TokenStatus::Expired) => return Ok(deny(DenialReason::TokenExpired, "token has expired")),
        Ok(TokenStatus::Disabled) | Err(_) => return Ok(deny(DenialReason::TokenDisabled, "token is disabled")),
    }
    let (Some(user_status), Some(user_role), Some(user_quota), Some(user_group)) =
        (owner_status, owner_role, owner_quota, owner_group)
    else {
        return Ok(deny(DenialReason::UserDisabled, "the token's user no longer exists"));
    };
    // Quota held in open leases is still the caller's to spend (through the relays holding them), and so is the
    // subscription quota (spent first).
    let (token_leased, user_leased) = db::leases::outstanding(state.db(), token.id, token.user_id).await?;
    let token_remain = token.remain_quota + token_leased;
    let user_quota = user_quota + owner_subscription_quota.unwrap_or(0) + user_leased;
    if user_status != UserStatus::Enabled.as_i64() {
        return Ok(deny(DenialReason::UserDisabled, "user is disabled"));
    }

    let group = if token.group_name.is_empty() { user_group } else { token.group_name.clone() };
    let accept_unset = Preferences::parse(&db::users::setting(state.db(), token.user_id).await?).accept_unset_models;
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
        token_remain_quota: token_remain,
        user_quota,
        expires_at: token.expired_time,
        model_allowlist: model_allowlist.clone(),
        ip_allowlist: ip_allowlist.clone(),
        models,
        token_used_quota: token.used_quota,
        quota_per_unit: state.prices().quota_per_unit(),
        rate_limit_period,
        rate_limit_count,
        rate_limit_success,
        accept_unset_model_ratio_model: accept_unset,
    };

    // Expiry, quotas, IP, model and pinning: the rules the relay applies to its cached caller too.
    let ask = CallerAsk {
        model: &req.model,
        client_ip: &req.client_ip,
        pinned_channel: req.pinned_channel_id,
        now: now_secs(),
        spent: 0,
    };
    if let Err((reason, message)) = check_caller(&caller, &ask) {
        return Ok(deny(reason, message));
    }
    Ok(grant(state, caller, &req.model, req.pinned_channel_id))
}

/// The answer for `caller` (already checked as a caller) asking for `model`: the caller alone when no model is
/// asked, else its candidates and price, or why there are none.
pub(super) fn grant(state: &AppState, caller: Caller, model: &str, pinned: Option<i64>) -> AuthorizeResponse {
    if model.is_empty() {
        return caller_only(caller);
    }
    // The model allow-list and channel pinning were checked with the caller (`check_caller`); a playground
    // caller has neither.
    let (group, accept_unset) = (caller.group.clone(), caller.accept_unset_model_ratio_model);
    let channels = state.channels();
    let prices = state.prices();
    let asked_price = prices.lookup_for(model, &group, accept_unset);
    let mut candidates = Vec::new();
    for choice in channels.candidates(&group, model, pinned) {
        let billed = choice.billed_model.as_deref().filter(|b| *b != model);
        let pricing = match billed {
            Some(b) => prices.lookup_for(b, &group, accept_unset).or(asked_price),
            None => asked_price,
        };
        // Unpriced candidates are left out: they could not be billed.
        if let Some(pricing) = pricing {
            let mut c = candidate(choice.channel, &choice.upstream_model, choice.channel.usable_keys());
            c.rank = choice.rank;
            c.billed_model = billed.unwrap_or_default().to_string();
            c.pricing = (Some(pricing) != asked_price).then_some(pricing);
            candidates.push(c);
        }
    }
    if candidates.is_empty() {
        if asked_price.is_none() && !channels.candidates(&group, model, pinned).is_empty() {
            return deny(
                DenialReason::ModelUnpriced,
                format!("model {model} has no price configured; ask the administrator to set one"),
            );
        }
        return deny(DenialReason::NoChannel, format!("no available channel for model {model} in group {group}"));
    }
    let pricing = asked_price.or_else(|| candidates.first().and_then(|c| c.pricing));
    let retry = RetryPolicy { max_retries: state.policy().retry_times };
    AuthorizeResponse {
        outcome: Some(Outcome::Grant(Grant {
            caller: Some(caller),
            candidates,
            pricing,
            retry: Some(retry),
            pinned: pinned.is_some(),
        })),
    }
}

/// The relay's view of a channel, with the given keys, sending `upstream_model`.
fn candidate<'k>(c: &RoutableChannel, upstream_model: &str, keys: impl Iterator<Item = (usize, &'k str)>) -> Candidate {
    let t = c.settings.timeouts;
    let mut candidate = Candidate {
        channel_id: c.id,
        channel_name: c.name.clone(),
        channel_type: c.channel_type,
        base_url: c.base_url.clone(),
        upstream_model: upstream_model.to_string(),
        openai_organization: c.organization.clone(),
        api_version: c.settings.api_version.clone(),
        param_override: c.settings.param_override.clone(),
        system_prompt: c.settings.system_prompt.clone(),
        extra_headers: c.settings.headers.clone().into_iter().collect(),
        status_code_mapping: c.settings.status_code_mapping.clone().into_iter().collect(),
        non_stream_only: c.settings.non_stream_only,
        thinking_to_content: c.settings.thinking_to_content,
        force_format: c.settings.force_format,
        proxy: c.settings.proxy.clone(),
        keys: keys.map(|(slot, key)| ChannelKey { slot: slot as i32, key: key.to_string() }).collect(),
        rank: 0,
        weight: c.weight.clamp(0, u32::MAX as i64) as u32,
        timeouts: Some(Timeouts {
            connect_ms: t.connect_ms,
            first_byte_ms: t.first_byte_ms,
            idle_ms: t.idle_ms,
            total_ms: t.total_ms,
        }),
        pricing: None,
        billed_model: String::new(),
        ..Candidate::default()
    };
    let kind = channel_types::find(c.channel_type).unwrap_or(&channel_types::UNKNOWN);
    channel_types::describe(&mut candidate, kind);
    candidate
}

/// The channel as a job target: only the key in `slot`, sending `model` after the channel's mapping.
pub(super) fn candidate_for_job(c: &RoutableChannel, slot: usize, model: &str) -> Candidate {
    let upstream = c.upstream_name(model);
    candidate(c, &upstream, c.keys.iter().enumerate().filter(|(s, _)| *s == slot).map(|(s, k)| (s, k.as_str())))
}

/// A grant with the caller only (no model asked).
fn caller_only(caller: Caller) -> AuthorizeResponse {
    AuthorizeResponse { outcome: Some(Outcome::Grant(Grant { caller: Some(caller), ..Grant::default() })) }
}
