//! Typed configuration of control-svc, read once from the environment.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

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
}

impl Config {
    pub fn from_env() -> Result<Self, String> {
        let data_dir = PathBuf::from(var("DATA_DIR").unwrap_or_else(|| "data".into()));
        let default_sqlite = var("SQLITE_PATH")
            .map(|p| p.split('?').next().unwrap_or_default().to_string())
            .unwrap_or_else(|| data_dir.join("veloera.db").to_string_lossy().into_owned());
        let database = DatabaseUrl::parse(&var("SQL_DSN").unwrap_or_default(), &default_sqlite)
            .map_err(|e| format!("SQL_DSN: {e}"))?;
        let session_secret = var("SESSION_SECRET");
        if session_secret.as_deref() == Some("random_string") {
            return Err("SESSION_SECRET: `random_string` is the public example value; set a real secret".into());
        }
        Ok(Config {
            http_addr: addr("CONTROL_HTTP_ADDR", "127.0.0.1:3001")?,
            grpc_addr: addr("CONTROL_GRPC_ADDR", "127.0.0.1:3002")?,
            database,
            session_secret,
            crypto_secret: var("CRYPTO_SECRET"),
            internal_secret: var("INTERNAL_SECRET"),
            generate_default_token: flag("GENERATE_DEFAULT_TOKEN", false)?,
            initial_root_password: var("INITIAL_ROOT_PASSWORD").unwrap_or_else(|| "123456".into()),
            ui_dir: PathBuf::from(var("ADMIN_UI_DIR").unwrap_or_else(|| "admin-yew/dist".into())),
            channel_test_every: minutes("CHANNEL_TEST_FREQUENCY")?,
            balance_update_every: minutes("CHANNEL_UPDATE_FREQUENCY")?,
            data_dir,
        })
    }
}

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
