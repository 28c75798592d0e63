//! The admin UI in headless Chromium, driven through chromedriver against the real gateway (mock upstream +
//! control + relay on port 0): sign in, forced password change, channel and token lists, create a token and
//! use its key. Needs the UI built (`cargo xtask ui`) and chromedriver; `cargo xtask test` provides both.

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

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

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

async fn type_into(c: &Client, id: &str, text: &str) {
    let el = c
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("#{id}: {e}"));
    el.clear().await.unwrap();
    el.send_keys(text).await.unwrap();
}

async fn click(c: &Client, id: &str) {
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("#{id}: {e}"))
        .click()
        .await
        .unwrap();
}

/// Waits until the element's text satisfies `pred`, returning the text.
async fn text_when(c: &Client, id: &str, pred: impl Fn(&str) -> bool) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        if let Ok(el) = c.find(Locator::Id(id)).await {
            last = el.text().await.unwrap_or_default();
            if pred(&last) {
                return last;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("#{id} never matched; last text: {last:?}");
}

fn dist_dir() -> PathBuf {
    let dist = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../admin-yew/dist");
    assert!(dist.join("index.html").is_file(), "the admin UI is not built: run `cargo xtask ui` first");
    dist
}

#[tokio::test]
async fn an_admin_signs_in_changes_the_password_sees_channels_and_creates_a_working_token() {
    let dist = dist_dir();
    let mut gw = Gateway::start_bare_with(|c| c.ui_dir = dist).await;
    let driver = start_chromedriver();
    let c = browser(&driver).await;

    c.goto(&gw.url("/")).await.unwrap();
    type_into(&c, "username", "root").await;
    type_into(&c, "password", "wrong-password").await;
    click(&c, "login").await;
    text_when(&c, "login-error", |t| !t.is_empty()).await;

    type_into(&c, "password", "123456").await;
    click(&c, "login").await;
    type_into(&c, "original-password", "123456").await;
    type_into(&c, "new-password", ADMIN_PASSWORD).await;
    click(&c, "change-password").await;
    text_when(&c, "tokens", |_| true).await;

    // A channel created meanwhile through the API shows up after a reload, with its key masked.
    gw.cookie = sign_in(&gw, ADMIN_PASSWORD).await;
    gw.create_channel(json!({"name": "ui-mock-channel", "type": 1, "key": "sk-upstream-secret-key", "base_url": gw.mock.base_url(), "models": "gpt-4o-mini"}))
        .await;
    c.refresh().await.unwrap();
    let channels = text_when(&c, "channels", |t| t.contains("ui-mock-channel")).await;
    assert!(!channels.contains("upstream-secret"), "{channels}");

    type_into(&c, "token-name", "from-the-ui").await;
    click(&c, "create-token").await;
    let key = text_when(&c, "new-token-key", |t| t.trim().starts_with("sk-")).await;
    let key = key.trim().to_string();
    assert_eq!(key.len(), 51, "{key}");
    text_when(&c, "tokens", |t| t.contains("from-the-ui")).await;

    let resp = gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await;
    assert_eq!(resp.status(), 200);

    click(&c, "logout").await;
    c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Id("login")).await.unwrap();
    c.close().await.unwrap();
}

async fn sign_in(gw: &Gateway, password: &str) -> String {
    let resp = gw
        .http
        .post(gw.url("/api/user/login"))
        .json(&json!({"username": "root", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    harness::session_cookie(&resp)
}
