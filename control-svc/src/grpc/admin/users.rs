//! Users: create, get, find by name or email, list, set group, adjust quota, enable or disable, through the
//! cores of `admin/user_admin.rs` and the access rules of `crate::access`.

use tonic::Status;
use veloera_admin_types::{UserCreate, UserSelf, UserUpdate};
use veloera_proto::admin_v1::find_user_request::By;
use veloera_proto::admin_v1::{
    AdjustUserQuotaRequest, Balance, CreateUserRequest, FindUserRequest, ListUsersRequest, ListUsersResponse, Role,
    SetUserGroupRequest, SetUserStatusRequest, User,
};

use super::errors::{from_core, invalid, precondition};
use crate::access;
use crate::admin::user_admin;
use crate::db::{self, user_admin::QuotaChange, users::UserRow};
use crate::state::AppState;

/// Longest reason of a quota change.
const MAX_REASON_CHARS: usize = 200;

/// An account in the service's shape.
pub fn user(u: UserSelf) -> User {
    User {
        id: u.id,
        username: u.username,
        display_name: u.display_name,
        role: u.role,
        status: u.status,
        email: u.email,
        group: u.group,
        quota: u.quota,
        subscription_quota: u.subscription_quota,
        used_quota: u.used_quota,
        request_count: u.request_count,
    }
}

async fn shown(state: &AppState, row: &UserRow) -> Result<User, Status> {
    Ok(user(user_admin::shown(state, row).await?))
}

pub async fn create(state: &AppState, actor: &UserRow, r: CreateUserRequest) -> Result<User, Status> {
    let role = match Role::try_from(r.role) {
        Ok(Role::Unspecified) => None,
        Ok(Role::User) => Some(veloera_admin_types::Role::Common.as_i32()),
        Ok(Role::Admin) => Some(veloera_admin_types::Role::Admin.as_i32()),
        _ => return Err(invalid("role", "role must be ROLE_USER or ROLE_ADMIN")),
    };
    let body = UserCreate {
        username: r.username,
        password: r.password,
        display_name: Some(r.display_name).filter(|n| !n.is_empty()),
        role,
    };
    let created = user_admin::create_user(state, actor, body)
        .await
        .map_err(|e| from_core(e, &["username", "password", "role", "display_name"]))?;
    Ok(user(created))
}

pub async fn get(state: &AppState, actor: &UserRow, id: i64) -> Result<User, Status> {
    if id <= 0 {
        return Err(invalid("id", "id must be a user id"));
    }
    shown(state, &access::manageable(state, actor, id).await?).await
}

pub async fn find(state: &AppState, actor: &UserRow, r: FindUserRequest) -> Result<User, Status> {
    let found = match r.by {
        Some(By::Username(name)) if !name.trim().is_empty() => {
            db::users::find_by_username(state.db(), name.trim()).await?
        }
        Some(By::Email(email)) if !email.trim().is_empty() => {
            db::users::find_by_email(state.db(), email.trim()).await?
        }
        Some(By::Username(_)) => return Err(invalid("username", "username must not be empty")),
        Some(By::Email(_)) => return Err(invalid("email", "email must not be empty")),
        None => return Err(invalid("by", "give a username or an email")),
    };
    let found = found.ok_or_else(|| Status::not_found("no such user"))?;
    get(state, actor, found.id).await
}

pub async fn list(state: &AppState, r: ListUsersRequest) -> Result<ListUsersResponse, Status> {
    let (offset, size) = super::window(r.page)?;
    let rows = db::user_admin::page(state.db(), offset, size).await?;
    let mut users = Vec::with_capacity(rows.len());
    for row in &rows {
        users.push(shown(state, row).await?);
    }
    Ok(ListUsersResponse { users, total: db::user_admin::count(state.db()).await? })
}

pub async fn set_group(state: &AppState, actor: &UserRow, r: SetUserGroupRequest) -> Result<User, Status> {
    let body = UserUpdate { id: r.id, group: Some(r.group), ..Default::default() };
    Ok(user(user_admin::update_user(state, actor, body).await.map_err(|e| from_core(e, &["group"]))?))
}

pub async fn adjust_quota(state: &AppState, actor: &UserRow, r: AdjustUserQuotaRequest) -> Result<User, Status> {
    if r.delta == 0 {
        return Err(invalid("delta", "delta must not be 0"));
    }
    let reason = r.reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        return Err(invalid("reason", "reason must be 1 to 200 characters"));
    }
    let balance = match Balance::try_from(r.balance) {
        Ok(Balance::Unspecified) => db::user_admin::Balance::Quota,
        Ok(Balance::Subscription) => db::user_admin::Balance::Subscription,
        Err(_) => return Err(invalid("balance", "balance must be BALANCE_UNSPECIFIED or BALANCE_SUBSCRIPTION")),
    };
    let target = access::manageable(state, actor, r.id).await?;
    let current = user_admin::shown(state, &target).await?;
    let shown_balance = match balance {
        db::user_admin::Balance::Quota => current.quota,
        db::user_admin::Balance::Subscription => current.subscription_quota,
    };
    let after = shown_balance.checked_add(r.delta).ok_or_else(|| invalid("delta", "delta is out of range"))?;
    if after < 0 {
        return Err(precondition(format!(
            "the balance is {shown_balance}; taking {} would leave it below 0",
            -r.delta
        )));
    }
    let change = QuotaChange { balance, shown: shown_balance, delta: r.delta };
    db::user_admin::adjust_quota(state.db(), target.id, &actor.username, change, reason).await?;
    state.events().publish(crate::events::Change::User { user_id: target.id });
    get(state, actor, target.id).await
}

pub async fn set_status(state: &AppState, actor: &UserRow, r: SetUserStatusRequest) -> Result<User, Status> {
    let action = if r.enabled { "enable" } else { "disable" };
    user_admin::act(state, actor, r.id, action).await?;
    get(state, actor, r.id).await
}
