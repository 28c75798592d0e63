//! What the relay remembers of control's answers, so warm requests make no synchronous call:
//! callers by key digest (including negative answers for bad keys), and routes by (group, model, pin).
//! Entries live until `WatchConfig` invalidates them or `ttl` passes, and only while the watch stream is
//! healthy (or has been down for less than the grace period).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use veloera_proto::rules::IpAllowList;
use veloera_proto::v1::{Caller, Candidate, DenialReason, Pricing};

use crate::channel::Channel;

/// A granted caller plus the quota this relay has spent for it since control's numbers were read.
#[derive(Debug)]
pub struct CallerEntry {
    pub caller: Caller,
    /// `caller.ip_allowlist` parsed once, when the entry was stored.
    pub ips: IpAllowList,
    fetched: Instant,
    /// Quota charged by requests this relay finished since `fetched` (control settles them asynchronously).
    pub spent: AtomicI64,
}

impl CallerEntry {
    /// An entry fetched now, nothing spent yet.
    pub fn new(caller: Caller) -> Self {
        let ips = IpAllowList::parse(&caller.ip_allowlist);
        CallerEntry { caller, ips, fetched: Instant::now(), spent: AtomicI64::new(0) }
    }
}

#[derive(Debug, Clone)]
pub enum KeyState {
    Known(Arc<CallerEntry>),
    Denied { reason: DenialReason, message: String, fetched: Instant },
}

impl KeyState {
    fn fetched(&self) -> Instant {
        match self {
            KeyState::Known(e) => e.fetched,
            KeyState::Denied { fetched, .. } => *fetched,
        }
    }
}

/// A granted route as control sent it.
pub struct Route {
    pub model: String,
    pub pinned: Option<i64>,
    pub candidates: Vec<Candidate>,
    pub pricing: Pricing,
    pub max_retries: u32,
}

/// Candidates and price for one (group, model, pinned channel, whether the caller accepts unpriced models).
#[derive(Debug)]
pub struct RouteEntry {
    /// Control's candidates, each converted once, here, into the relay's [`Channel`].
    pub candidates: Vec<Channel>,
    pub pricing: Pricing,
    /// Further keys or channels one request may try (`RetryTimes`).
    pub max_retries: u32,
    fetched: Instant,
    group: String,
    model: String,
    pinned: Option<i64>,
    /// Granted for a caller with `accept_unset_model_ratio_model`: may hold models others are refused.
    accept_unset: bool,
}

/// foldhash rather than SipHash: these maps are read on every request, and their keys are digests and
/// hashes chosen by us, not by clients (a route key is a hash of the caller's group and model name).
type FastState = foldhash::fast::RandomState;

/// The state of the `WatchConfig` stream as readiness reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Invalidations arrive: cached answers are current.
    Connected,
    /// The stream is down since `away`; cached answers are still served for `left` more (`CONTROL_STALE_GRACE`).
    ServingFromCaches { away: Duration, left: Duration },
    /// Down for longer than the grace: only what control answers directly is served.
    Lost { away: Duration },
    /// The stream has not come up since the relay started.
    NeverConnected,
}

/// How far the caches have followed `WatchConfig`, published after each event is wholly applied (caches,
/// settings, leases), so whoever must know that a change reached this relay (the e2e tests) waits for it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Followed {
    /// Events applied since the relay started (each `Reset` counts as one).
    pub generation: u64,
    /// The `ConfigEvent.version` of the last event applied: control's count of published changes, which a
    /// `Reset` sets afresh (control may have restarted and counts from zero again).
    pub control_version: u64,
}

pub struct AuthCache {
    keys: DashMap<[u8; 32], KeyState, FastState>,
    routes: DashMap<u64, Arc<RouteEntry>, FastState>,
    route_hasher: FastState,
    ttl: Duration,
    grace: Duration,
    /// Bumped on every invalidation; an answer fetched across a bump is not cached (it may be stale).
    generation: AtomicU64,
    followed: tokio::sync::watch::Sender<Followed>,
    watch_connected: AtomicBool,
    /// Milliseconds since `epoch` when the watch stream went down.
    watch_down_at_ms: AtomicU64,
    epoch: Instant,
}

