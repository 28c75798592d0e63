//! What both services' `main.rs` do the same way before and after serving: the log subscriber (text, or one
//! JSON object a line for log collectors with `LOG_FORMAT=json`; filtered by `RUST_LOG`, default `info`) and
//! the shutdown signal (Ctrl-C or SIGTERM).

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    #[default]
    Text,
    /// One JSON object a line, with the current span's fields (request id, model, channel) on every event.
    Json,
}

/// A start-up setting that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("LOG_FORMAT: {0:?} is neither `text` nor `json`")]
    LogFormat(String),
}

impl LogFormat {
    /// `LOG_FORMAT` as given (unset or empty: text).
    pub fn parse(value: Option<&str>) -> Result<LogFormat, StartupError> {
        match value.map(str::trim).unwrap_or_default().to_ascii_lowercase().as_str() {
            "" | "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(StartupError::LogFormat(value.unwrap_or_default().to_string())),
        }
    }

    /// `LOG_FORMAT` from the environment: read here, before either service's configuration, so that the
    /// configuration's own errors are logged in the chosen format.
    #[allow(clippy::disallowed_methods, reason = "the one start-up setting read before either service's Config")]
    pub fn from_env() -> Result<LogFormat, StartupError> {
        LogFormat::parse(std::env::var("LOG_FORMAT").ok().as_deref())
    }
}

/// How a service that cannot go on exits: 2 when its configuration is unusable, 1 when it fails otherwise
/// (the container supervisor and platforms tell the two apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Config = 2,
    Failed = 1,
}

/// The value of `result`, or: logs `what` with the error through the log subscriber (so a JSON log collector
/// receives it like every other line) and exits with `exit`'s code.
pub fn or_exit<T, E: std::fmt::Display>(result: Result<T, E>, exit: Exit, what: &str) -> T {
    match result {
        Ok(value) => value,
        Err(e) => {
            tracing::error!(error = %e, "{what}");
            std::process::exit(exit as i32)
        }
    }
}

/// `LOG_FORMAT`, or (before any subscriber exists to log through) the reason on stderr and exit code 2.
#[allow(clippy::print_stderr, reason = "nothing can log before the log format is known")]
pub fn log_format_or_exit() -> LogFormat {
    LogFormat::from_env().unwrap_or_else(|e| {
        eprintln!("configuration error: {e}");
        std::process::exit(Exit::Config as i32)
    })
}

/// Installs the process's log subscriber.
pub fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(false).init(),
    }
}

/// Resolves at Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_format_is_text_unless_json_is_asked_for_and_anything_else_is_refused() {
        assert_eq!(LogFormat::parse(None).ok(), Some(LogFormat::Text));
        assert_eq!(LogFormat::parse(Some("")).ok(), Some(LogFormat::Text));
        assert_eq!(LogFormat::parse(Some("JSON")).ok(), Some(LogFormat::Json));
        let refused = LogFormat::parse(Some("yaml")).map_err(|e| e.to_string());
        assert_eq!(refused, Err("LOG_FORMAT: \"yaml\" is neither `text` nor `json`".to_string()));
    }
}
