//! The relay's HTTP surface: `/v1/*`, the exact alias `/hf/v1/*`, the playground's `/pg/chat/completions`, the
//! probes `/healthz` and `/readyz`, and the front door for everything else.

mod answer;
mod anthropic;
mod billing;
mod chat;
mod conversation;
mod gemini;
mod inbound;
mod models;
mod multipart;
mod passthrough;
mod playground;
mod probes;
pub mod request_id;
mod sse;
mod translate;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::routing::{MethodRouter, any, get, post};
use inbound::Inbound;

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
    /// Retry budget and paused keys, shared by every request's failover.
    pub failover: Arc<crate::failover::Shared>,
    /// Client for the front door to control's HTTP listener.
    pub frontdoor: reqwest::Client,
    pub control_http_url: Arc<str>,
    pub max_body_bytes: usize,
    /// Rate limits, checked when a request is admitted.
    pub limiter: Arc<crate::limits::Limiter>,
}

pub fn router(state: RelayState) -> Router {
    // Both prefixes are registered flat rather than nested: nesting adds a prefix-stripping service and a
    // path rewrite to every request.
    let mut router = Router::new();
    for prefix in ["/v1", "/hf/v1"] {
        router = router
            .route(&format!("{prefix}/chat/completions"), post(chat::chat_completions))
            .route(&format!("{prefix}/models"), get(models::list))
            // POST is Gemini's `models/{model}:generateContent` (the google-genai SDK uses the `v1` version path).
            .route(
                &format!("{prefix}/models/{{model}}"),
                get(models::retrieve).post(gemini::generate).delete(passthrough::not_implemented),
            )
            .route(&format!("{prefix}/messages"), post(anthropic::messages))
            .route(&format!("{prefix}/messages/count_tokens"), post(anthropic::count_tokens))
            .route(&format!("{prefix}/completions"), pass(&passthrough::COMPLETIONS))
            .route(&format!("{prefix}/embeddings"), pass(&passthrough::EMBEDDINGS))
            .route(&format!("{prefix}/engines/{{model}}/embeddings"), post(engine_embeddings))
            .route(&format!("{prefix}/moderations"), pass(&passthrough::MODERATIONS))
            .route(&format!("{prefix}/images/generations"), pass(&passthrough::IMAGES))
            .route(&format!("{prefix}/audio/speech"), pass(&passthrough::SPEECH))
            .route(&format!("{prefix}/audio/transcriptions"), form(&multipart::TRANSCRIPTIONS))
            .route(&format!("{prefix}/audio/translations"), form(&multipart::TRANSLATIONS))
            .route(&format!("{prefix}/images/edits"), form(&multipart::IMAGE_EDITS))
            .route(&format!("{prefix}/images/variations"), form(&multipart::IMAGE_VARIATIONS))
            .route(&format!("{prefix}/rerank"), pass(&passthrough::RERANK))
            .route(&format!("{prefix}/responses"), pass(&passthrough::RESPONSES))
            .route(&format!("{prefix}/files"), any(passthrough::not_implemented))
            .route(&format!("{prefix}/files/{{*rest}}"), any(passthrough::not_implemented))
            .route(&format!("{prefix}/fine-tunes"), any(passthrough::not_implemented))
            .route(&format!("{prefix}/fine-tunes/{{*rest}}"), any(passthrough::not_implemented))
            .route(&format!("{prefix}/fine_tuning/{{*rest}}"), any(passthrough::not_implemented))
            .route(&format!("{prefix}/{{*rest}}"), any(unknown_api_route));
    }
    for prefix in ["", "/v1", "/hf/v1"] {
        router = router
            .route(&format!("{prefix}/dashboard/billing/subscription"), get(billing::subscription))
            .route(&format!("{prefix}/dashboard/billing/usage"), get(billing::usage));
    }
    router = router
        .route("/pg/chat/completions", post(playground::chat_completions))
        .route("/healthz", get(probes::healthz))
        .route("/readyz", get(probes::readyz))
        // Metrics live on `METRICS_ADDR` only; without this the front door would hand the path to control's UI.
        .route("/metrics", any(unknown_api_route))
        .route("/v1beta/models", get(gemini::list))
        .route("/v1beta/models/{target}", get(gemini::retrieve).post(gemini::generate));
    router.fallback(frontdoor::forward).layer(RequestIdLayer).with_state(state)
}

/// A passed-through OpenAI endpoint (see `passthrough`).
fn pass(endpoint: &'static passthrough::Endpoint) -> MethodRouter<RelayState> {
    post(move |State(state): State<RelayState>, inbound: Inbound, body: Body| async move {
        let ip = inbound.ip_text();
        let incoming = incoming(&inbound, &ip, None);
        passthrough::relay(&state, endpoint, incoming, body).await
    })
}

/// A multipart OpenAI endpoint (see `multipart`).
fn form(form: &'static multipart::Form) -> MethodRouter<RelayState> {
    post(move |State(state): State<RelayState>, inbound: Inbound, body: Body| async move {
        let ip = inbound.ip_text();
        let incoming = incoming(&inbound, &ip, None);
        multipart::relay(&state, form, incoming, body).await
    })
}

/// `POST /v1/engines/{model}/embeddings`: the legacy form naming the model in the path.
async fn engine_embeddings(
    State(state): State<RelayState>,
    inbound: Inbound,
    Path(model): Path<String>,
    body: Body,
) -> Result<axum::response::Response, RelayError> {
    let ip = inbound.ip_text();
    let incoming = incoming(&inbound, &ip, Some(&model));
    passthrough::relay(&state, &passthrough::EMBEDDINGS, incoming, body).await
}

/// A passed-through call's request facts, from the handler's input.
fn incoming<'a>(inbound: &'a Inbound, ip: &'a str, path_model: Option<&'a str>) -> passthrough::Incoming<'a> {
    passthrough::Incoming { headers: &inbound.headers, client_ip: ip, request_id: &inbound.request_id, path_model }
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
