//! Tokens: create for a user (the key returned once), list by user (masked), update limits, revoke, through the
//! cores of `admin/tokens.rs`. Who may reach whose tokens is `crate::access`'s rule.

use tonic::Status;
use veloera_admin_types::{TokenCreate, TokenStatus, TokenUpdate};
use veloera_proto::admin_v1::{
    CreateTokenRequest, CreateTokenResponse, ListTokensRequest, ListTokensResponse, Token, UpdateTokenLimitsRequest,
};

use super::errors::from_core;
use crate::access;
use crate::admin::tokens as core;
use crate::db::{self, users::UserRow};
use crate::secrets::mask_token_key;
use crate::state::AppState;

/// The token fields the cores' messages may name.
const FIELDS: &[&str] = &[
    "name",
    "remain_quota",
    "expired_time",
    "allow_ips",
    "group",
    "model_limits",
    "rate_limit_period",
    "rate_limit_count",
];

/// A token in the service's shape.
fn token(t: veloera_admin_types::Token) -> Token {
    Token {
        id: t.id,
        user_id: t.user_id,
        name: t.name,
        key: t.key,
        status: t.status,
        created_time: t.created_time,
        accessed_time: t.accessed_time,
        expired_time: t.expired_time,
        remain_quota: t.remain_quota,
        unlimited_quota: t.unlimited_quota,
        used_quota: t.used_quota,
        model_limits_enabled: t.model_limits_enabled,
        model_limits: t.model_limits,
        allow_ips: t.allow_ips,
        group: t.group,
        rate_limit_enabled: t.rate_limit_enabled,
        rate_limit_period: t.rate_limit_period,
        rate_limit_count: t.rate_limit_count,
        rate_limit_success: t.rate_limit_success,
    }
}

pub async fn create(state: &AppState, actor: &UserRow, r: CreateTokenRequest) -> Result<CreateTokenResponse, Status> {
    let owner = access::acting_for(state, actor, r.user_id).await?;
    let body = TokenCreate {
        name: r.name,
        remain_quota: Some(r.remain_quota),
        unlimited_quota: Some(r.unlimited_quota),
        expired_time: Some(if r.expired_time == 0 { -1 } else { r.expired_time }),
        model_limits_enabled: Some(!r.model_limits.trim().is_empty()),
        model_limits: Some(r.model_limits),
        allow_ips: Some(r.allow_ips),
        group: Some(r.group),
        rate_limit_enabled: None,
        rate_limit_period: None,
        rate_limit_count: None,
        rate_limit_success: None,
    };
    let mut created = core::issue(state, owner.id, body).await.map_err(|e| from_core(e, FIELDS))?;
    let key = std::mem::take(&mut created.key);
    created.key = mask_token_key(key.strip_prefix("sk-").unwrap_or(&key));
    Ok(CreateTokenResponse { token: Some(token(created)), key })
}

pub async fn list(state: &AppState, actor: &UserRow, r: ListTokensRequest) -> Result<ListTokensResponse, Status> {
    let owner = access::acting_for(state, actor, r.user_id).await?;
    let (offset, size) = super::window(r.page)?;
    let rows = db::tokens::page_by_user(state.db(), owner.id, offset, size).await?;
    let mut tokens = Vec::with_capacity(rows.len());
    for row in &rows {
        tokens.push(token(core::shown(state, row).await?));
    }
    Ok(ListTokensResponse { tokens, total: db::tokens::count_by_user(state.db(), owner.id).await? })
}

pub async fn update_limits(state: &AppState, actor: &UserRow, r: UpdateTokenLimitsRequest) -> Result<Token, Status> {
    let row = access::reachable_token(state, actor, r.id).await?;
    let body = TokenUpdate {
        id: row.id,
        status: r.enabled.map(|on| if on { TokenStatus::Enabled } else { TokenStatus::Disabled }.as_i32()),
        remain_quota: r.remain_quota,
        unlimited_quota: r.unlimited_quota,
        expired_time: r.expired_time,
        model_limits_enabled: r.model_limits.as_ref().map(|m| !m.trim().is_empty()),
        model_limits: r.model_limits,
        allow_ips: r.allow_ips,
        rate_limit_enabled: r.rate_limit_enabled,
        rate_limit_period: r.rate_limit_period,
        rate_limit_count: r.rate_limit_count,
        rate_limit_success: r.rate_limit_success,
        ..Default::default()
    };
    Ok(token(core::change(state, row, body, false).await.map_err(|e| from_core(e, FIELDS))?))
}

pub async fn revoke(state: &AppState, actor: &UserRow, id: i64) -> Result<(), Status> {
    let row = access::reachable_token(state, actor, id).await?;
    Ok(core::revoke(state, row.id).await?)
}
