//! Starts the scripted mock upstream, control-svc (fresh SQLite in a temp dir) and relay-svc, each on port 0,
//! in this test process, plus helpers that drive the admin API the way the UI does.

use std::net::SocketAddr;
use std::time::Duration;

use control_svc::db::DatabaseUrl;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use relay_svc::control::cache::Followed;

use crate::mock_upstream::MockUpstream;

pub const ADMIN_PASSWORD: &str = "a-better-password";

pub struct ControlHandle {
    pub http_addr: SocketAddr,
    pub grpc_addr: SocketAddr,
    pub secret: String,
    pub state: control_svc::state::AppState,
    /// Where control serves metrics, when its `metrics_addr` was set.
    pub metrics_addr: Option<SocketAddr>,
    stop: Option<oneshot::Sender<()>>,
    join: Option<JoinHandle<()>>,
}

impl ControlHandle {
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(join) = self.join.take() {
            join.await.unwrap();
        }
    }
}

pub struct RelayHandle {
    pub addr: SocketAddr,
    pub link: std::sync::Arc<relay_svc::control::ControlLink>,
    pub limiter: std::sync::Arc<relay_svc::limits::Limiter>,
    /// Requests whose usage control has not settled yet.
    pub unsettled: veloera_proto::in_flight::InFlight,
    /// Where the relay serves metrics, when its `metrics_addr` was set.
    pub metrics_addr: Option<SocketAddr>,
    stop: Option<oneshot::Sender<()>>,
    join: Option<JoinHandle<()>>,
}

impl RelayHandle {
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(join) = self.join.take() {
            join.await.unwrap();
        }
    }

    /// Waits (bounded) until this relay's `WatchConfig` stream is up and it has applied every change `control`
    /// has published so far: after an admin call has returned, the relay's next request sees its effect.
    pub async fn wait_caught_up(&self, control: &ControlHandle) {
        let published = control.state.events().version();
        self.wait_followed(|f| f.control_version >= published, &format!("control's change {published}")).await;
    }

    /// Waits (bounded) until this relay has applied `n` `WatchConfig` events since it started (a reconnect's
    /// `Reset` is one).
    pub async fn wait_generation(&self, n: u64) {
        self.wait_followed(|f| f.generation >= n, &format!("{n} events")).await;
    }

    /// Waits (bounded) until control has settled the usage of every request this relay has taken so far: from
    /// then on nothing those requests did can still change a balance, a log or a metric.
    pub async fn wait_usage_settled(&self) {
        let waited = tokio::time::timeout(SETTLE_BOUND, self.unsettled.none_left()).await;
        assert!(waited.is_ok(), "{} requests' usage was never settled by control", self.unsettled.open());
    }

    /// How many `WatchConfig` events this relay has applied since it started.
    pub fn generation(&self) -> u64 {
        self.link.cache.watch_followed().borrow().generation
    }

    async fn wait_followed(&self, done: impl Fn(&Followed) -> bool, what: &str) {
        let cache = &self.link.cache;
        let mut followed = cache.watch_followed();
        let waited = tokio::time::timeout(SETTLE_BOUND, followed.wait_for(|f| cache.watching() && done(f)))
            .await
            .is_ok_and(|r| r.is_ok());
        let last = *followed.borrow();
        assert!(waited, "the relay never applied {what}; it followed {last:?}");
    }
}

/// How long a test waits for settlement or for a relay to apply a change before it fails (an event that never
/// comes, not a clock to race).
const SETTLE_BOUND: Duration = Duration::from_secs(10);

pub struct Gateway {
    pub mock: MockUpstream,
    pub control: ControlHandle,
    pub relay: RelayHandle,
    pub http: reqwest::Client,
    /// Session cookie of the signed-in root, after `sign_in_root`.
    pub cookie: String,
    _dir: tempfile::TempDir,
}

