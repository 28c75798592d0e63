//! Failover: one request tries candidates until one answers, within bounds. Retries happen only before the
//! first byte of the answer reaches the client (the dispatcher reads a stream's first event and a JSON body
//! before handing the answer over), never for faults of the request itself, never on the key or channel that
//! just failed, at most `RetryTimes` times, within a relay-wide retry budget and a deadline.

mod budget;
pub mod cooldown;
mod plan;
pub(crate) mod verdict;

pub(crate) use verdict::fault_of;

use std::time::{Duration, Instant};

use crate::channel::{Channel, Target};
use crate::control::Authorized;
use crate::dispatch::{Dispatcher, Failure, Upstream, UpstreamCall};
use crate::error::RelayError;
use crate::usage::Metering;
use plan::{Pick, Plan};
use verdict::Scope;

/// What every request's failover shares on this relay.
pub struct Shared {
    pub cooldowns: cooldown::Cooldowns,
    pub budget: budget::RetryBudget,
    /// No retry starts later than this after the request arrived.
    pub deadline: Duration,
}

impl Shared {
    pub fn new(deadline: Duration) -> Self {
        Shared { cooldowns: Default::default(), budget: Default::default(), deadline }
    }
}

/// One request's attempts.
pub struct Failover<'a> {
    shared: &'a Shared,
    dispatcher: &'a Dispatcher,
    candidates: &'a [Channel],
    max_attempts: u32,
    attempts: u32,
    started: Instant,
    plan: Plan,
    /// Candidates this request may not use (a streaming request skips channels that cannot stream).
    skip: fn(&Channel) -> bool,
    /// Candidate and key index of the latest pick.
    picked: (usize, usize),
}

/// A request's failover between two homes: taken from the handler's [`Failover`] with its first target
/// chosen, and resumed by the task that answers (a whole answer delivered as a stream outlives the handler).
/// The retry budget was charged once, when the request's failover began; resuming charges nothing and draws
/// no new first target.
pub struct Detached {
    max_attempts: u32,
    attempts: u32,
    started: Instant,
    plan: Plan,
    skip: fn(&Channel) -> bool,
    picked: (usize, usize),
}

impl<'a> Failover<'a> {
    pub fn new(shared: &'a Shared, dispatcher: &'a Dispatcher, auth: &'a Authorized) -> Self {
        shared.budget.request();
        Failover {
            shared,
            dispatcher,
            candidates: auth.candidates(),
            max_attempts: 1 + auth.max_retries(),
            attempts: 0,
            started: Instant::now(),
            plan: Plan::default(),
            skip: |_| false,
            picked: (0, 0),
        }
    }

    /// This failover with `first` (its latest pick) as plain data, free of the handler's borrows.
    pub fn detach(self, first: Target<'a>) -> Detached {
        debug_assert!(std::ptr::eq(first.channel, &self.candidates[self.picked.0]));
        let Failover { max_attempts, attempts, started, plan, skip, picked, .. } = self;
        Detached { max_attempts, attempts, started, plan, skip, picked }
    }

    /// Picks up a [`Detached`] failover over the same authorization, with the target it had chosen.
    pub fn resume(
        shared: &'a Shared,
        dispatcher: &'a Dispatcher,
        auth: &'a Authorized,
        detached: Detached,
    ) -> Result<(Self, Target<'a>), RelayError> {
        let Detached { max_attempts, attempts, started, plan, skip, picked } = detached;
        let candidates = auth.candidates();
        let (i, k) = picked;
        let channel =
            candidates.get(i).ok_or_else(|| RelayError::UpstreamFailed("the chosen channel is gone".into()))?;
        let key = channel.keys.get(k).ok_or_else(|| RelayError::UpstreamFailed("the chosen key is gone".into()))?;
        let failover = Failover { shared, dispatcher, candidates, max_attempts, attempts, started, plan, skip, picked };
        Ok((failover, Target { channel, key }))
    }

    /// Leaves out the candidates for which `skip` is true (for retries; the first target is already chosen).
    pub fn skip(&mut self, skip: fn(&Channel) -> bool) {
        self.skip = skip;
    }

    /// The first target, chosen before anything is sent; when there is none the request ends, recorded as failed.
    pub fn first(&mut self, meter: &mut Metering) -> Result<Target<'a>, RelayError> {
        self.pick(None).inspect_err(|e| meter.rejected(e))
    }

    fn pick(&mut self, last: Option<Failure>) -> Result<Target<'a>, RelayError> {
        let candidates = self.candidates;
        let cooldowns = &self.shared.cooldowns;
        match self.plan.next(candidates, self.skip, |c, s| cooldowns.remaining(c, s), &mut rand::rng()) {
            Pick::Try(i, k) => {
                self.picked = (i, k);
                Ok(Target { channel: &candidates[i], key: &candidates[i].keys[k] })
            }
            Pick::CoolingDown(wait) => Err(match last {
                Some(f) if f.fault.status() != Some(429) => f.error,
                _ => RelayError::RateLimited {
                    retry_after: wait,
                    message: "the upstream is rate limited for this model; try again later".into(),
                },
            }),
            Pick::Exhausted => Err(match last {
                Some(f) => f.into_client_error(),
                None => RelayError::Denied {
                    reason: veloera_proto::v1::DenialReason::NoChannel,
                    message: "no available channel for this model".into(),
                },
            }),
        }
    }

    /// Sends to `target` (from [`Failover::first`]) and on to further targets while retrying is allowed; `build`
    /// writes the call for each. Returns the answer and the target that gave it; on failure the metering
    /// records every failed attempt and the request as failed.
    pub async fn send<F>(
        &mut self,
        mut target: Target<'a>,
        meter: &mut Metering,
        mut build: F,
    ) -> Result<(Upstream, Target<'a>), RelayError>
    where
        F: FnMut(&Target<'a>) -> Result<UpstreamCall, RelayError>,
    {
        loop {
            meter.use_target(&target);
            self.attempts += 1;
            let call = match build(&target) {
                Ok(call) => call,
                Err(e) => {
                    meter.rejected(&e);
                    return Err(e);
                }
            };
            let failure = match meter.waiting(self.dispatcher.send(call, &target.channel.keys)).await {
                Ok(upstream) => return Ok((upstream, target)),
                Err(f) => f,
            };
            meter.attempt_failed(&target, &failure);
            let verdict = verdict::of(&failure);
            if let Some(pause) = verdict.cool_down {
                self.shared.cooldowns.pause(target.channel.id, target.key.slot, pause, verdict.asked_to_wait);
            }
            tracing::info!(
                channel = target.channel.id.get(),
                slot = target.key.slot,
                fault = ?failure.fault,
                error = ?failure.error.to_string(),
                "upstream attempt failed"
            );
            let retry = verdict.scope != Scope::Request
                && self.attempts < self.max_attempts
                && self.started.elapsed() < self.shared.deadline
                && self.shared.budget.try_retry();
            if !retry {
                let error = failure.into_client_error();
                meter.rejected(&error);
                return Err(error);
            }
            self.plan.failed(verdict.scope);
            target = match self.pick(Some(failure)) {
                Ok(t) => t,
                Err(error) => {
                    meter.rejected(&error);
                    return Err(error);
                }
            };
        }
    }
}

impl Failure {
    /// What the client is told when this was the last attempt: a rate limit keeps its `Retry-After`.
    fn into_client_error(self) -> RelayError {
        match (self.fault.status(), self.retry_after) {
            (Some(429), Some(wait)) => {
                RelayError::RateLimited { retry_after: wait, message: self.error.public_message() }
            }
            _ => self.error,
        }
    }
}
