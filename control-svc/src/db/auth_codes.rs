//! The `auth_codes` table: one-time codes (email verification codes, password reset tokens) kept as digests with
//! an expiry, and the OAuth states already used. Being in the database, every control instance agrees on what is
//! still valid and nothing is lost on a restart.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{Db, now_secs};
use crate::error::ControlError;

/// What a code is for; a code issued for one purpose never passes for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    VerifyEmail,
    ResetPassword,
    OAuthState,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "verify_email",
            Purpose::ResetPassword => "reset_password",
            Purpose::OAuthState => "oauth_state",
        }
    }
}

/// Wrong guesses a code survives; the next one throws it away, so a 6-character code cannot be brute-forced.
pub const MAX_ATTEMPTS: i64 = 5;

/// SHA-256 (hex) of the code bound to its purpose and subject: what the table stores instead of the code.
pub fn digest(purpose: Purpose, subject: &str, code: &str) -> String {
    let mut h = Sha256::new();
    for part in [purpose.as_str(), subject, code] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}

/// A code to store for `(purpose, subject)`, replacing any earlier one.
pub struct NewCode<'a> {
    pub purpose: Purpose,
    /// The lower-cased email address the code was sent to.
    pub subject: &'a str,
    pub code: &'a str,
    /// The account the code acts on (password reset), or 0.
    pub user_id: i64,
    pub ttl_secs: i64,
    /// A new code for the same subject is refused this many seconds after the last one (no mail bombing).
    pub cooldown_secs: i64,
}

/// Stores a code (its digest). Fails with `RateLimited` when the previous code for the subject is younger than
/// the cooldown. Expired codes of every subject are purged on the way.
pub async fn issue(db: &Db, new: &NewCode<'_>) -> Result<(), ControlError> {
    let now = now_secs();
    let purpose = new.purpose.as_str();
    let mut tx = db.begin_write().await?;
    sqlx::query(&db.sql("DELETE FROM auth_codes WHERE expires_at < ?")).bind(now).execute(&mut *tx).await?;
    let last: Option<(i64,)> =
        sqlx::query_as(&db.sql("SELECT created_at FROM auth_codes WHERE purpose = ? AND subject = ?"))
            .bind(purpose)
            .bind(new.subject)
            .fetch_optional(&mut *tx)
            .await?;
    if let Some((created_at,)) = last {
        let wait = created_at + new.cooldown_secs - now;
        if wait > 0 {
            return Err(ControlError::RateLimited(format!("a code was sent moments ago; try again in {wait} s")));
        }
    }
    sqlx::query(&db.sql("DELETE FROM auth_codes WHERE purpose = ? AND subject = ?"))
        .bind(purpose)
        .bind(new.subject)
        .execute(&mut *tx)
        .await?;
    sqlx::query(&db.sql(
        "INSERT INTO auth_codes (purpose, subject, code_digest, user_id, attempts, created_at, expires_at) \
         VALUES (?, ?, ?, ?, 0, ?, ?)",
    ))
    .bind(purpose)
    .bind(new.subject)
    .bind(digest(new.purpose, new.subject, new.code))
    .bind(new.user_id)
    .bind(now)
    .bind(now + new.ttl_secs)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Checks `code` for `(purpose, subject)` inside `tx`. A match deletes the code (it works once) and returns the
/// user id stored with it; a wrong guess is counted and the code dropped after [`MAX_ATTEMPTS`]. The caller must
/// commit `tx` in both cases (a failed guess has to be remembered) and roll it back only on its own errors.
pub async fn consume(
    db: &Db,
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    purpose: Purpose,
    subject: &str,
    code: &str,
) -> Result<Option<i64>, ControlError> {
    let row: Option<(String, i64, i64, i64)> = sqlx::query_as(
        &db.sql("SELECT code_digest, user_id, attempts, expires_at FROM auth_codes WHERE purpose = ? AND subject = ?"),
    )
    .bind(purpose.as_str())
    .bind(subject)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((stored, user_id, attempts, expires_at)) = row else { return Ok(None) };
    let matches = bool::from(stored.as_bytes().ct_eq(digest(purpose, subject, code).as_bytes()));
    if matches && expires_at >= now_secs() {
        delete(db, tx, purpose, subject).await?;
        return Ok(Some(user_id));
    }
    if expires_at < now_secs() || attempts + 1 >= MAX_ATTEMPTS {
        delete(db, tx, purpose, subject).await?;
    } else {
        sqlx::query(&db.sql("UPDATE auth_codes SET attempts = attempts + 1 WHERE purpose = ? AND subject = ?"))
            .bind(purpose.as_str())
            .bind(subject)
            .execute(&mut **tx)
            .await?;
    }
    Ok(None)
}

async fn delete(
    db: &Db,
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    purpose: Purpose,
    subject: &str,
) -> Result<(), ControlError> {
    sqlx::query(&db.sql("DELETE FROM auth_codes WHERE purpose = ? AND subject = ?"))
        .bind(purpose.as_str())
        .bind(subject)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Records that a one-time value (an OAuth state, by its digest) has been used, until `expires_at`. Returns
/// false when it already had been: a replay.
pub async fn use_once(db: &Db, purpose: Purpose, value: &str, expires_at: i64) -> Result<bool, ControlError> {
    let now = now_secs();
    let subject = digest(purpose, "", value);
    sqlx::query(&db.sql("DELETE FROM auth_codes WHERE expires_at < ?")).bind(now).execute(db.pool()).await?;
    let sql = db.insert_ignore(
        "auth_codes (purpose, subject, code_digest, user_id, attempts, created_at, expires_at)",
        "(?, ?, '', 0, 0, ?, ?)",
    );
    let done = sqlx::query(&db.sql(&sql))
        .bind(purpose.as_str())
        .bind(subject)
        .bind(now)
        .bind(expires_at)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected() == 1)
}
