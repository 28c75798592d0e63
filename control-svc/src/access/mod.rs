//! The one authorization layer of the admin surfaces: who a credential names, which role a call needs, and on
//! whose behalf a caller may act. The admin REST API (the extractors of `admin/session.rs` and its handlers) and
//! the gRPC admin service (`grpc/admin/`) both decide through these functions, so the two cannot disagree.
//!
//! Layout: this file holds credentials and roles; `ownership.rs` the rules about other users, their tokens and
//! their logs.

mod ownership;

pub use ownership::{LogScope, acting_for, log_scope, manageable, own_token, reachable_token};

use veloera_admin_types::{Role, UserStatus};

use crate::db::{self, users::UserRow};
use crate::error::ControlError;
use crate::state::AppState;

/// Longest personal access token accepted; anything longer is refused without a lookup.
const MAX_TOKEN_LEN: usize = 256;

/// What a call needs of its caller, each level including the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Need {
    /// An enabled account, even one that still has to change its password.
    SignedIn,
    /// An enabled account without a pending password change.
    Active,
    /// An active administrator (or root).
    Admin,
    /// The active root account.
    Root,
}

/// Refuses `user` unless it meets `need`.
pub fn require(user: &UserRow, need: Need) -> Result<(), ControlError> {
    if user.status != UserStatus::Enabled.as_i64() {
        return Err(ControlError::Forbidden("this account is disabled".into()));
    }
    if need >= Need::Active && user.must_change_password != 0 {
        return Err(ControlError::Forbidden("the default password must be changed first (PUT /api/user/self)".into()));
    }
    if need == Need::Admin && user.role < Role::Admin.as_i64() {
        return Err(ControlError::Forbidden("administrator access required".into()));
    }
    if need == Need::Root && user.role < Role::Root.as_i64() {
        return Err(ControlError::Forbidden("root access required".into()));
    }
    Ok(())
}

/// The personal access token in an `Authorization` value (`Bearer ` optional). Relay API keys (`sk-…`) are
/// refused outright: they are never valid on the admin surfaces, and a digest lookup must not even be attempted
/// with them.
pub fn personal_token(value: &str) -> Result<&str, ControlError> {
    let value = value.trim();
    let token = match value.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("bearer ") => value[7..].trim(),
        _ => value,
    };
    if token.is_empty() || token.len() > MAX_TOKEN_LEN || token.starts_with("sk-") {
        return Err(ControlError::Unauthenticated);
    }
    Ok(token)
}

/// The live account a personal access token belongs to, if any (its role and status are for [`require`]).
pub async fn token_owner(state: &AppState, token: &str) -> Result<Option<UserRow>, ControlError> {
    db::users::find_by_access_token(state.db(), &access_token_digest(token)).await
}

/// What `users.access_token_digest` holds for a token: SHA-256, hex.
pub fn access_token_digest(token: &str) -> String {
    hex::encode(crate::secrets::key_digest(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(role: u8, status: u8, must_change: bool) -> UserRow {
        UserRow {
            id: 1,
            username: "u".into(),
            password_hash: String::new(),
            display_name: String::new(),
            role: role as i64,
            status: status as i64,
            email: String::new(),
            group_name: "default".into(),
            quota: 0,
            subscription_quota: 0,
            used_quota: 0,
            request_count: 0,
            must_change_password: must_change as i64,
        }
    }

    #[test]
    fn each_level_admits_the_roles_above_it_and_refuses_those_below() {
        let (common, admin, root) =
            (Role::Common.as_i32() as u8, Role::Admin.as_i32() as u8, Role::Root.as_i32() as u8);
        let on = UserStatus::Enabled.as_i32() as u8;
        assert!(require(&user(common, on, false), Need::Active).is_ok());
        assert!(require(&user(common, on, false), Need::Admin).is_err());
        assert!(require(&user(admin, on, false), Need::Admin).is_ok());
        assert!(require(&user(admin, on, false), Need::Root).is_err());
        assert!(require(&user(root, on, false), Need::Root).is_ok());
    }

    #[test]
    fn a_disabled_account_or_a_pending_password_change_is_refused() {
        let root = Role::Root.as_i32() as u8;
        assert!(require(&user(root, UserStatus::Disabled.as_i32() as u8, false), Need::SignedIn).is_err());
        assert!(require(&user(root, UserStatus::Enabled.as_i32() as u8, true), Need::SignedIn).is_ok());
        assert!(require(&user(root, UserStatus::Enabled.as_i32() as u8, true), Need::Active).is_err());
    }

    #[test]
    fn relay_keys_and_blank_values_are_not_personal_tokens() {
        assert_eq!(personal_token("Bearer abc").ok(), Some("abc"));
        assert_eq!(personal_token("abc").ok(), Some("abc"));
        assert!(personal_token("Bearer sk-abc").is_err());
        assert!(personal_token("   ").is_err());
        assert!(personal_token("Bearer  sk-abc").is_err());
        assert!(personal_token(&"a".repeat(MAX_TOKEN_LEN + 1)).is_err());
    }
}
