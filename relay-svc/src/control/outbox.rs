//! Usage reporting: finished requests are queued without blocking, sent to control in batches over the
//! `ReportUsage` stream, and kept until control acknowledges them (resent after a reconnect), so each
//! record reaches control at least once and control's idempotency ledger makes it count exactly once.

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use veloera_proto::in_flight::InFlight;
use veloera_proto::v1::{UsageBatch, UsageRecord};

use super::Client;
use crate::metrics::Metrics;

const MAX_BATCH: usize = 256;
/// Recorded chat content a batch carries at most before it is sent (each record's is at most 2 × 64 KiB), so a
/// batch stays well under gRPC's 4 MiB message limit.
const MAX_BATCH_CONTENT: usize = 1 << 20;

/// Bytes of recorded chat content in `record` (none while content logging is off).
fn content_bytes(record: &UsageRecord) -> usize {
    record.content.as_ref().map_or(0, |c| c.prompt.len() + c.answer.len())
}

/// `records` in batches of at most [`MAX_BATCH`] records and about [`MAX_BATCH_CONTENT`] bytes of content.
fn batches(records: Vec<UsageRecord>) -> Vec<Vec<UsageRecord>> {
    let mut out = Vec::new();
    let (mut batch, mut content) = (Vec::new(), 0);
    for r in records {
        content += content_bytes(&r);
        batch.push(r);
        if batch.len() >= MAX_BATCH || content >= MAX_BATCH_CONTENT {
            out.push(std::mem::take(&mut batch));
            content = 0;
        }
    }
    if !batch.is_empty() {
        out.push(batch);
    }
    out
}
const FLUSH_EVERY: Duration = Duration::from_millis(50);
/// How long shutdown waits for control to acknowledge what is still pending.
const DRAIN_DEADLINE: Duration = Duration::from_secs(5);

/// The handle request handlers use; sending never waits.
#[derive(Clone)]
pub struct Outbox {
    tx: mpsc::UnboundedSender<UsageRecord>,
    /// Requests from the start of their metering until control has committed their usage record: at zero,
    /// nothing this relay took can still change a balance or a log.
    unsettled: InFlight,
}

impl Outbox {
    pub fn channel() -> (Outbox, mpsc::UnboundedReceiver<UsageRecord>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Outbox { tx, unsettled: InFlight::default() }, rx)
    }

    /// A new queue that counts into the same unsettled requests (the service replaces its build-time outbox
    /// with the one its sender task drains).
    pub fn reopen(&self) -> (Outbox, mpsc::UnboundedReceiver<UsageRecord>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Outbox { tx, unsettled: self.unsettled.clone() }, rx)
    }

    /// The requests whose usage control has not acknowledged yet.
    pub fn unsettled(&self) -> InFlight {
        self.unsettled.clone()
    }

    /// A request began that will send one record.
    pub fn opened(&self) {
        self.unsettled.begun();
    }

    pub fn send(&self, record: UsageRecord) {
        if self.tx.send(record).is_err() {
            self.unsettled.ended(1);
            tracing::error!("usage outbox is closed; a usage record was dropped during shutdown");
        }
    }
}

