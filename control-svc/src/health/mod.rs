//! Channel and key health: what the relays' failed attempts say about a key or a channel, applied once per
//! usage record (`assess`, pure; the settlement transaction applies its `HealthDeltas`); automatic disabling with a reason; half-open probes with
//! exponential back-off that re-enable what recovered.
//!
//! - A key whose upstream refuses it (401/402/403, an account-level error code, or one of the configured
//!   keywords) is disabled on its own; its siblings and the channel keep serving. A channel whose every key
//!   is disabled is disabled too.
//! - Failures of the upstream itself (5xx, 408, no answer) count against the channel in a window; reaching the
//!   threshold opens its circuit (status 3). A success closes the window.
//! - A rate-limited key (429) is the key's fault, as the relay that retried on another key saw it: counted on
//!   the key, never against the channel. Where a fault lies is `veloera_proto::fault::classify`, the relay's
//!   call sent with each attempt.
//! - Channels with `auto_ban` off, and everything when `AutomaticDisableChannelEnabled` is off, are never
//!   disabled automatically.

pub mod policy;
pub mod prober;

use std::collections::{BTreeMap, BTreeSet};

pub use crate::notify::channel_notice::HealthChange;
use crate::routing::{ChannelSnapshot, key_digest};
use crate::settlement::{FailedAttempt, Outcome, UsageReport};
pub use policy::Policy;
use veloera_proto::fault::{Fault, account_code, classify};

/// What health does about one failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// The key (its account) is refused: disable this key, saying why.
    DisableKey(String),
    /// The upstream is unwell: counts against the channel's circuit.
    CountAgainstChannel,
    /// The request was at fault, or the key only rate-limited: counted on the key, nothing else.
    Nothing,
}

/// The attempt's effect: the configured keywords first (control's own list, which relays do not see), then
/// the fault the relay reported, else the shared classification of its status and message (an older relay).
pub fn effect(policy: &Policy, a: &FailedAttempt) -> Effect {
    let lower = a.error.to_lowercase();
    if let Some(k) = policy.keywords.iter().find(|k| lower.contains(k.as_str())) {
        return Effect::DisableKey(format!("upstream said \"{k}\""));
    }
    let status = u16::try_from(a.status_code).unwrap_or(0);
    match a.fault.unwrap_or_else(|| classify(status, &a.error)) {
        Fault::Key { refused: true } => Effect::DisableKey(match account_code(&a.error) {
            Some(code) => format!("upstream error {code}"),
            None => format!("upstream answered {status}"),
        }),
        Fault::Channel => Effect::CountAgainstChannel,
        Fault::Key { refused: false } | Fault::Request => Effect::Nothing,
    }
}

/// What a batch's attempts change in the health tables; `db::usage::apply` writes it in the settlement
/// transaction.
#[derive(Debug, Default)]
pub struct HealthDeltas {
    /// Request and error counts per key.
    pub keys: Vec<KeyTally>,
    /// Channels that answered a request: their failure window closes.
    pub answered: Vec<i64>,
    /// Disabling steps, in the order of the attempts that call for them (empty while automatic disabling is off).
    pub actions: Vec<Action>,
    /// The policy numbers the steps need.
    pub probe_initial_secs: i64,
    pub failure_window_secs: i64,
    pub failure_threshold: i64,
}

/// One key's share of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyTally {
    pub channel_id: i64,
    pub key_digest: String,
    pub requests: i64,
    pub errors: i64,
    /// The last failure's message, cut to 500 characters.
    pub last_error: Option<String>,
}

/// A step that may disable something, decided by one failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The upstream refused the key: disable it, and the channel when none of `all_keys` is left enabled.
    DisableKey {
        channel_id: i64,
        channel_name: String,
        key_slot: i32,
        key_digest: String,
        reason: String,
        all_keys: Vec<String>,
    },
    /// A transient failure counted against the channel's circuit (`status` 0: no answer).
    CountFailure { channel_id: i64, channel_name: String, status: i32, error: String },
}

