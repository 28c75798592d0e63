//! `POST /v1/messages`: Anthropic's Messages API, answered in Anthropic's format whatever the channel speaks
//! (passed through to Anthropic channels, converted for OpenAI-compatible and Gemini ones).

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use serde_json::{Value, json};
use veloera_proto::v1::EndpointKind;

use super::answer::{Asked, answer};
use super::conversation::{Asking, admit, error_response};
use super::inbound::Inbound;
use super::request_id::RequestId;
use super::{RelayState, read_body};
use crate::auth;
use crate::control::Ask;
use crate::error::RelayError;
use crate::providers::{Format, anthropic};
use crate::tokenizer;
use crate::usage::CostHint;

pub async fn messages(State(state): State<RelayState>, inbound: Inbound, body: Body) -> Response {
    let ip = inbound.ip_text();
    match relay(&state, &ip, &inbound.request_id, &inbound.headers, body).await {
        Ok(r) => r,
        Err(e) => error_response(Format::Anthropic, e),
    }
}

async fn relay(
    state: &RelayState,
    ip: &str,
    request_id: &RequestId,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, RelayError> {
    let key = auth::from_any(headers, None)?;
    let bytes = read_body(body, state.max_body_bytes).await?;
    let request = anthropic::parse_request(&bytes)?;
    let asking = Asking {
        key: &key,
        model: &request.model,
        client_ip: ip,
        endpoint: EndpointKind::Messages,
        request_id,
        stream: request.stream,
        cost: CostHint::new(bytes.len(), request.max_tokens),
        body: &bytes,
    };
    let admitted = admit(state, asking).await?;
    answer(state, admitted, Asked::shared(Format::Anthropic, &bytes, request)).await
}

/// `POST /v1/messages/count_tokens`: the prompt's size, counted here with a real tokenizer (no channel is
/// called and nothing is billed, as in Veloera). The key must be valid.
pub async fn count_tokens(State(state): State<RelayState>, inbound: Inbound, body: Body) -> Response {
    match count(&state, &inbound, body).await {
        Ok(n) => Json(json!({ "input_tokens": n })).into_response(),
        Err(e) => error_response(Format::Anthropic, e),
    }
}

async fn count(state: &RelayState, inbound: &Inbound, body: Body) -> Result<i64, RelayError> {
    let key = auth::from_any(&inbound.headers, None)?;
    let ip = inbound.ip_text();
    let ask = Ask {
        digest: key.digest,
        session: None,
        model: "",
        client_ip: &ip,
        endpoint: EndpointKind::Messages,
        pinned_channel: None,
        request_id: Some(inbound.request_id.as_str()),
    };
    state.link.authorize(&ask).await?;
    let bytes = read_body(body, state.max_body_bytes).await?;
    let mut fields: serde_json::Map<String, Value> = serde_json::from_slice(&bytes)
        .map_err(|e| RelayError::InvalidRequest(format!("invalid JSON body (expected an object): {e}")))?;
    // count_tokens takes a Messages body without `max_tokens`; the parser wants one.
    fields.entry("max_tokens").or_insert(json!(1));
    let request = anthropic::parse_request(&serde_json::to_vec(&fields).unwrap_or_default())?;
    Ok(tokenizer::count_request(&request))
}
