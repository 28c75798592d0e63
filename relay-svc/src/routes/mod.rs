//! The relay's HTTP surface: `/v1/*`, the exact alias `/hf/v1/*`, and the front door for everything else.

mod chat;
mod models;
pub mod request_id;
mod sse;

use std::sync::Arc;

use axum::Router;
use axum::routing::{any, get, post};

use crate::control::ControlLink;
use crate::control::outbox::Outbox;
use crate::dispatch::Dispatcher;
use crate::error::RelayError;
use crate::frontdoor;
use request_id::RequestIdLayer;

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

pub fn router(state: RelayState) -> Router {
    // Both prefixes are registered flat rather than nested: nesting adds a prefix-stripping service and a
    // path rewrite to every request.
    let mut router = Router::new();
    for prefix in ["/v1", "/hf/v1"] {
        router = router
            .route(&format!("{prefix}/chat/completions"), post(chat::chat_completions))
            .route(&format!("{prefix}/models"), get(models::list))
            .route(&format!("{prefix}/models/{{model}}"), get(models::retrieve))
            .route(&format!("{prefix}/{{*rest}}"), any(unknown_api_route));
    }
    router.fallback(frontdoor::forward).layer(RequestIdLayer).with_state(state)
}

async fn unknown_api_route() -> RelayError {
    RelayError::NotFound("unknown API route".into())
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
