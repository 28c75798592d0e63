//! What control's metrics endpoint reads from the database at scrape time: channel and key health, open leases.
//! Read then rather than kept up to date, so several controls sharing a database all report the same truth.

use crate::db::Db;
use crate::error::ControlError;

/// One channel's state and its keys' health.
pub struct ChannelHealth {
    pub channel_id: i64,
    pub status: i64,
    pub keys: Vec<KeyHealth>,
}

/// One key of a channel: named by a prefix of its digest (never the key), with its counters.
pub struct KeyHealth {
    pub key: String,
    pub status: i64,
    pub requests: i64,
    pub errors: i64,
}

/// Every channel with its keys, by id.
pub async fn channel_health(db: &Db) -> Result<Vec<ChannelHealth>, ControlError> {
    let channels: Vec<(i64, i64)> =
        sqlx::query_as("SELECT id, status FROM channels ORDER BY id").fetch_all(db.pool()).await?;
    let keys: Vec<(i64, String, i64, i64, i64)> = sqlx::query_as(
        "SELECT channel_id, key_digest, status, request_count, error_count FROM channel_keys ORDER BY channel_id",
    )
    .fetch_all(db.pool())
    .await?;
    let mut out: Vec<ChannelHealth> = channels
        .into_iter()
        .map(|(channel_id, status)| ChannelHealth { channel_id, status, keys: Vec::new() })
        .collect();
    for (channel_id, digest, status, requests, errors) in keys {
        if let Ok(i) = out.binary_search_by_key(&channel_id, |c| c.channel_id) {
            let key = digest.chars().take(12).collect();
            out[i].keys.push(KeyHealth { key, status, requests, errors });
        }
    }
    Ok(out)
}

/// Open quota leases: how many, and the quota they hold that their requests have not used.
pub async fn open_leases(db: &Db) -> Result<(i64, i64), ControlError> {
    let sql = format!("SELECT COUNT(*), {} FROM quota_leases WHERE closed = 0", db.sum("amount - used"));
    let row: (i64, i64) = sqlx::query_as(&sql).fetch_one(db.pool()).await?;
    Ok(row)
}
