//! Sessions: a signed, HttpOnly, SameSite=Strict cookie holding the user id and issue time, or a personal access
//! token in `Authorization` (from `GET /api/user/token`), and the extractors that turn either into a signed-in user
//! (checked against the database on every call).

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
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
        // An `Authorization` header decides on its own: a bad token is refused even next to a good cookie.
        let user = match access_token(&parts.headers)? {
            Some(token) => db::users::find_by_access_token(state.db(), &access_token_digest(token)).await?,
            None => {
                let id = cookie_user_id(parts, state).await?;
                db::users::find_by_id(state.db(), id).await?
            }
        };
        let user = user.ok_or(ControlError::Unauthenticated)?;
        // Veloera requires this header; we accept its absence but refuse a mismatch.
        if let Some(claimed) = parts.headers.get("Veloera-User").or_else(|| parts.headers.get("New-Api-User"))
            && claimed.to_str().ok().and_then(|s| s.trim().parse::<i64>().ok()) != Some(user.id)
        {
            return Err(ControlError::Unauthenticated);
        }
        if user.status != status::ENABLED as i64 {
            return Err(ControlError::Forbidden("this account is disabled".into()));
        }
        Ok(SignedIn(user))
    }
}

/// The user id in a valid, unexpired session cookie.
async fn cookie_user_id(parts: &mut Parts, state: &AppState) -> Result<i64, ControlError> {
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
    Ok(id)
}

/// The personal access token in `Authorization` (`Bearer ` optional), if the header is there. Relay API keys
/// (`sk-…`) are refused outright: they are never valid on the admin API, and a digest lookup must not even be
/// attempted with them.
fn access_token(headers: &HeaderMap) -> Result<Option<&str>, ControlError> {
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else { return Ok(None) };
    let value = value.to_str().map_err(|_| ControlError::Unauthenticated)?.trim();
    let token = match value.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("bearer ") => value[7..].trim(),
        _ => value,
    };
    if token.is_empty() || token.len() > 256 || token.starts_with("sk-") {
        return Err(ControlError::Unauthenticated);
    }
    Ok(Some(token))
}

/// What `users.access_token_digest` holds for a token: SHA-256, hex.
pub fn access_token_digest(token: &str) -> String {
    hex::encode(crate::secrets::key_digest(token))
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

/// An active user with role root (site settings).
pub struct Root(pub UserRow);

impl FromRequestParts<AppState> for Root {
    type Rejection = ControlError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Active(user) = Active::from_request_parts(parts, state).await?;
        if user.role < role::ROOT as i64 {
            return Err(ControlError::Forbidden("root access required".into()));
        }
        Ok(Root(user))
    }
}

/// An active user when the request carries a valid session or access token, else nobody: for public routes that
/// show more to signed-in users (`GET /api/pricing`). A bad or expired credential counts as none.
pub struct MaybeActive(pub Option<UserRow>);

impl FromRequestParts<AppState> for MaybeActive {
    type Rejection = ControlError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match Active::from_request_parts(parts, state).await {
            Ok(Active(user)) => Ok(MaybeActive(Some(user))),
            Err(ControlError::Database(e)) => Err(ControlError::Database(e)),
            Err(_) => Ok(MaybeActive(None)),
        }
    }
}
