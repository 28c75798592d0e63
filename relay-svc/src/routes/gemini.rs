//! Google's Gemini API under `/v1beta`: `models/{model}:generateContent`, `:streamGenerateContent` (SSE) and the
//! model list, answered in Gemini's format whatever the channel speaks. The key comes as `?key=`,
//! `x-goog-api-key` or `Authorization`.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};
use veloera_proto::v1::EndpointKind;

use super::answer::{Asked, answer};
use super::conversation::{Asking, admit, error_response};
use super::inbound::Inbound;
use super::request_id::RequestId;
use super::{RelayState, read_body};
use crate::auth;
use crate::control::{Ask, Authorized};
use crate::error::RelayError;
use crate::providers::{Format, gemini};
use crate::usage::CostHint;

#[derive(Deserialize)]
pub struct KeyQuery {
    #[serde(default)]
    pub key: Option<String>,
}

/// `POST /v1beta/models/{model}:{action}`.
pub async fn generate(
    State(state): State<RelayState>,
    inbound: Inbound,
    Path(target): Path<String>,
    Query(query): Query<KeyQuery>,
    body: Body,
) -> Response {
    let ip = inbound.ip_text();
    match relay(&state, &ip, &inbound.request_id, &target, query.key.as_deref(), &inbound.headers, body).await {
        Ok(r) => r,
        Err(e) => error_response(Format::Gemini, e),
    }
}

async fn relay(
    state: &RelayState,
    ip: &str,
    request_id: &RequestId,
    target: &str,
    query_key: Option<&str>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, RelayError> {
    let (model, action) = target.rsplit_once(':').ok_or_else(|| {
        RelayError::NotFound(format!("unknown Gemini method `{target}`: expected models/{{model}}:{{method}}"))
    })?;
    let stream = match action {
        "generateContent" => false,
        // Served as SSE whether or not `alt=sse` is given (the SDKs always send it).
        "streamGenerateContent" => true,
        other => {
            return Err(RelayError::NotFound(format!("the Gemini method `{other}` is not served by this gateway")));
        }
    };
    let key = auth::from_any(headers, query_key)?;
    let bytes = read_body(body, state.max_body_bytes).await?;
    let mut request = gemini::parse_request(&bytes, model)?;
    request.stream = stream;
    let cost = CostHint::new(bytes.len(), request.max_tokens).times(gemini::candidate_count(&bytes));
    let endpoint = EndpointKind::GenerateContent;
    let asking = Asking { key: &key, model, client_ip: ip, endpoint, request_id, stream, cost, body: &bytes };
    let admitted = admit(state, asking).await?;
    answer(state, admitted, Asked::shared(Format::Gemini, &bytes, request)).await
}

async fn caller(state: &RelayState, inbound: &Inbound, query_key: Option<&str>) -> Result<Authorized, RelayError> {
    let key = auth::from_any(&inbound.headers, query_key)?;
    let ip = inbound.ip_text();
    let ask = Ask {
        digest: key.digest,
        session: None,
        model: "",
        client_ip: &ip,
        endpoint: EndpointKind::Models,
        pinned_channel: None,
        request_id: Some(inbound.request_id.as_str()),
    };
    state.link.authorize(&ask).await
}

fn model_object(id: &str) -> Value {
    json!({
        "name": format!("models/{id}"),
        "displayName": id,
        "supportedGenerationMethods": ["generateContent", "streamGenerateContent"],
    })
}

/// `GET /v1beta/models`: the models this key may use, in Gemini's shape.
pub async fn list(State(state): State<RelayState>, inbound: Inbound, Query(query): Query<KeyQuery>) -> Response {
    match caller(&state, &inbound, query.key.as_deref()).await {
        Ok(auth) => {
            let models: Vec<Value> = auth.caller.caller.models.iter().map(|m| model_object(m)).collect();
            Json(json!({ "models": models })).into_response()
        }
        Err(e) => error_response(Format::Gemini, e),
    }
}

/// `GET /v1beta/models/{model}`.
pub async fn retrieve(
    State(state): State<RelayState>,
    inbound: Inbound,
    Path(model): Path<String>,
    Query(query): Query<KeyQuery>,
) -> Response {
    match caller(&state, &inbound, query.key.as_deref()).await {
        Ok(auth) if auth.caller.caller.models.iter().any(|m| m == &model) => Json(model_object(&model)).into_response(),
        Ok(_) => error_response(
            Format::Gemini,
            RelayError::NotFound(format!("model `{model}` is not available to this key")),
        ),
        Err(e) => error_response(Format::Gemini, e),
    }
}
