//! Rate limits, enforced when a request is admitted (before any quota is reserved) and settled when it ends:
//! - per token (Veloera v0.5): `rate_limit_count` requests and `rate_limit_success` successful requests per
//!   `rate_limit_period` seconds, from the cached caller; tokens of the exempt group skip it;
//! - per user (`ModelRequestRateLimit*` options): requests (failures included) and successful requests per period;
//! - per model (`ModelRateLimits` option): requests and tokens per minute, and requests in flight, across all
//!   callers.
//!
//! Windows are fixed and start with their first request, as Veloera's. A refused request counts against no
//! limit. The counters live in Redis when `REDIS_CONN_STRING` is set (one limit across all relays), else in
//! this relay's memory. When Redis cannot be reached, `RATE_LIMIT_FAIL_OPEN` decides: admit (and warn) or
//! refuse with 503.

mod store;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use veloera_proto::v1::{Caller, RelaySettings};

use crate::error::RelayError;
pub use store::Store;
use store::{Check, Kind, Settle, Verdict};

/// Model limits count per minute.
const MINUTE: Duration = Duration::from_secs(60);
/// A request's slot in a concurrency limit is dropped after this long even if its relay never frees it.
const SLOT_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// At most one "store unreachable" warning per this long.
const WARN_EVERY: Duration = Duration::from_secs(10);
/// After the store failed to answer, it is not asked again for this long (a store that times out would
/// otherwise add its timeout to every limited request).
const RETRY_STORE_AFTER: Duration = Duration::from_secs(1);

/// The limits of the options, as the relay applies them.
#[derive(Debug, Default)]
struct Settings {
    user: Option<UserLimit>,
    models: HashMap<String, ModelLimit>,
    /// Tokens of this group skip their own limit; empty for none.
    exempt_group: String,
}

#[derive(Debug, Clone, Copy)]
struct UserLimit {
    count: i64,
    success: i64,
    period: Duration,
}

#[derive(Debug, Clone, Copy)]
struct ModelLimit {
    rpm: i64,
    tpm: i64,
    concurrency: i64,
}

impl From<&RelaySettings> for Settings {
    fn from(s: &RelaySettings) -> Self {
        let user = (s.user_rate_limit_enabled
            && s.user_rate_limit_period_secs > 0
            && (s.user_rate_limit_count > 0 || s.user_rate_limit_success > 0))
            .then(|| UserLimit {
                count: s.user_rate_limit_count.max(0),
                success: s.user_rate_limit_success.max(0),
                period: Duration::from_secs(s.user_rate_limit_period_secs as u64),
            });
        let models = s
            .model_rate_limits
            .iter()
            .map(|(m, l)| {
                (m.clone(), ModelLimit { rpm: l.rpm.max(0), tpm: l.tpm.max(0), concurrency: l.concurrency.max(0) })
            })
            .filter(|(_, l)| l.rpm + l.tpm + l.concurrency > 0)
            .collect();
        Settings { user, models, exempt_group: s.rate_limit_exempt_group.clone() }
    }
}

/// Which limit a check enforces, for the refusal's message.
#[derive(Debug, Clone, Copy)]
enum Scope {
    TokenRequests { limit: i64, period: Duration },
    TokenSuccesses { limit: i64, period: Duration },
    UserRequests { limit: i64, period: Duration },
    UserSuccesses { limit: i64, period: Duration },
    ModelRequests { limit: i64 },
    ModelTokens { limit: i64 },
    ModelConcurrency { limit: i64 },
}

impl Scope {
    fn refusal(self, model: &str) -> String {
        let per = |p: Duration| match p.as_secs() {
            s if s % 60 == 0 && s >= 60 => format!("{} minute(s)", s / 60),
            s => format!("{s} s"),
        };
        match self {
            Scope::TokenRequests { limit, period } => {
                format!("Key-level rate limit exceeded: this key allows {limit} requests per {}", per(period))
            }
            Scope::TokenSuccesses { limit, period } => format!(
                "Key-level rate limit exceeded: this key allows {limit} successful requests per {}",
                per(period)
            ),
            Scope::UserRequests { limit, period } => format!(
                "user rate limit reached: at most {limit} requests per {}, failed ones included; check that your requests are correct",
                per(period)
            ),
            Scope::UserSuccesses { limit, period } => {
                format!("user rate limit reached: at most {limit} successful requests per {}", per(period))
            }
            Scope::ModelRequests { limit } => format!("model {model} is limited to {limit} requests per minute"),
            Scope::ModelTokens { limit } => format!("model {model} is limited to {limit} tokens per minute"),
            Scope::ModelConcurrency { limit } => {
                format!("model {model} is limited to {limit} requests at a time")
            }
        }
    }
}

