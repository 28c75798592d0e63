//! The `users` table.

use sqlx::FromRow;
use veloera_admin_types::UserSelf;

use super::{Db, insert_returning_id, now_secs};
use crate::error::ControlError;

#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub display_name: String,
    pub role: i64,
    pub status: i64,
    pub email: String,
    pub group_name: String,
    pub quota: i64,
    pub subscription_quota: i64,
    pub used_quota: i64,
    pub request_count: i64,
    pub must_change_password: i64,
}

pub(crate) const COLUMNS: &str = "id, username, password_hash, display_name, role, status, email, group_name, quota, \
                       subscription_quota, used_quota, request_count, must_change_password";

impl UserRow {
    pub fn to_self(&self) -> UserSelf {
        UserSelf {
            id: self.id,
            username: self.username.clone(),
            display_name: self.display_name.clone(),
            role: self.role as i32,
            status: self.status as i32,
            email: self.email.clone(),
            group: self.group_name.clone(),
            quota: self.quota,
            subscription_quota: self.subscription_quota,
            used_quota: self.used_quota,
            request_count: self.request_count,
            must_change_password: self.must_change_password != 0,
            setting: None,
        }
    }
}

/// A user to create.
pub struct NewUser<'a> {
    pub username: &'a str,
    pub password_hash: &'a str,
    pub role: i64,
    pub quota: i64,
    pub must_change_password: bool,
}

pub async fn count(db: &Db) -> Result<i64, ControlError> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users").fetch_one(db.pool()).await?;
    Ok(n)
}

pub async fn find_by_username(db: &Db, username: &str) -> Result<Option<UserRow>, ControlError> {
    let q = format!("SELECT {COLUMNS} FROM users WHERE username = ? AND deleted_at IS NULL");
    Ok(sqlx::query_as(&db.sql(&q)).bind(username).fetch_optional(db.pool()).await?)
}

pub async fn find_by_id(db: &Db, id: i64) -> Result<Option<UserRow>, ControlError> {
    let q = format!("SELECT {COLUMNS} FROM users WHERE id = ? AND deleted_at IS NULL");
    Ok(sqlx::query_as(&db.sql(&q)).bind(id).fetch_optional(db.pool()).await?)
}

pub async fn insert(db: &Db, user: &NewUser<'_>) -> Result<i64, ControlError> {
    let q = format!(
        "INSERT INTO users (username, password_hash, display_name, role, status, email, group_name, quota, \
         used_quota, request_count, must_change_password, created_at) VALUES (?, ?, ?, ?, 1, '', 'default', ?, 0, 0, ?, ?){}",
        db.returning_id()
    );
    let sql = db.sql(&q);
    let query = sqlx::query(&sql)
        .bind(user.username)
        .bind(user.password_hash)
        .bind(user.username)
        .bind(user.role)
        .bind(user.quota)
        .bind(user.must_change_password as i64)
        .bind(now_secs());
    insert_returning_id(db, db.pool(), query).await
}

