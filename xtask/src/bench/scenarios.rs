//! Scenarios S1–S7 (and the LiteLLM peer), each run over the three legs — direct to the mock, through the
//! bare proxy, through the relay — interleaved within every round; figures are medians of the rounds.

use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use super::procs::rss_of;
use super::streams::{self, StreamStats, median};
use super::wrk::{self, WrkResult};
use super::{FAST_MODEL, Plan, Rig, SLOW_MODEL, STREAM_CHUNKS, STREAM_MODEL, TRICKLE_CHUNKS, TRICKLE_MODEL};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Leg {
    Direct,
    Proxy,
    Relay,
}

pub const LEGS: [Leg; 3] = [Leg::Direct, Leg::Proxy, Leg::Relay];

impl Leg {
    pub fn name(self) -> &'static str {
        match self {
            Leg::Direct => "direct",
            Leg::Proxy => "bare proxy",
            Leg::Relay => "relay",
        }
    }
}

/// A figure for each leg.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Triple {
    pub direct: f64,
    pub proxy: f64,
    pub relay: f64,
}

impl Triple {
    fn set(&mut self, leg: Leg, v: f64) {
        match leg {
            Leg::Direct => self.direct = v,
            Leg::Proxy => self.proxy = v,
            Leg::Relay => self.relay = v,
        }
    }
}

#[derive(Debug, Default, Serialize)]
pub struct Results {
    pub rounds: usize,
    pub run_secs: u64,
    pub s1_p50_us: Triple,
    pub s1_p90_us: Triple,
    pub s1_p99_us: Triple,
    /// (concurrency, req/s, p50 µs) per concurrency.
    pub s2: Vec<(u32, Triple, Triple)>,
    pub s2_errors: u64,
    /// (connections, req/s, p99 µs) with a 20 ms upstream.
    pub s3: Vec<(u32, Triple, Triple)>,
    pub s4_ttfb_us: Triple,
    pub s4_gap_us: Triple,
    pub s4_saturation_fps: Triple,
    pub s4_saturation_streams: usize,
    pub s4_slow: Vec<(String, StreamStats, u64)>,
    pub s4_rss_per_1000_kib: Triple,
    /// The relay holding `plan.slow_streams` at once over HTTP/2: (stats, RSS before, RSS while open).
    pub s4_capacity: Option<(StreamStats, u64, u64)>,
    pub s5_secs: u64,
    pub s5_rate: u64,
    pub s5_requests: u64,
    pub s5_records: i64,
    pub s5_rss_kib: Vec<u64>,
    pub s6_invalid_rps: f64,
    pub s6_proxy_rps: f64,
    pub s6_mock_requests_reached: u64,
    pub s6_control_cpu_ms: u64,
    pub s7_warm_p50_us: f64,
    pub s7_cold_p50_us: f64,
    pub idle_rss_kib: Vec<(String, u64)>,
    /// CPU per request at 64 connections: the mock (direct leg), the bare proxy, the relay.
    pub cpu_us_per_request: Triple,
    /// Control's CPU per relayed request (settling usage) during the same runs.
    pub control_cpu_us_per_request: f64,
    pub litellm: Option<super::report::Peer>,
}

fn url(rig: &Rig, leg: Leg) -> String {
    let base = match leg {
        Leg::Direct => &rig.mock_url,
        Leg::Proxy => &rig.proxy_url,
        Leg::Relay => &rig.relay_url,
    };
    format!("{base}/v1/chat/completions")
}

/// Streams opened one after another per leg and round to time the first byte.
const TTFB_PROBES: usize = 30;

/// Streams per leg for the memory comparison (HTTP/1.1: one connection per stream everywhere).
const MEMORY_STREAMS: usize = 1_000;

/// RSS of `pid` half-way through a trickle run (one chunk a second), when every stream is open.
fn half_way_rss(pid: u32) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(TRICKLE_CHUNKS * 1000 / 2)).await;
        rss_of(pid)
    })
}

