//! `Lease` / `ReturnLease`: quota reservations relays admit requests against (see `db::leases`).

use veloera_proto::v1::lease_reply::Outcome;
use veloera_proto::v1::{
    Denial, DenialReason, LeaseGrant, LeaseReply, LeaseRequest, ReturnLeaseReply, ReturnLeaseRequest,
};

use crate::db::leases::{self, Refused};
use crate::error::ControlError;
use crate::state::AppState;

pub async fn grant(state: &AppState, req: LeaseRequest) -> Result<LeaseReply, ControlError> {
    if req.wanted < 0 || req.needed < 0 {
        return Err(ControlError::BadRequest("lease amounts must not be negative".into()));
    }
    let outcome =
        match leases::grant(state.db(), &req.relay_id, req.user_id, req.token_id, req.wanted, req.needed).await? {
            Ok(g) => Outcome::Grant(LeaseGrant { lease_id: g.id, amount: g.amount, ttl_ms: leases::TTL_SECS * 1000 }),
            Err(refused) => {
                let (reason, message) = match refused {
                    Refused::TokenExhausted => (DenialReason::TokenExhausted, "token quota is used up"),
                    Refused::UserExhausted => (DenialReason::UserExhausted, "user quota is used up"),
                    Refused::Unknown => (DenialReason::UnknownToken, "invalid token"),
                };
                Outcome::Denial(Denial { reason: reason as i32, message: message.into() })
            }
        };
    Ok(LeaseReply { outcome: Some(outcome) })
}

pub async fn give_back(state: &AppState, req: ReturnLeaseRequest) -> Result<ReturnLeaseReply, ControlError> {
    if req.spent < 0 {
        return Err(ControlError::BadRequest("spent must not be negative".into()));
    }
    Ok(ReturnLeaseReply { returned: leases::close(state.db(), &req.lease_id, Some(req.spent)).await? })
}
