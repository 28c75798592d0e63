//! Health columns of the `channels` table: automatic status changes, probe schedule, test and balance results.

use super::channels::{COLUMNS, ChannelRow};
use super::{Db, now_secs};
use crate::error::ControlError;

/// Channels disabled automatically whose next probe is due, with their current back-off in seconds.
pub async fn due_for_probe(db: &Db, now: i64) -> Result<Vec<(ChannelRow, i64)>, ControlError> {
    let q = format!("SELECT {COLUMNS} FROM channels WHERE status = 3 AND probe_at > 0 AND probe_at <= ?");
    let rows: Vec<ChannelRow> = sqlx::query_as(&db.sql(&q)).bind(now).fetch_all(db.pool()).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let (backoff,): (i64,) = sqlx::query_as(&db.sql("SELECT backoff_secs FROM channels WHERE id = ?"))
            .bind(row.id)
            .fetch_one(db.pool())
            .await?;
        out.push((row, backoff));
    }
    Ok(out)
}

/// Re-enables a channel that was disabled automatically (a passing probe or test), closing its circuit.
/// Returns false when the channel was not auto-disabled (an administrator's choice is never overridden).
pub async fn enable_recovered(db: &Db, id: i64) -> Result<bool, ControlError> {
    let done = sqlx::query(&db.sql(
        "UPDATE channels SET status = 1, status_reason = '', status_time = ?, fail_count = 0, fail_window_start = 0, \
         probe_at = 0, backoff_secs = 0 WHERE id = ? AND status = 3",
    ))
    .bind(now_secs())
    .bind(id)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Disables a channel automatically (a failing test), with a reason and a first probe time.
pub async fn disable_failed(db: &Db, id: i64, reason: &str, probe_in: i64) -> Result<bool, ControlError> {
    let now = now_secs();
    let done = sqlx::query(&db.sql(
        "UPDATE channels SET status = 3, status_reason = ?, status_time = ?, probe_at = ?, backoff_secs = ? \
         WHERE id = ? AND status = 1 AND auto_ban = 1",
    ))
    .bind(reason.chars().take(500).collect::<String>())
    .bind(now)
    .bind(now + probe_in)
    .bind(probe_in)
    .bind(id)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() > 0)
}

/// After a failed probe: try again after `backoff` seconds.
pub async fn reschedule(db: &Db, id: i64, backoff: i64) -> Result<(), ControlError> {
    sqlx::query(&db.sql("UPDATE channels SET probe_at = ?, backoff_secs = ? WHERE id = ?"))
        .bind(now_secs() + backoff)
        .bind(backoff)
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Records a test's latency.
pub async fn record_test(db: &Db, id: i64, latency_ms: i64) -> Result<(), ControlError> {
    sqlx::query(&db.sql("UPDATE channels SET response_time = ?, test_time = ? WHERE id = ?"))
        .bind(latency_ms)
        .bind(now_secs())
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Records the upstream balance in USD.
pub async fn record_balance(db: &Db, id: i64, balance: f64) -> Result<(), ControlError> {
    sqlx::query(&db.sql("UPDATE channels SET balance = ?, balance_updated_time = ? WHERE id = ?"))
        .bind(balance)
        .bind(now_secs())
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}
