//! `cargo xtask ui`: builds admin-yew for wasm32, runs wasm-bindgen (as a library, so no
//! wasm-bindgen CLI install is needed) and lays out `admin-yew/dist/`:
//! `index.html`, `style.css`, `admin.js`, `admin_bg.wasm`.

use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};
use wasm_bindgen_cli_support::Bindgen;

use crate::workspace::{cargo, output, run as run_cmd, target_dir, workspace_root};

const TARGET: &str = "wasm32-unknown-unknown";
/// Line in admin-yew/index.html replaced by the module loader.
const SCRIPT_MARKER: &str = "<!-- admin-yew:script";
const LOADER: &str = "<script type=\"module\">import init from './admin.js'; init();</script>";
/// Static files copied from admin-yew/ into dist/ as they are.
const STATIC_FILES: &[&str] = &["style.css"];

pub fn run(args: &[String]) -> Result<()> {
    if let Some(extra) = args.first() {
        bail!("`cargo xtask ui` takes no arguments (got `{extra}`)");
    }
    let root = workspace_root();
    let crate_dir = root.join("admin-yew");
    let dist = crate_dir.join("dist");

    ensure_target()?;
    run_cmd(cargo().args(["build", "-p", "admin-yew", "--target", TARGET, "--release"]).current_dir(&root))?;
    let wasm = target_dir()?.join(TARGET).join("release").join("admin-yew.wasm");
    if !wasm.is_file() {
        bail!("build finished but {} is missing", wasm.display());
    }

    if dist.exists() {
        fs::remove_dir_all(&dist).with_context(|| format!("removing {}", dist.display()))?;
    }
    fs::create_dir_all(&dist).with_context(|| format!("creating {}", dist.display()))?;

    Bindgen::new()
        .input_path(&wasm)
        .web(true)?
        // The library defaults to omitting it (the CLI does not): keep `init()` able to find
        // admin_bg.wasm next to admin.js by itself.
        .omit_default_module_path(false)
        .out_name("admin")
        .generate(&dist)
        .context("wasm-bindgen failed (is wasm-bindgen pinned to the same version in admin-yew and xtask?)")?;

    write_index(&crate_dir.join("index.html"), &dist.join("index.html"))?;
    for name in STATIC_FILES {
        let from = crate_dir.join(name);
        fs::copy(&from, dist.join(name)).with_context(|| format!("copying {}", from.display()))?;
    }
    println!("admin UI written to {}", dist.display());
    Ok(())
}

/// Adds the wasm32 target through rustup unless it is installed already.
fn ensure_target() -> Result<()> {
    let installed = output(Command::new("rustup").args(["target", "list", "--installed"]))
        .context("listing installed targets (is rustup on PATH?)")?;
    if installed.lines().any(|l| l.trim() == TARGET) {
        return Ok(());
    }
    run_cmd(Command::new("rustup").args(["target", "add", TARGET]))
}

/// Copies the HTML shell, putting the module loader in place of the marker comment
/// (or before `</body>` when the shell has no marker).
fn write_index(src: &Path, dst: &Path) -> Result<()> {
    let html = fs::read_to_string(src).with_context(|| format!("reading {}", src.display()))?;
    let out = if let Some(start) = html.find(SCRIPT_MARKER) {
        let end = html[start..].find("-->").map(|i| start + i + 3).context("unterminated marker")?;
        format!("{}{LOADER}{}", &html[..start], &html[end..])
    } else if let Some(body) = html.rfind("</body>") {
        format!("{}  {LOADER}\n{}", &html[..body], &html[body..])
    } else {
        bail!("{} has neither the script marker nor </body>", src.display());
    };
    fs::write(dst, out).with_context(|| format!("writing {}", dst.display()))
}
