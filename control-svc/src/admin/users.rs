//! `/api/user/*`: login (behind the per-account throttle), logout and "log out everywhere", the signed-in user's
//! own profile, settings, personal access token and self-deletion.

use axum::Json;
use axum::extract::State;
use axum_extra::extract::cookie::{Key, SignedCookieJar};
use veloera_admin_types::{Envelope, LoginRequest, Role, UpdateSelf, UserSelf, UserSetting, UserStatus, log_type};

use super::JsonBody;
use super::session::{Active, SignedIn, cookie_session, removal_cookie, start_session};
use crate::access::access_token_digest;
use crate::db::{self, login_throttle::Attempt, users::UserRow};
use crate::error::ControlError;
use crate::events::Change;
use crate::notify::egress::EgressPolicy;
use crate::secrets::{hash_password, needs_rehash, verify_password};
use crate::state::AppState;

pub async fn login(
    State(state): State<AppState>,
    jar: SignedCookieJar<Key>,
    JsonBody(body): JsonBody<LoginRequest>,
) -> Result<(SignedCookieJar<Key>, Json<Envelope<UserSelf>>), ControlError> {
    let username = body.username.trim();
    if username.is_empty() || body.password.is_empty() {
        return Err(ControlError::BadRequest("username and password are required".into()));
    }
    let user = db::users::find_by_username(state.db(), username).await?;
    // With password login switched off only root may still use it, so the site cannot lock its owner out. Decided
    // before the password is checked: a switched-off login must not tell right passwords from wrong ones.
    let is_root = user.as_ref().is_some_and(|u| u.role >= Role::Root.as_i64());
    if !is_root && !state.accounts().password_login_enabled {
        return Err(ControlError::Forbidden(
            "password sign-in is switched off on this site; sign in with GitHub or OIDC".into(),
        ));
    }
    let subject = db::login_throttle::subject(username);
    let locks_for = match db::login_throttle::begin(state.db(), &subject).await? {
        Attempt::Locked { wait_secs } => return Err(locked(wait_secs)),
        Attempt::Proceed { locks_for } => locks_for,
    };
    // Verify against a dummy hash when the user is unknown, so timing does not reveal which usernames exist.
    let hash = user.as_ref().map(|u| u.password_hash.as_str()).unwrap_or(DUMMY_HASH.as_str());
    let ok = verify_password(&body.password, hash);
    let user = match user {
        Some(u) if ok => u,
        user => {
            return Err(match locks_for {
                Some(secs) => {
                    note_lock(&state, user.as_ref(), username, secs).await?;
                    locked(secs)
                }
                None => ControlError::BadCredentials,
            });
        }
    };
    db::login_throttle::succeeded(state.db(), &subject).await?;
    if needs_rehash(&user.password_hash) {
        // An imported bcrypt hash is replaced by argon2id now that the password is known.
        db::users::rehash_password(state.db(), user.id, &user.password_hash, &hash_password(&body.password)?).await?;
    }
    if user.status != UserStatus::Enabled.as_i64() {
        return Err(ControlError::Forbidden("this account is disabled".into()));
    }
    let mut envelope = Envelope::ok(user.to_self());
    if user.must_change_password != 0 {
        envelope.message = "please change the default password before doing anything else".into();
    }
    Ok((jar.add(start_session(&state, user.id).await?), Json(envelope)))
}

/// The answer while an account name is locked (the same for unknown names, so it reveals nothing).
pub(super) fn locked(wait_secs: i64) -> ControlError {
    let minutes = (wait_secs + 59) / 60;
    ControlError::RateLimited(format!(
        "too many failed sign-ins for this account; it is locked for {minutes} more minute(s)"
    ))
}

/// Records that `username` was just locked: a system log row on the account when it exists, and a warning.
pub(super) async fn note_lock(
    state: &AppState,
    user: Option<&UserRow>,
    username: &str,
    secs: i64,
) -> Result<(), ControlError> {
    tracing::warn!(username = ?username, lock_secs = secs, "password sign-in locked after repeated failures");
    let Some(user) = user else { return Ok(()) };
    let content = format!(
        "sign-in locked for {} minutes after {} wrong passwords",
        secs / 60,
        db::login_throttle::FAILURES_TO_LOCK
    );
    let mut tx = state.db().begin_write().await?;
    let event = db::logs::AccountEvent { user_id: user.id, log_type: log_type::SYSTEM, content: &content, quota: 0 };
    db::logs::record_event(state.db(), &mut tx, &event).await?;
    tx.commit().await?;
    Ok(())
}

/// Argon2id hash of a random string nobody knows.
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash_password(&crate::secrets::random_string(32)).unwrap_or_default());

