//! Typed configuration of relay-svc, read once from the environment.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Everything relay-svc needs to start. Tests build this directly.
#[derive(Debug, Clone)]
pub struct Config {
    /// `RELAY_HOST` + `PORT`: the public listener (default 0.0.0.0:3000).
    pub listen_addr: SocketAddr,
    /// `CONTROL_GRPC_URL` (default http://127.0.0.1:3002).
    pub control_grpc_url: String,
    /// `CONTROL_HTTP_URL`: where non-relay paths (`/api`, the UI) are forwarded (default http://127.0.0.1:3001).
    pub control_http_url: String,
    /// `INTERNAL_SECRET`, else read from `DATA_DIR/internal_secret` (written by control on first start).
    pub internal_secret: Option<String>,
    pub data_dir: PathBuf,
    /// `STREAMING_TIMEOUT` seconds: longest silence between two stream chunks (default 60).
    pub streaming_idle_timeout: Duration,
    /// `RELAY_TIMEOUT` seconds: whole non-streaming upstream call, 0 = no limit beyond the idle timeout (default 0).
    pub relay_timeout: Option<Duration>,
    /// `UPSTREAM_CONNECT_TIMEOUT` seconds (default 10).
    pub connect_timeout: Duration,
    /// `FIRST_BYTE_TIMEOUT` seconds: longest wait for an upstream's first byte — response headers and, for
    /// streams, the first event (default 300; a whole non-streaming answer must start within it).
    pub first_byte_timeout: Duration,
    /// `RETRY_DEADLINE` seconds: no retry starts later than this after the request arrived (default 60).
    pub retry_deadline: Duration,
    /// `AUTH_CACHE_TTL` seconds: upper bound on how long a cached authorization is used (default 300).
    pub auth_cache_ttl: Duration,
    /// `CONTROL_STALE_GRACE` seconds: how long cached answers keep serving while the control stream is down (default 120).
    pub control_stale_grace: Duration,
    /// `MAX_REQUEST_BODY_MB` (default 32).
    pub max_body_bytes: usize,
    /// `RELAY_ID`: this instance's name in control's logs (default: host name or "relay").
    pub relay_id: String,
    /// `REDIS_CONN_STRING` (`redis://[user:password@]host:port[/db]`): where rate-limit counters are shared by
    /// every relay. Unset: each relay counts in its own memory.
    pub redis_url: Option<String>,
    /// `RATE_LIMIT_FAIL_OPEN` (default true): when Redis cannot be reached, admit requests without rate limits
    /// (true, with a warning in the log) or refuse them with 503 (false).
    pub rate_limit_fail_open: bool,
    /// `RATE_LIMIT_KEY_PREFIX` (default `veloera:rl:`): the start of every rate-limit key in Redis, so several
    /// deployments can share one Redis.
    pub rate_limit_key_prefix: String,
    /// `TRUSTED_PROXY_HOPS` (default 0): how many reverse proxies in front of the relay append to
    /// `X-Forwarded-For`; with N > 0 the client's address is the N-th entry from the right (see `client_addr`).
    /// Set it only when the relay's port is reachable through those proxies alone.
    pub trusted_proxy_hops: usize,
    /// `METRICS_ADDR` (`host:port`): where Prometheus metrics are served (`GET /metrics`), on a listener of their
    /// own, never on the public port. Unset: no metrics are recorded or served.
    pub metrics_addr: Option<SocketAddr>,
    /// `CONTROL_GRPC_CA`: a PEM file with the certificate authority that signed control's gRPC certificate, for
    /// a control serving TLS (`CONTROL_GRPC_TLS_CERT`) with a private CA. With an `https://` `CONTROL_GRPC_URL` and
    /// no CA file, the public web roots are trusted.
    pub control_grpc_ca: Option<std::path::PathBuf>,
}

