//! Settles a batch of usage reports in one transaction, exactly once per request id.

use std::collections::{BTreeMap, BTreeSet};

use veloera_admin_types::log_type;

use super::leases::Split;
use super::{Backend, Db, now_secs, quota_data};
use crate::billing::{PriceTable, quota_for};
use crate::error::ControlError;
use crate::notify::{Preferences, quota_warning};

/// One finished request as the relay reported it.
#[derive(Debug, Clone, Default)]
pub struct UsageReport {
    pub request_id: String,
    pub user_id: i64,
    pub token_id: i64,
    pub token_name: String,
    pub channel_id: i64,
    pub model: String,
    pub upstream_model: String,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cached_tokens: i64,
    /// Prompt tokens written to the upstream's prompt cache (billed at the cache-creation ratio).
    pub cache_creation_tokens: i64,
    pub latency_ms: i64,
    pub first_byte_ms: i64,
    pub stream: bool,
    /// False when the upstream failed: nothing is charged and no consume log is written.
    pub billable: bool,
    pub group: String,
    pub client_ip: String,
    pub created_at_secs: i64,
    /// The key used on `channel_id`.
    pub key_slot: i32,
    /// The request ended in an upstream failure (nothing charged).
    pub failed: bool,
    /// Every attempt that failed, in order (the last one is the request's own failure when `failed`).
    pub failed_attempts: Vec<FailedAttempt>,
    /// The quota lease the request was admitted against (its cost comes out of the lease); empty for none.
    pub lease_id: String,
    /// The prompt and answer, when the relay recorded them (`LogChatContentEnabled`).
    pub content: Option<ChatContent>,
}

/// What a request said and was answered, as the relay recorded it (already cut to `LogContentMaxBytes`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChatContent {
    pub prompt: String,
    pub answer: String,
}

/// One attempt that failed, as the relay reported it.
#[derive(Debug, Clone, Default)]
pub struct FailedAttempt {
    pub channel_id: i64,
    pub key_slot: i32,
    /// 0 when no answer came.
    pub status_code: i32,
    pub error: String,
}

/// What settling needs besides the reports: prices, and the health policy and channels for failed attempts.
pub struct Context<'a> {
    pub prices: &'a PriceTable,
    pub policy: &'a crate::health::Policy,
    pub channels: &'a crate::routing::ChannelSnapshot,
    /// `QuotaRemindThreshold`: the quota warning threshold of users who set none.
    pub quota_remind_threshold: i64,
}

