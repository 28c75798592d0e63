//! What notice delivery reads and writes: the recipient's address and settings, the root account, and the
//! system log row that records each delivery.

use super::{Db, now_secs};
use crate::error::ControlError;
use veloera_admin_types::log_type;

/// A live account's address and settings JSON.
pub struct Recipient {
    pub email: String,
    pub setting: String,
}

/// The account `user_id`, unless it was deleted or disabled (a disabled account gets no notices).
pub async fn recipient(db: &Db, user_id: i64) -> Result<Option<Recipient>, ControlError> {
    let row: Option<(String, String)> =
        sqlx::query_as(&db.sql("SELECT email, setting FROM users WHERE id = ? AND status = ? AND deleted_at IS NULL"))
            .bind(user_id)
            .bind(veloera_admin_types::UserStatus::Enabled.as_i64())
            .fetch_optional(db.pool())
            .await?;
    Ok(row.map(|(email, setting)| Recipient { email, setting }))
}

/// The first live root account (Veloera's `GetRootUser`).
pub async fn root_id(db: &Db) -> Result<Option<i64>, ControlError> {
    let row: Option<(i64,)> =
        sqlx::query_as(&db.sql("SELECT id FROM users WHERE role = ? AND deleted_at IS NULL ORDER BY id LIMIT 1"))
            .bind(veloera_admin_types::Role::Root.as_i64())
            .fetch_optional(db.pool())
            .await?;
    Ok(row.map(|(id,)| id))
}

/// A system log row (type 4) in the user's log saying how a notice was delivered; administrators see it in the
/// site log.
pub async fn record_delivery(db: &Db, user_id: i64, content: &str) -> Result<(), ControlError> {
    let content: String = content.chars().take(1000).collect();
    sqlx::query(&db.sql(
        "INSERT INTO logs (user_id, created_at, type, content, username, quota) \
         SELECT id, ?, ?, ?, username, 0 FROM users WHERE id = ?",
    ))
    .bind(now_secs())
    .bind(log_type::SYSTEM as i64)
    .bind(content)
    .bind(user_id)
    .execute(db.pool())
    .await?;
    Ok(())
}