pub fn control_config(dir: &std::path::Path) -> control_svc::Config {
    control_svc::Config {
        http_addr: "127.0.0.1:0".parse().unwrap(),
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.to_path_buf(),
        database: DatabaseUrl::sqlite_file(&dir.join("veloera.db").to_string_lossy()),
        session_secret: None,
        crypto_secret: None,
        internal_secret: None,
        generate_default_token: false,
        initial_root_password: "123456".into(),
        ui_dir: dir.join("no-ui"),
        channel_test_every: None,
        balance_update_every: None,
        production: false,
        create_default_root: true,
        github: control_svc::accounts::oauth::GitHubEndpoints::default(),
        // Every test signs in from 127.0.0.1; the limits have their own tests (`surface.rs`), which switch them on.
        api_rate_limit: control_svc::config::RateLimit::OFF,
        critical_rate_limit: control_svc::config::RateLimit::OFF,
        // Off as in production; the webhook tests (`notify.rs`) switch it on for their local receivers.
        webhook_allow_loopback: false,
        grpc_tls: None,
        // Off as in a default deployment; the metrics tests (`metrics.rs`) set it.
        metrics_addr: None,
    }
}

pub async fn start_control(config: control_svc::Config) -> ControlHandle {
    let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let grpc = TcpListener::bind("127.0.0.1:0").await.unwrap();
    start_control_on(config, http, grpc).await
}

/// Control again on the addresses it had (a restart the relay must ride out), with the same data directory.
pub async fn restart_control(gw: &mut Gateway) {
    let (http_addr, grpc_addr) = (gw.control.http_addr, gw.control.grpc_addr);
    let before = gw.relay.generation();
    gw.control.stop().await;
    let http = TcpListener::bind(http_addr).await.unwrap();
    let grpc = TcpListener::bind(grpc_addr).await.unwrap();
    gw.control = start_control_on(control_config(gw._dir.path()), http, grpc).await;
    // The relay's `Reset` from the new control: until then its caches answer for the old one.
    gw.relay.wait_generation(before + 1).await;
}

async fn start_control_on(config: control_svc::Config, http: TcpListener, grpc: TcpListener) -> ControlHandle {
    let app = control_svc::Application::build_with_listeners(config, http, grpc).await.expect("control builds");
    let (tx, rx) = oneshot::channel::<()>();
    let handle = ControlHandle {
        http_addr: app.http_addr(),
        grpc_addr: app.grpc_addr(),
        secret: app.internal_secret().to_string(),
        state: app.state().clone(),
        metrics_addr: app.metrics_addr(),
        stop: Some(tx),
        join: None,
    };
    let join = tokio::spawn(async move {
        app.run_until(async move {
            let _ = rx.await;
        })
        .await
        .unwrap()
    });
    ControlHandle { join: Some(join), ..handle }
}

pub fn relay_config(control: &ControlHandle) -> relay_svc::Config {
    relay_svc::Config {
        listen_addr: "127.0.0.1:0".parse().unwrap(),
        control_grpc_url: format!("http://{}", control.grpc_addr),
        control_http_url: format!("http://{}", control.http_addr),
        internal_secret: Some(control.secret.clone()),
        data_dir: std::env::temp_dir(),
        streaming_idle_timeout: Duration::from_secs(5),
        relay_timeout: None,
        connect_timeout: Duration::from_secs(2),
        first_byte_timeout: Duration::from_secs(5),
        retry_deadline: Duration::from_secs(30),
        auth_cache_ttl: Duration::from_secs(300),
        control_stale_grace: Duration::from_secs(120),
        max_body_bytes: 1024 * 1024,
        relay_id: "test-relay".into(),
        redis_url: None,
        rate_limit_fail_open: true,
        rate_limit_key_prefix: "veloera:rl:".into(),
        trusted_proxy_hops: 0,
        // Off as in a default deployment; the metrics tests (`metrics.rs`) set it.
        metrics_addr: None,
        control_grpc_ca: None,
    }
}

pub async fn start_relay(config: relay_svc::Config) -> RelayHandle {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app = relay_svc::Application::build_with_listener(config, listener).await.expect("relay builds");
    let addr = app.addr();
    let link = app.control_link();
    let limiter = app.limiter();
    let unsettled = app.unsettled();
    let metrics_addr = app.metrics_addr();
    let (tx, rx) = oneshot::channel::<()>();
    let join = tokio::spawn(async move {
        app.run_until(async move {
            let _ = rx.await;
        })
        .await
        .unwrap()
    });
    RelayHandle { addr, link, limiter, unsettled, metrics_addr, stop: Some(tx), join: Some(join) }
}

