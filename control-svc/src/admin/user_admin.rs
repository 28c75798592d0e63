//! `/api/user/…` for administrators: list, search, view, create, edit, delete and manage other users.
//! The rules (Veloera's): an administrator acts only on users of a lower role (root on everyone but itself as
//! far as disabling and deleting go); only root promotes to or demotes from administrator; root can be neither
//! disabled nor deleted. Quota changes are relative updates with a manage log. A password set here, disabling and
//! deleting end the user's sessions.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use veloera_admin_types::{Envelope, Page, Role, UserCreate, UserManage, UserSelf, UserStatus, UserUpdate};

use super::JsonBody;
use super::paging::{FirstPage, PageQuery};
use super::session::Admin;
use crate::access;
use crate::db::{self, user_admin::Balance, users::UserRow};
use crate::error::ControlError;
use crate::events::Change;
use crate::secrets::hash_password;
use crate::state::AppState;

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    keyword: String,
    #[serde(default)]
    group: String,
    #[serde(flatten)]
    paging: PageQuery,
}

/// A user as administrators see it: balances include quota held in relays' leases.
pub(crate) async fn shown(state: &AppState, user: &UserRow) -> Result<UserSelf, ControlError> {
    let mut view = user.to_self();
    let held = db::leases::outstanding_for_user(state.db(), user.id).await?;
    view.quota += held.quota;
    view.subscription_quota += held.subscription;
    Ok(view)
}

async fn shown_all(state: &AppState, users: &[UserRow]) -> Result<Vec<UserSelf>, ControlError> {
    let mut out = Vec::with_capacity(users.len());
    for u in users {
        out.push(shown(state, u).await?);
    }
    Ok(out)
}

/// `GET /api/user/?p=&page_size=`: live users, newest first, as `{items, total, page, page_size}` (pages from 1).
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    Query(q): Query<PageQuery>,
) -> Result<Json<Envelope<Page<UserSelf>>>, ControlError> {
    let page = q.request(FirstPage::One);
    let users = db::user_admin::page(state.db(), page.offset(), page.size).await?;
    let total = db::user_admin::count(state.db()).await?;
    Ok(Json(Envelope::ok(page.answer(shown_all(&state, &users).await?, total))))
}

/// `GET /api/user/search?keyword=&group=&p=&page_size=`: one page of the matches (at most 1000 are counted).
pub async fn search(
    State(state): State<AppState>,
    _admin: Admin,
    Query(q): Query<SearchQuery>,
) -> Result<Json<Envelope<Page<UserSelf>>>, ControlError> {
    let users = db::user_admin::search(state.db(), q.keyword.trim(), q.group.trim()).await?;
    let page = q.paging.request(FirstPage::One).slice(users);
    let items = shown_all(&state, &page.items).await?;
    Ok(Json(Envelope::ok(Page { items, total: page.total, page: page.page, page_size: page.page_size })))
}

pub async fn get_one(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(id): Path<i64>,
) -> Result<Json<Envelope<UserSelf>>, ControlError> {
    let user = access::manageable(&state, &admin, id).await?;
    Ok(Json(Envelope::ok(shown(&state, &user).await?)))
}

fn check_password(password: &str) -> Result<(), ControlError> {
    if !(8..=20).contains(&password.chars().count()) {
        return Err(ControlError::BadRequest("password must be 8 to 20 characters".into()));
    }
    Ok(())
}

pub async fn create(
    State(state): State<AppState>,
    Admin(admin): Admin,
    JsonBody(body): JsonBody<UserCreate>,
) -> Result<Json<Envelope<UserSelf>>, ControlError> {
    Ok(Json(Envelope::ok(create_user(&state, &admin, body).await?)))
}

/// Validates and creates an account on behalf of `admin` (REST `POST /api/user/` and gRPC `CreateUser`).
pub(crate) async fn create_user(state: &AppState, admin: &UserRow, body: UserCreate) -> Result<UserSelf, ControlError> {
    let username = body.username.trim();
    let valid_name = (1..=12).contains(&username.chars().count())
        && username.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid_name {
        return Err(ControlError::BadRequest("username must be 1 to 12 of a-z, A-Z, 0-9, _ and -".into()));
    }
    check_password(&body.password)?;
    let new_role = body.role.map_or(Role::Common.as_i64(), i64::from);
    if ![Role::Common.as_i64(), Role::Admin.as_i64()].contains(&new_role) {
        return Err(ControlError::BadRequest("role must be 1 (user) or 10 (administrator)".into()));
    }
    if new_role >= admin.role && admin.role != Role::Root.as_i64() {
        return Err(ControlError::Forbidden("only root may create administrators".into()));
    }
    if db::users::find_by_username(state.db(), username).await?.is_some() {
        return Err(ControlError::Conflict(format!("the username {username} is taken")));
    }
    let hash = hash_password(&body.password)?;
    let new =
        db::users::NewUser { username, password_hash: &hash, role: new_role, quota: 0, must_change_password: false };
    let id = db::users::insert(state.db(), &new).await?;
    if let Some(name) = body.display_name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        db::user_admin::set_fields(state.db(), id, name, "", "default").await?;
    }
    let user =
        db::users::find_by_id(state.db(), id).await?.ok_or_else(|| ControlError::Internal("user vanished".into()))?;
    Ok(user.to_self())
}

pub async fn update(
    State(state): State<AppState>,
    Admin(admin): Admin,
    JsonBody(body): JsonBody<UserUpdate>,
) -> Result<Json<Envelope<UserSelf>>, ControlError> {
    Ok(Json(Envelope::ok(update_user(&state, &admin, body).await?)))
}

