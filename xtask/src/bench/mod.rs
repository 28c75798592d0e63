//! `cargo xtask bench`: the gateway against a bare hyper proxy and direct calls to the same mock upstream,
//! scenarios S1–S7 of `shared/spec/benchmark-protocol.md`, interleaved over several rounds (median of round
//! medians), plus the LiteLLM proxy as a peer. Writes `target/bench/report.md`, `results.json` and
//! `latency.svg`, and stops every process it started.

pub mod guard;
pub(crate) mod procs;
pub(crate) mod provision;
mod report;
mod scenarios;
mod streams;
mod wrk;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::workspace::{cargo, run as run_cmd, target_dir, workspace_root};
use procs::{Proc, free_port, spawn_listening, spawn_service};

/// Knobs of one run.
pub struct Plan {
    pub rounds: usize,
    pub run_secs: u64,
    pub soak_secs: u64,
    pub slow_streams: usize,
    pub litellm: bool,
    /// Scenarios to run (`--only S2,S4`); empty runs all. The report marks skipped targets as not measured.
    pub only: Vec<String>,
}

impl Plan {
    fn parse(args: &[String]) -> Result<Plan> {
        // Slow streams arrive over HTTP/2 (see `streams::h2_clients`), so the relay holds about one socket per
        // stream; the hard limit here is 20,000 open files per process.
        let mut plan =
            Plan { rounds: 3, run_secs: 3, soak_secs: 60, slow_streams: 10_000, litellm: true, only: Vec::new() };
        let mut args = args.iter();
        while let Some(a) = args.next() {
            match a.as_str() {
                "--quick" => {
                    (plan.rounds, plan.run_secs, plan.soak_secs, plan.slow_streams) = (1, 2, 10, 1_000);
                }
                "--no-litellm" => plan.litellm = false,
                "--only" => {
                    let list = args.next().context("--only needs a list such as S2,S4")?;
                    plan.only = list.split(',').map(|s| s.trim().to_ascii_uppercase()).collect();
                    if let Some(bad) = plan.only.iter().find(|s| !SCENARIOS.contains(&s.as_str())) {
                        bail!("unknown scenario `{bad}` (known: {})", SCENARIOS.join(", "));
                    }
                }
                other => bail!("unknown bench option `{other}` (known: --quick, --no-litellm, --only S1,…,S7)"),
            }
        }
        Ok(plan)
    }

    pub fn runs(&self, scenario: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == scenario)
    }
}

const SCENARIOS: [&str; 7] = ["S1", "S2", "S3", "S4", "S5", "S6", "S7"];

/// The running system under test: every process and the addresses to reach it.
pub struct Rig {
    pub mock: Proc,
    pub mock_url: String,
    pub proxy: Proc,
    pub proxy_url: String,
    pub control: Proc,
    pub relay: Proc,
    pub relay_url: String,
    pub cold_relay: Proc,
    pub cold_relay_url: String,
    pub key: String,
    pub soak_token: (i64, String),
    pub admin: provision::Admin,
    pub dir: PathBuf,
    /// Release binaries and the environment every service of this rig gets, for starting fresh instances.
    pub bin: PathBuf,
    pub service_env: Vec<(&'static str, String)>,
}

impl Rig {
    /// A bare proxy that has served nothing yet.
    pub fn fresh_proxy(&self) -> Result<(Proc, String)> {
        let (proxy, addr) = spawn_listening(
            "bare-proxy (fresh)",
            &self.bin.join("bare-proxy"),
            &["--listen".into(), "127.0.0.1:0".into(), "--upstream".into(), self.mock_url.clone()],
        )?;
        Ok((proxy, format!("http://{addr}")))
    }

