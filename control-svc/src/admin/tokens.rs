//! `/api/token/*`: a user's own API tokens. The full key is returned once, at creation.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use veloera_admin_types::{Envelope, Page, Token, TokenCreate, TokenStatus, TokenUpdate};

use super::JsonBody;
use super::paging::{FirstPage, PageQuery};
use super::session::Active;
use crate::access;
use crate::db::{self, now_secs, tokens::NewToken, tokens::RateLimit, tokens::TokenRow};
use crate::error::ControlError;
use crate::events::Change;
use crate::routing::split_list;
use crate::secrets::{generate_token_key, key_digest, mask_token_key};
use crate::state::AppState;

/// `GET /api/token/?p=&size=` (or `page_size`): one page of the caller's tokens, newest first, as `{items, total,
/// page, page_size}`. Pages count from 0, as Veloera's token list does (`offset = p * size`).
pub async fn list(
    State(state): State<AppState>,
    Active(user): Active,
    Query(q): Query<PageQuery>,
) -> Result<Json<Envelope<Page<Token>>>, ControlError> {
    let page = q.request(FirstPage::Zero);
    let rows = db::tokens::page_by_user(state.db(), user.id, page.offset(), page.size).await?;
    let total = db::tokens::count_by_user(state.db(), user.id).await?;
    let leased = db::leases::outstanding_by_token(state.db(), user.id).await?;
    let dtos = rows
        .iter()
        .map(|r| {
            let mut dto = r.to_dto();
            dto.remain_quota += leased.get(&r.id).copied().unwrap_or(0);
            dto
        })
        .collect();
    Ok(Json(Envelope::ok(page.answer(dtos, total))))
}

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    keyword: String,
    #[serde(default)]
    token: String,
}

/// `GET /api/token/search?keyword=&token=`: the caller's tokens whose name contains `keyword` (any case) and whose
/// key contains `token` (`sk-` optional). Keys are stored encrypted, so the caller's own keys are decrypted to match.
pub async fn search(
    State(state): State<AppState>,
    Active(user): Active,
    Query(q): Query<SearchQuery>,
) -> Result<Json<Envelope<Vec<Token>>>, ControlError> {
    let keyword = q.keyword.trim().to_lowercase();
    let fragment = q.token.trim();
    let fragment = fragment.strip_prefix("sk-").unwrap_or(fragment);
    if keyword.chars().count() > 64 || fragment.len() > 128 {
        return Err(ControlError::BadRequest("keyword must be at most 64 characters and token at most 128".into()));
    }
    let rows = db::tokens::list_by_user(state.db(), user.id).await?;
    let leased = db::leases::outstanding_by_token(state.db(), user.id).await?;
    let mut found = Vec::new();
    for row in rows.iter().filter(|r| r.name.to_lowercase().contains(&keyword)) {
        if !fragment.is_empty() {
            let Some(ciphertext) = db::tokens::key_ciphertext(state.db(), row.id).await? else { continue };
            if !state.cipher().decrypt(&ciphertext)?.contains(fragment) {
                continue;
            }
        }
        let mut dto = row.to_dto();
        dto.remain_quota += leased.get(&row.id).copied().unwrap_or(0);
        found.push(dto);
    }
    Ok(Json(Envelope::ok(found)))
}

/// The token as its owner sees it: quota held in relays' leases still counts as left.
pub(crate) async fn shown(state: &AppState, row: &TokenRow) -> Result<Token, ControlError> {
    let (leased, _) = db::leases::outstanding(state.db(), row.id, row.user_id).await?;
    let mut dto = row.to_dto();
    dto.remain_quota += leased;
    Ok(dto)
}

pub async fn get_one(
    State(state): State<AppState>,
    Active(user): Active,
    Path(id): Path<i64>,
) -> Result<Json<Envelope<Token>>, ControlError> {
    Ok(Json(Envelope::ok(shown(&state, &access::own_token(&state, user.id, id).await?).await?)))
}

pub async fn create(
    State(state): State<AppState>,
    Active(user): Active,
    JsonBody(body): JsonBody<TokenCreate>,
) -> Result<Json<Envelope<Token>>, ControlError> {
    Ok(Json(Envelope::ok(issue(&state, user.id, body).await?)))
}

