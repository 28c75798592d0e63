//! Runs the channel jobs control hands this relay (`WatchJobs`): a test request, the upstream's model list,
//! or its balance; each answered with `ReportJob`. Jobs use the same adaptors and dispatcher as client
//! requests, so a test exercises exactly what a request would.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use veloera_proto::v1::channel_job::Kind;
use veloera_proto::v1::{ChannelJob, JobResult, WatchJobsRequest};

use super::ControlLink;
use crate::channel::{Balance, Channel, Target};
use crate::dispatch::{Dispatcher, Failure, UpstreamCall, UpstreamFault};
use crate::error::RelayError;
use crate::providers::openai;
use crate::providers::{self, Format, chat};

/// Runs until `shutdown`: subscribe, run each job in its own task, reconnect on any break.
///
/// Each job's task is spawned on `tasks`, the relay's tracker, so shutdown waits for a job in flight to report.
pub async fn run(
    link: Arc<ControlLink>,
    dispatcher: Dispatcher,
    relay_id: String,
    tasks: TaskTracker,
    shutdown: CancellationToken,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let attempt = async {
            let mut stream =
                link.client().watch_jobs(WatchJobsRequest { relay_id: relay_id.clone() }).await?.into_inner();
            backoff = Duration::from_millis(100);
            while let Some(job) = stream.message().await? {
                let (link, dispatcher) = (link.clone(), dispatcher.clone());
                tasks.spawn(async move {
                    let result = perform(&dispatcher, job).await;
                    if let Err(e) = link.client().report_job(result).await {
                        tracing::warn!(error = ?e.message(), "could not report a channel job's result");
                    }
                });
            }
            Ok::<(), tonic::Status>(())
        };
        let outcome = tokio::select! {
            r = attempt => r,
            _ = shutdown.cancelled() => return,
        };
        if let Err(e) = outcome {
            tracing::debug!(error = ?e.message(), "job stream to control failed; reconnecting");
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = shutdown.cancelled() => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// Runs one job; every failure is reported, never raised.
pub async fn perform(dispatcher: &Dispatcher, job: ChannelJob) -> JobResult {
    let started = Instant::now();
    let mut result = JobResult { job_id: job.job_id.clone(), ..JobResult::default() };
    let (Some(channel), Some(kind)) = (job.channel, job.kind) else {
        result.message = "the job names no channel or no task".into();
        return result;
    };
    let channel = match Channel::try_from(channel) {
        Ok(c) => c,
        Err(why) => {
            result.message = why;
            return result;
        }
    };
    let Some(key) = channel.keys.first() else {
        result.message = "the channel has no key to use".into();
        return result;
    };
    let target = Target { channel: &channel, key };
    let outcome = match kind {
        Kind::Test(t) => test(dispatcher, &target, &t.model).await.map(|usage| {
            result.prompt_tokens = usage.input;
            result.completion_tokens = usage.output;
            "the channel answered".to_string()
        }),
        Kind::ListModels(_) => list_models(dispatcher, &target).await.map(|models| {
            let note = format!("{} models", models.len());
            result.models = models;
            note
        }),
        Kind::Balance(_) => balance(dispatcher, &target).await.map(|usd| {
            result.balance = usd;
            format!("balance {usd}")
        }),
    };
    result.latency_ms = started.elapsed().as_millis() as i64;
    match outcome {
        Ok(note) => {
            result.ok = true;
            result.message = note;
        }
        Err(f) => {
            result.status_code = i32::from(f.status());
            result.message = if f.detail.is_empty() { f.error.to_string() } else { f.detail };
        }
    }
    result
}

fn local(e: RelayError) -> Failure {
    Failure::without_answer(UpstreamFault::Malformed, e)
}

/// One small non-streaming request: embeddings for embedding models, a chat turn otherwise.
async fn test(dispatcher: &Dispatcher, target: &Target<'_>, model: &str) -> Result<chat::Usage, Failure> {
    let channel = target.channel;
    let wire = channel.format;
    if wire == Format::OpenAi && model.contains("embed") {
        let body = json!({ "model": channel.upstream_model, "input": "hi" }).to_string();
        let url = openai::endpoint_url(channel, "/v1/embeddings");
        let call = UpstreamCall::to_channel(target, url, Vec::new(), Bytes::from(body)).map_err(local)?;
        let body = dispatcher.send(call, &target.channel.keys).await?.body().await.map_err(local)?;
        let usage = openai::usage_from_body(&body).unwrap_or_default();
        return Ok(chat::Usage { input: usage.prompt_tokens, ..chat::Usage::default() });
    }
    let request = chat::Request {
        model: model.to_string(),
        messages: vec![chat::Message { role: chat::Role::User, parts: vec![chat::Part::Text("hi".into())] }],
        max_tokens: Some(16),
        ..chat::Request::default()
    };
    let (upstream_model, adjust) = providers::model_suffix::parse(wire, &channel.upstream_model);
    let mut request = request;
    adjust.apply(&mut request);
    let call = providers::chat_call(target, &request, &upstream_model).map_err(local)?;
    let body = dispatcher.send(call, &target.channel.keys).await?.body().await.map_err(local)?;
    let reply = providers::parse_reply(wire, &body, &upstream_model).map_err(local)?;
    Ok(reply.usage)
}

/// A GET to the channel's upstream with its credentials, read as JSON.
async fn get_json(dispatcher: &Dispatcher, target: &Target<'_>, url: String) -> Result<Value, Failure> {
    let headers = providers::wire_headers(target.channel.wire);
    let call = UpstreamCall::get(target, url, headers).map_err(local)?;
    let body = dispatcher.send(call, &target.channel.keys).await?.body().await.map_err(local)?;
    serde_json::from_slice(&body)
        .map_err(|e| local(RelayError::UpstreamFailed(format!("the upstream's answer is not JSON: {e}"))))
}

fn base(channel: &Channel) -> &str {
    channel.base_url.trim_end_matches('/')
}

/// The upstream's model ids.
async fn list_models(dispatcher: &Dispatcher, target: &Target<'_>) -> Result<Vec<String>, Failure> {
    let wire = target.channel.format;
    let url = match wire {
        Format::OpenAi => openai::endpoint_url(target.channel, "/v1/models"),
        Format::Anthropic => format!("{}/v1/models?limit=1000", base(target.channel)),
        Format::Gemini => format!("{}/v1beta/models?pageSize=1000", base(target.channel)),
    };
    let answer = get_json(dispatcher, target, url).await?;
    let (list, field) = match wire {
        Format::Gemini => (&answer["models"], "name"),
        _ => (&answer["data"], "id"),
    };
    let mut models: Vec<String> = list
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|m| m[field].as_str())
                .map(|id| id.trim_start_matches("models/").to_string())
                .collect()
        })
        .unwrap_or_default();
    if models.is_empty() && list.as_array().is_none() {
        return Err(local(RelayError::UpstreamFailed("the upstream's answer has no model list".into())));
    }
    models.sort();
    models.dedup();
    Ok(models)
}

