//! Typed configuration of the launcher, read once from the environment, and the environment each service is
//! started with (the launcher's own, plus what the single container decides for both).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::data_dir::{self, DataDir};
use crate::error::SupervisorError;

/// Everything the launcher needs. Tests build this directly.
#[derive(Debug, Clone)]
pub struct Config {
    /// `DATA_DIR`, else `/data` when writable, else `/app/data`; given to both services.
    pub data_dir: DataDir,
    /// Where `control-svc` and `relay-svc` are: beside the launcher's own executable.
    pub bin_dir: PathBuf,
    /// `CONTROL_HTTP_ADDR` (default 127.0.0.1:3001): probed for readiness; the relay is pointed at it.
    pub control_http: SocketAddr,
    /// `CONTROL_GRPC_ADDR` (default 127.0.0.1:3002): the relay is pointed at it.
    pub control_grpc: SocketAddr,
    /// `RELAY_HOST` + `PORT` (default 0.0.0.0:3000; the image sets 7860): probed by `veloera healthcheck`.
    pub relay_addr: SocketAddr,
    /// `SQL_DSN` as given (moved into the data directory when it names the image's SQLite file).
    pub sql_dsn: Option<String>,
    /// `CONTROL_HTTP_URL` / `CONTROL_GRPC_URL` when set: then the relay is not pointed at the addresses above.
    pub relay_control_urls: (Option<String>, Option<String>),
    /// `SHUTDOWN_TIMEOUT` seconds (default 8, inside Docker's 10 s grace): the relay gets three quarters to
    /// finish its requests and drain usage, control the rest.
    pub shutdown_timeout: Duration,
    /// `STARTUP_TIMEOUT` seconds (default 120): how long control may take to become ready (first start runs
    /// the migrations).
    pub startup_timeout: Duration,
    /// `SPACE_ID` is set: running on Hugging Face Spaces.
    pub on_space: bool,
}

impl Config {
    pub fn from_env() -> Result<Self, SupervisorError> {
        let exe = std::env::current_exe()
            .map_err(|e| SupervisorError::System(format!("cannot find the launcher's own executable: {e}")))?;
        let bin_dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
        let data_dir = data_dir::choose(
            var("DATA_DIR").map(PathBuf::from),
            Path::new(data_dir::PERSISTENT_STORAGE),
            Path::new(data_dir::IMAGE_DATA_DIR),
        );
        let host = var("RELAY_HOST").unwrap_or_else(|| "0.0.0.0".into());
        let port = var("PORT").unwrap_or_else(|| "3000".into());
        let host: IpAddr = host.parse().map_err(|_| config(format!("RELAY_HOST: {host:?} is not an IP address")))?;
        let port: u16 = port.parse().map_err(|_| config(format!("PORT: {port:?} is not a port number")))?;
        Ok(Config {
            data_dir,
            bin_dir,
            control_http: addr("CONTROL_HTTP_ADDR", "127.0.0.1:3001")?,
            control_grpc: addr("CONTROL_GRPC_ADDR", "127.0.0.1:3002")?,
            relay_addr: SocketAddr::new(host, port),
            sql_dsn: var("SQL_DSN"),
            relay_control_urls: (var("CONTROL_HTTP_URL"), var("CONTROL_GRPC_URL")),
            shutdown_timeout: secs("SHUTDOWN_TIMEOUT", 8)?,
            startup_timeout: secs("STARTUP_TIMEOUT", 120)?,
            on_space: var("SPACE_ID").is_some(),
        })
    }

    /// The executable of a service.
    pub fn program(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }

    /// Variables control-svc gets on top of the launcher's environment.
    pub fn control_env(&self) -> Vec<(String, String)> {
        let mut env = vec![("DATA_DIR".to_string(), self.data_dir.path.display().to_string())];
        if let Some(dsn) = self.sql_dsn.as_deref().and_then(|d| data_dir::follow_sqlite(d, &self.data_dir.path)) {
            env.push(("SQL_DSN".into(), dsn));
        }
        env
    }

    /// Variables relay-svc gets on top of the launcher's environment: the data directory (where control wrote
    /// the internal secret) and control's addresses, unless they were given.
    pub fn relay_env(&self) -> Vec<(String, String)> {
        let mut env = vec![("DATA_DIR".to_string(), self.data_dir.path.display().to_string())];
        if self.relay_control_urls.0.is_none() {
            env.push(("CONTROL_HTTP_URL".into(), format!("http://{}", reachable(self.control_http))));
        }
        if self.relay_control_urls.1.is_none() {
            env.push(("CONTROL_GRPC_URL".into(), format!("http://{}", reachable(self.control_grpc))));
        }
        env
    }

