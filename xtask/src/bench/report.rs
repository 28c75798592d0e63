//! The run's report: a Markdown table of targets and raw figures, the raw results as JSON, and an SVG chart of
//! latency against concurrency. Also the two external load tools with their own formats (oha, LiteLLM).

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use plotters::prelude::*;
use serde::Serialize;

use super::procs::{Proc, free_port};
use super::scenarios::{Results, Triple};
use super::{Rig, wrk};

/// LiteLLM measured in the same run, against the same mock.
#[derive(Debug, Clone, Serialize)]
pub struct Peer {
    pub version: String,
    pub p50_us_c1: f64,
    pub rps_c64: f64,
    pub proxy_p50_us_c1: f64,
    pub proxy_rps_c64: Option<f64>,
}

pub fn write(dir: &Path, r: &Results) -> Result<String> {
    std::fs::write(dir.join("results.json"), serde_json::to_string_pretty(r)?)?;
    chart(&dir.join("latency.svg"), r)?;
    let md = markdown(r);
    std::fs::write(dir.join("report.md"), &md)?;
    Ok(md)
}

fn ok(pass: bool) -> &'static str {
    if pass { "met" } else { "**missed**" }
}

fn markdown(r: &Results) -> String {
    let mut s = String::new();
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let _ = writeln!(
        s,
        "### Benchmark ({} rounds × {} s per run, median of round medians, {cpus} CPUs, loopback)\n",
        r.rounds, r.run_secs
    );
    let s2_64 = r.s2.iter().find(|x| x.0 == 64).map(|x| x.1).unwrap_or_default();
    let thr = s2_64.relay / s2_64.proxy.max(1.0);
    let s1_add = r.s1_p50_us.relay - r.s1_p50_us.proxy;
    let ttfb_add = r.s4_ttfb_us.relay - r.s4_ttfb_us.proxy;
    let fps = r.s4_saturation_fps.relay / r.s4_saturation_fps.proxy.max(1.0);
    let capacity = r.s4_capacity.as_ref();
    let lost = capacity.map(|x| x.0.lost_frames() + x.0.failed_streams as u64).unwrap_or(u64::MAX);
    let slow_n = capacity.map(|x| x.0.streams).unwrap_or(0);
    let mem = r.s4_rss_per_1000_kib.relay / r.s4_rss_per_1000_kib.proxy.max(1.0);
    let s6 = r.s6_invalid_rps / r.s6_proxy_rps.max(1.0);
    let cold_add = r.s7_cold_p50_us - r.s7_warm_p50_us;
    let idle_max = r.idle_rss_kib.iter().filter(|x| x.0.ends_with("-svc")).map(|x| x.1).max().unwrap_or(0);
    let soak_first = r.s5_rss_kib.get(2).copied().unwrap_or(0);
    let soak_last = r.s5_rss_kib.last().copied().unwrap_or(0);
    let _ = writeln!(s, "| target | measured | |\n|---|---|---|");
    let _ = writeln!(
        s,
        "| S2 throughput at 64 connections ≥ 0.8× bare proxy | {thr:.2}× ({:.0} vs {:.0} req/s) | {} |",
        s2_64.relay,
        s2_64.proxy,
        ok(thr >= 0.8)
    );
    let _ = writeln!(s, "| S1 p50 within 50 µs of bare proxy | {s1_add:+.0} µs | {} |", ok(s1_add <= 50.0));
    let _ = writeln!(s, "| S1 p99 under 5 ms | {:.0} µs | {} |", r.s1_p99_us.relay, ok(r.s1_p99_us.relay < 5000.0));
    let _ = writeln!(
        s,
        "| S4 time to first byte within 100 µs of bare proxy | {ttfb_add:+.0} µs | {} |",
        ok(ttfb_add <= 100.0)
    );
    let _ = writeln!(
        s,
        "| S4 frame rate at saturation ({} streams × 64 chunks @ 20 ms) ≥ 0.8× | {fps:.2}× | {} |",
        r.s4_saturation_streams,
        ok(fps >= 0.8)
    );
    let _ = writeln!(
        s,
        "| S4 10,000 slow streams, zero lost frames | {slow_n} streams over HTTP/2 (open-file limit here: {}), {lost} lost | {} |",
        nofile_limit(),
        ok(lost == 0 && slow_n >= 10_000)
    );
    let _ = writeln!(
        s,
        "| S4 memory per 1,000 open streams ≤ 1.5× bare proxy | {mem:.2}× ({:.0} vs {:.0} KiB) | {} |",
        r.s4_rss_per_1000_kib.relay,
        r.s4_rss_per_1000_kib.proxy,
        ok(mem <= 1.5)
    );
    let _ = writeln!(
        s,
        "| S5 soak: usage records = requests, memory flat | {} records / {} requests; RSS {soak_first} → {soak_last} KiB | {} |",
        r.s5_records,
        r.s5_requests,
        ok(r.s5_records == r.s5_requests as i64 && soak_last <= soak_first + soak_first / 10)
    );
    let _ = writeln!(
        s,
        "| S6 invalid keys ≥ 0.9× bare proxy, none upstream | {s6:.2}×, {} reached the mock, control used {} ms CPU | {} |",
        r.s6_mock_requests_reached,
        r.s6_control_cpu_ms,
        ok(s6 >= 0.9 && r.s6_mock_requests_reached == 0)
    );
    let _ =
        writeln!(s, "| S7 cold path adds ≤ 300 µs at p50 over warm | {cold_add:+.0} µs | {} |", ok(cold_add <= 300.0));
    let _ = writeln!(
        s,
        "| idle memory under 30 MB per service | {:.1} MB max | {} |",
        idle_max as f64 / 1024.0,
        ok(idle_max < 30 * 1024)
    );
    if let Some(p) = &r.litellm {
        let _ = writeln!(
            s,
            "\nPeer, same run and mock: LiteLLM {} — relay throughput at 64 connections {:.0}× LiteLLM's ({:.0} vs {:.0} req/s); p50 at concurrency 1: {:.0} µs vs {:.0} µs.",
            p.version,
            s2_64.relay / p.rps_c64.max(1.0),
            s2_64.relay,
            p.rps_c64,
            r.s1_p50_us.relay,
            p.p50_us_c1
        );
    }
    let _ = writeln!(
        s,
        "\nS1 latency at concurrency 1 (µs): p50 {} · p90 {} · p99 {}",
        row(&r.s1_p50_us),
        row(&r.s1_p90_us),
        row(&r.s1_p99_us)
    );
    let _ = writeln!(
        s,
        "\n| S2 connections | direct req/s | proxy req/s | relay req/s | relay/proxy | relay − direct p50 (µs) |\n|---|---|---|---|---|---|"
    );
    for (c, rps, p50) in &r.s2 {
        let _ = writeln!(
            s,
            "| {c} | {:.0} | {:.0} | {:.0} | {:.2} | {:+.0} |",
            rps.direct,
            rps.proxy,
            rps.relay,
            rps.relay / rps.proxy.max(1.0),
            p50.relay - p50.direct
        );
    }
    let _ = writeln!(
        s,
        "\n| S3 connections (20 ms upstream) | direct req/s | proxy req/s | relay req/s | relay p99 (µs) |\n|---|---|---|---|---|"
    );
    for (c, rps, p99) in &r.s3 {
        let _ = writeln!(s, "| {c} | {:.0} | {:.0} | {:.0} | {:.0} |", rps.direct, rps.proxy, rps.relay, p99.relay);
    }
    let _ = writeln!(
        s,
        "\nS4 streams: TTFB p50 (µs) {} · inter-chunk gap p50 (µs) {} · frames/s at saturation {}",
        row(&r.s4_ttfb_us),
        row(&r.s4_gap_us),
        row(&r.s4_saturation_fps)
    );
    for (leg, st, rss) in &r.s4_slow {
        let _ = writeln!(
            s,
            "- {leg} (fresh process, HTTP/1.1): {} slow streams, {} failed, {}/{} frames, RSS while open {rss} KiB",
            st.streams, st.failed_streams, st.frames, st.expected_frames
        );
    }
    if let Some((st, idle, open)) = capacity {
        let _ = writeln!(
            s,
            "- relay capacity (HTTP/2 clients, {} streams per connection): {} slow streams, {} failed, {}/{} frames, \
             RSS {idle} KiB before, {open} KiB while open",
            super::streams::STREAMS_PER_H2_CONNECTION,
            st.streams,
            st.failed_streams,
            st.frames,
            st.expected_frames
        );
    }
    let _ =
        writeln!(s, "\nS5 soak: {} s at {} req/s; relay RSS samples (KiB): {:?}", r.s5_secs, r.s5_rate, r.s5_rss_kib);
    let _ = writeln!(s, "S6: invalid keys {:.0} req/s vs bare proxy {:.0} req/s", r.s6_invalid_rps, r.s6_proxy_rps);
    let _ = writeln!(s, "S7: warm p50 {:.0} µs, cold p50 {:.0} µs", r.s7_warm_p50_us, r.s7_cold_p50_us);
    let _ = writeln!(
        s,
        "CPU per request at 64 connections (µs): mock {:.0} · bare proxy {:.0} · relay {:.0} · control, settling the \
         relay's usage {:.0}. Idle RSS (KiB): {:?}",
        r.cpu_us_per_request.direct,
        r.cpu_us_per_request.proxy,
        r.cpu_us_per_request.relay,
        r.control_cpu_us_per_request,
        r.idle_rss_kib
    );
    s
}

