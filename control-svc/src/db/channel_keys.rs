//! The `channel_keys` table: health of each key of a channel, keyed by the key's SHA-256.

use serde::Serialize;

use super::{Db, now_secs};
use crate::error::ControlError;
use crate::routing::KeyStatuses;

/// One key's health row.
#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct KeyHealth {
    pub channel_id: i64,
    pub key_digest: String,
    pub status: i64,
    pub status_reason: String,
    pub status_time: i64,
    pub last_error: String,
    pub last_error_time: i64,
    pub request_count: i64,
    pub error_count: i64,
    pub probe_at: i64,
    pub backoff_secs: i64,
}

const COLUMNS: &str = "channel_id, key_digest, status, status_reason, status_time, last_error, last_error_time, \
                       request_count, error_count, probe_at, backoff_secs";

/// Status of every key with a row; keys without one are enabled.
pub async fn statuses(db: &Db) -> Result<KeyStatuses, ControlError> {
    let rows: Vec<(i64, String, i64)> =
        sqlx::query_as("SELECT channel_id, key_digest, status FROM channel_keys").fetch_all(db.pool()).await?;
    Ok(rows.into_iter().map(|(c, d, s)| ((c, d), s)).collect())
}

/// Makes sure each `(channel, digest)` has a row, so counters can be plain updates.
pub async fn ensure(db: &Db, keys: &[(i64, String)]) -> Result<(), ControlError> {
    let sql = db.sql(&db.insert_ignore("channel_keys (channel_id, key_digest)", "(?, ?)")).into_owned();
    for (channel_id, digest) in keys {
        sqlx::query(&sql).bind(channel_id).bind(digest).execute(db.pool()).await?;
    }
    Ok(())
}

pub async fn for_channel(db: &Db, channel_id: i64) -> Result<Vec<KeyHealth>, ControlError> {
    let q = format!("SELECT {COLUMNS} FROM channel_keys WHERE channel_id = ?");
    Ok(sqlx::query_as(&db.sql(&q)).bind(channel_id).fetch_all(db.pool()).await?)
}

/// Keys disabled automatically whose next probe is due.
pub async fn due_for_probe(db: &Db, now: i64) -> Result<Vec<KeyHealth>, ControlError> {
    let q = format!("SELECT {COLUMNS} FROM channel_keys WHERE status = 3 AND probe_at > 0 AND probe_at <= ?");
    Ok(sqlx::query_as(&db.sql(&q)).bind(now).fetch_all(db.pool()).await?)
}

/// Sets a key's status by hand (1 or 2), clearing any scheduled probe.
pub async fn set_status(db: &Db, channel_id: i64, digest: &str, status: i64, reason: &str) -> Result<(), ControlError> {
    ensure(db, &[(channel_id, digest.to_string())]).await?;
    sqlx::query(&db.sql(
        "UPDATE channel_keys SET status = ?, status_reason = ?, status_time = ?, probe_at = 0, backoff_secs = 0 \
         WHERE channel_id = ? AND key_digest = ?",
    ))
    .bind(status)
    .bind(reason)
    .bind(now_secs())
    .bind(channel_id)
    .bind(digest)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// After a failed probe: try again after twice the back-off (capped).
pub async fn reschedule(db: &Db, channel_id: i64, digest: &str, backoff: i64) -> Result<(), ControlError> {
    sqlx::query(
        &db.sql("UPDATE channel_keys SET probe_at = ?, backoff_secs = ? WHERE channel_id = ? AND key_digest = ?"),
    )
    .bind(now_secs() + backoff)
    .bind(backoff)
    .bind(channel_id)
    .bind(digest)
    .execute(db.pool())
    .await?;
    Ok(())
}
