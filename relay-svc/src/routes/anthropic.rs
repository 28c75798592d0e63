//! `POST /v1/messages`: Anthropic's Messages API, answered in Anthropic's format whatever the channel speaks
//! (passed through to Anthropic channels, converted for OpenAI-compatible and Gemini ones).

use axum::Extension;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::response::Response;
use http::HeaderMap;
use veloera_proto::v1::EndpointKind;

use super::conversation::{Asking, admit, converse, error_response};
use super::request_id::RequestId;
use super::{RelayState, read_body};
use crate::auth;
use crate::error::RelayError;
use crate::providers::{Format, anthropic};

pub async fn messages(
    State(state): State<RelayState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let ip = peer.ip().to_string();
    match relay(&state, &ip, &request_id, &headers, body).await {
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
    };
    let admitted = admit(state, asking).await?;
    converse(state, admitted, Format::Anthropic, &request, &bytes, false).await
}
