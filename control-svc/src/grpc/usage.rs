//! `ReportUsage`: each inbound batch is settled in one transaction, then acknowledged by request id.

use futures::StreamExt;
use tonic::Streaming;
use veloera_proto::fault::Fault;
use veloera_proto::v1::{Outcome, UsageAck, UsageBatch, UsageRecord};

use super::BoxStream;
use crate::db::usage::{Context, settle};
use crate::events::Change;
use crate::settlement::{ChatContent, FailedAttempt, UsageReport};
use crate::state::AppState;

/// More answers than one request may ask for (the relay's own bound on `n`); a larger report is read as this.
const MAX_ANSWERS: i64 = 1 << 16;

impl From<UsageRecord> for UsageReport {
    fn from(r: UsageRecord) -> Self {
        UsageReport {
            outcome: outcome_of(r.outcome),
            request_id: r.request_id,
            user_id: r.user_id,
            token_id: r.token_id,
            token_name: r.token_name,
            channel_id: r.channel_id,
            model: r.model,
            upstream_model: r.upstream_model,
            prompt_tokens: r.prompt_tokens.max(0),
            completion_tokens: r.completion_tokens.max(0),
            cached_tokens: r.cached_tokens.max(0),
            cache_creation_tokens: r.cache_creation_tokens.max(0),
            answers: r.answers.clamp(1, MAX_ANSWERS),
            latency_ms: r.latency_ms,
            first_byte_ms: r.first_byte_ms,
            stream: r.stream,
            group: r.group,
            client_ip: r.client_ip,
            created_at_secs: r.created_at_ms / 1000,
            key_slot: r.key_slot,
            lease_id: r.lease_id,
            content: r.content.map(|c| ChatContent { prompt: c.prompt, answer: c.answer }),
            failed_attempts: r
                .failed_attempts
                .into_iter()
                .map(|a| FailedAttempt {
                    channel_id: a.channel_id,
                    key_slot: a.key_slot,
                    status_code: a.status_code,
                    error: a.error,
                    fault: Fault::from_wire(a.fault),
                })
                .collect(),
        }
    }
}

fn outcome_of(wire: i32) -> crate::settlement::Outcome {
    use crate::settlement::Outcome as Ended;
    match Outcome::try_from(wire) {
        Ok(Outcome::Success) => Ended::Answered,
        Ok(Outcome::ClientCancelled) => Ended::Cancelled,
        Ok(Outcome::UpstreamError) => Ended::Failed,
        Ok(Outcome::Unspecified) | Err(_) => Ended::Unknown,
    }
}

/// Settles batches in arrival order; an ack is sent only after the batch's transaction committed.
/// The stream ends when control shuts down (a batch cut off mid-way rolls back; the relay resends it).
pub fn acknowledge(state: AppState, inbound: Streaming<UsageBatch>) -> BoxStream<UsageAck> {
    let shutdown = state.shutdown().clone();
    let acks = inbound.then(move |batch| {
        let state = state.clone();
        async move {
            let batch = batch?;
            let ids: Vec<String> = batch.records.iter().map(|r| r.request_id.clone()).collect();
            if ids.iter().any(|id| id.is_empty() || id.len() > 64) {
                return Err(tonic::Status::invalid_argument(
                    "every usage record needs a request id of 1-64 characters",
                ));
            }
            let reports: Vec<UsageReport> = batch.records.into_iter().map(UsageReport::from).collect();
            let started = std::time::Instant::now();
            let (options, channels) = (state.options(), state.channels());
            let settled = settle(state.db(), &Context { options: &options, channels: &channels }, &reports).await?;
            drop((options, channels));
            let failed = reports.iter().filter(|r| r.outcome == crate::settlement::Outcome::Failed).count() as u64;
            state.metrics().usage_settled(reports.len() as u64 - failed, failed, started.elapsed());
            state.metrics().health_changed(settled.health_changes.len());
            crate::notify::channel_notice::send(&state, &settled.health_changes);
            crate::notify::quota_warning::send(&state, &settled.quota_warnings).await;
            if settled.health_changed {
                state.reload_channels().await?;
            }
            for (token_id, key_digest_hex) in settled.exhausted_tokens {
                state.events().publish(Change::Token { token_id, key_digest_hex });
            }
            for user_id in settled.exhausted_users {
                state.events().publish(Change::User { user_id });
            }
            // Last: whoever waits on the count sees the batch's health changes in the routing snapshot too.
            state.count_settled(settled.newly_applied);
            Ok(UsageAck { request_ids: ids })
        }
    });
    Box::pin(acks.take_until(async move { shutdown.cancelled().await }))
}
