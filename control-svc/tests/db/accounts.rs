//! Accounts on every backend: registration with invitation rewards in one transaction, one-time codes (digests,
//! expiry, wrong guesses, cooldown), used OAuth states, the setup record, and the account lookups.

use control_svc::accounts::{self, AccountSettings, Registration};
use control_svc::db::auth_codes::{self, NewCode, Purpose};
use control_svc::db::users::ExternalId;
use control_svc::db::{self, Db};
use control_svc::error::ControlError;

fn settings(pairs: &[(&str, &str)]) -> AccountSettings {
    AccountSettings::from_options(&pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
}

fn registration<'a>(username: &'a str, aff_code: Option<&'a str>) -> Registration<'a> {
    Registration {
        username,
        password_hash: "h",
        display_name: username,
        email: "",
        role: 1,
        base_quota: 0,
        aff_code,
        github_id: "",
        oidc_id: "",
    }
}

async fn create(db: &Db, s: &AccountSettings, reg: &Registration<'_>) -> Result<i64, ControlError> {
    let mut tx = db.begin_write().await?;
    let id = accounts::create_in(db, &mut tx, s, reg).await?;
    tx.commit().await?;
    Ok(id)
}

async fn account_columns(db: &Db, id: i64) -> (i64, i64, i64, i64, i64, String) {
    sqlx::query_as(
        &db.sql("SELECT quota, inviter_id, aff_count, aff_quota, aff_history_quota, aff_code FROM users WHERE id = ?"),
    )
    .bind(id)
    .fetch_one(db.pool())
    .await
    .unwrap()
}

fn rewards() -> AccountSettings {
    settings(&[("QuotaForNewUser", "10"), ("QuotaForInvitee", "5"), ("QuotaForInviter", "3")])
}

on_every_backend! {
    /// Registration with an invitation code credits both sides in one transaction; a refused one changes nothing.
    registration_rewards_the_invitation => super::registration_rewards_the_invitation;
    /// Accounts are found by access-token digest, external id (deleted ones flagged) and email without case.
    account_lookups => super::account_lookups;
    /// One account per external identity; empty ids never collide.
    one_account_per_external_identity => super::one_account_per_external_identity;
    /// One-time codes: digests, one use, wrong guesses counted, expiry, resend cooldown.
    one_time_codes => super::one_time_codes;
    /// OAuth states are used once; the setup record exists once.
    states_and_setup_are_used_once => super::states_and_setup_are_used_once;
}

async fn registration_rewards_the_invitation(db: &Db) {
    let s = rewards();
    let host = create(db, &s, &registration("host", None)).await.unwrap();
    let (quota, inviter, _, _, _, code) = account_columns(db, host).await;
    assert_eq!((quota, inviter, code.len()), (10, 0, 4));
    let guest = create(db, &s, &registration("guest", Some(&code))).await.unwrap();
    let (quota, inviter, _, _, _, _) = account_columns(db, guest).await;
    assert_eq!((quota, inviter), (15, host));
    let (quota, _, count, aff, history, _) = account_columns(db, host).await;
    assert_eq!((quota, count, aff, history), (10, 1, 3, 3));
    // Names are unique without case; a refused registration leaves the inviter untouched.
    let again = create(db, &s, &registration("HOST", Some(&code))).await;
    assert!(matches!(again, Err(ControlError::Conflict(_))), "{again:?}");
    assert_eq!(account_columns(db, host).await.2, 1);
    let (bonus_logs,): (i64,) =
        sqlx::query_as(&db.sql("SELECT COUNT(*) FROM logs WHERE type = 4 AND user_id IN (?, ?)"))
            .bind(host)
            .bind(guest)
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert_eq!(bonus_logs, 4, "new-user bonus twice, invitee bonus, inviter reward");
}

async fn account_lookups(db: &Db) {
    let s = rewards();
    let guest = create(db, &s, &registration("guest", None)).await.unwrap();
    db::users::set_access_token_digest(db, guest, &"ab".repeat(32)).await.unwrap();
    assert_eq!(db::users::find_by_access_token(db, &"ab".repeat(32)).await.unwrap().map(|u| u.id), Some(guest));
    assert!(db::users::find_by_access_token(db, "").await.unwrap().is_none());
    let mut linked = registration("github_x", None);
    linked.github_id = "1007";
    linked.email = "Mixed@Example.com";
    let linked_id = create(db, &s, &linked).await.unwrap();
    let (user, deleted) = db::users::find_by_external_id(db, ExternalId::GitHub, "1007").await.unwrap().unwrap();
    assert_eq!((user.id, deleted), (linked_id, false));
    assert!(db::users::find_by_external_id(db, ExternalId::Oidc, "1007").await.unwrap().is_none());
    assert_eq!(db::users::find_by_email(db, "mixed@example.COM").await.unwrap().map(|u| u.id), Some(linked_id));
    sqlx::query(&db.sql("UPDATE users SET deleted_at = 1 WHERE id = ?"))
        .bind(linked_id)
        .execute(db.pool())
        .await
        .unwrap();
    assert!(db::users::find_by_external_id(db, ExternalId::GitHub, "1007").await.unwrap().unwrap().1);
    assert!(!db::users::email_taken(db, "mixed@example.com").await.unwrap(), "a deleted account's email is free");
}

async fn one_account_per_external_identity(db: &Db) {
    let s = rewards();
    let mut linked = registration("github_x", None);
    linked.github_id = "1007";
    let linked_id = create(db, &s, &linked).await.unwrap();
    // Deleted accounts keep their identity.
    sqlx::query(&db.sql("UPDATE users SET deleted_at = 1 WHERE id = ?"))
        .bind(linked_id)
        .execute(db.pool())
        .await
        .unwrap();
    let mut twin = registration("github_y", None);
    twin.github_id = "1007";
    let refused = create(db, &s, &twin).await;
    assert!(matches!(&refused, Err(ControlError::Conflict(m)) if m.contains("already linked")), "{refused:?}");
    let mut oidc = registration("oidc_a", None);
    oidc.oidc_id = "sub-1";
    create(db, &s, &oidc).await.unwrap();
    oidc.username = "oidc_b";
    assert!(matches!(create(db, &s, &oidc).await, Err(ControlError::Conflict(_))));
    oidc.oidc_id = "sub-2";
    create(db, &s, &oidc).await.unwrap();
}

async fn one_time_codes(db: &Db) {
    let code = NewCode {
        purpose: Purpose::VerifyEmail,
        subject: "a@example.com",
        code: "ABC234",
        user_id: 0,
        ttl_secs: 600,
        cooldown_secs: 30,
    };
    auth_codes::issue(db, &code).await.unwrap();
    let (stored,): (String,) = sqlx::query_as("SELECT code_digest FROM auth_codes").fetch_one(db.pool()).await.unwrap();
    assert_eq!(stored, auth_codes::digest(Purpose::VerifyEmail, "a@example.com", "ABC234"));
    assert!(matches!(auth_codes::issue(db, &code).await, Err(ControlError::RateLimited(_))));
    let consume = |purpose, subject: &'static str, c: &'static str| {
        let db = db.clone();
        async move {
            let mut tx = db.begin_write().await.unwrap();
            let got = auth_codes::consume(&db, &mut tx, purpose, subject, c).await.unwrap();
            tx.commit().await.unwrap();
            got
        }
    };
    assert_eq!(consume(Purpose::ResetPassword, "a@example.com", "ABC234").await, None, "other purpose");
    assert_eq!(consume(Purpose::VerifyEmail, "a@example.com", "WRONG1").await, None);
    assert_eq!(consume(Purpose::VerifyEmail, "a@example.com", "ABC234").await, Some(0));
    assert_eq!(consume(Purpose::VerifyEmail, "a@example.com", "ABC234").await, None, "used once");

    let reset = NewCode { purpose: Purpose::ResetPassword, subject: "b@example.com", code: "T", user_id: 42, ..code };
    auth_codes::issue(db, &reset).await.unwrap();
    for _ in 0..auth_codes::MAX_ATTEMPTS {
        assert_eq!(consume(Purpose::ResetPassword, "b@example.com", "X").await, None);
    }
    assert_eq!(consume(Purpose::ResetPassword, "b@example.com", "T").await, None, "dropped after too many guesses");
    let expired = NewCode { subject: "c@example.com", ttl_secs: -1, ..reset };
    auth_codes::issue(db, &expired).await.unwrap();
    assert_eq!(consume(Purpose::ResetPassword, "c@example.com", "T").await, None, "expired");
}

async fn states_and_setup_are_used_once(db: &Db) {
    // OAuth states: the second use is a replay.
    let until = db::now_secs() + 600;
    assert!(auth_codes::use_once(db, Purpose::OAuthState, "state-1", until).await.unwrap());
    assert!(!auth_codes::use_once(db, Purpose::OAuthState, "state-1", until).await.unwrap());
    assert!(auth_codes::use_once(db, Purpose::OAuthState, "state-2", until).await.unwrap());

    // The setup record exists once.
    let mut tx = db.begin_write().await.unwrap();
    assert!(db::setup::record(db, &mut tx).await.unwrap());
    tx.commit().await.unwrap();
    let mut tx = db.begin_write().await.unwrap();
    assert!(!db::setup::record(db, &mut tx).await.unwrap());
    tx.rollback().await.unwrap();
}
