//! `veloera`: the single container's entry point. With no argument it runs control-svc and relay-svc (see
//! `supervise`); `veloera healthcheck` asks the relay's `/readyz` on the public port and exits 0 when ready
//! (`veloera healthcheck control`: control's, on `CONTROL_HTTP_ADDR`), for the image's `HEALTHCHECK` and compose.

use veloera_supervisor::{Config, probe, supervise};

const USAGE: &str = "usage: veloera                      run control-svc and relay-svc (configured by the environment)
       veloera healthcheck          exit 0 when the relay on PORT answers /readyz with 200
       veloera healthcheck control  exit 0 when control on CONTROL_HTTP_ADDR answers /readyz with 200";

/// What the command line asks for.
enum Mode {
    Supervise,
    Healthcheck { control: bool },
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mode = match args.as_slice() {
        [] => Mode::Supervise,
        ["healthcheck"] => Mode::Healthcheck { control: false },
        ["healthcheck", "control"] => Mode::Healthcheck { control: true },
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("configuration error: {e}");
            std::process::exit(2);
        }
    };
    // One thread: a service's death signal (PR_SET_PDEATHSIG) is tied to the thread that started it.
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("veloera cannot start its runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = runtime.block_on(async {
        if let Mode::Healthcheck { control } = mode {
            let url = if control { config.control_ready_url() } else { config.relay_ready_url() };
            return match probe::check(&url).await {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("not ready: {e}");
                    1
                }
            };
        }
        match supervise::run(&config).await {
            Ok(code) => code,
            Err(e) => {
                tracing::error!("{e}");
                1
            }
        }
    });
    std::process::exit(code);
}
