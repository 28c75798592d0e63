//! `cargo xtask <command>`: project automation in Rust (alias in .cargo/config.toml).
//!
//! Each command lives in its own module exposing `run(args: &[String]) -> anyhow::Result<()>`;
//! to add one, add the module, a `match` arm and a line in `USAGE`.
#![allow(
    clippy::print_stdout,
    clippy::disallowed_methods,
    reason = "a developer tool: its report goes to stdout, it reads its own knobs from the environment, and bench load tasks need no shutdown tracking"
)]

mod bench;
mod lint;
mod run;
mod sdk_check;
mod test;
mod ui;
mod workspace;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command> [args]

commands:
  bench   benchmark the relay against a bare proxy and LiteLLM (--quick, --no-litellm)
  lint    formatting, clippy (-D warnings) and cargo-deny, as `test` runs them first
  perf-guard  instructions per warm relay request under callgrind vs xtask/perf-baseline.json (--update)
  run     build everything (release) and start the gateway on the embedded default
  sdk-check  the official OpenAI, Anthropic and Google GenAI Python SDKs against the gateway
  test    lint, then every test (workspace, databases, admin UI in headless Chromium, SDKs, perf guard)
  ui      build the admin UI (admin-yew) to admin-yew/dist/
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = args.split_first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match cmd.as_str() {
        "bench" => bench::run(rest),
        "lint" => lint::run(rest),
        "perf-guard" => bench::guard::run(rest),
        "run" => run::run(rest),
        "sdk-check" => sdk_check::run(rest),
        "test" => test::run(rest),
        "ui" => ui::run(rest),
        "help" | "-h" | "--help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => {
            eprint!("error: unknown xtask command `{other}`\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