impl Gateway {
    /// Everything up, root signed in with its password changed, one channel serving `gpt-4o-mini` at the mock.
    pub async fn start() -> Gateway {
        let mut gw = Gateway::start_bare().await;
        gw.sign_in_root().await;
        gw.create_channel(json!({"name": "mock", "type": 1, "key": "sk-upstream-1", "base_url": gw.mock.base_url(), "models": "gpt-4o-mini,gpt-4o"}))
            .await;
        gw
    }

    /// Mock, control and relay up; nobody signed in.
    pub async fn start_bare() -> Gateway {
        Gateway::start_bare_with(|_| {}).await
    }

    /// As [`Gateway::start_bare`], with control's configuration adjusted first.
    pub async fn start_bare_with(configure: impl FnOnce(&mut control_svc::Config)) -> Gateway {
        let dir = tempfile::tempdir().unwrap();
        let mock = MockUpstream::start().await;
        let mut config = control_config(dir.path());
        configure(&mut config);
        let control = start_control(config).await;
        let relay = start_relay(relay_config(&control)).await;
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        Gateway { mock, control, relay, http, cookie: String::new(), _dir: dir }
    }

    /// Waits (bounded) until the relay's `WatchConfig` stream is up and has applied every change control
    /// published so far (its caches are in use and current). See [`RelayHandle::wait_caught_up`].
    pub async fn wait_relay_caught_up(&self) {
        self.relay.wait_caught_up(&self.control).await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.relay.addr, path)
    }

    /// Logs in as root and replaces the default password (nothing else is allowed before that).
    pub async fn sign_in_root(&mut self) {
        let resp = self
            .http
            .post(self.url("/api/user/login"))
            .json(&json!({"username": "root", "password": "123456"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        self.cookie = session_cookie(&resp);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["data"]["must_change_password"], true);
        let (status, body) = self
            .api("PUT", "/api/user/self", Some(json!({"original_password": "123456", "password": ADMIN_PASSWORD})))
            .await;
        assert_eq!(status, 200, "{body}");
    }

    /// Calls the admin API through the relay's front door with the session cookie.
    pub async fn api(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method.parse().unwrap(), self.url(path)).header("cookie", &self.cookie);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn create_channel(&self, spec: Value) -> i64 {
        let (status, body) = self.api("POST", "/api/channel/", Some(spec)).await;
        assert_eq!(status, 200, "{body}");
        body["data"]["id"].as_i64().unwrap()
    }

    /// Creates a token and returns `(id, full sk- key)`.
    pub async fn create_token(&self, spec: Value) -> (i64, String) {
        let (status, body) = self.api("POST", "/api/token/", Some(spec)).await;
        assert_eq!(status, 200, "{body}");
        (body["data"]["id"].as_i64().unwrap(), body["data"]["key"].as_str().unwrap().to_string())
    }

    pub async fn chat(&self, prefix: &str, key: &str, body: Value) -> reqwest::Response {
        self.http
            .post(self.url(&format!("{prefix}/chat/completions")))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Waits (bounded) until control has settled `n` consume log rows, and returns them newest first. Looks
    /// again each time control settles more records, never on a timer.
    pub async fn wait_for_logs(&self, n: usize) -> Vec<Value> {
        let mut settled = self.control.state.watch_usage();
        let mut rows = Vec::new();
        let looked = tokio::time::timeout(SETTLE_BOUND, async {
            loop {
                settled.borrow_and_update();
                let (_, body) = self.api("GET", "/api/log/?p=1&page_size=100", None).await;
                rows = body["data"]["items"].as_array().cloned().unwrap_or_default();
                if rows.len() >= n {
                    return;
                }
                settled.changed().await.unwrap();
            }
        })
        .await;
        assert!(looked.is_ok(), "fewer than {n} log rows after {SETTLE_BOUND:?}: {rows:?}");
        rows
    }

    /// Waits (bounded) until everything the requests so far set off has happened: control settled their usage
    /// (balances, logs, health) and delivered or gave up every notice that caused. Tests that check that
    /// "nothing more arrives" wait for this instead of sleeping.
    pub async fn wait_all_settled(&self) {
        self.relay.wait_usage_settled().await;
        let notices = self.control.state.notifier().under_way();
        let waited = tokio::time::timeout(SETTLE_BOUND, notices.none_left()).await;
        assert!(waited.is_ok(), "{} notices were still under way after {SETTLE_BOUND:?}", notices.open());
    }

    /// Waits (bounded) until control has applied `n` usage records since it started.
    pub async fn wait_settled(&self, n: u64) {
        let mut settled = self.control.state.watch_usage();
        let waited = tokio::time::timeout(SETTLE_BOUND, settled.wait_for(|total| *total >= n)).await.is_ok();
        assert!(waited, "control settled {} of {n} usage records", *settled.borrow());
    }

    /// Asks an admin GET until `done` holds, looking again each time control settles records or publishes a
    /// change (settlement, probes and channel tests are what change health and balances); bounded. Returns the
    /// last answer.
    pub async fn wait_for_state(&self, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        let mut settled = self.control.state.watch_usage();
        let mut published = self.control.state.events().subscribe();
        let mut last = Value::Null;
        let looked = tokio::time::timeout(SETTLE_BOUND, async {
            loop {
                settled.borrow_and_update();
                last = self.api("GET", path, None).await.1;
                if done(&last) {
                    return;
                }
                // A lagged receiver has still seen a change; either wake-up means look again.
                tokio::select! {
                    changed = settled.changed() => changed.unwrap(),
                    _ = published.recv() => {}
                }
            }
        })
        .await;
        assert!(looked.is_ok(), "{path} never reached the expected state: {last}");
        last
    }

    pub async fn token(&self, id: i64) -> Value {
        let (status, body) = self.api("GET", &format!("/api/token/{id}"), None).await;
        assert_eq!(status, 200, "{body}");
        body["data"].clone()
    }

    pub async fn root_self(&self) -> Value {
        self.api("GET", "/api/user/self", None).await.1["data"].clone()
    }

    /// Creates an ordinary user directly in the database (registration is not part of this API yet) and
    /// returns its session cookie.
    pub async fn create_user(&self, username: &str, password: &str) -> String {
        let hash = control_svc::secrets::hash_password(password).unwrap();
        let user = control_svc::db::users::NewUser {
            username,
            password_hash: &hash,
            role: 1,
            quota: 1_000_000,
            must_change_password: false,
        };
        control_svc::db::users::insert(self.control.state.db(), &user).await.unwrap();
        let resp = self
            .http
            .post(self.url("/api/user/login"))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        session_cookie(&resp)
    }

    /// Sets options directly in control's database and reloads them (the settings API comes later).
    pub async fn set_options(&self, options: &[(&str, &str)]) {
        for (name, value) in options {
            control_svc::db::options::set(self.control.state.db(), name, value).await.unwrap();
        }
        self.control.state.reload_prices().await.unwrap();
    }

    /// Root's token key (root is an administrator, so it may pin channels).
    pub async fn root_key(&self) -> String {
        self.create_token(json!({"name": "root-key", "unlimited_quota": true})).await.1
    }

    /// Runs SQL directly against control's database (for states the API refuses to create, like a past expiry).
    pub async fn sql(&self, query: &str) {
        let db = self.control.state.db();
        sqlx::query(&db.sql(query)).execute(db.pool()).await.unwrap();
    }

    /// Calls the API through the front door with another session's cookie (an ordinary user's, from
    /// [`Gateway::create_user`]), or with none when `cookie` is `None`.
    pub async fn api_as(&self, cookie: Option<&str>, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method.parse().unwrap(), self.url(path));
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
}

pub fn session_cookie(resp: &reqwest::Response) -> String {
    let set = resp.headers().get("set-cookie").expect("login sets a cookie").to_str().unwrap();
    assert!(set.contains("HttpOnly"), "{set}");
    assert!(set.contains("SameSite=Strict"), "{set}");
    set.split(';').next().unwrap().to_string()
}

pub fn chat_body(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "Say hello"}]})
}
