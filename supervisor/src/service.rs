//! One service process: started in its own process group, watched, and stopped with a bound.

use std::path::Path;
use std::process::ExitStatus;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

use crate::error::SupervisorError;

/// A running service.
pub struct Service {
    name: &'static str,
    child: Child,
}

/// How a service ended when it was asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// It exited on its own, within the bound, with this status.
    Exited(ExitStatus),
    /// It did not exit within the bound and was killed.
    Killed,
}

impl Stopped {
    /// Exited with status 0.
    pub fn cleanly(&self) -> bool {
        matches!(self, Stopped::Exited(s) if s.success())
    }
}

impl Service {
    /// Starts `program` with the launcher's environment plus `env`, output going where the launcher's goes.
    ///
    /// The child gets a process group of its own, so a terminal's Ctrl-C reaches only the launcher, which stops
    /// the services in order; and it is killed should the launcher itself die, so no service outlives it.
    pub fn spawn(name: &'static str, program: &Path, env: &[(String, String)]) -> Result<Self, SupervisorError> {
        let mut command = Command::new(program);
        command.envs(env.iter().map(|(k, v)| (k, v))).process_group(0).kill_on_drop(true);
        #[allow(unsafe_code, reason = "pre_exec is unsafe by signature; the SAFETY note says why this use is sound")]
        // SAFETY: the closure runs in the forked child before exec and only makes one async-signal-safe system
        // call (prctl). The death signal follows the thread that forked; the launcher forks from its only thread.
        unsafe {
            command.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)?;
                Ok(())
            });
        }
        let child = command
            .spawn()
            .map_err(|e| SupervisorError::Spawn { service: name, reason: format!("{}: {e}", program.display()) })?;
        tracing::info!(service = name, pid = child.id(), "started");
        Ok(Service { name, child })
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Resolves when the service exits (again at once, with the same status, once it has).
    pub async fn exited(&mut self) -> Result<ExitStatus, SupervisorError> {
        self.child.wait().await.map_err(|e| SupervisorError::System(format!("waiting for {}: {e}", self.name)))
    }

    /// Sends SIGTERM and waits up to `bound` for the service to exit; kills it after that.
    pub async fn stop(mut self, bound: Duration) -> Result<Stopped, SupervisorError> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Ok(Stopped::Exited(status));
        }
        if let Some(pid) = self.child.id() {
            tracing::info!(service = self.name, "stopping");
            // It may exit between try_wait and here; then there is nobody to signal and waiting answers at once.
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
        }
        match tokio::time::timeout(bound, self.exited()).await {
            Ok(status) => Ok(Stopped::Exited(status?)),
            Err(_) => {
                tracing::error!(service = self.name, bound_secs = bound.as_secs_f32(), "did not stop in time; killed");
                self.child.kill().await.map_err(|e| SupervisorError::System(format!("killing {}: {e}", self.name)))?;
                Ok(Stopped::Killed)
            }
        }
    }
}
