//! Wiring: the control link and its background tasks, the dispatcher, and the public listener.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::control::cache::AuthCache;
use crate::control::outbox::{self, Outbox};
use crate::control::{self, ControlLink};
use crate::dispatch::{Dispatcher, Limits};
use crate::limits::{Limiter, Store};
use crate::metrics::Metrics;
use crate::routes::{self, RelayState};

/// A built relay, listening but not yet serving.
pub struct Application {
    listener: TcpListener,
    /// The metrics listener, when `METRICS_ADDR` is set.
    metrics_listener: Option<TcpListener>,
    state: RelayState,
    config: Config,
    internal_secret: String,
}

impl Application {
    pub async fn build(config: Config) -> Result<Self, String> {
        let listener = TcpListener::bind(config.listen_addr)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", config.listen_addr))?;
        Self::build_with_listener(config, listener).await
    }

    /// Builds on a listener the caller bound (tests bind port 0).
    pub async fn build_with_listener(config: Config, listener: TcpListener) -> Result<Self, String> {
        let internal_secret = config.resolve_internal_secret().await?;
        let ca = control::read_ca(config.control_grpc_ca.as_deref())?;
        let client = control::client(&config.control_grpc_url, &internal_secret, ca.as_deref())?;
        let metrics_listener = crate::metrics::bind(config.metrics_addr).await?;
        let metrics = if metrics_listener.is_some() { Metrics::enabled()? } else { Metrics::default() };
        let cache = AuthCache::new(config.auth_cache_ttl, config.control_stale_grace);
        let (outbox, _) = Outbox::channel();
        let dispatcher = Dispatcher::new(Limits {
            connect: config.connect_timeout,
            first_byte: config.first_byte_timeout,
            idle: config.streaming_idle_timeout,
            total: config.relay_timeout,
        })?;
        let frontdoor = reqwest::Client::builder()
            .tcp_nodelay(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the front-door client: {e}"))?;
        let store = Store::new(config.redis_url.as_deref())?;
        let limiter = Limiter::new(store, config.rate_limit_fail_open, &config.rate_limit_key_prefix, &config.relay_id);
        let state = RelayState {
            link: Arc::new(ControlLink::new(client, cache, config.relay_id.clone(), metrics)),
            outbox,
            dispatcher,
            failover: Arc::new(crate::failover::Shared::new(config.retry_deadline)),
            frontdoor,
            control_http_url: config.control_http_url.trim_end_matches('/').into(),
            max_body_bytes: config.max_body_bytes,
            limiter: Arc::new(limiter),
        };
        Ok(Application { listener, metrics_listener, state, config, internal_secret })
    }

    #[allow(clippy::expect_used, reason = "a listener bound to an address by this process has a local address")]
    pub fn addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener has an address")
    }

    /// Where metrics are served, when they are.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The link to control (caches and client), for readiness checks.
    pub fn control_link(&self) -> Arc<ControlLink> {
        self.state.link.clone()
    }

    /// The requests whose usage control has not settled yet (tests wait for none instead of sleeping).
    pub fn unsettled(&self) -> veloera_proto::in_flight::InFlight {
        self.state.outbox.unsettled()
    }

    /// The rate limiter, to see which settings it applies.
    pub fn limiter(&self) -> Arc<Limiter> {
        self.state.limiter.clone()
    }

    pub fn internal_secret(&self) -> &str {
        &self.internal_secret
    }

    /// Serves until `shutdown`, then stops accepting, lets in-flight requests finish and drains usage to control.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), String> {
        let Application { listener, metrics_listener, mut state, config, .. } = self;
        let cancel = CancellationToken::new();
        let tasks = TaskTracker::new();

        let (outbox, rx) = state.outbox.reopen();
        let unsettled = outbox.unsettled();
        state.outbox = outbox;
        let stop_usage = CancellationToken::new();
        tasks.spawn(outbox::run(state.link.client(), rx, unsettled, stop_usage.clone(), state.link.metrics.clone()));
        if let Some(listener) = metrics_listener {
            // Stopped with the usage drain, so the last acknowledgements can still be scraped until then.
            tasks.spawn(crate::metrics::serve(
                listener,
                state.link.metrics.clone(),
                state.link.clone(),
                stop_usage.clone(),
            ));
        }
        tasks.spawn(control::watch::run(
            state.link.clone(),
            state.limiter.clone(),
            config.relay_id.clone(),
            cancel.clone(),
        ));
        tasks.spawn(control::jobs::run(
            state.link.clone(),
            state.dispatcher.clone(),
            config.relay_id.clone(),
            tasks.clone(),
            cancel.clone(),
        ));

        use axum::serve::ListenerExt;
        let listener = listener.tap_io(|tcp| {
            // Nagle + delayed ACK adds ~40 ms to small responses.
            let _ = tcp.set_nodelay(true);
        });
        let link = state.link.clone();
        let mut app = routes::router(state);
        if config.trusted_proxy_hops > 0 {
            let hops = config.trusted_proxy_hops;
            app = app.layer(axum::middleware::from_fn(move |request, next| {
                crate::client_addr::from_forwarded(hops, request, next)
            }));
        }
        let trigger = cancel.clone();
        let served = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move {
                shutdown.await;
                trigger.cancel();
            })
            .await;
        cancel.cancel();
        // Only now, with every request finished, may the outbox drain and stop.
        stop_usage.cancel();
        tasks.close();
        tasks.wait().await;
        // Every request has settled and its usage is with control: what the leases still hold goes back.
        link.leases.return_all().await;
        served.map_err(|e| format!("relay server: {e}"))
    }
}