/// The relay's rate limiter: current settings (swapped whole when control sends new ones) and the store.
pub struct Limiter {
    settings: ArcSwap<Settings>,
    /// Whether any user or model limit is set: with it false, a caller without a limit of its own costs one
    /// load and two compares.
    active: AtomicBool,
    store: Store,
    fail_open: bool,
    prefix: String,
    member_prefix: String,
    next_member: AtomicU64,
    epoch: Instant,
    /// Milliseconds since `epoch` of the last "store unreachable" warning (0 = never).
    warned_at_ms: AtomicU64,
    /// Milliseconds since `epoch` until which the store counts as down without being asked.
    down_until_ms: AtomicU64,
}

impl Limiter {
    /// A limiter over `store`; keys start with `prefix`; `relay_id` names this relay's concurrency slots.
    pub fn new(store: Store, fail_open: bool, prefix: &str, relay_id: &str) -> Self {
        let nonce: u32 = rand::random();
        Limiter {
            settings: ArcSwap::from_pointee(Settings::default()),
            active: AtomicBool::new(false),
            store,
            fail_open,
            prefix: prefix.to_string(),
            member_prefix: format!("{relay_id}:{nonce:08x}:"),
            next_member: AtomicU64::new(0),
            epoch: Instant::now(),
            warned_at_ms: AtomicU64::new(0),
            down_until_ms: AtomicU64::new(0),
        }
    }

    /// Whether the shared counter store answers (`None` without one), and whether requests are admitted while
    /// it does not (`RATE_LIMIT_FAIL_OPEN`); for readiness.
    pub async fn store_health(&self) -> (Option<Result<(), String>>, bool) {
        (self.store.ping().await.map(|r| r.map_err(|e| e.to_string())), self.fail_open)
    }

    /// Applies settings control sent (with a `Reset` or `OptionsChanged`).
    pub fn apply(&self, settings: &RelaySettings) {
        let settings = Settings::from(settings);
        let active = settings.user.is_some() || !settings.models.is_empty();
        self.settings.store(Arc::new(settings));
        self.active.store(active, Ordering::Release);
    }

    /// Whether any user or model limit is set (so settings from control have arrived).
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    /// Whether any limit may apply to `caller`: the whole cost of the limiter for a request none applies to.
    #[inline]
    pub fn applies(&self, caller: &Caller) -> bool {
        caller.rate_limit_count != 0 || caller.rate_limit_success != 0 || self.active.load(Ordering::Acquire)
    }

    /// Admits one request of `caller` for `model`, or refuses it (429 with `Retry-After`). The admission is
    /// settled when dropped; call [`Admission::finish`] first to say how the request ended.
    pub async fn admit(&self, caller: &Caller, model: &str) -> Result<Option<Admission>, RelayError> {
        let Plan { checks, scopes, after } = self.plan(caller, model);
        if checks.is_empty() {
            return Ok(None);
        }
        let member = if after.slot.is_some() {
            format!("{}{}", self.member_prefix, self.next_member.fetch_add(1, Ordering::Relaxed))
        } else {
            String::new()
        };
        let now_ms = self.epoch.elapsed().as_millis() as u64;
        let answer = if now_ms < self.down_until_ms.load(Ordering::Relaxed) {
            Err(store::StoreDown("it failed moments ago".into()))
        } else {
            self.store.admit(&checks, &member).await
        };
        if answer.is_err() && now_ms >= self.down_until_ms.load(Ordering::Relaxed) {
            let until = now_ms + RETRY_STORE_AFTER.as_millis() as u64;
            self.down_until_ms.store(until, Ordering::Relaxed);
        }
        match answer {
            Ok(Verdict::Admitted) => Ok(Some(Admission { store: self.store.clone(), after, member, outcome: None })),
            Ok(Verdict::Refused { index, retry_after }) => {
                let message = scopes[index].refusal(model);
                tracing::info!(
                    user = caller.user_id,
                    token = caller.token_id,
                    model = ?model,
                    reason = ?message,
                    "request refused by a rate limit"
                );
                Err(RelayError::RateLimited { retry_after: retry_after.unwrap_or(Duration::from_secs(1)), message })
            }
            Err(down) if self.fail_open => {
                self.warn_down(&down);
                Ok(None)
            }
            Err(down) => {
                self.warn_down(&down);
                Err(RelayError::LimitsUnavailable(down.0))
            }
        }
    }