/// What a committed batch changed, so the caller can push cache invalidations.
#[derive(Debug, Default)]
pub struct Settled {
    /// Reports applied now (not earlier).
    pub newly_applied: usize,
    /// Tokens whose quota ran out with this batch.
    pub exhausted_tokens: BTreeSet<i64>,
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
    let prices = cx.prices;
    let mut settled = Settled::default();
    let mut tx = db.pool().begin().await?;
    let fresh = record_new_ids(db, &mut tx, reports).await?;
    settled.newly_applied = fresh.len();
    let mut charges = Charges::default();
    let mut rows: Vec<LogInsert> = Vec::new();
    let switches = if fresh.is_empty() { LogSwitches::default() } else { LogSwitches::load(db, &mut tx).await? };
    settled.health_changes = crate::health::record(db, &mut tx, cx.policy, cx.channels, &fresh).await?;
    settled.health_changed = !settled.health_changes.is_empty();
    let users = log_users(db, &mut tx, fresh.iter().map(|r| r.user_id)).await?;
    let mut hourly: BTreeMap<quota_data::Key, quota_data::Delta> = BTreeMap::new();
    for r in &fresh {
        for a in &r.failed_attempts {
            let key = (r.user_id, r.model.clone(), a.channel_id, quota_data::hour_of(r.created_at_secs));
            hourly.entry(key).or_default().errors += 1;
        }
    }
    for r in fresh.iter().copied().filter(|r| r.billable) {
        let accept_unset = users.get(&r.user_id).is_some_and(|u| u.prefs.accept_unset_models);
        let pricing = prices.lookup_for(&r.model, &r.group, accept_unset);
        let quota = pricing
            .as_ref()
            .map(|p| quota_for(p, r.prompt_tokens, r.completion_tokens, r.cached_tokens, r.cache_creation_tokens))
            .unwrap_or(0);
        charges.tokens.entry(r.token_id).or_default().used += quota;
        let user = charges.users.entry(r.user_id).or_default();
        user.spend.used += quota;
        user.requests += 1;
        if r.lease_id.is_empty() {
            charges.tokens.entry(r.token_id).or_default().debit += quota;
            charges.users.entry(r.user_id).or_default().spend.debit += quota;
        } else {
            charges.leases.entry(r.lease_id.as_str()).or_default().push((r.token_id, r.user_id, quota));
        }
        *charges.channels.entry(r.channel_id).or_default() += quota;
        let hour = hourly.entry((r.user_id, r.model.clone(), r.channel_id, quota_data::hour_of(r.created_at_secs)));
        let hour = hour.or_default();
        hour.requests += 1;
        hour.tokens += r.prompt_tokens + r.completion_tokens;
        hour.quota += quota;
        let other = LogOther {
            model_ratio: pricing.as_ref().map(|p| p.model_ratio),
            completion_ratio: pricing.as_ref().map(|p| p.completion_ratio),
            cache_ratio: pricing.as_ref().map(|p| p.cache_ratio),
            group_ratio: pricing.as_ref().map(|p| p.group_ratio),
            model_price: pricing.as_ref().and_then(|p| p.model_price),
            cache_creation_ratio: pricing.as_ref().map(|p| p.cache_creation_ratio),
            cache_tokens: r.cached_tokens,
            cache_creation_tokens: r.cache_creation_tokens,
            frt: r.first_byte_ms,
            is_model_mapped: r.upstream_model != r.model,
            upstream_model_name: &r.upstream_model,
            admin_info: (!r.failed_attempts.is_empty()).then(|| AdminInfo {
                use_channel: r.failed_attempts.iter().map(|a| a.channel_id).chain([r.channel_id]).collect(),
            }),
        };
        if switches.consume {
            let other = serde_json::to_string(&other).unwrap_or_default();
            rows.push(LogInsert { report: r, log_type: log_type::CONSUME, content: String::new(), quota, other });
        }
    }
    if switches.error {
        rows.extend(fresh.iter().copied().filter(|r| r.failed).map(error_row));
    }
    charge_leases(db, &mut tx, &mut charges).await?;
    let now = now_secs();
    for (token_id, spend) in &charges.tokens {
        sqlx::query(&db.sql(
            "UPDATE tokens SET remain_quota = CASE WHEN unlimited_quota = 0 THEN remain_quota - ? ELSE remain_quota END, \
             used_quota = used_quota + ?, accessed_time = ? WHERE id = ?",
        ))
        .bind(spend.debit)
        .bind(spend.used)
        .bind(now)
        .bind(token_id)
        .execute(&mut *tx)
        .await?;
    }
    for (user_id, user) in &charges.users {
        // The subscription quota goes first; only what it cannot cover comes out of `quota` (which may then go
        // below zero by what a request overran its reservation). Locked after the tokens, like lease grants.
        let split = if user.spend.debit > 0 {
            let select = format!("SELECT subscription_quota FROM users WHERE id = ?{}", db.for_update());
            let row: Option<(i64,)> = sqlx::query_as(&db.sql(&select)).bind(user_id).fetch_optional(&mut *tx).await?;
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
        .execute(&mut *tx)
        .await?;
    }
    for (channel_id, quota) in &charges.channels {
        sqlx::query(&db.sql("UPDATE channels SET used_quota = used_quota + ? WHERE id = ?"))
            .bind(quota)
            .bind(channel_id)
            .execute(&mut *tx)
            .await?;
    }
    insert_logs(db, &mut tx, &rows, &users, switches.content).await?;
    let names = users.iter().map(|(id, u)| (*id, u.username.clone())).collect();
    quota_data::add(db, &mut tx, &hourly, &names).await?;
    for (token_id, spend) in &charges.tokens {
        if spend.used <= 0 {
            continue;
        }
        // The playground's token 0 has no row (and nothing to exhaust).
        let row: Option<(i64, i64)> =
            sqlx::query_as(&db.sql("SELECT remain_quota, unlimited_quota FROM tokens WHERE id = ?"))
                .bind(token_id)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some((remain, 0)) = row
            && remain <= 0
        {
            settled.exhausted_tokens.insert(*token_id);
        }
    }
    for (user_id, user) in &charges.users {
        if user.spend.used <= 0 {
            continue;
        }
        let (quota, subscription): (i64, i64) =
            sqlx::query_as(&db.sql("SELECT quota, subscription_quota FROM users WHERE id = ?"))
                .bind(user_id)
                .fetch_one(&mut *tx)
                .await?;
        if quota + subscription <= 0 {
            settled.exhausted_users.insert(*user_id);
        }
        let own = users.get(user_id).map_or(0, |u| u.prefs.quota_warning_threshold);
        let threshold = quota_warning::threshold(own, cx.quota_remind_threshold);
        // What the batch took from the remaining quota: all it spent, except what closed leases covered (their
        // quota had already left the remaining quota when they closed).
        let drop = user.spend.used - user.closed_lease_cover;
        // Open leases count as remaining; they are read only when the balance alone is below the threshold.
        if threshold > 0 && drop > 0 && quota + subscription < threshold {
            let after = quota + subscription + open_leases_left(db, &mut tx, *user_id).await?;
            if quota_warning::crossed(after + drop, after, threshold) {
                settled.quota_warnings.push(quota_warning::Crossing { user_id: *user_id, remaining: after, threshold });
            }
        }
    }
    tx.commit().await?;
    Ok(settled)
}

/// One log row settlement writes: a consume row, or an error row for a request that failed.
struct LogInsert<'r> {
    report: &'r UsageReport,
    log_type: i32,
    content: String,
    quota: i64,
    other: String,
}

