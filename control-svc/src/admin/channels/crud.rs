//! Create, read, update and delete single channels, delete several, and delete every disabled one.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use veloera_admin_types::{Channel, ChannelCreate, ChannelIds, ChannelStatus, ChannelUpdate, Envelope, Role, log_type};

use super::validate::{merge, validate};
use super::{DISABLED_BY_ADMIN, check_ids, find, path_id};
use crate::admin::JsonBody;
use crate::admin::session::Admin;
use crate::db::channels::{ChannelRow, NewChannel, StatusChange};
use crate::db::logs::AccountEvent;
use crate::db::{self, now_secs};
use crate::error::ControlError;
use crate::routing::{proxy_secret, settings};
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
    JsonBody(mut body): JsonBody<ChannelCreate>,
) -> Result<Json<Envelope<Channel>>, ControlError> {
    // A new channel has no stored proxy password for the placeholder to stand for.
    if let Some(setting) = &body.setting {
        body.setting = Some(proxy_secret::restore(setting, "").map_err(ControlError::BadRequest)?);
    }
    let new = validate(state.cipher(), body)?;
    let id = db::channels::insert(state.db(), &new).await?;
    state.reload_channels().await?;
    Ok(Json(Envelope::ok(find(&state, id).await?.to_dto())))
}

/// `PUT /api/channel/`: the given fields over the stored channel, validated whole. Changing where the channel's
/// requests go (type, base URL or proxy) while keeping its stored keys is root's alone: an administrator must
/// enter the keys again, or could send root's keys to a host of their choosing. Every such change is written to
/// the manage log.
pub async fn update(
    State(state): State<AppState>,
    Admin(admin): Admin,
    JsonBody(body): JsonBody<ChannelUpdate>,
) -> Result<Json<Envelope<Channel>>, ControlError> {
    let row = find(&state, body.id).await?;
    let requested_status = body.status;
    let keys_entered = body.key.as_deref().is_some_and(|k| !k.trim().is_empty());
    let new = validate(state.cipher(), merge(&state, &row, body)?)?;
    let moved = destination_changes(&row, &new);
    if !moved.is_empty() && !keys_entered && admin.role < Role::Root.as_i64() {
        return Err(ControlError::Forbidden(format!(
            "changing a channel's {} would send its stored keys to a new destination; only root may do that \
             without entering the keys again (send them in key)",
            moved.iter().map(|c| c.field).collect::<Vec<_>>().join(", ")
        )));
    }
    let change = status_change(&row, requested_status)?;
    db::channels::update(state.db(), row.id, &new, change.as_ref()).await?;
    if !moved.is_empty() {
        let changes = moved.iter().map(|c| format!("{} {} -> {}", c.field, c.from, c.to)).collect::<Vec<_>>();
        let content = format!(
            "administrator {} changed the destination of channel #{} ({}): {}; keys {}",
            admin.username,
            row.id,
            new.name,
            changes.join("; "),
            if keys_entered { "entered again" } else { "kept" },
        );
        let mut tx = state.db().begin_write().await?;
        let event = AccountEvent { user_id: admin.id, log_type: log_type::MANAGE, content: &content, quota: 0 };
        db::logs::record_event(state.db(), &mut tx, &event).await?;
        tx.commit().await?;
    }
    state.reload_channels().await?;
    Ok(Json(Envelope::ok(find(&state, row.id).await?.to_dto())))
}

/// One change of where a channel's requests (and keys) go; values as administrators may see them.
struct DestinationChange {
    field: &'static str,
    from: String,
    to: String,
}

/// The type, base URL and proxy changes from the stored channel to the validated update (proxy passwords shown
/// as their placeholder).
fn destination_changes(row: &ChannelRow, new: &NewChannel) -> Vec<DestinationChange> {
    let stored_proxy = settings::parse(&row.settings, row.channel_type as i32).proxy;
    let new_proxy = settings::parse(&new.settings, new.channel_type as i32).proxy;
    let mut changes = Vec::new();
    if row.channel_type != new.channel_type {
        changes.push(DestinationChange {
            field: "type",
            from: row.channel_type.to_string(),
            to: new.channel_type.to_string(),
        });
    }
    if row.base_url.trim_end_matches('/') != new.base_url {
        changes.push(DestinationChange {
            field: "base_url",
            from: format!("{:?}", row.base_url),
            to: format!("{:?}", new.base_url),
        });
    }
    if !proxy_secret::same_url(&stored_proxy, &new_proxy) {
        changes.push(DestinationChange {
            field: "proxy",
            from: format!("{:?}", proxy_secret::redact_url(&stored_proxy)),
            to: format!("{:?}", proxy_secret::redact_url(&new_proxy)),
        });
    }
    changes
}

/// The bookkeeping of a status set by hand: enabling always clears the reason and the circuit breaker (an
/// administrator asking for the channel to be tried again); disabling records why and when, unless the
/// channel was already disabled by hand. Only the gateway moves a channel into status 3.
pub(crate) fn status_change(row: &ChannelRow, requested: Option<i32>) -> Result<Option<StatusChange>, ControlError> {
    let current = ChannelStatus::try_from(row.status).ok();
    // A number that is no status is no change, as before (the update's other fields still apply).
    match requested.map(ChannelStatus::try_from) {
        Some(Ok(ChannelStatus::Enabled)) => Ok(Some(StatusChange::Enable)),
        Some(Ok(ChannelStatus::Disabled)) if current != Some(ChannelStatus::Disabled) => {
            Ok(Some(StatusChange::Disable { reason: DISABLED_BY_ADMIN.into(), at: now_secs() }))
        }
        Some(Ok(ChannelStatus::AutoDisabled)) if current != Some(ChannelStatus::AutoDisabled) => {
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
