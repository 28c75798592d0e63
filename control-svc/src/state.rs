//! Shared state of control-svc: a few cheap-clone handles; read-mostly data is swapped whole.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use arc_swap::ArcSwap;
use axum::extract::FromRef;
use axum_extra::extract::cookie::Key;
use sha2::{Digest, Sha512};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::accounts::oauth::{GitHubEndpoints, OAuthClient};
use crate::billing::PriceTable;
use crate::db::{self, Db};
use crate::error::ControlError;
use crate::events::{Change, EventHub};
use crate::grpc::jobs::JobHub;
use crate::health::Policy;
use crate::notify::egress::EgressPolicy;
use crate::notify::{Notifier, quota_warning};
use crate::routing::ChannelSnapshot;
use crate::routing::virtual_models::{self, VirtualModels};
use crate::secrets::Cipher;
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
    prices: ArcSwap<PriceTable>,
    policy: ArcSwap<Policy>,
    relay_settings: ArcSwap<RelaySettings>,
    jobs: JobHub,
    generate_default_token: bool,
    shutdown: CancellationToken,
    tasks: TaskTracker,
    oauth: OAuthClient,
    notifier: Notifier,
    /// `QuotaRemindThreshold`, as last loaded from the options.
    quota_remind_threshold: AtomicI64,
    /// Bumped after every committed usage batch; the admin service's usage streams wait on it.
    usage_settled: tokio::sync::watch::Sender<u64>,
}

impl AppState {
    pub async fn new(
        db: Db,
        crypto_secret: &str,
        session_secret: &str,
        generate_default_token: bool,
        github: GitHubEndpoints,
        egress: EgressPolicy,
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
                prices: ArcSwap::from_pointee(PriceTable::default()),
                policy: ArcSwap::from_pointee(Policy::default()),
                relay_settings: ArcSwap::from_pointee(RelaySettings::default()),
                jobs: JobHub::default(),
                generate_default_token,
                shutdown: CancellationToken::new(),
                tasks: TaskTracker::new(),
                oauth: OAuthClient::new(github)?,
                notifier: Notifier::new(egress)?,
                quota_remind_threshold: AtomicI64::new(quota_warning::DEFAULT_SITE_THRESHOLD),
                usage_settled: tokio::sync::watch::Sender::new(0),
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

    pub fn prices(&self) -> arc_swap::Guard<Arc<PriceTable>> {
        self.inner.prices.load()
    }

    pub fn policy(&self) -> arc_swap::Guard<Arc<Policy>> {
        self.inner.policy.load()
    }

    /// What relays apply to requests themselves, as last loaded from the options.
    pub fn relay_settings(&self) -> Arc<RelaySettings> {
        self.inner.relay_settings.load_full()
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
        self.inner.quota_remind_threshold.load(Ordering::Relaxed)
    }

    /// Cancelled when the service shuts down, so long-lived streams end.
    /// Tells the usage streams that new log rows were committed.
    pub fn usage_settled(&self) {
        self.inner.usage_settled.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver that wakes after each committed usage batch.
    pub fn watch_usage(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.usage_settled.subscribe()
    }

    pub fn shutdown(&self) -> &CancellationToken {
        &self.inner.shutdown
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

    /// Rebuilds prices from the options table and tells relays.
    pub async fn reload_prices(&self) -> Result<(), ControlError> {
        let options = db::options::all(self.db()).await?;
        let table = PriceTable::from_options(&options).map_err(ControlError::Internal)?;
        self.inner.prices.store(Arc::new(table));
        let policy = Policy::from_options(&options).map_err(ControlError::Internal)?;
        self.inner.policy.store(Arc::new(policy));
        let relay_settings = crate::grpc::relay_settings::from_options(&options).map_err(ControlError::Internal)?;
        let remind = options.get("QuotaRemindThreshold").map(|v| v.trim()).filter(|v| !v.is_empty());
        let remind = match remind {
            None => quota_warning::DEFAULT_SITE_THRESHOLD,
            Some(v) => v.parse::<i64>().map_err(|_| {
                ControlError::Internal(format!("option QuotaRemindThreshold: {v:?} is not a whole number"))
            })?,
        };
        self.inner.quota_remind_threshold.store(remind.max(0), Ordering::Relaxed);
        self.inner.relay_settings.store(Arc::new(relay_settings));
        self.inner.events.publish(Change::Options);
        Ok(())
    }
}

impl FromRef<AppState> for Key {
    fn from_ref(state: &AppState) -> Key {
        state.inner.cookie_key.clone()
    }
}
