//! relay-svc entry point: read the environment, build, serve until Ctrl-C or SIGTERM.

use relay_svc::{Application, Config};
use veloera_proto::startup::{self, LogFormat};

// The system allocator on purpose: mimalloc and jemalloc saved about a tenth of the instructions per request
// but made each open stream cost 1.5-2x the bare proxy's memory (glibc: 1.2x), and throughput did not
// change beyond the benchmark's noise.

#[tokio::main]
async fn main() {
    let log_format = match LogFormat::from_env() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("configuration error: {e}");
            std::process::exit(2);
        }
    };
    startup::init_logging(log_format);
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("configuration error: {e}");
            std::process::exit(2);
        }
    };
    let app = match Application::build(config).await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("relay-svc failed to start: {e}");
            std::process::exit(1);
        }
    };
    tracing::info!(addr = %app.addr(), "relay-svc listening");
    if let Err(e) = app.run_until(startup::shutdown_signal()).await {
        eprintln!("relay-svc stopped with an error: {e}");
        std::process::exit(1);
    }
}
