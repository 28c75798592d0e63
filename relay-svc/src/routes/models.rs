//! `GET /v1/models` and `/v1/models/{model}`: the models this token may use.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use veloera_proto::v1::EndpointKind;

use super::RelayState;
use super::inbound::Inbound;
use crate::auth;
use crate::control::{Ask, Authorized};
use crate::error::RelayError;

async fn caller(state: &RelayState, inbound: &Inbound) -> Result<Authorized, RelayError> {
    let key = auth::from_headers(&inbound.headers)?;
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
    json!({ "id": id, "object": "model", "created": 1_626_777_600, "owned_by": "veloera" })
}

/// `GET /v1/models`; a Gemini client (its key in `x-goog-api-key` or `?key=`) gets Gemini's list shape.
pub async fn list(state: State<RelayState>, inbound: Inbound, query: Query<super::gemini::KeyQuery>) -> Response {
    if inbound.headers.contains_key("x-goog-api-key") || query.key.is_some() {
        return super::gemini::list(state, inbound, query).await;
    }
    openai_list(&state, &inbound).await.into_response()
}

async fn openai_list(state: &RelayState, inbound: &Inbound) -> Result<Json<Value>, RelayError> {
    let auth = caller(state, inbound).await?;
    let data: Vec<Value> = auth.caller.caller.models.iter().map(|m| model_object(m)).collect();
    Ok(Json(json!({ "object": "list", "data": data })))
}

pub async fn retrieve(
    State(state): State<RelayState>,
    inbound: Inbound,
    Path(model): Path<String>,
) -> Result<Json<Value>, RelayError> {
    let auth = caller(&state, &inbound).await?;
    if auth.caller.caller.models.iter().any(|m| m == &model) {
        Ok(Json(model_object(&model)))
    } else {
        Err(RelayError::NotFound(format!("the model `{model}` does not exist or you do not have access to it")))
    }
}
