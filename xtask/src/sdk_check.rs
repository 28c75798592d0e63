//! `cargo xtask sdk-check`: the official OpenAI, Anthropic and Google GenAI Python SDKs (from PyPI, in
//! `target/sdk-venv`) run unmodified against the real gateway (release builds of control and relay, a fresh
//! SQLite database, bench-kit's mock OpenAI upstream): chat, streams, models and a bad key through every SDK,
//! the OpenAI one under both `/v1` and `/hf/v1`. The checks themselves are in `xtask/sdk-check.py`.

use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::bench::procs::{service_env, spawn_listening, spawn_service};
use crate::bench::provision::Admin;
use crate::workspace::{run as run_cmd, target_dir, workspace_root};

const SDKS: [&str; 3] = ["openai", "anthropic", "google-genai"];
const MODEL: &str = "gpt-4o-mini";

pub fn run(args: &[String]) -> Result<()> {
    if let Some(extra) = args.first() {
        bail!("`cargo xtask sdk-check` takes no arguments (got `{extra}`)");
    }
    let python = venv()?;
    let (bin, dir) = crate::bench::prepare("sdk-check")?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let (_mock, mock_addr) =
            spawn_listening("mock-upstream", &bin.join("mock-upstream"), &["--listen".into(), "127.0.0.1:0".into()])?;
        let (env, port) = service_env(&dir)?;
        let _control = spawn_service("control-svc", &bin.join("control-svc"), &env, &dir.join("control.log"))?;
        let _relay = spawn_service("relay-svc", &bin.join("relay-svc"), &env, &dir.join("relay.log"))?;
        let base = format!("http://127.0.0.1:{port}");
        let admin = Admin::sign_in(&base).await.context("the gateway did not come up")?;
        admin.channel(&format!("http://{mock_addr}"), MODEL).await?;
        let (_, key) = admin.token("sdk-check").await?;
        let script = workspace_root().join("xtask/sdk-check.py");
        let status = Command::new(&python).arg(script).args([&base, &key, MODEL]).status()?;
        if !status.success() {
            bail!("an official SDK check failed (logs in {})", dir.display());
        }
        Ok(())
    })
}

/// The virtual environment with the SDKs, created on first use.
fn venv() -> Result<std::path::PathBuf> {
    let venv = target_dir()?.join("sdk-venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        run_cmd(Command::new("python3").args(["-m", "venv"]).arg(&venv)).context("creating the SDK venv")?;
    }
    run_cmd(Command::new(&python).args(["-m", "pip", "install", "--quiet", "--upgrade"]).args(SDKS))
        .context("installing the official SDKs from PyPI")?;
    Ok(python)
}
