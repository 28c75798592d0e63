//! Process entry shared by both binaries: build the multi-threaded runtime, bind, announce the bound
//! address on stdout (the orchestrator reads that line to learn the port) and serve until Ctrl-C.

use std::future::Future;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;

use tokio::net::TcpListener;

use crate::Error;

/// Resolves when the server should stop accepting and drain.
pub type Shutdown = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The flags every bench-kit binary understands: `--listen ADDR` and `--threads N`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Launch {
    /// Address to bind; port 0 picks a free one, reported on stdout.
    pub listen: SocketAddr,
    /// Tokio worker threads; `None` keeps Tokio's default of one per core. Lets a benchmark keep the
    /// yardstick from taking both cores away from the load generator.
    pub threads: Option<usize>,
}

impl Default for Launch {
    fn default() -> Self {
        Launch { listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), threads: None }
    }
}

impl Launch {
    /// Applies `--listen` or `--threads`; `Ok(false)` means the flag is not one of them.
    pub fn take_flag(&mut self, name: &str, value: &str) -> Result<bool, Error> {
        match name {
            "--listen" => self.listen = value.parse().map_err(|e| Error::invalid(name, value, e))?,
            "--threads" => {
                let threads: usize = value.parse().map_err(|e| Error::invalid(name, value, e))?;
                if threads == 0 {
                    return Err(Error::invalid(name, value, "must be at least 1"));
                }
                self.threads = Some(threads);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Binds, prints exactly one `listening on <addr>` line, then runs `server` until Ctrl-C.
    pub fn run<F, Fut>(self, server: F) -> Result<(), Error>
    where
        F: FnOnce(TcpListener, Shutdown) -> Fut,
        Fut: Future<Output = ()>,
    {
        let mut runtime = tokio::runtime::Builder::new_multi_thread();
        runtime.enable_all();
        if let Some(threads) = self.threads {
            runtime.worker_threads(threads);
        }
        let runtime = runtime.build().map_err(Error::Runtime)?;
        runtime.block_on(async move {
            let listener =
                TcpListener::bind(self.listen).await.map_err(|source| Error::Listen { addr: self.listen, source })?;
            let addr = listener.local_addr().map_err(|source| Error::Listen { addr: self.listen, source })?;
            let mut stdout = std::io::stdout().lock();
            // A closed stdout only loses the announcement; serving is still useful to a caller that knows the port.
            let _ = writeln!(stdout, "listening on {addr}").and_then(|()| stdout.flush());
            drop(stdout);
            let shutdown: Shutdown = Box::pin(async {
                let _ = tokio::signal::ctrl_c().await;
            });
            server(listener, shutdown).await;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_and_threads_are_taken_and_others_left() {
        let mut launch = Launch::default();
        assert!(launch.take_flag("--listen", "0.0.0.0:8080").unwrap());
        assert!(launch.take_flag("--threads", "1").unwrap());
        assert!(!launch.take_flag("--upstream", "http://x").unwrap());
        assert_eq!(launch, Launch { listen: "0.0.0.0:8080".parse().unwrap(), threads: Some(1) });
    }

    #[test]
    fn zero_threads_and_bad_addresses_are_rejected() {
        let mut launch = Launch::default();
        assert!(launch.take_flag("--threads", "0").is_err());
        assert!(launch.take_flag("--listen", "localhost").is_err());
    }
}
