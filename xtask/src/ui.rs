//! `cargo xtask ui`: builds admin-yew for wasm32 (profile `ui-release`, size-optimised), runs wasm-bindgen (as a library, so
//! no wasm-bindgen CLI install is needed), shrinks the wasm with `wasm-opt` when it is installed (Debian's
//! `binaryen`), and lays out `admin-yew/dist/` with content-hashed names, so control can let browsers cache
//! them for a year while `index.html` (never cached) always names the current ones:
//! `index.html`, `style-<hash>.css`, `admin-<hash>.js`, `admin_bg-<hash>.wasm`.

use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};
use wasm_bindgen_cli_support::Bindgen;

use crate::workspace::{cargo, output, run as run_cmd, target_dir, workspace_root};

const TARGET: &str = "wasm32-unknown-unknown";
/// The workspace profile for the UI: release with `opt-level = "z"` for every crate of the bundle.
const PROFILE: &str = "ui-release";
/// Line in admin-yew/index.html replaced by the module loader.
const SCRIPT_MARKER: &str = "<!-- admin-yew:script";
/// The stylesheet link in admin-yew/index.html, replaced by the hashed name.
const STYLE_LINK: &str = "href=\"./style.css\"";
/// The features rustc's wasm32 target emits by default; wasm-opt must accept them all.
const WASM_OPT_FEATURES: &[&str] = &[
    "--enable-bulk-memory",
    "--enable-mutable-globals",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-reference-types",
    "--enable-multivalue",
];

pub fn run(args: &[String]) -> Result<()> {
    if let Some(extra) = args.first() {
        bail!("`cargo xtask ui` takes no arguments (got `{extra}`)");
    }
    let root = workspace_root();
    let crate_dir = root.join("admin-yew");
    let dist = crate_dir.join("dist");

    ensure_target()?;
    run_cmd(cargo().args(["build", "-p", "admin-yew", "--target", TARGET, "--profile", PROFILE]).current_dir(&root))?;
    let wasm = target_dir()?.join(TARGET).join(PROFILE).join("admin-yew.wasm");
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
        // The library defaults to omitting it (the CLI does not): keep `init()` able to find the wasm next to
        // the script by itself.
        .omit_default_module_path(false)
        .out_name("admin")
        .generate(&dist)
        .context("wasm-bindgen failed (is wasm-bindgen pinned to the same version in admin-yew and xtask?)")?;
    for extra in ["admin.d.ts", "admin_bg.wasm.d.ts"] {
        let _ = fs::remove_file(dist.join(extra));
    }

    let wasm_out = dist.join("admin_bg.wasm");
    shrink(&wasm_out)?;

    let wasm_name = hashed(&wasm_out, "admin_bg", "wasm")?;
    let js_path = dist.join("admin.js");
    let js = fs::read_to_string(&js_path).with_context(|| format!("reading {}", js_path.display()))?;
    if !js.contains("'admin_bg.wasm'") {
        bail!("admin.js does not load 'admin_bg.wasm' by name; the wasm-bindgen output changed");
    }
    fs::write(&js_path, js.replace("'admin_bg.wasm'", &format!("'{wasm_name}'")))?;
    let js_name = hashed(&js_path, "admin", "js")?;

    let css_path = dist.join("style.css");
    fs::copy(crate_dir.join("style.css"), &css_path).context("copying style.css")?;
    let css_name = hashed(&css_path, "style", "css")?;

    write_index(&crate_dir.join("index.html"), &dist.join("index.html"), &js_name, &css_name)?;
    for name in [&wasm_name, &js_name, &css_name] {
        let size = fs::metadata(dist.join(name))?.len();
        println!("  {name}: {} KiB", size / 1024);
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

/// Runs `wasm-opt -Oz` over the module when binaryen is installed; without it the module is only larger. A
/// binaryen too old to read the module (Debian bookworm's 108 predates `table.fill`, which wasm-bindgen emits
/// for reference types) is reported and skipped rather than failing the build.
fn shrink(wasm: &Path) -> Result<()> {
    let Ok(version) = Command::new("wasm-opt").arg("--version").output() else {
        println!("wasm-opt not found (apt-get install binaryen): the wasm is not post-optimised");
        return Ok(());
    };
    let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
    let before = fs::metadata(wasm)?.len();
    let tmp = wasm.with_extension("opt.wasm");
    let out = Command::new("wasm-opt").arg("-Oz").args(WASM_OPT_FEATURES).arg(wasm).arg("-o").arg(&tmp).output()?;
    if !out.status.success() {
        let _ = fs::remove_file(&tmp);
        let why = String::from_utf8_lossy(&out.stderr);
        println!("{version} cannot optimise this module ({}); it is left as rustc built it", why.trim());
        return Ok(());
    }
    fs::rename(&tmp, wasm)?;
    println!("wasm-opt: {} KiB -> {} KiB", before / 1024, fs::metadata(wasm)?.len() / 1024);
    Ok(())
}

/// Renames `path` to `<stem>-<hash>.<ext>` (FNV-1a of the content) and returns the new file name.
fn hashed(path: &Path, stem: &str, ext: &str) -> Result<String> {
    let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let name = format!("{stem}-{:016x}.{ext}", fnv1a(&bytes));
    fs::rename(path, path.with_file_name(&name))?;
    Ok(name)
}

/// FNV-1a, 64 bits: stable across toolchains, which `DefaultHasher` does not promise.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// Copies the HTML shell with the hashed names: the stylesheet link, and the module loader in place of the
/// marker comment (or before `</body>`). Paths are absolute so deep links (`/channel/12/edit`) load them too.
fn write_index(src: &Path, dst: &Path, js: &str, css: &str) -> Result<()> {
    let html = fs::read_to_string(src).with_context(|| format!("reading {}", src.display()))?;
    if !html.contains(STYLE_LINK) {
        bail!("{} has no {STYLE_LINK}", src.display());
    }
    let html = html.replace(STYLE_LINK, &format!("href=\"/{css}\""));
    let loader = format!("<script type=\"module\">import init from '/{js}'; init();</script>");
    let out = if let Some(start) = html.find(SCRIPT_MARKER) {
        let end = html[start..].find("-->").map(|i| start + i + 3).context("unterminated marker")?;
        format!("{}{loader}{}", &html[..start], &html[end..])
    } else if let Some(body) = html.rfind("</body>") {
        format!("{}  {loader}\n{}", &html[..body], &html[body..])
    } else {
        bail!("{} has neither the script marker nor </body>", src.display());
    };
    fs::write(dst, out).with_context(|| format!("writing {}", dst.display()))
}

#[cfg(test)]
mod tests {
    use super::fnv1a;

    #[test]
    fn fnv1a_matches_the_reference_values() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
