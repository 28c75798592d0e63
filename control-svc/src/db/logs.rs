//! The `logs` table: reads for the admin views, and the account events (top-ups, check-ins, administrators'
//! quota changes). Consume rows are written in batches by `usage::settle`.

use sqlx::FromRow;
use veloera_admin_types::LogEntry;

use super::Db;
use crate::error::ControlError;

#[derive(Debug, Clone, FromRow)]
pub struct LogRow {
    pub id: i64,
    pub user_id: i64,
    pub created_at: i64,
    #[sqlx(rename = "type")]
    pub log_type: i64,
    pub content: String,
    pub username: String,
    pub token_name: String,
    pub token_id: i64,
    pub model_name: String,
    pub quota: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub use_time: i64,
    pub is_stream: i64,
    pub channel_id: i64,
    pub group_name: String,
    pub request_id: String,
    pub other: String,
}

impl LogRow {
    pub fn to_dto(&self) -> LogEntry {
        LogEntry {
            id: self.id,
            user_id: self.user_id,
            created_at: self.created_at,
            log_type: self.log_type as i32,
            content: self.content.clone(),
            username: self.username.clone(),
            token_name: self.token_name.clone(),
            token_id: self.token_id,
            model_name: self.model_name.clone(),
            quota: self.quota,
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
            use_time: self.use_time,
            is_stream: self.is_stream != 0,
            channel: self.channel_id,
            group: self.group_name.clone(),
            request_id: self.request_id.clone(),
            other: self.other.clone(),
        }
    }
}

/// Newest first, one page.
pub async fn page(db: &Db, page: i64, page_size: i64) -> Result<Vec<LogRow>, ControlError> {
    let q = "SELECT id, user_id, created_at, type, content, username, token_name, token_id, model_name, quota, \
             prompt_tokens, completion_tokens, use_time, is_stream, channel_id, group_name, request_id, other \
             FROM logs ORDER BY id DESC LIMIT ? OFFSET ?";
    Ok(sqlx::query_as(&db.sql(q)).bind(page_size).bind(page * page_size).fetch_all(db.pool()).await?)
}

/// An account event for the log (top-up, check-in, management, system): who, what, and the quota involved.
pub struct AccountEvent<'a> {
    pub user_id: i64,
    /// `veloera_admin_types::log_type`: TOPUP, MANAGE, SYSTEM or CHECK_IN.
    pub log_type: i32,
    pub content: &'a str,
    pub quota: i64,
}

/// Writes one account event inside `tx` (so it commits with the change it describes); the user name is
/// copied from the user row, as Veloera's log keeps it.
pub async fn record_event(
    db: &Db,
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    event: &AccountEvent<'_>,
) -> Result<(), ControlError> {
    sqlx::query(&db.sql(
        "INSERT INTO logs (user_id, created_at, type, content, username, quota) \
         SELECT id, ?, ?, ?, username, ? FROM users WHERE id = ?",
    ))
    .bind(super::now_secs())
    .bind(event.log_type)
    .bind(event.content)
    .bind(event.quota)
    .bind(event.user_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
