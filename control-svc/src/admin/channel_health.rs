//! `/api/channel/…` routes that reach upstreams or show health (admin only): tests, balances, upstream model
//! lists, and per-key health. The upstream calls themselves run on a relay (see `grpc::jobs`).

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};
use veloera_admin_types::{ChannelKey as KeyView, ChannelKeyStatus as KeyStatus, Envelope};

use super::JsonBody;
use super::session::Admin;
use crate::db::channels::ChannelRow;
use crate::db::{self, now_secs};
use crate::error::ControlError;
use crate::grpc::jobs::JobKind;
use crate::health::prober;
use crate::routing::{RoutableChannel, channel_types, key_digest};
use crate::secrets::mask;
use crate::state::AppState;

pub(crate) async fn channel(state: &AppState, id: i64) -> Result<ChannelRow, ControlError> {
    db::channels::find_by_id(state.db(), id)
        .await?
        .ok_or_else(|| ControlError::NotFound(format!("channel {id} not found")))
}

#[derive(Deserialize)]
pub struct TestQuery {
    #[serde(default)]
    model: Option<String>,
}

/// `GET /api/channel/test/{id}?model=`: one non-streaming request; answers Veloera's `{success, message, time}`
/// (seconds). A pass re-enables a channel that was disabled automatically.
pub async fn test_one(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<i64>,
    Query(q): Query<TestQuery>,
) -> Result<Json<Value>, ControlError> {
    let row = channel(&state, id).await?;
    let model = prober::test_model(&row, q.model.as_deref());
    let outcome = prober::test_channel(&state, &row, None, &model).await?;
    let time = outcome.latency_ms as f64 / 1000.0;
    if outcome.ok
        && row.status == 3
        && state.policy().auto_enable
        && db::channel_health::enable_recovered(state.db(), id).await?
    {
        state.reload_channels().await?;
    }
    let message = if outcome.ok { String::new() } else { outcome.message };
    Ok(Json(json!({ "success": outcome.ok, "message": message, "time": time, "model": model })))
}

/// `GET /api/channel/test`: tests every channel in the background.
pub async fn test_all(State(state): State<AppState>, _admin: Admin) -> Json<Envelope<()>> {
    let tasks = state.tasks().clone();
    tasks.spawn(async move {
        if let Err(e) = prober::test_all(&state).await {
            tracing::warn!(error = %e, "testing all channels failed");
        }
    });
    Json(Envelope { success: true, message: "testing every channel in the background".into(), data: None })
}

