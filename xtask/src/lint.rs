//! `cargo xtask lint`: the guard rails `cargo xtask test` runs before any test — formatting, clippy with every
//! warning an error (the workspace lints in `Cargo.toml`, the reasons in `clippy.toml`), and cargo-deny (licences
//! compatible with GPL-3.0, crates.io as the only source, duplicate and banned crates, security advisories).

use anyhow::{Context, Result, bail};

use crate::workspace::{cargo, output, run as run_cmd, workspace_root};

pub fn run(args: &[String]) -> Result<()> {
    if let Some(extra) = args.first() {
        bail!("`cargo xtask lint` takes no arguments (got `{extra}`)");
    }
    let root = workspace_root();
    run_cmd(cargo().args(["fmt", "--all", "--check"]).current_dir(&root))
        .context("formatting differs: run `cargo fmt --all`")?;
    run_cmd(
        cargo().args(["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"]).current_dir(&root),
    )?;
    deny(&root)
}

/// cargo-deny, installed from crates.io on first use. Its advisory database is a Git repository on GitHub; where
/// GitHub cannot be reached (our CI machines) the advisory check cannot run and says so, and the other checks
/// still must pass.
fn deny(root: &std::path::Path) -> Result<()> {
    if output(cargo().args(["deny", "--version"])).is_err() {
        println!("lint: installing cargo-deny from crates.io (once per machine)");
        run_cmd(cargo().args(["install", "cargo-deny", "--locked"]))?;
    }
    run_cmd(cargo().args(["deny", "--all-features", "check", "licenses", "bans", "sources"]).current_dir(root))?;
    let fetched = cargo().args(["deny", "fetch", "db"]).current_dir(root).status().is_ok_and(|s| s.success());
    if fetched {
        run_cmd(cargo().args(["deny", "check", "advisories"]).current_dir(root))
    } else {
        eprintln!(
            "lint: WARNING: the RustSec advisory database could not be fetched (no access to github.com); \
             advisories were NOT checked. Run `cargo deny check advisories` where GitHub is reachable."
        );
        Ok(())
    }
}