    /// Control's readiness endpoint.
    pub fn control_ready_url(&self) -> String {
        format!("http://{}/readyz", reachable(self.control_http))
    }

    /// The relay's readiness endpoint on its public port (what `veloera healthcheck` asks).
    pub fn relay_ready_url(&self) -> String {
        format!("http://{}/readyz", reachable(self.relay_addr))
    }

    /// How long the relay, then control, may take to stop.
    pub fn stop_bounds(&self) -> (Duration, Duration) {
        let relay = self.shutdown_timeout * 3 / 4;
        (relay, self.shutdown_timeout - relay)
    }
}

/// A listen address as a client reaches it: a wildcard listener is reached on loopback.
fn reachable(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        let ip =
            if addr.is_ipv4() { IpAddr::V4(Ipv4Addr::LOCALHOST) } else { IpAddr::V6(std::net::Ipv6Addr::LOCALHOST) };
        SocketAddr::new(ip, addr.port())
    } else {
        addr
    }
}

fn config(message: String) -> SupervisorError {
    SupervisorError::Config(message)
}

#[allow(clippy::disallowed_methods, reason = "this is the config module: the one place the environment is read")]
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn addr(name: &str, default: &str) -> Result<SocketAddr, SupervisorError> {
    let raw = var(name).unwrap_or_else(|| default.into());
    raw.parse().map_err(|_| config(format!("{name}: {raw:?} is not a socket address like 127.0.0.1:3001")))
}

fn secs(name: &str, default: u64) -> Result<Duration, SupervisorError> {
    match var(name) {
        None => Ok(Duration::from_secs(default)),
        Some(v) => match v.trim().parse::<u64>() {
            Ok(n) if n >= 1 => Ok(Duration::from_secs(n)),
            _ => Err(config(format!("{name}: {v:?} is not a whole number of seconds (at least 1)"))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data_dir::Origin;

    fn config(data_dir: &str, sql_dsn: Option<&str>) -> Config {
        Config {
            data_dir: DataDir { path: data_dir.into(), origin: Origin::Image },
            bin_dir: "/usr/local/bin".into(),
            control_http: "127.0.0.1:3001".parse().unwrap(),
            control_grpc: "0.0.0.0:3002".parse().unwrap(),
            relay_addr: "0.0.0.0:7860".parse().unwrap(),
            sql_dsn: sql_dsn.map(String::from),
            relay_control_urls: (None, None),
            shutdown_timeout: Duration::from_secs(8),
            startup_timeout: Duration::from_secs(120),
            on_space: true,
        }
    }

    fn get<'a>(env: &'a [(String, String)], name: &str) -> Option<&'a str> {
        env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn the_relay_is_pointed_at_control_and_wildcards_become_loopback() {
        let c = config("/app/data", None);
        let env = c.relay_env();
        assert_eq!(get(&env, "CONTROL_HTTP_URL"), Some("http://127.0.0.1:3001"));
        assert_eq!(get(&env, "CONTROL_GRPC_URL"), Some("http://127.0.0.1:3002"));
        assert_eq!(get(&env, "DATA_DIR"), Some("/app/data"));
        assert_eq!(c.relay_ready_url(), "http://127.0.0.1:7860/readyz");
        let mut given = c.clone();
        given.relay_control_urls = (Some("http://control:3001".into()), None);
        assert_eq!(get(&given.relay_env(), "CONTROL_HTTP_URL"), None);
    }

    #[test]
    fn the_image_database_moves_to_persistent_storage_with_the_secrets() {
        let on_data = config("/data", Some("sqlite:///app/data/veloera.db"));
        assert_eq!(get(&on_data.control_env(), "SQL_DSN"), Some("sqlite:///data/veloera.db"));
        let in_image = config("/app/data", Some("sqlite:///app/data/veloera.db"));
        assert_eq!(get(&in_image.control_env(), "SQL_DSN"), None);
    }

    #[test]
    fn the_relay_gets_three_quarters_of_the_shutdown_bound() {
        assert_eq!(config("/app/data", None).stop_bounds(), (Duration::from_secs(6), Duration::from_secs(2)));
    }
}
