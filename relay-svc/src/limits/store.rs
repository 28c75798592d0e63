//! Where rate-limit counters live: Redis, shared by every relay (one Lua script per admission, so the checks
//! and the counting of one request are atomic across instances), or this process's memory when no Redis is
//! configured (each relay then enforces the limits on its own).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// How one counter takes part in an admission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Requests in a fixed window that starts with the window's first request: checked, then counted.
    Count,
    /// A window counter that only settlement adds to (successful requests, tokens): checked, not counted.
    Peek,
    /// Requests in flight: checked, then this request holds a slot until it ends (or `window` passes, the
    /// safety net for a relay that died with requests in flight).
    Slot,
}

/// One limit to check for a request.
#[derive(Debug, Clone)]
pub struct Check {
    pub key: String,
    pub kind: Kind,
    /// The request is refused when the counter is already at (or past) this.
    pub limit: i64,
    pub window: Duration,
}

/// What settlement adds once a request ends.
#[derive(Debug, Clone)]
pub enum Settle {
    /// Adds `amount` to a window counter (creating the window when there is none).
    Add { key: String, amount: i64, window: Duration },
    /// Frees a request's slot.
    Release { key: String, member: String },
}

/// The answer to an admission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Admitted,
    /// Refused by `checks[index]`; its window (if it has one) ends after `retry_after`.
    Refused {
        index: usize,
        retry_after: Option<Duration>,
    },
}

/// The shared store could not be asked.
#[derive(Debug, thiserror::Error)]
#[error("rate-limit store unavailable: {0}")]
pub struct StoreDown(pub String);

/// Longest wait for Redis on a request's path; past it the store counts as down.
const REDIS_DEADLINE: Duration = Duration::from_millis(500);

#[derive(Clone)]
pub enum Store {
    Redis(Arc<RedisStore>),
    Memory(Arc<MemoryStore>),
}

impl Store {
    /// Redis at `url` (connected lazily, reconnecting on its own), or memory when `url` is `None`.
    pub fn new(url: Option<&str>) -> Result<Store, String> {
        let Some(url) = url else { return Ok(Store::Memory(Arc::default())) };
        let client = redis::Client::open(url).map_err(|e| format!("REDIS_CONN_STRING: {e}"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_DEADLINE))
            .set_response_timeout(Some(REDIS_DEADLINE))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let manager =
            ConnectionManager::new_lazy_with_config(client, config).map_err(|e| format!("REDIS_CONN_STRING: {e}"))?;
        Ok(Store::Redis(Arc::new(RedisStore {
            manager,
            admit: redis::Script::new(ADMIT_SCRIPT),
            settle: redis::Script::new(SETTLE_SCRIPT),
        })))
    }

    /// Checks every limit and, only when none refuses, counts the request (all or nothing, atomically).
    /// `member` names the request's slot in `Slot` counters.
    pub async fn admit(&self, checks: &[Check], member: &str) -> Result<Verdict, StoreDown> {
        match self {
            Store::Redis(r) => r.admit(checks, member).await,
            Store::Memory(m) => Ok(m.admit(checks, member)),
        }
    }

    /// Whether the shared store answers (`None`: counting in memory, nothing to ask).
    pub async fn ping(&self) -> Option<Result<(), StoreDown>> {
        let Store::Redis(r) = self else { return None };
        let mut conn = r.manager.clone();
        let answer = tokio::time::timeout(REDIS_DEADLINE, redis::cmd("PING").query_async::<String>(&mut conn)).await;
        Some(match answer {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(StoreDown(e.to_string())),
            Err(_) => Err(StoreDown("no answer in time".into())),
        })
    }

    /// Applies what ended requests add: at once in memory, in the background for Redis (a request's end never
    /// waits for it).
    pub fn settle(&self, settles: Vec<Settle>) {
        match self {
            Store::Memory(m) => m.settle(&settles),
            Store::Redis(r) => {
                let redis = r.clone();
                let settling = async move {
                    if let Err(e) = redis.settle(&settles).await {
                        // A lost settlement undercounts a window; a slot it held expires on its own.
                        tracing::debug!(error = ?e.to_string(), "rate-limit counters not settled");
                    }
                };
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    runtime.spawn(settling);
                }
            }
        }
    }
}

