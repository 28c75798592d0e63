//! Log retention (`LogRetentionDays`, off by default): once a day the consume and error log rows older than that
//! many days are deleted, in batches, by one control of the cluster (the day's run is claimed in the database, see
//! `db::retention`). The hourly dashboard sums (`quota_data`) stay, so the dashboard still shows those days.

use std::time::Duration;

use crate::db::{self, Db};
use crate::error::ControlError;
use crate::state::AppState;

/// The option: days of consume and error logs to keep; unset, empty or 0 keeps them all.
pub const OPTION: &str = "LogRetentionDays";
/// Rows deleted per statement, so no single delete holds locks on the log table for long.
const BATCH: i64 = 1000;
const DAY_SECS: i64 = 86_400;
/// Checked this long after midnight UTC, and again after this long when a check failed (database away).
const AFTER_MIDNIGHT: Duration = Duration::from_secs(300);
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(3600);
/// The first check after a start, so a control restarted every few hours still runs each day.
const FIRST_CHECK: Duration = Duration::from_secs(60);

/// How long to wait before the next check, at `now` (unix seconds): until shortly after the next midnight UTC
/// after a check that completed (run, skipped because another control ran it, or retention off); an hour after
/// one that failed.
pub fn wait_before_next_check(now: i64, last_check_failed: bool) -> Duration {
    if last_check_failed {
        return RETRY_AFTER_FAILURE;
    }
    let next_midnight = (now.div_euclid(DAY_SECS) + 1) * DAY_SECS;
    Duration::from_secs((next_midnight - now) as u64) + AFTER_MIDNIGHT
}

/// Rows created before this (unix seconds) are past `days` of retention at `now`.
pub fn cutoff(now: i64, days: i64) -> i64 {
    now - days.saturating_mul(DAY_SECS)
}

/// What one check did.
#[derive(Debug, PartialEq, Eq)]
pub enum Check {
    /// `LogRetentionDays` is unset or 0.
    Off,
    /// Another control (or this one, earlier) has done today's run.
    AlreadyRun,
    /// This control ran today's retention and deleted this many rows.
    Deleted(u64),
}

/// Today's retention at `now`, unless it is off or another control claimed the day. Stops between batches when
/// `stopping` says so (what is left goes the next day).
pub async fn check(db: &Db, now: i64, stopping: impl Fn() -> bool) -> Result<Check, ControlError> {
    let days = match db::options::get(db, db.pool(), OPTION).await? {
        Some(v) if !v.trim().is_empty() => v
            .trim()
            .parse::<i64>()
            .map_err(|_| ControlError::Internal(format!("{OPTION}: {v:?} is not a number of days")))?,
        _ => 0,
    };
    if days <= 0 {
        return Ok(Check::Off);
    }
    if !db::retention::claim_day(db, now.div_euclid(DAY_SECS)).await? {
        return Ok(Check::AlreadyRun);
    }
    let before = cutoff(now, days);
    let mut deleted = 0;
    while !stopping() {
        let gone = db::retention::delete_batch(db, before, BATCH).await?;
        deleted += gone;
        if gone < BATCH as u64 {
            break;
        }
        // Between batches the log table is free for settlement's inserts.
        tokio::task::yield_now().await;
    }
    Ok(Check::Deleted(deleted))
}

/// Runs the daily check on control's task tracker until control shuts down.
pub fn spawn(state: AppState) {
    let tasks = state.tasks().clone();
    tasks.spawn(async move {
        let mut wait = FIRST_CHECK;
        loop {
            tokio::select! {
                _ = state.shutdown().cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            let now = db::now_secs();
            let stopping = || state.shutdown().is_cancelled();
            let failed = match check(state.db(), now, stopping).await {
                Ok(Check::Deleted(rows)) => {
                    tracing::info!(rows, "log retention: old consume and error logs deleted");
                    false
                }
                Ok(_) => false,
                Err(e) => {
                    tracing::warn!(error = %e, "log retention failed; retrying in an hour");
                    true
                }
            };
            wait = wait_before_next_check(db::now_secs(), failed);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_check_is_shortly_after_the_next_midnight_utc() {
        // 2026-12-02 00:11:00 UTC.
        let now = 1_796_170_260;
        let midnight = 1_796_256_000;
        assert_eq!(wait_before_next_check(now, false), Duration::from_secs((midnight - now) as u64) + AFTER_MIDNIGHT);
        // Exactly at midnight: the next day's, not now.
        assert_eq!(wait_before_next_check(midnight, false), Duration::from_secs(86_400) + AFTER_MIDNIGHT);
        assert_eq!(wait_before_next_check(midnight - 1, false), Duration::from_secs(1) + AFTER_MIDNIGHT);
    }

    #[test]
    fn a_failed_check_is_retried_within_the_hour() {
        assert_eq!(wait_before_next_check(1_796_170_260, true), RETRY_AFTER_FAILURE);
    }

    #[test]
    fn the_cutoff_is_that_many_whole_days_back() {
        assert_eq!(cutoff(1_000_000, 7), 1_000_000 - 7 * 86_400);
        assert!(cutoff(0, i64::MAX) < 0, "an absurd retention stays finite");
    }
}
