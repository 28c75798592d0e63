//! `cargo xtask run`: builds everything (admin UI included) in release mode and starts the whole gateway on the
//! embedded default (SQLite in ./data): control-svc, then relay-svc on PORT (default 3000). Ctrl-C stops both.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::workspace::{cargo, run as run_cmd, target_dir, workspace_root};

pub fn run(args: &[String]) -> Result<()> {
    if let Some(extra) = args.first() {
        bail!("`cargo xtask run` takes no arguments (got `{extra}`); configure it with environment variables");
    }
    let root = workspace_root();
    crate::ui::run(&[])?;
    run_cmd(
        cargo().args(["build", "--release", "--locked", "-p", "control-svc", "-p", "relay-svc"]).current_dir(&root),
    )?;
    let bin = target_dir()?.join("release");

    // The services run in their own process group so Ctrl-C reaches only us, and we stop them in order:
    // the relay first (it drains usage to control), then control.
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst)).context("installing the Ctrl-C handler")?;

    let mut control = Command::new(bin.join("control-svc"));
    control.current_dir(&root).process_group(0);
    if std::env::var_os("ADMIN_UI_DIR").is_none() {
        control.env("ADMIN_UI_DIR", root.join("admin-yew/dist"));
    }
    let mut control = control.spawn().context("starting control-svc")?;
    let mut relay = Command::new(bin.join("relay-svc"))
        .current_dir(&root)
        .process_group(0)
        .spawn()
        .context("starting relay-svc")?;
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    println!("Veloera is starting on http://localhost:{port}/ (admin UI, /api, /v1 and /hf/v1). Ctrl-C stops it.");

    let failed = supervise(&mut control, &mut relay, &stop)?;
    if failed {
        bail!("a service stopped with an error (see its log above)");
    }
    Ok(())
}

/// Waits until both have exited. On Ctrl-C, or when one exits on its own, stops the relay first and then
/// control. Returns whether either failed.
fn supervise(control: &mut Child, relay: &mut Child, stop: &AtomicBool) -> Result<bool> {
    loop {
        let relay_done = relay.try_wait()?.is_some();
        let control_done = control.try_wait()?.is_some();
        if stop.load(Ordering::SeqCst) || relay_done || control_done {
            eprintln!("stopping…");
            terminate(relay);
            let relay_status = relay.wait()?;
            terminate(control);
            let control_status = control.wait()?;
            return Ok(!relay_status.success() || !control_status.success());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// SIGTERM lets a service drain (the relay flushes usage to control) instead of dying mid-write.
fn terminate(child: &Child) {
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
}
