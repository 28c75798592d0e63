//! Sessions: a signed, HttpOnly, SameSite=Strict cookie holding the user id and issue time, and the
//! extractors that turn it into a signed-in user (checked against the database on every call).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum_extra::extract::cookie::{Cookie, SameSite, SignedCookieJar};
use veloera_admin_types::{role, status};

use crate::db::{self, now_secs, users::UserRow};
use crate::error::ControlError;
use crate::state::AppState;

pub const COOKIE_NAME: &str = "session";
const SESSION_SECONDS: i64 = 30 * 24 * 3600;

/// The cookie that signs `user_id` in.
pub fn session_cookie(user_id: i64) -> Cookie<'static> {
    Cookie::build((COOKIE_NAME, format!("{user_id}.{}", now_secs())))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .max_age(time_max_age())
        .build()
}

fn time_max_age() -> time::Duration {
    time::Duration::seconds(SESSION_SECONDS)
}

/// Any signed-in, enabled user, even one that still has to change its password.
pub struct SignedIn(pub UserRow);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = ControlError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let jar = SignedCookieJar::<axum_extra::extract::cookie::Key>::from_request_parts(parts, state)
            .await
            .map_err(|_| ControlError::Unauthenticated)?;
        let cookie = jar.get(COOKIE_NAME).ok_or(ControlError::Unauthenticated)?;
        let (id, issued) = cookie.value().split_once('.').ok_or(ControlError::Unauthenticated)?;
        let id: i64 = id.parse().map_err(|_| ControlError::Unauthenticated)?;
        let issued: i64 = issued.parse().map_err(|_| ControlError::Unauthenticated)?;
        if issued + SESSION_SECONDS < now_secs() {
            return Err(ControlError::Unauthenticated);
        }
        // Veloera requires this header; we accept its absence but refuse a mismatch.
        if let Some(claimed) = parts.headers.get("Veloera-User").or_else(|| parts.headers.get("New-Api-User"))
            && claimed.to_str().ok().and_then(|s| s.trim().parse::<i64>().ok()) != Some(id)
        {
            return Err(ControlError::Unauthenticated);
        }
        let user = db::users::find_by_id(state.db(), id).await?.ok_or(ControlError::Unauthenticated)?;
        if user.status != status::ENABLED as i64 {
            return Err(ControlError::Forbidden("this account is disabled".into()));
        }
        Ok(SignedIn(user))
    }
}

/// A signed-in user that has no pending password change.
pub struct Active(pub UserRow);

impl FromRequestParts<AppState> for Active {
    type Rejection = ControlError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let SignedIn(user) = SignedIn::from_request_parts(parts, state).await?;
        if user.must_change_password != 0 {
            return Err(ControlError::Forbidden(
                "the default password must be changed first (PUT /api/user/self)".into(),
            ));
        }
        Ok(Active(user))
    }
}

/// An active user with role admin or root.
pub struct Admin(pub UserRow);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ControlError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Active(user) = Active::from_request_parts(parts, state).await?;
        if user.role < role::ADMIN as i64 {
            return Err(ControlError::Forbidden("administrator access required".into()));
        }
        Ok(Admin(user))
    }
}