/// Decides what freshly settled reports change in key and channel health. Pure: the counts that need the
/// database (the failure window, whether sibling keys are still enabled) are left to the apply step.
pub fn assess(policy: &Policy, channels: &ChannelSnapshot, reports: &[&UsageReport]) -> HealthDeltas {
    let mut deltas = HealthDeltas {
        probe_initial_secs: policy.probe_initial_secs,
        failure_window_secs: policy.failure_window_secs,
        failure_threshold: policy.failure_threshold,
        ..HealthDeltas::default()
    };
    // (channel, slot) → (requests, errors, last error)
    let mut counts: BTreeMap<(i64, i32), (i64, i64, Option<&str>)> = BTreeMap::new();
    let mut answered = BTreeSet::new();
    for r in reports {
        if r.channel_id != 0 && r.outcome != Outcome::Failed {
            counts.entry((r.channel_id, r.key_slot)).or_default().0 += 1;
            answered.insert(r.channel_id);
        }
        for a in &r.failed_attempts {
            let c = counts.entry((a.channel_id, a.key_slot)).or_default();
            c.0 += 1;
            c.1 += 1;
            c.2 = Some(&a.error);
        }
    }
    for ((channel_id, slot), (requests, errors, last_error)) in counts {
        let Some(digest) = channels.channel(channel_id).and_then(|c| c.keys.get(slot as usize)).map(|k| key_digest(k))
        else {
            continue;
        };
        let last_error = last_error.map(|e| e.chars().take(500).collect());
        deltas.keys.push(KeyTally { channel_id, key_digest: digest, requests, errors, last_error });
    }
    deltas.answered = answered.into_iter().collect();
    if !policy.auto_disable {
        return deltas;
    }
    for a in reports.iter().flat_map(|r| &r.failed_attempts) {
        let Some(channel) = channels.channel(a.channel_id).filter(|c| c.auto_ban) else { continue };
        match effect(policy, a) {
            Effect::Nothing => {}
            Effect::DisableKey(reason) => {
                let Some(key) = channel.keys.get(a.key_slot as usize) else { continue };
                deltas.actions.push(Action::DisableKey {
                    channel_id: a.channel_id,
                    channel_name: channel.name.clone(),
                    key_slot: a.key_slot,
                    key_digest: key_digest(key),
                    reason,
                    all_keys: channel.keys.iter().map(|k| key_digest(k)).collect(),
                });
            }
            Effect::CountAgainstChannel => deltas.actions.push(Action::CountFailure {
                channel_id: a.channel_id,
                channel_name: channel.name.clone(),
                status: a.status_code,
                error: a.error.clone(),
            }),
        }
    }
    deltas
}

