//! Channel and key health: what the relays' failed attempts say about a key or a channel, applied once per
//! usage record inside the settlement transaction; automatic disabling with a reason; half-open probes with
//! exponential back-off that re-enable what recovered.
//!
//! - A key whose upstream refuses it (401/402/403, an account-level error code, or one of the configured
//!   keywords) is disabled on its own; its siblings and the channel keep serving. A channel whose every key
//!   is disabled is disabled too.
//! - Transient failures (5xx, 429, no answer) count against the channel in a window; reaching the threshold
//!   opens its circuit (status 3). A success closes the window.
//! - Channels with `auto_ban` off, and everything when `AutomaticDisableChannelEnabled` is off, are never
//!   disabled automatically.

pub mod policy;
pub mod prober;

use std::collections::{BTreeMap, BTreeSet};

use crate::db::usage::{FailedAttempt, UsageReport};
use crate::db::{Db, now_secs};
use crate::error::ControlError;
pub use crate::notify::channel_notice::HealthChange;
use crate::routing::{ChannelSnapshot, key_digest};
pub use policy::Policy;

use crate::routing::ALL_KEYS_DISABLED_REASON as ALL_KEYS_DISABLED;

/// What a failed attempt says about where the fault lies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The key (its account) is refused: disable this key.
    Key(String),
    /// The upstream is unwell: counts against the channel's circuit.
    Transient,
    /// The request itself was at fault (400, 404, …): says nothing about the channel.
    Request,
}

/// Account-level error codes and types (Veloera's list) that appear in upstream error messages.
const KEY_ERROR_CODES: &[&str] = &[
    "invalid_api_key",
    "account_deactivated",
    "billing_not_active",
    "insufficient_quota",
    "authentication_error",
    "permission_error",
];

pub fn classify(policy: &Policy, status: i32, error: &str) -> Fault {
    let lower = error.to_lowercase();
    if let Some(k) = policy.keywords.iter().find(|k| lower.contains(k.as_str())) {
        return Fault::Key(format!("upstream said \"{k}\""));
    }
    if let Some(code) = KEY_ERROR_CODES.iter().find(|c| lower.contains(*c)) {
        return Fault::Key(format!("upstream error {code}"));
    }
    match status {
        401..=403 => Fault::Key(format!("upstream answered {status}")),
        0 | 408 | 429 | 500..=599 => Fault::Transient,
        _ => Fault::Request,
    }
}

/// Applies the health facts of freshly settled reports inside the settlement transaction. Returns the keys and
/// channels it disabled (the routing snapshot must then be rebuilt, and root told once the batch committed).
pub async fn record(
    db: &Db,
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    policy: &Policy,
    channels: &ChannelSnapshot,
    reports: &[&UsageReport],
) -> Result<Vec<HealthChange>, ControlError> {
    let now = now_secs();
    // (channel, slot) → (requests, errors, last error)
    let mut counts: BTreeMap<(i64, i32), (i64, i64, Option<&str>)> = BTreeMap::new();
    let mut succeeded = BTreeSet::new();
    for r in reports {
        if r.channel_id != 0 && !r.failed {
            counts.entry((r.channel_id, r.key_slot)).or_default().0 += 1;
            succeeded.insert(r.channel_id);
        }
        for a in &r.failed_attempts {
            let c = counts.entry((a.channel_id, a.key_slot)).or_default();
            c.0 += 1;
            c.1 += 1;
            c.2 = Some(&a.error);
        }
    }
    for ((channel_id, slot), (requests, errors, last_error)) in &counts {
        let Some(digest) =
            channels.channel(*channel_id).and_then(|c| c.keys.get(*slot as usize)).map(|k| key_digest(k))
        else {
            continue;
        };
        let mut sql =
            String::from("UPDATE channel_keys SET request_count = request_count + ?, error_count = error_count + ?");
        if last_error.is_some() {
            sql.push_str(", last_error = ?, last_error_time = ?");
        }
        sql.push_str(" WHERE channel_id = ? AND key_digest = ?");
        let sql = db.sql(&sql);
        let mut q = sqlx::query(&sql).bind(requests).bind(errors);
        if let Some(e) = last_error {
            q = q.bind(e.chars().take(500).collect::<String>()).bind(now);
        }
        q.bind(channel_id).bind(digest).execute(&mut **tx).await?;
    }
    for channel_id in &succeeded {
        sqlx::query(&db.sql("UPDATE channels SET fail_count = 0 WHERE id = ? AND fail_count <> 0"))
            .bind(channel_id)
            .execute(&mut **tx)
            .await?;
    }
    let mut changes = Vec::new();
    if !policy.auto_disable {
        return Ok(changes);
    }
    for a in reports.iter().flat_map(|r| &r.failed_attempts) {
        let Some(channel) = channels.channel(a.channel_id).filter(|c| c.auto_ban) else { continue };
        let change = |key_slot: Option<i32>, reason: &str| HealthChange {
            channel_id: a.channel_id,
            channel_name: channel.name.clone(),
            key_slot,
            disabled: true,
            reason: reason.to_string(),
        };
        match classify(policy, a.status_code, &a.error) {
            Fault::Request => {}
            Fault::Key(reason) => {
                let Some(key) = channel.keys.get(a.key_slot as usize) else { continue };
                if disable_key(db, tx, policy, a.channel_id, &key_digest(key), &reason, now).await? {
                    changes.push(change(Some(a.key_slot), &reason));
                }
                let digests: Vec<String> = channel.keys.iter().map(|k| key_digest(k)).collect();
                if !any_key_enabled(db, tx, a.channel_id, &digests).await?
                    && disable_channel(db, tx, policy, a.channel_id, ALL_KEYS_DISABLED, now).await?
                {
                    changes.push(change(None, ALL_KEYS_DISABLED));
                }
            }
            Fault::Transient => {
                if let Some(reason) = count_failure(db, tx, policy, a, now).await? {
                    changes.push(change(None, &reason));
                }
            }
        }
    }
    Ok(changes)
}

