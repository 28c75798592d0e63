//! `/api/user/check_in_status` and `/api/user/check_in`: the daily check-in reward.

use axum::Json;
use axum::extract::State;
use veloera_admin_types::{CheckInResult, CheckInStatus, Envelope};

use super::session::Active;
use crate::db::{self, now_secs};
use crate::error::ControlError;
use crate::state::AppState;

/// `GET /api/user/check_in_status`: `{can_check_in}` (false while check-in is off).
pub async fn status(
    State(state): State<AppState>,
    Active(user): Active,
) -> Result<Json<Envelope<CheckInStatus>>, ControlError> {
    let can_check_in = db::check_in::can_check_in(state.db(), &state.options().check_in, user.id, now_secs()).await?;
    Ok(Json(Envelope::ok(CheckInStatus { can_check_in })))
}

/// `POST /api/user/check_in`: `{quota}` credited; once per UTC day.
pub async fn check_in(
    State(state): State<AppState>,
    Active(user): Active,
) -> Result<Json<Envelope<CheckInResult>>, ControlError> {
    let quota = db::check_in::check_in(state.db(), &state.options().check_in, user.id, now_secs()).await?;
    Ok(Json(Envelope::ok(CheckInResult { quota })))
}
