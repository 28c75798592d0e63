//! OAuth sign-in. `GET /api/oauth/state` hands out a random state and keeps it in a signed, HttpOnly cookie, so the
//! callback is bound to the browser that started the sign-in. `GET /api/oauth/github` and `GET /api/oauth/oidc`
//! check the state against that cookie and use it once, exchange the code at the provider, then sign the linked
//! account in, or create one when registration is open.

use axum::Json;
use axum::extract::{Query, State};
use axum_extra::extract::cookie::{Cookie, Key, SameSite, SignedCookieJar};
use serde::Deserialize;
use subtle::ConstantTimeEq;
use veloera_admin_types::{Envelope, Role, UserSelf, UserStatus};

use super::session::start_session;
use crate::accounts::oauth::Identity;
use crate::accounts::{self, AccountSettings, Registration};
use crate::db::users::{ExternalId, UserRow};
use crate::db::{self, auth_codes::Purpose, now_secs};
use crate::error::ControlError;
use crate::secrets::random_string;
use crate::state::AppState;

const STATE_COOKIE: &str = "oauth_state";
const STATE_COOKIE_PATH: &str = "/api/oauth";
/// Time from `GET /api/oauth/state` to the callback.
const STATE_TTL_SECS: i64 = 10 * 60;
const DISPLAY_NAME_MAX_CHARS: usize = 20;

#[derive(Deserialize)]
pub struct StateQuery {
    /// An invitation code, applied if the sign-in creates an account.
    #[serde(default)]
    aff: String,
}

/// `data` is the state to pass to the provider. The cookie is SameSite=Lax, not Strict: the provider sends the
/// browser back with a cross-site navigation, and a Strict cookie would not come along.
pub async fn issue_state(
    jar: SignedCookieJar<Key>,
    Query(query): Query<StateQuery>,
) -> (SignedCookieJar<Key>, Json<Envelope<String>>) {
    let state = random_string(32);
    let aff: String = query.aff.chars().filter(char::is_ascii_alphanumeric).take(16).collect();
    let cookie = Cookie::build((STATE_COOKIE, format!("{state}.{}.{aff}", now_secs())))
        .path(STATE_COOKIE_PATH)
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(time::Duration::seconds(STATE_TTL_SECS))
        .build();
    (jar.add(cookie), Json(Envelope::ok(state)))
}

#[derive(Deserialize)]
pub struct Callback {
    #[serde(default)]
    code: String,
    #[serde(default)]
    state: String,
}

type SignedInAnswer = (SignedCookieJar<Key>, Json<Envelope<UserSelf>>);

pub async fn github(
    State(app): State<AppState>,
    jar: SignedCookieJar<Key>,
    Query(callback): Query<Callback>,
) -> Result<SignedInAnswer, ControlError> {
    let settings = app.accounts();
    if !settings.github.enabled {
        return Err(ControlError::Forbidden("sign-in with GitHub is not enabled on this site".into()));
    }
    let (jar, aff) = use_state(&app, jar, &callback).await?;
    let identity = app.oauth().github_identity(&settings.github, &callback.code).await?;
    let user = sign_in_or_register(&app, &settings, ExternalId::GitHub, &identity, &aff).await?;
    Ok((jar.add(start_session(&app, user.id).await?), Json(Envelope::ok(user.to_self()))))
}

/// The redirect URI sent with the code is `{ServerAddress}/oauth/oidc` (the UI's callback page), which the
/// provider checks against the one the sign-in started with.
pub async fn oidc(
    State(app): State<AppState>,
    jar: SignedCookieJar<Key>,
    Query(callback): Query<Callback>,
) -> Result<SignedInAnswer, ControlError> {
    let settings = app.accounts();
    if !settings.oidc.enabled {
        return Err(ControlError::Forbidden("sign-in with OIDC is not enabled on this site".into()));
    }
    let (jar, aff) = use_state(&app, jar, &callback).await?;
    let redirect_uri = format!("{}/oauth/oidc", settings.server_address);
    let identity = app.oauth().oidc_identity(&settings.oidc, &redirect_uri, &callback.code).await?;
    let user = sign_in_or_register(&app, &settings, ExternalId::Oidc, &identity, &aff).await?;
    Ok((jar.add(start_session(&app, user.id).await?), Json(Envelope::ok(user.to_self()))))
}

