//! `/api/redemption/*` (admin only): Veloera's redemption and gift codes: create (random or custom keys),
//! list, search, edit, disable in bulk, and delete one, by name, or every disabled or used code.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use veloera_admin_types::{
    Envelope, Page, Redemption, RedemptionCreate, RedemptionIds, RedemptionName, RedemptionUpdate,
};

use super::JsonBody;
use super::paging::{FirstPage, PageQuery};
use super::session::Admin;
use crate::db::redemptions::{NewRedemption, RedemptionEdit, RedemptionRow};
use crate::db::{self, now_secs, users::UserRow};
use crate::error::ControlError;
use crate::secrets::random_string;
use crate::state::AppState;

/// The most random keys one request may create (Veloera's limit).
const MAX_COUNT: i64 = 100;
/// The most ids one batch request may name.
const MAX_BATCH: usize = 1000;
/// Length of a random key (Veloera: a UUID without dashes, 32 characters).
const RANDOM_KEY_LEN: usize = 32;
const KEY_LEN: std::ops::RangeInclusive<usize> = 32..=64;
const NAME_LEN: std::ops::RangeInclusive<usize> = 1..=20;

/// `GET /api/redemption/?p=&page_size=`: newest first, as `{items, total, page, page_size}`; pages count from 1
/// (0 is the first page too, as older Veloera builds sent).
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<Envelope<Page<Redemption>>>, ControlError> {
    let page = query(q)?.request(FirstPage::One);
    let rows = db::redemptions::page(state.db(), page.offset(), page.size).await?;
    let total = db::redemptions::count(state.db()).await?;
    Ok(Json(Envelope::ok(page.answer(rows, total).map(|r| r.to_dto()))))
}

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    keyword: String,
    #[serde(flatten)]
    paging: PageQuery,
}

/// `GET /api/redemption/search?keyword=&p=&page_size=`: by id, or by a part of the name (case-insensitive);
/// one page of the matches (at most 1000 are counted).
pub async fn search(
    State(state): State<AppState>,
    _admin: Admin,
    q: Result<Query<SearchQuery>, QueryRejection>,
) -> Result<Json<Envelope<Page<Redemption>>>, ControlError> {
    let q = query(q)?;
    let rows = db::redemptions::search(state.db(), &q.keyword).await?;
    Ok(Json(Envelope::ok(q.paging.request(FirstPage::One).slice(rows).map(|r| r.to_dto()))))
}

#[derive(Deserialize)]
pub struct NameQuery {
    #[serde(default)]
    name: Option<String>,
}

/// `GET /api/redemption/count-by-name?name=`: how many codes carry exactly this name.
pub async fn count_by_name(
    State(state): State<AppState>,
    _admin: Admin,
    q: Result<Query<NameQuery>, QueryRejection>,
) -> Result<Json<Envelope<i64>>, ControlError> {
    let name = required_name(query(q)?.name)?;
    Ok(Json(Envelope::ok(db::redemptions::count_by_name(state.db(), &name).await?)))
}

pub async fn get_one(
    State(state): State<AppState>,
    _admin: Admin,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<Envelope<Redemption>>, ControlError> {
    Ok(Json(Envelope::ok(find(&state, path_id(id)?).await?.to_dto())))
}

/// `POST /api/redemption/`: `data` is the list of keys created.
pub async fn create(
    State(state): State<AppState>,
    Admin(admin): Admin,
    JsonBody(body): JsonBody<RedemptionCreate>,
) -> Result<Json<Envelope<Vec<String>>>, ControlError> {
    Ok(Json(Envelope::ok(create_codes(&state, &admin, body).await?)))
}

/// Validates and creates the codes `body` asks for on behalf of `admin`; returns their keys (REST
/// `POST /api/redemption/` and gRPC `CreateRedemptions`).
pub(crate) async fn create_codes(
    state: &AppState,
    admin: &UserRow,
    body: RedemptionCreate,
) -> Result<Vec<String>, ControlError> {
    let now = now_secs();
    let name = check_name(&body.name)?;
    check_quota(body.quota)?;
    let is_gift = body.is_gift.unwrap_or(false);
    let max_uses = match body.max_uses {
        Some(n) => check_max_uses(n)?,
        None => -1,
    };
    let valid_from = body.valid_from.unwrap_or(0);
    let valid_until = body.valid_until.unwrap_or(0);
    check_window(valid_from, valid_until)?;
    if valid_until != 0 && valid_until <= now {
        return Err(ControlError::BadRequest("valid_until must be in the future (or 0 for no end)".into()));
    }
    let keys = match body.key.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
        Some(key) => {
            if body.count.is_some_and(|c| c != 1) {
                return Err(ControlError::BadRequest("give either a custom key or a count, not both".into()));
            }
            vec![check_key(key)?]
        }
        None => {
            let count = body.count.unwrap_or(1);
            if !(1..=MAX_COUNT).contains(&count) {
                return Err(ControlError::BadRequest(format!("count must be between 1 and {MAX_COUNT}")));
            }
            (0..count).map(|_| random_string(RANDOM_KEY_LEN)).collect()
        }
    };
    let codes: Vec<NewRedemption> = keys
        .iter()
        .map(|key| NewRedemption {
            user_id: admin.id,
            code: key.clone(),
            name: name.clone(),
            quota: body.quota,
            is_gift,
            max_uses: if is_gift { max_uses } else { 1 },
            valid_from,
            valid_until,
            created_time: now,
        })
        .collect();
    db::redemptions::insert_all(state.db(), &codes).await?;
    Ok(keys)
}

