//! `/api/model_mapping/` (admin only): the global virtual-model mapping (Veloera v0.5), stored as the option
//! `global_model_mapping`: `{"virtual": [{"model": "real", "priorities": 10}, …]}`.

use axum::Json;
use axum::extract::State;
use serde_json::Value;
use veloera_admin_types::Envelope;

use super::JsonBody;
use super::session::Admin;
use crate::db;
use crate::error::ControlError;
use crate::routing::virtual_models::{OPTION, VirtualModels};
use crate::state::AppState;

pub async fn get(State(state): State<AppState>, _admin: Admin) -> Result<Json<Envelope<Value>>, ControlError> {
    let options = db::options::all(state.db()).await?;
    let mapping = VirtualModels::parse(options.get(OPTION).map_or("", |s| s.as_str())).unwrap_or_default();
    let value = serde_json::from_str(&mapping.to_option()).unwrap_or(Value::Object(Default::default()));
    Ok(Json(Envelope::ok(value)))
}

/// Replaces the mapping; refused whole (naming the problem) when any entry is invalid.
pub async fn put(
    State(state): State<AppState>,
    _admin: Admin,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Envelope<Value>>, ControlError> {
    let mapping = VirtualModels::parse(&body.to_string()).map_err(ControlError::BadRequest)?;
    db::options::set(state.db(), OPTION, &mapping.to_option()).await?;
    state.reload_channels().await?;
    let value = serde_json::from_str(&mapping.to_option()).unwrap_or(Value::Object(Default::default()));
    Ok(Json(Envelope::ok(value)))
}

/// `POST /api/model_mapping/reload`: rebuilds routing from the stored mapping (after a direct database edit) and
/// answers with the number of virtual models now served.
pub async fn reload(State(state): State<AppState>, _admin: Admin) -> Result<Json<Envelope<usize>>, ControlError> {
    state.reload_channels().await?;
    let options = db::options::all(state.db()).await?;
    let mapping = VirtualModels::parse(options.get(OPTION).map_or("", |s| s.as_str())).unwrap_or_default();
    Ok(Json(Envelope::ok(mapping.iter().count())))
}
