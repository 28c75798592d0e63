//! Accounts: who may sign up and how. The typed settings, the rules for usernames and passwords, creating an
//! account (by password, OAuth or first-run setup) with its invitation rewards in one transaction, and the two
//! outside services accounts use: mail (`mail`) and OAuth providers (`oauth`).

pub mod mail;
pub mod oauth;
mod settings;

pub use settings::{AccountSettings, GitHubSettings, OidcSettings, SmtpSettings};
use veloera_admin_types::log_type;

use crate::db::logs::{AccountEvent, record_event};
use crate::db::{self, Db, users::NewAccount};
use crate::error::ControlError;
use crate::secrets::random_string;
use crate::state::AppState;

/// Veloera's limit on usernames.
pub const USERNAME_MAX_CHARS: usize = 12;

/// 1–12 characters from ASCII letters, digits, `_` and `-` (no look-alike characters, no spaces).
pub fn check_username(username: &str) -> Result<(), ControlError> {
    let len = username.chars().count();
    if len == 0 || len > USERNAME_MAX_CHARS {
        return Err(ControlError::BadRequest(format!("username must be 1 to {USERNAME_MAX_CHARS} characters")));
    }
    if !username.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(ControlError::BadRequest(
            "username may contain only letters (a-z, A-Z), digits, `_` and `-`".into(),
        ));
    }
    Ok(())
}

/// 8–20 characters, as Veloera requires.
pub fn check_password(password: &str) -> Result<(), ControlError> {
    let len = password.chars().count();
    if !(8..=20).contains(&len) {
        return Err(ControlError::BadRequest("password must be 8 to 20 characters".into()));
    }
    Ok(())
}

/// A syntactically plausible email address (the mail server has the last word), trimmed.
pub fn check_email(email: &str) -> Result<String, ControlError> {
    let email = email.trim();
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.rsplit_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
    if !valid {
        return Err(ControlError::BadRequest("email is not a valid email address".into()));
    }
    Ok(email.to_string())
}

/// An account to create.
pub struct Registration<'a> {
    pub username: &'a str,
    /// Argon2id hash; OAuth accounts get the hash of a random password nobody knows.
    pub password_hash: &'a str,
    pub display_name: &'a str,
    pub email: &'a str,
    pub role: i64,
    /// Starting quota before the new-user and invitee bonuses.
    pub base_quota: i64,
    /// The invitation code the newcomer brought; an unknown code is ignored, as in Veloera.
    pub aff_code: Option<&'a str>,
    pub github_id: &'a str,
    pub oidc_id: &'a str,
}

/// Creates the account inside `tx`: the user row (role, group `default`, a fresh invitation code, quota = base +
/// `QuotaForNewUser`), then, when invited, the invitation reward of [`db::invitations::reward_inviter`] (the
/// invitee's `QuotaForInvitee`, the inviter's count and `QuotaForInviter`), and the log lines. The caller checked
/// the username and commits. Returns the new id.
pub async fn create_in(
    db: &Db,
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    settings: &AccountSettings,
    reg: &Registration<'_>,
) -> Result<i64, ControlError> {
    if db::users::username_taken(db, tx, reg.username).await? {
        return Err(ControlError::Conflict(format!("the username {:?} is already taken", reg.username)));
    }
    let inviter_id = match reg.aff_code.map(str::trim).filter(|c| !c.is_empty()) {
        Some(code) => db::users::id_by_aff_code(db, tx, code).await?.unwrap_or(0),
        None => 0,
    };
    let aff_code = new_aff_code(db, tx).await?;
    let account = NewAccount {
        username: reg.username,
        password_hash: reg.password_hash,
        display_name: reg.display_name,
        email: reg.email,
        role: reg.role,
        quota: reg.base_quota.saturating_add(settings.quota_for_new_user),
        aff_code: &aff_code,
        github_id: reg.github_id,
        oidc_id: reg.oidc_id,
    };
    // Two sign-ups racing past the checks: the unique indexes decide.
    let id = db::users::insert_account(db, tx, &account).await.map_err(|e| match e.unique_violation() {
        Some(msg) => {
            if msg.contains("github_id") || msg.contains("oidc_id") {
                ControlError::Conflict("this external account is already linked to another user".into())
            } else {
                ControlError::Conflict(format!("the username {:?} is already taken", reg.username))
            }
        }
        None => e,
    })?;
    if settings.quota_for_new_user > 0 {
        let event = AccountEvent {
            user_id: id,
            log_type: log_type::SYSTEM,
            content: "new user bonus",
            quota: settings.quota_for_new_user,
        };
        record_event(db, tx, &event).await?;
    }
    if inviter_id != 0 {
        let reward = db::invitations::InvitationReward {
            invitee_quota: settings.quota_for_invitee,
            inviter_quota: settings.quota_for_inviter,
        };
        db::invitations::reward_inviter(db, tx, inviter_id, id, reward).await?;
    }
    Ok(id)
}

/// Four random characters (Veloera's length), unused so far.
async fn new_aff_code(db: &Db, tx: &mut sqlx::Transaction<'_, sqlx::Any>) -> Result<String, ControlError> {
    for _ in 0..8 {
        let code = random_string(4);
        if !db::users::aff_code_taken(db, tx, &code).await? {
            return Ok(code);
        }
    }
    // Millions of users: fall back to a longer code rather than fail the registration.
    Ok(random_string(8))
}

/// After the account's transaction committed: the default token when `GENERATE_DEFAULT_TOKEN` is set. A failure
/// here leaves the account usable (a token can be created by hand), so it is logged, not returned.
pub async fn after_created(state: &AppState, id: i64, username: &str) {
    if state.generate_default_token()
        && let Err(e) = crate::bootstrap::create_default_token(state, id, username).await
    {
        tracing::error!(error = %e, user_id = id, "could not create the default token of a new account");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_short_and_plain() {
        for ok in ["a", "root2", "under_score", "dash-ed", "ABCDEFGHIJKL"] {
            assert!(check_username(ok).is_ok(), "{ok}");
        }
        for bad in ["", "ABCDEFGHIJKLM", "with space", "at@sign", "rооt", "tab\t"] {
            assert!(check_username(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn passwords_are_8_to_20_characters() {
        assert!(check_password("1234567").is_err());
        assert!(check_password("12345678").is_ok());
        assert!(check_password(&"x".repeat(20)).is_ok());
        assert!(check_password(&"x".repeat(21)).is_err());
    }

    #[test]
    fn emails_need_a_local_part_and_a_dotted_domain() {
        assert_eq!(check_email("  a@b.io ").unwrap(), "a@b.io");
        for bad in ["", "a@b", "@b.io", "a b@c.io", "plain"] {
            assert!(check_email(bad).is_err(), "{bad:?}");
        }
    }
}
