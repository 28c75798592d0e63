//! One usage record per request, sent when the request's `Metering` is dropped — so success, upstream
//! error and client disconnect (the response body dropped mid-stream) all report exactly once.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use veloera_proto::rules::quota_for_answers;
use veloera_proto::v1::{Attempt, EndpointKind, Outcome, Pricing, UsageRecord};

use crate::channel::Target;
use crate::content::Recording;
use crate::control::cache::CallerEntry;
use crate::control::leases::Reservation;
use crate::control::outbox::Outbox;
use crate::dispatch::Upstream;
use crate::error::RelayError;
use crate::failover::{FailedAttempt, Sent};
use crate::limits::Admission;
use crate::metrics::{Finished, Metrics};
use crate::providers::chat::Usage;

/// What a request's cost can be estimated from before it is sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct CostHint {
    /// Size of the request body (the prompt is estimated from it).
    pub input_bytes: usize,
    /// The client's output cap, when it set one.
    pub max_output: Option<u64>,
    /// Answers asked for at once (OpenAI `n` or `best_of`, image `n`, Gemini `candidateCount`); 0 means one.
    pub copies: u64,
}

impl CostHint {
    /// A request of `input_bytes` capped at `max_output`, asking for one answer.
    pub fn new(input_bytes: usize, max_output: Option<u64>) -> Self {
        CostHint { input_bytes, max_output, copies: 1 }
    }

    /// The same request asking for `copies` answers.
    pub fn times(self, copies: Option<u64>) -> Self {
        CostHint { copies: copies.unwrap_or(1), ..self }
    }

    fn copies(&self) -> i64 {
        self.copies.clamp(1, MAX_COPIES) as i64
    }

    /// The output tokens all answers together may take (the cap per answer times the answers), when capped.
    fn output_cap(&self) -> Option<i64> {
        self.max_output.map(|m| (m.min(MAX_OUTPUT) as i64).saturating_mul(self.copies()))
    }
}

/// Output tokens assumed when the client sets no cap (Veloera's `PreConsumedQuota` default).
const DEFAULT_OUTPUT_TOKENS: i64 = 500;
/// Bounds that keep the estimate's arithmetic finite; a request near them is refused as too costly anyway.
const MAX_OUTPUT: u64 = 1 << 24;
const MAX_COPIES: u64 = 1 << 16;

/// The quota to reserve for a request: its prompt estimated generously from its size (about three bytes a
/// token; CJK text runs closer to three bytes a token, English to four) plus its output cap for every answer
/// asked for. A price per call is reserved once per answer too (an image request's `n` images).
pub fn estimate(pricing: &Pricing, hint: CostHint) -> i64 {
    let prompt = (hint.input_bytes / 3) as i64 + 1;
    let output = hint.output_cap().unwrap_or(DEFAULT_OUTPUT_TOKENS.saturating_mul(hint.copies()));
    quota_for_answers(pricing, prompt, output, 0, 0, hint.copies()).max(1)
}

pub struct Metering {
    outbox: Outbox,
    caller: Arc<CallerEntry>,
    pricing: Pricing,
    record: UsageRecord,
    started: Instant,
    outcome: Outcome,
    /// The current target is answering (or about to): a failure from now on is its failure.
    attempt_open: bool,
    /// The estimate reserved from a quota lease, settled with the actual cost when the request ends.
    reservation: Option<Reservation>,
    /// What the request's cost was estimated from, and how much answer (bytes of JSON text) reached the client:
    /// a client that hangs up before the upstream reports usage is billed for those.
    hint: CostHint,
    said_bytes: usize,
    usage_seen: bool,
    /// The rate limits the request was admitted under, settled with its outcome and tokens.
    /// Boxed: most requests have none, and the meter stays small for them.
    admission: Option<Box<Admission>>,
    /// The prompt and answer, while chat-content logging is on (boxed for the same reason).
    content: Option<Box<Recording>>,
    metrics: Metrics,
    /// Upstream attempts made, time spent waiting for upstreams, and when the first byte was ready, for metrics.
    attempts: u32,
    upstream_wait: Duration,
    first_byte_after: Option<Duration>,
    /// The response to the client has begun (a stream, or a body streamed through): a failure from now on ends
    /// the answer instead of becoming an error response, so it is logged here (the request layer cannot).
    answering: bool,
    /// The request's end has been billed and reported ([`Metering::finish`]).
    finished: bool,
}

/// What the usage record says about the request itself.
pub struct RequestFacts<'a> {
    pub request_id: &'a str,
    pub model: &'a str,
    pub client_ip: &'a str,
    pub endpoint: EndpointKind,
    pub stream: bool,
}