/// Sets a new password hash and lifts the must-change flag.
pub async fn set_password(db: &Db, id: i64, password_hash: &str) -> Result<(), ControlError> {
    sqlx::query(&db.sql("UPDATE users SET password_hash = ?, must_change_password = 0 WHERE id = ?"))
        .bind(password_hash)
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Replaces a stored hash by a stronger one of the same password, unless the password changed meanwhile; the
/// account's sessions and its must-change flag stay as they are.
pub async fn rehash_password(db: &Db, id: i64, old_hash: &str, new_hash: &str) -> Result<(), ControlError> {
    sqlx::query(&db.sql("UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?"))
        .bind(new_hash)
        .bind(id)
        .bind(old_hash)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// The display name only: quota columns are never written from a profile update, and the email address has its
/// own, proven, change ([`set_email_in`]).
pub async fn set_display_name(db: &Db, id: i64, display_name: &str) -> Result<(), ControlError> {
    sqlx::query(&db.sql("UPDATE users SET display_name = ? WHERE id = ?"))
        .bind(display_name)
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Sets the account's email address inside `tx` (after the code sent to it was checked).
pub async fn set_email_in(
    db: &Db,
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: i64,
    email: &str,
) -> Result<(), ControlError> {
    sqlx::query(&db.sql("UPDATE users SET email = ? WHERE id = ?")).bind(email).bind(id).execute(&mut **tx).await?;
    Ok(())
}

/// An account being created by registration, OAuth sign-up or first-run setup (written inside the caller's
/// transaction).
pub struct NewAccount<'a> {
    pub username: &'a str,
    pub password_hash: &'a str,
    pub display_name: &'a str,
    pub email: &'a str,
    pub role: i64,
    pub quota: i64,
    pub aff_code: &'a str,
    pub github_id: &'a str,
    pub oidc_id: &'a str,
}

pub async fn insert_account(
    db: &Db,
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user: &NewAccount<'_>,
) -> Result<i64, ControlError> {
    let q = format!(
        "INSERT INTO users (username, password_hash, display_name, role, status, email, group_name, quota, \
         used_quota, request_count, must_change_password, created_at, aff_code, github_id, oidc_id) \
         VALUES (?, ?, ?, ?, 1, ?, 'default', ?, 0, 0, 0, ?, ?, ?, ?){}",
        db.returning_id()
    );
    let sql = db.sql(&q);
    let query = sqlx::query(&sql)
        .bind(user.username)
        .bind(user.password_hash)
        .bind(user.display_name)
        .bind(user.role)
        .bind(user.email)
        .bind(user.quota)
        .bind(now_secs())
        .bind(user.aff_code)
        .bind(user.github_id)
        .bind(user.oidc_id);
    insert_returning_id(db, &mut **tx, query).await
}

/// Whether a username is in use, ignoring case (so `Root` cannot pose as `root`) and counting deleted accounts
/// (their names stay reserved: the column is unique).
pub async fn username_taken(
    db: &Db,
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    username: &str,
) -> Result<bool, ControlError> {
    let row: Option<(i64,)> = sqlx::query_as(&db.sql("SELECT id FROM users WHERE LOWER(username) = ? LIMIT 1"))
        .bind(username.to_lowercase())
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.is_some())
}

/// Renames an account (OAuth sign-ups get `github_<id>` once their id is known).
pub async fn rename(
    db: &Db,
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: i64,
    username: &str,
) -> Result<(), ControlError> {
    sqlx::query(&db.sql("UPDATE users SET username = ? WHERE id = ?"))
        .bind(username)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn aff_code_taken(
    db: &Db,
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    code: &str,
) -> Result<bool, ControlError> {
    Ok(id_by_aff_code(db, tx, code).await?.is_some())
}

/// The live account whose invitation code is `code` (the oldest, should two share it).
pub async fn id_by_aff_code(
    db: &Db,
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    code: &str,
) -> Result<Option<i64>, ControlError> {
    if code.is_empty() {
        return Ok(None);
    }
    let row: Option<(i64,)> =
        sqlx::query_as(&db.sql("SELECT id FROM users WHERE aff_code = ? AND deleted_at IS NULL ORDER BY id LIMIT 1"))
            .bind(code)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(row.map(|(id,)| id))
}

/// Whether a live account uses this email address (compared without case).
pub async fn email_taken(db: &Db, email: &str) -> Result<bool, ControlError> {
    Ok(find_by_email(db, email).await?.is_some())
}

/// The oldest live account with this email address (compared without case).
pub async fn find_by_email(db: &Db, email: &str) -> Result<Option<UserRow>, ControlError> {
    if email.is_empty() {
        return Ok(None);
    }
    let q = format!("SELECT {COLUMNS} FROM users WHERE LOWER(email) = ? AND deleted_at IS NULL ORDER BY id LIMIT 1");
    Ok(sqlx::query_as(&db.sql(&q)).bind(email.to_lowercase()).fetch_optional(db.pool()).await?)
}

/// The live account whose personal access token has this SHA-256 digest (hex).
pub async fn find_by_access_token(db: &Db, digest_hex: &str) -> Result<Option<UserRow>, ControlError> {
    if digest_hex.is_empty() {
        return Ok(None);
    }
    let q = format!("SELECT {COLUMNS} FROM users WHERE access_token_digest = ? AND deleted_at IS NULL");
    Ok(sqlx::query_as(&db.sql(&q)).bind(digest_hex).fetch_optional(db.pool()).await?)
}

/// Replaces the account's personal access token (only its digest is stored).
pub async fn set_access_token_digest(db: &Db, id: i64, digest_hex: &str) -> Result<(), ControlError> {
    sqlx::query(&db.sql("UPDATE users SET access_token_digest = ? WHERE id = ?"))
        .bind(digest_hex)
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// An identity at an OAuth provider, as stored on the account it signs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExternalId {
    /// GitHub's numeric user id (stable across renames, unlike the login).
    GitHub,
    /// The OIDC provider's `sub`.
    Oidc,
}

impl ExternalId {
    fn column(self) -> &'static str {
        match self {
            ExternalId::GitHub => "github_id",
            ExternalId::Oidc => "oidc_id",
        }
    }
}

/// The account linked to an external identity, deleted ones included: `(user, deleted)`.
pub async fn find_by_external_id(
    db: &Db,
    kind: ExternalId,
    value: &str,
) -> Result<Option<(UserRow, bool)>, ControlError> {
    if value.is_empty() {
        return Ok(None);
    }
    let q = format!("SELECT {COLUMNS}, deleted_at FROM users WHERE {} = ? ORDER BY id LIMIT 1", kind.column());
    let row: Option<LinkedRow> = sqlx::query_as(&db.sql(&q)).bind(value).fetch_optional(db.pool()).await?;
    Ok(row.map(|r| (r.user, r.deleted_at.is_some())))
}

#[derive(FromRow)]
struct LinkedRow {
    #[sqlx(flatten)]
    user: UserRow,
    deleted_at: Option<i64>,
}

/// Sets a new password hash inside `tx` (password reset) and lifts the must-change flag.
pub async fn set_password_in(
    db: &Db,
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: i64,
    password_hash: &str,
) -> Result<(), ControlError> {
    sqlx::query(&db.sql("UPDATE users SET password_hash = ?, must_change_password = 0 WHERE id = ?"))
        .bind(password_hash)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Number of live accounts with role root.
pub async fn count_roots(db: &Db) -> Result<i64, ControlError> {
    let (n,): (i64,) = sqlx::query_as(&db.sql("SELECT COUNT(*) FROM users WHERE role = ? AND deleted_at IS NULL"))
        .bind(veloera_admin_types::Role::Root.as_i64())
        .fetch_one(db.pool())
        .await?;
    Ok(n)
}

/// The user's settings JSON (`users.setting`; empty when never set).
pub async fn setting(db: &Db, id: i64) -> Result<String, ControlError> {
    let row: Option<(String,)> =
        sqlx::query_as(&db.sql("SELECT setting FROM users WHERE id = ? AND deleted_at IS NULL"))
            .bind(id)
            .fetch_optional(db.pool())
            .await?;
    Ok(row.map(|(s,)| s).unwrap_or_default())
}

pub async fn set_setting(db: &Db, id: i64, setting: &str) -> Result<(), ControlError> {
    sqlx::query(&db.sql("UPDATE users SET setting = ? WHERE id = ?")).bind(setting).bind(id).execute(db.pool()).await?;
    Ok(())
}
