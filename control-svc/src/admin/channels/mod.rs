//! `/api/channel/*` (admin only): Veloera's channel administration. Keys go in, only masked hints come out;
//! every write rebuilds the routing snapshot and tells the relays.
//!
//! Layout: `crud.rs` creates, reads, updates and deletes channels; `listing.rs` pages, searches and lists
//! enabled models; `tags.rs` works on channels by tag; `transfer.rs` exports channels with their keys to a
//! file and imports such a file; `validate.rs` holds the checks all writes share (database imports use them too).

mod crud;
mod listing;
mod tags;
mod transfer;
mod validate;

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use veloera_admin_types::{ChannelFixResult, ChannelStatus, Envelope};

pub(crate) use crud::status_change;
pub use crud::{create, delete, delete_batch, delete_disabled, get_one, update};
pub use listing::{list, models_enabled, search};
pub use tags::{disable_by_tag, edit_tag, enable_by_tag, list_tags, set_tag_batch};
pub(crate) use transfer::natural_key;
pub use transfer::{IMPORT_BODY_LIMIT, export, import};
pub(crate) use validate::validate;

use crate::admin::session::Admin;
use crate::db::{self, channels::ChannelRow};
use crate::error::ControlError;
use crate::state::AppState;

/// The most ids one batch request may name.
const MAX_BATCH: usize = 1000;

/// What a channel disabled by hand records as its reason.
const DISABLED_BY_ADMIN: &str = "disabled by an administrator";

async fn find(state: &AppState, id: i64) -> Result<ChannelRow, ControlError> {
    db::channels::find_by_id(state.db(), id)
        .await?
        .ok_or_else(|| ControlError::NotFound(format!("channel {id} not found")))
}

/// The `{id}` of a path, refused with our envelope rather than axum's plain text.
fn path_id(path: Result<Path<i64>, PathRejection>) -> Result<i64, ControlError> {
    path.map(|Path(id)| id).map_err(|_| ControlError::BadRequest("the channel id in the path must be a number".into()))
}

/// Query parameters, refused with our envelope rather than axum's plain text.
fn query<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, ControlError> {
    query
        .map(|Query(q)| q)
        .map_err(|e| ControlError::BadRequest(format!("invalid query parameters: {}", e.body_text())))
}

/// A batch's ids: at least one, at most [`MAX_BATCH`].
fn check_ids(ids: &[i64]) -> Result<(), ControlError> {
    if ids.is_empty() {
        return Err(ControlError::BadRequest("ids must list at least one channel id".into()));
    }
    if ids.len() > MAX_BATCH {
        return Err(ControlError::BadRequest(format!("at most {MAX_BATCH} channel ids per request")));
    }
    Ok(())
}

/// `POST /api/channel/fix`: Veloera rebuilds its abilities table here; our equivalent is the routing snapshot,
/// rebuilt from the database and pushed to relays. Reports how many enabled channels route and how many cannot.
pub async fn fix(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<Envelope<ChannelFixResult>>, ControlError> {
    state.reload_channels().await?;
    let enabled =
        db::channels::list(state.db()).await?.iter().filter(|r| r.status == ChannelStatus::Enabled.as_i64()).count();
    let success = state.channels().len();
    Ok(Json(Envelope::ok(ChannelFixResult { success, fails: enabled.saturating_sub(success) })))
}