/// The hard limit on open files, which bounds how many streams one process can hold.
fn nofile_limit() -> String {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| {
            l.lines()
                .find(|x| x.starts_with("Max open files"))
                .map(|x| x.split_whitespace().nth(4).unwrap_or("?").to_string())
        })
        .unwrap_or_else(|| "?".into())
}

fn row(t: &Triple) -> String {
    format!("direct {:.0} / proxy {:.0} / relay {:.0}", t.direct, t.proxy, t.relay)
}

fn chart(path: &Path, r: &Results) -> Result<()> {
    let root = SVGBackend::new(path, (800, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let max = r.s2.iter().flat_map(|(_, _, p)| [p.direct, p.proxy, p.relay]).fold(1.0, f64::max) * 1.1;
    let xs: Vec<f64> = r.s2.iter().map(|(c, _, _)| (*c as f64).log2()).collect();
    let x_max = xs.iter().copied().fold(1.0, f64::max);
    let mut chart = ChartBuilder::on(&root)
        .caption("p50 latency vs concurrency (S2, zero-latency mock)", ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..x_max, 0f64..max)?;
    chart
        .configure_mesh()
        .x_desc("connections (log2)")
        .y_desc("p50 latency (µs)")
        .x_label_formatter(&|x| format!("{}", 2f64.powf(*x).round()))
        .draw()?;
    type Series = (&'static str, RGBColor, fn(&Triple) -> f64);
    let series: [Series; 3] =
        [("direct", BLUE, |t| t.direct), ("bare proxy", GREEN, |t| t.proxy), ("relay", RED, |t| t.relay)];
    for (name, color, pick) in series {
        let points: Vec<(f64, f64)> = r.s2.iter().map(|(c, _, p)| ((*c as f64).log2(), pick(p))).collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        chart.draw_series(points.into_iter().map(|p| Circle::new(p, 3, color.filled())))?;
    }
    chart.configure_series_labels().border_style(BLACK).background_style(WHITE).draw()?;
    root.present()?;
    Ok(())
}

/// Open-loop load at a fixed rate with oha; returns the number of successful responses.
pub fn oha_fixed_rate(url: &str, key: &str, body: &str, rate: u64, secs: u64) -> Result<u64> {
    let out = Command::new("oha")
        .args(["--no-tui", "--output-format", "json", "-z", &format!("{secs}s"), "-q", &rate.to_string(), "-c", "64"])
        .args([
            "-m",
            "POST",
            "-H",
            &format!("authorization: Bearer {key}"),
            "-H",
            "content-type: application/json",
            "-d",
            body,
            url,
        ])
        .output()
        .context("running oha")?;
    if !out.status.success() {
        bail!("oha failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).context("oha's JSON report")?;
    Ok(v["statusCodeDistribution"]["200"].as_u64().unwrap_or(0))
}

/// Installs LiteLLM into its own virtual environment (once), runs its proxy against the mock with its
/// documented performance settings, and measures concurrency 1 and 64 like S1/S2.
pub async fn litellm(
    rig: &Rig,
    _fast: &Path,
    secs: Duration,
    proxy_p50: f64,
    proxy_rps64: Option<f64>,
) -> Result<Peer> {
    let venv = rig.dir.parent().context("bench dir has a parent")?.join("litellm-venv");
    if !venv.join("bin/litellm").exists() {
        let py = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        crate::workspace::run(Command::new(&py).args(["-m", "venv"]).arg(&venv))?;
        crate::workspace::run(Command::new(venv.join("bin/pip")).args(["install", "-q", "litellm[proxy]"]))?;
    }
    let version = String::from_utf8_lossy(
        &Command::new(venv.join("bin/python"))
            .args(["-c", "import importlib.metadata as m; print(m.version('litellm'))"])
            .output()?
            .stdout,
    )
    .trim()
    .to_string();
    let port = free_port()?;
    let config = rig.dir.join("litellm.yaml");
    std::fs::write(
        &config,
        format!(
            "model_list:\n  - model_name: gpt-4o-mini\n    litellm_params:\n      model: openai/gpt-4o-mini\n      api_base: {}/v1\n      api_key: sk-bench\n\
             litellm_settings:\n  set_verbose: false\n  json_logs: false\n\
             general_settings:\n  master_key: sk-litellm-bench\n  disable_spend_logs: true\n  disable_error_logs: true\n",
            rig.mock_url
        ),
    )?;
    let env = [
        ("LITELLM_MASTER_KEY", "sk-litellm-bench".to_string()),
        ("LITELLM_LOG", "ERROR".to_string()),
        ("PORT", port.to_string()),
    ];
    let log = rig.dir.join("litellm.log");
    let mut cmd = Command::new(venv.join("bin/litellm"));
    cmd.args(["--config"]).arg(&config).args(["--port", &port.to_string(), "--num_workers", "2"]);
    let proc = Proc::spawn_command("litellm", cmd, &env, &log)?;
    let base = format!("http://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..300 {
        if reqwest::get(format!("{base}/health/liveliness")).await.is_ok_and(|r| r.status().is_success()) {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    if !up {
        bail!("LiteLLM did not start within 60 s (see {})", log.display());
    }
    let script = wrk::script(
        &rig.dir,
        "litellm",
        r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]}"#,
        "sk-litellm-bench",
    )?;
    let url = format!("{base}/v1/chat/completions");
    let c1 = wrk::run(&url, &script, 1, secs)?;
    let c64 = wrk::run(&url, &script, 64, secs)?;
    drop(proc);
    Ok(Peer { version, p50_us_c1: c1.p50_us, rps_c64: c64.rps, proxy_p50_us_c1: proxy_p50, proxy_rps_c64: proxy_rps64 })
}
