//! Groups (`GroupRatio`, `UserUsableGroups`): the groups a user may pick for a token, and every group name for
//! administrators.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use veloera_admin_types::Envelope;

use super::session::{Active, Admin};
use crate::billing::UsableGroup;
use crate::error::ControlError;
use crate::state::AppState;

/// `GET /api/user/groups` (and `/api/user/self/groups`): `{group: {ratio, desc}}` for the signed-in user, its
/// own group included.
pub async fn usable(
    State(state): State<AppState>,
    Active(user): Active,
) -> Result<Json<Envelope<BTreeMap<String, UsableGroup>>>, ControlError> {
    Ok(Json(Envelope::ok(state.prices().usable_groups(&user.group_name))))
}

/// `GET /api/group/`: every group name (the keys of `GroupRatio`), for administrators.
pub async fn names(State(state): State<AppState>, _admin: Admin) -> Result<Json<Envelope<Vec<String>>>, ControlError> {
    Ok(Json(Envelope::ok(state.prices().group_names())))
}
