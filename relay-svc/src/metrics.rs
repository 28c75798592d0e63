//! The relay's Prometheus metrics: every series' name and labels, the few functions the request path calls to
//! record, and the exposition served on a listener of its own (`METRICS_ADDR`), never on the public port.
//!
//! Each relay owns its recorder (no process-wide one), so several relays in one process keep apart. With
//! `METRICS_ADDR` unset, [`Metrics`] is empty and every recording function is one branch. Labels are bounded:
//! routes are an enum, channels are control's ids, and a model becomes a label only after authorization found it
//! in the catalogue, and only up to [`MAX_MODELS`] names (later ones are counted as `other`).

use std::collections::HashSet;
use std::hash::BuildHasher;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use dashmap::DashMap;
use metrics::{Counter, Gauge, Histogram, Key, Label, Recorder};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use veloera_proto::v1::{EndpointKind, Outcome};

use crate::control::ControlLink;
use crate::error::RelayError;

/// Distinct model labels one relay creates at most.
pub const MAX_MODELS: usize = 512;
/// The model label of requests past [`MAX_MODELS`].
const OTHER_MODEL: &str = "other";

pub const REQUESTS: &str = "veloera_relay_requests_total";
pub const LATENCY: &str = "veloera_relay_request_duration_seconds";
pub const FIRST_BYTE: &str = "veloera_relay_time_to_first_byte_seconds";
pub const OVERHEAD: &str = "veloera_relay_overhead_seconds";
pub const RETRIES: &str = "veloera_relay_retries_total";
pub const UPSTREAM_ERRORS: &str = "veloera_relay_upstream_errors_total";
pub const REFUSALS: &str = "veloera_relay_refusals_total";
pub const CACHE_LOOKUPS: &str = "veloera_relay_auth_cache_lookups_total";
pub const USAGE_PENDING: &str = "veloera_relay_usage_pending";
pub const USAGE_ACK_LAG: &str = "veloera_relay_usage_ack_lag_seconds";
pub const LEASES_HELD: &str = "veloera_relay_leases_held";
pub const LEASE_QUOTA_HELD: &str = "veloera_relay_lease_quota_remaining";

const SECONDS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0];
/// The gateway's own time is counted in microseconds to milliseconds.
const OVERHEAD_SECONDS: &[f64] = &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0];

/// The relay's metrics; cheap to clone, empty (recording nothing) when metrics are off.
#[derive(Clone, Default)]
pub struct Metrics(Option<Arc<Registry>>);

struct Registry {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    /// Per-request series by a hash of their labels, so a warm request builds no key (see [`SeriesLabels`]).
    series: DashMap<u64, Arc<RequestSeries>, foldhash::fast::RandomState>,
    hasher: foldhash::fast::RandomState,
    models: RwLock<HashSet<Box<str>>>,
    cache_hit: Counter,
    cache_miss: Counter,
    usage_pending: Gauge,
    usage_ack_lag: Histogram,
    leases_held: Gauge,
    lease_quota: Gauge,
}

/// The series one kind of request (route, model, channel, status, outcome) records into.
struct RequestSeries {
    labels: SeriesLabels,
    requests: Counter,
    latency: Histogram,
    first_byte: Histogram,
    overhead: Histogram,
    retries: Counter,
}

#[derive(PartialEq, Eq, Hash, Clone)]
struct SeriesLabels {
    route: i32,
    model: Box<str>,
    channel: i64,
    status: u16,
    outcome: i32,
}

/// How one admitted request ended, as its metering saw it.
pub struct Finished<'a> {
    pub endpoint: EndpointKind,
    /// The model as billed (a name from the catalogue: authorization found channels for it).
    pub model: &'a str,
    /// The channel that answered or failed last (0 when none was tried).
    pub channel: i64,
    /// The HTTP status the client got (200 for an answer).
    pub status: u16,
    pub outcome: Outcome,
    pub latency: Duration,
    pub first_byte: Option<Duration>,
    /// Time spent waiting for upstreams until the first byte (every attempt's).
    pub upstream_wait: Duration,
    /// Upstream attempts made (retries are the ones after the first).
    pub attempts: u32,
}

