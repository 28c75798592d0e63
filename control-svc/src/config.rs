//! Typed configuration of control-svc, read once from the environment.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::accounts::oauth::GitHubEndpoints;
use crate::db::DatabaseUrl;

/// Everything control-svc needs to start. Tests build this directly.
#[derive(Debug, Clone)]
pub struct Config {
    /// `CONTROL_HTTP_ADDR`: admin REST API and UI (default 127.0.0.1:3001; the relay fronts it).
    pub http_addr: SocketAddr,
    /// `CONTROL_GRPC_ADDR`: the gRPC service for relays (default 127.0.0.1:3002).
    pub grpc_addr: SocketAddr,
    /// `DATA_DIR`: where generated secrets and the default SQLite file live (default `data`).
    pub data_dir: PathBuf,
    /// From `SQL_DSN` (and `SQLITE_PATH`).
    pub database: DatabaseUrl,
    /// `SESSION_SECRET`; generated and persisted in the data dir when unset.
    pub session_secret: Option<String>,
    /// `CRYPTO_SECRET`: encrypts token and channel keys at rest; generated and persisted when unset.
    pub crypto_secret: Option<String>,
    /// `INTERNAL_SECRET`: shared with relays; generated into `DATA_DIR/internal_secret` when unset.
    pub internal_secret: Option<String>,
    /// `GENERATE_DEFAULT_TOKEN`: new users (root included) get an unlimited default token.
    pub generate_default_token: bool,
    /// `INITIAL_ROOT_PASSWORD`: password of the root user created on first start (default `123456`).
    pub initial_root_password: String,
    /// `ADMIN_UI_DIR`: the built admin UI (default `admin-yew/dist`).
    pub ui_dir: PathBuf,
    /// `CHANNEL_TEST_FREQUENCY` minutes: test every channel this often (unset or 0: never).
    pub channel_test_every: Option<Duration>,
    /// `CHANNEL_UPDATE_FREQUENCY` minutes: read channel balances this often (unset or 0: never).
    pub balance_update_every: Option<Duration>,
    /// `VELOERA_ENV=production`: refuse to start without `SESSION_SECRET` (default `development`).
    pub production: bool,
    /// `CREATE_DEFAULT_ROOT` (default true): create `root` at first start. With false the first account is created
    /// through `POST /api/setup` instead.
    pub create_default_root: bool,
    /// `GITHUB_OAUTH_BASE` (default https://github.com) and `GITHUB_API_BASE` (default https://api.github.com):
    /// where GitHub sign-in goes (GitHub Enterprise, or a fake in tests).
    pub github: GitHubEndpoints,
    /// `GLOBAL_API_RATE_LIMIT` requests per `GLOBAL_API_RATE_LIMIT_DURATION` seconds per client address on `/api`
    /// (default 180 per 180 s; `GLOBAL_API_RATE_LIMIT_ENABLE`, default true).
    pub api_rate_limit: RateLimit,
    /// `CRITICAL_RATE_LIMIT` per `CRITICAL_RATE_LIMIT_DURATION` seconds per client address on sign-in, sign-up,
    /// OAuth, mail and setup routes (default 20 per 1200 s; `CRITICAL_RATE_LIMIT_ENABLE`, default true).
    pub critical_rate_limit: RateLimit,
    /// Test-only, never read from the environment: lets the webhook egress client reach loopback addresses, so
    /// tests can run a local receiver. Everything else private stays refused.
    pub webhook_allow_loopback: bool,
    /// `CONTROL_GRPC_TLS_CERT` and `CONTROL_GRPC_TLS_KEY`: PEM files of the gRPC listener's certificate chain and
    /// private key. Both or neither; without them the listener speaks plaintext (h2c).
    pub grpc_tls: Option<GrpcTls>,
}

