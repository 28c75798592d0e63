//! Quota leases held by this relay (hot-path design): control moves quota from a token's and its user's
//! balance into a lease; requests are admitted against it locally, so a warm request makes no call. Each
//! request reserves its estimated cost before the upstream call and gives back the difference when its actual
//! cost is known. When a lease runs out (or expires) one request per token fetches the next; what was left of
//! the old one is returned. Near the end of a balance, leases shrink to a single request's estimate. A request
//! is never admitted against less than its estimate: when neither the lease nor control can cover it, it is
//! refused before anything is sent.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use veloera_proto::v1::lease_reply::Outcome;
use veloera_proto::v1::{Caller, DenialReason, LeaseRequest, ReturnLeaseRequest};

use super::Client;
use crate::error::RelayError;

/// A lease asks for this many requests' worth (control grants at most half of what is available).
const REQUESTS_PER_LEASE: i64 = 1000;
/// Stop using a lease this long before control would reclaim it.
const EXPIRY_MARGIN: Duration = Duration::from_secs(5);

type FastState = foldhash::fast::RandomState;

/// A lease this relay holds. Once replaced it is retired, and returned when its last request has settled, with
/// what its requests cost, so control gives back exactly the rest.
pub struct Held {
    pub id: String,
    amount: i64,
    /// Quota not yet reserved by a request; negative when requests cost more than estimated.
    remaining: AtomicI64,
    /// What was handed back to control early (the rest, too small for a request, offered with the next lease
    /// call). Counted as not spent whether or not control applied it, so the final return is right either way.
    surrendered: AtomicI64,
    usable_until: Instant,
    in_flight: AtomicUsize,
    retired: AtomicBool,
    returned: AtomicBool,
    client: Client,
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Held").field("id", &self.id).field("remaining", &self.remaining).finish()
    }
}

impl Held {
    /// A reservation of `amount` already taken from `remaining`.
    fn reservation(self: &Arc<Self>, amount: i64) -> Reservation {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        Reservation { lease: self.clone(), amount }
    }

    /// No new request uses it; it goes back once nothing is in flight.
    fn retire(self: &Arc<Self>) {
        self.retired.store(true, Ordering::SeqCst);
        if self.in_flight.load(Ordering::SeqCst) == 0 {
            self.give_back();
        }
    }

    /// What its requests reserved or cost so far.
    fn spent(&self) -> i64 {
        let unspent = self.remaining.load(Ordering::SeqCst) + self.surrendered.load(Ordering::SeqCst);
        (self.amount - unspent).max(0)
    }

    /// Takes all of what is not reserved (when positive), to hand back to control.
    fn surrender(&self) -> i64 {
        let taken = self.remaining.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |r| (r > 0).then_some(0));
        let rest = taken.unwrap_or(0);
        self.surrendered.fetch_add(rest, Ordering::SeqCst);
        rest
    }

    /// Returns the lease (once) with what its requests cost; control keeps that and gives back the rest.
    fn give_back(self: &Arc<Self>) {
        if self.returned.swap(true, Ordering::SeqCst) {
            return;
        }
        let request = ReturnLeaseRequest { lease_id: self.id.clone(), spent: self.spent() };
        let mut client = self.client.clone();
        let id = self.id.clone();
        let returning = async move {
            if let Err(e) = client.return_lease(request).await {
                tracing::debug!(lease = %id, error = ?e.message(), "lease not returned; control reclaims it");
            }
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(returning);
        }
    }
}

/// One request's reserved estimate.
#[derive(Debug)]
pub struct Reservation {
    lease: Arc<Held>,
    amount: i64,
}

impl Reservation {
    pub fn lease_id(&self) -> &str {
        &self.lease.id
    }

    /// The actual cost is known: the difference from the estimate goes back to (or comes out of) the lease.
    pub fn settle(self, actual: i64) {
        self.lease.remaining.fetch_add(self.amount - actual, Ordering::SeqCst);
        if self.lease.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 && self.lease.retired.load(Ordering::SeqCst) {
            self.lease.give_back();
        }
    }
}

/// Leases are held per (user, token): the playground's callers all have token 0 (`AuthorizeSession`), one per user.
type LeaseKey = (i64, i64);

fn lease_key(caller: &Caller) -> LeaseKey {
    (caller.user_id, caller.token_id)
}

pub struct Leases {
    client: Client,
    relay_id: String,
    held: DashMap<LeaseKey, Arc<Held>, FastState>,
    /// One lease call at a time per token; the others wait and then use its result.
    gates: DashMap<LeaseKey, Arc<tokio::sync::Mutex<()>>, FastState>,
}

impl Leases {
    pub fn new(client: Client, relay_id: String) -> Self {
        Leases { client, relay_id, held: DashMap::default(), gates: DashMap::default() }
    }

    /// The leases held now (one per token at most) and the quota they have not yet reserved.
    pub fn held(&self) -> (usize, i64) {
        let quota = self.held.iter().map(|l| l.remaining.load(Ordering::Relaxed).max(0)).sum();
        (self.held.len(), quota)
    }

