//! `POST /v1/chat/completions`: authorize (from cache when warm), call the first candidate, relay the answer.
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
use crate::providers::Format;
use crate::providers::openai::{self, ChatRequest, convert};

pub async fn chat_completions(
    State(state): State<RelayState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    Extension(request_id): Extension<RequestId>,
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
    };
    let admitted = admit(&state, asking).await?;
    let candidate = admitted.candidate();
    // The lean pass-through path applies only when nothing needs the answer decoded and written again.
    let rewrite = (stream && candidate.non_stream_only) || candidate.thinking_to_content || candidate.force_format;
    if Format::of_candidate(candidate) != Format::OpenAi || rewrite {
        let converted = convert::parse_request(&bytes)?;
        return converse(&state, admitted, Format::OpenAi, converted, &bytes, wants_usage).await;
    }
    let Admitted { auth, mut meter } = admitted;
    let candidate = &auth.candidates()[0];
    let call = openai::chat_call(candidate, request)?;
    let upstream = meter.check(state.dispatcher.send(call).await)?;
    if stream && upstream.is_event_stream() {
        return Ok(sse::relay(upstream, meter, wants_usage));
    }
    let body = meter.check(upstream.body().await)?;
    meter.first_byte();
    if let Some(usage) = openai::usage_from_body(&body) {
        meter.usage(usage);
    }
    meter.succeeded();
    let mut response = Body::from(body).into_response();
    response.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}