impl Metering {
    pub fn start(outbox: Outbox, caller: Arc<CallerEntry>, pricing: Pricing, facts: RequestFacts<'_>) -> Self {
        let RequestFacts { request_id, model, client_ip, endpoint, stream } = facts;
        let c = &caller.caller;
        let record = UsageRecord {
            request_id: request_id.to_string(),
            user_id: c.user_id,
            token_id: c.token_id,
            token_name: c.token_name.clone(),
            model: model.to_string(),
            stream,
            group: c.group.clone(),
            client_ip: client_ip.to_string(),
            created_at_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0),
            endpoint: endpoint as i32,
            ..Default::default()
        };
        outbox.opened();
        // Until told otherwise, a request that ends is one the client abandoned.
        Metering {
            outbox,
            caller,
            pricing,
            record,
            started: Instant::now(),
            outcome: Outcome::ClientCancelled,
            attempt_open: false,
            reservation: None,
            hint: CostHint::default(),
            said_bytes: 0,
            usage_seen: false,
            admission: None,
            content: None,
            metrics: Metrics::default(),
            attempts: 0,
            upstream_wait: Duration::ZERO,
            first_byte_after: None,
            answering: false,
            finished: false,
        }
    }

    /// The response to the client begins now; what fails from here on fails mid-answer.
    pub fn answering(&mut self) {
        self.answering = true;
    }

    /// Records how the request ends into `metrics` too.
    pub fn measured_by(&mut self, metrics: Metrics) {
        self.metrics = metrics;
    }

    /// Records the request's prompt and answer with its usage record.
    pub fn record_content(&mut self, recording: Box<Recording>) {
        self.content = Some(recording);
    }

    /// Whether the answer is being recorded (so routes read its text only then).
    pub fn records_answer(&self) -> bool {
        self.content.is_some()
    }

    /// A piece of the answer's text, kept when the answer is being recorded.
    pub fn answer_text(&mut self, text: &str) {
        if let Some(content) = &mut self.content {
            content.answer(text);
        }
    }

    /// What the request's cost is estimated from.
    pub fn expect(&mut self, hint: CostHint) {
        self.record.answers = hint.copies();
        self.hint = hint;
    }

    /// Answer bytes passed on to the client.
    pub fn said(&mut self, bytes: usize) {
        self.said_bytes += bytes;
    }

    /// The answer said nothing: it is free.
    fn empty_answer(&mut self) {
        self.record.prompt_tokens = 0;
        self.record.completion_tokens = 0;
        self.record.cached_tokens = 0;
        self.record.cache_creation_tokens = 0;
        self.usage_seen = true;
    }

    /// The request was admitted against this reservation; its usage record names the lease.
    pub fn reserved(&mut self, reservation: Reservation) {
        self.record.lease_id = reservation.lease_id().to_string();
        self.reservation = Some(reservation);
    }

    /// The request was admitted under rate limits; they learn how it ended when it does.
    pub fn limited(&mut self, admission: Admission) {
        self.admission = Some(Box::new(admission));
    }

    /// The channel and key now serving the request; a candidate serving a virtual model is billed as its
    /// real model, at its own price.
    pub fn use_target(&mut self, t: &Target<'_>) {
        let channel = t.channel;
        crate::routes::request_id::record_target(channel.id.get(), t.key.slot);
        self.record.channel_id = channel.id.get();
        self.record.key_slot = t.key.slot;
        self.record.upstream_model.clone_from(&channel.upstream_model);
        if !channel.billed_model.is_empty() {
            self.record.model.clone_from(&channel.billed_model);
        }
        if let Some(p) = channel.pricing {
            self.pricing = p;
        }
        self.attempt_open = true;
        self.attempts += 1;
    }

    /// Records what a request's attempts did ([`Failover::send`]'s log) and passes its result on; an error
    /// ends the request, recorded as failed and finished.
    pub fn attempted<'a>(&mut self, sent: Sent<'a>) -> Result<(Upstream, Target<'a>), RelayError> {
        let Sent { result, log } = sent;
        self.upstream_wait += log.upstream_wait;
        for failed in &log.failed {
            self.use_target(&failed.target);
            self.attempt_failed(failed);
        }
        if let Some(last) = &log.last {
            self.use_target(last);
        }
        if let Err(e) = &result {
            self.rejected(e);
        }
        result
    }

    /// An attempt failed before answering; the request went on (or ended, rejected).
    fn attempt_failed(&mut self, failed: &FailedAttempt<'_>) {
        let channel = failed.target.channel.id.get();
        self.record.failed_attempts.push(Attempt {
            channel_id: channel,
            key_slot: failed.target.key.slot,
            status_code: i32::from(failed.status),
            error: failed.detail.chars().take(500).collect(),
            latency_ms: failed.after.as_millis() as i64,
            fault: failed.fault as i32,
        });
        self.attempt_open = false;
        self.metrics.upstream_error(channel, failed.kind);
    }

    /// The request ends unanswered for a reason that is no channel's failure (or whose attempts are recorded);
    /// it is finished.
    pub fn rejected(&mut self, error: &RelayError) {
        self.attempt_open = false;
        self.failed(error);
        self.finish();
    }

    pub fn first_byte(&mut self) {
        if self.first_byte_after.is_none() {
            let after = self.started.elapsed();
            self.first_byte_after = Some(after);
            self.record.first_byte_ms = after.as_millis().max(1) as i64;
        }
    }

    /// Usage in the shared representation (any wire format); the latest report replaces earlier ones.
    pub fn usage_of(&mut self, u: Usage) {
        self.usage_seen = true;
        self.record.prompt_tokens = u.input;
        self.record.completion_tokens = u.output;
        self.record.cached_tokens = u.cache_read;
        self.record.cache_creation_tokens = u.cache_write;
    }

    /// The answer reached the client in full: the one place every route and format ends a success. `usage` is
    /// the latest the answer reported (or was counted here); an answer that said nothing (no text, reasoning or
    /// tool call) is free, as in Veloera, whatever usage it reported.
    pub fn answered(&mut self, usage: Option<Usage>, said_something: bool) {
        if let Some(u) = usage {
            self.usage_of(u);
        }
        if !said_something {
            self.empty_answer();
        }
        self.outcome = Outcome::Success;
    }

    /// Passes `result` on; an error ends the request, recorded as failed and finished.
    pub fn check<T>(&mut self, result: Result<T, RelayError>) -> Result<T, RelayError> {
        if let Err(e) = &result {
            self.failed(e);
            self.finish();
        }
        result
    }

    /// The answering attempt failed (mid-stream, or its answer was unreadable): the request fails, and the
    /// attempt counts against its key.
    pub fn failed(&mut self, error: &RelayError) {
        let message = error.to_string();
        if self.answering {
            tracing::warn!(status = error.status_code(), error = ?message, "answer failed after the response began");
        }
        let status = error.status_code();
        if std::mem::take(&mut self.attempt_open) {
            self.record.failed_attempts.push(Attempt {
                channel_id: self.record.channel_id,
                key_slot: self.record.key_slot,
                status_code: 0,
                error: message.chars().take(500).collect(),
                latency_ms: self.started.elapsed().as_millis() as i64,
                fault: veloera_proto::v1::Fault::from(veloera_proto::fault::classify(0, &message)) as i32,
            });
            self.metrics.upstream_error(self.record.channel_id, "stream_broken");
        }
        self.outcome = Outcome::UpstreamError;
        self.record.status_code = status as i32;
        self.record.error_message = message.chars().take(500).collect();
    }
}

