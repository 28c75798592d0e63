//! The one error type of relay-svc and its single mapping to an OpenAI-shaped HTTP response.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use veloera_proto::v1::DenialReason;

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("request body is larger than the configured limit")]
    BodyTooLarge,
    #[error("no API key was provided: send `Authorization: Bearer sk-...`")]
    MissingKey,
    #[error("{message}")]
    Denied { reason: DenialReason, message: String },
    /// The upstream answered with an error the client can act on (4xx); relayed with its status.
    #[error("{message}")]
    UpstreamRejected { status: StatusCode, message: String, code: Option<String> },
    /// The upstream failed (5xx, unreachable, malformed). Details go to the log, never to the client.
    #[error("upstream failure: {0}")]
    UpstreamFailed(String),
    #[error("the control plane is unavailable: {0}")]
    ControlUnavailable(String),
    #[error("{0}")]
    NotFound(String),
    /// Every upstream able to answer asked us to wait; the client is told how long (`Retry-After`).
    #[error("{message}")]
    RateLimited { retry_after: std::time::Duration, message: String },
    /// The shared rate-limit store is unreachable and `RATE_LIMIT_FAIL_OPEN` is off. Details go to the log.
    #[error("rate-limit store unavailable: {0}")]
    LimitsUnavailable(String),
    /// The prompt, or the answer when answers are checked, holds a blocked word (which one is logged only).
    #[error("{}", if *in_answer { format!("the answer was stopped: it contains blocked words (request id: {request_id})") } else { format!("sensitive words detected (request id: {request_id})") })]
    SensitiveWords { request_id: String, in_answer: bool },
    /// Routes Veloera also leaves unimplemented (files, fine-tuning).
    #[error("API not implemented")]
    NotImplemented,
}

impl RelayError {
    /// The same failure shown to the client with another status (a channel's `status_code_mapping`); the
    /// message stays what the client may read.
    pub fn shown_as(self, status: i32) -> RelayError {
        let Ok(status) = u16::try_from(status).map_err(|_| ()).and_then(|s| StatusCode::from_u16(s).map_err(|_| ()))
        else {
            return self;
        };
        let (_, code) = self.kind();
        RelayError::UpstreamRejected { status, message: self.public_message(), code: Some(code) }
    }

    /// The same error with every text it carries passed through `f` (secrets scrubbed from upstream text).
    pub fn map_text(self, f: impl Fn(String) -> String) -> RelayError {
        match self {
            RelayError::InvalidRequest(t) => RelayError::InvalidRequest(f(t)),
            RelayError::Denied { reason, message } => RelayError::Denied { reason, message: f(message) },
            RelayError::UpstreamRejected { status, message, code } => {
                RelayError::UpstreamRejected { status, message: f(message), code: code.map(&f) }
            }
            RelayError::UpstreamFailed(t) => RelayError::UpstreamFailed(f(t)),
            RelayError::ControlUnavailable(t) => RelayError::ControlUnavailable(f(t)),
            RelayError::NotFound(t) => RelayError::NotFound(f(t)),
            RelayError::RateLimited { retry_after, message } => {
                RelayError::RateLimited { retry_after, message: f(message) }
            }
            RelayError::LimitsUnavailable(t) => RelayError::LimitsUnavailable(f(t)),
            other @ (RelayError::BodyTooLarge
            | RelayError::MissingKey
            | RelayError::SensitiveWords { .. }
            | RelayError::NotImplemented) => other,
        }
    }

