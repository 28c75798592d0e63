//! `mock-upstream`: the benchmark's fake OpenAI-compatible upstream (see `bench_kit::mock`).
#![allow(clippy::print_stdout, reason = "the bound address goes to stdout, where the benchmark harness reads it")]

use std::process::ExitCode;

use bench_kit::Error;
use bench_kit::mock::Args;

const USAGE: &str = "\
usage: mock-upstream [--listen ADDR] [--threads N] [--profile MODEL=LATENCY_MS:CHUNKS:INTERVAL_MS]...

  --listen ADDR    address to bind (default 127.0.0.1:0); prints `listening on <addr>` once bound
  --threads N      tokio worker threads (default: one per core)
  --profile SPEC   per-model behaviour, repeatable; MODEL `*` replaces the default 0:8:0
                   e.g. gpt-4o=20:0:0 (20 ms latency), gpt-4.1-mini=0:64:20 (64 chunks, 20 ms apart)

routes: POST */chat/completions, GET /stats";

fn main() -> ExitCode {
    let Args { launch, profiles } = match Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(Error::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            eprintln!("mock-upstream: {err}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match launch.run(|listener, shutdown| bench_kit::mock::serve(listener, profiles, shutdown)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("mock-upstream: {err}");
            ExitCode::FAILURE
        }
    }
}
