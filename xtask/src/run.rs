//! `cargo xtask run`: builds everything (admin UI included) in release mode and starts the whole gateway on the
//! embedded default (SQLite in ./data): control-svc, then relay-svc on PORT (default 3000). Ctrl-C stops both.

use std::process::{Child, Command};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::workspace::{cargo, run as run_cmd, target_dir, workspace_root};

pub fn run(args: &[String]) -> Result<()> {
    if let Some(extra) = args.first() {
        bail!("`cargo xtask run` takes no arguments (got `{extra}`); configure it with environment variables");
    }
    let root = workspace_root();
    crate::ui::run(&[])?;
    run_cmd(cargo().args(["build", "--release", "--locked", "-p", "control-svc", "-p", "relay-svc"]).current_dir(&root))?;
    let bin = target_dir()?.join("release");

    // The terminal sends Ctrl-C to the children too; we only wait for them to finish draining.
    ctrlc::set_handler(|| eprintln!("stopping…")).context("installing the Ctrl-C handler")?;

    let mut control = Command::new(bin.join("control-svc"));
    control.current_dir(&root);
    if std::env::var_os("ADMIN_UI_DIR").is_none() {
        control.env("ADMIN_UI_DIR", root.join("admin-yew/dist"));
    }
    let mut control = control.spawn().context("starting control-svc")?;
    let mut relay = Command::new(bin.join("relay-svc")).current_dir(&root).spawn().context("starting relay-svc")?;
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    println!("Veloera is starting on http://localhost:{port}/ (admin UI, /api, /v1 and /hf/v1). Ctrl-C stops it.");

    let failed = supervise(&mut control, &mut relay)?;
    if failed {
        bail!("a service stopped with an error (see its log above)");
    }
    Ok(())
}

/// Waits until both children have exited; when one exits, asks the other to stop. Returns whether either failed.
fn supervise(a: &mut Child, b: &mut Child) -> Result<bool> {
    let mut failed = false;
    let mut asked_to_stop = false;
    loop {
        let ea = a.try_wait()?;
        let eb = b.try_wait()?;
        for status in [ea, eb].into_iter().flatten() {
            failed |= !status.success();
        }
        match (ea, eb) {
            (Some(_), Some(_)) => return Ok(failed),
            (Some(_), None) | (None, Some(_)) if !asked_to_stop => {
                let survivor = if ea.is_some() { &*b } else { &*a };
                terminate(survivor);
                asked_to_stop = true;
            }
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// SIGTERM lets a service drain (the relay flushes usage to control) instead of dying mid-write.
fn terminate(child: &Child) {
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
}