#[derive(Deserialize)]
pub struct UpdateQuery {
    #[serde(default)]
    status_only: Option<String>,
}

/// `PUT /api/redemption/`: the given fields over the stored code (`?status_only=1`: the status alone).
pub async fn update(
    State(state): State<AppState>,
    _admin: Admin,
    q: Result<Query<UpdateQuery>, QueryRejection>,
    JsonBody(body): JsonBody<RedemptionUpdate>,
) -> Result<Json<Envelope<Redemption>>, ControlError> {
    let status_only = query(q)?.status_only.as_deref().is_some_and(|v| !v.is_empty() && v != "0" && v != "false");
    let row = find(&state, body.id).await?;
    let mut edit = RedemptionEdit {
        name: row.name.clone(),
        quota: row.quota,
        max_uses: row.max_uses,
        valid_from: row.valid_from,
        valid_until: row.valid_until,
    };
    if status_only {
        if body.status.is_none() {
            return Err(ControlError::BadRequest("status_only needs a status".into()));
        }
    } else {
        if let Some(name) = &body.name {
            edit.name = check_name(name)?;
        }
        if let Some(quota) = body.quota {
            edit.quota = check_quota(quota)?;
        }
        if let Some(max_uses) = body.max_uses {
            if row.is_gift == 0 && max_uses != 1 {
                return Err(ControlError::BadRequest("max_uses applies to gift codes only".into()));
            }
            edit.max_uses = check_max_uses(max_uses)?;
        }
        edit.valid_from = body.valid_from.unwrap_or(row.valid_from);
        edit.valid_until = body.valid_until.unwrap_or(row.valid_until);
        check_window(edit.valid_from, edit.valid_until)?;
    }
    db::redemptions::update(state.db(), row.id, &edit, body.status).await?;
    Ok(Json(Envelope::ok(find(&state, row.id).await?.to_dto())))
}

/// `POST /api/redemption/batch-disable {ids}`: disables the enabled codes among `ids`; `data` is how many.
pub async fn disable_batch(
    State(state): State<AppState>,
    _admin: Admin,
    JsonBody(body): JsonBody<RedemptionIds>,
) -> Result<Json<Envelope<u64>>, ControlError> {
    if body.ids.is_empty() {
        return Err(ControlError::BadRequest("ids must list at least one redemption code id".into()));
    }
    if body.ids.len() > MAX_BATCH {
        return Err(ControlError::BadRequest(format!("at most {MAX_BATCH} ids per request")));
    }
    Ok(Json(Envelope::ok(db::redemptions::disable_all(state.db(), &body.ids).await?)))
}