/// `GET /api/user/logout`: ends this browser's session (the cookie stops working everywhere it was copied) and
/// tells the browser to forget it. Answers the same with no or a dead session.
pub async fn logout(
    State(state): State<AppState>,
    jar: SignedCookieJar<Key>,
) -> Result<(SignedCookieJar<Key>, Json<Envelope<()>>), ControlError> {
    if let Some(session) = cookie_session(&jar) {
        let user = db::sessions::find_user(state.db(), &session).await?;
        db::sessions::end(state.db(), &session).await?;
        // Relays cache a session's playground caller; this drops it.
        if let Some(user) = user {
            state.events().publish(Change::User { user_id: user.id });
        }
    }
    Ok((jar.remove(removal_cookie()), Json(Envelope { success: true, message: String::new(), data: None })))
}

/// `POST /api/user/logout_all`: ends every session of the caller but the one making the request ("log out
/// everywhere else"); `data` is how many ended. Personal access tokens are not sessions and keep working.
pub async fn logout_everywhere(
    State(state): State<AppState>,
    jar: SignedCookieJar<Key>,
    SignedIn(user): SignedIn,
) -> Result<Json<Envelope<u64>>, ControlError> {
    let ended = db::sessions::end_all_of(state.db(), user.id, cookie_session(&jar).as_deref()).await?;
    state.events().publish(Change::User { user_id: user.id });
    Ok(Json(Envelope::ok(ended)))
}

/// `GET /api/user/token`: a new personal access token for the admin API (`Authorization: <token>`), returned this
/// once as `data`. Only its digest is stored; the previous token stops working.
pub async fn access_token(
    State(state): State<AppState>,
    Active(user): Active,
) -> Result<Json<Envelope<String>>, ControlError> {
    let token = crate::secrets::random_string(ACCESS_TOKEN_CHARS);
    db::users::set_access_token_digest(state.db(), user.id, &access_token_digest(&token)).await?;
    Ok(Json(Envelope::ok(token)))
}

/// About 238 bits from `[0-9a-zA-Z]`; never starts with `sk-`, so it cannot be taken for a relay key.
const ACCESS_TOKEN_CHARS: usize = 40;

/// The signed-in user; quota held in relays' leases still counts as theirs.
pub async fn get_self(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
) -> Result<Json<Envelope<UserSelf>>, ControlError> {
    let mut shown = user.to_self();
    let held = db::leases::outstanding_for_user(state.db(), user.id).await?;
    shown.quota += held.quota;
    shown.subscription_quota += held.subscription;
    // The profile page edits these; a stored text that no longer parses shows as the defaults.
    let stored = db::users::setting(state.db(), user.id).await?;
    let mut setting: UserSetting = serde_json::from_str(&stored).unwrap_or_default();
    setting.webhook_secret = None;
    shown.setting = Some(setting);
    Ok(Json(Envelope::ok(shown)))
}

/// Profile and password change. Allowed while a password change is pending (that is how it gets done). A new
/// password ends every other session of the account. The email address is not changed here: that needs a code
/// sent to the new address (`GET /api/oauth/email/bind`); the current address may be sent back unchanged, as
/// Veloera's UI does with the whole profile.
pub async fn update_self(
    State(state): State<AppState>,
    jar: SignedCookieJar<Key>,
    SignedIn(user): SignedIn,
    JsonBody(body): JsonBody<UpdateSelf>,
) -> Result<Json<Envelope<UserSelf>>, ControlError> {
    if let Some(email) = &body.email
        && !email.trim().eq_ignore_ascii_case(user.email.trim())
    {
        return Err(ControlError::BadRequest(
            "the email address cannot be changed here: ask for a code at GET /api/verification?email=<new address>, \
             then bind it with GET /api/oauth/email/bind?email=<new address>&code=<code>&password=<current password>"
                .into(),
        ));
    }
    if let Some(new_password) = body.password.as_deref().filter(|p| !p.is_empty()) {
        let original = body.original_password.as_deref().unwrap_or_default();
        if !verify_password(original, &user.password_hash) {
            return Err(ControlError::BadRequest("original_password is wrong".into()));
        }
        crate::accounts::check_password(new_password)?;
        if new_password == original {
            return Err(ControlError::BadRequest("the new password must differ from the current one".into()));
        }
        db::users::set_password(state.db(), user.id, &hash_password(new_password)?).await?;
        db::sessions::end_all_of(state.db(), user.id, cookie_session(&jar).as_deref()).await?;
        state.events().publish(Change::User { user_id: user.id });
    } else if user.must_change_password != 0 {
        return Err(ControlError::Forbidden("the default password must be changed first".into()));
    }
    if let Some(display_name) = body.display_name {
        if display_name.chars().count() > 20 {
            return Err(ControlError::BadRequest("display_name must be at most 20 characters".into()));
        }
        db::users::set_display_name(state.db(), user.id, &display_name).await?;
    }
    let fresh = db::users::find_by_id(state.db(), user.id).await?.ok_or(ControlError::Unauthenticated)?;
    Ok(Json(Envelope::ok(fresh.to_self())))
}

