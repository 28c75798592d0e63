//! Shared state of control-svc: a few cheap-clone handles; read-mostly data is swapped whole.

use std::sync::Arc;

use arc_swap::ArcSwap;
use axum::extract::FromRef;
use axum_extra::extract::cookie::Key;
use sha2::{Digest, Sha512};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::accounts::AccountSettings;
use crate::accounts::oauth::{GitHubEndpoints, OAuthClient};
use crate::billing::PriceTable;
use crate::db::{self, Db};
use crate::error::ControlError;
use crate::events::{Change, EventHub};
use crate::grpc::jobs::JobHub;
use crate::health::Policy;
use crate::notify::Notifier;
use crate::notify::egress::EgressPolicy;
use crate::routing::ChannelSnapshot;
use crate::routing::virtual_models::{self, VirtualModels};
use crate::secrets::Cipher;
use crate::settings::Options;
use veloera_proto::v1::RelaySettings;

#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    cipher: Cipher,
    cookie_key: Key,
    events: EventHub,
    channels: ArcSwap<ChannelSnapshot>,
    /// The options in force, parsed once per change and swapped whole.
    options: ArcSwap<Options>,
    jobs: JobHub,
    generate_default_token: bool,
    shutdown: CancellationToken,
    tasks: TaskTracker,
    oauth: OAuthClient,
    notifier: Notifier,
    /// Usage records applied since start (each once), counted after their batch committed.
    settled: tokio::sync::watch::Sender<u64>,
    metrics: crate::metrics::Metrics,
}

impl AppState {
    pub async fn new(
        db: Db,
        crypto_secret: &str,
        session_secret: &str,
        generate_default_token: bool,
        github: GitHubEndpoints,
        egress: EgressPolicy,
        metrics: crate::metrics::Metrics,
    ) -> Result<Self, ControlError> {
        let cipher = Cipher::new(crypto_secret);
        let cookie_key = Key::from(&Sha512::digest(session_secret.as_bytes()));
        let state = AppState {
            inner: Arc::new(Inner {
                db,
                cipher,
                cookie_key,
                events: EventHub::default(),
                channels: ArcSwap::from_pointee(ChannelSnapshot::default()),
                options: ArcSwap::from_pointee(Options::default()),
                jobs: JobHub::default(),
                generate_default_token,
                shutdown: CancellationToken::new(),
                tasks: TaskTracker::new(),
                oauth: OAuthClient::new(github)?,
                notifier: Notifier::new(egress)?,
                settled: tokio::sync::watch::Sender::new(0),
                metrics,
            }),
        };
        state.reload_channels().await?;
        state.reload_prices().await?;
        Ok(state)
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    pub fn cipher(&self) -> &Cipher {
        &self.inner.cipher
    }

    pub fn events(&self) -> &EventHub {
        &self.inner.events
    }

    pub fn channels(&self) -> arc_swap::Guard<Arc<ChannelSnapshot>> {
        self.inner.channels.load()
    }

    /// The options in force (one snapshot: its parts agree with each other).
    pub fn options(&self) -> Arc<Options> {
        self.inner.options.load_full()
    }

    pub fn prices(&self) -> Part<PriceTable> {
        Part { options: self.options(), get: |o| &o.prices }
    }

    pub fn policy(&self) -> Part<Policy> {
        Part { options: self.options(), get: |o| &o.policy }
    }

    /// What relays apply to requests themselves, as last loaded from the options.
    pub fn relay_settings(&self) -> Part<RelaySettings> {
        Part { options: self.options(), get: |o| &o.relay }
    }

    /// Sign-up, sign-in, OAuth and mail settings, as last loaded from the options.
    pub fn accounts(&self) -> Arc<AccountSettings> {
        self.options().accounts.clone()
    }

    /// Channel jobs (tests, model lists, balances) handed to connected relays.
    pub fn jobs(&self) -> &JobHub {
        &self.inner.jobs
    }

    pub fn generate_default_token(&self) -> bool {
        self.inner.generate_default_token
    }

    /// OAuth providers (GitHub, OIDC): HTTP client and discovery cache.
    pub fn oauth(&self) -> &OAuthClient {
        &self.inner.oauth
    }

    /// Quota warnings and channel notices: the egress client and the delivery tasks.
    pub fn notifier(&self) -> &Notifier {
        &self.inner.notifier
    }

    /// `QuotaRemindThreshold` (default 1000): the quota warning threshold of users who set none; 0 for none.
    pub fn quota_remind_threshold(&self) -> i64 {
        self.options().quota_remind_threshold
    }

    /// Counts `n` more usage records applied (their batch has committed).
    pub fn count_settled(&self, n: usize) {
        if n > 0 {
            self.inner.settled.send_modify(|total| *total += n as u64);
        }
    }

    /// Watches the number of usage records applied since start; it moves after each batch that applied some
    /// (committed, its health changes in the routing snapshot). The admin service's usage streams and the tests
    /// wait on it instead of polling the logs.
    pub fn watch_usage(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.settled.subscribe()
    }

    /// Cancelled when the service shuts down, so long-lived streams end.
    pub fn shutdown(&self) -> &CancellationToken {
        &self.inner.shutdown
    }

    /// Where settlement and authorization record their metrics (empty when `METRICS_ADDR` is unset).
    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.inner.metrics
    }

    /// Background work (probes, periodic jobs, "test all channels"): every task is spawned here so shutdown can
    /// wait for it instead of cutting it off mid-query.
    pub fn tasks(&self) -> &TaskTracker {
        &self.inner.tasks
    }

    /// Rebuilds the routing snapshot from the database and tells relays.
    pub async fn reload_channels(&self) -> Result<(), ControlError> {
        let rows = db::channels::list(self.db()).await?;
        let options = db::options::all(self.db()).await?;
        let virtual_models = VirtualModels::parse(options.get(virtual_models::OPTION).map_or("", |s| s.as_str()))
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "the stored virtual-model mapping is invalid; ignored");
                VirtualModels::default()
            });
        let statuses = db::channel_keys::statuses(self.db()).await?;
        let snapshot = ChannelSnapshot::build(&rows, &statuses, virtual_models, self.cipher());
        // Every key gets a health row, so usage counters are plain updates.
        let missing: Vec<(i64, String)> =
            snapshot.all_keys().filter(|(id, digest)| !statuses.contains_key(&(*id, digest.clone()))).collect();
        db::channel_keys::ensure(self.db(), &missing).await?;
        self.inner.channels.store(Arc::new(snapshot));
        self.inner.events.publish(Change::Channels);
        Ok(())
    }

    /// Parses the options table into a new snapshot, swaps it in whole and tells relays.
    pub async fn reload_prices(&self) -> Result<(), ControlError> {
        let stored = db::options::all(self.db()).await?;
        let options = Options::parse(&stored).map_err(|e| ControlError::Internal(e.to_string()))?;
        self.inner.options.store(Arc::new(options));
        self.inner.events.publish(Change::Options);
        Ok(())
    }
}

/// One part of an options snapshot, holding the snapshot it belongs to.
pub struct Part<T> {
    options: Arc<Options>,
    get: fn(&Options) -> &T,
}

impl<T> std::ops::Deref for Part<T> {
    type Target = T;
    fn deref(&self) -> &T {
        (self.get)(&self.options)
    }
}

impl FromRef<AppState> for Key {
    fn from_ref(state: &AppState) -> Key {
        state.inner.cookie_key.clone()
    }
}
