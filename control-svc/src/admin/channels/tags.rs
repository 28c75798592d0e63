//! Channels by tag: list the tags, disable or enable every channel with a tag, edit them together, tag by id.

use axum::Json;
use axum::extract::State;
use veloera_admin_types::{ChannelBatchTag, ChannelTag, ChannelTagEdit, Envelope};

use super::validate::{check_groups, check_model_mapping, check_models, check_tag, check_weight};
use super::{DISABLED_BY_ADMIN, check_ids};
use crate::admin::JsonBody;
use crate::admin::session::Admin;
use crate::db::channels::{StatusChange, TagEdit};
use crate::db::{self, now_secs};
use crate::error::ControlError;
use crate::state::AppState;

/// The tag a request acts on: required, since an empty tag would select every untagged channel.
fn required_tag(raw: &str) -> Result<String, ControlError> {
    let tag = check_tag("tag", raw)?;
    if tag.is_empty() {
        return Err(ControlError::BadRequest("tag is required".into()));
    }
    Ok(tag)
}

/// `GET /api/channel/tags`: the distinct non-empty tags, sorted.
pub async fn list_tags(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<Envelope<Vec<String>>>, ControlError> {
    Ok(Json(Envelope::ok(db::channels::tags(state.db()).await?)))
}

/// `POST /api/channel/tag/disabled {tag}`: status 2 for every channel with the tag; `data` is their count.
pub async fn disable_by_tag(
    State(state): State<AppState>,
    _admin: Admin,
    JsonBody(body): JsonBody<ChannelTag>,
) -> Result<Json<Envelope<u64>>, ControlError> {
    let change = StatusChange::Disable { reason: DISABLED_BY_ADMIN.into(), at: now_secs() };
    set_status(&state, &body.tag, &change).await
}

/// `POST /api/channel/tag/enabled {tag}`: status 1 for every channel with the tag, reason and circuit breaker
/// cleared; `data` is their count.
pub async fn enable_by_tag(
    State(state): State<AppState>,
    _admin: Admin,
    JsonBody(body): JsonBody<ChannelTag>,
) -> Result<Json<Envelope<u64>>, ControlError> {
    set_status(&state, &body.tag, &StatusChange::Enable).await
}

async fn set_status(state: &AppState, tag: &str, change: &StatusChange) -> Result<Json<Envelope<u64>>, ControlError> {
    let count = db::channels::set_status_by_tag(state.db(), &required_tag(tag)?, change).await?;
    state.reload_channels().await?;
    Ok(Json(Envelope::ok(count)))
}

/// `PUT /api/channel/tag {tag, new_tag?, priority?, weight?, models?, groups?, model_mapping?}`: edits every
/// channel with the tag; `data` is their count.
pub async fn edit_tag(
    State(state): State<AppState>,
    _admin: Admin,
    JsonBody(body): JsonBody<ChannelTagEdit>,
) -> Result<Json<Envelope<u64>>, ControlError> {
    let tag = required_tag(&body.tag)?;
    let new_tag = match body.new_tag {
        Some(raw) => {
            let new_tag = check_tag("new_tag", &raw)?;
            if new_tag.is_empty() {
                return Err(ControlError::BadRequest(
                    "new_tag must not be empty (POST /api/channel/batch/tag with an empty tag removes tags)".into(),
                ));
            }
            Some(new_tag)
        }
        None => None,
    };
    let edit = TagEdit {
        new_tag,
        priority: body.priority,
        weight: body.weight.map(check_weight).transpose()?,
        models: body.models.as_deref().map(check_models).transpose()?,
        group_name: body.groups.as_deref().map(|g| check_groups("groups", g)).transpose()?,
        model_mapping: body.model_mapping.as_deref().map(check_model_mapping).transpose()?,
    };
    if edit.is_empty() {
        return Err(ControlError::BadRequest(
            "nothing to change: give new_tag, priority, weight, models, groups or model_mapping".into(),
        ));
    }
    let count = db::channels::edit_tag(state.db(), &tag, &edit).await?;
    state.reload_channels().await?;
    Ok(Json(Envelope::ok(count)))
}

/// `POST /api/channel/batch/tag {ids, tag}`: sets the tag (empty or absent removes it) on the listed channels,
/// or on none if any id is unknown; `data` is their count.
pub async fn set_tag_batch(
    State(state): State<AppState>,
    _admin: Admin,
    JsonBody(body): JsonBody<ChannelBatchTag>,
) -> Result<Json<Envelope<u64>>, ControlError> {
    check_ids(&body.ids)?;
    let tag = check_tag("tag", body.tag.as_deref().unwrap_or(""))?;
    let count = db::channels::set_tag(state.db(), &body.ids, &tag).await?;
    state.reload_channels().await?;
    Ok(Json(Envelope::ok(count)))
}