fn body(model: &str) -> String {
    format!(r#"{{"model":"{model}","messages":[{{"role":"user","content":"Say hello"}}]}}"#)
}

/// Legs in a rotating order per round, so no leg always runs first on a warm or cold machine.
fn order(round: usize) -> [Leg; 3] {
    let mut legs = LEGS;
    legs.rotate_left(round % 3);
    legs
}

fn med(values: &[WrkResult], f: impl Fn(&WrkResult) -> f64) -> f64 {
    let mut v: Vec<f64> = values.iter().map(f).collect();
    median(&mut v)
}

pub async fn run_all(rig: &Rig, plan: &Plan) -> Result<Results> {
    let mut r = Results { rounds: plan.rounds, run_secs: plan.run_secs, ..Default::default() };
    r.idle_rss_kib = vec![
        ("relay-svc".into(), rig.relay.rss_kib()),
        ("control-svc".into(), rig.control.rss_kib()),
        ("relay-svc (cold-path instance)".into(), rig.cold_relay.rss_kib()),
        ("bare proxy".into(), rig.proxy.rss_kib()),
        ("mock upstream".into(), rig.mock.rss_kib()),
    ];
    let w = Scripts {
        fast: wrk::script(&rig.dir, "fast", &body(FAST_MODEL), &rig.key)?,
        slow: wrk::script(&rig.dir, "slow", &body(SLOW_MODEL), &rig.key)?,
        secs: Duration::from_secs(plan.run_secs),
    };
    // Warm-up: connections, caches, allocator.
    for leg in LEGS {
        wrk::run(&url(rig, leg), &w.fast, 16, Duration::from_secs(1))?;
    }
    if plan.runs("S1") {
        s1(rig, plan, &w, &mut r).await?;
    }
    if plan.runs("S2") {
        s2(rig, plan, &w, &mut r).await?;
    }
    if plan.runs("S3") {
        s3(rig, plan, &w, &mut r).await?;
    }
    if plan.runs("S4") {
        s4(rig, plan, &w, &mut r).await?;
    }
    if plan.runs("S5") {
        s5(rig, plan, &w, &mut r).await?;
    }
    if plan.runs("S6") {
        s6(rig, plan, &w, &mut r).await?;
    }
    if plan.runs("S7") {
        s7(rig, plan, &w, &mut r).await?;
    }
    let (fast, secs) = (w.fast.as_path(), w.secs);
    if plan.litellm && plan.only.is_empty() {
        println!("Peer: LiteLLM");
        r.litellm = super::report::litellm(
            rig,
            fast,
            secs,
            r.s1_p50_us.proxy,
            r.s2.iter().find(|s| s.0 == 64).map(|s| s.1.proxy),
        )
        .await
        .map_err(|e| println!("LiteLLM leg skipped: {e:#}"))
        .ok();
    }
    Ok(r)
}

/// The wrk scripts and run length shared by the scenarios.
struct Scripts {
    fast: std::path::PathBuf,
    slow: std::path::PathBuf,
    secs: Duration,
}

async fn s1(rig: &Rig, plan: &Plan, w: &Scripts, r: &mut Results) -> Result<()> {
    let Scripts { fast, slow, secs } = w;
    let (fast, slow, secs) = (fast.as_path(), slow.as_path(), *secs);
    let _ = (fast, slow, secs, plan, &rig);
    println!("S1: concurrency 1");
    let mut s1: Vec<Vec<WrkResult>> = vec![Vec::new(); 3];
    for round in 0..plan.rounds {
        for leg in order(round) {
            s1[leg as usize].push(wrk::run(&url(rig, leg), fast, 1, secs)?);
        }
    }
    for leg in LEGS {
        r.s1_p50_us.set(leg, med(&s1[leg as usize], |w| w.p50_us));
        r.s1_p90_us.set(leg, med(&s1[leg as usize], |w| w.p90_us));
        r.s1_p99_us.set(leg, med(&s1[leg as usize], |w| w.p99_us));
    }
    Ok(())
}

async fn s2(rig: &Rig, plan: &Plan, w: &Scripts, r: &mut Results) -> Result<()> {
    let Scripts { fast, slow, secs } = w;
    let (fast, slow, secs) = (fast.as_path(), slow.as_path(), *secs);
    let _ = (fast, slow, secs, plan, &rig);
    println!("S2: saturation");
    for conc in [1u32, 4, 16, 64, 256] {
        let mut runs: Vec<Vec<WrkResult>> = vec![Vec::new(); 3];
        for round in 0..plan.rounds {
            for leg in order(round) {
                let cpu_before =
                    [rig.relay.cpu_time(), rig.control.cpu_time(), rig.mock.cpu_time(), rig.proxy.cpu_time()];
                let w = wrk::run(&url(rig, leg), fast, conc, secs)?;
                if conc == 64 {
                    let per = |after: Duration, before: Duration| {
                        after.saturating_sub(before).as_secs_f64() * 1e6 / w.requests.max(1) as f64
                    };
                    match leg {
                        Leg::Relay => {
                            r.cpu_us_per_request.relay = per(rig.relay.cpu_time(), cpu_before[0]);
                            r.control_cpu_us_per_request = per(rig.control.cpu_time(), cpu_before[1]);
                        }
                        Leg::Proxy => r.cpu_us_per_request.proxy = per(rig.proxy.cpu_time(), cpu_before[3]),
                        Leg::Direct => r.cpu_us_per_request.direct = per(rig.mock.cpu_time(), cpu_before[2]),
                    }
                }
                r.s2_errors += w.errors;
                runs[leg as usize].push(w);
            }
        }
        let (mut rps, mut p50) = (Triple::default(), Triple::default());
        for leg in LEGS {
            rps.set(leg, med(&runs[leg as usize], |w| w.rps));
            p50.set(leg, med(&runs[leg as usize], |w| w.p50_us));
        }
        r.s2.push((conc, rps, p50));
    }
    Ok(())
}

async fn s3(rig: &Rig, plan: &Plan, w: &Scripts, r: &mut Results) -> Result<()> {
    let Scripts { fast, slow, secs } = w;
    let (fast, slow, secs) = (fast.as_path(), slow.as_path(), *secs);
    let _ = (fast, slow, secs, plan, &rig);
    println!("S3: 20 ms upstream, many connections");
    for conc in [256u32, 1024, 2048] {
        let mut runs: Vec<Vec<WrkResult>> = vec![Vec::new(); 3];
        for round in 0..plan.rounds {
            for leg in order(round) {
                runs[leg as usize].push(wrk::run(&url(rig, leg), slow, conc, secs)?);
            }
        }
        let (mut rps, mut p99) = (Triple::default(), Triple::default());
        for leg in LEGS {
            rps.set(leg, med(&runs[leg as usize], |w| w.rps));
            p99.set(leg, med(&runs[leg as usize], |w| w.p99_us));
        }
        r.s3.push((conc, rps, p99));
    }
    Ok(())
}

async fn s4(rig: &Rig, plan: &Plan, w: &Scripts, r: &mut Results) -> Result<()> {
    let Scripts { fast, slow, secs } = w;
    let (fast, slow, secs) = (fast.as_path(), slow.as_path(), *secs);
    let _ = (fast, slow, secs, plan, &rig);
    println!("S4: streaming");
    let client = reqwest::Client::builder().no_proxy().pool_max_idle_per_host(20_000).tcp_nodelay(true).build()?;
    let frames = STREAM_CHUNKS + 2;
    let saturation = 500;
    r.s4_saturation_streams = saturation;
    let mut ttfb: Vec<Vec<f64>> = vec![Vec::new(); 3];
    let mut gap: Vec<Vec<f64>> = vec![Vec::new(); 3];
    let mut fps: Vec<Vec<f64>> = vec![Vec::new(); 3];
    for round in 0..plan.rounds {
        for leg in order(round) {
            let probe = streams::first_byte_p50(&client, &url(rig, leg), &rig.key, STREAM_MODEL, TTFB_PROBES).await;
            ttfb[leg as usize].push(probe);
            let few =
                streams::run(std::slice::from_ref(&client), &url(rig, leg), &rig.key, STREAM_MODEL, 16, frames).await;
            gap[leg as usize].push(few.gap_p50_us);
            let many =
                streams::run(std::slice::from_ref(&client), &url(rig, leg), &rig.key, STREAM_MODEL, saturation, frames)
                    .await;
            fps[leg as usize].push(many.frames_per_sec);
        }
    }
    for leg in LEGS {
        r.s4_ttfb_us.set(leg, median(&mut ttfb[leg as usize]));
        r.s4_gap_us.set(leg, median(&mut gap[leg as usize]));
        r.s4_saturation_fps.set(leg, median(&mut fps[leg as usize]));
    }
    // Memory per open stream is measured on fresh processes: one that served the earlier scenarios keeps the
    // heap they grew, and new streams then fit in it without raising RSS (which once read as 0 KiB per stream).
    let (fresh_proxy, fresh_proxy_url) = rig.fresh_proxy()?;
    let (fresh_relay, fresh_relay_url) = rig.fresh_relay().await?;
    let chat = |base: &str| format!("{base}/v1/chat/completions");
    let legs = [
        (Leg::Direct, rig.mock.pid(), chat(&rig.mock_url)),
        (Leg::Proxy, fresh_proxy.pid(), chat(&fresh_proxy_url)),
        (Leg::Relay, fresh_relay.pid(), chat(&fresh_relay_url)),
    ];
    let one_client = std::slice::from_ref(&client);
    for (leg, pid, leg_url) in legs {
        // One stream first, so pools and caches exist before the idle reading.
        streams::run(one_client, &leg_url, &rig.key, STREAM_MODEL, 1, frames).await;
        let idle = rss_of(pid);
        let open = half_way_rss(pid);
        let stats =
            streams::run(one_client, &leg_url, &rig.key, TRICKLE_MODEL, MEMORY_STREAMS, TRICKLE_CHUNKS + 2).await;
        let open = open.await.unwrap_or(0);
        let per_1000 = open.saturating_sub(idle) * 1000 / MEMORY_STREAMS as u64;
        r.s4_rss_per_1000_kib.set(leg, per_1000 as f64);
        r.s4_slow.push((leg.name().to_string(), stats, open));
    }
    drop(fresh_proxy);
    // Capacity: the full count of slow streams through the relay at once, over HTTP/2 from the client side.
    let clients = streams::h2_clients(plan.slow_streams)?;
    let idle = rss_of(fresh_relay.pid());
    let open = half_way_rss(fresh_relay.pid());
    let capacity_url = chat(&fresh_relay_url);
    let stats =
        streams::run(&clients, &capacity_url, &rig.key, TRICKLE_MODEL, plan.slow_streams, TRICKLE_CHUNKS + 2).await;
    let open = open.await.unwrap_or(0);
    r.s4_capacity = Some((stats, idle, open));
    drop(fresh_relay);
    Ok(())
}

async fn s5(rig: &Rig, plan: &Plan, w: &Scripts, r: &mut Results) -> Result<()> {
    let Scripts { fast, slow, secs } = w;
    let (fast, slow, secs) = (fast.as_path(), slow.as_path(), *secs);
    let _ = (fast, slow, secs, plan, &rig);
    println!("S5: soak");
    r.s5_secs = plan.soak_secs;
    let max64 = r.s2.iter().find(|(c, _, _)| *c == 64).map(|(_, rps, _)| rps.relay).unwrap_or(1000.0);
    r.s5_rate = (max64 / 2.0).max(100.0) as u64;
    let mock_before = mock_requests(&rig.mock_url).await;
    let logs_before = rig.admin.newest_log_id().await?;
    let relay_pid = rig.relay.pid();
    let step = Duration::from_secs((plan.soak_secs / 10).max(1));
    let sampler = tokio::spawn(async move {
        let mut samples = Vec::new();
        for _ in 0..10 {
            samples.push(rss_of(relay_pid));
            tokio::time::sleep(step).await;
        }
        samples
    });
    let soak_url = url(rig, Leg::Relay);
    let soak_key = rig.soak_token.1.clone();
    let (rate, soak_secs) = (r.s5_rate, plan.soak_secs);
    let requests = tokio::task::spawn_blocking(move || {
        super::report::oha_fixed_rate(&soak_url, &soak_key, &body(FAST_MODEL), rate, soak_secs)
    })
    .await??;
    // oha counts only answers that arrived before its deadline; the mock counts every relayed request.
    let _ = requests;
    tokio::time::sleep(Duration::from_millis(500)).await;
    r.s5_requests = mock_requests(&rig.mock_url).await - mock_before;
    r.s5_rss_kib = sampler.await.unwrap_or_default();
    // Usage settles asynchronously: wait until the log has one row per request the mock served (or time runs out).
    // A request the client abandoned at the deadline is still a record (charged what it used, maybe nothing).
    for _ in 0..50 {
        r.s5_records = rig.admin.newest_log_id().await? - logs_before;
        if r.s5_records >= r.s5_requests as i64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

async fn s6(rig: &Rig, plan: &Plan, w: &Scripts, r: &mut Results) -> Result<()> {
    let Scripts { fast, slow, secs } = w;
    let (fast, slow, secs) = (fast.as_path(), slow.as_path(), *secs);
    let _ = (fast, slow, secs, plan, &rig);
    println!("S6: invalid keys");
    let bad = wrk::script(&rig.dir, "invalid", &body(FAST_MODEL), &format!("sk-{}", "0".repeat(48)))?;
    let mut invalid = Vec::new();
    let mut proxy = Vec::new();
    for _ in 0..plan.rounds {
        // Only the invalid-key runs are between the two readings of the mock's counter and control's CPU.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mock_before = mock_requests(&rig.mock_url).await;
        let control_cpu = rig.control.cpu_time();
        invalid.push(wrk::run(&url(rig, Leg::Relay), &bad, 64, secs)?);
        r.s6_mock_requests_reached += mock_requests(&rig.mock_url).await - mock_before;
        r.s6_control_cpu_ms += rig.control.cpu_time().saturating_sub(control_cpu).as_millis() as u64;
        proxy.push(wrk::run(&url(rig, Leg::Proxy), fast, 64, secs)?);
    }
    r.s6_invalid_rps = med(&invalid, |w| w.rps);
    r.s6_proxy_rps = med(&proxy, |w| w.rps);
    Ok(())
}

async fn s7(rig: &Rig, plan: &Plan, w: &Scripts, r: &mut Results) -> Result<()> {
    let Scripts { fast, slow, secs } = w;
    let (fast, slow, secs) = (fast.as_path(), slow.as_path(), *secs);
    let _ = (fast, slow, secs, plan, &rig);
    println!("S7: cold path");
    let cold_url = format!("{}/v1/chat/completions", rig.cold_relay_url);
    let mut warm = Vec::new();
    let mut cold = Vec::new();
    for _ in 0..plan.rounds {
        warm.push(wrk::run(&url(rig, Leg::Relay), fast, 1, secs)?);
        cold.push(wrk::run(&cold_url, fast, 1, secs)?);
    }
    r.s7_warm_p50_us = med(&warm, |w| w.p50_us);
    r.s7_cold_p50_us = med(&cold, |w| w.p50_us);
    Ok(())
}

async fn mock_requests(mock_url: &str) -> u64 {
    let v: serde_json::Value = match reqwest::get(format!("{mock_url}/stats")).await {
        Ok(r) => r.json().await.unwrap_or_default(),
        Err(_) => return 0,
    };
    v["requests"].as_u64().unwrap_or(0)
}
