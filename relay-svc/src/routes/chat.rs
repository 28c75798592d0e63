//! `POST /v1/chat/completions`: authorize (from cache when warm), call the candidates (failing over), relay the answer.
//! OpenAI-compatible channels get the client's body with the model rewritten (the hot path); Anthropic and
//! Gemini channels get it converted, and the answer converted back.

use axum::Extension;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue};
use veloera_proto::v1::EndpointKind;

use super::conversation::{Admitted, Asking, admit, converse};
use super::request_id::RequestId;
use super::{RelayState, read_body, sse};
use crate::auth;
use crate::error::RelayError;
use crate::failover::Failover;
use crate::providers::openai::{self, ChatRequest, convert};
use crate::providers::{Format, Target};
use crate::usage::CostHint;
use veloera_proto::v1::Candidate;

pub async fn chat_completions(
    State(state): State<RelayState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, RelayError> {
    // The request's whole state machine lives in one allocation: the handler future that the router's layers
    // move around before polling it stays a few words instead of kilobytes copied at every layer.
    Box::pin(handle(state, peer, request_id, headers, body)).await
}

async fn handle(
    state: RelayState,
    peer: std::net::SocketAddr,
    request_id: RequestId,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, RelayError> {
    let key = auth::from_headers(&headers)?;
    let bytes = read_body(body, state.max_body_bytes).await?;
    let request = ChatRequest::parse(&bytes)?;
    let ip = peer.ip().to_string();
    let stream = request.is_stream();
    let wants_usage = request.client_wants_usage();
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
    // The lean pass-through path applies when no candidate needs the request or the answer written again.
    let lean = |c: &Candidate| {
        Format::of_candidate(c) == Format::OpenAi
            && (!stream || !c.non_stream_only)
            && !c.thinking_to_content
            && !c.force_format
    };
    if admitted.answers.is_some() || !admitted.auth.candidates().iter().all(lean) {
        let converted = convert::parse_request(&bytes)?;
        return converse(&state, admitted, Format::OpenAi, converted, &bytes, wants_usage).await;
    }
    let Admitted { auth, mut meter, .. } = admitted;
    let mut failover = Failover::new(&state.failover, &state.dispatcher, &auth);
    let first = failover.first(&mut meter)?;
    // The parsed request goes to the first attempt; a retry parses the client's body again (rare, and cheaper
    // than copying every request up front).
    let mut parsed = Some(request);
    let build = |t: &Target<'_>| {
        let request = match parsed.take() {
            Some(r) => r,
            None => ChatRequest::parse(&bytes)?,
        };
        openai::chat_call(t, request)
    };
    let (upstream, _) = failover.send(first, &mut meter, build).await?;
    if stream && upstream.is_event_stream() {
        return Ok(sse::relay(upstream, meter, wants_usage));
    }
    let body = meter.check(upstream.body().await)?;
    meter.first_byte();
    let info = openai::reply_info(&body);
    if meter.records_answer() {
        meter.answer_text(&openai::reply_text(&body));
    }
    meter.answered(info.usage.map(Into::into), !info.empty);
    let mut response = Body::from(body).into_response();
    response.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}
