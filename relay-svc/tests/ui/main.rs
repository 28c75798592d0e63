//! The admin UI in headless Chromium, driven through chromedriver against the real gateway (mock upstream +
//! control + relay on port 0), one journey per role: root (forced password change, channels with two keys and
//! a test, a Claude channel, a token with quota and model limit used through the relay, the request in the
//! logs and on the dashboard, language and theme, a phone-sized window, deep links), a registered user (no
//! admin navigation, the server's refusal in words, token, redeem, check-in, the playground), and channel names
//! and a model answer that try to inject HTML. Every page is checked in both languages for untranslated keys and script errors, and
//! screenshotted in both themes under `target/ui-shots/`.
//! Needs the UI built (`cargo xtask ui`) and chromedriver; `cargo xtask test` provides both.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::disallowed_methods,
    reason = "test code: a panic is a failed test with its message; fixtures spawn freely and read TEST_* variables"
)]

#[path = "../e2e/harness.rs"]
#[allow(dead_code)]
mod harness;
#[path = "../e2e/mock_upstream.rs"]
#[allow(dead_code)]
mod mock_upstream;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use harness::{ADMIN_PASSWORD, Gateway, chat_body};

/// chromedriver, killed when the test ends however it ends.
struct Driver {
    child: Child,
    port: u16,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_chromedriver() -> Driver {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into()))
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver is not installed: apt-get install -y chromium chromium-driver");
    Driver { child, port, _profile: tempfile::tempdir().unwrap() }
}

async fn browser(driver: &Driver) -> Client {
    let profile = driver._profile.path().display().to_string();
    let caps = json!({
        "goog:chromeOptions": {
            "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--window-size=1280,900", "--lang=zh-CN",
                     format!("--user-data-dir={profile}")]
        }
    });
    let caps = caps.as_object().unwrap().clone();
    let url = format!("http://127.0.0.1:{}", driver.port);
    for _ in 0..50 {
        if let Ok(c) = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not accept a session at {url}");
}

async fn wait_css(c: &Client, css: &str) -> Element {
    c.wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
}

async fn type_into(c: &Client, css: &str, text: &str) {
    let el = wait_css(c, css).await;
    el.clear().await.unwrap();
    el.send_keys(text).await.unwrap();
}

/// Empties a field the way a person does (WebDriver's clear fires no `input` event for the app to see).
async fn empty_field(c: &Client, css: &str) {
    let el = wait_css(c, css).await;
    el.clear().await.unwrap();
    el.send_keys(" \u{E003}").await.unwrap();
}

async fn click(c: &Client, css: &str) {
    wait_css(c, css).await.click().await.unwrap_or_else(|e| panic!("click {css}: {e}"));
}

/// Chooses `value` in the `<select>` at `css`.
async fn choose(c: &Client, css: &str, value: &str) {
    click(c, &format!("{css} option[value=\"{value}\"]")).await;
}

/// Waits until the element's text satisfies `pred`, returning the text.
async fn text_when(c: &Client, css: &str, pred: impl Fn(&str) -> bool) -> String {
    let mut last = String::new();
    for _ in 0..150 {
        if let Ok(el) = c.find(Locator::Css(css)).await {
            last = el.text().await.unwrap_or_default();
            if pred(&last) {
                return last;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css} never matched; last text: {last:?}");
}

async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![]).await.unwrap_or_else(|e| panic!("script {script}: {e}"))
}

/// Waits (up to 5 s) until `script` returns `true`: layout that animates (the drawer slides in 0.2 s) is read only
/// once it has settled.
async fn js_until(c: &Client, script: &str, what: &str) {
    for _ in 0..50 {
        if js(c, script).await == Value::Bool(true) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: `{script}` never became true");
}

/// Navigates inside the app (history API), so the page and its error hooks stay loaded.
async fn go(c: &Client, path: &str) {
    js(
        c,
        &format!("history.pushState(null, '', {path:?}); dispatchEvent(new PopStateEvent('popstate')); return true;"),
    )
    .await;
}

/// Records script errors (console.error, uncaught errors and rejections) from now until the next full load.
async fn hook_errors(c: &Client) {
    js(
        c,
        "if (!window.__errors) { window.__errors = [];
           const orig = console.error;
           console.error = function (...a) { window.__errors.push(a.map(String).join(' ')); orig.apply(console, a); };
           addEventListener('error', e => window.__errors.push('error: ' + e.message));
           addEventListener('unhandledrejection', e => window.__errors.push('rejection: ' + e.reason)); }
         return true;",
    )
    .await;
}