/// `GET /api/channel/update_balance/{id}`: reads the upstream balance; `{success, message, balance}`.
pub async fn update_balance_one(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ControlError> {
    let row = channel(&state, id).await?;
    let balance = prober::update_balance(&state, &row).await?;
    Ok(Json(json!({ "success": true, "message": "", "balance": balance })))
}

/// `GET /api/channel/update_balance`: reads every enabled channel's balance.
pub async fn update_balance_all(State(state): State<AppState>, _admin: Admin) -> Result<Json<Value>, ControlError> {
    let updated = prober::update_balances(&state).await?;
    Ok(Json(json!({ "success": true, "message": format!("{updated} balances updated") })))
}

/// `GET /api/channel/fetch_models/{id}`: the upstream's model list for a saved channel.
pub async fn fetch_models_of(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<i64>,
) -> Result<Json<Envelope<Vec<String>>>, ControlError> {
    let row = channel(&state, id).await?;
    let channel = RoutableChannel::from_row(&row, state.cipher())?;
    list_models(&state, &channel).await
}

#[derive(Deserialize)]
pub struct FetchModels {
    #[serde(rename = "type", default = "openai_type")]
    channel_type: i32,
    #[serde(default)]
    base_url: String,
    key: String,
}

fn openai_type() -> i32 {
    1
}

/// `POST /api/channel/fetch_models {type, base_url, key}`: the model list before the channel is saved.
pub async fn fetch_models_for(
    State(state): State<AppState>,
    _admin: Admin,
    JsonBody(body): JsonBody<FetchModels>,
) -> Result<Json<Envelope<Vec<String>>>, ControlError> {
    let Some(kind) = channel_types::find(body.channel_type) else {
        return Err(ControlError::BadRequest(format!("unknown channel type {}", body.channel_type)));
    };
    let keys = channel_types::keys_of(kind.id, &body.key);
    if keys.is_empty() {
        return Err(ControlError::BadRequest("key is required".into()));
    }
    let base = body.base_url.trim().trim_end_matches('/');
    let base_url = if base.is_empty() { kind.default_base_url.to_string() } else { base.to_string() };
    match url::Url::parse(&base_url) {
        Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {}
        _ => return Err(ControlError::BadRequest(format!("base_url {base_url:?} is not an http(s) URL"))),
    }
    let channel = RoutableChannel {
        id: 0,
        name: "unsaved".into(),
        channel_type: kind.id,
        base_url,
        key_enabled: vec![true; keys.len()],
        keys,
        models: Vec::new(),
        groups: Vec::new(),
        model_mapping: Default::default(),
        priority: 0,
        weight: 0,
        auto_ban: false,
        organization: String::new(),
        model_prefix: String::new(),
        settings: Default::default(),
    };
    list_models(&state, &channel).await
}

async fn list_models(state: &AppState, channel: &RoutableChannel) -> Result<Json<Envelope<Vec<String>>>, ControlError> {
    let model = channel.models.first().cloned().unwrap_or_default();
    let outcome = state.jobs().run(channel, 0, &model, JobKind::ListModels).await?;
    if !outcome.ok {
        return Err(ControlError::BadRequest(format!("the upstream refused the model list: {}", outcome.message)));
    }
    Ok(Json(Envelope::ok(outcome.models)))
}

/// `GET /api/channel/{id}/keys`: every key of the channel with its health.
pub async fn keys(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<i64>,
) -> Result<Json<Envelope<Vec<KeyView>>>, ControlError> {
    Ok(Json(Envelope::ok(key_views(&state, &channel(&state, id).await?).await?)))
}

/// Every key of a channel with its health, masked (REST `GET /api/channel/{id}/keys` and gRPC `ListChannels`).
pub(crate) async fn key_views(state: &AppState, row: &ChannelRow) -> Result<Vec<KeyView>, ControlError> {
    let id = row.id;
    let channel = RoutableChannel::from_row(row, state.cipher())?;
    let health = db::channel_keys::for_channel(state.db(), id).await?;
    let views = channel
        .keys
        .iter()
        .enumerate()
        .map(|(slot, key)| {
            let digest = key_digest(key);
            let h = health.iter().find(|h| h.key_digest == digest);
            KeyView {
                slot,
                key: mask(key),
                status: h.map_or(1, |h| h.status),
                status_reason: h.map(|h| h.status_reason.clone()).unwrap_or_default(),
                status_time: h.map_or(0, |h| h.status_time),
                last_error: h.map(|h| h.last_error.clone()).unwrap_or_default(),
                last_error_time: h.map_or(0, |h| h.last_error_time),
                request_count: h.map_or(0, |h| h.request_count),
                error_count: h.map_or(0, |h| h.error_count),
            }
        })
        .collect();
    Ok(views)
}

/// `PUT /api/channel/{id}/keys {slot, status}`: enables or disables one key by hand.
pub async fn set_key_status(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<KeyStatus>,
) -> Result<Json<Envelope<()>>, ControlError> {
    set_key(&state, &admin.0, id, body).await?;
    Ok(Json(Envelope { success: true, message: String::new(), data: None }))
}

/// Enables (1) or disables (2) one key of channel `id` by hand, on behalf of `admin` (REST
/// `PUT /api/channel/{id}/keys` and gRPC `SetChannelKeyStatus`).
pub(crate) async fn set_key(
    state: &AppState,
    admin: &crate::db::users::UserRow,
    id: i64,
    body: KeyStatus,
) -> Result<(), ControlError> {
    if !matches!(body.status, 1 | 2) {
        return Err(ControlError::BadRequest("status must be 1 (enabled) or 2 (disabled)".into()));
    }
    let row = channel(state, id).await?;
    let channel = RoutableChannel::from_row(&row, state.cipher())?;
    let Some(key) = channel.keys.get(body.slot) else {
        return Err(ControlError::BadRequest(format!(
            "channel {id} has {} keys; slot {} does not exist",
            channel.keys.len(),
            body.slot
        )));
    };
    let reason =
        if body.status == 2 { format!("disabled by {} at {}", admin.username, now_secs()) } else { String::new() };
    db::channel_keys::set_status(state.db(), id, &key_digest(key), body.status, &reason).await?;
    if body.status == 1 && row.status == 3 && row.status_reason == crate::routing::ALL_KEYS_DISABLED_REASON {
        db::channel_health::enable_recovered(state.db(), id).await?;
    }
    state.reload_channels().await?;
    Ok(())
}
