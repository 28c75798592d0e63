//! Writes a batch's [`HealthDeltas`] in the settlement transaction: key counters, closed failure windows,
//! disabled keys and opened circuits. The decisions are `health::assess`'s; what is left here needs the rows
//! (a conditional update that may find the key already disabled, the channel's failure window).

use super::Tx;
use crate::db::{Db, now_secs};
use crate::error::ControlError;
use crate::health::{Action, HealthChange, HealthDeltas, circuit_reason};
use crate::routing::ALL_KEYS_DISABLED_REASON as ALL_KEYS_DISABLED;

/// Applies `deltas`; returns the keys and channels it disabled (the routing snapshot must then be rebuilt, and
/// root told once the batch committed).
pub async fn apply(db: &Db, tx: &mut Tx<'_>, deltas: &HealthDeltas) -> Result<Vec<HealthChange>, ControlError> {
    let now = now_secs();
    for k in &deltas.keys {
        let mut sql =
            String::from("UPDATE channel_keys SET request_count = request_count + ?, error_count = error_count + ?");
        if k.last_error.is_some() {
            sql.push_str(", last_error = ?, last_error_time = ?");
        }
        sql.push_str(" WHERE channel_id = ? AND key_digest = ?");
        let sql = db.sql(&sql);
        let mut q = sqlx::query(&sql).bind(k.requests).bind(k.errors);
        if let Some(e) = &k.last_error {
            q = q.bind(e).bind(now);
        }
        q.bind(k.channel_id).bind(&k.key_digest).execute(&mut **tx).await?;
    }
    for channel_id in &deltas.answered {
        sqlx::query(&db.sql("UPDATE channels SET fail_count = 0 WHERE id = ? AND fail_count <> 0"))
            .bind(channel_id)
            .execute(&mut **tx)
            .await?;
    }
    let mut changes = Vec::new();
    for action in &deltas.actions {
        match action {
            Action::DisableKey { channel_id, channel_name, key_slot, key_digest, reason, all_keys } => {
                let change = |key_slot, reason: &str| HealthChange {
                    channel_id: *channel_id,
                    channel_name: channel_name.clone(),
                    key_slot,
                    disabled: true,
                    reason: reason.to_string(),
                };
                if disable_key(db, tx, deltas, *channel_id, key_digest, reason, now).await? {
                    changes.push(change(Some(*key_slot), reason));
                }
                if !any_key_enabled(db, tx, *channel_id, all_keys).await?
                    && disable_channel(db, tx, deltas, *channel_id, ALL_KEYS_DISABLED, now).await?
                {
                    changes.push(change(None, ALL_KEYS_DISABLED));
                }
            }
            Action::CountFailure { channel_id, channel_name, status, error } => {
                let count = count_failure(db, tx, deltas, *channel_id, now).await?;
                if count < deltas.failure_threshold {
                    continue;
                }
                let reason = circuit_reason(count, deltas.failure_window_secs, *status, error);
                if disable_channel(db, tx, deltas, *channel_id, &reason, now).await? {
                    changes.push(HealthChange {
                        channel_id: *channel_id,
                        channel_name: channel_name.clone(),
                        key_slot: None,
                        disabled: true,
                        reason,
                    });
                }
            }
        }
    }
    Ok(changes)
}

async fn disable_key(
    db: &Db,
    tx: &mut Tx<'_>,
    deltas: &HealthDeltas,
    channel_id: i64,
    digest: &str,
    reason: &str,
    now: i64,
) -> Result<bool, ControlError> {
    let done = sqlx::query(&db.sql(
        "UPDATE channel_keys SET status = 3, status_reason = ?, status_time = ?, probe_at = ?, backoff_secs = ? \
         WHERE channel_id = ? AND key_digest = ? AND status = 1",
    ))
    .bind(reason)
    .bind(now)
    .bind(now + deltas.probe_initial_secs)
    .bind(deltas.probe_initial_secs)
    .bind(channel_id)
    .bind(digest)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() > 0 {
        tracing::warn!(channel = channel_id, reason, "channel key disabled automatically");
    }
    Ok(done.rows_affected() > 0)
}

/// Whether any of `digests` is still enabled (a key without a health row is).
async fn any_key_enabled(db: &Db, tx: &mut Tx<'_>, channel_id: i64, digests: &[String]) -> Result<bool, ControlError> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as(&db.sql("SELECT key_digest, status FROM channel_keys WHERE channel_id = ?"))
            .bind(channel_id)
            .fetch_all(&mut **tx)
            .await?;
    Ok(digests.iter().any(|d| rows.iter().find(|(k, _)| k == d).is_none_or(|(_, s)| *s == 1)))
}

/// Opens a channel's circuit (status 3) with a reason and a first probe time.
async fn disable_channel(
    db: &Db,
    tx: &mut Tx<'_>,
    deltas: &HealthDeltas,
    channel_id: i64,
    reason: &str,
    now: i64,
) -> Result<bool, ControlError> {
    let done = sqlx::query(&db.sql(
        "UPDATE channels SET status = 3, status_reason = ?, status_time = ?, probe_at = ?, backoff_secs = ? \
         WHERE id = ? AND status = 1 AND auto_ban = 1",
    ))
    .bind(reason.chars().take(500).collect::<String>())
    .bind(now)
    .bind(now + deltas.probe_initial_secs)
    .bind(deltas.probe_initial_secs)
    .bind(channel_id)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() > 0 {
        tracing::warn!(channel = channel_id, reason, "channel disabled automatically");
    }
    Ok(done.rows_affected() > 0)
}

/// Counts one transient failure in the channel's window; returns the window's count.
async fn count_failure(
    db: &Db,
    tx: &mut Tx<'_>,
    deltas: &HealthDeltas,
    channel_id: i64,
    now: i64,
) -> Result<i64, ControlError> {
    let window_open_since = now - deltas.failure_window_secs;
    sqlx::query(&db.sql(
        "UPDATE channels SET \
         fail_count = CASE WHEN fail_window_start < ? THEN 1 ELSE fail_count + 1 END, \
         fail_window_start = CASE WHEN fail_window_start < ? THEN ? ELSE fail_window_start END \
         WHERE id = ?",
    ))
    .bind(window_open_since)
    .bind(window_open_since)
    .bind(now)
    .bind(channel_id)
    .execute(&mut **tx)
    .await?;
    let (count,): (i64,) = sqlx::query_as(&db.sql("SELECT fail_count FROM channels WHERE id = ?"))
        .bind(channel_id)
        .fetch_one(&mut **tx)
        .await?;
    Ok(count)
}
