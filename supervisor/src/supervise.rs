//! The lifecycle of the container: control first, the relay once control is ready; on SIGTERM (or SIGINT) the
//! relay stops first, since it finishes its requests and drains their usage to control, then control. When a
//! service dies on its own, the other is stopped the same way and the launcher fails, so the platform restarts
//! the container rather than leaving half a gateway running.

use std::process::ExitStatus;

use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::config::Config;
use crate::data_dir::{self, Persistence};
use crate::error::SupervisorError;
use crate::probe;
use crate::service::Service;

/// The launcher's exit code: 0 after an ordered stop on request, 1 otherwise.
pub type ExitCode = i32;

/// Why the services are being stopped.
enum Reason {
    Requested,
    Died(&'static str, ExitStatus),
}

/// Runs both services until a stop is requested or one of them dies.
pub async fn run(config: &Config) -> Result<ExitCode, SupervisorError> {
    // Installed before anything starts, so a SIGTERM during startup is not lost.
    let mut stop = StopSignals::install()?;
    prepare_data_dir(config)?;

    let mut control = Service::spawn("control-svc", &config.program("control-svc"), &config.control_env())?;
    let url = config.control_ready_url();
    let (relay_bound, control_bound) = config.stop_bounds();
    tokio::select! {
        ready = probe::wait_ready(&url, config.startup_timeout) => {
            if let Err(e) = ready {
                tracing::error!(error = %e, "control-svc did not become ready");
                control.stop(control_bound).await?;
                return Ok(1);
            }
        }
        status = control.exited() => {
            tracing::error!(status = %status?, "control-svc exited before it was ready");
            return Ok(1);
        }
        _ = stop.recv() => {
            tracing::info!("stop requested during startup");
            let stopped = control.stop(control_bound).await?;
            return Ok(if stopped.cleanly() { 0 } else { 1 });
        }
    }
    tracing::info!("control-svc is ready");

    let mut relay = match Service::spawn("relay-svc", &config.program("relay-svc"), &config.relay_env()) {
        Ok(relay) => relay,
        Err(e) => {
            control.stop(control_bound).await?;
            return Err(e);
        }
    };
    tracing::info!(addr = %config.relay_addr, "Veloera is starting: admin UI, /api, /v1 and /hf/v1 on one port");

    let reason = tokio::select! {
        _ = stop.recv() => Reason::Requested,
        status = relay.exited() => Reason::Died(relay.name(), status?),
        status = control.exited() => Reason::Died(control.name(), status?),
    };
    if let Reason::Died(name, status) = &reason {
        tracing::error!(service = *name, %status, "a service died; stopping the other");
    }
    let relay_stopped = relay.stop(relay_bound).await?;
    let control_stopped = control.stop(control_bound).await?;
    let orderly = relay_stopped.cleanly() && control_stopped.cleanly();
    match reason {
        Reason::Requested if orderly => {
            tracing::info!("stopped");
            Ok(0)
        }
        Reason::Requested => {
            tracing::error!(relay = ?relay_stopped, control = ?control_stopped, "a service did not stop cleanly");
            Ok(1)
        }
        Reason::Died(..) => Ok(1),
    }
}

/// Creates the data directory and warns, loudly, when it will not survive a restart.
fn prepare_data_dir(config: &Config) -> Result<(), SupervisorError> {
    let dir = &config.data_dir.path;
    std::fs::create_dir_all(dir)
        .map_err(|e| SupervisorError::System(format!("cannot create the data directory {}: {e}", dir.display())))?;
    let canonical = dir.canonicalize().unwrap_or_else(|_| dir.clone());
    let persistence = match std::fs::read_to_string("/proc/self/mountinfo") {
        Ok(table) => data_dir::persistence(&canonical, &table),
        Err(_) => Persistence::Unknown,
    };
    tracing::info!(dir = %dir.display(), origin = ?config.data_dir.origin, ?persistence, "data directory");
    if let Some(warning) = data_dir::warning(dir, &persistence, config.on_space) {
        let rule = "!".repeat(100);
        eprintln!("{rule}\n{warning}\n{rule}");
        tracing::warn!("{warning}");
    }
    Ok(())
}

/// SIGTERM (what Docker and Spaces send) and SIGINT (Ctrl-C).
struct StopSignals {
    term: Signal,
    int: Signal,
}

impl StopSignals {
    fn install() -> Result<Self, SupervisorError> {
        let install = |kind: SignalKind| {
            signal(kind).map_err(|e| SupervisorError::System(format!("cannot install a signal handler: {e}")))
        };
        Ok(StopSignals { term: install(SignalKind::terminate())?, int: install(SignalKind::interrupt())? })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}
