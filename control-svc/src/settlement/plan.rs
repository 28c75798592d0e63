//! The pure part of settlement: prices each billable report, divides its cost between leases and balances,
//! sums the hourly dashboard and builds the log rows. No I/O: `db::usage` reads the facts in [`Known`] inside
//! its transaction and applies the [`Settlement`] as it is.

use std::collections::BTreeMap;

use veloera_admin_types::log_type;

use super::{ChatContent, Outcome, UsageReport};
use crate::billing::{ModelPricing, PriceTable};
use crate::db::quota_data;
use crate::error::ControlError;
use crate::notify::{Preferences, quota_warning};
use veloera_proto::rules::quota_for_answers;

/// `LogConsumeEnabled` (default on), `LogErrorEnabled` (default off, Veloera v0.5) and `LogChatContentEnabled`
/// (default off). Content a relay recorded just before the option was turned off is dropped here, so none is
/// kept while the option is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogSwitches {
    pub consume: bool,
    pub error: bool,
    pub content: bool,
}

impl Default for LogSwitches {
    fn default() -> Self {
        LogSwitches { consume: true, error: false, content: false }
    }
}

/// The options settlement follows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SettleOptions {
    pub logs: LogSwitches,
    /// `QuotaRemindThreshold`: the quota warning threshold of users who set none.
    pub quota_remind_threshold: i64,
}

/// What the log copies from a user row, and the user's settings that change a price.
#[derive(Debug, Clone, Default)]
pub struct LogUser {
    pub username: String,
    /// The user's setting `show_ip_in_logs` (Veloera v0.5): the client address is recorded only when it is on.
    pub show_ip: bool,
    /// The unset-model and quota-warning settings.
    pub prefs: Preferences,
}

/// A quota lease as the settlement transaction found it (locked).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LeaseState {
    pub amount: i64,
    pub used: i64,
    pub closed: bool,
}

/// The rows the plan depends on, read in the settlement transaction before planning.
#[derive(Debug, Default)]
pub struct Known {
    /// The batch's users (a user missing here is logged without a name, at default settings).
    pub users: BTreeMap<i64, LogUser>,
    /// The leases the batch's requests were admitted against (a lease missing here is unknown: it covers nothing).
    pub leases: BTreeMap<String, LeaseState>,
}

/// Quota spent (`used`), and the part of it taken from the balance now (`debit`): a request admitted against
/// a lease was paid for when the lease was granted, so only what overran the lease is debited.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Spend {
    pub used: i64,
    pub debit: i64,
}

/// What a batch charges one user.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct UserCharge {
    pub spend: Spend,
    pub requests: i64,
    /// The part of `spend.used` covered by leases that had already closed (their quota had already left the
    /// remaining quota when they closed, so it does not count towards a quota warning).
    pub closed_lease_cover: i64,
    /// The user is warned when the remaining quota falls below this (0: never).
    pub warn_below: i64,
}

/// One log row to insert: a consume row, or an error row for a request that failed.
#[derive(Debug)]
pub struct LogRow<'r> {
    pub report: &'r UsageReport,
    pub log_type: i32,
    pub content: String,
    pub quota: i64,
    pub other: String,
    pub username: String,
    /// Empty unless the user chose to see addresses in their logs.
    pub client_ip: &'r str,
    /// The recorded prompt and answer, only while `LogChatContentEnabled` is on.
    pub chat: Option<&'r ChatContent>,
}

/// Everything one batch changes, summed per row to update.
#[derive(Debug, Default)]
pub struct Settlement<'r> {
    pub tokens: BTreeMap<i64, Spend>,
    pub users: BTreeMap<i64, UserCharge>,
    /// Quota per channel (its `used_quota`).
    pub channels: BTreeMap<i64, i64>,
    /// Quota to add to each known lease's `used`.
    pub leases: BTreeMap<&'r str, i64>,
    pub hourly: BTreeMap<quota_data::Key, quota_data::Delta>,
    /// The name of each user in `hourly`.
    pub usernames: BTreeMap<i64, String>,
    pub logs: Vec<LogRow<'r>>,
}