impl Metrics {
    /// Metrics recorded into a registry of this relay's own.
    pub fn enabled() -> Result<Metrics, String> {
        let bucket_error = |e: metrics_exporter_prometheus::BuildError| format!("metrics buckets: {e}");
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(OVERHEAD.into()), OVERHEAD_SECONDS)
            .map_err(bucket_error)?
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS)
            .map_err(bucket_error)?
            .build_recorder();
        let counter = |name: &'static str, labels: Vec<Label>| register_counter(&recorder, name, labels);
        let cache_hit = counter(CACHE_LOOKUPS, vec![Label::new("result", "hit")]);
        let cache_miss = counter(CACHE_LOOKUPS, vec![Label::new("result", "miss")]);
        let gauge = |name: &'static str| recorder.register_gauge(&Key::from_static_name(name), &metadata());
        let registry = Registry {
            handle: recorder.handle(),
            series: DashMap::default(),
            hasher: Default::default(),
            models: RwLock::default(),
            cache_hit,
            cache_miss,
            usage_pending: gauge(USAGE_PENDING),
            usage_ack_lag: recorder.register_histogram(&Key::from_static_name(USAGE_ACK_LAG), &metadata()),
            leases_held: gauge(LEASES_HELD),
            lease_quota: gauge(LEASE_QUOTA_HELD),
            recorder,
        };
        Ok(Metrics(Some(Arc::new(registry))))
    }

    pub fn is_enabled(&self) -> bool {
        self.0.is_some()
    }

    /// An admitted request ended: its count, latency, time to first byte, the gateway's own share of that time,
    /// and its retries.
    pub fn request_finished(&self, f: &Finished<'_>) {
        let Some(r) = &self.0 else { return };
        let series = r.series_for(f);
        series.requests.increment(1);
        series.latency.record(f.latency.as_secs_f64());
        if let Some(first_byte) = f.first_byte {
            series.first_byte.record(first_byte.as_secs_f64());
            series.overhead.record(first_byte.saturating_sub(f.upstream_wait).as_secs_f64());
        }
        if f.attempts > 1 {
            series.retries.increment(u64::from(f.attempts - 1));
        }
    }

    /// An upstream attempt failed before answering, or its answer broke off (`failure` is `None`).
    /// An upstream attempt failed; `kind` from [`error_kind`], or `stream_broken` for an answer cut off.
    pub fn upstream_error(&self, channel: i64, kind: &'static str) {
        let Some(r) = &self.0 else { return };
        let labels = vec![Label::new("channel", channel.to_string()), Label::new("kind", kind)];
        register_counter(&r.recorder, UPSTREAM_ERRORS, labels).increment(1);
    }

    /// A request was refused before any upstream was called: denied by authorization (by reason), by a rate
    /// limit, or for blocked words. Other errors (control unreachable, bad request) are not refusals.
    pub fn refused(&self, error: &RelayError) {
        let Some(r) = &self.0 else { return };
        let reason = match error {
            RelayError::Denied { reason, .. } => unprefixed(reason.as_str_name(), "DENIAL_REASON_"),
            RelayError::RateLimited { .. } => "RATE_LIMITED",
            RelayError::LimitsUnavailable(_) => "LIMITS_UNAVAILABLE",
            RelayError::SensitiveWords { .. } => "BLOCKED_WORDS",
            _ => return,
        };
        register_counter(&r.recorder, REFUSALS, vec![Label::new("reason", reason)]).increment(1);
    }

    /// An authorization was answered from the caches (`hit`) or needed a call to control.
    pub fn auth_cache(&self, hit: bool) {
        let Some(r) = &self.0 else { return };
        if hit { r.cache_hit.increment(1) } else { r.cache_miss.increment(1) }
    }

    /// Usage records not yet acknowledged by control.
    pub fn usage_pending(&self, records: usize) {
        let Some(r) = &self.0 else { return };
        r.usage_pending.set(records as f64);
    }

    /// Control acknowledged a usage record queued `lag` ago.
    pub fn usage_acknowledged(&self, lag: Duration) {
        let Some(r) = &self.0 else { return };
        r.usage_ack_lag.record(lag.as_secs_f64());
    }

    /// The exposition text, with the gauges read from the relay's state first.
    fn render(&self, link: &ControlLink) -> String {
        let Some(r) = &self.0 else { return String::new() };
        let (held, quota) = link.leases.held();
        r.leases_held.set(held as f64);
        r.lease_quota.set(quota as f64);
        r.handle.render()
    }
}

