//! `GET /v1/models` and `/v1/models/{model}`: the models this token may use.

use axum::Json;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use serde_json::{Value, json};
use veloera_proto::v1::EndpointKind;

use super::RelayState;
use crate::auth;
use crate::control::{Ask, Authorized};
use crate::error::RelayError;

async fn caller(state: &RelayState, headers: &HeaderMap, peer: std::net::SocketAddr) -> Result<Authorized, RelayError> {
    let key = auth::from_headers(headers)?;
    let ip = peer.ip().to_string();
    let ask = Ask {
        digest: key.digest,
        session: None,
        model: "",
        client_ip: &ip,
        endpoint: EndpointKind::Models,
        pinned_channel: None,
        request_id: None,
    };
    state.link.authorize(&ask).await
}

fn model_object(id: &str) -> Value {
    json!({ "id": id, "object": "model", "created": 1_626_777_600, "owned_by": "veloera" })
}

/// `GET /v1/models`; a Gemini client (its key in `x-goog-api-key` or `?key=`) gets Gemini's list shape.
pub async fn list(
    state: State<RelayState>,
    peer: ConnectInfo<std::net::SocketAddr>,
    query: Query<super::gemini::KeyQuery>,
    headers: HeaderMap,
) -> Response {
    if headers.contains_key("x-goog-api-key") || query.key.is_some() {
        return super::gemini::list(state, peer, query, headers).await;
    }
    openai_list(&state, peer.0, &headers).await.into_response()
}

async fn openai_list(
    state: &RelayState,
    peer: std::net::SocketAddr,
    headers: &HeaderMap,
) -> Result<Json<Value>, RelayError> {
    let auth = caller(state, headers, peer).await?;
    let data: Vec<Value> = auth.caller.caller.models.iter().map(|m| model_object(m)).collect();
    Ok(Json(json!({ "object": "list", "data": data })))
}

pub async fn retrieve(
    State(state): State<RelayState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    Path(model): Path<String>,
) -> Result<Json<Value>, RelayError> {
    let auth = caller(&state, &headers, peer).await?;
    if auth.caller.caller.models.iter().any(|m| m == &model) {
        Ok(Json(model_object(&model)))
    } else {
        Err(RelayError::NotFound(format!("the model `{model}` does not exist or you do not have access to it")))
    }
}