impl AuthCache {
    pub fn new(ttl: Duration, grace: Duration) -> Self {
        AuthCache {
            keys: DashMap::default(),
            routes: DashMap::default(),
            route_hasher: FastState::default(),
            ttl,
            grace,
            generation: AtomicU64::new(0),
            followed: tokio::sync::watch::Sender::new(Followed::default()),
            watch_connected: AtomicBool::new(false),
            watch_down_at_ms: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    /// Routes are found by a hash of (group, model, pin, unset-model acceptance), so a lookup builds no owned
    /// key; the entry keeps the full key to rule out collisions.
    fn route_key(&self, group: &str, model: &str, pinned: Option<i64>, accept_unset: bool) -> u64 {
        use std::hash::BuildHasher;
        self.route_hasher.hash_one((group, model, pinned, accept_unset))
    }

    /// Cached answers are trusted only while invalidations can reach us (or only briefly after they stopped).
    fn usable(&self) -> bool {
        if self.watch_connected.load(Ordering::Acquire) {
            return true;
        }
        let down_at = Duration::from_millis(self.watch_down_at_ms.load(Ordering::Acquire));
        self.epoch.elapsed().saturating_sub(down_at) < self.grace && !down_at.is_zero()
    }

    fn fresh(&self, fetched: Instant) -> bool {
        fetched.elapsed() < self.ttl && self.usable()
    }

    pub fn key(&self, digest: &[u8; 32]) -> Option<KeyState> {
        let state = self.keys.get(digest)?;
        self.fresh(state.fetched()).then(|| state.clone())
    }

    /// The cached route for a caller of `group` (`accept_unset`: the caller accepts unpriced models).
    pub fn route(&self, group: &str, model: &str, pinned: Option<i64>, accept_unset: bool) -> Option<Arc<RouteEntry>> {
        let entry = self.routes.get(&self.route_key(group, model, pinned, accept_unset))?;
        let same = entry.group == group
            && entry.model == model
            && entry.pinned == pinned
            && entry.accept_unset == accept_unset;
        (same && self.fresh(entry.fetched)).then(|| entry.clone())
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Records that the `WatchConfig` event numbered `control_version` has been applied in full (`reset`: it
    /// was a `Reset`, whose number replaces the last one).
    pub fn followed(&self, control_version: u64, reset: bool) {
        self.followed.send_modify(|f| {
            f.generation += 1;
            f.control_version = if reset { control_version } else { control_version.max(f.control_version) };
        });
    }

    /// Watches how far the caches have followed `WatchConfig` (moves once per applied event).
    pub fn watch_followed(&self) -> tokio::sync::watch::Receiver<Followed> {
        self.followed.subscribe()
    }

    /// Stores a granted caller (and its route) fetched at `generation`; returns the entry to use.
    pub fn store_grant(
        &self,
        generation: u64,
        digest: [u8; 32],
        caller: Caller,
        route: Option<Route>,
    ) -> (Arc<CallerEntry>, Option<Arc<RouteEntry>>) {
        let now = Instant::now();
        let group = caller.group.clone();
        let accept_unset = caller.accept_unset_model_ratio_model;
        let entry = Arc::new(CallerEntry { fetched: now, ..CallerEntry::new(caller) });
        let route = route.map(|Route { model, pinned, candidates, pricing, max_retries }| {
            let candidates = channels(candidates);
            Arc::new(RouteEntry { candidates, pricing, max_retries, fetched: now, group, model, pinned, accept_unset })
        });
        if self.generation() == generation {
            self.keys.insert(digest, KeyState::Known(entry.clone()));
            if let Some(r) = &route {
                self.routes.insert(self.route_key(&r.group, &r.model, r.pinned, r.accept_unset), r.clone());
            }
        }
        (entry, route)
    }

    /// Remembers a token-level denial (unknown, disabled, expired, exhausted key or user).
    pub fn store_denial(&self, generation: u64, digest: [u8; 32], reason: DenialReason, message: String) {
        if self.generation() == generation {
            self.keys.insert(digest, KeyState::Denied { reason, message, fetched: Instant::now() });
        }
    }

    fn bump(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    pub fn forget_key(&self, digest: &[u8]) {
        self.bump();
        if let Ok(d) = <[u8; 32]>::try_from(digest) {
            self.keys.remove(&d);
        }
    }

    pub fn forget_user(&self, user_id: i64) {
        self.bump();
        self.keys.retain(|_, v| !matches!(v, KeyState::Known(e) if e.caller.user_id == user_id));
    }

    /// Channels or options changed: routes, prices and model lists are stale; negative answers are not.
    pub fn forget_routes(&self) {
        self.bump();
        self.routes.clear();
        self.keys.retain(|_, v| matches!(v, KeyState::Denied { .. }));
    }

    pub fn forget_all(&self) {
        self.bump();
        self.routes.clear();
        self.keys.clear();
    }

    /// Whether the `WatchConfig` stream is up (so cached answers are being kept fresh).
    pub fn watching(&self) -> bool {
        self.watch_connected.load(Ordering::Acquire)
    }

    /// Where the link to control stands, for readiness: the caches are kept fresh, or serve on their own for
    /// the rest of the grace period, or may no longer be used.
    pub fn link_state(&self) -> LinkState {
        if self.watch_connected.load(Ordering::Acquire) {
            return LinkState::Connected;
        }
        let down_at = Duration::from_millis(self.watch_down_at_ms.load(Ordering::Acquire));
        if down_at.is_zero() {
            return LinkState::NeverConnected;
        }
        let away = self.epoch.elapsed().saturating_sub(down_at);
        match self.grace.checked_sub(away) {
            Some(left) if !left.is_zero() => LinkState::ServingFromCaches { away, left },
            _ => LinkState::Lost { away },
        }
    }

    pub fn set_watch_connected(&self, connected: bool) {
        if !connected && self.watch_connected.load(Ordering::Acquire) {
            let now = self.epoch.elapsed().as_millis().max(1) as u64;
            self.watch_down_at_ms.store(now, Ordering::Release);
        }
        self.watch_connected.store(connected, Ordering::Release);
    }
}

/// Control's candidates as the relay's channels; one control could not describe is left out, with a warning
/// (an older control that sends no channel-type data).
fn channels(candidates: Vec<Candidate>) -> Vec<Channel> {
    candidates
        .into_iter()
        .filter_map(|c| {
            Channel::try_from(c).inspect_err(|why| tracing::warn!(why = ?why, "a candidate channel is left out")).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> AuthCache {
        let c = AuthCache::new(Duration::from_secs(60), Duration::from_secs(60));
        c.set_watch_connected(true);
        c
    }

    fn caller(user_id: i64) -> Caller {
        Caller { user_id, group: "default".into(), ..Default::default() }
    }

    #[test]
    fn the_link_state_follows_the_watch_stream_and_the_grace() {
        let c = AuthCache::new(Duration::from_secs(60), Duration::from_secs(60));
        assert_eq!(c.link_state(), LinkState::NeverConnected);
        c.set_watch_connected(true);
        assert_eq!(c.link_state(), LinkState::Connected);
        c.set_watch_connected(false);
        assert!(matches!(c.link_state(), LinkState::ServingFromCaches { left, .. } if left <= Duration::from_secs(60)));
        let no_grace = AuthCache::new(Duration::from_secs(60), Duration::ZERO);
        no_grace.set_watch_connected(true);
        no_grace.set_watch_connected(false);
        assert!(matches!(no_grace.link_state(), LinkState::Lost { .. }));
    }

    #[test]
    fn followed_counts_applied_events_and_a_reset_numbers_afresh() {
        let c = cache();
        let seen = c.watch_followed();
        c.followed(5, true);
        c.followed(6, false);
        assert_eq!(*seen.borrow(), Followed { generation: 2, control_version: 6 });
        // Control restarted: its first `Reset` counts from zero again.
        c.followed(0, true);
        assert_eq!(*seen.borrow(), Followed { generation: 3, control_version: 0 });
    }

    #[test]
    fn nothing_is_served_before_the_watch_stream_is_up() {
        let c = AuthCache::new(Duration::from_secs(60), Duration::from_secs(60));
        c.store_grant(0, [1; 32], caller(1), None);
        assert!(c.key(&[1; 32]).is_none());
    }

    #[test]
    fn an_answer_fetched_across_an_invalidation_is_not_cached() {
        let c = cache();
        let g = c.generation();
        c.forget_key(&[9; 32]);
        c.store_grant(g, [1; 32], caller(1), None);
        assert!(c.key(&[1; 32]).is_none());
    }

    #[test]
    fn routes_are_found_by_group_model_and_pin() {
        let c = cache();
        let route = Some(Route {
            model: "m".to_string(),
            pinned: None,
            candidates: Vec::new(),
            pricing: Pricing::default(),
            max_retries: 0,
        });
        c.store_grant(c.generation(), [1; 32], caller(1), route);
        assert!(c.route("default", "m", None, false).is_some());
        assert!(c.route("default", "other", None, false).is_none());
        assert!(c.route("vip", "m", None, false).is_none());
        assert!(c.route("default", "m", Some(3), false).is_none());
        c.forget_routes();
        assert!(c.route("default", "m", None, false).is_none());
    }

    #[test]
    fn candidates_are_stored_as_channels_and_undescribed_ones_are_left_out() {
        let c = cache();
        let described = crate::channel::testing::openai_candidate();
        let undescribed = Candidate { channel_id: 9, ..Candidate::default() };
        let route = Some(Route {
            model: "m".to_string(),
            pinned: None,
            candidates: vec![described, undescribed],
            pricing: Pricing::default(),
            max_retries: 0,
        });
        let (_, stored) = c.store_grant(c.generation(), [1; 32], caller(1), route);
        let ids: Vec<i64> = stored.unwrap().candidates.iter().map(|ch| ch.id.get()).collect();
        assert_eq!(ids, [1]);
    }

    #[test]
    fn a_route_granted_to_a_caller_accepting_unpriced_models_serves_only_such_callers() {
        let c = cache();
        let accepting = Caller { accept_unset_model_ratio_model: true, ..caller(1) };
        let route = Some(Route {
            model: "unpriced".to_string(),
            pinned: None,
            candidates: Vec::new(),
            pricing: Pricing::default(),
            max_retries: 0,
        });
        c.store_grant(c.generation(), [1; 32], accepting, route);
        assert!(c.route("default", "unpriced", None, true).is_some());
        assert!(c.route("default", "unpriced", None, false).is_none());
    }

    #[test]
    fn user_invalidation_drops_only_that_users_keys() {
        let c = cache();
        c.store_grant(c.generation(), [1; 32], caller(1), None);
        c.store_grant(c.generation(), [2; 32], caller(2), None);
        c.forget_user(1);
        assert!(c.key(&[1; 32]).is_none());
        assert!(c.key(&[2; 32]).is_some());
    }

    #[test]
    fn channel_changes_keep_negative_answers() {
        let c = cache();
        c.store_denial(c.generation(), [3; 32], DenialReason::UnknownToken, "x".into());
        c.store_grant(c.generation(), [1; 32], caller(1), None);
        c.forget_routes();
        assert!(matches!(c.key(&[3; 32]), Some(KeyState::Denied { .. })));
        assert!(c.key(&[1; 32]).is_none());
    }

    #[test]
    fn cached_answers_expire_after_the_grace_period_without_a_watch_stream() {
        let c = AuthCache::new(Duration::from_secs(60), Duration::from_millis(0));
        c.set_watch_connected(true);
        c.store_grant(c.generation(), [1; 32], caller(1), None);
        assert!(c.key(&[1; 32]).is_some());
        c.set_watch_connected(false);
        assert!(c.key(&[1; 32]).is_none());
    }
}