/// KEYS: the counters. ARGV: (kind, limit, window ms) per key, then the request's slot member.
/// Returns {0, 0} when admitted, else {index of the refusing key (1-based), its remaining ms or -1}.
const ADMIT_SCRIPT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i, key in ipairs(KEYS) do
  local kind = ARGV[3 * i - 2]
  local used
  if kind == 's' then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
    used = redis.call('ZCARD', key)
  else
    used = tonumber(redis.call('GET', key) or '0')
  end
  if used >= tonumber(ARGV[3 * i - 1]) then
    local ttl = -1
    if kind ~= 's' then ttl = redis.call('PTTL', key) end
    return {i, ttl}
  end
end
local member = ARGV[3 * #KEYS + 1]
for i, key in ipairs(KEYS) do
  local kind = ARGV[3 * i - 2]
  local window = tonumber(ARGV[3 * i])
  if kind == 'n' then
    redis.call('INCR', key)
    if redis.call('PTTL', key) < 0 then redis.call('PEXPIRE', key, window) end
  elseif kind == 's' then
    redis.call('ZADD', key, now + window, member)
    redis.call('PEXPIRE', key, window)
  end
end
return {0, 0}
"#;

/// KEYS: the counters. ARGV: (op, amount or member, window ms) per key.
const SETTLE_SCRIPT: &str = r#"
for i, key in ipairs(KEYS) do
  if ARGV[3 * i - 2] == 'add' then
    redis.call('INCRBY', key, ARGV[3 * i - 1])
    if redis.call('PTTL', key) < 0 then redis.call('PEXPIRE', key, ARGV[3 * i]) end
  else
    redis.call('ZREM', key, ARGV[3 * i - 1])
  end
end
return 0
"#;

pub struct RedisStore {
    manager: ConnectionManager,
    admit: redis::Script,
    settle: redis::Script,
}

fn millis(d: Duration) -> u64 {
    d.as_millis().clamp(1, u64::MAX as u128) as u64
}

impl RedisStore {
    async fn admit(&self, checks: &[Check], member: &str) -> Result<Verdict, StoreDown> {
        let mut call = self.admit.prepare_invoke();
        for c in checks {
            let kind = match c.kind {
                Kind::Count => "n",
                Kind::Peek => "p",
                Kind::Slot => "s",
            };
            call.key(&c.key).arg(kind).arg(c.limit).arg(millis(c.window));
        }
        call.arg(member);
        let mut conn = self.manager.clone();
        let (index, ttl): (usize, i64) = tokio::time::timeout(REDIS_DEADLINE, call.invoke_async(&mut conn))
            .await
            .map_err(|_| StoreDown("no answer in time".into()))?
            .map_err(|e| StoreDown(e.to_string()))?;
        Ok(match index {
            0 => Verdict::Admitted,
            i => Verdict::Refused { index: i - 1, retry_after: (ttl > 0).then(|| Duration::from_millis(ttl as u64)) },
        })
    }

    async fn settle(&self, settles: &[Settle]) -> Result<(), StoreDown> {
        let mut call = self.settle.prepare_invoke();
        for s in settles {
            match s {
                Settle::Add { key, amount, window } => call.key(key).arg("add").arg(*amount).arg(millis(*window)),
                Settle::Release { key, member } => call.key(key).arg("release").arg(member).arg(0),
            };
        }
        let mut conn = self.manager.clone();
        tokio::time::timeout(REDIS_DEADLINE, call.invoke_async::<i64>(&mut conn))
            .await
            .map_err(|_| StoreDown("no answer in time".into()))?
            .map_err(|e| StoreDown(e.to_string()))?;
        Ok(())
    }
}

/// Counters of this relay alone, behind one lock (taken only by requests some limit applies to).
#[derive(Default)]
pub struct MemoryStore {
    counters: Mutex<HashMap<String, Counter>>,
}

#[derive(Debug)]
enum Counter {
    Window { used: i64, until: Instant },
    Slots { held: i64 },
}

/// Above this many counters, ended windows and empty slot counters are dropped.
const MEMORY_SWEEP_AT: usize = 10_000;

impl MemoryStore {
    fn admit(&self, checks: &[Check], _member: &str) -> Verdict {
        let now = Instant::now();
        let mut counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        for (index, c) in checks.iter().enumerate() {
            let (used, retry_after) = match counters.get(&c.key) {
                Some(Counter::Window { used, until }) if *until > now => (*used, Some(*until - now)),
                Some(Counter::Slots { held }) => (*held, None),
                _ => (0, None),
            };
            if used >= c.limit {
                return Verdict::Refused { index, retry_after };
            }
        }
        for c in checks {
            match c.kind {
                Kind::Peek => {}
                Kind::Count => add_to_window(&mut counters, &c.key, 1, c.window, now),
                Kind::Slot => match counters.entry(c.key.clone()).or_insert(Counter::Slots { held: 0 }) {
                    Counter::Slots { held } => *held += 1,
                    other => *other = Counter::Slots { held: 1 },
                },
            }
        }
        if counters.len() > MEMORY_SWEEP_AT {
            counters.retain(|_, c| match c {
                Counter::Window { until, .. } => *until > now,
                Counter::Slots { held } => *held > 0,
            });
        }
        Verdict::Admitted
    }

    fn settle(&self, settles: &[Settle]) {
        let now = Instant::now();
        let mut counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        for s in settles {
            match s {
                Settle::Add { key, amount, window } => add_to_window(&mut counters, key, *amount, *window, now),
                Settle::Release { key, .. } => {
                    if let Some(Counter::Slots { held }) = counters.get_mut(key) {
                        *held = (*held - 1).max(0);
                    }
                }
            }
        }
    }
}

/// Adds to the window at `key`, starting a new window when there is none or it has ended.
fn add_to_window(counters: &mut HashMap<String, Counter>, key: &str, amount: i64, window: Duration, now: Instant) {
    match counters.get_mut(key) {
        Some(Counter::Window { used, until }) if *until > now => *used += amount,
        _ => {
            counters.insert(key.to_string(), Counter::Window { used: amount, until: now + window });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(key: &str, kind: Kind, limit: i64) -> Check {
        Check { key: key.into(), kind, limit, window: Duration::from_secs(60) }
    }

    #[test]
    fn memory_counts_only_admitted_requests() {
        let m = MemoryStore::default();
        let checks = [check("a", Kind::Count, 5), check("b", Kind::Count, 1)];
        assert_eq!(m.admit(&checks, ""), Verdict::Admitted);
        let refused = m.admit(&checks, "");
        assert!(matches!(refused, Verdict::Refused { index: 1, retry_after: Some(_) }), "{refused:?}");
        // The refusal counted nothing against "a": four more fit.
        for _ in 0..4 {
            assert_eq!(m.admit(&[check("a", Kind::Count, 5)], ""), Verdict::Admitted);
        }
        assert!(matches!(m.admit(&[check("a", Kind::Count, 5)], ""), Verdict::Refused { index: 0, .. }));
    }

    #[test]
    fn memory_peeked_counters_grow_only_by_settlement() {
        let m = MemoryStore::default();
        let checks = [check("ok", Kind::Peek, 2)];
        for _ in 0..3 {
            assert_eq!(m.admit(&checks, ""), Verdict::Admitted);
        }
        let add = Settle::Add { key: "ok".into(), amount: 2, window: Duration::from_secs(60) };
        m.settle(&[add]);
        assert!(matches!(m.admit(&checks, ""), Verdict::Refused { index: 0, .. }));
    }

    #[test]
    fn memory_slots_are_held_until_released() {
        let m = MemoryStore::default();
        let checks = [check("c", Kind::Slot, 1)];
        assert_eq!(m.admit(&checks, "r1"), Verdict::Admitted);
        assert_eq!(m.admit(&checks, "r2"), Verdict::Refused { index: 0, retry_after: None });
        m.settle(&[Settle::Release { key: "c".into(), member: "r1".into() }]);
        assert_eq!(m.admit(&checks, "r3"), Verdict::Admitted);
    }

    #[test]
    fn an_ended_window_starts_again() {
        let m = MemoryStore::default();
        let short = Check { key: "w".into(), kind: Kind::Count, limit: 1, window: Duration::from_millis(20) };
        assert_eq!(m.admit(std::slice::from_ref(&short), ""), Verdict::Admitted);
        assert!(matches!(m.admit(std::slice::from_ref(&short), ""), Verdict::Refused { .. }));
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(m.admit(std::slice::from_ref(&short), ""), Verdict::Admitted);
    }
}