    /// The limits that apply to one request of `caller` for `model`.
    fn plan(&self, caller: &Caller, model: &str) -> Plan {
        let settings = self.settings.load();
        let prefix = &self.prefix;
        let mut plan = Plan::default();
        let token_exempt = !settings.exempt_group.is_empty() && caller.group == settings.exempt_group;
        if !token_exempt && caller.rate_limit_period > 0 {
            let (id, period) = (caller.token_id, Duration::from_secs(caller.rate_limit_period as u64));
            let (count, success) = (caller.rate_limit_count, caller.rate_limit_success);
            plan.add(
                format!("{prefix}tok:{id}:n"),
                Kind::Count,
                count,
                period,
                Scope::TokenRequests { limit: count, period },
            );
            let key = format!("{prefix}tok:{id}:ok");
            if plan.add(key.clone(), Kind::Peek, success, period, Scope::TokenSuccesses { limit: success, period }) {
                plan.after.on_success.push((key, period));
            }
        }
        if let Some(UserLimit { count, success, period }) = settings.user {
            let id = caller.user_id;
            plan.add(
                format!("{prefix}user:{id}:n"),
                Kind::Count,
                count,
                period,
                Scope::UserRequests { limit: count, period },
            );
            let key = format!("{prefix}user:{id}:ok");
            if plan.add(key.clone(), Kind::Peek, success, period, Scope::UserSuccesses { limit: success, period }) {
                plan.after.on_success.push((key, period));
            }
        }
        if let Some(&ModelLimit { rpm, tpm, concurrency }) = settings.models.get(model) {
            plan.add(
                format!("{prefix}model:{model}:rpm"),
                Kind::Count,
                rpm,
                MINUTE,
                Scope::ModelRequests { limit: rpm },
            );
            let key = format!("{prefix}model:{model}:tpm");
            if plan.add(key.clone(), Kind::Peek, tpm, MINUTE, Scope::ModelTokens { limit: tpm }) {
                plan.after.tokens = Some(key);
            }
            let key = format!("{prefix}model:{model}:inflight");
            let scope = Scope::ModelConcurrency { limit: concurrency };
            if plan.add(key.clone(), Kind::Slot, concurrency, SLOT_LIFETIME, scope) {
                plan.after.slot = Some(key);
            }
        }
        plan
    }

    /// Logs that the store is unreachable, at most once per [`WARN_EVERY`].
    fn warn_down(&self, down: &store::StoreDown) {
        let now = self.epoch.elapsed().as_millis().max(1) as u64;
        let last = self.warned_at_ms.load(Ordering::Relaxed);
        if (last == 0 || now.saturating_sub(last) >= WARN_EVERY.as_millis() as u64)
            && self.warned_at_ms.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
        {
            let policy = if self.fail_open { "admitted without rate limits" } else { "refused" };
            tracing::warn!(error = ?down.to_string(), "rate-limit store unreachable; requests are {policy} (RATE_LIMIT_FAIL_OPEN)");
        }
    }
}

/// The checks for one request, why each is there, and what its end adds.
#[derive(Default)]
struct Plan {
    checks: Vec<Check>,
    scopes: Vec<Scope>,
    after: AfterRequest,
}

impl Plan {
    /// Adds a check when `limit` sets one (> 0); says whether it did.
    fn add(&mut self, key: String, kind: Kind, limit: i64, window: Duration, scope: Scope) -> bool {
        if limit <= 0 {
            return false;
        }
        self.checks.push(Check { key, kind, limit, window });
        self.scopes.push(scope);
        true
    }
}

/// What an admitted request adds to the counters when it ends.
#[derive(Debug, Default)]
struct AfterRequest {
    /// Success counters (with their windows), incremented when the request succeeded.
    on_success: Vec<(String, Duration)>,
    /// The tokens-per-minute counter the request's tokens are added to.
    tokens: Option<String>,
    /// The concurrency counter whose slot the request holds.
    slot: Option<String>,
}

