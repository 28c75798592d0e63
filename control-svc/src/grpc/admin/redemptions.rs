//! Redemption and gift codes (administrators): create one or a batch, disable, look up usage, through the core of
//! `admin/redemptions.rs`.

use tonic::Status;
use veloera_admin_types::{RedemptionCreate, redemption_status};
use veloera_proto::admin_v1::{CreateRedemptionsRequest, CreateRedemptionsResponse, Redemption};

use super::errors::{from_core, invalid, precondition};
use crate::admin::redemptions as core;
use crate::db::{self, redemptions::RedemptionRow, users::UserRow};
use crate::state::AppState;

/// A code in the service's shape.
fn redemption(r: veloera_admin_types::Redemption) -> Redemption {
    Redemption {
        id: r.id,
        user_id: r.user_id,
        key: r.key,
        name: r.name,
        quota: r.quota,
        status: r.status,
        created_time: r.created_time,
        redeemed_time: r.redeemed_time,
        used_user_id: r.used_user_id,
        is_gift: r.is_gift,
        max_uses: r.max_uses,
        used_count: r.used_count,
        valid_from: r.valid_from,
        valid_until: r.valid_until,
    }
}

pub async fn create(
    state: &AppState,
    actor: &UserRow,
    r: CreateRedemptionsRequest,
) -> Result<CreateRedemptionsResponse, Status> {
    let body = RedemptionCreate {
        name: r.name,
        quota: r.quota,
        count: (r.count != 0).then_some(r.count),
        key: Some(r.key).filter(|k| !k.trim().is_empty()),
        is_gift: Some(r.is_gift),
        max_uses: (r.is_gift && r.max_uses != 0).then_some(r.max_uses),
        valid_from: Some(r.valid_from),
        valid_until: Some(r.valid_until),
    };
    let fields = ["name", "quota", "count", "key", "max_uses", "valid_from", "valid_until"];
    let keys = core::create_codes(state, actor, body).await.map_err(|e| from_core(e, &fields))?;
    Ok(CreateRedemptionsResponse { keys })
}

async fn find(state: &AppState, id: i64) -> Result<RedemptionRow, Status> {
    if id <= 0 {
        return Err(invalid("id", "id must be a redemption code id"));
    }
    db::redemptions::find_by_id(state.db(), id)
        .await?
        .ok_or_else(|| Status::not_found(format!("redemption code {id} not found")))
}

pub async fn get(state: &AppState, id: i64) -> Result<Redemption, Status> {
    Ok(redemption(find(state, id).await?.to_dto()))
}

/// Disables an enabled code; disabling a disabled one changes nothing. A used code cannot be disabled any more.
pub async fn disable(state: &AppState, id: i64) -> Result<Redemption, Status> {
    let row = find(state, id).await?;
    if row.status == redemption_status::USED as i64 {
        return Err(precondition(format!("redemption code {id} is used up; there is nothing left to disable")));
    }
    db::redemptions::disable_all(state.db(), &[id]).await?;
    get(state, id).await
}