/// The gRPC listener's certificate chain and private key (PEM files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrpcTls {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// `CONTROL_GRPC_TLS_CERT` and `CONTROL_GRPC_TLS_KEY` together, or neither.
fn grpc_tls() -> Result<Option<GrpcTls>, String> {
    match (var("CONTROL_GRPC_TLS_CERT"), var("CONTROL_GRPC_TLS_KEY")) {
        (None, None) => Ok(None),
        (Some(cert), Some(key)) => Ok(Some(GrpcTls { cert: PathBuf::from(cert), key: PathBuf::from(key) })),
        (Some(_), None) => Err("CONTROL_GRPC_TLS_KEY: required when CONTROL_GRPC_TLS_CERT is set".into()),
        (None, Some(_)) => Err("CONTROL_GRPC_TLS_CERT: required when CONTROL_GRPC_TLS_KEY is set".into()),
    }
}

/// At most `count` requests per `period` from one client address; off when `enabled` is false.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub enabled: bool,
    pub count: u32,
    pub period: Duration,
}

impl RateLimit {
    /// Veloera's global `/api` limit.
    pub const GLOBAL_API: RateLimit = RateLimit { enabled: true, count: 180, period: Duration::from_secs(180) };
    /// Veloera's limit on critical routes (sign-in, sign-up, OAuth, mail).
    pub const CRITICAL: RateLimit = RateLimit { enabled: true, count: 20, period: Duration::from_secs(20 * 60) };
    /// No limit.
    pub const OFF: RateLimit = RateLimit { enabled: false, count: 1, period: Duration::from_secs(1) };

    /// Reads `{prefix}` (count), `{prefix}_DURATION` (seconds) and `{prefix}_ENABLE`, each defaulting to `default`.
    fn from_env(prefix: &str, default: RateLimit) -> Result<RateLimit, String> {
        let number = |name: String, default: u64| -> Result<u64, String> {
            match var(&name) {
                None => Ok(default),
                Some(v) => match v.trim().parse::<u64>() {
                    Ok(n) if n >= 1 && n <= u64::from(u32::MAX) => Ok(n),
                    _ => Err(format!("{name}: {v:?} is not a whole number of at least 1")),
                },
            }
        };
        Ok(RateLimit {
            enabled: flag(&format!("{prefix}_ENABLE"), default.enabled)?,
            count: number(prefix.to_string(), u64::from(default.count))? as u32,
            period: Duration::from_secs(number(format!("{prefix}_DURATION"), default.period.as_secs())?),
        })
    }
}

impl Config {
    pub fn from_env() -> Result<Self, String> {
        let data_dir = PathBuf::from(var("DATA_DIR").unwrap_or_else(|| "data".into()));
        let default_sqlite = var("SQLITE_PATH")
            .map(|p| p.split('?').next().unwrap_or_default().to_string())
            .unwrap_or_else(|| data_dir.join("veloera.db").to_string_lossy().into_owned());
        let database = DatabaseUrl::parse(&var("SQL_DSN").unwrap_or_default(), &default_sqlite)
            .map_err(|e| format!("SQL_DSN: {e}"))?;
        let github_default = GitHubEndpoints::default();
        let config = Config {
            http_addr: addr("CONTROL_HTTP_ADDR", "127.0.0.1:3001")?,
            grpc_addr: addr("CONTROL_GRPC_ADDR", "127.0.0.1:3002")?,
            database,
            session_secret: var("SESSION_SECRET"),
            crypto_secret: var("CRYPTO_SECRET"),
            internal_secret: var("INTERNAL_SECRET"),
            generate_default_token: flag("GENERATE_DEFAULT_TOKEN", false)?,
            initial_root_password: var("INITIAL_ROOT_PASSWORD").unwrap_or_else(|| "123456".into()),
            ui_dir: PathBuf::from(var("ADMIN_UI_DIR").unwrap_or_else(|| "admin-yew/dist".into())),
            channel_test_every: minutes("CHANNEL_TEST_FREQUENCY")?,
            balance_update_every: minutes("CHANNEL_UPDATE_FREQUENCY")?,
            data_dir,
            production: environment()?,
            create_default_root: flag("CREATE_DEFAULT_ROOT", true)?,
            github: GitHubEndpoints {
                oauth_base: var("GITHUB_OAUTH_BASE").unwrap_or(github_default.oauth_base),
                api_base: var("GITHUB_API_BASE").unwrap_or(github_default.api_base),
            },
            api_rate_limit: RateLimit::from_env("GLOBAL_API_RATE_LIMIT", RateLimit::GLOBAL_API)?,
            critical_rate_limit: RateLimit::from_env("CRITICAL_RATE_LIMIT", RateLimit::CRITICAL)?,
            webhook_allow_loopback: false,
            grpc_tls: grpc_tls()?,
        };
        config.check_secrets()?;
        Ok(config)
    }

