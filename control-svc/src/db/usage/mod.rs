//! Settles a batch of usage reports in one transaction, exactly once per request id: reads the few rows the
//! plan depends on, plans (`settlement::plan`, `health::assess`, both pure) and applies the result (`apply`).

mod health;

use std::collections::{BTreeMap, BTreeSet};

use super::leases::Split;
use super::{Backend, Db, now_secs, quota_data};
use crate::error::ControlError;
use crate::health::HealthDeltas;
use crate::notify::{Preferences, quota_warning};
use crate::settings::Options;
use crate::settlement::{Known, LeaseState, LogRow, LogUser, SettleOptions, Settlement, UsageReport};

/// What settling needs besides the reports: the options in force (prices, health policy, log switches, the
/// quota warning threshold) and the channels of failed attempts.
pub struct Context<'a> {
    pub options: &'a Options,
    pub channels: &'a crate::routing::ChannelSnapshot,
}

/// What a committed batch changed, so the caller can push cache invalidations.
#[derive(Debug, Default)]
pub struct Settled {
    /// Reports applied now (not earlier).
    pub newly_applied: usize,
    /// Tokens whose quota ran out with this batch, with their key digests (read in the same transaction).
    pub exhausted_tokens: BTreeMap<i64, String>,
    /// Users whose quota ran out with this batch.
    pub exhausted_users: BTreeSet<i64>,
    /// A key or channel changed status: the routing snapshot must be rebuilt.
    pub health_changed: bool,
    /// The keys and channels disabled automatically (root is told).
    pub health_changes: Vec<crate::health::HealthChange>,
    /// Users whose remaining quota fell below their warning threshold with this batch.
    pub quota_warnings: Vec<crate::notify::quota_warning::Crossing>,
}

/// Applies every report whose request id has not been seen before, all or nothing: records the ids, charges
/// tokens, users and channels (one update per distinct row, not per report), and writes the consume log rows
/// in one multi-row insert. Written for batches of hundreds of reports at the relay's full request rate.
pub async fn settle(db: &Db, cx: &Context<'_>, reports: &[UsageReport]) -> Result<Settled, ControlError> {
    let mut tx = db.pool().begin().await?;
    let fresh = record_new_ids(db, &mut tx, reports).await?;
    if fresh.is_empty() {
        tx.commit().await?;
        return Ok(Settled::default());
    }
    let users = log_users(db, &mut tx, fresh.iter().map(|r| r.user_id)).await?;
    let leases = lock_leases(db, &mut tx, fresh.iter().map(|r| r.lease_id.as_str())).await?;
    let known = Known { users, leases };
    let o = cx.options;
    let options = SettleOptions { logs: o.logs, quota_remind_threshold: o.quota_remind_threshold };
    let settlement = crate::settlement::plan(&fresh, &o.prices, options, &known)?;
    let health = crate::health::assess(&o.policy, cx.channels, &fresh);
    let mut settled = apply(db, &mut tx, &settlement, &health).await?;
    tx.commit().await?;
    settled.newly_applied = fresh.len();
    Ok(settled)
}