async fn disable_key(
    db: &Db,
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    policy: &Policy,
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
    .bind(now + policy.probe_initial_secs)
    .bind(policy.probe_initial_secs)
    .bind(channel_id)
    .bind(digest)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() > 0 {
        tracing::warn!(channel = channel_id, reason, "channel key disabled automatically");
    }
    Ok(done.rows_affected() > 0)
}

async fn any_key_enabled(
    db: &Db,
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    channel_id: i64,
    digests: &[String],
) -> Result<bool, ControlError> {
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
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    policy: &Policy,
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
    .bind(now + policy.probe_initial_secs)
    .bind(policy.probe_initial_secs)
    .bind(channel_id)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() > 0 {
        tracing::warn!(channel = channel_id, reason, "channel disabled automatically");
    }
    Ok(done.rows_affected() > 0)
}

/// Counts a transient failure in the channel's window; opens the circuit at the threshold (and then says why).
async fn count_failure(
    db: &Db,
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    policy: &Policy,
    a: &FailedAttempt,
    now: i64,
) -> Result<Option<String>, ControlError> {
    let window_open_since = now - policy.failure_window_secs;
    sqlx::query(&db.sql(
        "UPDATE channels SET \
         fail_count = CASE WHEN fail_window_start < ? THEN 1 ELSE fail_count + 1 END, \
         fail_window_start = CASE WHEN fail_window_start < ? THEN ? ELSE fail_window_start END \
         WHERE id = ?",
    ))
    .bind(window_open_since)
    .bind(window_open_since)
    .bind(now)
    .bind(a.channel_id)
    .execute(&mut **tx)
    .await?;
    let (count,): (i64,) = sqlx::query_as(&db.sql("SELECT fail_count FROM channels WHERE id = ?"))
        .bind(a.channel_id)
        .fetch_one(&mut **tx)
        .await?;
    if count < policy.failure_threshold {
        return Ok(None);
    }
    let status = if a.status_code == 0 { "no answer".to_string() } else { format!("status {}", a.status_code) };
    let reason = format!(
        "{count} failures within {}s, the last: {status}: {}",
        policy.failure_window_secs,
        a.error.chars().take(200).collect::<String>()
    );
    Ok(disable_channel(db, tx, policy, a.channel_id, &reason, now).await?.then_some(reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_placed_on_the_key_the_channel_or_the_request() {
        let p = Policy::default();
        assert!(matches!(classify(&p, 401, "bad key"), Fault::Key(_)));
        assert!(matches!(classify(&p, 429, "insufficient_quota: You exceeded your current quota"), Fault::Key(_)));
        assert!(matches!(classify(&p, 400, "Your credit balance is too low to access the API"), Fault::Key(_)));
        assert_eq!(classify(&p, 503, "overloaded"), Fault::Transient);
        assert_eq!(classify(&p, 0, "connection reset"), Fault::Transient);
        assert_eq!(classify(&p, 429, "rate_limit_exceeded: slow down"), Fault::Transient);
        assert_eq!(classify(&p, 400, "context_length_exceeded: too long"), Fault::Request);
        assert_eq!(classify(&p, 404, "model_not_found"), Fault::Request);
    }
}
