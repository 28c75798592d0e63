//! `cargo xtask run`: builds everything (admin UI included) in release mode and starts the whole gateway on the
//! embedded default (SQLite in ./data) through the launcher `veloera`: control-svc, then relay-svc on PORT
//! (default 3000). Ctrl-C stops both, the relay first.

use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::workspace::{cargo, run as run_cmd, target_dir, workspace_root};

pub fn run(args: &[String]) -> Result<()> {
    if let Some(extra) = args.first() {
        bail!("`cargo xtask run` takes no arguments (got `{extra}`); configure it with environment variables");
    }
    let root = workspace_root();
    crate::ui::run(&[])?;
    run_cmd(
        cargo()
            .args([
                "build",
                "--release",
                "--locked",
                "-p",
                "control-svc",
                "-p",
                "relay-svc",
                "-p",
                "veloera-supervisor",
            ])
            .current_dir(&root),
    )?;
    let bin = target_dir()?.join("release");

    // The launcher `veloera` (the Docker image's command) runs both: control first, the relay once control is
    // ready, and on Ctrl-C the relay first (it drains usage to control), then control. Ctrl-C reaches it and us
    // alike; we only wait for it and report how it ended.
    ctrlc::set_handler(|| {}).context("installing the Ctrl-C handler")?;
    let mut launcher = Command::new(bin.join("veloera"));
    launcher.current_dir(&root);
    // The embedded defaults of a checkout, not the image's /data or /app/data.
    if std::env::var_os("DATA_DIR").is_none() {
        launcher.env("DATA_DIR", root.join("data"));
    }
    if std::env::var_os("ADMIN_UI_DIR").is_none() {
        launcher.env("ADMIN_UI_DIR", root.join("admin-yew/dist"));
    }
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    println!("Veloera is starting on http://localhost:{port}/ (admin UI, /api, /v1 and /hf/v1). Ctrl-C stops it.");
    let status = launcher.status().context("starting the launcher (target/release/veloera)")?;
    if !status.success() {
        bail!("the gateway stopped with an error ({status}; see the log above)");
    }
    Ok(())
}