/// Writes a planned batch: health first, then leases, tokens, users (locked after the tokens, like lease
/// grants), channels, logs and the hourly sums; then reads back which tokens and users ran out and who crossed
/// a warning threshold, all in `tx`.
pub async fn apply(
    db: &Db,
    tx: &mut Tx<'_>,
    s: &Settlement<'_>,
    health: &HealthDeltas,
) -> Result<Settled, ControlError> {
    let mut settled = Settled::default();
    settled.health_changes = health::apply(db, tx, health).await?;
    settled.health_changed = !settled.health_changes.is_empty();
    for (lease_id, used) in &s.leases {
        sqlx::query(&db.sql("UPDATE quota_leases SET used = used + ? WHERE id = ?"))
            .bind(used)
            .bind(*lease_id)
            .execute(&mut **tx)
            .await?;
    }
    let now = now_secs();
    for (token_id, spend) in &s.tokens {
        sqlx::query(&db.sql(
            "UPDATE tokens SET remain_quota = CASE WHEN unlimited_quota = 0 THEN remain_quota - ? ELSE remain_quota END, \
             used_quota = used_quota + ?, accessed_time = ? WHERE id = ?",
        ))
        .bind(spend.debit)
        .bind(spend.used)
        .bind(now)
        .bind(token_id)
        .execute(&mut **tx)
        .await?;
    }
    for (user_id, user) in &s.users {
        // The subscription quota goes first; only what it cannot cover comes out of `quota` (which may then go
        // below zero by what a request overran its reservation).
        let split = if user.spend.debit > 0 {
            let select = format!("SELECT subscription_quota FROM users WHERE id = ?{}", db.for_update());
            let row: Option<(i64,)> = sqlx::query_as(&db.sql(&select)).bind(user_id).fetch_optional(&mut **tx).await?;
            Split::taking(user.spend.debit, row.map_or(0, |r| r.0))
        } else {
            Split { subscription: 0, quota: 0 }
        };
        sqlx::query(&db.sql(
            "UPDATE users SET subscription_quota = subscription_quota - ?, quota = quota - ?, \
             used_quota = used_quota + ?, request_count = request_count + ? WHERE id = ?",
        ))
        .bind(split.subscription)
        .bind(split.quota)
        .bind(user.spend.used)
        .bind(user.requests)
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    }
    for (channel_id, quota) in &s.channels {
        sqlx::query(&db.sql("UPDATE channels SET used_quota = used_quota + ? WHERE id = ?"))
            .bind(quota)
            .bind(channel_id)
            .execute(&mut **tx)
            .await?;
    }
    insert_logs(db, tx, &s.logs).await?;
    quota_data::add(db, tx, &s.hourly, &s.usernames).await?;
    for (token_id, spend) in &s.tokens {
        if spend.used <= 0 {
            continue;
        }
        // The playground's token 0 has no row (and nothing to exhaust).
        let row: Option<(i64, i64, String)> =
            sqlx::query_as(&db.sql("SELECT remain_quota, unlimited_quota, key_digest FROM tokens WHERE id = ?"))
                .bind(token_id)
                .fetch_optional(&mut **tx)
                .await?;
        if let Some((remain, 0, digest)) = row
            && remain <= 0
        {
            settled.exhausted_tokens.insert(*token_id, digest);
        }
    }
    for (user_id, user) in &s.users {
        if user.spend.used <= 0 {
            continue;
        }
        let (quota, subscription): (i64, i64) =
            sqlx::query_as(&db.sql("SELECT quota, subscription_quota FROM users WHERE id = ?"))
                .bind(user_id)
                .fetch_one(&mut **tx)
                .await?;
        if quota + subscription <= 0 {
            settled.exhausted_users.insert(*user_id);
        }
        let threshold = user.warn_below;
        // What the batch took from the remaining quota: all it spent, except what closed leases covered.
        let drop = user.spend.used - user.closed_lease_cover;
        // Open leases count as remaining; they are read only when the balance alone is below the threshold.
        if threshold > 0 && drop > 0 && quota + subscription < threshold {
            let after = quota + subscription + open_leases_left(db, tx, *user_id).await?;
            if quota_warning::crossed(after + drop, after, threshold) {
                settled.quota_warnings.push(quota_warning::Crossing { user_id: *user_id, remaining: after, threshold });
            }
        }
    }
    Ok(settled)
}

/// The batch's leases, locked: a concurrent close must not shrink a lease between this read and the update.
async fn lock_leases<'r>(
    db: &Db,
    tx: &mut Tx<'_>,
    ids: impl Iterator<Item = &'r str>,
) -> Result<BTreeMap<String, LeaseState>, ControlError> {
    let mut leases = BTreeMap::new();
    let select = format!("SELECT amount, used, closed FROM quota_leases WHERE id = ?{}", db.for_update());
    let select = db.sql(&select);
    for id in ids.filter(|id| !id.is_empty()).collect::<BTreeSet<_>>() {
        let row: Option<(i64, i64, i64)> = sqlx::query_as(&select).bind(id).fetch_optional(&mut **tx).await?;
        if let Some((amount, used, closed)) = row {
            leases.insert(id.to_string(), LeaseState { amount, used, closed: closed != 0 });
        }
    }
    Ok(leases)
}

type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

/// What the user's open leases still hold (summed here: see `leases::held`).
async fn open_leases_left(db: &Db, tx: &mut Tx<'_>, user_id: i64) -> Result<i64, ControlError> {
    let rows: Vec<(i64,)> =
        sqlx::query_as(&db.sql("SELECT amount - used FROM quota_leases WHERE user_id = ? AND closed = 0"))
            .bind(user_id)
            .fetch_all(&mut **tx)
            .await?;
    Ok(rows.iter().map(|(left,)| (*left).max(0)).sum())
}

