//! control's Prometheus metrics: usage settlement, authorization decisions and health changes as they happen, and
//! at scrape time the per-channel and per-key health and the open quota leases read from the database. Served on a
//! listener of its own (`METRICS_ADDR`), never on the admin port.
//!
//! Each control owns its recorder (no process-wide one). With `METRICS_ADDR` unset, [`Metrics`] is empty and every
//! recording function is one branch. Labels are bounded: channels and keys are the catalogue's, reasons are enums.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, Key, Label, Recorder};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use tokio::net::TcpListener;
use veloera_admin_types::ChannelStatus;
use veloera_proto::v1::DenialReason;

use crate::error::ControlError;
use crate::state::AppState;

pub const USAGE_RECORDS: &str = "veloera_control_usage_records_total";
pub const USAGE_BATCH_SECONDS: &str = "veloera_control_usage_batch_seconds";
pub const AUTHORIZATIONS: &str = "veloera_control_authorizations_total";
pub const HEALTH_CHANGES: &str = "veloera_control_health_changes_total";
pub const CHANNEL_ENABLED: &str = "veloera_control_channel_enabled";
pub const KEY_ENABLED: &str = "veloera_control_channel_key_enabled";
pub const KEY_REQUESTS: &str = "veloera_control_channel_key_requests";
pub const KEY_ERRORS: &str = "veloera_control_channel_key_errors";
pub const LEASES_OPEN: &str = "veloera_control_leases_open";
pub const LEASE_QUOTA_OPEN: &str = "veloera_control_lease_quota_open";

const SECONDS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// control's metrics; cheap to clone, empty (recording nothing) when metrics are off.
#[derive(Clone, Default)]
pub struct Metrics(Option<Arc<Registry>>);

struct Registry {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    usage_billable: Counter,
    usage_failed: Counter,
    usage_batch: Histogram,
    granted: Counter,
    leases_open: Gauge,
    lease_quota: Gauge,
}

impl Metrics {
    /// Metrics recorded into a registry of this control's own.
    pub fn enabled() -> Result<Metrics, ControlError> {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS)
            .map_err(|e| ControlError::Internal(format!("metrics buckets: {e}")))?
            .build_recorder();
        let key = |name: &'static str, labels: Vec<Label>| Key::from_parts(name, labels);
        let registry = Registry {
            handle: recorder.handle(),
            usage_billable: recorder
                .register_counter(&key(USAGE_RECORDS, vec![Label::new("outcome", "billable")]), &metadata()),
            usage_failed: recorder
                .register_counter(&key(USAGE_RECORDS, vec![Label::new("outcome", "failed")]), &metadata()),
            usage_batch: recorder.register_histogram(&Key::from_static_name(USAGE_BATCH_SECONDS), &metadata()),
            granted: recorder
                .register_counter(&key(AUTHORIZATIONS, vec![Label::new("decision", "GRANT")]), &metadata()),
            leases_open: recorder.register_gauge(&Key::from_static_name(LEASES_OPEN), &metadata()),
            lease_quota: recorder.register_gauge(&Key::from_static_name(LEASE_QUOTA_OPEN), &metadata()),
            recorder,
        };
        Ok(Metrics(Some(Arc::new(registry))))
    }

    pub fn is_enabled(&self) -> bool {
        self.0.is_some()
    }

    /// A usage batch was settled in `took`: `billable` and `failed` records in it.
    pub fn usage_settled(&self, billable: u64, failed: u64, took: Duration) {
        let Some(r) = &self.0 else { return };
        r.usage_billable.increment(billable);
        r.usage_failed.increment(failed);
        r.usage_batch.record(took.as_secs_f64());
    }

    /// An `Authorize` call was answered: a grant, or a denial for `reason`.
    pub fn authorized(&self, denial: Option<DenialReason>) {
        let Some(r) = &self.0 else { return };
        match denial {
            None => r.granted.increment(1),
            Some(reason) => {
                let name = reason.as_str_name();
                let decision = name.strip_prefix("DENIAL_REASON_").unwrap_or(name);
                r.counter(AUTHORIZATIONS, vec![Label::new("decision", decision)]).increment(1)
            }
        }
    }

    /// Settlement disabled or enabled keys or channels (`changes` of them) by the health policy.
    pub fn health_changed(&self, changes: usize) {
        let Some(r) = &self.0 else { return };
        if changes > 0 {
            r.counter(HEALTH_CHANGES, Vec::new()).increment(changes as u64);
        }
    }

    /// The exposition text, with channel and key health and open leases read from the database first.
    async fn render(&self, state: &AppState) -> Result<String, ControlError> {
        let Some(r) = &self.0 else { return Ok(String::new()) };
        for channel in crate::db::gauges::channel_health(state.db()).await? {
            let id = channel.channel_id.to_string();
            let enabled = channel.status == ChannelStatus::Enabled.as_i64();
            r.gauge(CHANNEL_ENABLED, vec![Label::new("channel", id.clone())]).set(f64::from(u8::from(enabled)));
            for k in channel.keys {
                let labels = vec![Label::new("channel", id.clone()), Label::new("key", k.key)];
                let enabled = k.status == ChannelStatus::Enabled.as_i64();
                r.gauge(KEY_ENABLED, labels.clone()).set(f64::from(u8::from(enabled)));
                r.gauge(KEY_REQUESTS, labels.clone()).set(k.requests as f64);
                r.gauge(KEY_ERRORS, labels).set(k.errors as f64);
            }
        }
        let (open, quota) = crate::db::gauges::open_leases(state.db()).await?;
        r.leases_open.set(open as f64);
        r.lease_quota.set(quota as f64);
        Ok(r.handle.render())
    }
}

impl Registry {
    fn counter(&self, name: &'static str, labels: Vec<Label>) -> Counter {
        self.recorder.register_counter(&Key::from_parts(name, labels), &metadata())
    }

    fn gauge(&self, name: &'static str, labels: Vec<Label>) -> Gauge {
        self.recorder.register_gauge(&Key::from_parts(name, labels), &metadata())
    }
}

fn metadata() -> metrics::Metadata<'static> {
    metrics::Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()))
}

/// Binds the metrics listener when `addr` is set.
pub async fn bind(addr: Option<SocketAddr>) -> Result<Option<TcpListener>, ControlError> {
    let Some(addr) = addr else { return Ok(None) };
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| ControlError::Internal(format!("METRICS_ADDR: cannot listen on {addr}: {e}")))?;
    Ok(Some(listener))
}

/// Serves `GET /metrics` on `listener` until control shuts down, running the exporter's upkeep (draining
/// histogram samples so memory stays bounded between scrapes) meanwhile.
pub async fn serve(listener: TcpListener, state: AppState) {
    let Some(registry) = state.metrics().0.clone() else { return };
    let scraped = state.clone();
    let router = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let state = scraped.clone();
            async move {
                match state.metrics().render(&state).await {
                    Ok(text) => Ok(([(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)),
                    Err(e) => {
                        tracing::warn!(error = %e, "metrics: cannot read the database");
                        Err(http::StatusCode::SERVICE_UNAVAILABLE)
                    }
                }
            }
        }),
    );
    let upkeep = async {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            registry.handle.run_upkeep();
        }
    };
    let stop = state.shutdown().clone();
    let served = axum::serve(listener, router).with_graceful_shutdown(stop.cancelled_owned());
    tokio::select! {
        result = served => if let Err(e) = result {
            tracing::error!(error = %e, "metrics listener failed");
        },
        _ = upkeep => {}
    }
}