impl Registry {
    fn series_for(&self, f: &Finished<'_>) -> Arc<RequestSeries> {
        let (route, outcome) = (f.endpoint as i32, f.outcome as i32);
        let hash = self.hasher.hash_one((route, f.model, f.channel, f.status, outcome));
        if let Some(s) = self.series.get(&hash)
            && (s.labels.route, &*s.labels.model, s.labels.channel, s.labels.status, s.labels.outcome)
                == (route, f.model, f.channel, f.status, outcome)
        {
            return s.clone();
        }
        let labels =
            SeriesLabels { route, model: self.model_label(f.model), channel: f.channel, status: f.status, outcome };
        let series = Arc::new(self.register_series(labels));
        // A model folded into `other` is not cached under its own hash, so the bound holds for the cache too.
        if &*series.labels.model == f.model {
            self.series.insert(hash, series.clone());
        }
        series
    }

    /// `model` while fewer than [`MAX_MODELS`] names have been seen, else `other`.
    fn model_label(&self, model: &str) -> Box<str> {
        let known = self.models.read().map(|m| m.contains(model)).unwrap_or(false);
        if known {
            return model.into();
        }
        let Ok(mut models) = self.models.write() else { return OTHER_MODEL.into() };
        if models.len() >= MAX_MODELS {
            return OTHER_MODEL.into();
        }
        models.insert(model.into());
        model.into()
    }

    fn register_series(&self, labels: SeriesLabels) -> RequestSeries {
        let route = EndpointKind::try_from(labels.route).map_or("UNSPECIFIED", |e| e.as_str_name());
        let outcome = Outcome::try_from(labels.outcome).map_or("UNSPECIFIED", |o| o.as_str_name());
        let (route, outcome) = (unprefixed(route, "ENDPOINT_KIND_"), unprefixed(outcome, "OUTCOME_"));
        let all = vec![
            Label::new("route", route),
            Label::new("model", labels.model.to_string()),
            Label::new("channel", labels.channel.to_string()),
            Label::new("status", labels.status.to_string()),
            Label::new("outcome", outcome),
        ];
        // Histograms and retries leave out status and outcome: fewer series, the same questions answered.
        let fewer = all[..3].to_vec();
        let histogram =
            |name: &'static str| self.recorder.register_histogram(&Key::from_parts(name, fewer.clone()), &metadata());
        RequestSeries {
            requests: register_counter(&self.recorder, REQUESTS, all),
            latency: histogram(LATENCY),
            first_byte: histogram(FIRST_BYTE),
            overhead: histogram(OVERHEAD),
            retries: register_counter(&self.recorder, RETRIES, fewer.clone()),
            labels,
        }
    }
}

/// A protobuf enum value's name without the enum's prefix (`ENDPOINT_KIND_CHAT_COMPLETIONS` is `CHAT_COMPLETIONS`).
pub(crate) fn unprefixed(name: &'static str, prefix: &str) -> &'static str {
    name.strip_prefix(prefix).unwrap_or(name)
}

fn metadata() -> metrics::Metadata<'static> {
    metrics::Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()))
}

fn register_counter(recorder: &PrometheusRecorder, name: &'static str, labels: Vec<Label>) -> Counter {
    recorder.register_counter(&Key::from_parts(name, labels), &metadata())
}

