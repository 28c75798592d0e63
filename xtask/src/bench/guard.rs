//! `cargo xtask perf-guard`: a repeatable cost check for CI. The relay runs under callgrind; after a warm-up,
//! the instruction counter is zeroed, a fixed number of warm chat requests is sent one at a time, and the
//! instructions per request are compared with `xtask/perf-baseline.json`. Instruction counts do not depend on
//! how busy the machine is, so an accidental synchronous call or an extra body copy on the hot path shows up
//! as a failure instead of noise. `--update` rewrites the baseline. The bare proxy is counted the same way, for
//! scale, and both windows' inclusive profiles are written next to the dumps (`target/perf-guard/profile-*.txt`).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::procs::{Proc, free_port, service_env, spawn_listening};
use super::provision::Admin;
use crate::workspace::workspace_root;

const WARMUP: usize = 200;
const MEASURED: usize = 1000;

#[derive(Serialize, Deserialize)]
struct Baseline {
    instructions_per_request: u64,
    /// Allowed growth before CI fails, as a fraction (0.2 = 20 %).
    tolerance: f64,
}

pub fn run(args: &[String]) -> Result<()> {
    // `--with-metrics` measures the relay recording metrics (METRICS_ADDR set) against the same baseline: metrics
    // must cost the warm path nothing measurable. The baseline is always taken without them.
    let (update, with_metrics) = match args {
        [] => (false, false),
        [flag] if flag == "--update" => (true, false),
        [flag] if flag == "--with-metrics" => (false, true),
        _ => bail!("usage: cargo xtask perf-guard [--update | --with-metrics]"),
    };
    let (bin, dir) = super::prepare("perf-guard")?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (per_request, proxy_per_request) = runtime.block_on(measure(&bin, &dir, with_metrics))?;
    println!(
        "perf-guard: the bare proxy costs {proxy_per_request} instructions per request; the relay {:.2}× that \
         (profiles: {})",
        per_request as f64 / proxy_per_request.max(1) as f64,
        dir.join("profile-*.txt").display()
    );
    let baseline_path = workspace_root().join("xtask/perf-baseline.json");
    if update {
        let b = Baseline { instructions_per_request: per_request, tolerance: 0.2 };
        std::fs::write(&baseline_path, serde_json::to_string_pretty(&b)? + "\n")?;
        println!("perf-guard: baseline set to {per_request} instructions per warm request");
        return Ok(());
    }
    let b: Baseline = serde_json::from_str(&std::fs::read_to_string(&baseline_path).context("reading the baseline")?)?;
    let limit = (b.instructions_per_request as f64 * (1.0 + b.tolerance)) as u64;
    println!(
        "perf-guard: {per_request} instructions per warm request{} (baseline {}, limit {limit})",
        if with_metrics { " with metrics recorded" } else { "" },
        b.instructions_per_request
    );
    if per_request > limit {
        bail!(
            "the relay's warm path costs {:.0}% more instructions than the baseline; profile it \
             (target/perf-guard/callgrind.out.*) or, if the cost is intended, run `cargo xtask perf-guard --update`",
            (per_request as f64 / b.instructions_per_request as f64 - 1.0) * 100.0
        );
    }
    Ok(())
}