/// The upstream account's remaining balance, by the channel type's balance API (Veloera reference §2.7).
async fn balance(dispatcher: &Dispatcher, target: &Target<'_>) -> Result<f64, Failure> {
    let number = |v: &Value| v.as_f64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()));
    let missing = |what: &str| local(RelayError::UpstreamFailed(format!("the upstream's answer has no {what}")));
    let channel = target.channel;
    match channel.balance {
        Balance::OpenAiDashboard => {
            let url = openai::endpoint_url(channel, "/v1/dashboard/billing/subscription");
            let sub = get_json(dispatcher, target, url).await?;
            let limit = number(&sub["hard_limit_usd"]).ok_or_else(|| missing("hard_limit_usd"))?;
            let today = usage_window();
            let path = format!("/v1/dashboard/billing/usage?start_date={}&end_date={}", today.0, today.1);
            let usage = get_json(dispatcher, target, openai::endpoint_url(channel, &path)).await?;
            let used_cents = number(&usage["total_usage"]).unwrap_or(0.0);
            Ok(limit - used_cents / 100.0)
        }
        Balance::DeepSeek => {
            let answer = get_json(dispatcher, target, format!("{}/user/balance", base(channel))).await?;
            number(&answer["balance_infos"][0]["total_balance"]).ok_or_else(|| missing("total_balance"))
        }
        Balance::SiliconFlow => {
            let answer = get_json(dispatcher, target, format!("{}/v1/user/info", base(channel))).await?;
            number(&answer["data"]["totalBalance"])
                .or_else(|| number(&answer["data"]["balance"]))
                .ok_or_else(|| missing("balance"))
        }
        Balance::OpenRouter => {
            let root = base(channel).trim_end_matches("/v1").trim_end_matches("/api");
            let answer = get_json(dispatcher, target, format!("{root}/api/v1/credits")).await?;
            let total = number(&answer["data"]["total_credits"]).ok_or_else(|| missing("total_credits"))?;
            Ok(total - number(&answer["data"]["total_usage"]).unwrap_or(0.0))
        }
        Balance::None => Err(local(RelayError::InvalidRequest(format!(
            "channel type {} has no balance API this gateway knows",
            channel.type_number
        )))),
    }
}

/// The usage window OpenAI's legacy billing API takes: the last 100 days up to tomorrow, as `YYYY-MM-DD`.
fn usage_window() -> (String, String) {
    let today = time::OffsetDateTime::now_utc().date();
    let day = |d: time::Date| format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day());
    (day(today - time::Duration::days(100)), day(today + time::Duration::days(1)))
}
