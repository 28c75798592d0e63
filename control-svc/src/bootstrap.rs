//! First start: the root account (and its default token when configured).

use veloera_admin_types::{Role, TokenCreate};

use crate::admin::tokens::issue;
use crate::db::{self, users::NewUser};
use crate::error::ControlError;
use crate::secrets::hash_password;
use crate::state::AppState;

/// Veloera's well-known default root password.
pub const DEFAULT_ROOT_PASSWORD: &str = "123456";
const ROOT_QUOTA: i64 = 100_000_000;

/// Creates `root` when there is no user at all. With the well-known default password the account must change
/// it before anything else works.
pub async fn ensure_root(state: &AppState, password: &str) -> Result<(), ControlError> {
    if db::users::count(state.db()).await? > 0 {
        return Ok(());
    }
    let hash = hash_password(password)?;
    let user = NewUser {
        username: "root",
        password_hash: &hash,
        role: Role::Root.as_i64(),
        quota: ROOT_QUOTA,
        must_change_password: password == DEFAULT_ROOT_PASSWORD,
    };
    let id = db::users::insert(state.db(), &user).await?;
    tracing::warn!("created the root account; sign in as root and change its password");
    if state.generate_default_token() {
        create_default_token(state, id, "root").await?;
    }
    Ok(())
}

/// `GENERATE_DEFAULT_TOKEN`: an unlimited, never-expiring token named as Veloera names it.
pub async fn create_default_token(state: &AppState, user_id: i64, username: &str) -> Result<(), ControlError> {
    let mut name = format!("{username}的初始令牌");
    if name.chars().count() > 30 {
        name = name.chars().take(30).collect();
    }
    let spec = TokenCreate { name, unlimited_quota: Some(true), expired_time: Some(-1), ..Default::default() };
    issue(state, user_id, spec).await?;
    Ok(())
}