async fn errors(c: &Client) -> Vec<String> {
    serde_json::from_value(js(c, "return window.__errors || [];").await).unwrap()
}

/// Text that looks like a catalogue key (`channel.add`) leaked onto the page untranslated.
async fn untranslated(c: &Client) -> Vec<String> {
    let text = js(c, "return document.body.innerText;").await.as_str().unwrap_or_default().to_string();
    const NAMESPACES: &[&str] = &[
        "channel", "common", "dash", "error", "form", "header", "log", "login", "nav", "notfound", "oauth", "pager",
        "password", "pg", "privacy", "profile", "register", "transfer", "reset", "role", "setup", "status", "theme",
        "token", "wallet",
    ];
    text.split(|ch: char| ch.is_whitespace() || "()（）:：,，".contains(ch))
        .filter(|w| {
            w.split_once('.').is_some_and(|(ns, rest)| {
                NAMESPACES.contains(&ns)
                    && !rest.is_empty()
                    && rest.chars().all(|c| c.is_ascii_lowercase() || c == '_' || c == '.')
            })
        })
        .map(str::to_string)
        .collect()
}

fn shots_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/ui-shots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(c: &Client, name: &str) {
    // Let the last fetches land and the page settle before the picture.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let png = c.screenshot().await.unwrap();
    std::fs::write(shots_dir().join(format!("{name}.png")), png).unwrap();
}

async fn set_theme(c: &Client, theme: &str) {
    for _ in 0..3 {
        let now = js(c, "return document.documentElement.getAttribute('data-theme') || 'system';").await;
        if now == theme {
            return;
        }
        click(c, "#theme-switch").await;
    }
    panic!("the theme switch never reached {theme}");
}

async fn set_lang(c: &Client, code: &str) {
    choose(c, "#lang-switch", code).await;
    let html_lang = js(c, "return document.documentElement.lang;").await;
    assert_eq!(html_lang, code);
}

/// Whether the page scrolls sideways (it must not at phone width).
async fn scrolls_sideways(c: &Client) -> bool {
    js(c, "return document.documentElement.scrollWidth > document.documentElement.clientWidth + 1;")
        .await
        .as_bool()
        .unwrap()
}

fn dist_dir() -> PathBuf {
    let dist = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../admin-yew/dist");
    assert!(dist.join("index.html").is_file(), "the admin UI is not built: run `cargo xtask ui` first");
    dist
}