/// Applies the given fields to a user `admin` may manage (REST `PUT /api/user/` and gRPC `SetUserGroup`).
pub(crate) async fn update_user(state: &AppState, admin: &UserRow, body: UserUpdate) -> Result<UserSelf, ControlError> {
    let user = access::manageable(state, admin, body.id).await?;
    let display_name = body.display_name.as_deref().map(str::trim).unwrap_or(&user.display_name).to_string();
    let email = body.email.as_deref().map(str::trim).unwrap_or(&user.email).to_string();
    let group = body.group.as_deref().map(str::trim).unwrap_or(&user.group_name).to_string();
    if display_name.chars().count() > 20 || email.chars().count() > 50 {
        return Err(ControlError::BadRequest("display_name is at most 20 characters and email at most 50".into()));
    }
    if !email.is_empty() && !email.contains('@') {
        return Err(ControlError::BadRequest(format!("{email:?} is not an email address")));
    }
    if group.is_empty() || group.chars().count() > 64 {
        return Err(ControlError::BadRequest("group must be 1 to 64 characters".into()));
    }
    if let Some(password) = &body.password {
        check_password(password)?;
    }
    if let Some(q) = body.quota
        && q < 0
    {
        return Err(ControlError::BadRequest("quota must not be negative".into()));
    }
    if let Some(q) = body.subscription_quota
        && q < 0
    {
        return Err(ControlError::BadRequest("subscription_quota must not be negative".into()));
    }
    db::user_admin::set_fields(state.db(), user.id, &display_name, &email, &group).await?;
    if let Some(password) = &body.password {
        db::users::set_password(state.db(), user.id, &hash_password(password)?).await?;
        // Whoever held a session under the old password is signed out.
        db::sessions::end_all_of(state.db(), user.id, None).await?;
    }
    let current = shown(state, &user).await?;
    if let Some(q) = body.quota
        && q != current.quota
    {
        let change =
            db::user_admin::QuotaChange { balance: Balance::Quota, shown: current.quota, delta: q - current.quota };
        db::user_admin::adjust_quota(state.db(), user.id, &admin.username, change, "").await?;
    }
    if let Some(q) = body.subscription_quota
        && q != current.subscription_quota
    {
        let change = db::user_admin::QuotaChange {
            balance: Balance::Subscription,
            shown: current.subscription_quota,
            delta: q - current.subscription_quota,
        };
        db::user_admin::adjust_quota(state.db(), user.id, &admin.username, change, "").await?;
    }
    state.events().publish(Change::User { user_id: user.id });
    let fresh = db::users::find_by_id(state.db(), user.id)
        .await?
        .ok_or_else(|| ControlError::Internal("user vanished".into()))?;
    shown(state, &fresh).await
}

pub async fn delete(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(id): Path<i64>,
) -> Result<Json<Envelope<()>>, ControlError> {
    act(&state, &admin, id, "delete").await?;
    Ok(Json(Envelope { success: true, message: String::new(), data: None }))
}

pub async fn manage(
    State(state): State<AppState>,
    Admin(admin): Admin,
    JsonBody(body): JsonBody<UserManage>,
) -> Result<Json<Envelope<()>>, ControlError> {
    act(&state, &admin, body.id, body.action.trim()).await?;
    Ok(Json(Envelope { success: true, message: String::new(), data: None }))
}

/// One of Veloera's management actions (disable, enable, delete, promote, demote) by `admin` on user `id` (REST
/// `POST /api/user/manage` and gRPC `SetUserStatus`).
pub(crate) async fn act(state: &AppState, admin: &UserRow, id: i64, action: &str) -> Result<(), ControlError> {
    if !matches!(action, "disable" | "enable" | "delete" | "promote" | "demote") {
        return Err(ControlError::BadRequest("action must be disable, enable, delete, promote or demote".into()));
    }
    if id == admin.id {
        return Err(ControlError::Forbidden("you cannot manage your own account here".into()));
    }
    let user = access::manageable(state, admin, id).await?;
    let is_root = user.role == Role::Root.as_i64();
    let root_only = |what: &str| Err(ControlError::Forbidden(format!("only root may {what} administrators")));
    match action {
        "disable" | "delete" if is_root => {
            return Err(ControlError::Forbidden("the root account cannot be disabled or deleted".into()));
        }
        "disable" => db::user_admin::set_status(state.db(), id, UserStatus::Disabled.as_i64()).await?,
        "enable" => db::user_admin::set_status(state.db(), id, UserStatus::Enabled.as_i64()).await?,
        "delete" => db::user_admin::soft_delete(state.db(), id).await?,
        "promote" if admin.role != Role::Root.as_i64() => return root_only("create"),
        "promote" if user.role >= Role::Admin.as_i64() => {
            return Err(ControlError::BadRequest("the user is already an administrator".into()));
        }
        "promote" => db::user_admin::set_role(state.db(), id, Role::Admin.as_i64()).await?,
        "demote" if admin.role != Role::Root.as_i64() => return root_only("demote"),
        "demote" if user.role != Role::Admin.as_i64() => {
            return Err(ControlError::BadRequest("only administrators can be demoted".into()));
        }
        _ => db::user_admin::set_role(state.db(), id, Role::Common.as_i64()).await?,
    }
    if matches!(action, "disable" | "delete") {
        // Enabling the account again must not bring its old sessions back.
        db::sessions::end_all_of(state.db(), id, None).await?;
    }
    state.events().publish(Change::User { user_id: id });
    Ok(())
}
