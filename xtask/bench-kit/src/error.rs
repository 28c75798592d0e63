//! Everything that can stop a bench-kit binary before it serves: bad flags or an unusable address.
//! Once serving, per-request failures become HTTP responses and never reach this type.

use std::io;
use std::net::SocketAddr;

/// Why a binary could not start; `main` prints it with the usage text and exits non-zero.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `-h` / `--help` was given; not a failure, but it also means "do not start".
    #[error("help requested")]
    Help,
    #[error("unknown flag {0}")]
    UnknownFlag(String),
    #[error("flag {0} needs a value")]
    MissingValue(String),
    #[error("flag {0} is required")]
    MissingFlag(&'static str),
    #[error("invalid value {value:?} for {flag}: {reason}")]
    InvalidValue { flag: String, value: String, reason: String },
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] io::Error),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: io::Error },
}

impl Error {
    /// Builds [`Error::InvalidValue`] from any displayable parse failure.
    pub fn invalid(flag: &str, value: &str, reason: impl std::fmt::Display) -> Self {
        Error::InvalidValue { flag: flag.to_owned(), value: value.to_owned(), reason: reason.to_string() }
    }
}
