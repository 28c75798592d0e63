//! `/api/user/aff` and `/api/user/aff_transfer`: the user's invitation code and invitation quota.

use axum::Json;
use axum::extract::State;
use veloera_admin_types::{AffTransferRequest, AffTransferResult, Envelope};

use super::JsonBody;
use super::session::Active;
use crate::db;
use crate::error::ControlError;
use crate::state::AppState;

/// `GET /api/user/aff`: `data` is the user's invitation code (generated on first call).
pub async fn aff_code(
    State(state): State<AppState>,
    Active(user): Active,
) -> Result<Json<Envelope<String>>, ControlError> {
    Ok(Json(Envelope::ok(db::invitations::aff_code(state.db(), user.id).await?)))
}

/// `POST /api/user/aff_transfer {quota}`: moves invitation quota into the balance; `data` is the balances after.
pub async fn transfer(
    State(state): State<AppState>,
    Active(user): Active,
    JsonBody(body): JsonBody<AffTransferRequest>,
) -> Result<Json<Envelope<AffTransferResult>>, ControlError> {
    let after = db::invitations::transfer(state.db(), state.prices().quota_per_unit(), user.id, body.quota).await?;
    Ok(Json(Envelope::ok(AffTransferResult { quota: after.quota, aff_quota: after.aff_quota })))
}
