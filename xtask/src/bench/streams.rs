//! Streaming load: many concurrent SSE chat streams through one leg, measuring time to first byte, the gaps
//! between arriving frames, and whether every frame arrived.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;

/// What one batch of concurrent streams saw.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct StreamStats {
    pub streams: usize,
    pub failed_streams: usize,
    pub frames: u64,
    pub expected_frames: u64,
    pub ttfb_p50_us: f64,
    pub gap_p50_us: f64,
    pub frames_per_sec: f64,
    pub elapsed_ms: u64,
}

impl StreamStats {
    pub fn lost_frames(&self) -> u64 {
        self.expected_frames.saturating_sub(self.frames)
    }
}

struct One {
    ok: bool,
    frames: u64,
    ttfb: Option<Duration>,
    gaps: Vec<Duration>,
}

/// Streams each HTTP/2 connection of the capacity run carries (servers commonly allow 100–200 at once).
pub const STREAMS_PER_H2_CONNECTION: usize = 100;

/// Clients that speak HTTP/2 without TLS from the first byte (prior knowledge), each with its own connection:
/// enough of them to carry `streams` at [`STREAMS_PER_H2_CONNECTION`] each. Many streams over a few
/// connections is how HTTP/2 clients reach a gateway, and it leaves the gateway one socket per stream (the
/// upstream leg) instead of two, which is what fits 10,000 streams under a 20,000 open-file limit.
pub fn h2_clients(streams: usize) -> anyhow::Result<Vec<reqwest::Client>> {
    (0..streams.div_ceil(STREAMS_PER_H2_CONNECTION).max(1))
        .map(|_| Ok(reqwest::Client::builder().no_proxy().http2_prior_knowledge().tcp_nodelay(true).build()?))
        .collect()
}

/// Opens `count` streams at once, spread over `clients`, and reads each to the end. `frames_each` is what a
/// complete stream carries (content chunks + finish chunk + `[DONE]`).
pub async fn run(
    clients: &[reqwest::Client],
    url: &str,
    key: &str,
    model: &str,
    count: usize,
    frames_each: u64,
) -> StreamStats {
    let body =
        Arc::new(format!(r#"{{"model":"{model}","stream":true,"messages":[{{"role":"user","content":"hi"}}]}}"#));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(count);
    for i in 0..count {
        let client = clients[i % clients.len()].clone();
        let (url, key, body) = (url.to_string(), key.to_string(), body.clone());
        tasks.push(tokio::spawn(async move { one(&client, &url, &key, &body).await }));
    }
    let mut results = Vec::with_capacity(count);
    for t in tasks {
        results.push(t.await.unwrap_or(One { ok: false, frames: 0, ttfb: None, gaps: Vec::new() }));
    }
    let elapsed = started.elapsed();
    let mut ttfbs: Vec<f64> = results.iter().filter_map(|r| r.ttfb).map(|d| d.as_secs_f64() * 1e6).collect();
    let mut gaps: Vec<f64> = results.iter().flat_map(|r| r.gaps.iter()).map(|d| d.as_secs_f64() * 1e6).collect();
    let frames: u64 = results.iter().map(|r| r.frames).sum();
    StreamStats {
        streams: count,
        failed_streams: results.iter().filter(|r| !r.ok).count(),
        frames,
        expected_frames: frames_each * count as u64,
        ttfb_p50_us: median(&mut ttfbs),
        gap_p50_us: median(&mut gaps),
        frames_per_sec: frames as f64 / elapsed.as_secs_f64(),
        elapsed_ms: elapsed.as_millis() as u64,
    }
}

/// Median time to the first body bytes of `count` streams opened one after another, each dropped after its
/// first chunk: the time to first byte itself, without queueing behind other streams of the same run.
pub async fn first_byte_p50(client: &reqwest::Client, url: &str, key: &str, model: &str, count: usize) -> f64 {
    let body = format!(r#"{{"model":"{model}","stream":true,"messages":[{{"role":"user","content":"hi"}}]}}"#);
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        let started = Instant::now();
        let sent =
            client.post(url).bearer_auth(key).header("content-type", "application/json").body(body.clone()).send();
        let Ok(resp) = sent.await else { continue };
        if !resp.status().is_success() {
            continue;
        }
        let mut stream = resp.bytes_stream();
        if let Some(Ok(_)) = stream.next().await {
            samples.push(started.elapsed().as_secs_f64() * 1e6);
        }
    }
    median(&mut samples)
}

async fn one(client: &reqwest::Client, url: &str, key: &str, body: &str) -> One {
    let mut out = One { ok: false, frames: 0, ttfb: None, gaps: Vec::new() };
    let started = Instant::now();
    let resp = client
        .post(url)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await;
    let Ok(resp) = resp else { return out };
    if !resp.status().is_success() {
        return out;
    }
    let mut stream = resp.bytes_stream();
    let mut last = None;
    let mut done = false;
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else { return out };
        let now = Instant::now();
        if out.ttfb.is_none() {
            out.ttfb = Some(now - started);
        }
        if let Some(prev) = last {
            out.gaps.push(now - prev);
        }
        last = Some(now);
        let text = String::from_utf8_lossy(&chunk);
        out.frames += text.matches("data: ").count() as u64;
        done |= text.contains("[DONE]");
    }
    out.ok = done;
    out
}

pub fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}
