//! Who is calling: the personal access token in `authorization` metadata, checked by `crate::access`. The relays'
//! internal secret is refused before anything else, so the admin service is never reachable with it.

use std::sync::Arc;

use subtle::ConstantTimeEq;
use tonic::metadata::MetadataMap;
use tonic::{Request, Status};
use veloera_proto::INTERNAL_SECRET_HEADER;

use crate::access::{self, Need};
use crate::db::users::UserRow;
use crate::error::ControlError;
use crate::state::AppState;

/// Refuses any call that carries the internal secret, in its own header or as the bearer credential.
#[derive(Clone)]
pub struct RefuseInternalSecret {
    secret: Arc<str>,
}

impl RefuseInternalSecret {
    pub fn new(secret: &str) -> Self {
        RefuseInternalSecret { secret: secret.into() }
    }
}

impl tonic::service::Interceptor for RefuseInternalSecret {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let refused = || Status::unauthenticated("the internal secret is not accepted by the admin service");
        if request.metadata().contains_key(INTERNAL_SECRET_HEADER) {
            return Err(refused());
        }
        if let Some(value) = request.metadata().get("authorization").and_then(|v| v.to_str().ok())
            && let Ok(token) = access::personal_token(value)
            && bool::from(token.as_bytes().ct_eq(self.secret.as_bytes()))
        {
            return Err(refused());
        }
        Ok(request)
    }
}

/// The account the call's personal access token belongs to, refused unless it meets `need`.
pub async fn authenticate(state: &AppState, metadata: &MetadataMap, need: Need) -> Result<UserRow, Status> {
    let value = metadata
        .get("authorization")
        .ok_or_else(|| {
            Status::unauthenticated("send a personal access token (GET /api/user/token) as `authorization: Bearer …`")
        })?
        .to_str()
        .map_err(|_| Status::unauthenticated("the authorization metadata is not text"))?;
    let token = access::personal_token(value)?;
    let user = access::token_owner(state, token).await?.ok_or(ControlError::Unauthenticated)?;
    access::require(&user, need)?;
    Ok(user)
}