/// `PUT /api/user/setting`: replaces the caller's notification, unpriced-model and IP-logging settings (Veloera
/// replaces them whole). Keys of `users.setting` this route does not own are kept. Answers with the stored
/// settings, the webhook secret left out.
pub async fn update_setting(
    State(state): State<AppState>,
    Active(user): Active,
    JsonBody(mut body): JsonBody<UserSetting>,
) -> Result<Json<Envelope<UserSetting>>, ControlError> {
    check_setting(&body, state.notifier().egress().policy())?;
    let stored = db::users::setting(state.db(), user.id).await?;
    let mut object = match serde_json::from_str::<serde_json::Value>(&stored) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    if body.webhook_secret.is_none() {
        body.webhook_secret = object.get("webhook_secret").and_then(|v| v.as_str()).map(str::to_string);
    }
    if body.webhook_secret.as_deref() == Some("") {
        body.webhook_secret = None;
        object.remove("webhook_secret");
    }
    let serde_json::Value::Object(fields) =
        serde_json::to_value(&body).map_err(|e| ControlError::Internal(e.to_string()))?
    else {
        return Err(ControlError::Internal("user settings did not serialise to an object".into()));
    };
    object.extend(fields);
    let text = serde_json::Value::Object(object).to_string();
    if text.len() > MAX_SETTING_BYTES {
        return Err(ControlError::BadRequest(format!("the settings are too long (at most {MAX_SETTING_BYTES} bytes)")));
    }
    db::users::set_setting(state.db(), user.id, &text).await?;
    state.events().publish(Change::User { user_id: user.id });
    body.webhook_secret = None;
    Ok(Json(Envelope::ok(body)))
}

/// `users.setting` is `VARCHAR(2048)` on MySQL.
const MAX_SETTING_BYTES: usize = 2048;

fn check_setting(s: &UserSetting, egress: EgressPolicy) -> Result<(), ControlError> {
    let bad = |m: &str| Err(ControlError::BadRequest(m.to_string()));
    if !matches!(s.notify_type.as_str(), "" | "email" | "webhook") {
        return bad("notify_type must be email or webhook (empty means email)");
    }
    if !s.quota_warning_threshold.is_finite() || s.quota_warning_threshold < 0.0 {
        return bad("quota_warning_threshold must be a number of at least 0");
    }
    // As Veloera: a chosen way needs a threshold; with neither, the site's `QuotaRemindThreshold` applies.
    if !s.notify_type.is_empty() && s.quota_warning_threshold <= 0.0 {
        return bad("quota_warning_threshold must be above 0 when notify_type is set");
    }
    if s.notify_type == "webhook" && s.webhook_url.trim().is_empty() {
        return bad("webhook_url is required when notify_type is webhook");
    }
    if !s.webhook_url.is_empty() {
        let ok = s.webhook_url.len() <= 512
            && url::Url::parse(&s.webhook_url)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        if !ok {
            return bad("webhook_url must be an http(s) URL of at most 512 characters");
        }
        // A literal private address (or localhost) can be refused now; a name is checked each time it is called.
        if let Some(url) = url::Url::parse(&s.webhook_url).ok()
            && let Err(why) = egress.check_url(&url)
        {
            return Err(ControlError::BadRequest(format!("webhook_url may not be used: {why}")));
        }
    }
    if s.webhook_secret.as_ref().is_some_and(|w| w.chars().count() > 256) {
        return bad("webhook_secret must be at most 256 characters");
    }
    let email = &s.notification_email;
    if !email.is_empty() && (email.chars().count() > 100 || !email.contains('@') || email.contains(char::is_whitespace))
    {
        return bad("notification_email is not an email address");
    }
    Ok(())
}

/// `DELETE /api/user/self`: the caller deletes their own account (soft delete; their tokens stop working at once).
/// Root may not: the site would lose its owner.
pub async fn delete_self(
    State(state): State<AppState>,
    jar: SignedCookieJar<Key>,
    Active(user): Active,
) -> Result<(SignedCookieJar<Key>, Json<Envelope<()>>), ControlError> {
    if user.role >= Role::Root.as_i64() {
        return Err(ControlError::Forbidden("the root account cannot be deleted".into()));
    }
    db::user_admin::soft_delete(state.db(), user.id).await?;
    db::sessions::end_all_of(state.db(), user.id, None).await?;
    state.events().publish(Change::User { user_id: user.id });
    let jar = jar.remove(removal_cookie());
    Ok((jar, Json(Envelope { success: true, message: String::new(), data: None })))
}