impl Metering {
    /// Ends the request: bills what it cost (nothing for a failure; for a client that hung up mid-answer, what
    /// reached it), settles its quota reservation and rate limits, records its metrics and sends its usage
    /// record. Every path calls it when its answer ends; once only, later calls do nothing.
    pub fn finish(&mut self) {
        if std::mem::replace(&mut self.finished, true) {
            return;
        }
        let mut record = std::mem::take(&mut self.record);
        record.content = self.content.take().map(|c| c.into_proto());
        let latency = self.started.elapsed();
        record.latency_ms = latency.as_millis() as i64;
        record.outcome = self.outcome as i32;
        if self.outcome == Outcome::ClientCancelled && !self.usage_seen && self.said_bytes > 0 {
            // The client hung up mid-answer before the upstream's usage arrived: bill the prompt (estimated from
            // its size) and what was delivered (about four bytes of JSON text a token), never more than its cap.
            record.prompt_tokens = (self.hint.input_bytes / 4) as i64;
            let said = (self.said_bytes / 4).max(1) as i64;
            record.completion_tokens = self.hint.output_cap().map_or(said, |cap| said.min(cap));
        }
        let quota = if self.outcome == Outcome::UpstreamError {
            0
        } else {
            let r = &record;
            quota_for_answers(
                &self.pricing,
                r.prompt_tokens,
                r.completion_tokens,
                r.cached_tokens,
                r.cache_creation_tokens,
                r.answers,
            )
        };
        // Count what this relay spent against the cached balance until control's settlement is visible.
        self.caller.spent.fetch_add(quota, Ordering::Relaxed);
        if let Some(reservation) = self.reservation.take() {
            reservation.settle(quota);
        }
        if let Some(mut admission) = self.admission.take() {
            admission.finish(self.outcome == Outcome::Success, record.prompt_tokens + record.completion_tokens);
        }
        if self.metrics.is_enabled() {
            self.metrics.request_finished(&Finished {
                endpoint: record.endpoint(),
                model: &record.model,
                channel: record.channel_id,
                status: match (record.status_code, self.outcome) {
                    (0, Outcome::Success) => 200,
                    // What nginx logs for a client that hung up.
                    (0, _) => 499,
                    (status, _) => u16::try_from(status).unwrap_or(0),
                },
                outcome: self.outcome,
                latency,
                first_byte: self.first_byte_after,
                upstream_wait: self.upstream_wait,
                attempts: self.attempts,
            });
        }
        self.outbox.send(record);
    }
}