/// Records the batch's request ids in the idempotency ledger and returns the reports seen for the first time
/// (a duplicate inside the batch counts once). The ledger's primary key is the arbiter, so two control
/// instances settling the same record concurrently still apply it once.
async fn record_new_ids<'r>(
    db: &Db,
    tx: &mut Tx<'_>,
    reports: &'r [UsageReport],
) -> Result<Vec<&'r UsageReport>, ControlError> {
    let mut unique: Vec<&UsageReport> = Vec::with_capacity(reports.len());
    let mut seen = BTreeSet::new();
    for r in reports {
        if seen.insert(r.request_id.as_str()) {
            unique.push(r);
        }
    }
    if unique.is_empty() {
        return Ok(unique);
    }
    let now = now_secs();
    if db.backend() == Backend::MySql {
        // No RETURNING in MySQL: one INSERT IGNORE per id tells which were new.
        let sql = db.insert_ignore("usage_applied (request_id, applied_at)", "(?, ?)");
        let mut fresh = Vec::with_capacity(unique.len());
        for r in unique {
            if sqlx::query(&sql).bind(&r.request_id).bind(now).execute(&mut **tx).await?.rows_affected() == 1 {
                fresh.push(r);
            }
        }
        return Ok(fresh);
    }
    let mut inserted = BTreeSet::new();
    let mut rest = unique.as_slice();
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(statement_rows(rest.len()));
        rest = tail;
        let values = vec!["(?, ?)"; chunk.len()].join(", ");
        let sql =
            format!("{} RETURNING request_id", db.insert_ignore("usage_applied (request_id, applied_at)", &values));
        let sql = db.sql(&sql);
        let mut query = sqlx::query_as::<_, (String,)>(&sql);
        for r in chunk {
            query = query.bind(&r.request_id).bind(now);
        }
        inserted.extend(query.fetch_all(&mut **tx).await?.into_iter().map(|(id,)| id));
    }
    Ok(unique.into_iter().filter(|r| inserted.contains(&r.request_id)).collect())
}

/// Multi-row statements come in a few fixed sizes so that the driver's prepared-statement cache serves them:
/// a statement text that changes with every batch size would be parsed and planned anew for each batch,
/// which cost a third of control's time per request at low rates.
const STATEMENT_ROWS: [usize; 4] = [64, 16, 4, 1];

/// How many of `remaining` rows the next statement carries.
fn statement_rows(remaining: usize) -> usize {
    STATEMENT_ROWS.into_iter().find(|&n| n <= remaining).unwrap_or(1)
}

const LOG_COLUMNS: &str = "user_id, created_at, type, content, username, token_name, token_id, model_name, quota, \
    prompt_tokens, completion_tokens, use_time, is_stream, channel_id, group_name, client_ip, request_id, other, \
    content_prompt, content_answer";

/// The batch's users, looked up once each (before planning: their settings decide unset-model prices).
async fn log_users(
    db: &Db,
    tx: &mut Tx<'_>,
    ids: impl Iterator<Item = i64>,
) -> Result<BTreeMap<i64, LogUser>, ControlError> {
    let mut users = BTreeMap::new();
    for user_id in ids.collect::<BTreeSet<_>>() {
        let row: Option<(String, String)> = sqlx::query_as(&db.sql("SELECT username, setting FROM users WHERE id = ?"))
            .bind(user_id)
            .fetch_optional(&mut **tx)
            .await?;
        let (username, setting) = row.unwrap_or_default();
        let show_ip = serde_json::from_str::<serde_json::Value>(&setting)
            .is_ok_and(|s| s.get("show_ip_in_logs").and_then(|v| v.as_bool()) == Some(true));
        users.insert(user_id, LogUser { username, show_ip, prefs: Preferences::parse(&setting) });
    }
    Ok(users)
}

/// One multi-row insert per chunk of the batch's log rows.
async fn insert_logs(db: &Db, tx: &mut Tx<'_>, rows: &[LogRow<'_>]) -> Result<(), ControlError> {
    let one = format!("({})", vec!["?"; 20].join(", "));
    let mut rest = rows;
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(statement_rows(rest.len()));
        rest = tail;
        let sql = format!("INSERT INTO logs ({LOG_COLUMNS}) VALUES {}", vec![one.as_str(); chunk.len()].join(", "));
        let sql = db.sql(&sql);
        let mut query = sqlx::query(&sql);
        for row in chunk {
            let r = row.report;
            query = query
                .bind(r.user_id)
                .bind(r.created_at_secs)
                .bind(row.log_type as i64)
                .bind(&row.content)
                .bind(&row.username)
                .bind(&r.token_name)
                .bind(r.token_id)
                .bind(&r.model)
                .bind(row.quota)
                .bind(r.prompt_tokens)
                .bind(r.completion_tokens)
                .bind(r.latency_ms / 1000)
                .bind(r.stream as i64)
                .bind(r.channel_id)
                .bind(&r.group)
                .bind(row.client_ip)
                .bind(&r.request_id)
                .bind(&row.other)
                .bind(row.chat.map(|c| c.prompt.as_str()))
                .bind(row.chat.map(|c| c.answer.as_str()));
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}