/// Instructions per warm request of the relay, and of the bare proxy doing the same request.
async fn measure(bin: &Path, dir: &Path, with_metrics: bool) -> Result<(u64, u64)> {
    let (_mock, mock_addr) =
        spawn_listening("mock-upstream", &bin.join("mock-upstream"), &["--listen".into(), "127.0.0.1:0".into()])?;
    let (mut env, port) = service_env(dir)?;
    env.push(("RUST_LOG", "warn".to_string()));
    let _control =
        Proc::spawn_command("control-svc", Command::new(bin.join("control-svc")), &env, &dir.join("control.log"))?;
    let mut relay_env = env.clone();
    if with_metrics {
        relay_env.push(("METRICS_ADDR", format!("127.0.0.1:{}", free_port()?)));
    }
    let relay = Proc::spawn_command(
        "relay-svc (callgrind)",
        under_callgrind(dir, "relay", &bin.join("relay-svc"), &[]),
        &relay_env,
        &dir.join("relay.log"),
    )?;
    let base = format!("http://127.0.0.1:{port}");
    let admin = Admin::sign_in(&base).await.context("the relay under callgrind did not come up")?;
    admin.channel(&format!("http://{mock_addr}"), "gpt-4o-mini").await?;
    let (_, key) = admin.token("perf-guard").await?;
    let relay_cost = count(&relay, dir, "relay", &format!("{base}/v1/chat/completions"), &key).await?;
    drop(relay);

    let proxy_port = free_port()?;
    let args =
        ["--listen".to_string(), format!("127.0.0.1:{proxy_port}"), "--upstream".into(), format!("http://{mock_addr}")];
    let proxy = Proc::spawn_command(
        "bare-proxy (callgrind)",
        under_callgrind(dir, "proxy", &bin.join("bare-proxy"), &args),
        &[],
        &dir.join("proxy.log"),
    )?;
    let proxy_url = format!("http://127.0.0.1:{proxy_port}/v1/chat/completions");
    let client = reqwest::Client::builder().no_proxy().build()?;
    let mut up = false;
    for _ in 0..200 {
        if client.get(format!("http://127.0.0.1:{proxy_port}/stats")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if !up {
        bail!("the bare proxy under callgrind did not come up");
    }
    let proxy_cost = count(&proxy, dir, "proxy", &proxy_url, &key).await?;
    Ok((relay_cost, proxy_cost))
}

fn under_callgrind(dir: &Path, tag: &str, bin: &Path, args: &[String]) -> Command {
    let mut cmd = Command::new("valgrind");
    cmd.arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}/callgrind.{tag}.%p", dir.display()))
        .arg(bin)
        .args(args);
    cmd
}

/// Warms `url` up, then counts the instructions `proc` spends on a fixed number of sequential requests and
/// writes the inclusive profile of that window to `profile-<tag>.txt`.
async fn count(proc: &Proc, dir: &Path, tag: &str, url: &str, key: &str) -> Result<u64> {
    let client = reqwest::Client::builder().no_proxy().tcp_nodelay(true).build()?;
    let body = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]}"#;
    let send = |n: usize| {
        let (client, key, url) = (client.clone(), key.to_string(), url.to_string());
        async move {
            for _ in 0..n {
                let resp = client
                    .post(&url)
                    .bearer_auth(&key)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await?;
                if !resp.status().is_success() {
                    bail!("warm request failed with {}", resp.status());
                }
                resp.bytes().await?;
            }
            Ok::<(), anyhow::Error>(())
        }
    };
    send(WARMUP).await?;
    // Let the usage outbox flush the warm-up before counting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    callgrind_control(&["--zero", &proc.pid().to_string()])?;
    send(MEASURED).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    callgrind_control(&["--dump=measured", &proc.pid().to_string()])?;
    let dump = newest_dump(dir, &format!("callgrind.{tag}."))?;
    let total = dump_total(&dump)?;
    let profile = Command::new("callgrind_annotate").args(["--inclusive=yes", "--threshold=99"]).arg(&dump).output();
    if let Ok(out) = profile {
        std::fs::write(dir.join(format!("profile-{tag}.txt")), out.stdout)?;
    }
    Ok(total / MEASURED as u64)
}

fn callgrind_control(args: &[&str]) -> Result<()> {
    let out = Command::new("callgrind_control").args(args).output().context("running callgrind_control")?;
    if !out.status.success() {
        bail!("callgrind_control {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// The most recent callgrind dump whose name starts with `prefix`.
fn newest_dump(dir: &Path, prefix: &str) -> Result<std::path::PathBuf> {
    let mut dumps: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    dumps.sort();
    Ok(dumps.pop().context("callgrind wrote no dump")?.1)
}

/// The `summary:` (or `totals:`) instruction count of a callgrind dump.
fn dump_total(dump: &Path) -> Result<u64> {
    let text = std::fs::read_to_string(dump)?;
    text.lines()
        .find_map(|l| l.strip_prefix("summary:").or_else(|| l.strip_prefix("totals:")))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .context("no instruction total in the callgrind dump")
}