/// The kind of an upstream failure, from its status (0: no answer came: connect error, reset or timeout).
pub(crate) fn error_kind(fault: &crate::dispatch::UpstreamFault) -> &'static str {
    use crate::dispatch::UpstreamFault;
    match fault {
        UpstreamFault::Connect => "connect",
        UpstreamFault::Timeout(_) => "timeout",
        UpstreamFault::Status { status: 429, .. } => "rate_limited",
        UpstreamFault::Status { status: 401 | 403, .. } => "unauthorized",
        UpstreamFault::Status { status: 400..=499, .. } => "rejected",
        UpstreamFault::Status { .. } => "server_error",
        UpstreamFault::Malformed => "malformed",
        UpstreamFault::StreamCut => "stream_cut",
    }
}

/// Serves `GET /metrics` on `listener` until `stop`, running the exporter's upkeep (draining histogram samples
/// so memory stays bounded between scrapes) meanwhile.
pub async fn serve(listener: TcpListener, metrics: Metrics, link: Arc<ControlLink>, stop: CancellationToken) {
    let Some(registry) = metrics.0.clone() else { return };
    let router = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let (metrics, link) = (metrics.clone(), link.clone());
            async move { ([(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], metrics.render(&link)) }
        }),
    );
    let upkeep = async {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            registry.handle.run_upkeep();
        }
    };
    let served = axum::serve(listener, router).with_graceful_shutdown(stop.cancelled_owned());
    tokio::select! {
        result = served => if let Err(e) = result {
            tracing::error!(error = %e, "metrics listener failed");
        },
        _ = upkeep => {}
    }
}

/// Binds the metrics listener when `addr` is set.
pub async fn bind(addr: Option<SocketAddr>) -> Result<Option<TcpListener>, String> {
    let Some(addr) = addr else { return Ok(None) };
    TcpListener::bind(addr).await.map(Some).map_err(|e| format!("METRICS_ADDR: cannot listen on {addr}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(model: &str) -> Finished<'_> {
        Finished {
            endpoint: EndpointKind::ChatCompletions,
            model,
            channel: 1,
            status: 200,
            outcome: Outcome::Success,
            latency: Duration::from_millis(30),
            first_byte: Some(Duration::from_millis(20)),
            upstream_wait: Duration::from_millis(19),
            attempts: 2,
        }
    }

    #[test]
    fn models_past_the_bound_are_counted_as_other() {
        let metrics = Metrics::enabled().unwrap();
        for i in 0..MAX_MODELS + 20 {
            metrics.request_finished(&finished(&format!("model-{i}")));
        }
        let text = metrics.0.as_ref().unwrap().handle.render();
        let series = text.lines().filter(|l| l.starts_with(REQUESTS)).count();
        assert_eq!(series, MAX_MODELS + 1);
        assert!(text.contains(r#"model="other""#), "{text}");
    }

    #[test]
    fn a_finished_request_records_count_latency_overhead_and_retries() {
        let metrics = Metrics::enabled().unwrap();
        metrics.request_finished(&finished("gpt-x"));
        metrics.request_finished(&finished("gpt-x"));
        let text = metrics.0.as_ref().unwrap().handle.render();
        let has = |line: &str| text.lines().any(|l| l == line);
        let labels = r#"route="CHAT_COMPLETIONS",model="gpt-x",channel="1""#;
        assert!(has(&format!(r#"{REQUESTS}{{{labels},status="200",outcome="SUCCESS"}} 2"#)), "{text}");
        assert!(has(&format!("{RETRIES}{{{labels}}} 2")), "{text}");
        assert!(has(&format!("{LATENCY}_count{{{labels}}} 2")), "{text}");
        // 20 ms to the first byte, 19 of them upstream: 1 ms is the gateway's.
        assert!(has(&format!(r#"{OVERHEAD}_bucket{{{labels},le="0.001"}} 2"#)), "{text}");
        assert!(has(&format!(r#"{OVERHEAD}_bucket{{{labels},le="0.0005"}} 0"#)), "{text}");
    }
}
