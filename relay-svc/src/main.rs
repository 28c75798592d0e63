//! relay-svc entry point: read the environment, build, serve until Ctrl-C or SIGTERM.

use relay_svc::{Application, Config};

// The system allocator on purpose: mimalloc and jemalloc saved about a tenth of the instructions per request
// but made each open stream cost 1.5-2x the bare proxy's memory (glibc: 1.2x), and throughput did not
// change beyond the benchmark's noise.

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
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
    if let Err(e) = app.run_until(shutdown_signal()).await {
        eprintln!("relay-svc stopped with an error: {e}");
        std::process::exit(1);
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
