//! What administrators change on other users: listing, status and role, profile fields, quota (always as a
//! relative update with a manage log, so a concurrent settlement is never overwritten), soft deletion.

use super::users::{COLUMNS, UserRow};
use super::{Db, logs, now_secs};
use crate::error::ControlError;

/// Live users, newest first: `limit` of them after skipping `offset`.
pub async fn page(db: &Db, offset: i64, limit: i64) -> Result<Vec<UserRow>, ControlError> {
    let q = format!("SELECT {COLUMNS} FROM users WHERE deleted_at IS NULL ORDER BY id DESC LIMIT ? OFFSET ?");
    Ok(sqlx::query_as(&db.sql(&q)).bind(limit).bind(offset).fetch_all(db.pool()).await?)
}

/// How many live users there are (the `total` of the paged list).
pub async fn count(db: &Db) -> Result<i64, ControlError> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE deleted_at IS NULL").fetch_one(db.pool()).await?)
}

/// Live users whose id, username, display name or email matches `keyword`, optionally in `group`.
pub async fn search(db: &Db, keyword: &str, group: &str) -> Result<Vec<UserRow>, ControlError> {
    let like = format!("%{}%", keyword.to_lowercase().replace(['%', '_'], ""));
    let id: i64 = keyword.trim().parse().unwrap_or(-1);
    let q = format!(
        "SELECT {COLUMNS} FROM users WHERE deleted_at IS NULL AND (id = ? OR LOWER(username) LIKE ? OR \
         LOWER(display_name) LIKE ? OR LOWER(email) LIKE ?) AND (? = '' OR group_name = ?) ORDER BY id DESC LIMIT 1000"
    );
    Ok(sqlx::query_as(&db.sql(&q))
        .bind(id)
        .bind(&like)
        .bind(&like)
        .bind(&like)
        .bind(group)
        .bind(group)
        .fetch_all(db.pool())
        .await?)
}

pub async fn set_status(db: &Db, id: i64, status: i64) -> Result<(), ControlError> {
    sqlx::query(&db.sql("UPDATE users SET status = ? WHERE id = ?")).bind(status).bind(id).execute(db.pool()).await?;
    Ok(())
}

pub async fn set_role(db: &Db, id: i64, role: i64) -> Result<(), ControlError> {
    sqlx::query(&db.sql("UPDATE users SET role = ? WHERE id = ?")).bind(role).bind(id).execute(db.pool()).await?;
    Ok(())
}

pub async fn soft_delete(db: &Db, id: i64) -> Result<(), ControlError> {
    sqlx::query(&db.sql("UPDATE users SET deleted_at = ? WHERE id = ?"))
        .bind(now_secs())
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Profile fields an administrator may set (quota has its own, relative, update).
pub async fn set_fields(db: &Db, id: i64, display_name: &str, email: &str, group: &str) -> Result<(), ControlError> {
    sqlx::query(&db.sql("UPDATE users SET display_name = ?, email = ?, group_name = ? WHERE id = ?"))
        .bind(display_name)
        .bind(email)
        .bind(group)
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Which of a user's two balances an administrator changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Balance {
    Quota,
    /// `subscription_quota`, spent before `quota`.
    Subscription,
}

/// A change of one balance from what the administrator saw (`shown`) by `delta`.
#[derive(Debug, Clone, Copy)]
pub struct QuotaChange {
    pub balance: Balance,
    pub shown: i64,
    pub delta: i64,
}

/// Moves one of the user's balances by `delta` (from `shown` to `shown + delta`) and logs it as a management
/// event, with `reason` when one is given, in one transaction.
pub async fn adjust_quota(
    db: &Db,
    id: i64,
    admin: &str,
    change: QuotaChange,
    reason: &str,
) -> Result<(), ControlError> {
    let (column, what) = match change.balance {
        Balance::Quota => ("quota", "quota"),
        Balance::Subscription => ("subscription_quota", "subscription quota"),
    };
    let mut tx = db.begin_write().await?;
    sqlx::query(&db.sql(&format!("UPDATE users SET {column} = {column} + ? WHERE id = ?")))
        .bind(change.delta)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let mut content =
        format!("administrator {admin} changed the {what} from {} to {}", change.shown, change.shown + change.delta);
    if !reason.is_empty() {
        content.push_str(": ");
        content.push_str(reason);
    }
    let event = logs::AccountEvent {
        user_id: id,
        log_type: veloera_admin_types::log_type::MANAGE,
        content: &content,
        quota: change.delta,
    };
    logs::record_event(db, &mut tx, &event).await?;
    tx.commit().await?;
    Ok(())
}