async fn sign_in(gw: &Gateway, user: &str, password: &str) -> String {
    let resp = gw
        .http
        .post(gw.url("/api/user/login"))
        .json(&json!({"username": user, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    harness::session_cookie(&resp)
}

/// Prints how soon the sign-in page painted (Performance API: first contentful paint, and the largest
/// contentful paint, which is the sign-in form once the app has rendered). Printed, not asserted: speed targets
/// belong to the benchmark, not to a timed test.
async fn report_first_paint(c: &Client) {
    let timing = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const fcp = performance.getEntriesByName('first-contentful-paint')[0];
             let lcp = 0;
             new PerformanceObserver(list => { for (const e of list.getEntries()) lcp = e.startTime; })
               .observe({type: 'largest-contentful-paint', buffered: true});
             setTimeout(() => done({fcp: fcp ? fcp.startTime : null, lcp}), 200);",
            vec![],
        )
        .await
        .unwrap_or_default();
    println!(
        "sign-in page paint on loopback: first contentful {} ms, largest contentful {} ms",
        timing["fcp"], timing["lcp"]
    );
}

/// A user's balance as administrators see it.
async fn balance(gw: &Gateway, username: &str) -> i64 {
    let (_, found) = gw.api("GET", &format!("/api/user/search?keyword={username}"), None).await;
    let users = found["data"].as_array().cloned().or_else(|| found["data"]["items"].as_array().cloned());
    users.unwrap_or_default().first().and_then(|u| u["quota"].as_i64()).expect("the user is found")
}

/// Visits each page in both languages and both themes: no untranslated key, no script error, a screenshot.
async fn tour(c: &Client, role: &str, pages: &[(&str, &str)]) {
    hook_errors(c).await;
    for (lang, lang_name) in [("zh-CN", "zh"), ("en", "en")] {
        set_lang(c, lang).await;
        for theme in ["light", "dark"] {
            set_theme(c, theme).await;
            for (path, ready) in pages {
                go(c, path).await;
                wait_css(c, ready).await;
                shot(c, &format!("{role}-{}-{lang_name}-{theme}", path.trim_matches('/').replace('/', "_"))).await;
                let leaked = untranslated(c).await;
                assert!(leaked.is_empty(), "{path} ({lang}) shows catalogue keys: {leaked:?}");
            }
        }
    }
    let errs = errors(c).await;
    assert!(errs.is_empty(), "script errors while touring: {errs:?}");
    set_lang(c, "zh-CN").await;
    set_theme(c, "light").await;
}

#[tokio::test]
async fn root_sets_up_channels_and_a_token_uses_it_and_finds_the_request_in_logs_and_dashboard() {
    let dist = dist_dir();
    let mut gw = Gateway::start_bare_with(|c| c.ui_dir = dist).await;
    let driver = start_chromedriver();
    let c = browser(&driver).await;

    // Any deep link sends a signed-out visitor to the login page; Chinese is the default.
    c.goto(&gw.url("/channel")).await.unwrap();
    wait_css(&c, "#login").await;
    assert_eq!(js(&c, "return location.pathname;").await, "/login");
    text_when(&c, "#nav-toggle, h1", |t| t.contains("登录")).await;
    report_first_paint(&c).await;
    shot(&c, "login-zh-light").await;

    type_into(&c, "#username", "root").await;
    type_into(&c, "#password", "wrong-password").await;
    click(&c, "#login").await;
    text_when(&c, "#login-error", |t| !t.is_empty()).await;

    // The default password forces a change before anything else.
    type_into(&c, "#password", "123456").await;
    click(&c, "#login").await;
    wait_css(&c, "#forced-change").await;
    assert!(c.find(Locator::Css("#side-nav")).await.is_err(), "no navigation before the password is changed");
    shot(&c, "forced-change-zh-light").await;
    type_into(&c, "#original-password", "123456").await;
    type_into(&c, "#new-password", ADMIN_PASSWORD).await;
    click(&c, "#change-password").await;
    wait_css(&c, "#nav-channels").await;
    gw.cookie = sign_in(&gw, "root", ADMIN_PASSWORD).await;

    // An OpenAI channel with two keys against the mock, made in the form.
    go(&c, "/channel/add").await;
    type_into(&c, "#ch-name", "mock-openai").await;
    type_into(&c, "#ch-base_url", &gw.mock.base_url()).await;
    type_into(&c, "#ch-key", "sk-first-upstream-key\nsk-second-upstream-key").await;
    type_into(&c, "#ch-model-new", "gpt-4o-mini\n").await;
    text_when(&c, "#ch-model-chips", |t| t.contains("gpt-4o-mini")).await;
    // A JSON field is checked before anything is sent.
    type_into(&c, "#ch-model_mapping", "{not json").await;
    click(&c, "#channel-save").await;
    text_when(&c, "#ch-model_mapping-error", |t| t.contains("JSON")).await;
    empty_field(&c, "#ch-model_mapping").await;
    click(&c, "#channel-save").await;
    let table = text_when(&c, "#channels", |t| t.contains("mock-openai")).await;
    assert!(table.contains("OpenAI"), "the type is shown by name: {table}");
    assert!(!table.contains("upstream-key"), "keys are never shown: {table}");
    let (_, list) = gw.api("GET", "/api/channel/search?keyword=mock-openai", None).await;
    let openai_id = list["data"][0]["id"].as_i64().expect("the channel was created");
    let (_, keys) = gw.api("GET", &format!("/api/channel/{openai_id}/keys"), None).await;
    assert_eq!(keys["data"].as_array().unwrap().len(), 2, "{keys}");

    // Test it from the list: the latency is shown.
    click(&c, &format!("#channel-{openai_id} .channel-test")).await;
    click(&c, "#test-run").await;
    let result = text_when(&c, "#test-result", |t| !t.is_empty()).await;
    assert!(result.contains("毫秒"), "{result}");
    click(&c, "#test-close").await;
    text_when(&c, &format!("#channel-{openai_id} .response-time"), |t| t.contains("ms")).await;
    shot(&c, "channels-after-test").await;

    // A Claude-type channel: the type picker fills its default address.
    go(&c, "/channel/add").await;
    choose(&c, "#ch-type", "14").await;
    let base = wait_css(&c, "#ch-base_url").await.prop("value").await.unwrap().unwrap_or_default();
    assert_eq!(base, "https://api.anthropic.com");
    type_into(&c, "#ch-name", "claude-direct").await;
    type_into(&c, "#ch-key", "sk-ant-test").await;
    type_into(&c, "#ch-model-new", "claude-3-5-haiku-20241022\n").await;
    click(&c, "#channel-save").await;
    text_when(&c, "#channels", |t| t.contains("claude-direct") && t.contains("Anthropic Claude")).await;

    // The edit page is a deep link that survives a reload.
    c.goto(&gw.url(&format!("/channel/{openai_id}/edit"))).await.unwrap();
    let name = wait_css(&c, "#ch-name").await.prop("value").await.unwrap().unwrap_or_default();
    assert_eq!(name, "mock-openai");
    text_when(&c, "#channel-keys", |t| t.contains("sk-")).await;
    c.back().await.unwrap();
    c.forward().await.unwrap();
    wait_css(&c, "#ch-name").await;

    // A timeout and a tag from their own fields; the timeout lands in `setting`.
    type_into(&c, "#ch-first_byte_timeout", "30").await;
    type_into(&c, "#ch-tag", "team-a").await;
    click(&c, "#channel-save").await;
    text_when(&c, "#channels", |t| t.contains("mock-openai")).await;
    let (_, saved) = gw.api("GET", &format!("/api/channel/{openai_id}"), None).await;
    assert_eq!(saved["data"]["tag"], "team-a", "{saved}");
    let setting: Value = serde_json::from_str(saved["data"]["setting"].as_str().unwrap()).unwrap();
    assert_eq!(setting["first_byte_timeout"], 30, "{saved}");

    // The tag view heads the tag's rows with its actions; copying opens the add form filled from the channel.
    click(&c, "#channel-tag-mode").await;
    text_when(&c, "#channels .tag-row", |t| t.contains("team-a")).await;
    shot(&c, "channels-tag-view").await;
    click(&c, "#channel-tag-mode").await;

    // A tag set on the selected rows at once (Veloera's batch "set tag").
    let (_, found) = gw.api("GET", "/api/channel/search?keyword=claude-direct", None).await;
    let claude_id = found["data"][0]["id"].as_i64().expect("the Claude channel was created");
    click(&c, &format!("#channel-{claude_id} input[type=checkbox]")).await;
    type_into(&c, "#channel-batch-tag", "team-b").await;
    click(&c, "#channel-tag-selected").await;
    let mut tagged = Value::Null;
    for _ in 0..50 {
        tagged = gw.api("GET", &format!("/api/channel/{claude_id}"), None).await.1;
        if tagged["data"]["tag"] == "team-b" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(tagged["data"]["tag"], "team-b", "{tagged}");
    let (_, untouched) = gw.api("GET", &format!("/api/channel/{openai_id}"), None).await;
    assert_eq!(untouched["data"]["tag"], "team-a", "only the selected row is tagged: {untouched}");
    click(&c, &format!("#channel-{openai_id} .channel-copy")).await;
    let mut copied = String::new();
    for _ in 0..50 {
        copied = wait_css(&c, "#ch-name").await.prop("value").await.unwrap().unwrap_or_default();
        if copied.contains("mock-openai") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(copied.starts_with("mock-openai") && copied != "mock-openai", "{copied}");
    let timeout = wait_css(&c, "#ch-first_byte_timeout").await.prop("value").await.unwrap().unwrap_or_default();
    assert_eq!(timeout, "30");

    // A token with a quota and a model limit; its key is shown once.
    go(&c, "/token/add").await;
    type_into(&c, "#tk-name", "ui-token").await;
    type_into(&c, "#tk-quota", "2").await;
    click(&c, "#tk-limits-on").await;
    click(&c, "#tk-models input[value=\"gpt-4o-mini\"]").await;
    click(&c, "#token-save").await;
    let key = text_when(&c, "#new-token-key", |t| t.trim().starts_with("sk-")).await.trim().to_string();
    assert_eq!(key.len(), 51, "{key}");
    text_when(&c, "#token-examples", |t| t.contains(&key) && t.contains("/hf/v1")).await;
    let (_, tokens) = gw.api("GET", "/api/token/search?keyword=ui-token", None).await;
    let token = &tokens["data"][0];
    assert_eq!(token["remain_quota"], 1_000_000, "$2 at 500 000 units per dollar: {token}");
    assert_eq!(token["model_limits"], "gpt-4o-mini");

    // The key works through the relay for its model, and only for it.
    let resp = gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await;
    assert_eq!(resp.status(), 200);
    let refused = gw.chat("/v1", &key, chat_body("claude-3-5-haiku-20241022")).await;
    assert!(refused.status().is_client_error(), "{}", refused.status());
    gw.wait_for_logs(1).await;

    // Revealing it later from the list gives the same key.
    go(&c, "/token").await;
    click(&c, ".token-reveal").await;
    assert_eq!(text_when(&c, "#revealed-key", |t| t.starts_with("sk-")).await, key);

    // The request in the logs page (model, tokens, cost) and on the dashboard chart.
    go(&c, "/log").await;
    let logs = text_when(&c, "#logs", |t| t.contains("gpt-4o-mini")).await;
    assert!(logs.contains('$'), "the cost is shown in currency: {logs}");
    assert!(
        logs.contains(&format!("{} / {}", mock_upstream::PROMPT_TOKENS, mock_upstream::COMPLETION_TOKENS)),
        "{logs}"
    );
    text_when(&c, "#log-stat", |t| t.contains('$')).await;
    go(&c, "/dashboard").await;
    text_when(&c, "#chart-consumption", |t| t.contains("gpt-4o-mini")).await;
    assert!(c.find(Locator::Css("#chart-consumption rect.bar")).await.is_ok());
    text_when(&c, "#dash-range-requests", |t| !t.trim().is_empty() && t.trim() != "0").await;

    // English and back; the choice survives a reload.
    set_lang(&c, "en").await;
    text_when(&c, "#nav-channels", |t| t == "Channels").await;
    c.refresh().await.unwrap();
    text_when(&c, "#nav-channels", |t| t == "Channels").await;
    set_lang(&c, "zh-CN").await;
    text_when(&c, "#nav-channels", |t| t == "渠道").await;

    // Dark theme, remembered.
    set_theme(&c, "dark").await;
    c.refresh().await.unwrap();
    wait_css(&c, "#nav-channels").await;
    assert_eq!(js(&c, "return document.documentElement.getAttribute('data-theme');").await, "dark");
    let bg = js(&c, "return getComputedStyle(document.body).backgroundColor;").await;
    assert_ne!(bg, "rgb(244, 245, 247)", "the dark theme changes the page colours");
    set_theme(&c, "light").await;

    // Every page, both languages and themes: no key leaks, no script errors.
    tour(
        &c,
        "root",
        &[
            ("/dashboard", "#dashboard-cards"),
            ("/channel", "#channels"),
            ("/channel/add", "#ch-name"),
            (&format!("/channel/{openai_id}/edit"), "#channel-keys"),
            ("/token", "#tokens"),
            ("/token/add", "#tk-name"),
            ("/log", "#logs"),
            ("/playground", "#pg-model"),
            ("/topup", "#wallet-balance"),
            ("/personal", "#profile-summary"),
            ("/no-such-page", ".card h1"),
        ],
    )
    .await;

    // A phone: the navigation folds into a drawer and the channel list scrolls inside its frame.
    c.set_window_size(390, 844).await.unwrap();
    go(&c, "/channel").await;
    wait_css(&c, "#channels").await;
    assert!(!scrolls_sideways(&c).await, "the channel list makes the page scroll sideways at 390 px");
    wait_css(&c, "#nav-channels").await;
    js_until(
        &c,
        "return document.getElementById('side-nav').getBoundingClientRect().right <= 0;",
        "the drawer folds away at 390 px",
    )
    .await;
    shot(&c, "phone-channels-light").await;
    click(&c, "#nav-toggle").await;
    js_until(&c, "return document.getElementById('side-nav').getBoundingClientRect().right > 100;", "the drawer opens")
        .await;
    shot(&c, "phone-nav-open-light").await;
    click(&c, "#nav-tokens").await;
    wait_css(&c, "#tokens").await;
    assert!(!scrolls_sideways(&c).await, "the token list scrolls sideways at 390 px");
    go(&c, "/channel/add").await;
    wait_css(&c, "#ch-name").await;
    assert!(!scrolls_sideways(&c).await, "the channel form scrolls sideways at 390 px");
    set_theme(&c, "dark").await;
    shot(&c, "phone-channel-form-dark").await;
    set_theme(&c, "light").await;
    c.set_window_size(1280, 900).await.unwrap();

    // Destructive actions ask first; cancelling keeps the channel.
    go(&c, "/channel").await;
    click(&c, &format!("#channel-{openai_id} .danger")).await;
    text_when(&c, "#confirm-text", |t| t.contains("mock-openai")).await;
    click(&c, "#confirm-no").await;
    text_when(&c, "#channels", |t| t.contains("mock-openai")).await;

    // Logging out ends the session.
    click(&c, "#user-menu").await;
    click(&c, "#logout").await;
    wait_css(&c, "#login").await;
    c.close().await.unwrap();
}

#[tokio::test]
async fn a_registered_user_sees_no_admin_pages_and_uses_tokens_wallet_and_check_in() {
    let dist = dist_dir();
    let mut gw = Gateway::start_bare_with(|c| c.ui_dir = dist).await;
    gw.sign_in_root().await;
    gw.create_channel(json!({"name": "mock", "type": 1, "key": "sk-upstream-1", "base_url": gw.mock.base_url(), "models": "gpt-4o-mini"}))
        .await;
    // New accounts start with $1, so the user's first request has something to spend.
    gw.set_options(&[("CheckInEnabled", "true"), ("CheckInQuota", "1000"), ("QuotaForNewUser", "500000")]).await;
    let (status, code) =
        gw.api("POST", "/api/redemption/", Some(json!({"name": "ui-code", "quota": 250000, "count": 1}))).await;
    assert_eq!(status, 200, "{code}");
    let code = code["data"][0].as_str().expect("a redemption key").to_string();

    let driver = start_chromedriver();
    let c = browser(&driver).await;
    c.goto(&gw.url("/register")).await.unwrap();
    type_into(&c, "#reg-username", "alice").await;
    type_into(&c, "#reg-password", "alice-password").await;
    type_into(&c, "#reg-confirm", "alice-password").await;
    click(&c, "#register").await;
    wait_css(&c, "#login").await;
    type_into(&c, "#username", "alice").await;
    type_into(&c, "#password", "alice-password").await;
    click(&c, "#login").await;
    wait_css(&c, "#nav-tokens").await;
    assert!(c.find(Locator::Css("#nav-channels")).await.is_err(), "a user sees no admin navigation");

    // Opening an admin page directly shows the server's refusal in words.
    go(&c, "/channel").await;
    let refusal = text_when(&c, "#channels-error", |t| !t.is_empty()).await;
    assert!(refusal.contains("没有权限") || refusal.contains("未登录"), "{refusal}");

    // A token made in the UI works.
    go(&c, "/token/add").await;
    type_into(&c, "#tk-name", "alice-token").await;
    click(&c, "#tk-unlimited").await;
    click(&c, "#token-save").await;
    let key = text_when(&c, "#new-token-key", |t| t.trim().starts_with("sk-")).await.trim().to_string();
    let resp = gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    gw.wait_for_logs(1).await;

    // Redeem a code: the result in words and a larger balance.
    go(&c, "/topup").await;
    let before = text_when(&c, "#wallet-balance", |t| t.starts_with('$')).await;
    type_into(&c, "#redeem-code", &code).await;
    click(&c, "#redeem").await;
    let said = text_when(&c, "#redeem-result", |t| !t.is_empty()).await;
    assert!(said.contains("$0.50"), "{said}");
    text_when(&c, "#wallet-balance", |t| t != before).await;
    // The same code twice is refused in words.
    type_into(&c, "#redeem-code", &code).await;
    click(&c, "#redeem").await;
    text_when(&c, "#redeem-result", |t| t != said && !t.is_empty()).await;

    click(&c, "#check-in").await;
    wait_css(&c, "#check-in-done").await;
    let (_, logs) = gw.api("GET", "/api/log/?type=5", None).await;
    assert!(logs.to_string().contains("alice"), "the check-in is logged: {logs}");

    // The playground: the answer streams in from the mock, billed to alice as playground-<group> and logged.
    let before = balance(&gw, "alice").await;
    go(&c, "/playground").await;
    choose(&c, "#pg-model", "gpt-4o-mini").await;
    type_into(&c, "#pg-system", "Be brief.").await;
    type_into(&c, "#pg-prompt", "Say hello").await;
    click(&c, "#pg-send").await;
    text_when(&c, ".pg-chat", |t| t.contains("Hello world")).await;
    wait_css(&c, "#pg-clear").await;
    shot(&c, "user-playground-answer").await;
    let sent = gw.mock.received().into_iter().last().unwrap().body;
    assert_eq!(sent["messages"][0]["content"], "Be brief.", "the system prompt goes first: {sent}");
    assert!(sent.get("group").is_none(), "{sent}");
    let rows = gw.wait_for_logs(2).await;
    assert_eq!(rows[0]["token_name"], "playground-default", "{}", rows[0]);
    assert_eq!(rows[0]["username"], "alice");
    let mut after = before;
    for _ in 0..100 {
        after = balance(&gw, "alice").await;
        if after < before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(after < before, "the playground request is billed: {before} → {after}");

    // The user's own log shows the requests.
    go(&c, "/log").await;
    text_when(&c, "#logs", |t| t.contains("gpt-4o-mini") && t.contains("playground-default")).await;

    tour(
        &c,
        "user",
        &[
            ("/dashboard", "#dashboard-cards"),
            ("/token", "#tokens"),
            ("/log", "#logs"),
            ("/playground", "#pg-model"),
            ("/topup", "#wallet-balance"),
            ("/personal", "#profile-summary"),
        ],
    )
    .await;
    c.close().await.unwrap();
}

#[tokio::test]
async fn names_that_look_like_html_render_as_text() {
    let dist = dist_dir();
    let mut gw = Gateway::start_bare_with(|c| c.ui_dir = dist).await;
    gw.sign_in_root().await;
    let evil = "<img src=x onerror=\"window.__xss=1\"><script>__xss=2</script>";
    gw.create_channel(json!({"name": evil, "type": 1, "key": "sk-x", "base_url": gw.mock.base_url(), "models": "gpt-4o-mini", "tag": evil}))
        .await;
    gw.create_token(json!({"name": "<b id=injected>bold</b>", "unlimited_quota": true})).await;

    let driver = start_chromedriver();
    let c = browser(&driver).await;
    c.goto(&gw.url("/login")).await.unwrap();
    type_into(&c, "#username", "root").await;
    type_into(&c, "#password", ADMIN_PASSWORD).await;
    click(&c, "#login").await;
    wait_css(&c, "#nav-channels").await;
    go(&c, "/channel").await;
    let table = text_when(&c, "#channels", |t| t.contains("<img")).await;
    assert!(table.contains(evil.split('>').next().unwrap()), "{table}");
    go(&c, "/token").await;
    text_when(&c, "#tokens", |t| t.contains("<b id=injected>")).await;
    // A model answer carrying markup is shown as the text it is.
    let answer = "<script>window.__xss=3</script><img src=x onerror=\"window.__xss=4\">";
    gw.mock.script(mock_upstream::Reply::Sse {
        chunks: mock_upstream::stream_chunks("gpt-4o-mini", &[&answer[..20], &answer[20..]], true),
        delay: Duration::from_millis(50),
        done: true,
    });
    go(&c, "/playground").await;
    choose(&c, "#pg-model", "gpt-4o-mini").await;
    type_into(&c, "#pg-prompt", "Answer with markup").await;
    click(&c, "#pg-send").await;
    text_when(&c, ".pg-chat", |t| t.contains(answer)).await;
    assert_eq!(js(&c, "return document.querySelectorAll('.pg-chat img, .pg-chat script').length;").await, 0);
    shot(&c, "xss-playground").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(js(&c, "return window.__xss === undefined;").await, true, "an injected handler ran");
    assert_eq!(js(&c, "return document.querySelectorAll('#channels img, #injected, main script').length;").await, 0);
    shot(&c, "xss-tokens").await;
    c.close().await.unwrap();
}
