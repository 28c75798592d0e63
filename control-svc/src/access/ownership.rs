//! On whose behalf a caller may act: other users (Veloera's rule: an administrator manages only users of a lower
//! role, root manages everyone), their tokens, and which log rows a caller may read.

use veloera_admin_types::Role;

use crate::db::{self, tokens::TokenRow, users::UserRow};
use crate::error::ControlError;
use crate::state::AppState;

/// A user `actor` may manage: it exists and has a lower role than the actor (root may manage anyone). The caller
/// has already required [`super::Need::Admin`].
pub async fn manageable(state: &AppState, actor: &UserRow, id: i64) -> Result<UserRow, ControlError> {
    let user = db::users::find_by_id(state.db(), id)
        .await?
        .ok_or_else(|| ControlError::NotFound(format!("user {id} not found")))?;
    if actor.role != Role::Root.as_i64() && user.role >= actor.role {
        return Err(ControlError::Forbidden(
            "administrators may not manage users of their own or a higher role".into(),
        ));
    }
    Ok(user)
}

/// The account `actor` acts for when it names `owner_id`: itself, or (for an administrator) a user it may manage.
/// Ordinary users asking for someone else are refused.
pub async fn acting_for(state: &AppState, actor: &UserRow, owner_id: i64) -> Result<UserRow, ControlError> {
    if owner_id == actor.id {
        return Ok(actor.clone());
    }
    if actor.role < Role::Admin.as_i64() {
        return Err(ControlError::Forbidden("users may act only on their own account".into()));
    }
    manageable(state, actor, owner_id).await
}

/// A token of `owner_id` (the REST API's own-token views); anyone else's is reported as missing, not forbidden.
pub async fn own_token(state: &AppState, owner_id: i64, id: i64) -> Result<TokenRow, ControlError> {
    match db::tokens::find_by_id(state.db(), id).await? {
        Some(t) if t.user_id == owner_id => Ok(t),
        _ => Err(ControlError::NotFound(format!("token {id} not found"))),
    }
}

/// A token `actor` may change: its own, or one of a user it may manage. Any other token is reported as missing,
/// as [`own_token`] does.
pub async fn reachable_token(state: &AppState, actor: &UserRow, id: i64) -> Result<TokenRow, ControlError> {
    let missing = || ControlError::NotFound(format!("token {id} not found"));
    let token = db::tokens::find_by_id(state.db(), id).await?.ok_or_else(missing)?;
    if token.user_id == actor.id {
        return Ok(token);
    }
    match acting_for(state, actor, token.user_id).await {
        Ok(_) => Ok(token),
        Err(ControlError::Forbidden(_)) => Err(missing()),
        Err(e) => Err(e),
    }
}

/// Which log rows a caller reads, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogScope {
    /// Administrators: every row (or one user's), in full.
    All { user_id: Option<i64> },
    /// Everyone else: their own rows, sanitised (`LogRow::to_self_dto`), without channel filters.
    Own { user_id: i64 },
}

impl LogScope {
    /// The user the rows are confined to, if any.
    pub fn user_id(self) -> Option<i64> {
        match self {
            LogScope::All { user_id } => user_id,
            LogScope::Own { user_id } => Some(user_id),
        }
    }
}

/// The scope of a log view `actor` asks for: `asked_user` (0 for none) and whether it filters or groups by
/// channel. Ordinary users may ask only for their own rows and never by channel.
pub fn log_scope(actor: &UserRow, asked_user: i64, by_channel: bool) -> Result<LogScope, ControlError> {
    if actor.role >= Role::Admin.as_i64() {
        return Ok(LogScope::All { user_id: (asked_user != 0).then_some(asked_user) });
    }
    if asked_user != 0 && asked_user != actor.id {
        return Err(ControlError::Forbidden("users may read only their own logs".into()));
    }
    if by_channel {
        return Err(ControlError::Forbidden("channels are visible to administrators only".into()));
    }
    Ok(LogScope::Own { user_id: actor.id })
}
