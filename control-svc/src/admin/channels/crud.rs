//! Create, read, update and delete single channels, delete several, and delete every disabled one.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use veloera_admin_types::{Channel, ChannelCreate, ChannelIds, ChannelUpdate, Envelope, status};

use super::validate::{merge, validate};
use super::{DISABLED_BY_ADMIN, check_ids, find, path_id};
use crate::admin::JsonBody;
use crate::admin::session::Admin;
use crate::db::channels::{ChannelRow, StatusChange};
use crate::db::{self, now_secs};
use crate::error::ControlError;
use crate::state::AppState;

pub async fn get_one(
    State(state): State<AppState>,
    _admin: Admin,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<Envelope<Channel>>, ControlError> {
    Ok(Json(Envelope::ok(find(&state, path_id(id)?).await?.to_dto())))
}

pub async fn create(
    State(state): State<AppState>,
    _admin: Admin,
    JsonBody(body): JsonBody<ChannelCreate>,
) -> Result<Json<Envelope<Channel>>, ControlError> {
    let new = validate(&state, body)?;
    let id = db::channels::insert(state.db(), &new).await?;
    state.reload_channels().await?;
    Ok(Json(Envelope::ok(find(&state, id).await?.to_dto())))
}

/// `PUT /api/channel/`: the given fields over the stored channel, validated whole.
pub async fn update(
    State(state): State<AppState>,
    _admin: Admin,
    JsonBody(body): JsonBody<ChannelUpdate>,
) -> Result<Json<Envelope<Channel>>, ControlError> {
    let row = find(&state, body.id).await?;
    let requested_status = body.status;
    let new = validate(&state, merge(&state, &row, body)?)?;
    let change = status_change(&row, requested_status)?;
    db::channels::update(state.db(), row.id, &new, change.as_ref()).await?;
    state.reload_channels().await?;
    Ok(Json(Envelope::ok(find(&state, row.id).await?.to_dto())))
}

/// The bookkeeping of a status set by hand: enabling always clears the reason and the circuit breaker (an
/// administrator asking for the channel to be tried again); disabling records why and when, unless the
/// channel was already disabled by hand. Only the gateway moves a channel into status 3.
fn status_change(row: &ChannelRow, requested: Option<i32>) -> Result<Option<StatusChange>, ControlError> {
    match requested {
        Some(status::ENABLED) => Ok(Some(StatusChange::Enable)),
        Some(status::DISABLED) if row.status != status::DISABLED as i64 => {
            Ok(Some(StatusChange::Disable { reason: DISABLED_BY_ADMIN.into(), at: now_secs() }))
        }
        Some(status::CHANNEL_AUTO_DISABLED) if row.status != status::CHANNEL_AUTO_DISABLED as i64 => {
            Err(ControlError::BadRequest(
                "status 3 (auto-disabled) is set by the gateway; use 2 to disable a channel by hand".into(),
            ))
        }
        _ => Ok(None),
    }
}

/// `DELETE /api/channel/{id}`.
pub async fn delete(
    State(state): State<AppState>,
    _admin: Admin,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<Envelope<()>>, ControlError> {
    db::channels::delete(state.db(), &[path_id(id)?]).await?;
    state.reload_channels().await?;
    Ok(Json(Envelope { success: true, message: String::new(), data: None }))
}

/// `POST /api/channel/batch {ids}`: deletes them all, or none if any id is unknown; `data` is the count.
pub async fn delete_batch(
    State(state): State<AppState>,
    _admin: Admin,
    JsonBody(body): JsonBody<ChannelIds>,
) -> Result<Json<Envelope<u64>>, ControlError> {
    check_ids(&body.ids)?;
    let deleted = db::channels::delete(state.db(), &body.ids).await?;
    state.reload_channels().await?;
    Ok(Json(Envelope::ok(deleted)))
}

/// `DELETE /api/channel/disabled`: deletes every channel in status 2 or 3; `data` is the count.
pub async fn delete_disabled(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<Envelope<u64>>, ControlError> {
    let deleted = db::channels::delete_disabled(state.db()).await?;
    state.reload_channels().await?;
    Ok(Json(Envelope::ok(deleted)))
}