/// Checks the callback's state against the cookie (403 when missing, different, expired or used before) and
/// records it as used, in the database, so no control instance accepts it again. Returns the jar without the
/// cookie and the invitation code the cookie carried.
async fn use_state(
    app: &AppState,
    jar: SignedCookieJar<Key>,
    callback: &Callback,
) -> Result<(SignedCookieJar<Key>, String), ControlError> {
    let mismatch =
        || ControlError::Forbidden("the sign-in state does not match this browser's; start the sign-in again".into());
    let cookie = jar.get(STATE_COOKIE).ok_or_else(mismatch)?;
    let mut fields = cookie.value().splitn(3, '.');
    let expected = fields.next().unwrap_or_default();
    let issued: i64 = fields.next().and_then(|s| s.parse().ok()).ok_or_else(mismatch)?;
    let aff = fields.next().unwrap_or_default().to_string();
    let given = callback.state.trim();
    if expected.is_empty() || given.is_empty() || !bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
        return Err(mismatch());
    }
    if issued + STATE_TTL_SECS < now_secs() {
        return Err(ControlError::Forbidden("the sign-in took too long; start it again".into()));
    }
    if !db::auth_codes::use_once(app.db(), Purpose::OAuthState, expected, issued + STATE_TTL_SECS).await? {
        return Err(ControlError::Forbidden("this sign-in state was used already; start the sign-in again".into()));
    }
    if callback.code.trim().is_empty() {
        return Err(ControlError::BadRequest("the provider sent no code".into()));
    }
    Ok((jar.remove(Cookie::build(STATE_COOKIE).path(STATE_COOKIE_PATH)), aff))
}

/// The account linked to the identity, or a new one named `github_<id>` / `oidc_<id>` (Veloera's names) when
/// registration is open. New accounts have no password (an empty hash never verifies).
async fn sign_in_or_register(
    app: &AppState,
    settings: &AccountSettings,
    kind: ExternalId,
    identity: &Identity,
    aff: &str,
) -> Result<UserRow, ControlError> {
    if let Some(user) = linked(app, kind, &identity.subject).await? {
        return Ok(user);
    }
    if !settings.register_enabled {
        return Err(ControlError::Forbidden(
            "no account is linked to this sign-in, and registration of new accounts is closed on this site".into(),
        ));
    }
    let prefix = match kind {
        ExternalId::GitHub => "github_",
        ExternalId::Oidc => "oidc_",
    };
    // A random unique name to insert with; replaced by `<prefix><id>` in the same transaction once the id exists.
    let provisional_name = format!("{prefix}{}", random_string(16));
    let display_name: String = Some(identity.login.as_str())
        .filter(|l| !l.is_empty())
        .unwrap_or(prefix.trim_end_matches('_'))
        .chars()
        .take(DISPLAY_NAME_MAX_CHARS)
        .collect();
    let email = accounts::check_email(&identity.email).unwrap_or_default();
    let registration = Registration {
        username: &provisional_name,
        password_hash: "",
        display_name: &display_name,
        email: &email,
        role: Role::Common.as_i64(),
        base_quota: 0,
        aff_code: Some(aff),
        github_id: if kind == ExternalId::GitHub { &identity.subject } else { "" },
        oidc_id: if kind == ExternalId::Oidc { &identity.subject } else { "" },
    };
    let mut tx = app.db().begin_write().await?;
    // The same identity signing up twice at once: on SQLite the write lock orders them and the second finds the
    // first's account here. PostgreSQL and MySQL do not lock on this read, so two sign-ups of one identity within
    // the same few milliseconds could still make two accounts (no unique index on the id columns).
    if let Some(user) = linked(app, kind, &identity.subject).await? {
        return Ok(user);
    }
    let id = accounts::create_in(app.db(), &mut tx, settings, &registration).await?;
    let mut username = format!("{prefix}{id}");
    if db::users::username_taken(app.db(), &mut tx, &username).await? {
        username = format!("{prefix}{id}_{}", random_string(4));
    }
    db::users::rename(app.db(), &mut tx, id, &username).await?;
    tx.commit().await?;
    accounts::after_created(app, id, &username).await;
    db::users::find_by_id(app.db(), id).await?.ok_or(ControlError::Unauthenticated)
}

/// The live, enabled account linked to the identity, if any (403 for a deleted or disabled one).
async fn linked(app: &AppState, kind: ExternalId, subject: &str) -> Result<Option<UserRow>, ControlError> {
    let Some((user, deleted)) = db::users::find_by_external_id(app.db(), kind, subject).await? else {
        return Ok(None);
    };
    if deleted {
        return Err(ControlError::Forbidden("the account linked to this sign-in has been deleted".into()));
    }
    if user.status != UserStatus::Enabled.as_i64() {
        return Err(ControlError::Forbidden("this account is disabled".into()));
    }
    Ok(Some(user))
}
