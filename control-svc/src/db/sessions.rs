//! The `sessions` table: one row per signed-in browser. The cookie holds a random session id; the table keys
//! its SHA-256, so a database dump signs nobody in. Ending a session is deleting its row, which every control
//! instance sees on the next request.

use super::users::{COLUMNS, UserRow};
use super::{Db, now_secs};
use crate::error::ControlError;

/// Stores a new session of `user_id`, valid for `ttl_secs`. Expired sessions of every user are purged on the way
/// (sign-ins are rare enough for that to be the only sweep needed).
pub async fn create(db: &Db, id_digest: &str, user_id: i64, ttl_secs: i64) -> Result<(), ControlError> {
    let now = now_secs();
    sqlx::query(&db.sql("DELETE FROM sessions WHERE expires_at < ?")).bind(now).execute(db.pool()).await?;
    sqlx::query(&db.sql("INSERT INTO sessions (id_digest, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)"))
        .bind(id_digest)
        .bind(user_id)
        .bind(now)
        .bind(now + ttl_secs)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// The live account of an unexpired session, in one indexed read.
pub async fn find_user(db: &Db, id_digest: &str) -> Result<Option<UserRow>, ControlError> {
    let columns = COLUMNS.split(", ").map(|c| format!("u.{c}")).collect::<Vec<_>>().join(", ");
    let q = format!(
        "SELECT {columns} FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.id_digest = ? AND s.expires_at >= ? AND u.deleted_at IS NULL"
    );
    Ok(sqlx::query_as(&db.sql(&q)).bind(id_digest).bind(now_secs()).fetch_optional(db.pool()).await?)
}

/// Ends one session (logout).
pub async fn end(db: &Db, id_digest: &str) -> Result<(), ControlError> {
    sqlx::query(&db.sql("DELETE FROM sessions WHERE id_digest = ?")).bind(id_digest).execute(db.pool()).await?;
    Ok(())
}

/// Ends every session of `user_id` except `keep` (the caller's own, when it changed its password or asked to be
/// logged out everywhere else). Returns how many ended.
pub async fn end_all_of(db: &Db, user_id: i64, keep: Option<&str>) -> Result<u64, ControlError> {
    let done = sqlx::query(&db.sql("DELETE FROM sessions WHERE user_id = ? AND id_digest <> ?"))
        .bind(user_id)
        .bind(keep.unwrap_or(""))
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected())
}

/// [`end_all_of`] inside `tx`, so the sessions end with the change that ends them (a password reset).
pub async fn end_all_of_in(
    db: &Db,
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: i64,
) -> Result<(), ControlError> {
    sqlx::query(&db.sql("DELETE FROM sessions WHERE user_id = ?")).bind(user_id).execute(&mut **tx).await?;
    Ok(())
}