/// The safety net: a request whose path never finished it (the client hung up, so its response future or body
/// stream was dropped) is finished here, as abandoned unless its answer had already ended.
impl Drop for Metering {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn per_token() -> Pricing {
        Pricing {
            model_ratio: 1.0,
            completion_ratio: 1.0,
            group_ratio: 1.0,
            quota_per_unit: 500_000,
            ..Default::default()
        }
    }

    #[test]
    fn every_answer_asked_for_is_reserved() {
        // 30 bytes: 11 prompt tokens; 10 output tokens per answer.
        let one = CostHint::new(30, Some(10));
        assert_eq!(estimate(&per_token(), one), 21);
        assert_eq!(estimate(&per_token(), one.times(Some(4))), 11 + 40);
        assert_eq!(estimate(&per_token(), one.times(Some(0))), 21, "n = 0 asks for one answer");
        // No cap: the default 500 tokens, per answer.
        assert_eq!(estimate(&per_token(), CostHint::new(30, None).times(Some(2))), 11 + 1000);
    }

    #[test]
    fn a_price_per_call_is_reserved_once_per_answer() {
        let priced = Pricing { model_price: Some(0.04), ..per_token() };
        assert_eq!(estimate(&priced, CostHint::default()), 20_000);
        assert_eq!(estimate(&priced, CostHint::default().times(Some(3))), 60_000);
    }

    fn meter() -> (Metering, tokio::sync::mpsc::UnboundedReceiver<UsageRecord>) {
        let (outbox, records) = Outbox::channel();
        let facts = RequestFacts {
            request_id: "r",
            model: "m",
            client_ip: "127.0.0.1",
            endpoint: veloera_proto::v1::EndpointKind::ChatCompletions,
            stream: false,
        };
        let caller = Arc::new(CallerEntry::new(veloera_proto::v1::Caller::default()));
        (Metering::start(outbox, caller.clone(), per_token(), facts), records)
    }

    #[test]
    fn a_finished_request_is_billed_and_reported_once_and_the_drop_adds_nothing() {
        let (mut meter, mut records) = meter();
        meter.answered(Some(Usage { input: 10, output: 5, ..Usage::default() }), true);
        meter.finish();
        let record = records.try_recv().expect("finish sends the record");
        assert_eq!((record.outcome, record.prompt_tokens, record.completion_tokens), (Outcome::Success as i32, 10, 5));
        let spent = meter.caller.spent.load(Ordering::Relaxed);
        assert_eq!(spent, 15);
        meter.finish();
        drop(meter);
        assert!(records.try_recv().is_err(), "a second finish and the drop send nothing");
    }

    #[test]
    fn an_unfinished_request_is_finished_by_its_drop_as_abandoned() {
        let (mut meter, mut records) = meter();
        meter.expect(CostHint::new(40, Some(100)));
        meter.said(20);
        drop(meter);
        let record = records.try_recv().expect("the drop is the safety net");
        assert_eq!(record.outcome, Outcome::ClientCancelled as i32);
        assert_eq!((record.prompt_tokens, record.completion_tokens), (10, 5), "billed for what reached the client");
    }

    #[test]
    fn absurd_caps_and_counts_stay_finite() {
        let huge = CostHint::new(usize::MAX / 2, Some(u64::MAX)).times(Some(u64::MAX));
        assert!(estimate(&per_token(), huge) > 1 << 40);
    }
}
