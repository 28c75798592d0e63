//! `bare-proxy`: the benchmark's yardstick reverse proxy (see `bench_kit::proxy`).
#![allow(clippy::print_stdout, reason = "the bound address goes to stdout, where the benchmark harness reads it")]

use std::process::ExitCode;

use bench_kit::Error;
use bench_kit::proxy::Args;

const USAGE: &str = "\
usage: bare-proxy --upstream http://HOST:PORT[/BASE] [--listen ADDR] [--threads N]

  --upstream URL   where every request is forwarded (plain http only)
  --listen ADDR    address to bind (default 127.0.0.1:0); prints `listening on <addr>` once bound
  --threads N      tokio worker threads (default: one per core)";

fn main() -> ExitCode {
    let Args { launch, upstream } = match Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(Error::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            eprintln!("bare-proxy: {err}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match launch.run(|listener, shutdown| bench_kit::proxy::serve(listener, upstream, shutdown)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bare-proxy: {err}");
            ExitCode::FAILURE
        }
    }
}
