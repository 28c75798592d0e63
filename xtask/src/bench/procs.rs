//! The processes a benchmark run starts: each is tracked by PID and stopped (SIGTERM, then SIGKILL) when the
//! run ends, however it ends. Also reads a process's RSS and CPU time from /proc.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

pub struct Proc {
    pub name: &'static str,
    child: Child,
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory in KiB.
    pub fn rss_kib(&self) -> u64 {
        rss_of(self.pid())
    }

    /// User + system CPU time consumed so far.
    pub fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        // Fields after the `(comm)`; utime and stime are the 14th and 15th fields overall.
        let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        let total = ticks(11) + ticks(12);
        // Linux reports CPU time in clock ticks of 1/100 s (USER_HZ) on every mainstream architecture.
        Duration::from_millis(total * 10)
    }

    fn stop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let _ = Command::new("kill").args(["-TERM", &self.pid().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("{} did not stop within 10 s of SIGTERM; killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts a bench-kit binary that prints `listening on ADDR` and returns it with that address.
pub fn spawn_listening(name: &'static str, bin: &Path, args: &[String]) -> Result<(Proc, String)> {
    let mut child = Command::new(bin)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).context("reading the listen address")?;
    let addr = line.trim().strip_prefix("listening on ").map(str::to_string);
    let proc = Proc { name, child };
    match addr {
        Some(a) => Ok((proc, a)),
        None => bail!("{name} printed {line:?} instead of its address"),
    }
}

/// Starts a service configured by environment variables, its output going to `log`.
pub fn spawn_service(name: &'static str, bin: &Path, env: &[(&str, String)], log: &Path) -> Result<Proc> {
    let mut cmd = Command::new(bin);
    cmd.env("RUST_LOG", "warn");
    Proc::spawn_command(name, cmd, env, log)
}

impl Proc {
    /// Spawns `cmd` with extra environment, stdout and stderr to `log`.
    pub fn spawn_command(name: &'static str, mut cmd: Command, env: &[(&str, String)], log: &Path) -> Result<Proc> {
        let log = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        cmd.stdout(log.try_clone()?).stderr(log);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().with_context(|| format!("starting {name}"))?;
        Ok(Proc { name, child })
    }
}

/// Resident memory of process `pid` in KiB (0 when it is gone).
pub fn rss_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// A port that was free a moment ago (services take addresses from the environment, not listeners).
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The environment of a control + relay pair on fresh ports, sharing `dir/data`: (variables, relay port).
pub fn service_env(dir: &Path) -> Result<(Vec<(&'static str, String)>, u16)> {
    let (http, grpc, port) = (free_port()?, free_port()?, free_port()?);
    let env = vec![
        ("DATA_DIR", dir.join("data").display().to_string()),
        ("CONTROL_HTTP_ADDR", format!("127.0.0.1:{http}")),
        ("CONTROL_GRPC_ADDR", format!("127.0.0.1:{grpc}")),
        ("CONTROL_HTTP_URL", format!("http://127.0.0.1:{http}")),
        ("CONTROL_GRPC_URL", format!("http://127.0.0.1:{grpc}")),
        ("RELAY_HOST", "127.0.0.1".to_string()),
        ("PORT", port.to_string()),
    ];
    Ok((env, port))
}