    /// Reserves `estimate` for one request of `caller`: from the lease held, or from a new one (asked for in
    /// the name of `request_id`, so control's log of the call names the request that needed it). Refused (403,
    /// "quota not enough") when the balance left cannot cover all of it.
    pub async fn reserve(&self, caller: &Caller, estimate: i64, request_id: &str) -> Result<Reservation, RelayError> {
        let estimate = estimate.max(1);
        let key = lease_key(caller);
        if let Some(r) = self.take_local(key, estimate) {
            return Ok(r);
        }
        let gate = self.gates.entry(key).or_default().clone();
        let _turn = gate.lock().await;
        if let Some(r) = self.take_local(key, estimate) {
            return Ok(r);
        }
        // The rest of the current lease is too small for this request: it goes back with the call, so that with
        // what the balance still has it may cover the request.
        let current = self.held.get(&key).map(|h| h.clone()).filter(|h| h.usable_until > Instant::now());
        let (surrender_lease_id, surrender_amount) = match &current {
            Some(held) => match held.surrender() {
                0 => (String::new(), 0),
                rest => (held.id.clone(), rest),
            },
            None => (String::new(), 0),
        };
        let request = LeaseRequest {
            relay_id: self.relay_id.clone(),
            user_id: caller.user_id,
            token_id: caller.token_id,
            wanted: estimate.saturating_mul(REQUESTS_PER_LEASE),
            needed: estimate,
            surrender_lease_id,
            surrender_amount,
        };
        let reply = self
            .client
            .clone()
            .lease(super::with_request_id(request, Some(request_id)))
            .await
            .map_err(|s| RelayError::ControlUnavailable(format!("{}: {}", s.code(), s.message())))?
            .into_inner();
        match reply.outcome {
            Some(Outcome::Grant(g)) => {
                let ttl = Duration::from_millis(g.ttl_ms.max(0) as u64).saturating_sub(EXPIRY_MARGIN);
                let covers = g.amount >= estimate;
                let held = Arc::new(Held {
                    id: g.lease_id,
                    amount: g.amount,
                    remaining: AtomicI64::new(if covers { g.amount - estimate } else { g.amount }),
                    surrendered: AtomicI64::new(0),
                    usable_until: Instant::now() + ttl,
                    in_flight: AtomicUsize::new(0),
                    retired: AtomicBool::new(false),
                    returned: AtomicBool::new(false),
                    client: self.client.clone(),
                });
                let reservation = covers.then(|| held.reservation(estimate));
                if let Some(old) = self.held.insert(key, held) {
                    old.retire();
                }
                // Control grants at least what is needed; a smaller grant (a control that predates that rule)
                // still serves smaller requests, never this one.
                reservation.ok_or_else(|| not_enough(caller, g.amount, estimate))
            }
            Some(Outcome::Denial(d)) => Err(RelayError::Denied {
                reason: DenialReason::try_from(d.reason).unwrap_or(DenialReason::Unspecified),
                message: d.message,
            }),
            None => Err(RelayError::ControlUnavailable("empty lease answer".into())),
        }
    }

    fn take_local(&self, key: LeaseKey, estimate: i64) -> Option<Reservation> {
        let held = self.held.get(&key)?.clone();
        if held.usable_until <= Instant::now() {
            return None;
        }
        let mut current = held.remaining.load(Ordering::Relaxed);
        loop {
            if current < estimate {
                return None;
            }
            match held.remaining.compare_exchange_weak(
                current,
                current - estimate,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(held.reservation(estimate)),
                Err(seen) => current = seen,
            }
        }
    }

    /// Drops what is held for `token_id` (its token or user changed: the next request leases afresh).
    pub fn forget(&self, token_id: i64) {
        // Token changes are rare, and their events name the token alone.
        let mut gone = Vec::new();
        self.held.retain(|(_, token), held| {
            let keep = *token != token_id;
            if !keep {
                gone.push(held.clone());
            }
            keep
        });
        for old in gone {
            old.retire();
        }
    }

    /// Returns every lease (on shutdown, after the last request finished).
    pub async fn return_all(&self) {
        let held: Vec<Arc<Held>> = self.held.iter().map(|h| h.clone()).collect();
        self.held.clear();
        for lease in held {
            if lease.returned.swap(true, Ordering::SeqCst) {
                continue;
            }
            let request = ReturnLeaseRequest { lease_id: lease.id.clone(), spent: lease.spent() };
            let _ = self.client.clone().return_lease(request).await;
        }
    }
}

/// The refusal of a request larger than what could be leased for it.
fn not_enough(caller: &Caller, available: i64, needed: i64) -> RelayError {
    if caller.unlimited_quota {
        return RelayError::Denied {
            reason: DenialReason::UserQuotaNotEnough,
            message: format!("user quota is not enough, user quota: {available}, need quota: {needed}"),
        };
    }
    RelayError::Denied {
        reason: DenialReason::TokenQuotaNotEnough,
        message: format!("token quota is not enough, token remain quota: {available}, need quota: {needed}"),
    }
}
