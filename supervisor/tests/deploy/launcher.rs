//! The launcher as the image runs it: the Dockerfile's environment, with only the data directory (a temporary
//! one), the ports (free ones) and the UI directory (the workspace's build) changed.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::dockerfile;

const SECRETS: [&str; 3] = ["session_secret", "crypto_secret", "internal_secret"];

/// A running launcher.
struct Launched {
    child: Child,
    port: u16,
    http: reqwest::Client,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn ui_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../admin-yew/dist")
}

/// Starts `veloera` with the image's environment on `data` and waits (bounded) until the relay is ready.
async fn launch(data: &Path) -> Launched {
    let bin = Path::new(env!("CARGO_BIN_EXE_veloera")).parent().unwrap();
    for service in ["control-svc", "relay-svc"] {
        assert!(
            bin.join(service).is_file(),
            "{} is missing: run `cargo build -p control-svc -p relay-svc` (cargo test --workspace does)",
            bin.join(service).display()
        );
    }
    let text = std::fs::read_to_string(dockerfile::path()).unwrap();
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_veloera"));
    command.env_clear().envs(dockerfile::env(&text));
    command
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DATA_DIR", data)
        .env("ADMIN_UI_DIR", ui_dir())
        .env("PORT", port.to_string())
        .env("RELAY_HOST", "127.0.0.1")
        .env("CONTROL_HTTP_ADDR", format!("127.0.0.1:{}", free_port()))
        .env("CONTROL_GRPC_ADDR", format!("127.0.0.1:{}", free_port()))
        .env("RUST_LOG", "warn,veloera=info")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let mut launched = Launched {
        child: command.spawn().unwrap(),
        port,
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
    };
    for _ in 0..600 {
        if let Some(status) = launched.child.try_wait().unwrap() {
            panic!("the launcher exited before the relay was ready: {status}");
        }
        if let Ok(resp) = launched.http.get(launched.url("/readyz")).send().await
            && resp.status() == 200
        {
            return launched;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the relay was not ready within 60 s");
}

impl Launched {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id().expect("running") as i32)
    }

    /// The services it started, by name, from `/proc` (it starts them from its only thread).
    fn service_pid(&self, name: &str) -> Pid {
        let pid = self.pid();
        let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap();
        children
            .split_whitespace()
            .find(|c| std::fs::read_to_string(format!("/proc/{c}/comm")).is_ok_and(|comm| comm.trim() == name))
            .map(|c| Pid::from_raw(c.parse().unwrap()))
            .unwrap_or_else(|| panic!("no {name} among the launcher's children {children:?}"))
    }

    /// Waits (bounded) for the launcher to exit.
    async fn exit(&mut self) -> ExitStatus {
        tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("the launcher exits within its shutdown bound")
            .unwrap()
    }

    async fn json(&self, method: &str, path: &str, cookie: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method.parse().unwrap(), self.url(path)).header("cookie", cookie);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
    }
}

fn secrets(data: &Path) -> Vec<String> {
    SECRETS.iter().map(|name| std::fs::read_to_string(data.join(name)).unwrap()).collect()
}

#[tokio::test]
async fn the_image_serves_ui_api_and_both_v1_prefixes_on_one_port_and_stops_cleanly_on_sigterm() {
    let data = tempfile::tempdir().unwrap();
    let mut gateway = launch(data.path()).await;

    let index = gateway.http.get(gateway.url("/")).send().await.unwrap();
    if ui_dir().join("index.html").is_file() {
        assert_eq!(index.status(), 200);
        assert!(index.text().await.unwrap().contains("<html"), "the admin UI's index");
    } else {
        // Not built here (`cargo xtask ui`): control still answers the UI's paths, saying so.
        assert_eq!(index.status(), 503);
        assert!(index.text().await.unwrap().contains("not built"));
    }
    let (status, body) = gateway.json("GET", "/api/status", "", None).await;
    assert_eq!((status, body["success"].as_bool()), (200, Some(true)), "{body}");

    // GENERATE_DEFAULT_TOKEN=true (the image's default) gave root a token; its key serves both prefixes.
    let login = gateway
        .http
        .post(gateway.url("/api/user/login"))
        .json(&json!({"username": "root", "password": "123456"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let cookie = login.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let new_password = json!({"original_password": "123456", "password": "a-long-new-password"});
    assert_eq!(gateway.json("PUT", "/api/user/self", &cookie, Some(new_password)).await.0, 200);
    let (_, tokens) = gateway.json("GET", "/api/token/", &cookie, None).await;
    let token_id =
        tokens["data"]["items"][0]["id"].as_i64().unwrap_or_else(|| panic!("root has a default token: {tokens}"));
    let (_, key) = gateway.json("POST", &format!("/api/token/{token_id}/key"), &cookie, None).await;
    let key = key["data"].as_str().unwrap().to_string();
    for prefix in ["/v1", "/hf/v1"] {
        let models = gateway.http.get(gateway.url(&format!("{prefix}/models"))).bearer_auth(&key).send().await.unwrap();
        assert_eq!(models.status(), 200, "{prefix}/models");
        assert_eq!(models.json::<Value>().await.unwrap()["object"], "list");
        let anonymous = gateway.http.get(gateway.url(&format!("{prefix}/models"))).send().await.unwrap();
        assert_eq!(anonymous.status(), 401, "{prefix} is the relay's, with its own authentication");
    }

    kill(gateway.pid(), Signal::SIGTERM).unwrap();
    let status = gateway.exit().await;
    assert_eq!(status.code(), Some(0), "an ordered stop: {status}");
    // The image's SQL_DSN names /app/data/veloera.db; the database followed the data directory.
    assert!(data.path().join("veloera.db").is_file());
}

#[tokio::test]
async fn a_service_that_dies_stops_the_other_and_the_launcher_fails() {
    for victim in ["relay-svc", "control-svc"] {
        let data = tempfile::tempdir().unwrap();
        let mut gateway = launch(data.path()).await;
        let other = gateway.service_pid(if victim == "relay-svc" { "control-svc" } else { "relay-svc" });
        kill(gateway.service_pid(victim), Signal::SIGKILL).unwrap();
        let status = gateway.exit().await;
        assert!(!status.success(), "{victim} died, so the container must fail: {status}");
        assert!(kill(other, None).is_err(), "the other service was stopped too");
    }
}

#[tokio::test]
async fn generated_secrets_are_private_and_reused_on_the_next_start() {
    let data = tempfile::tempdir().unwrap();
    let mut first = launch(data.path()).await;
    let generated = secrets(data.path());
    for name in SECRETS {
        let mode = std::fs::metadata(data.path().join(name)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{name} is readable by its owner only");
    }
    assert!(generated.iter().all(|s| s.trim().len() >= 32), "long random secrets");
    kill(first.pid(), Signal::SIGTERM).unwrap();
    assert!(first.exit().await.success());

    let mut second = launch(data.path()).await;
    assert_eq!(secrets(data.path()), generated, "the second start reads what the first wrote");
    kill(second.pid(), Signal::SIGTERM).unwrap();
    assert!(second.exit().await.success());
}