/// `LogConsumeEnabled` (default on), `LogErrorEnabled` (default off, Veloera v0.5) and `LogChatContentEnabled`
/// (default off), read once per batch in the settlement transaction. Content a relay recorded just before the
/// option was turned off is dropped here, so none is kept while the option is off.
struct LogSwitches {
    consume: bool,
    error: bool,
    content: bool,
}

impl Default for LogSwitches {
    fn default() -> Self {
        LogSwitches { consume: true, error: false, content: false }
    }
}

impl LogSwitches {
    async fn load(db: &Db, tx: &mut Tx<'_>) -> Result<Self, ControlError> {
        let set: Vec<(String, String)> =
            sqlx::query_as(&db.sql("SELECT name, value FROM options WHERE name IN (?, ?, ?)"))
                .bind("LogConsumeEnabled")
                .bind("LogErrorEnabled")
                .bind("LogChatContentEnabled")
                .fetch_all(&mut **tx)
                .await?;
        let mut switches = LogSwitches::default();
        for (name, value) in set {
            let on = value.trim() == "true";
            match name.as_str() {
                "LogConsumeEnabled" => switches.consume = on,
                "LogErrorEnabled" => switches.error = on,
                _ => switches.content = on,
            }
        }
        Ok(switches)
    }
}

/// The error log row (type 6) of a failed request: what the user may see in `content` and `other` (status and
/// type), the upstream's message and the channels tried only in `other.admin_info`.
fn error_row(r: &UsageReport) -> LogInsert<'_> {
    let last = r.failed_attempts.last();
    let status = last.map_or(0, |a| a.status_code);
    let content = if status > 0 {
        format!("upstream request failed with HTTP {status}")
    } else {
        "upstream request failed without an answer".to_string()
    };
    let other = serde_json::json!({
        "error_type": "upstream_error",
        "status_code": status,
        "admin_info": {
            "use_channel": r.failed_attempts.iter().map(|a| a.channel_id).collect::<Vec<_>>(),
            "error": last.map(|a| a.error.as_str()).unwrap_or_default(),
        },
    });
    LogInsert { report: r, log_type: log_type::ERROR, content, quota: 0, other: other.to_string() }
}

/// The consume log's `other` column, as Veloera writes it.
#[derive(serde::Serialize)]
struct LogOther<'a> {
    model_ratio: Option<f64>,
    completion_ratio: Option<f64>,
    cache_ratio: Option<f64>,
    group_ratio: Option<f64>,
    model_price: Option<f64>,
    /// Veloera's names for the prompt-cache write price and tokens.
    cache_creation_ratio: Option<f64>,
    cache_tokens: i64,
    cache_creation_tokens: i64,
    frt: i64,
    is_model_mapped: bool,
    upstream_model_name: &'a str,
    /// The retry trail, for administrators only (Veloera's `admin_info.use_channel`).
    #[serde(skip_serializing_if = "Option::is_none")]
    admin_info: Option<AdminInfo>,
}

#[derive(serde::Serialize)]
struct AdminInfo {
    use_channel: Vec<i64>,
}

/// What one batch charges, summed per row to update.
#[derive(Default)]
struct Charges<'r> {
    tokens: BTreeMap<i64, Spend>,
    users: BTreeMap<i64, UserCharge>,
    channels: BTreeMap<i64, i64>,
    /// Per lease: (token, user, quota) of each request admitted against it.
    leases: BTreeMap<&'r str, Vec<(i64, i64, i64)>>,
}

