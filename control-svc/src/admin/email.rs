//! Mail-based account routes: `GET /api/verification` (a code to prove an address, at registration or before
//! binding it), `GET /api/oauth/email/bind` (the signed-in user's new address, with that code and the current
//! password), `GET /api/reset_password` (a reset link) and `POST /api/user/reset` (a new random password,
//! returned once).

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use veloera_admin_types::{Envelope, PasswordReset, log_type};

use super::JsonBody;
use super::session::Active;
use crate::accounts::mail::{self, Mail};
use crate::accounts::{self, AccountSettings};
use crate::db::login_throttle::Attempt;
use crate::db::logs::AccountEvent;
use crate::db::users::UserRow;
use crate::db::{self, auth_codes::NewCode, auth_codes::Purpose};
use crate::error::ControlError;
use crate::secrets::{hash_password, random_string, verify_password};
use crate::state::AppState;

/// Codes and reset links are valid this long (Veloera: 10 minutes).
const CODE_TTL_SECS: i64 = 10 * 60;
/// A new code for the same address is refused this soon after the last one.
const RESEND_COOLDOWN_SECS: i64 = 30;
const VERIFICATION_CODE_CHARS: usize = 6;
const RESET_TOKEN_CHARS: usize = 32;
/// Veloera's length for the password a reset hands out.
const RESET_PASSWORD_CHARS: usize = 12;

#[derive(Deserialize)]
pub struct EmailQuery {
    #[serde(default)]
    email: String,
}

/// Sends a 6-character code to `email`. Refused when the address is already used by an account (as Veloera
/// does), or outside the domain whitelist.
pub async fn send_verification(
    State(state): State<AppState>,
    Query(query): Query<EmailQuery>,
) -> Result<Json<Envelope<()>>, ControlError> {
    let settings = state.accounts();
    let email = accounts::check_email(&query.email)?;
    if !settings.smtp.configured() {
        return Err(mail::not_configured());
    }
    if !settings.email_domain_allowed(&email) {
        return Err(ControlError::BadRequest("this site accepts email addresses of certain domains only".into()));
    }
    if db::users::email_taken(state.db(), &email).await? {
        return Err(ControlError::Conflict("this email address is already in use".into()));
    }
    let code = verification_code();
    let subject = email.to_lowercase();
    let new = NewCode {
        purpose: Purpose::VerifyEmail,
        subject: &subject,
        code: &code,
        user_id: 0,
        ttl_secs: CODE_TTL_SECS,
        cooldown_secs: RESEND_COOLDOWN_SECS,
    };
    db::auth_codes::issue(state.db(), &new).await?;
    let body = format!(
        "Your verification code for {site}: {code}\n\nIt is valid for {minutes} minutes. If you did not ask for it, \
         ignore this message.\n",
        site = settings.system_name,
        minutes = CODE_TTL_SECS / 60,
    );
    let subject_line = format!("{} email verification", settings.system_name);
    mail::send(&settings.smtp, &Mail { to: &email, subject: &subject_line, body: &body }).await?;
    Ok(Json(Envelope { success: true, message: String::new(), data: None }))
}

/// Mails a reset link (`{ServerAddress}/user/reset?email=…&token=…`) to the account with this address. The answer
/// is the same whether or not an account has it, so the route does not reveal who is registered.
pub async fn send_password_reset(
    State(state): State<AppState>,
    Query(query): Query<EmailQuery>,
) -> Result<Json<Envelope<()>>, ControlError> {
    let settings = state.accounts();
    let email = accounts::check_email(&query.email)?;
    if !settings.smtp.configured() {
        return Err(mail::not_configured());
    }
    let sent = Json(Envelope {
        success: true,
        message: "if an account uses this address, a reset link has been sent to it".into(),
        data: None,
    });
    let Some(user) = db::users::find_by_email(state.db(), &email).await? else { return Ok(sent) };
    // Whatever happens next, the answer is the one an unknown address gets: a cooldown or a failing mail server
    // answered differently would tell registered addresses apart. The operator learns of failures from the log.
    match mail_reset_link(&state, &settings, &user, &email).await {
        Ok(()) => {}
        Err(ControlError::RateLimited(_)) => {
            tracing::info!(user_id = user.id, "password reset asked again within the cooldown; no mail sent");
        }
        Err(e @ ControlError::Upstream { .. }) => {
            tracing::warn!(user_id = user.id, error = %e, "the password reset mail could not be sent");
        }
        Err(e) => return Err(e),
    }
    Ok(sent)
}

/// Issues a reset token for `user` and mails the link to `email`.
async fn mail_reset_link(
    state: &AppState,
    settings: &AccountSettings,
    user: &db::users::UserRow,
    email: &str,
) -> Result<(), ControlError> {
    let token = random_string(RESET_TOKEN_CHARS);
    let subject = email.to_lowercase();
    let new = NewCode {
        purpose: Purpose::ResetPassword,
        subject: &subject,
        code: &token,
        user_id: user.id,
        ttl_secs: CODE_TTL_SECS,
        cooldown_secs: RESEND_COOLDOWN_SECS,
    };
    db::auth_codes::issue(state.db(), &new).await?;
    let link = format!(
        "{}/user/reset?email={}&token={token}",
        settings.server_address,
        url::form_urlencoded::byte_serialize(email.as_bytes()).collect::<String>()
    );
    let body = format!(
        "Someone asked to reset the password of the {site} account {name}.\n\nOpen this link within {minutes} \
         minutes to get a new password:\n{link}\n\nReset token: {token}\n\nIf it was not you, ignore this message; \
         the password stays as it is.\n",
        site = settings.system_name,
        name = user.username,
        minutes = CODE_TTL_SECS / 60,
    );
    let subject_line = format!("{} password reset", settings.system_name);
    mail::send(&settings.smtp, &Mail { to: email, subject: &subject_line, body: &body }).await
}

