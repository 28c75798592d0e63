//! Readiness over HTTP: the launcher waits for control's `/readyz` before it starts the relay, and
//! `veloera healthcheck` (the image's `HEALTHCHECK`) asks the relay's.

use std::time::Duration;

/// One attempt may take this long (a service that is up answers `/readyz` in milliseconds).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);

/// Asks `url` once: `Ok` on 200, else what went wrong (status and body, or the connection error).
pub async fn check(url: &str) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(ATTEMPT_TIMEOUT)
        .no_proxy()
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
    let response = client.get(url).send().await.map_err(|e| format!("{url}: {e}"))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body = response.text().await.unwrap_or_default();
    Err(format!("{url} answered {status}: {}", body.trim()))
}

/// Asks `url` every 100 ms until it answers 200; returns the last failure after `bound`.
pub async fn wait_ready(url: &str, bound: Duration) -> Result<(), String> {
    let start = tokio::time::Instant::now();
    let mut last_report = start;
    loop {
        let failure = match check(url).await {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        if start.elapsed() >= bound {
            return Err(format!("not ready after {} s: {failure}", bound.as_secs()));
        }
        if last_report.elapsed() >= Duration::from_secs(10) {
            tracing::info!(%failure, "still waiting for control-svc to be ready");
            last_report = tokio::time::Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
