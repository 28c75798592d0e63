//! The `login_throttle` table: failed password sign-ins per account name, beside the per-address limit of
//! `admin::rate_limit`. Kept in the database so that every control instance counts the same failures: an attacker
//! spreading guesses over many addresses or instances still meets the lock.
//!
//! Every attempt is counted *before* its password is checked and the count is cleared when the password was
//! right. So a burst of concurrent guesses cannot all slip past the check while none has been counted yet: the
//! attempt that reaches the limit sets the lock, and every later one meets it.

use sha2::{Digest, Sha256};

use super::{Db, now_secs};
use crate::error::ControlError;

/// Failed attempts that lock the account name.
pub const FAILURES_TO_LOCK: i64 = 5;
/// The first lock lasts this long; each further lock doubles it.
pub const FIRST_LOCK_SECS: i64 = 15 * 60;
/// No lock is longer than a day.
pub const MAX_LOCK_SECS: i64 = 24 * 3600;
/// A name without failures for this long starts afresh (failures and the lock count forgotten).
pub const FORGET_AFTER_SECS: i64 = 24 * 3600;

/// The key of a name: SHA-256 (hex) of the lower-cased, trimmed name.
pub fn subject(username: &str) -> String {
    hex::encode(Sha256::digest(username.trim().to_lowercase().as_bytes()))
}

/// What an attempt may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Check the password. `locks_for` is set when this attempt reached the limit and locked the name for that
    /// many seconds (unless its password turns out right).
    Proceed { locks_for: Option<i64> },
    /// The name is locked for this many more seconds; the password must not even be checked.
    Locked { wait_secs: i64 },
}

/// How long the lock after `locks` earlier locks lasts.
fn lock_secs(locks: i64) -> i64 {
    let doublings = locks.clamp(0, 16) as u32;
    FIRST_LOCK_SECS.saturating_mul(1 << doublings).min(MAX_LOCK_SECS)
}

/// Counts an attempt for `subject` (from [`subject`]) and says whether it may go on.
pub async fn begin(db: &Db, subject: &str) -> Result<Attempt, ControlError> {
    let now = now_secs();
    let mut tx = db.begin_write().await?;
    sqlx::query(&db.sql("DELETE FROM login_throttle WHERE updated_at < ? AND locked_until < ?"))
        .bind(now - FORGET_AFTER_SECS)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let insert =
        db.insert_ignore("login_throttle (subject, failures, locks, locked_until, updated_at)", "(?, 0, 0, 0, ?)");
    sqlx::query(&db.sql(&insert)).bind(subject).bind(now).execute(&mut *tx).await?;
    let q = format!("SELECT failures, locks, locked_until FROM login_throttle WHERE subject = ?{}", db.for_update());
    let (failures, locks, locked_until): (i64, i64, i64) =
        sqlx::query_as(&db.sql(&q)).bind(subject).fetch_one(&mut *tx).await?;
    if locked_until > now {
        tx.commit().await?;
        return Ok(Attempt::Locked { wait_secs: locked_until - now });
    }
    let failures = failures + 1;
    let (failures, locks, locked_until, locks_for) = if failures >= FAILURES_TO_LOCK {
        let secs = lock_secs(locks);
        (0, locks + 1, now + secs, Some(secs))
    } else {
        (failures, locks, locked_until, None)
    };
    sqlx::query(
        &db.sql(
            "UPDATE login_throttle SET failures = ?, locks = ?, locked_until = ?, updated_at = ? WHERE subject = ?",
        ),
    )
    .bind(failures)
    .bind(locks)
    .bind(locked_until)
    .bind(now)
    .bind(subject)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Attempt::Proceed { locks_for })
}

/// The password was right: the name's failures, lock and lock count are forgotten.
pub async fn succeeded(db: &Db, subject: &str) -> Result<(), ControlError> {
    sqlx::query(&db.sql("DELETE FROM login_throttle WHERE subject = ?")).bind(subject).execute(db.pool()).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_double_from_fifteen_minutes_up_to_a_day() {
        assert_eq!(lock_secs(0), 15 * 60);
        assert_eq!(lock_secs(1), 30 * 60);
        assert_eq!(lock_secs(2), 60 * 60);
        assert_eq!(lock_secs(6), 16 * 3600);
        assert_eq!(lock_secs(7), MAX_LOCK_SECS);
        assert_eq!(lock_secs(1000), MAX_LOCK_SECS);
    }

    #[test]
    fn names_are_keyed_without_case_and_never_stored_in_clear() {
        assert_eq!(subject(" Root "), subject("root"));
        assert_ne!(subject("root"), subject("r00t"));
        assert_eq!(subject("root").len(), 64);
        assert!(!subject("root").contains("root"));
    }
}