impl Config {
    pub fn from_env() -> Result<Self, String> {
        // Accepted for compatibility with Veloera deployments; push invalidations make them unnecessary.
        for name in ["MEMORY_CACHE_ENABLED", "FORCE_STREAM_OPTION"] {
            if let Some(v) = var(name)
                && !matches!(v.to_ascii_lowercase().as_str(), "true" | "false" | "1" | "0")
            {
                return Err(format!("{name}: {v:?} is not a boolean"));
            }
        }
        if let Some(v) = var("SYNC_FREQUENCY") {
            v.parse::<u64>().map_err(|_| format!("SYNC_FREQUENCY: {v:?} is not a number of seconds"))?;
        }
        let host = var("RELAY_HOST").unwrap_or_else(|| "0.0.0.0".into());
        let port = var("PORT").unwrap_or_else(|| "3000".into());
        let port: u16 = port.parse().map_err(|_| format!("PORT: {port:?} is not a port number"))?;
        let listen_addr =
            format!("{host}:{port}").parse().map_err(|_| format!("RELAY_HOST: {host:?} is not an IP address"))?;
        let relay_timeout = secs("RELAY_TIMEOUT", 0)?;
        Ok(Config {
            listen_addr,
            control_grpc_url: var("CONTROL_GRPC_URL").unwrap_or_else(|| "http://127.0.0.1:3002".into()),
            control_http_url: var("CONTROL_HTTP_URL").unwrap_or_else(|| "http://127.0.0.1:3001".into()),
            internal_secret: var("INTERNAL_SECRET"),
            data_dir: PathBuf::from(var("DATA_DIR").unwrap_or_else(|| "data".into())),
            streaming_idle_timeout: secs("STREAMING_TIMEOUT", 60)?,
            relay_timeout: (!relay_timeout.is_zero()).then_some(relay_timeout),
            connect_timeout: secs("UPSTREAM_CONNECT_TIMEOUT", 10)?,
            first_byte_timeout: secs("FIRST_BYTE_TIMEOUT", 300)?,
            retry_deadline: secs("RETRY_DEADLINE", 60)?,
            auth_cache_ttl: secs("AUTH_CACHE_TTL", 300)?,
            control_stale_grace: secs("CONTROL_STALE_GRACE", 120)?,
            max_body_bytes: var("MAX_REQUEST_BODY_MB")
                .map(|v| v.parse::<usize>().map_err(|_| format!("MAX_REQUEST_BODY_MB: {v:?} is not a number")))
                .transpose()?
                .unwrap_or(32)
                * 1024
                * 1024,
            relay_id: var("RELAY_ID").or_else(|| var("HOSTNAME")).unwrap_or_else(|| "relay".into()),
            redis_url: var("REDIS_CONN_STRING"),
            rate_limit_fail_open: flag("RATE_LIMIT_FAIL_OPEN", true)?,
            rate_limit_key_prefix: var("RATE_LIMIT_KEY_PREFIX").unwrap_or_else(|| "veloera:rl:".into()),
            trusted_proxy_hops: var("TRUSTED_PROXY_HOPS")
                .map(|v| v.trim().parse::<usize>().map_err(|_| format!("TRUSTED_PROXY_HOPS: {v:?} is not a number")))
                .transpose()?
                .unwrap_or(0),
            metrics_addr: var("METRICS_ADDR")
                .map(|v| v.trim().parse().map_err(|_| format!("METRICS_ADDR: {v:?} is not an address (host:port)")))
                .transpose()?,
            control_grpc_ca: var("CONTROL_GRPC_CA").map(std::path::PathBuf::from),
        })
    }

    /// The internal secret: configured, or read from the data directory (waiting briefly for control to write it).
    pub async fn resolve_internal_secret(&self) -> Result<String, String> {
        if let Some(s) = &self.internal_secret {
            return Ok(s.clone());
        }
        let path = self.data_dir.join("internal_secret");
        for _ in 0..100 {
            if let Ok(s) = tokio::fs::read_to_string(&path).await
                && !s.trim().is_empty()
            {
                return Ok(s.trim().to_string());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(format!("INTERNAL_SECRET is not set and {} does not exist (is control-svc running?)", path.display()))
    }
}

#[allow(clippy::disallowed_methods, reason = "this is the config module: the one place the environment is read")]
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn flag(name: &str, default: bool) -> Result<bool, String> {
    match var(name).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if v == "true" || v == "1" => Ok(true),
        Some(v) if v == "false" || v == "0" => Ok(false),
        Some(v) => Err(format!("{name}: {v:?} is not a boolean")),
    }
}

fn secs(name: &str, default: u64) -> Result<Duration, String> {
    match var(name) {
        None => Ok(Duration::from_secs(default)),
        Some(v) => v
            .trim()
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| format!("{name}: {v:?} is not a number of seconds")),
    }
}
