//! Channel jobs: control asks a connected relay to call an upstream (a test, its model list, its balance)
//! and waits for the answer. Control never calls upstreams itself, so keys, proxies and formats are handled
//! by the relay's one dispatcher. Jobs go round-robin to the relays subscribed with `WatchJobs`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use veloera_proto::v1::channel_job::Kind;
use veloera_proto::v1::{BalanceJob, ChannelJob, JobResult, ListModelsJob, TestJob};

use super::BoxStream;
use crate::error::ControlError;
use crate::routing::RoutableChannel;
use crate::state::AppState;

/// What to do with the channel.
#[derive(Debug, Clone)]
pub enum JobKind {
    Test { model: String },
    ListModels,
    Balance,
}

/// What the relay found.
#[derive(Debug, Clone, Default)]
pub struct JobOutcome {
    pub ok: bool,
    pub message: String,
    /// Upstream HTTP status; 0 when no answer came.
    pub status_code: i32,
    pub latency_ms: i64,
    pub models: Vec<String>,
    pub balance: f64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
}

#[derive(Default)]
pub struct JobHub {
    inner: Mutex<Hub>,
}

#[derive(Default)]
struct Hub {
    workers: Vec<(u64, mpsc::Sender<ChannelJob>)>,
    turn: usize,
    next_id: u64,
    pending: HashMap<String, oneshot::Sender<JobResult>>,
}

/// How long a job may take before the caller gets an error (a test may wait for a slow first byte).
const JOB_TIMEOUT: Duration = Duration::from_secs(120);

impl JobHub {
    /// Runs `kind` against `channel` with the key in `slot`, for `model` (the test model, or any of the
    /// channel's models for the other kinds).
    pub async fn run(
        &self,
        channel: &RoutableChannel,
        slot: usize,
        model: &str,
        kind: JobKind,
    ) -> Result<JobOutcome, ControlError> {
        let (done, answer) = oneshot::channel();
        let job_id = {
            let mut hub = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            hub.next_id += 1;
            let id = format!("job-{}", hub.next_id);
            hub.pending.insert(id.clone(), done);
            id
        };
        let job = ChannelJob {
            job_id: job_id.clone(),
            channel: Some(super::authorize::candidate_for_job(channel, slot, model)),
            kind: Some(match kind {
                JobKind::Test { model } => Kind::Test(TestJob { model }),
                JobKind::ListModels => Kind::ListModels(ListModelsJob {}),
                JobKind::Balance => Kind::Balance(BalanceJob {}),
            }),
        };
        if let Err(e) = self.dispatch(job) {
            self.forget(&job_id);
            return Err(e);
        }
        let result = tokio::time::timeout(JOB_TIMEOUT, answer).await;
        self.forget(&job_id);
        match result {
            Ok(Ok(r)) => Ok(JobOutcome {
                ok: r.ok,
                message: r.message,
                status_code: r.status_code,
                latency_ms: r.latency_ms,
                models: r.models,
                balance: r.balance,
                prompt_tokens: r.prompt_tokens,
                completion_tokens: r.completion_tokens,
            }),
            Ok(Err(_)) => Err(ControlError::Internal("the relay running the job went away".into())),
            Err(_) => Err(ControlError::BadRequest(format!("the channel did not answer within {JOB_TIMEOUT:?}"))),
        }
    }

    /// Hands the job to the next live relay.
    fn dispatch(&self, mut job: ChannelJob) -> Result<(), ControlError> {
        let mut hub = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        while !hub.workers.is_empty() {
            let i = hub.turn % hub.workers.len();
            hub.turn = hub.turn.wrapping_add(1);
            match hub.workers[i].1.try_send(job) {
                Ok(()) => return Ok(()),
                Err(mpsc::error::TrySendError::Full(j)) => job = j,
                Err(mpsc::error::TrySendError::Closed(j)) => {
                    job = j;
                    hub.workers.remove(i);
                }
            }
        }
        Err(ControlError::BadRequest("no relay is connected to run channel jobs; is relay-svc running?".into()))
    }

    fn forget(&self, job_id: &str) {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).pending.remove(job_id);
    }

    /// A relay's answer; answers to unknown (timed out) jobs are dropped.
    pub fn complete(&self, result: JobResult) {
        let waiter = self.inner.lock().unwrap_or_else(|p| p.into_inner()).pending.remove(&result.job_id);
        if let Some(w) = waiter {
            let _ = w.send(result);
        }
    }

    fn subscribe(&self) -> mpsc::Receiver<ChannelJob> {
        let (tx, rx) = mpsc::channel(64);
        let mut hub = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        hub.next_id += 1;
        let id = hub.next_id;
        hub.workers.push((id, tx));
        rx
    }
}

/// The job stream of one relay, until it disconnects or control shuts down.
pub fn stream(state: &AppState) -> BoxStream<ChannelJob> {
    let rx = state.jobs().subscribe();
    let shutdown = state.shutdown().clone();
    let jobs = futures::StreamExt::map(tokio_stream::wrappers::ReceiverStream::new(rx), Ok);
    Box::pin(futures::StreamExt::take_until(jobs, async move { shutdown.cancelled().await }))
}
