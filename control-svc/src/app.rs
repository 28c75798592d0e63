//! Wiring: database, state, the HTTP (admin) and gRPC servers on already-bound listeners. The gRPC listener
//! serves the relay contract, the admin service, `grpc.health.v1` and server reflection, optionally over TLS.

use std::future::Future;
use std::net::SocketAddr;

use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;

use crate::config::Config;
use crate::db::Db;
use crate::error::ControlError;
use crate::secrets::configured_or_persisted;
use crate::state::AppState;
use crate::{admin, bootstrap, grpc};

/// A built control service, listening but not yet serving.
pub struct Application {
    http: TcpListener,
    grpc: TcpListener,
    state: AppState,
    internal_secret: String,
    ui_dir: std::path::PathBuf,
    channel_test_every: Option<std::time::Duration>,
    balance_update_every: Option<std::time::Duration>,
    limits: std::sync::Arc<admin::rate_limit::ApiLimits>,
    grpc_tls: Option<tonic::transport::ServerTlsConfig>,
}

impl Application {
    /// Binds the configured addresses and builds.
    pub async fn build(config: Config) -> Result<Self, ControlError> {
        let bind = |addr: SocketAddr| async move {
            TcpListener::bind(addr).await.map_err(|e| ControlError::Internal(format!("cannot listen on {addr}: {e}")))
        };
        let http = bind(config.http_addr).await?;
        let grpc = bind(config.grpc_addr).await?;
        Self::build_with_listeners(config, http, grpc).await
    }

    /// Builds on listeners the caller bound (tests bind port 0).
    pub async fn build_with_listeners(
        config: Config,
        http: TcpListener,
        grpc: TcpListener,
    ) -> Result<Self, ControlError> {
        config.check_secrets().map_err(ControlError::Internal)?;
        let grpc_tls = config.grpc_tls.as_ref().map(grpc::tls::server_config).transpose()?;
        let session_secret =
            configured_or_persisted(config.session_secret.as_deref(), &config.data_dir, "session_secret")?;
        let crypto_secret =
            configured_or_persisted(config.crypto_secret.as_deref(), &config.data_dir, "crypto_secret")?;
        let internal_secret =
            configured_or_persisted(config.internal_secret.as_deref(), &config.data_dir, "internal_secret")?;
        let db = Db::connect(&config.database).await?;
        tracing::info!(backend = %db.backend(), "database ready");
        let egress = crate::notify::egress::EgressPolicy { allow_loopback: config.webhook_allow_loopback };
        let state = AppState::new(
            db,
            &crypto_secret,
            &session_secret,
            config.generate_default_token,
            config.github.clone(),
            egress,
        )
        .await?;
        if config.create_default_root {
            bootstrap::ensure_root(&state, &config.initial_root_password).await?;
        } else if crate::db::users::count(state.db()).await? == 0 {
            tracing::warn!("no account exists yet: create the administrator with POST /api/setup (the setup page)");
        }
        Ok(Application {
            http,
            grpc,
            state,
            internal_secret,
            ui_dir: config.ui_dir,
            channel_test_every: config.channel_test_every,
            balance_update_every: config.balance_update_every,
            limits: admin::rate_limit::ApiLimits::new(config.api_rate_limit, config.critical_rate_limit),
            grpc_tls,
        })
    }

    #[allow(clippy::expect_used, reason = "a listener bound to an address by this process has a local address")]
    pub fn http_addr(&self) -> SocketAddr {
        self.http.local_addr().expect("bound listener has an address")
    }

    #[allow(clippy::expect_used, reason = "a listener bound to an address by this process has a local address")]
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc.local_addr().expect("bound listener has an address")
    }

    pub fn internal_secret(&self) -> &str {
        &self.internal_secret
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves both listeners until `shutdown` resolves, then drains and returns.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), ControlError> {
        let state = self.state.clone();
        let cancel = state.shutdown().clone();
        let trigger = cancel.clone();
        state.tasks().spawn(async move {
            tokio::select! {
                _ = shutdown => trigger.cancel(),
                // Cancelled from elsewhere: nothing left to wait for.
                _ = trigger.cancelled() => {}
            }
        });
        crate::health::prober::spawn(state.clone());
        crate::health::prober::every(
            state.clone(),
            std::time::Duration::from_secs(15),
            "lease reclaim",
            |s| async move { crate::db::leases::reclaim_expired(s.db()).await.map(|_| ()) },
        );
        if let Some(every) = self.channel_test_every {
            crate::health::prober::every(state.clone(), every, "channel tests", |s| async move {
                crate::health::prober::test_all(&s).await
            });
        }
        if let Some(every) = self.balance_update_every {
            crate::health::prober::every(state.clone(), every, "channel balances", |s| async move {
                crate::health::prober::update_balances(&s).await.map(|_| ())
            });
        }

        use axum::serve::ListenerExt;
        let http_listener = self.http.tap_io(|tcp| {
            // Nagle + delayed ACK adds ~40 ms to small responses.
            let _ = tcp.set_nodelay(true);
        });
        let notifier_state = state.clone();
        let router =
            crate::probes::router(state.clone()).merge(admin::router(state.clone(), &self.ui_dir, self.limits));
        let http_cancel = cancel.clone();
        let http = axum::serve(http_listener, router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move { http_cancel.cancelled().await });

        let incoming = TcpIncoming::from(self.grpc).with_nodelay(Some(true));
        let grpc_cancel = cancel.clone();
        let mut builder = tonic::transport::Server::builder().tcp_nodelay(true);
        if let Some(tls) = self.grpc_tls {
            builder = builder.tls_config(tls).map_err(|e| ControlError::Internal(format!("grpc tls: {e}")))?;
        }
        let (health, health_service) = tonic_health::server::health_reporter();
        health.set_serving::<veloera_proto::v1::control_server::ControlServer<grpc::ControlGrpc>>().await;
        health
            .set_serving::<veloera_proto::admin_v1::admin_service_server::AdminServiceServer<grpc::admin::AdminGrpc>>()
            .await;
        let (reflection_v1, reflection_v1alpha) = grpc::reflection()?;
        let grpc = builder
            .add_service(grpc::service(state.clone(), &self.internal_secret))
            .add_service(grpc::admin::service(state, &self.internal_secret))
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .serve_with_incoming_shutdown(incoming, async move { grpc_cancel.cancelled().await });

        let (h, g) = tokio::join!(http, grpc);
        // Probes and periodic jobs watch the shutdown token; a channel test in flight ends with its upstream timeout.
        notifier_state.tasks().close();
        if tokio::time::timeout(std::time::Duration::from_secs(10), notifier_state.tasks().wait()).await.is_err() {
            tracing::warn!(
                pending = notifier_state.tasks().len(),
                "background tasks still running at shutdown were dropped"
            );
        }
        // Settled batches may have queued notices; give them a moment (their retries stop at shutdown).
        notifier_state.notifier().drain(std::time::Duration::from_secs(5)).await;
        h.map_err(|e| ControlError::Internal(format!("http server: {e}")))?;
        g.map_err(|e| ControlError::Internal(format!("grpc server: {e}")))?;
        Ok(())
    }
}
