//! The relay's HTTP surface: `/v1/*`, the exact alias `/hf/v1/*`, and the front door for everything else.

mod chat;
mod models;
mod sse;

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use http::HeaderValue;

use crate::control::ControlLink;
use crate::control::outbox::Outbox;
use crate::dispatch::Dispatcher;
use crate::error::RelayError;
use crate::frontdoor;

/// Cheap-clone handles every handler needs.
#[derive(Clone)]
pub struct RelayState {
    pub link: Arc<ControlLink>,
    pub outbox: Outbox,
    pub dispatcher: Dispatcher,
    /// Client for the front door to control's HTTP listener.
    pub frontdoor: reqwest::Client,
    pub control_http_url: Arc<str>,
    pub max_body_bytes: usize,
}

/// Request id, also returned as `X-Veloera-Request-Id` and used as the usage record's idempotency key.
#[derive(Clone)]
pub struct RequestId(pub Arc<str>);

pub fn router(state: RelayState) -> Router {
    let v1 = Router::new()
        .route("/chat/completions", post(chat::chat_completions))
        .route("/models", get(models::list))
        .route("/models/{model}", get(models::retrieve))
        .fallback(|| async { RelayError::NotFound("unknown API route".into()) });
    Router::new()
        .nest("/v1", v1.clone())
        .nest("/hf/v1", v1)
        .fallback(frontdoor::forward)
        .layer(middleware::from_fn(request_id))
        .with_state(state)
}

/// 32 hex characters: milliseconds since the epoch, then randomness. Time-ordered ids land at the end of
/// control's idempotency index instead of at random pages, which keeps settlement cheap at high rates.
fn new_request_id() -> Arc<str> {
    let millis = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    let random = rand::random::<u128>() & ((1u128 << 84) - 1);
    format!("{:011x}{:021x}", millis & ((1u128 << 44) - 1), random).into()
}

async fn request_id(mut request: Request, next: Next) -> Response {
    let id = new_request_id();
    request.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(request).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-veloera-request-id", v);
    }
    response
}

/// Reads a request body up to the configured limit.
pub(crate) async fn read_body(body: axum::body::Body, limit: usize) -> Result<bytes::Bytes, RelayError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        if std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>()) {
            RelayError::BodyTooLarge
        } else {
            RelayError::InvalidRequest(format!("cannot read the request body: {e}"))
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn request_ids_are_32_hex_characters_and_time_ordered() {
        let a = super::new_request_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = super::new_request_id();
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(a[..11] < b[..11], "{a} then {b}");
        assert_ne!(a, b);
    }
}