/// Runs until `shutdown`, then drains: everything queued is sent and acknowledged, or logged as lost.
/// `metrics` learns how many records wait for an acknowledgement and how long acknowledgements take.
pub async fn run(
    client: Client,
    mut rx: mpsc::UnboundedReceiver<UsageRecord>,
    unsettled: InFlight,
    shutdown: CancellationToken,
    metrics: Metrics,
) {
    let mut pending: HashMap<String, UsageRecord, foldhash::fast::RandomState> = HashMap::default();
    let mut backoff = Duration::from_millis(100);
    let mut draining = false;
    let mut rx_done = false;
    loop {
        let (batch_tx, batch_rx) = mpsc::channel::<UsageBatch>(64);
        let mut acks = match client.clone().report_usage(tokio_stream::wrappers::ReceiverStream::new(batch_rx)).await {
            Ok(r) => r.into_inner(),
            Err(e) => {
                tracing::warn!(error = ?e.message(), pending = pending.len(), "cannot open the usage stream; retrying");
                draining |= shutdown.is_cancelled();
                if !wait_or_give_up(&mut backoff, draining, &shutdown, &pending).await {
                    return;
                }
                continue;
            }
        };
        // Resend what control has not acknowledged yet.
        let unacked: Vec<UsageRecord> = pending.values().cloned().collect();
        for records in batches(unacked) {
            if batch_tx.send(UsageBatch { records }).await.is_err() {
                break;
            }
        }
        let mut buffer: Vec<UsageRecord> = Vec::new();
        let mut buffer_content = 0;
        let mut tick = tokio::time::interval(FLUSH_EVERY);
        let deadline = tokio::time::sleep(DRAIN_DEADLINE);
        tokio::pin!(deadline);
        let broken = loop {
            if draining && rx_done && buffer.is_empty() && pending.is_empty() {
                return;
            }
            tokio::select! {
                rec = rx.recv(), if !rx_done => match rec {
                    Some(r) => {
                        if pending.insert(r.request_id.clone(), r.clone()).is_some() {
                            // A record for the same request replaces the first; it is settled once.
                            unsettled.ended(1);
                        }
                        metrics.usage_pending(pending.len());
                        buffer_content += content_bytes(&r);
                        buffer.push(r);
                        if buffer.len() >= MAX_BATCH || buffer_content >= MAX_BATCH_CONTENT {
                            buffer_content = 0;
                            if batch_tx.send(UsageBatch { records: std::mem::take(&mut buffer) }).await.is_err() {
                                break true;
                            }
                        }
                    }
                    None => { rx_done = true; draining = true; }
                },
                _ = tick.tick() => {
                    buffer_content = 0;
                    if !buffer.is_empty() && batch_tx.send(UsageBatch { records: std::mem::take(&mut buffer) }).await.is_err() {
                        break true;
                    }
                }
                ack = acks.next() => match ack {
                    Some(Ok(ack)) => {
                        let mut settled = 0;
                        for id in ack.request_ids {
                            if let Some(r) = pending.remove(&id) {
                                metrics.usage_acknowledged(since_queued(&r));
                                settled += 1;
                            }
                        }
                        metrics.usage_pending(pending.len());
                        unsettled.ended(settled);
                        backoff = Duration::from_millis(100);
                    }
                    Some(Err(e)) => { tracing::warn!(error = ?e.message(), "usage stream failed"); break true; }
                    None => break true,
                },
                _ = shutdown.cancelled(), if !draining => {
                    draining = true;
                    rx.close();
                }
                _ = &mut deadline, if draining => {
                    tracing::error!(lost = pending.len(), "control did not acknowledge all usage before shutdown");
                    return;
                }
            }
        };
        if broken && !wait_or_give_up(&mut backoff, draining, &shutdown, &pending).await {
            return;
        }
    }
}

/// How long ago `record` was queued: its request ended (started plus its latency) just before.
fn since_queued(record: &UsageRecord) -> Duration {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let queued = (record.created_at_ms + record.latency_ms).max(0) as u64;
    now.saturating_sub(Duration::from_millis(queued))
}

/// Sleeps before a reconnect; during a drain gives up (logging what is lost) instead of retrying forever.
async fn wait_or_give_up(
    backoff: &mut Duration,
    draining: bool,
    shutdown: &CancellationToken,
    pending: &HashMap<String, UsageRecord, foldhash::fast::RandomState>,
) -> bool {
    if draining {
        if !pending.is_empty() {
            tracing::error!(
                lost = pending.len(),
                "control is unreachable at shutdown; usage records were not delivered"
            );
        }
        return false;
    }
    tokio::select! {
        _ = tokio::time::sleep(*backoff) => {}
        _ = shutdown.cancelled() => {}
    }
    *backoff = (*backoff * 2).min(Duration::from_secs(5));
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use veloera_proto::v1::ChatContent;

    fn record(content: usize) -> UsageRecord {
        let content = (content > 0).then(|| ChatContent { prompt: "p".repeat(content), answer: String::new() });
        UsageRecord { request_id: "r".into(), content, ..Default::default() }
    }

    #[test]
    fn batches_are_bounded_by_count_and_by_recorded_content() {
        let sizes = |b: Vec<Vec<UsageRecord>>| b.iter().map(Vec::len).collect::<Vec<_>>();
        assert_eq!(sizes(batches((0..600).map(|_| record(0)).collect())), vec![256, 256, 88]);
        // 128 KiB each: eight of them reach 1 MiB.
        assert_eq!(sizes(batches((0..20).map(|_| record(128 << 10)).collect())), vec![8, 8, 4]);
        assert!(batches(Vec::new()).is_empty());
    }
}
