//! relay-svc entry point: read the environment, build, serve until Ctrl-C or SIGTERM.

use relay_svc::{Application, Config};
use veloera_proto::startup::{self, Exit};

// The system allocator on purpose: mimalloc and jemalloc saved about a tenth of the instructions per request
// but made each open stream cost 1.5-2x the bare proxy's memory (glibc: 1.2x), and throughput did not
// change beyond the benchmark's noise.

#[tokio::main]
async fn main() {
    startup::init_logging(startup::log_format_or_exit());
    let config = startup::or_exit(Config::from_env(), Exit::Config, "configuration error");
    let app = startup::or_exit(Application::build(config).await, Exit::Failed, "relay-svc failed to start");
    tracing::info!(addr = %app.addr(), "relay-svc listening");
    startup::or_exit(app.run_until(startup::shutdown_signal()).await, Exit::Failed, "relay-svc stopped with an error");
}
