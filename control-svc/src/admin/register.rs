//! `POST /api/user/register`: a new account with a password, behind the registration switches, optionally with a
//! verified email address and an inviter's code.

use axum::Json;
use axum::extract::State;
use veloera_admin_types::{Envelope, RegisterRequest, Role, UserSelf};

use super::JsonBody;
use crate::accounts::{self, Registration};
use crate::db::{self, auth_codes::Purpose};
use crate::error::ControlError;
use crate::secrets::hash_password;
use crate::state::AppState;

/// Creates the account (not signed in: the newcomer signs in next, as in Veloera) and returns it.
pub async fn register(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<RegisterRequest>,
) -> Result<Json<Envelope<UserSelf>>, ControlError> {
    let settings = state.accounts();
    if !settings.register_enabled {
        return Err(ControlError::Forbidden("registration of new accounts is closed on this site".into()));
    }
    if !settings.password_register_enabled {
        return Err(ControlError::Forbidden(
            "registration with a password is closed on this site; sign up with GitHub or OIDC".into(),
        ));
    }
    let username = body.username.trim();
    accounts::check_username(username)?;
    accounts::check_password(&body.password)?;
    let email = match body.email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        Some(e) => accounts::check_email(e)?,
        None => String::new(),
    };
    if !email.is_empty() && !settings.email_domain_allowed(&email) {
        return Err(ControlError::BadRequest("this site accepts email addresses of certain domains only".into()));
    }
    // Codes are capitals and digits; accept them typed in lower case.
    let code = body.verification_code.as_deref().map(str::trim).unwrap_or_default().to_ascii_uppercase();
    if settings.email_verification_enabled {
        if email.is_empty() || code.is_empty() {
            return Err(ControlError::BadRequest(
                "this site requires a verified email address: send email and the verification_code from \
                 GET /api/verification"
                    .into(),
            ));
        }
        if db::users::email_taken(state.db(), &email).await? {
            return Err(ControlError::Conflict("this email address is already in use".into()));
        }
    }
    // Hashing takes tens of milliseconds: done before the write transaction, which holds SQLite's write lock.
    let hash = hash_password(&body.password)?;

    let mut tx = state.db().begin_write().await?;
    if settings.email_verification_enabled {
        let subject = email.to_lowercase();
        if db::auth_codes::consume(state.db(), &mut tx, Purpose::VerifyEmail, &subject, &code).await?.is_none() {
            // The failed guess is counted: keep that.
            tx.commit().await?;
            return Err(ControlError::BadRequest("the verification code is wrong or has expired".into()));
        }
    }
    let registration = Registration {
        username,
        password_hash: &hash,
        display_name: username,
        email: &email,
        role: Role::Common.as_i64(),
        base_quota: 0,
        aff_code: body.aff_code.as_deref(),
        github_id: "",
        oidc_id: "",
    };
    let id = accounts::create_in(state.db(), &mut tx, &settings, &registration).await?;
    tx.commit().await?;
    accounts::after_created(&state, id, username).await;
    let user = db::users::find_by_id(state.db(), id).await?.ok_or(ControlError::Unauthenticated)?;
    Ok(Json(Envelope::ok(user.to_self())))
}