/// Checks the reset token and gives the account a new random password, returned as `data` (Veloera's behaviour;
/// the user changes it after signing in). The token works once.
pub async fn reset_password(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<PasswordReset>,
) -> Result<Json<Envelope<String>>, ControlError> {
    let email = accounts::check_email(&body.email)?;
    let token = body.token.trim();
    if token.is_empty() {
        return Err(ControlError::BadRequest("token is required".into()));
    }
    let password = random_string(RESET_PASSWORD_CHARS);
    let hash = hash_password(&password)?;
    let mut tx = state.db().begin_write().await?;
    let subject = email.to_lowercase();
    let Some(user_id) = db::auth_codes::consume(state.db(), &mut tx, Purpose::ResetPassword, &subject, token).await?
    else {
        tx.commit().await?;
        return Err(ControlError::BadRequest("the reset link is wrong, used or expired; ask for a new one".into()));
    };
    db::users::set_password_in(state.db(), &mut tx, user_id, &hash).await?;
    db::sessions::end_all_of_in(state.db(), &mut tx, user_id).await?;
    tx.commit().await?;
    state.events().publish(crate::events::Change::User { user_id });
    Ok(Json(Envelope::ok(password)))
}

/// The new address, the code mailed to it and the caller's current password.
#[derive(Deserialize)]
pub struct BindQuery {
    #[serde(default)]
    email: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    password: String,
}

/// `GET /api/oauth/email/bind?email=&code=&password=` (Veloera's route; `POST` with the same fields as JSON keeps
/// the password out of URLs): sets the signed-in user's email address. A session alone is not enough, since the
/// address is where password resets go: it takes the code sent to the new address by `GET /api/verification`
/// and the current password (counted by the same per-account throttle as sign-in).
pub async fn bind_email(
    State(state): State<AppState>,
    Active(user): Active,
    Query(query): Query<BindQuery>,
) -> Result<Json<Envelope<()>>, ControlError> {
    bind(&state, &user, query).await
}

pub async fn bind_email_json(
    State(state): State<AppState>,
    Active(user): Active,
    JsonBody(body): JsonBody<BindQuery>,
) -> Result<Json<Envelope<()>>, ControlError> {
    bind(&state, &user, body).await
}

async fn bind(state: &AppState, user: &UserRow, request: BindQuery) -> Result<Json<Envelope<()>>, ControlError> {
    let email = accounts::check_email(&request.email)?;
    let code = request.code.trim();
    if code.is_empty() {
        return Err(ControlError::BadRequest(
            "code is required: ask for one with GET /api/verification?email=<new address>".into(),
        ));
    }
    if request.password.is_empty() {
        return Err(ControlError::BadRequest("password (the current password of this account) is required".into()));
    }
    let throttle = db::login_throttle::subject(&user.username);
    let locks_for = match db::login_throttle::begin(state.db(), &throttle).await? {
        Attempt::Locked { wait_secs } => return Err(super::users::locked(wait_secs)),
        Attempt::Proceed { locks_for } => locks_for,
    };
    if !verify_password(&request.password, &user.password_hash) {
        if let Some(secs) = locks_for {
            super::users::note_lock(state, Some(user), &user.username, secs).await?;
            return Err(super::users::locked(secs));
        }
        return Err(ControlError::BadRequest("password is wrong".into()));
    }
    db::login_throttle::succeeded(state.db(), &throttle).await?;
    let settings = state.accounts();
    if !settings.email_domain_allowed(&email) {
        return Err(ControlError::BadRequest("this site accepts email addresses of certain domains only".into()));
    }
    if db::users::find_by_email(state.db(), &email).await?.is_some_and(|other| other.id != user.id) {
        return Err(ControlError::Conflict("this email address is already in use".into()));
    }
    let subject = email.to_lowercase();
    let mut tx = state.db().begin_write().await?;
    if db::auth_codes::consume(state.db(), &mut tx, Purpose::VerifyEmail, &subject, &code.to_ascii_uppercase())
        .await?
        .is_none()
    {
        tx.commit().await?;
        return Err(ControlError::BadRequest("the verification code is wrong or expired".into()));
    }
    db::users::set_email_in(state.db(), &mut tx, user.id, &email).await?;
    let content = format!("email address changed from {:?} to {email:?} (proven by a code sent to it)", user.email);
    let event = AccountEvent { user_id: user.id, log_type: log_type::SYSTEM, content: &content, quota: 0 };
    db::logs::record_event(state.db(), &mut tx, &event).await?;
    tx.commit().await?;
    Ok(Json(Envelope { success: true, message: String::new(), data: None }))
}

/// Six characters from digits and capitals without look-alikes (0/O, 1/I): easy to type, 32^6 ≈ 1.07 billion.
fn verification_code() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    let mut rng = rand::rng();
    (0..VERIFICATION_CODE_CHARS).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}
