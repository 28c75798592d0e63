//! `Lease` / `ReturnLease`: quota reservations relays admit requests against (see `db::leases`).

use veloera_proto::v1::lease_reply::Outcome;
use veloera_proto::v1::{
    Denial, DenialReason, LeaseGrant, LeaseReply, LeaseRequest, ReturnLeaseReply, ReturnLeaseRequest,
};

use crate::db::leases::{self, Refused};
use crate::error::ControlError;
use crate::state::AppState;

pub async fn grant(state: &AppState, req: LeaseRequest) -> Result<LeaseReply, ControlError> {
    if req.wanted < 0 || req.needed < 0 || req.surrender_amount < 0 {
        return Err(ControlError::BadRequest("lease amounts must not be negative".into()));
    }
    let ask = leases::Wanted {
        relay_id: &req.relay_id,
        user_id: req.user_id,
        token_id: req.token_id,
        wanted: req.wanted,
        needed: req.needed,
        surrender: (!req.surrender_lease_id.is_empty() && req.surrender_amount > 0)
            .then_some((req.surrender_lease_id.as_str(), req.surrender_amount)),
    };
    let outcome = match leases::grant(state.db(), ask).await? {
        Ok(g) => Outcome::Grant(LeaseGrant { lease_id: g.id, amount: g.amount, ttl_ms: leases::TTL_SECS * 1000 }),
        Err(refused) => {
            let (reason, message) = denial(refused);
            Outcome::Denial(Denial { reason: reason as i32, message })
        }
    };
    Ok(LeaseReply { outcome: Some(outcome) })
}

/// The denial a relay passes on to its client; "not enough" in Veloera's words (it shows quota as a number
/// when `DisplayInCurrencyEnabled` is off, which is what this gateway shows).
fn denial(refused: Refused) -> (DenialReason, String) {
    match refused {
        Refused::TokenExhausted => (DenialReason::TokenExhausted, "token quota is used up".into()),
        Refused::UserExhausted => (DenialReason::UserExhausted, "user quota is used up".into()),
        Refused::TokenNotEnough { available, needed } => (
            DenialReason::TokenQuotaNotEnough,
            format!("token quota is not enough, token remain quota: {available}, need quota: {needed}"),
        ),
        Refused::UserNotEnough { available, needed } => (
            DenialReason::UserQuotaNotEnough,
            format!("user quota is not enough, user quota: {available}, need quota: {needed}"),
        ),
        Refused::Unknown => (DenialReason::UnknownToken, "invalid token".into()),
    }
}

pub async fn give_back(state: &AppState, req: ReturnLeaseRequest) -> Result<ReturnLeaseReply, ControlError> {
    if req.spent < 0 {
        return Err(ControlError::BadRequest("spent must not be negative".into()));
    }
    Ok(ReturnLeaseReply { returned: leases::close(state.db(), &req.lease_id, Some(req.spent)).await? })
}