/// `DELETE /api/redemption/{id}`.
pub async fn delete(
    State(state): State<AppState>,
    _admin: Admin,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<Envelope<()>>, ControlError> {
    let id = path_id(id)?;
    if !db::redemptions::delete(state.db(), id).await? {
        return Err(ControlError::NotFound(format!("redemption code {id} not found")));
    }
    Ok(Json(Envelope { success: true, message: String::new(), data: None }))
}

/// `DELETE /api/redemption/delete-by-name?name=` (or a `{name}` body): `data` is how many were deleted.
pub async fn delete_by_name(
    State(state): State<AppState>,
    _admin: Admin,
    q: Result<Query<NameQuery>, QueryRejection>,
    body: Bytes,
) -> Result<Json<Envelope<u64>>, ControlError> {
    let name = match query(q)?.name.filter(|n| !n.trim().is_empty()) {
        Some(name) => Some(name),
        None if body.is_empty() => None,
        None => {
            let body: RedemptionName = serde_json::from_slice(&body)
                .map_err(|e| ControlError::BadRequest(format!("invalid request body: {e}")))?;
            Some(body.name)
        }
    };
    let name = required_name(name)?;
    Ok(Json(Envelope::ok(db::redemptions::delete_by_name(state.db(), &name).await?)))
}

/// `DELETE /api/redemption/delete-disabled`: deletes every disabled or used code; `data` is how many.
pub async fn delete_disabled(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<Envelope<u64>>, ControlError> {
    Ok(Json(Envelope::ok(db::redemptions::delete_disabled(state.db()).await?)))
}

async fn find(state: &AppState, id: i64) -> Result<RedemptionRow, ControlError> {
    db::redemptions::find_by_id(state.db(), id)
        .await?
        .ok_or_else(|| ControlError::NotFound(format!("redemption code {id} not found")))
}

/// The `{id}` of a path, refused with our envelope rather than axum's plain text.
fn path_id(path: Result<Path<i64>, PathRejection>) -> Result<i64, ControlError> {
    path.map(|Path(id)| id)
        .map_err(|_| ControlError::BadRequest("the redemption code id in the path must be a number".into()))
}

/// Query parameters, refused with our envelope rather than axum's plain text.
fn query<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, ControlError> {
    query
        .map(|Query(q)| q)
        .map_err(|e| ControlError::BadRequest(format!("invalid query parameters: {}", e.body_text())))
}

/// A name to look codes up by: given and not blank (compared exactly, after trimming).
fn required_name(name: Option<String>) -> Result<String, ControlError> {
    name.map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ControlError::BadRequest("name is required".into()))
}

fn check_name(name: &str) -> Result<String, ControlError> {
    let name = name.trim();
    if !NAME_LEN.contains(&name.chars().count()) {
        return Err(ControlError::BadRequest(format!(
            "name must be {} to {} characters",
            NAME_LEN.start(),
            NAME_LEN.end()
        )));
    }
    Ok(name.to_string())
}

fn check_quota(quota: i64) -> Result<i64, ControlError> {
    if quota <= 0 {
        return Err(ControlError::BadRequest("quota must be greater than 0".into()));
    }
    Ok(quota)
}

fn check_max_uses(max_uses: i64) -> Result<i64, ControlError> {
    if max_uses != -1 && max_uses < 1 {
        return Err(ControlError::BadRequest("max_uses must be at least 1, or -1 for unlimited".into()));
    }
    Ok(max_uses)
}

/// Unix seconds, 0 meaning no bound; a bounded window must end after it starts.
fn check_window(valid_from: i64, valid_until: i64) -> Result<(), ControlError> {
    if valid_from < 0 || valid_until < 0 {
        return Err(ControlError::BadRequest("valid_from and valid_until are unix seconds (0 = no bound)".into()));
    }
    if valid_from != 0 && valid_until != 0 && valid_until <= valid_from {
        return Err(ControlError::BadRequest("valid_until must be later than valid_from".into()));
    }
    Ok(())
}

/// A custom key: 32 to 64 visible ASCII characters (it is typed and pasted, and compared byte for byte).
fn check_key(key: &str) -> Result<String, ControlError> {
    if !KEY_LEN.contains(&key.len()) || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ControlError::BadRequest(format!(
            "key must be {} to {} visible ASCII characters without spaces",
            KEY_LEN.start(),
            KEY_LEN.end()
        )));
    }
    Ok(key.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_keys_are_32_to_64_visible_ascii_characters() {
        assert!(check_key(&"a".repeat(31)).is_err());
        assert!(check_key(&"a".repeat(32)).is_ok());
        assert!(check_key(&"Z9-_!".repeat(12)).is_ok());
        assert!(check_key(&"a".repeat(65)).is_err());
        assert!(check_key(&format!("{} b", "a".repeat(40))).is_err());
        assert!(check_key(&"é".repeat(20)).is_err());
    }

    #[test]
    fn windows_and_limits_are_checked() {
        assert!(check_window(0, 0).is_ok());
        assert!(check_window(10, 0).is_ok());
        assert!(check_window(0, 10).is_ok());
        assert!(check_window(10, 10).is_err());
        assert!(check_window(-1, 0).is_err());
        assert!(check_max_uses(-1).is_ok());
        assert!(check_max_uses(0).is_err());
        assert!(check_max_uses(-2).is_err());
        assert!(check_name(" 二十个字以内的名字 ").is_ok());
        assert!(check_name(&"x".repeat(21)).is_err());
        assert!(check_name("   ").is_err());
        assert!(check_quota(0).is_err());
    }
}
