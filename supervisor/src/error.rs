//! The one error type of the supervisor.

#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    /// A variable of the environment has a value we cannot use.
    #[error("{0}")]
    Config(String),
    /// A service could not be started.
    #[error("cannot start {service}: {reason}")]
    Spawn { service: &'static str, reason: String },
    /// Signals, waiting for a child, or the data directory failed at the operating-system level.
    #[error("{0}")]
    System(String),
}
