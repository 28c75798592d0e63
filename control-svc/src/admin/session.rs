//! Sessions: a signed, HttpOnly, SameSite=Strict cookie holding a random session id whose digest is a row of
//! `sessions` (so a session can be ended server-side: logout, a password change or reset, disabling the account,
//! "log out everywhere"), or a personal access token in `Authorization` (from `GET /api/user/token`), and the
//! extractors that turn either into a signed-in user (checked against the database on every call). What each
//! extractor requires is decided by `crate::access`, which the gRPC admin service shares.

use crate::access::{self, Need};
use crate::db::{self, users::UserRow};
use crate::error::ControlError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum_extra::extract::cookie::{Cookie, Key, SameSite, SignedCookieJar};

pub const COOKIE_NAME: &str = "session";
const SESSION_SECONDS: i64 = 30 * 24 * 3600;
/// About 190 bits from `[0-9a-zA-Z]`.
const SESSION_ID_CHARS: usize = 32;

/// Starts a session of `user_id` and returns the cookie that carries it.
pub async fn start_session(state: &AppState, user_id: i64) -> Result<Cookie<'static>, ControlError> {
    let id = crate::secrets::random_string(SESSION_ID_CHARS);
    db::sessions::create(state.db(), &session_digest(&id), user_id, SESSION_SECONDS).await?;
    Ok(Cookie::build((COOKIE_NAME, id))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .max_age(time::Duration::seconds(SESSION_SECONDS))
        .build())
}

/// The cookie that tells the browser to forget its session.
pub fn removal_cookie() -> Cookie<'static> {
    Cookie::build(COOKIE_NAME).path("/").build()
}

/// What `sessions.id_digest` holds for a session id: SHA-256, hex.
fn session_digest(id: &str) -> String {
    hex::encode(crate::secrets::key_digest(id))
}

/// The digest of the session a request's (validly signed) cookie names, if it carries one. Whether that session
/// is still alive is for the database to say.
pub fn cookie_session(jar: &SignedCookieJar<Key>) -> Option<String> {
    let cookie = jar.get(COOKIE_NAME)?;
    let id = cookie.value();
    (id.len() == SESSION_ID_CHARS && id.bytes().all(|b| b.is_ascii_alphanumeric())).then(|| session_digest(id))
}

/// Any signed-in, enabled user, even one that still has to change its password.
pub struct SignedIn(pub UserRow);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = ControlError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        // An `Authorization` header decides on its own: a bad token is refused even next to a good cookie.
        let user = match access_token(&parts.headers)? {
            Some(token) => access::token_owner(state, token).await?,
            None => cookie_user(parts, state).await?,
        };
        let user = user.ok_or(ControlError::Unauthenticated)?;
        // Veloera requires this header; we accept its absence but refuse a mismatch.
        if let Some(claimed) = parts.headers.get("Veloera-User").or_else(|| parts.headers.get("New-Api-User"))
            && claimed.to_str().ok().and_then(|s| s.trim().parse::<i64>().ok()) != Some(user.id)
        {
            return Err(ControlError::Unauthenticated);
        }
        access::require(&user, Need::SignedIn)?;
        Ok(SignedIn(user))
    }
}

/// The account of the live session the request's cookie names.
async fn cookie_user(parts: &mut Parts, state: &AppState) -> Result<Option<UserRow>, ControlError> {
    let jar =
        SignedCookieJar::<Key>::from_request_parts(parts, state).await.map_err(|_| ControlError::Unauthenticated)?;
    let digest = cookie_session(&jar).ok_or(ControlError::Unauthenticated)?;
    db::sessions::find_user(state.db(), &digest).await
}

/// The personal access token in `Authorization`, if the header is there (see [`access::personal_token`]).
fn access_token(headers: &HeaderMap) -> Result<Option<&str>, ControlError> {
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else { return Ok(None) };
    let value = value.to_str().map_err(|_| ControlError::Unauthenticated)?;
    access::personal_token(value).map(Some)
}

/// A signed-in user that has no pending password change.
pub struct Active(pub UserRow);

impl FromRequestParts<AppState> for Active {
    type Rejection = ControlError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let SignedIn(user) = SignedIn::from_request_parts(parts, state).await?;
        access::require(&user, Need::Active)?;
        Ok(Active(user))
    }
}

/// An active user with role admin or root.
pub struct Admin(pub UserRow);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ControlError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Active(user) = Active::from_request_parts(parts, state).await?;
        access::require(&user, Need::Admin)?;
        Ok(Admin(user))
    }
}

/// An active user with role root (site settings).
pub struct Root(pub UserRow);

impl FromRequestParts<AppState> for Root {
    type Rejection = ControlError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Active(user) = Active::from_request_parts(parts, state).await?;
        access::require(&user, Need::Root)?;
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
