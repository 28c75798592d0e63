//! Log retention in the database: the once-a-day claim that lets one control of a cluster do the run, and the
//! batched deletion of old consume and error rows. Other log types (top-ups, management, system, check-ins) and
//! the hourly dashboard sums (`quota_data`) are never touched.

use veloera_admin_types::log_type;

use super::Db;
use crate::error::ControlError;

/// The `cluster_runs` row of the log retention run.
const RUN: &str = "log_retention";

/// Claims `day`'s (days since the epoch) run for this control. True for exactly one control of those sharing the
/// database: the claim moves the row's day forward with a conditional update, which only one of them can do.
pub async fn claim_day(db: &Db, day: i64) -> Result<bool, ControlError> {
    sqlx::query(&db.sql(&db.insert_ignore("cluster_runs (name, last_day)", "(?, 0)")))
        .bind(RUN)
        .execute(db.pool())
        .await?;
    let claimed = sqlx::query(&db.sql("UPDATE cluster_runs SET last_day = ? WHERE name = ? AND last_day < ?"))
        .bind(day)
        .bind(RUN)
        .bind(day)
        .execute(db.pool())
        .await?;
    Ok(claimed.rows_affected() == 1)
}

/// Deletes up to `batch` of the oldest consume and error rows created before `before` (unix seconds); returns how
/// many went. The batch is found by id first (PostgreSQL has no `DELETE … LIMIT`, MySQL no `LIMIT` in an `IN`
/// subquery), then deleted by id range with the same conditions, so no other row goes with it.
pub async fn delete_batch(db: &Db, before: i64, batch: i64) -> Result<u64, ControlError> {
    let (consume, error) = (i64::from(log_type::CONSUME), i64::from(log_type::ERROR));
    let last: Option<(i64,)> = sqlx::query_as(
        &db.sql("SELECT id FROM logs WHERE type IN (?, ?) AND created_at < ? ORDER BY id LIMIT 1 OFFSET ?"),
    )
    .bind(consume)
    .bind(error)
    .bind(before)
    .bind(batch - 1)
    .fetch_optional(db.pool())
    .await?;
    // Fewer rows than a batch are left: they all go.
    let up_to = last.map_or(i64::MAX, |(id,)| id);
    let done = sqlx::query(&db.sql("DELETE FROM logs WHERE id <= ? AND type IN (?, ?) AND created_at < ?"))
        .bind(up_to)
        .bind(consume)
        .bind(error)
        .bind(before)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected())
}