    /// Refuses secrets that would make sessions forgeable or unstable: the public example `random_string`, and in
    /// production a missing `SESSION_SECRET` (a generated one is per data directory, so instances behind one
    /// address would not accept each other's cookies, and a lost data directory signs everybody out).
    pub fn check_secrets(&self) -> Result<(), String> {
        if self.session_secret.as_deref() == Some("random_string") {
            return Err("SESSION_SECRET: `random_string` is the public example value; set a real secret".into());
        }
        if self.production && self.session_secret.as_deref().is_none_or(|s| s.trim().is_empty()) {
            return Err("SESSION_SECRET: required when VELOERA_ENV=production; set the same long random value on \
                        every control instance"
                .into());
        }
        Ok(())
    }
}

/// `VELOERA_ENV`: `production` or `development` (the default).
fn environment() -> Result<bool, String> {
    match var("VELOERA_ENV").map(|v| v.to_ascii_lowercase()) {
        None => Ok(false),
        Some(v) if v == "production" || v == "prod" => Ok(true),
        Some(v) if v == "development" || v == "dev" => Ok(false),
        Some(v) => Err(format!("VELOERA_ENV: {v:?} is neither production nor development")),
    }
}

#[allow(clippy::disallowed_methods, reason = "this is the config module: the one place the environment is read")]
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A period in whole minutes; unset or 0 means never.
fn minutes(name: &str) -> Result<Option<Duration>, String> {
    match var(name) {
        None => Ok(None),
        Some(v) => match v.trim().parse::<u64>() {
            Ok(0) => Ok(None),
            Ok(m) => Ok(Some(Duration::from_secs(m * 60))),
            Err(_) => Err(format!("{name}: {v:?} is not a whole number of minutes")),
        },
    }
}

fn addr(name: &str, default: &str) -> Result<SocketAddr, String> {
    let raw = var(name).unwrap_or_else(|| default.into());
    raw.parse().map_err(|_| format!("{name}: {raw:?} is not a socket address like 127.0.0.1:3001"))
}

/// Parses a boolean the way Veloera's Go code does (`true`/`false`, also `1`/`0`).
pub fn flag(name: &str, default: bool) -> Result<bool, String> {
    match var(name).map(|v| v.to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if v == "true" || v == "1" || v == "yes" => Ok(true),
        Some(v) if v == "false" || v == "0" || v == "no" => Ok(false),
        Some(v) => Err(format!("{name}: {v:?} is not a boolean (true or false)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(production: bool, session_secret: Option<&str>) -> Config {
        Config {
            http_addr: "127.0.0.1:0".parse().unwrap(),
            grpc_addr: "127.0.0.1:0".parse().unwrap(),
            data_dir: PathBuf::from("unused"),
            database: DatabaseUrl::sqlite_file("unused.db"),
            session_secret: session_secret.map(String::from),
            crypto_secret: None,
            internal_secret: None,
            generate_default_token: false,
            initial_root_password: "123456".into(),
            ui_dir: PathBuf::from("unused"),
            channel_test_every: None,
            balance_update_every: None,
            production,
            create_default_root: true,
            github: GitHubEndpoints::default(),
            api_rate_limit: RateLimit::GLOBAL_API,
            critical_rate_limit: RateLimit::CRITICAL,
            webhook_allow_loopback: false,
            grpc_tls: None,
        }
    }

    #[test]
    fn production_needs_a_session_secret_and_development_generates_one() {
        assert!(config(true, None).check_secrets().unwrap_err().contains("SESSION_SECRET"));
        assert!(config(true, Some(" ")).check_secrets().is_err());
        assert!(config(true, Some("a-long-shared-secret")).check_secrets().is_ok());
        assert!(config(false, None).check_secrets().is_ok());
    }

    #[test]
    fn the_public_example_secret_is_refused_everywhere() {
        assert!(config(false, Some("random_string")).check_secrets().is_err());
        assert!(config(true, Some("random_string")).check_secrets().is_err());
    }
}
