//! The one error type of control-svc, mapped once to an HTTP status (admin REST) and a gRPC code.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use veloera_admin_types::Envelope;

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("{0}")]
    BadRequest(String),
    #[error("not signed in, or the session has expired")]
    Unauthenticated,
    /// A sign-in with a wrong username or password (which of the two is not said).
    #[error("wrong username or password")]
    BadCredentials,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// Too many attempts in a short time (one-time codes sent to the same address).
    #[error("{0}")]
    RateLimited(String),
    /// A service we called (an OAuth provider, the mail server) failed. `public` is shown to the caller, `detail`
    /// only logged.
    #[error("{public}: {detail}")]
    Upstream { public: String, detail: String },
    /// The database failed; the driver's error is kept as the source (only logged).
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The database failed while doing what `doing` says (another database than ours: an import's source).
    #[error("{doing}: {source}")]
    DatabaseWhile { doing: String, source: sqlx::Error },
    #[error("internal error: {0}")]
    Internal(String),
}

impl ControlError {
    /// The single mapping table: HTTP status for admin REST, gRPC code for relays.
    fn codes(&self) -> (StatusCode, tonic::Code) {
        match self {
            ControlError::BadRequest(_) => (StatusCode::BAD_REQUEST, tonic::Code::InvalidArgument),
            ControlError::Unauthenticated | ControlError::BadCredentials => {
                (StatusCode::UNAUTHORIZED, tonic::Code::Unauthenticated)
            }
            ControlError::Forbidden(_) => (StatusCode::FORBIDDEN, tonic::Code::PermissionDenied),
            ControlError::NotFound(_) => (StatusCode::NOT_FOUND, tonic::Code::NotFound),
            ControlError::Conflict(_) => (StatusCode::CONFLICT, tonic::Code::AlreadyExists),
            ControlError::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, tonic::Code::ResourceExhausted),
            ControlError::Upstream { .. } => (StatusCode::BAD_GATEWAY, tonic::Code::Unavailable),
            ControlError::Database(_) | ControlError::DatabaseWhile { .. } | ControlError::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, tonic::Code::Internal)
            }
        }
    }

    /// What the caller may see: server-side details stay in the log.
    fn public_message(&self) -> String {
        match self {
            ControlError::Database(_) | ControlError::DatabaseWhile { .. } | ControlError::Internal(_) => {
                "internal server error".to_string()
            }
            ControlError::Upstream { public, .. } => public.clone(),
            other => other.to_string(),
        }
    }
}

impl ControlError {
    /// A unique index refused the write (two writers raced past a check); the driver's message names the index
    /// or column.
    pub fn unique_violation(&self) -> Option<String> {
        let ControlError::Database(sqlx::Error::Database(e)) = self else { return None };
        // SQLite "UNIQUE constraint failed", PostgreSQL "duplicate key value violates unique constraint", MySQL
        // "Duplicate entry": through `sqlx::Any` the kind is not always set, so the message decides too.
        let message = e.message().to_string();
        let lower = message.to_ascii_lowercase();
        (e.is_unique_violation() || ["unique", "duplicate"].iter().any(|w| lower.contains(w))).then_some(message)
    }
}

/// Why control-svc could not start. Shown to the operator as is.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// A setting is missing or malformed (the message names the environment variable).
    #[error("{0}")]
    Config(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: std::net::SocketAddr, source: std::io::Error },
    #[error("cannot create {}: {source}", path.display())]
    DataDir { path: std::path::PathBuf, source: std::io::Error },
    #[error("cannot connect to the {backend} database: {source}")]
    Connect { backend: crate::db::Backend, source: sqlx::Error },
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Preparing the state (secrets, snapshots, the root account) failed.
    #[error("{0}")]
    Control(#[from] ControlError),
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        let (status, _) = self.codes();
        if status.is_server_error() {
            tracing::error!(error = %self, "admin request failed");
        }
        let body: Envelope<()> = Envelope { success: false, message: self.public_message(), data: None };
        (status, Json(body)).into_response()
    }
}

impl From<ControlError> for tonic::Status {
    fn from(e: ControlError) -> Self {
        let (_, code) = e.codes();
        if code == tonic::Code::Internal {
            tracing::error!(error = %e, "grpc request failed");
        }
        tonic::Status::new(code, e.public_message())
    }
}