/// Why a channel's circuit opened after `count` failures within `window_secs`, the last one `status`/`error`.
pub fn circuit_reason(count: i64, window_secs: i64, status: i32, error: &str) -> String {
    let status = if status == 0 { "no answer".to_string() } else { format!("status {status}") };
    format!(
        "{count} failures within {window_secs}s, the last: {status}: {}",
        error.chars().take(200).collect::<String>()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::RoutableChannel;
    use crate::settlement::FailedAttempt;

    fn channel(id: i64, keys: &[&str], auto_ban: bool) -> RoutableChannel {
        RoutableChannel {
            id,
            name: format!("c{id}"),
            channel_type: 1,
            base_url: String::new(),
            keys: keys.iter().map(|k| k.to_string()).collect(),
            key_enabled: vec![true; keys.len()],
            models: vec![],
            groups: vec![],
            model_mapping: Default::default(),
            priority: 0,
            weight: 0,
            auto_ban,
            organization: String::new(),
            model_prefix: String::new(),
            settings: Default::default(),
        }
    }

    fn failing(channel_id: i64, key_slot: i32, status_code: i32, error: &str) -> UsageReport {
        let attempt = FailedAttempt { channel_id, key_slot, status_code, error: error.into(), fault: None };
        UsageReport { outcome: Outcome::Failed, failed_attempts: vec![attempt], ..Default::default() }
    }

    #[test]
    fn a_refused_key_is_disabled_and_a_transient_failure_counts_against_the_channel() {
        let snapshot = ChannelSnapshot::of(vec![channel(1, &["k0", "k1"], true), channel(2, &["k"], true)]);
        let (refused, busy) = (failing(1, 1, 401, "bad key"), failing(2, 0, 503, "busy"));
        let d = assess(&Policy::default(), &snapshot, &[&refused, &busy]);
        let Action::DisableKey { channel_id, key_slot, key_digest: digest, all_keys, .. } = &d.actions[0] else {
            panic!("{:?}", d.actions)
        };
        assert_eq!((*channel_id, *key_slot, digest.as_str()), (1, 1, key_digest("k1").as_str()));
        assert_eq!(all_keys.len(), 2);
        assert!(matches!(&d.actions[1], Action::CountFailure { channel_id: 2, status: 503, .. }));
        let tally = d.keys.iter().find(|k| k.channel_id == 2).unwrap();
        assert_eq!((tally.requests, tally.errors, tally.last_error.as_deref()), (1, 1, Some("busy")));
    }

    #[test]
    fn answered_requests_close_the_window_and_request_faults_change_nothing() {
        let snapshot = ChannelSnapshot::of(vec![channel(1, &["k"], true)]);
        let ok = UsageReport { channel_id: 1, outcome: Outcome::Answered, ..Default::default() };
        let bad_request = failing(1, 0, 400, "context_length_exceeded");
        let d = assess(&Policy::default(), &snapshot, &[&ok, &bad_request]);
        assert_eq!(d.answered, vec![1]);
        assert!(d.actions.is_empty());
        assert_eq!((d.keys[0].requests, d.keys[0].errors), (2, 1));
    }

    #[test]
    fn nothing_is_disabled_without_auto_ban_or_with_automatic_disabling_off() {
        let snapshot = ChannelSnapshot::of(vec![channel(1, &["k"], false), channel(2, &["k"], true)]);
        let (a, b) = (failing(1, 0, 401, "x"), failing(2, 0, 401, "x"));
        assert_eq!(assess(&Policy::default(), &snapshot, &[&a, &b]).actions.len(), 1);
        let off = Policy { auto_disable: false, ..Policy::default() };
        assert!(assess(&off, &snapshot, &[&a, &b]).actions.is_empty());
    }

    fn attempt(status_code: i32, error: &str, fault: Option<Fault>) -> FailedAttempt {
        FailedAttempt { channel_id: 1, key_slot: 0, status_code, error: error.into(), fault }
    }

    #[test]
    fn faults_are_placed_on_the_key_the_channel_or_the_request() {
        let p = Policy::default();
        let of = |status, error| effect(&p, &attempt(status, error, None));
        assert_eq!(of(401, "bad key"), Effect::DisableKey("upstream answered 401".into()));
        let quota = of(429, "insufficient_quota: You exceeded your current quota");
        assert!(matches!(quota, Effect::DisableKey(_)), "{quota:?}");
        assert!(matches!(of(400, "Your credit balance is too low to access the API"), Effect::DisableKey(_)));
        assert_eq!(of(503, "overloaded"), Effect::CountAgainstChannel);
        assert_eq!(of(0, "connection reset"), Effect::CountAgainstChannel);
        assert_eq!(of(400, "context_length_exceeded: too long"), Effect::Nothing);
        assert_eq!(of(404, "model_not_found"), Effect::Nothing);
    }

    #[test]
    fn a_429_is_the_keys_fault_for_health_as_for_the_relays_retry() {
        let p = Policy::default();
        let limited = attempt(429, "rate_limit_exceeded: slow down", None);
        assert_eq!(classify(429, &limited.error), Fault::Key { refused: false });
        assert_eq!(effect(&p, &limited), Effect::Nothing, "counted on the key, not against the channel");
    }

    #[test]
    fn the_reported_fault_wins_over_the_status_but_not_over_the_keywords() {
        let p = Policy::default();
        assert_eq!(effect(&p, &attempt(500, "odd", Some(Fault::Request))), Effect::Nothing);
        let reported = effect(&p, &attempt(0, "stream cut", Some(Fault::Key { refused: true })));
        assert_eq!(reported, Effect::DisableKey("upstream answered 0".into()));
        let keyword = effect(&p, &attempt(400, "Permission denied", Some(Fault::Request)));
        assert_eq!(keyword, Effect::DisableKey("upstream said \"permission denied\"".into()));
    }
}