    /// The error code an upstream's error body named, when this is its rejection.
    pub fn upstream_code(&self) -> Option<&str> {
        match self {
            RelayError::UpstreamRejected { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// The HTTP status as a number, for usage records.
    pub fn status_code(&self) -> u16 {
        self.status().as_u16()
    }

    pub fn status(&self) -> StatusCode {
        match self {
            RelayError::InvalidRequest(_) | RelayError::SensitiveWords { .. } => StatusCode::BAD_REQUEST,
            RelayError::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            RelayError::MissingKey => StatusCode::UNAUTHORIZED,
            RelayError::Denied { reason, .. } => match reason {
                DenialReason::UnknownToken | DenialReason::Unspecified => StatusCode::UNAUTHORIZED,
                DenialReason::TokenExhausted | DenialReason::UserExhausted => StatusCode::TOO_MANY_REQUESTS,
                DenialReason::NoChannel => StatusCode::SERVICE_UNAVAILABLE,
                DenialReason::TokenDisabled
                | DenialReason::TokenExpired
                | DenialReason::UserDisabled
                | DenialReason::ModelNotAllowed
                | DenialReason::IpNotAllowed
                | DenialReason::ChannelPinForbidden
                | DenialReason::ModelUnpriced
                | DenialReason::TokenQuotaNotEnough
                | DenialReason::UserQuotaNotEnough => StatusCode::FORBIDDEN,
            },
            RelayError::UpstreamRejected { status, .. } => *status,
            RelayError::UpstreamFailed(_) => StatusCode::BAD_GATEWAY,
            RelayError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            RelayError::ControlUnavailable(_) | RelayError::LimitsUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            RelayError::NotFound(_) => StatusCode::NOT_FOUND,
            RelayError::NotImplemented => StatusCode::NOT_IMPLEMENTED,
        }
    }

    /// `(type, code)` of the OpenAI error object.
    fn kind(&self) -> (&'static str, String) {
        match self {
            RelayError::InvalidRequest(_) => ("invalid_request_error", "invalid_request".into()),
            RelayError::BodyTooLarge => ("invalid_request_error", "request_too_large".into()),
            RelayError::MissingKey => ("invalid_request_error", "invalid_api_key".into()),
            RelayError::Denied { reason, .. } => {
                let code = match reason {
                    DenialReason::UnknownToken | DenialReason::Unspecified => "invalid_api_key",
                    DenialReason::TokenDisabled => "token_disabled",
                    DenialReason::TokenExpired => "token_expired",
                    DenialReason::TokenExhausted => "insufficient_quota",
                    DenialReason::UserDisabled => "user_disabled",
                    DenialReason::UserExhausted => "insufficient_user_quota",
                    DenialReason::ModelNotAllowed => "model_not_allowed",
                    DenialReason::IpNotAllowed => "ip_not_allowed",
                    DenialReason::NoChannel => "model_not_found",
                    DenialReason::ChannelPinForbidden => "channel_pin_forbidden",
                    DenialReason::ModelUnpriced => "model_price_error",
                    // Veloera's codes for a reservation the balance cannot cover.
                    DenialReason::TokenQuotaNotEnough => "pre_consume_token_quota_failed",
                    DenialReason::UserQuotaNotEnough => "insufficient_user_quota",
                };
                ("veloera_error", code.into())
            }
            RelayError::UpstreamRejected { code, .. } => {
                ("upstream_error", code.clone().unwrap_or_else(|| "upstream_error".into()))
            }
            RelayError::UpstreamFailed(_) => ("upstream_error", "bad_upstream_response".into()),
            RelayError::RateLimited { .. } => ("rate_limit_error", "rate_limit_exceeded".into()),
            RelayError::ControlUnavailable(_) => ("veloera_error", "control_unavailable".into()),
            RelayError::LimitsUnavailable(_) => ("veloera_error", "rate_limit_unavailable".into()),
            RelayError::NotFound(_) => ("invalid_request_error", "not_found".into()),
            RelayError::SensitiveWords { .. } => ("veloera_error", "sensitive_words_detected".into()),
            RelayError::NotImplemented => ("invalid_request_error", "not_implemented".into()),
        }
    }

    /// What the client may read: upstream hosts, keys and internal details stay in the server log.
    pub fn public_message(&self) -> String {
        match self {
            RelayError::UpstreamFailed(_) => "the upstream provider failed to answer; try again later".into(),
            RelayError::ControlUnavailable(_) => {
                "the gateway cannot verify API keys right now; try again shortly".into()
            }
            RelayError::LimitsUnavailable(_) => {
                "the gateway cannot check rate limits right now, so the request is refused; try again shortly".into()
            }
            other => other.to_string(),
        }
    }

    /// The JSON error object, also used as the final SSE event when a stream fails midway.
    pub fn body(&self) -> serde_json::Value {
        let (kind, code) = self.kind();
        json!({ "error": { "message": self.public_message(), "type": kind, "param": null, "code": code } })
    }
}

impl RelayError {
    /// Seconds the client should wait before trying again, when we know.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            RelayError::RateLimited { retry_after, .. } => Some(retry_after.as_secs_f64().ceil().max(1.0) as u64),
            RelayError::LimitsUnavailable(_) => Some(1),
            _ => None,
        }
    }

    /// Our error as a response with `body` (in the client's format): status, and `Retry-After` when known.
    pub fn respond_with(&self, body: serde_json::Value) -> Response {
        let status = self.status();
        let mut response = (status, Json(body)).into_response();
        if status.is_server_error() {
            // Logged once, by the request layer (`routes::request_id`), in the request's span.
            response.extensions_mut().insert(Logged(self.to_string()));
        }
        if let Some(secs) = self.retry_after_secs() {
            response.headers_mut().insert(http::header::RETRY_AFTER, http::HeaderValue::from(secs));
        }
        response
    }
}

/// The log text of a failed request's error, riding on its response to the one layer that logs it.
#[derive(Debug, Clone)]
pub struct Logged(pub String);

impl IntoResponse for RelayError {
    fn into_response(self) -> Response {
        self.respond_with(self.body())
    }
}