/// Validates and creates a token for `user_id`; the returned DTO carries the full `sk-` key (shown once).
pub(crate) async fn issue(state: &AppState, user_id: i64, body: TokenCreate) -> Result<Token, ControlError> {
    let name = body.name.trim().to_string();
    check_name(&name)?;
    let expired_time = body.expired_time.unwrap_or(-1);
    check_expiry(expired_time)?;
    let remain_quota = body.remain_quota.unwrap_or(0);
    if remain_quota < 0 {
        return Err(ControlError::BadRequest("remain_quota must not be negative".into()));
    }
    let allow_ips = check_ips(body.allow_ips.as_deref().unwrap_or(""))?;
    let group = body.group.unwrap_or_default().trim().to_string();
    check_group(state, user_id, &group).await?;
    let rate_limit = rate_limit(
        RateLimit::default(),
        body.rate_limit_enabled,
        body.rate_limit_period,
        body.rate_limit_count,
        body.rate_limit_success,
    )?;
    let model_limits = split_list(body.model_limits.as_deref().unwrap_or("")).join(",");
    let key = generate_token_key();
    let digest = hex::encode(key_digest(&key));
    let new = NewToken {
        user_id,
        name,
        key_digest_hex: digest.clone(),
        key_ciphertext: state.cipher().encrypt(&key),
        key_hint: mask_token_key(&key),
        created_time: now_secs(),
        expired_time,
        remain_quota,
        unlimited_quota: body.unlimited_quota.unwrap_or(false),
        model_limits_enabled: body.model_limits_enabled.unwrap_or(false),
        model_limits,
        allow_ips,
        group_name: group,
        rate_limit,
    };
    let id = db::tokens::insert(state.db(), &new).await?;
    // A relay may hold this digest in its negative cache; clear it now.
    state.events().publish(Change::Token { token_id: id, key_digest_hex: digest });
    let row = access::own_token(state, user_id, id).await?;
    let mut dto = shown(state, &row).await?;
    dto.key = format!("sk-{key}");
    Ok(dto)
}

#[derive(Deserialize)]
pub struct UpdateQuery {
    #[serde(default)]
    status_only: Option<String>,
}

pub async fn update(
    State(state): State<AppState>,
    Active(user): Active,
    Query(q): Query<UpdateQuery>,
    JsonBody(body): JsonBody<TokenUpdate>,
) -> Result<Json<Envelope<Token>>, ControlError> {
    let row = access::own_token(&state, user.id, body.id).await?;
    let status_only = q.status_only.as_deref().is_some_and(|v| !v.is_empty() && v != "0" && v != "false");
    Ok(Json(Envelope::ok(change(&state, row, body, status_only).await?)))
}

/// Validates and applies `body` to a token the caller may change (REST `PUT /api/token/` and gRPC
/// `UpdateTokenLimits`); `status_only` applies the status alone.
pub(crate) async fn change(
    state: &AppState,
    mut row: TokenRow,
    body: TokenUpdate,
    status_only: bool,
) -> Result<Token, ControlError> {
    let (leased, _) = db::leases::outstanding(state.db(), row.id, row.user_id).await?;
    row.remain_quota += leased;
    let mut new_remain = None;
    if !status_only {
        if let Some(name) = body.name {
            check_name(name.trim())?;
            row.name = name.trim().to_string();
        }
        if let Some(t) = body.expired_time {
            check_expiry(t)?;
            row.expired_time = t;
        }
        if let Some(q) = body.remain_quota {
            if q < 0 {
                return Err(ControlError::BadRequest("remain_quota must not be negative".into()));
            }
            row.remain_quota = q;
            new_remain = Some(q);
        }
        if let Some(u) = body.unlimited_quota {
            row.unlimited_quota = u as i64;
        }
        if let Some(e) = body.model_limits_enabled {
            row.model_limits_enabled = e as i64;
        }
        if let Some(m) = body.model_limits {
            row.model_limits = split_list(&m).join(",");
        }
        if let Some(ips) = body.allow_ips {
            row.allow_ips = check_ips(&ips)?;
        }
        if let Some(g) = body.group {
            check_group(state, row.user_id, g.trim()).await?;
            row.group_name = g.trim().to_string();
        }
        let limit = rate_limit(
            row.rate_limit(),
            body.rate_limit_enabled,
            body.rate_limit_period,
            body.rate_limit_count,
            body.rate_limit_success,
        )?;
        row.set_rate_limit(limit);
    }
    if let Some(s) = body.status {
        let wanted = TokenStatus::try_from(s);
        if wanted == Ok(TokenStatus::Enabled) {
            if row.expired_time != -1 && row.expired_time <= now_secs() {
                return Err(ControlError::BadRequest(
                    "the token has expired; extend expired_time before enabling it".into(),
                ));
            }
            if row.unlimited_quota == 0 && row.remain_quota <= 0 {
                return Err(ControlError::BadRequest(
                    "the token has no quota left; add quota before enabling it".into(),
                ));
            }
        } else if wanted != Ok(TokenStatus::Disabled) {
            return Err(ControlError::BadRequest("status must be 1 (enabled) or 2 (disabled)".into()));
        }
        row.status = s as i64;
    }
    db::tokens::save(state.db(), &row).await?;
    if let Some(q) = new_remain {
        db::tokens::set_remain_quota(state.db(), row.id, row.user_id, q).await?;
    }
    publish_token_change(state, row.id).await?;
    shown(state, &access::own_token(state, row.user_id, row.id).await?).await
}