/// Quota spent (`used`), and the part of it taken from the balance now (`debit`): a request admitted against
/// a lease was paid for when the lease was granted, so only what overran the lease is debited.
#[derive(Default, Clone, Copy)]
struct Spend {
    used: i64,
    debit: i64,
}

#[derive(Default)]
struct UserCharge {
    spend: Spend,
    requests: i64,
    /// The part of `spend.used` covered by leases that had already closed.
    closed_lease_cover: i64,
}

/// Takes each lease's requests out of the lease; what the lease no longer covers (it overran, closed or is
/// unknown) is debited to the balances instead.
async fn charge_leases(db: &Db, tx: &mut Tx<'_>, charges: &mut Charges<'_>) -> Result<(), ControlError> {
    for (lease_id, requests) in &charges.leases {
        let total: i64 = requests.iter().map(|r| r.2).sum();
        // Locked: a concurrent close must not shrink the lease between this read and the update below.
        let select = format!("SELECT amount, used, closed FROM quota_leases WHERE id = ?{}", db.for_update());
        let lease: Option<(i64, i64, i64)> =
            sqlx::query_as(&db.sql(&select)).bind(*lease_id).fetch_optional(&mut **tx).await?;
        // A closed lease was shrunk to what its relay spent, so reports still arriving are covered by it.
        let mut left = match lease {
            Some((amount, used, _closed)) => (amount - used).max(0),
            None => 0,
        };
        let closed = lease.is_some_and(|l| l.2 != 0);
        if lease.is_some() {
            sqlx::query(&db.sql("UPDATE quota_leases SET used = used + ? WHERE id = ?"))
                .bind(total)
                .bind(*lease_id)
                .execute(&mut **tx)
                .await?;
        }
        for (token_id, user_id, quota) in requests {
            let covered = (*quota).min(left);
            left -= covered;
            let excess = quota - covered;
            charges.tokens.entry(*token_id).or_default().debit += excess;
            let user = charges.users.entry(*user_id).or_default();
            user.spend.debit += excess;
            if closed {
                user.closed_lease_cover += covered;
            }
        }
    }
    Ok(())
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

/// What the log copies from a user row.
struct LogUser {
    username: String,
    /// The user's setting `show_ip_in_logs` (Veloera v0.5): the client address is recorded only when it is on.
    show_ip: bool,
    /// The unset-model and quota-warning settings.
    prefs: Preferences,
}

/// The batch's users, looked up once each (before charging: their settings decide unset-model prices).
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

/// One multi-row insert for the batch's consume logs; the recorded prompt and answer go in only when
/// `keep_content` (`LogChatContentEnabled`) is on.
async fn insert_logs(
    db: &Db,
    tx: &mut Tx<'_>,
    rows: &[LogInsert<'_>],
    users: &BTreeMap<i64, LogUser>,
    keep_content: bool,
) -> Result<(), ControlError> {
    if rows.is_empty() {
        return Ok(());
    }
    let one = format!("({})", vec!["?"; 20].join(", "));
    let mut rest = rows;
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(statement_rows(rest.len()));
        rest = tail;
        let sql = format!("INSERT INTO logs ({LOG_COLUMNS}) VALUES {}", vec![one.as_str(); chunk.len()].join(", "));
        let sql = db.sql(&sql);
        let mut query = sqlx::query(&sql);
        for LogInsert { report: r, log_type, content, quota, other } in chunk {
            let user = users.get(&r.user_id);
            let client_ip = if user.is_some_and(|u| u.show_ip) { r.client_ip.as_str() } else { "" };
            let chat = r.content.as_ref().filter(|_| keep_content);
            query = query
                .bind(r.user_id)
                .bind(r.created_at_secs)
                .bind(*log_type as i64)
                .bind(content)
                .bind(user.map(|u| u.username.clone()).unwrap_or_default())
                .bind(&r.token_name)
                .bind(r.token_id)
                .bind(&r.model)
                .bind(*quota)
                .bind(r.prompt_tokens)
                .bind(r.completion_tokens)
                .bind(r.latency_ms / 1000)
                .bind(r.stream as i64)
                .bind(r.channel_id)
                .bind(&r.group)
                .bind(client_ip)
                .bind(&r.request_id)
                .bind(other)
                .bind(chat.map(|c| c.prompt.as_str()))
                .bind(chat.map(|c| c.answer.as_str()));
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}