/// How an admitted request ended.
#[derive(Debug, Clone, Copy)]
struct Outcome {
    succeeded: bool,
    tokens: i64,
}

/// A request admitted under some limit. Dropping it settles: frees its concurrency slot and, once
/// [`Admission::finish`] said so, counts its success and tokens.
pub struct Admission {
    store: Store,
    after: AfterRequest,
    member: String,
    outcome: Option<Outcome>,
}

impl Admission {
    /// The request ended: whether it succeeded, and the prompt plus completion tokens it used.
    pub fn finish(&mut self, succeeded: bool, tokens: i64) {
        self.outcome = Some(Outcome { succeeded, tokens });
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        let after = std::mem::take(&mut self.after);
        let outcome = self.outcome.unwrap_or(Outcome { succeeded: false, tokens: 0 });
        let mut settles = Vec::new();
        if outcome.succeeded {
            for (key, window) in after.on_success {
                settles.push(Settle::Add { key, amount: 1, window });
            }
        }
        if let Some(key) = after.tokens.filter(|_| outcome.tokens > 0) {
            settles.push(Settle::Add { key, amount: outcome.tokens, window: MINUTE });
        }
        if let Some(key) = after.slot {
            settles.push(Settle::Release { key, member: std::mem::take(&mut self.member) });
        }
        if settles.is_empty() {
            return;
        }
        self.store.settle(settles);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use veloera_proto::v1::ModelRateLimit;

    fn limiter() -> Limiter {
        Limiter::new(Store::new(None).unwrap(), true, "t:", "relay")
    }

    fn caller(count: i64, success: i64) -> Caller {
        Caller {
            user_id: 1,
            token_id: 2,
            group: "default".into(),
            rate_limit_period: if count + success > 0 { 60 } else { 0 },
            rate_limit_count: count,
            rate_limit_success: success,
            ..Default::default()
        }
    }

    #[test]
    fn nothing_applies_without_limits() {
        let l = limiter();
        assert!(!l.applies(&caller(0, 0)));
        assert!(l.applies(&caller(3, 0)));
        l.apply(&RelaySettings {
            model_rate_limits: HashMap::from([("m".into(), ModelRateLimit { rpm: 1, ..Default::default() })]),
            ..Default::default()
        });
        assert!(l.applies(&caller(0, 0)));
    }

    #[tokio::test]
    async fn token_requests_are_limited_per_period() {
        let l = limiter();
        let c = caller(2, 0);
        for _ in 0..2 {
            assert!(l.admit(&c, "m").await.unwrap().is_some());
        }
        let refused = l.admit(&c, "m").await.err().unwrap();
        assert!(matches!(refused, RelayError::RateLimited { .. }), "{refused:?}");
        assert!(refused.retry_after_secs().unwrap() >= 59, "{:?}", refused.retry_after_secs());
    }

    #[tokio::test]
    async fn only_successes_count_against_the_success_limit() {
        let l = limiter();
        let c = caller(0, 1);
        drop(l.admit(&c, "m").await.unwrap());
        let mut ok = l.admit(&c, "m").await.unwrap().unwrap();
        ok.finish(true, 10);
        drop(ok);
        assert!(l.admit(&c, "m").await.is_err());
    }

    #[tokio::test]
    async fn the_exempt_group_skips_the_token_limit() {
        let l = limiter();
        l.apply(&RelaySettings { rate_limit_exempt_group: "bulk-ok".into(), ..Default::default() });
        let c = Caller { group: "bulk-ok".into(), ..caller(1, 0) };
        for _ in 0..3 {
            assert!(l.admit(&c, "m").await.unwrap().is_none());
        }
    }

    #[tokio::test]
    async fn model_concurrency_frees_a_slot_when_the_request_ends() {
        let l = limiter();
        let limits = ModelRateLimit { concurrency: 1, ..Default::default() };
        l.apply(&RelaySettings { model_rate_limits: HashMap::from([("m".into(), limits)]), ..Default::default() });
        let c = caller(0, 0);
        let first = l.admit(&c, "m").await.unwrap();
        assert!(l.admit(&c, "m").await.is_err());
        assert!(l.admit(&c, "other").await.unwrap().is_none());
        drop(first);
        assert!(l.admit(&c, "m").await.unwrap().is_some());
    }
}