/// `POST /api/token/{id}/key`: the full key again, for its owner only (anyone else's token is "not found").
pub async fn reveal_key(
    State(state): State<AppState>,
    Active(user): Active,
    Path(id): Path<i64>,
) -> Result<Json<Envelope<String>>, ControlError> {
    access::own_token(&state, user.id, id).await?;
    let ciphertext = db::tokens::key_ciphertext(state.db(), id)
        .await?
        .ok_or_else(|| ControlError::NotFound(format!("token {id} not found")))?;
    Ok(Json(Envelope::ok(format!("sk-{}", state.cipher().decrypt(&ciphertext)?))))
}

pub async fn delete(
    State(state): State<AppState>,
    Active(user): Active,
    Path(id): Path<i64>,
) -> Result<Json<Envelope<()>>, ControlError> {
    access::own_token(&state, user.id, id).await?;
    revoke(&state, id).await?;
    Ok(Json(Envelope { success: true, message: String::new(), data: None }))
}

/// Deletes token `id` and tells the relays (REST `DELETE /api/token/{id}` and gRPC `RevokeToken`).
pub(crate) async fn revoke(state: &AppState, id: i64) -> Result<(), ControlError> {
    db::tokens::soft_delete(state.db(), id).await?;
    publish_token_change(state, id).await
}

async fn publish_token_change(state: &AppState, id: i64) -> Result<(), ControlError> {
    if let Some(digest) = db::tokens::digest_of(state.db(), id).await? {
        state.events().publish(Change::Token { token_id: id, key_digest_hex: digest });
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), ControlError> {
    if name.is_empty() || name.chars().count() > 30 {
        return Err(ControlError::BadRequest("name is required (at most 30 characters)".into()));
    }
    Ok(())
}

fn check_expiry(t: i64) -> Result<(), ControlError> {
    if t != -1 && t <= now_secs() {
        return Err(ControlError::BadRequest("expired_time must be -1 (never) or a future unix time".into()));
    }
    Ok(())
}

/// Validates an IP/CIDR allowlist (commas or newlines) and returns it normalised.
fn check_ips(raw: &str) -> Result<String, ControlError> {
    let entries = split_list(raw);
    for e in &entries {
        if e.parse::<std::net::IpAddr>().is_err() && e.parse::<ipnet::IpNet>().is_err() {
            return Err(ControlError::BadRequest(format!("allow_ips: {e:?} is not an IP address or CIDR")));
        }
    }
    Ok(entries.join("\n"))
}

/// A token may use the user's own group or one of `UserUsableGroups`, and only while the group has a ratio.
async fn check_group(state: &AppState, user_id: i64, group: &str) -> Result<(), ControlError> {
    if group.is_empty() {
        return Ok(());
    }
    let user = db::users::find_by_id(state.db(), user_id)
        .await?
        .ok_or_else(|| ControlError::NotFound(format!("user {user_id} not found")))?;
    match state.prices().refuse_token_group(&user.group_name, group) {
        Some(why) => Err(ControlError::BadRequest(why)),
        None => Ok(()),
    }
}

/// The longest rate-limit period: one day, as Veloera's form allows.
const MAX_RATE_LIMIT_PERIOD: i64 = 86_400;

/// `current` with the given changes, validated: period 1..=86400 seconds, counts ≥ 0 (0: no limit of that kind).
fn rate_limit(
    current: RateLimit,
    enabled: Option<bool>,
    period: Option<i64>,
    count: Option<i64>,
    success: Option<i64>,
) -> Result<RateLimit, ControlError> {
    let limit = RateLimit {
        enabled: enabled.unwrap_or(current.enabled),
        period: period.unwrap_or(current.period),
        count: count.unwrap_or(current.count),
        success: success.unwrap_or(current.success),
    };
    if !(1..=MAX_RATE_LIMIT_PERIOD).contains(&limit.period) {
        return Err(ControlError::BadRequest(format!(
            "rate_limit_period must be 1 to {MAX_RATE_LIMIT_PERIOD} seconds, not {}",
            limit.period
        )));
    }
    if limit.count < 0 || limit.success < 0 {
        return Err(ControlError::BadRequest(
            "rate_limit_count and rate_limit_success must not be negative (0 means no limit)".into(),
        ));
    }
    Ok(limit)
}
