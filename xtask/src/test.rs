//! `cargo xtask test`: the guard rails of `cargo xtask lint` (fmt, clippy -D warnings, cargo-deny), then every test
//! of the project. The workspace tests (unit, end-to-end with mock upstream +
//! control + relay, and the database layer against SQLite, PostgreSQL and MariaDB), then the admin UI build
//! for wasm32 and its browser test in headless Chromium, the official SDKs against the gateway, and the perf guard (instructions per warm relay
//! request under callgrind against the committed baseline).

use anyhow::{Result, bail};

use crate::workspace::{cargo, run as run_cmd, workspace_root};

pub fn run(args: &[String]) -> Result<()> {
    if let Some(extra) = args.first() {
        bail!("`cargo xtask test` takes no arguments (got `{extra}`)");
    }
    crate::lint::run(&[])?;
    let root = workspace_root();
    run_cmd(cargo().args(["test", "--workspace", "--locked"]).current_dir(&root))?;
    crate::ui::run(&[])?;
    run_cmd(
        cargo()
            .args(["test", "--locked", "-p", "relay-svc", "--features", "ui-test", "--test", "ui"])
            .current_dir(&root),
    )?;
    // The official SDKs, unmodified, against the real gateway.
    crate::sdk_check::run(&[])?;
    // The hot path's cost in instructions, against the committed baseline.
    crate::bench::guard::run(&[])
}