/// Plans the settlement of `reports` (each seen for the first time). Fails only when our own log JSON cannot
/// be encoded.
pub fn plan<'r>(
    reports: &[&'r UsageReport],
    prices: &PriceTable,
    options: SettleOptions,
    known: &Known,
) -> Result<Settlement<'r>, ControlError> {
    let switches = options.logs;
    let mut s = Settlement::default();
    // Per lease: (token, user, quota) of each request admitted against it.
    let mut on_lease: BTreeMap<&'r str, Vec<(i64, i64, i64)>> = BTreeMap::new();
    for r in reports {
        for a in &r.failed_attempts {
            let key = (r.user_id, r.model.clone(), a.channel_id, quota_data::hour_of(r.created_at_secs));
            s.hourly.entry(key).or_default().errors += 1;
        }
    }
    for r in reports.iter().copied().filter(|r| r.outcome.is_billable()) {
        let user = known.users.get(&r.user_id);
        let accept_unset = user.is_some_and(|u| u.prefs.accept_unset_models);
        let pricing = prices.lookup_for(&r.model, &r.group, accept_unset);
        let quota = pricing
            .as_ref()
            .map(|p| {
                quota_for_answers(
                    p,
                    r.prompt_tokens,
                    r.completion_tokens,
                    r.cached_tokens,
                    r.cache_creation_tokens,
                    r.answers,
                )
            })
            .unwrap_or(0);
        s.tokens.entry(r.token_id).or_default().used += quota;
        let charge = s.users.entry(r.user_id).or_default();
        charge.spend.used += quota;
        charge.requests += 1;
        if r.lease_id.is_empty() {
            s.tokens.entry(r.token_id).or_default().debit += quota;
            s.users.entry(r.user_id).or_default().spend.debit += quota;
        } else {
            on_lease.entry(r.lease_id.as_str()).or_default().push((r.token_id, r.user_id, quota));
        }
        *s.channels.entry(r.channel_id).or_default() += quota;
        let hour = s.hourly.entry((r.user_id, r.model.clone(), r.channel_id, quota_data::hour_of(r.created_at_secs)));
        let hour = hour.or_default();
        hour.requests += 1;
        hour.tokens += r.prompt_tokens + r.completion_tokens;
        hour.quota += quota;
        if switches.consume {
            let other = serde_json::to_string(&consume_other(r, pricing.as_ref()))
                .map_err(|e| ControlError::Internal(format!("encoding a consume log: {e}")))?;
            s.logs.push(log_row(r, user, switches, log_type::CONSUME, String::new(), quota, other));
        }
    }
    if switches.error {
        for r in reports.iter().copied().filter(|r| r.outcome == Outcome::Failed) {
            let (content, other) = error_entry(r);
            s.logs.push(log_row(r, known.users.get(&r.user_id), switches, log_type::ERROR, content, 0, other));
        }
    }
    cover_leases(&mut s, on_lease, &known.leases);
    for (user_id, charge) in &mut s.users {
        let own = known.users.get(user_id).map_or(0, |u| u.prefs.quota_warning_threshold);
        charge.warn_below = quota_warning::threshold(own, options.quota_remind_threshold);
    }
    s.usernames = known.users.iter().map(|(id, u)| (*id, u.username.clone())).collect();
    Ok(s)
}

/// Takes each lease's requests out of the lease; what the lease no longer covers (it overran or is unknown)
/// is debited to the balances instead. A closed lease was shrunk to what its relay spent, so reports still
/// arriving are covered by it.
fn cover_leases<'r>(
    s: &mut Settlement<'r>,
    on_lease: BTreeMap<&'r str, Vec<(i64, i64, i64)>>,
    leases: &BTreeMap<String, LeaseState>,
) {
    for (lease_id, requests) in on_lease {
        let lease = leases.get(lease_id);
        let mut left = lease.map_or(0, |l| (l.amount - l.used).max(0));
        let closed = lease.is_some_and(|l| l.closed);
        if lease.is_some() {
            s.leases.insert(lease_id, requests.iter().map(|r| r.2).sum());
        }
        for (token_id, user_id, quota) in requests {
            let covered = quota.min(left);
            left -= covered;
            let excess = quota - covered;
            s.tokens.entry(token_id).or_default().debit += excess;
            let user = s.users.entry(user_id).or_default();
            user.spend.debit += excess;
            if closed {
                user.closed_lease_cover += covered;
            }
        }
    }
}

fn log_row<'r>(
    r: &'r UsageReport,
    user: Option<&LogUser>,
    switches: LogSwitches,
    log_type: i32,
    content: String,
    quota: i64,
    other: String,
) -> LogRow<'r> {
    LogRow {
        report: r,
        log_type,
        content,
        quota,
        other,
        username: user.map(|u| u.username.clone()).unwrap_or_default(),
        client_ip: if user.is_some_and(|u| u.show_ip) { r.client_ip.as_str() } else { "" },
        chat: r.content.as_ref().filter(|_| switches.content),
    }
}

fn consume_other<'r>(r: &'r UsageReport, pricing: Option<&ModelPricing>) -> ConsumeOther<'r> {
    ConsumeOther {
        model_ratio: pricing.map(|p| p.model_ratio),
        completion_ratio: pricing.map(|p| p.completion_ratio),
        cache_ratio: pricing.map(|p| p.cache_ratio),
        group_ratio: pricing.map(|p| p.group_ratio),
        model_price: pricing.and_then(|p| p.model_price),
        cache_creation_ratio: pricing.map(|p| p.cache_creation_ratio),
        cache_tokens: r.cached_tokens,
        cache_creation_tokens: r.cache_creation_tokens,
        frt: r.first_byte_ms,
        is_model_mapped: r.upstream_model != r.model,
        upstream_model_name: &r.upstream_model,
        admin_info: (!r.failed_attempts.is_empty()).then(|| AdminInfo {
            use_channel: r.failed_attempts.iter().map(|a| a.channel_id).chain([r.channel_id]).collect(),
        }),
    }
}

/// The error log row's `content` and `other` (type 6): what the user may see (status and type), the upstream's
/// message and the channels tried only in `other.admin_info`.
fn error_entry(r: &UsageReport) -> (String, String) {
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
    (content, other.to_string())
}

/// The consume log's `other` column, as Veloera writes it.
#[derive(serde::Serialize)]
struct ConsumeOther<'a> {
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

#[cfg(test)]
mod tests;
