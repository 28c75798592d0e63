//! `POST /v1/chat/completions`: read and admit the request, then answer it through the one pipeline (`answer`):
//! OpenAI-compatible channels get the client's body with the model rewritten (the hot path); Anthropic and
//! Gemini channels get it converted, and the answer converted back.

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use veloera_proto::v1::EndpointKind;

use super::answer::{Asked, answer};
use super::conversation::{Asking, admit};
use super::inbound::Inbound;
use super::request_id::RequestId;
use super::{RelayState, read_body};
use crate::auth;
use crate::error::RelayError;
use crate::providers::openai::ChatRequest;
use crate::usage::CostHint;

pub async fn chat_completions(
    State(state): State<RelayState>,
    inbound: Inbound,
    body: Body,
) -> Result<Response, RelayError> {
    // The request's whole state machine lives in one allocation: the handler future that the router's layers
    // move around before polling it stays a few words instead of kilobytes copied at every layer.
    let key = auth::from_headers(&inbound.headers)?;
    let body = read_body(body, state.max_body_bytes);
    Box::pin(handle(state, inbound.client_ip, inbound.request_id, key, body)).await
}

/// The chat path for a caller presenting `key` (an API key, or the playground's session), with its body.
pub(super) async fn handle(
    state: RelayState,
    client_ip: std::net::IpAddr,
    request_id: RequestId,
    key: auth::PresentedKey,
    body: impl std::future::Future<Output = Result<bytes::Bytes, RelayError>>,
) -> Result<Response, RelayError> {
    let bytes = body.await?;
    let request = ChatRequest::parse(&bytes)?;
    let ip = client_ip.to_string();
    let stream = request.is_stream();
    let asking = Asking {
        key: &key,
        model: &request.model,
        client_ip: &ip,
        endpoint: EndpointKind::ChatCompletions,
        request_id: &request_id,
        stream,
        cost: CostHint::new(bytes.len(), request.max_output()).times(request.choices()),
        body: &bytes,
    };
    let admitted = admit(&state, asking).await?;
    answer(&state, admitted, Asked::openai(&bytes, request)).await
}