    /// A second relay on the same control that has served nothing yet; returns once it answers.
    pub async fn fresh_relay(&self) -> Result<(Proc, String)> {
        let port = free_port()?;
        let mut env = self.service_env.clone();
        env.extend([("PORT", port.to_string()), ("RELAY_ID", "bench-fresh".to_string())]);
        let relay =
            spawn_service("relay-svc (fresh)", &self.bin.join("relay-svc"), &env, &self.dir.join("relay-fresh.log"))?;
        let url = format!("http://127.0.0.1:{port}");
        let probe = reqwest::Client::builder().no_proxy().build()?;
        for _ in 0..100 {
            if probe
                .get(format!("{url}/v1/models"))
                .bearer_auth(&self.key)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                // Let its config stream come up so it trusts its caches.
                tokio::time::sleep(Duration::from_millis(300)).await;
                return Ok((relay, url));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("the fresh relay did not answer on {url}")
    }
}

/// Mock profiles: model name → latency:chunks:interval (see bench-kit's mock-upstream).
pub const FAST_MODEL: &str = "gpt-4o-mini";
pub const SLOW_MODEL: &str = "gpt-4o";
pub const STREAM_MODEL: &str = "gpt-4.1-mini";
pub const STREAM_CHUNKS: u64 = 64;
pub const TRICKLE_MODEL: &str = "gpt-4.1-nano";
pub const TRICKLE_CHUNKS: u64 = 10;

/// Builds the services and bench-kit in release mode and makes an empty `target/<name>` working directory;
/// returns (release binaries, working directory).
pub fn prepare(name: &str) -> Result<(PathBuf, PathBuf)> {
    run_cmd(
        cargo()
            .args(["build", "--release", "--locked", "-p", "control-svc", "-p", "relay-svc", "-p", "bench-kit"])
            .current_dir(workspace_root()),
    )?;
    let bin = target_dir()?.join("release");
    let dir = target_dir()?.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok((bin, dir))
}

pub fn run(args: &[String]) -> Result<()> {
    let plan = Plan::parse(args)?;
    ensure_tools()?;
    let (bin, dir) = prepare("bench")?;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async {
        let rig = start(&bin, dir.clone()).await?;
        let results = scenarios::run_all(&rig, &plan).await?;
        let report = report::write(&dir, &results)?;
        println!("\n{report}");
        println!("written: {0}/report.md, {0}/results.json, {0}/latency.svg", dir.display());
        Ok(())
    })
}

async fn start(bin: &std::path::Path, dir: PathBuf) -> Result<Rig> {
    let profiles = [
        format!("{SLOW_MODEL}=20:0:0"),
        format!("{STREAM_MODEL}=0:{STREAM_CHUNKS}:20"),
        format!("{TRICKLE_MODEL}=0:{TRICKLE_CHUNKS}:1000"),
    ];
    let mut mock_args = vec!["--listen".to_string(), "127.0.0.1:0".to_string()];
    for p in &profiles {
        mock_args.extend(["--profile".to_string(), p.clone()]);
    }
    let (mock, mock_addr) = spawn_listening("mock-upstream", &bin.join("mock-upstream"), &mock_args)?;
    let mock_url = format!("http://{mock_addr}");
    let (proxy, proxy_addr) = spawn_listening(
        "bare-proxy",
        &bin.join("bare-proxy"),
        &["--listen".into(), "127.0.0.1:0".into(), "--upstream".into(), mock_url.clone()],
    )?;
    let (http, grpc) = (free_port()?, free_port()?);
    let data = dir.join("data");
    let common = |extra: &[(&'static str, String)]| {
        let mut env = vec![
            ("DATA_DIR", data.display().to_string()),
            ("CONTROL_HTTP_ADDR", format!("127.0.0.1:{http}")),
            ("CONTROL_GRPC_ADDR", format!("127.0.0.1:{grpc}")),
            ("CONTROL_HTTP_URL", format!("http://127.0.0.1:{http}")),
            ("CONTROL_GRPC_URL", format!("http://127.0.0.1:{grpc}")),
            ("RELAY_HOST", "127.0.0.1".to_string()),
        ];
        env.extend_from_slice(extra);
        env
    };
    let control = spawn_service("control-svc", &bin.join("control-svc"), &common(&[]), &dir.join("control.log"))?;
    let relay_port = free_port()?;
    let relay = spawn_service(
        "relay-svc",
        &bin.join("relay-svc"),
        &common(&[("PORT", relay_port.to_string()), ("RELAY_ID", "bench-warm".into())]),
        &dir.join("relay.log"),
    )?;
    let cold_port = free_port()?;
    // Every request of this relay misses its caches: the cold path, one Authorize call each.
    let cold_relay = spawn_service(
        "relay-svc (cold)",
        &bin.join("relay-svc"),
        &common(&[("PORT", cold_port.to_string()), ("AUTH_CACHE_TTL", "0".into()), ("RELAY_ID", "bench-cold".into())]),
        &dir.join("relay-cold.log"),
    )?;
    let relay_url = format!("http://127.0.0.1:{relay_port}");
    let admin = provision::Admin::sign_in(&relay_url).await.context("provisioning the gateway")?;
    admin.channel(&mock_url, &[FAST_MODEL, SLOW_MODEL, STREAM_MODEL, TRICKLE_MODEL].join(",")).await?;
    let (_, key) = admin.token("bench").await?;
    let soak_token = admin.token("soak").await?;
    // Let both relays' config streams come up so the warm one trusts its caches.
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok(Rig {
        mock,
        mock_url,
        proxy,
        proxy_url: format!("http://{proxy_addr}"),
        control,
        relay,
        relay_url,
        cold_relay,
        cold_relay_url: format!("http://127.0.0.1:{cold_port}"),
        key,
        soak_token,
        admin,
        dir,
        bin: bin.to_path_buf(),
        service_env: common(&[]),
    })
}

/// wrk from Debian, oha from crates.io: installed when missing.
fn ensure_tools() -> Result<()> {
    let have = |tool: &str| std::process::Command::new(tool).arg("--version").output().is_ok();
    if !have("wrk") {
        run_cmd(std::process::Command::new("apt-get").args(["install", "-y", "wrk"]))
            .or_else(|_| {
                run_cmd(std::process::Command::new("apt-get").arg("update"))?;
                run_cmd(std::process::Command::new("apt-get").args(["install", "-y", "wrk"]))
            })
            .context("installing wrk")?;
    }
    if !have("oha") {
        run_cmd(cargo().args(["install", "oha", "--locked"])).context("installing oha")?;
    }
    Ok(())
}
