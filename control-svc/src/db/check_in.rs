//! Daily check-in: a reward once per UTC calendar day, configured by the options `CheckInEnabled`,
//! `CheckInQuota` (the minimum) and `CheckInMaxQuota` (when greater, the reward is uniform in [min, max]).

use rand::Rng;
use veloera_admin_types::log_type;

use std::collections::HashMap;

use super::Db;
use super::logs::{AccountEvent, record_event};
use crate::error::ControlError;

const SECONDS_PER_DAY: i64 = 86_400;

/// The check-in options (part of the options snapshot, `settings::Options::check_in`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckInSettings {
    pub enabled: bool,
    pub min_quota: i64,
    pub max_quota: i64,
}

impl CheckInSettings {
    /// Unset or unreadable numbers count as 0 (which leaves check-in unconfigured).
    pub fn from_options(options: &HashMap<String, String>) -> Self {
        let number = |key: &str| options.get(key).and_then(|v| v.trim().parse::<i64>().ok()).unwrap_or(0);
        CheckInSettings {
            enabled: crate::settings::flag(options, "CheckInEnabled", false),
            min_quota: number("CheckInQuota"),
            max_quota: number("CheckInMaxQuota"),
        }
    }

    /// A reward drawn uniformly from [min, max] (just min when max is not greater); refused while check-in is
    /// off or has no positive minimum.
    pub fn draw(&self) -> Result<i64, ControlError> {
        if !self.enabled {
            return Err(ControlError::Forbidden("daily check-in is not enabled".into()));
        }
        if self.min_quota <= 0 {
            return Err(ControlError::Forbidden(
                "daily check-in is not configured (CheckInQuota must be greater than 0)".into(),
            ));
        }
        if self.max_quota > self.min_quota {
            Ok(rand::rng().random_range(self.min_quota..=self.max_quota))
        } else {
            Ok(self.min_quota)
        }
    }
}

/// Midnight UTC of the day holding `now` (unix seconds).
pub fn start_of_day(now: i64) -> i64 {
    now - now.rem_euclid(SECONDS_PER_DAY)
}

/// Whether check-in is on and the user has not checked in yet on `now`'s UTC day.
pub async fn can_check_in(db: &Db, settings: &CheckInSettings, user_id: i64, now: i64) -> Result<bool, ControlError> {
    if !settings.enabled {
        return Ok(false);
    }
    let last: Option<(i64,)> =
        sqlx::query_as(&db.sql("SELECT last_check_in_time FROM users WHERE id = ? AND deleted_at IS NULL"))
            .bind(user_id)
            .fetch_optional(db.pool())
            .await?;
    Ok(last.is_some_and(|(t,)| t < start_of_day(now)))
}

/// Checks the user in for `now`'s UTC day and returns the quota credited. One conditional update on
/// `last_check_in_time` credits at most once per day however many requests race; a second check-in the same
/// day is a `Conflict`. Writes a check-in log in the same transaction.
pub async fn check_in(db: &Db, settings: &CheckInSettings, user_id: i64, now: i64) -> Result<i64, ControlError> {
    let reward = settings.draw()?;
    let mut tx = db.begin_write().await?;
    let done = sqlx::query(&db.sql(
        "UPDATE users SET quota = quota + ?, last_check_in_time = ? \
         WHERE id = ? AND deleted_at IS NULL AND last_check_in_time < ?",
    ))
    .bind(reward)
    .bind(now)
    .bind(user_id)
    .bind(start_of_day(now))
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(ControlError::Conflict("you have already checked in today (UTC)".into()));
    }
    let content = format!("daily check-in: {reward} quota");
    record_event(
        db,
        &mut tx,
        &AccountEvent { user_id, log_type: log_type::CHECK_IN, content: &content, quota: reward },
    )
    .await?;
    tx.commit().await?;
    Ok(reward)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_start_at_midnight_utc() {
        assert_eq!(start_of_day(0), 0);
        assert_eq!(start_of_day(86_399), 0);
        assert_eq!(start_of_day(86_400), 86_400);
        // 2025-06-01 23:59:59 UTC.
        assert_eq!(start_of_day(1_748_822_399), 1_748_736_000);
    }

    #[test]
    fn rewards_stay_within_the_configured_range() {
        let fixed = CheckInSettings { enabled: true, min_quota: 100, max_quota: 0 };
        assert_eq!(fixed.draw().unwrap(), 100);
        let ranged = CheckInSettings { enabled: true, min_quota: 100, max_quota: 105 };
        let draws: Vec<i64> = (0..500).map(|_| ranged.draw().unwrap()).collect();
        assert!(draws.iter().all(|q| (100..=105).contains(q)));
        assert!(draws.contains(&100) && draws.contains(&105), "both bounds are reachable");
        assert!(CheckInSettings { enabled: false, ..fixed }.draw().is_err());
        assert!(CheckInSettings { min_quota: 0, ..fixed }.draw().is_err());
    }
}
