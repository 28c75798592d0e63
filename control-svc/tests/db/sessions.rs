//! Sessions and the per-account sign-in throttle on every backend: a session row signs its user in until it is
//! ended (one, all, or all but one); the throttle counts attempts, locks at the fifth and forgets on success.

use control_svc::db::login_throttle::{self, Attempt, FAILURES_TO_LOCK, FIRST_LOCK_SECS};
use control_svc::db::{self, Db, users::NewUser};

async fn user(db: &Db, username: &str) -> i64 {
    let new = NewUser { username, password_hash: "h", role: 1, quota: 0, must_change_password: false };
    db::users::insert(db, &new).await.unwrap()
}

async fn signed_in(db: &Db, digest: &str) -> Option<i64> {
    db::sessions::find_user(db, digest).await.unwrap().map(|u| u.id)
}

on_every_backend! {
    /// A session signs its user in until it expires or is ended (one, all, all but one, a deleted account's).
    sessions_sign_in_until_ended => super::sessions_sign_in_until_ended;
    /// The throttle locks at the fifth failure, per account, and forgets on success.
    sign_in_throttle => super::sign_in_throttle;
}

async fn sessions_sign_in_until_ended(db: &Db) {
    let alice = user(db, "alice").await;
    let bob = user(db, "bob").await;
    let day = 24 * 3600;
    for (digest, id) in [("a1", alice), ("a2", alice), ("a3", alice), ("b1", bob)] {
        db::sessions::create(db, digest, id, day).await.unwrap();
    }
    db::sessions::create(db, "expired", alice, -10).await.unwrap();
    assert_eq!(signed_in(db, "a1").await, Some(alice));
    assert_eq!(signed_in(db, "b1").await, Some(bob));
    assert_eq!(signed_in(db, "expired").await, None);
    assert_eq!(signed_in(db, "unknown").await, None);

    db::sessions::end(db, "a1").await.unwrap();
    assert_eq!(signed_in(db, "a1").await, None);
    assert_eq!(db::sessions::end_all_of(db, alice, Some("a2")).await.unwrap(), 2, "a3 and the expired one");
    assert_eq!((signed_in(db, "a2").await, signed_in(db, "a3").await), (Some(alice), None));
    let mut tx = db.begin_write().await.unwrap();
    db::sessions::end_all_of_in(db, &mut tx, alice).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(signed_in(db, "a2").await, None);
    assert_eq!(signed_in(db, "b1").await, Some(bob), "other users keep theirs");
    // A deleted account's sessions sign nobody in.
    db::user_admin::soft_delete(db, bob).await.unwrap();
    assert_eq!(signed_in(db, "b1").await, None);
}

async fn sign_in_throttle(db: &Db) {
    let subject = login_throttle::subject("Root");
    for _ in 1..FAILURES_TO_LOCK {
        assert_eq!(login_throttle::begin(db, &subject).await.unwrap(), Attempt::Proceed { locks_for: None });
    }
    let locking = login_throttle::begin(db, &subject).await.unwrap();
    assert_eq!(locking, Attempt::Proceed { locks_for: Some(FIRST_LOCK_SECS) });
    match login_throttle::begin(db, &subject).await.unwrap() {
        Attempt::Locked { wait_secs } => assert!((FIRST_LOCK_SECS - 5..=FIRST_LOCK_SECS).contains(&wait_secs)),
        other => panic!("expected the lock, got {other:?}"),
    }
    let other = login_throttle::subject("someone-else");
    assert_eq!(login_throttle::begin(db, &other).await.unwrap(), Attempt::Proceed { locks_for: None });
    login_throttle::succeeded(db, &subject).await.unwrap();
    assert_eq!(login_throttle::begin(db, &subject).await.unwrap(), Attempt::Proceed { locks_for: None });
}
