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
    pub used_quota: i64,
    pub request_count: i64,
    pub must_change_password: i64,
}

const COLUMNS: &str = "id, username, password_hash, display_name, role, status, email, group_name, quota, used_quota, \
                       request_count, must_change_password";

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
            used_quota: self.used_quota,
            request_count: self.request_count,
            must_change_password: self.must_change_password != 0,
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

/// Profile fields only: quota columns are never written from a profile update.
pub async fn set_profile(db: &Db, id: i64, display_name: &str, email: &str) -> Result<(), ControlError> {
    sqlx::query(&db.sql("UPDATE users SET display_name = ?, email = ? WHERE id = ?"))
        .bind(display_name)
        .bind(email)
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}
