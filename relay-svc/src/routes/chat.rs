//! `POST /v1/chat/completions`: authorize (from cache when warm), call the first candidate, relay the answer.

use axum::Extension;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue};
use veloera_proto::v1::{DenialReason, EndpointKind};

use super::request_id::RequestId;
use super::{RelayState, read_body, sse};
use crate::auth;
use crate::control::Ask;
use crate::error::RelayError;
use crate::providers::openai::{self, ChatRequest};
use crate::usage::{Metering, RequestFacts};

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
    let ask = Ask {
        digest: key.digest,
        model: &request.model,
        client_ip: &ip,
        endpoint: EndpointKind::ChatCompletions,
        pinned_channel: key.pinned_channel,
    };
    let auth = state.link.authorize(&ask).await?;
    let (Some(candidate), Some(pricing)) = (auth.candidates().first(), auth.pricing()) else {
        return Err(RelayError::Denied {
            reason: DenialReason::NoChannel,
            message: format!("no available channel for model {}", request.model),
        });
    };
    let stream = request.is_stream();
    let wants_usage = request.client_wants_usage();
    let facts = RequestFacts {
        request_id: request_id.as_str(),
        model: &request.model,
        client_ip: &ip,
        endpoint: EndpointKind::ChatCompletions,
        stream,
    };
    let mut meter = Metering::start(state.outbox.clone(), auth.caller.clone(), *pricing, facts);
    meter.use_candidate(candidate);
    let call = openai::chat_call(candidate, request)?;
    let upstream = match state.dispatcher.send(call).await {
        Ok(u) => u,
        Err(e) => {
            meter.failed(e.status_code(), &e.to_string());
            return Err(e);
        }
    };
    if stream && upstream.is_event_stream() {
        return Ok(sse::relay(upstream, meter, wants_usage));
    }
    let body = match upstream.body().await {
        Ok(b) => b,
        Err(e) => {
            meter.failed(e.status_code(), &e.to_string());
            return Err(e);
        }
    };
    meter.first_byte();
    if let Some(usage) = openai::usage_from_body(&body) {
        meter.usage(usage);
    }
    meter.succeeded();
    let mut response = Body::from(body).into_response();
    response.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}
