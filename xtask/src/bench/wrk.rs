//! Closed-loop load with `wrk` (a Lua POST script per target) and parsing of its report.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// One wrk run's figures.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct WrkResult {
    pub rps: f64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub errors: u64,
    pub requests: u64,
}

/// Writes the Lua script that makes wrk POST `body` with `key` as the bearer token.
pub fn script(dir: &Path, name: &str, body: &str, key: &str) -> Result<PathBuf> {
    let path = dir.join(format!("{name}.lua"));
    let lua = format!(
        "wrk.method = \"POST\"\nwrk.body = [[{body}]]\nwrk.headers[\"Content-Type\"] = \"application/json\"\n\
         wrk.headers[\"Authorization\"] = \"Bearer {key}\"\n"
    );
    std::fs::write(&path, lua)?;
    Ok(path)
}

pub fn run(url: &str, script: &Path, connections: u32, duration: Duration) -> Result<WrkResult> {
    let threads = connections.clamp(1, 2);
    let out = Command::new("wrk")
        .args([
            "--latency",
            "-t",
            &threads.to_string(),
            "-c",
            &connections.to_string(),
            "-d",
            &format!("{}s", duration.as_secs().max(1)),
            "--timeout",
            "10s",
            "-s",
        ])
        .arg(script)
        .arg(url)
        .output()
        .context("running wrk")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("wrk failed: {}\n{}", text, String::from_utf8_lossy(&out.stderr));
    }
    parse(&text)
}

fn parse(text: &str) -> Result<WrkResult> {
    let mut r = WrkResult::default();
    let mut in_dist = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("Latency Distribution") {
            in_dist = true;
            continue;
        }
        if in_dist && let Some((pct, value)) = line.split_once('%') {
            let us = duration_us(value.trim());
            match pct.trim() {
                "50" => r.p50_us = us,
                "90" => r.p90_us = us,
                "99" => {
                    r.p99_us = us;
                    in_dist = false;
                }
                _ => {}
            }
        }
        if let Some(v) = line.strip_prefix("Requests/sec:") {
            r.rps = v.trim().parse().unwrap_or(0.0);
        }
        if let Some(v) = line.strip_prefix("Non-2xx or 3xx responses:") {
            r.errors += v.trim().parse::<u64>().unwrap_or(0);
        }
        if let Some(v) = line.strip_prefix("Socket errors:") {
            // "connect 0, read 0, write 0, timeout 0"
            r.errors += v.split(',').filter_map(|p| p.split_whitespace().last()?.parse::<u64>().ok()).sum::<u64>();
        }
        if line.contains("requests in") {
            r.requests = line.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0);
        }
    }
    if r.rps == 0.0 {
        bail!("could not read wrk's report:\n{text}");
    }
    Ok(r)
}

fn duration_us(v: &str) -> f64 {
    let split = v.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let n: f64 = num.parse().unwrap_or(0.0);
    match unit {
        "us" => n,
        "ms" => n * 1_000.0,
        "s" => n * 1_000_000.0,
        "m" => n * 60_000_000.0,
        _ => n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wrks_report() {
        let text = "Running 5s test @ http://127.0.0.1:1/\n  2 threads and 64 connections\n  Latency Distribution\n     50%  312.00us\n     75%  400.00us\n     90%    1.20ms\n     99%    2.00s\n  161000 requests in 5.00s, 20.00MB read\n  Non-2xx or 3xx responses: 3\nRequests/sec:  32200.12\n";
        let r = parse(text).unwrap();
        assert_eq!((r.p50_us, r.p90_us, r.p99_us), (312.0, 1200.0, 2_000_000.0));
        assert_eq!((r.errors, r.requests), (3, 161000));
        assert!((r.rps - 32200.12).abs() < 0.01);
    }
}
