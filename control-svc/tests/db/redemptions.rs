//! Redemption codes, check-in and invitations on every backend: racing requests (real parallel tasks released
//! together) credit exactly what the rules allow, refusals write nothing, and the database's unique keys do
//! the guarding.

use std::future::Future;
use std::sync::Arc;

use control_svc::db::check_in::CheckInSettings;
use control_svc::db::redemptions::{self, NewRedemption, RedemptionEdit};
use control_svc::db::{self, Db, check_in, invitations, users::NewUser};
use control_svc::error::ControlError;
use tokio::sync::Barrier;

use super::{number, run};

const GIFT_QUOTA: i64 = 1_000;

on_every_backend! {
    racing:
    one_user_racing_on_a_gift_code_is_credited_once => super::one_user_racing_on_a_gift_code_is_credited_once;
    fifty_users_on_a_ten_use_gift_code_credit_exactly_ten => super::fifty_users_on_a_ten_use_gift_code_credit_exactly_ten;
    an_ordinary_code_raced_by_twenty_users_credits_one => super::an_ordinary_code_raced_by_twenty_users_credits_one;
    twenty_check_ins_at_once_credit_once => super::twenty_check_ins_at_once_credit_once;
    refusals_write_nothing => super::refusals_write_nothing;
    codes_compare_exactly_and_duplicates_are_refused => super::codes_compare_exactly_and_duplicates_are_refused;
    status_edits_follow_the_uses => super::status_edits_follow_the_uses;
    deletes_take_the_use_records_along => super::deletes_take_the_use_records_along;
    invitation_codes_are_unique_and_transfers_never_overdraw => super::invitation_codes_are_unique_and_transfers_never_overdraw;
    registration_reward_and_rebate => super::registration_reward_and_rebate;
}

async fn user(db: &Db, name: &str) -> i64 {
    let new = NewUser { username: name, password_hash: "h", role: 1, quota: 0, must_change_password: false };
    db::users::insert(db, &new).await.unwrap()
}

async fn quota(db: &Db, user_id: i64) -> i64 {
    db::users::find_by_id(db, user_id).await.unwrap().unwrap().quota
}

fn code(key: &str, name: &str, is_gift: bool, max_uses: i64) -> NewRedemption {
    NewRedemption {
        user_id: 1,
        code: key.into(),
        name: name.into(),
        quota: GIFT_QUOTA,
        is_gift,
        max_uses,
        valid_from: 0,
        valid_until: 0,
        created_time: 1,
    }
}

fn key(tag: &str) -> String {
    format!("{tag:-<32}")
}

async fn create(db: &Db, new: NewRedemption) -> i64 {
    let key = new.code.clone();
    redemptions::insert_all(db, &[new]).await.unwrap();
    number(db, &format!("SELECT id FROM redemptions WHERE code = '{key}'")).await
}

/// Runs `attempt(i)` for i in 0..n as spawned tasks released together; returns the outcomes.
async fn race<F, Fut, T>(n: usize, attempt: F) -> Vec<Result<T, ControlError>>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<T, ControlError>> + Send + 'static,
    T: Send + 'static,
{
    let barrier = Arc::new(Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let barrier = barrier.clone();
            let fut = attempt(i);
            tokio::spawn(async move {
                barrier.wait().await;
                fut.await
            })
        })
        .collect();
    let mut outcomes = Vec::with_capacity(n);
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    outcomes
}

/// The refusals must be the rules' own, never a database error (deadlock, busy) passed off as one.
fn only_refused_with(outcomes: &[Result<impl Sized, ControlError>], allowed: &[&str]) -> usize {
    let mut ok = 0;
    for o in outcomes {
        match o {
            Ok(_) => ok += 1,
            Err(ControlError::Conflict(m)) if allowed.contains(&m.as_str()) => {}
            Err(e) => panic!("unexpected refusal: {e:?}"),
        }
    }
    ok
}

/// `(aff_count, aff_quota, aff_history_quota)`.
async fn aff(db: &Db, user_id: i64) -> (i64, i64, i64) {
    sqlx::query_as(&db.sql("SELECT aff_count, aff_quota, aff_history_quota FROM users WHERE id = ?"))
        .bind(user_id)
        .fetch_one(db.pool())
        .await
        .unwrap()
}

async fn count(db: &Db, query: String) -> i64 {
    number(db, &query).await
}

async fn one_user_racing_on_a_gift_code_is_credited_once(db: &Db) {
    let alice = user(db, "gift_alice").await;
    let id = create(db, code(&key("gift-once"), "once", true, -1)).await;
    let outcomes = race(50, |_| {
        let db = db.clone();
        async move { redemptions::redeem(&db, None, alice, &key("gift-once"), 100).await }
    })
    .await;
    assert_eq!(only_refused_with(&outcomes, &[redemptions::ALREADY_USED_BY_YOU]), 1);
    assert_eq!(quota(db, alice).await, GIFT_QUOTA);
    assert_eq!(count(db, format!("SELECT used_count FROM redemptions WHERE id = {id}")).await, 1);
    assert_eq!(count(db, format!("SELECT COUNT(*) FROM redemption_logs WHERE redemption_id = {id}")).await, 1);
    assert_eq!(count(db, format!("SELECT COUNT(*) FROM logs WHERE user_id = {alice} AND type = 1")).await, 1);
    let content: String = sqlx::query_scalar(&db.sql("SELECT content FROM logs WHERE user_id = ?"))
        .bind(alice)
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert!(content.contains("\"once\"") && !content.contains(&key("gift-once")), "{content}");
}

async fn fifty_users_on_a_ten_use_gift_code_credit_exactly_ten(db: &Db) {
    let mut users = Vec::new();
    for i in 0..50 {
        users.push(user(db, &format!("crowd_{i}")).await);
    }
    let id = create(db, code(&key("gift-ten"), "ten", true, 10)).await;
    let users = Arc::new(users);
    let outcomes = race(50, |i| {
        let (db, users) = (db.clone(), users.clone());
        async move { redemptions::redeem(&db, None, users[i], &key("gift-ten"), 100).await }
    })
    .await;
    assert_eq!(only_refused_with(&outcomes, &[redemptions::EXHAUSTED]), 10);
    let mut credited = 0;
    for u in users.iter() {
        credited += quota(db, *u).await;
    }
    assert_eq!(credited, 10 * GIFT_QUOTA);
    let row = redemptions::find_by_id(db, id).await.unwrap().unwrap();
    assert_eq!((row.used_count, row.status), (10, 3), "the tenth use closes the code");
    assert_eq!(count(db, format!("SELECT COUNT(*) FROM redemption_logs WHERE redemption_id = {id}")).await, 10);
    assert_eq!(count(db, "SELECT COUNT(*) FROM logs WHERE content LIKE '%\"ten\"%'".into()).await, 10);
}

async fn an_ordinary_code_raced_by_twenty_users_credits_one(db: &Db) {
    let mut users = Vec::new();
    for i in 0..20 {
        users.push(user(db, &format!("racer_{i}")).await);
    }
    let id = create(db, code(&key("ordinary"), "single", false, 1)).await;
    let users = Arc::new(users);
    let outcomes = race(20, |i| {
        let (db, users) = (db.clone(), users.clone());
        async move { redemptions::redeem(&db, None, users[i], &key("ordinary"), 100).await }
    })
    .await;
    assert_eq!(only_refused_with(&outcomes, &[redemptions::ALREADY_USED]), 1);
    let winner = outcomes.iter().position(|o| o.is_ok()).unwrap();
    let row = redemptions::find_by_id(db, id).await.unwrap().unwrap();
    assert_eq!((row.status, row.used_user_id, row.redeemed_time), (3, users[winner], 100));
    for (i, u) in users.iter().enumerate() {
        assert_eq!(quota(db, *u).await, if i == winner { GIFT_QUOTA } else { 0 });
    }
}

async fn twenty_check_ins_at_once_credit_once(db: &Db) {
    let carol = user(db, "checker").await;
    let now = 1_748_822_399; // 2025-06-01 23:59:59 UTC
    let off = CheckInSettings::default();
    assert!(!check_in::can_check_in(db, &off, carol, now).await.unwrap(), "off by default");
    assert!(matches!(check_in::check_in(db, &off, carol, now).await, Err(ControlError::Forbidden(_))));
    let unconfigured = CheckInSettings { enabled: true, ..off };
    assert!(
        matches!(check_in::check_in(db, &unconfigured, carol, now).await, Err(ControlError::Forbidden(_))),
        "no quota set"
    );
    let on = CheckInSettings { enabled: true, min_quota: 100, max_quota: 200 };
    assert!(check_in::can_check_in(db, &on, carol, now).await.unwrap());
    let outcomes = race(20, |_| {
        let db = db.clone();
        async move { check_in::check_in(&db, &on, carol, now).await }
    })
    .await;
    assert_eq!(only_refused_with(&outcomes, &["you have already checked in today (UTC)"]), 1);
    let reward = *outcomes.iter().find_map(|o| o.as_ref().ok()).unwrap();
    assert!((100..=200).contains(&reward));
    assert_eq!(quota(db, carol).await, reward);
    assert_eq!(count(db, format!("SELECT COUNT(*) FROM logs WHERE user_id = {carol} AND type = 5")).await, 1);
    assert!(!check_in::can_check_in(db, &on, carol, now).await.unwrap());
    // The next UTC day, one second later, is a new day.
    assert!(check_in::can_check_in(db, &on, carol, now + 1).await.unwrap());
    check_in::check_in(db, &on, carol, now + 1).await.unwrap();
    assert_eq!(count(db, format!("SELECT COUNT(*) FROM logs WHERE user_id = {carol} AND type = 5")).await, 2);
}

/// The codes the next two behaviours refuse or delete: a ten-use gift code used up, an ordinary code used.
async fn used_up_codes(db: &Db) {
    fifty_users_on_a_ten_use_gift_code_credit_exactly_ten(db).await;
    an_ordinary_code_raced_by_twenty_users_credits_one(db).await;
}

async fn refusals_write_nothing(db: &Db) {
    used_up_codes(db).await;
    let dave = user(db, "refused").await;
    let mut early = code(&key("early"), "early", false, 1);
    early.valid_from = 1_000;
    create(db, early).await;
    let mut late = code(&key("late"), "late", true, -1);
    late.valid_until = 50;
    create(db, late).await;
    let disabled = create(db, code(&key("off"), "off", false, 1)).await;
    run(db, &format!("UPDATE redemptions SET status = 2 WHERE id = {disabled}")).await;

    let refusal = |r: Result<redemptions::Redeemed, ControlError>| match r {
        Err(ControlError::Conflict(m)) | Err(ControlError::NotFound(m)) => m,
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert_eq!(refusal(redemptions::redeem(db, None, dave, &key("nope"), 100).await), redemptions::UNKNOWN_CODE);
    assert_eq!(refusal(redemptions::redeem(db, None, dave, &key("off"), 100).await), redemptions::DISABLED);
    assert!(refusal(redemptions::redeem(db, None, dave, &key("early"), 100).await).contains("not valid yet"));
    assert_eq!(refusal(redemptions::redeem(db, None, dave, &key("late"), 100).await), redemptions::EXPIRED);
    assert_eq!(refusal(redemptions::redeem(db, None, dave, &key("gift-ten"), 100).await), redemptions::EXHAUSTED);
    assert_eq!(refusal(redemptions::redeem(db, None, dave, &key("ordinary"), 100).await), redemptions::ALREADY_USED);
    // The window's bounds are inclusive.
    redemptions::redeem(db, None, dave, &key("early"), 1_000).await.unwrap();
    assert_eq!(quota(db, dave).await, GIFT_QUOTA);
    assert_eq!(count(db, format!("SELECT COUNT(*) FROM logs WHERE user_id = {dave}")).await, 1);
    assert_eq!(count(db, format!("SELECT COUNT(*) FROM redemption_logs WHERE user_id = {dave}")).await, 1);
}

async fn codes_compare_exactly_and_duplicates_are_refused(db: &Db) {
    let lower = "abcdefghijklmnopqrstuvwxyz012345";
    create(db, code(lower, "case", false, 1)).await;
    create(db, code(&lower.to_uppercase(), "case", false, 1)).await;
    let again = redemptions::insert_all(
        db,
        &[code("fresh-key-0000000000000000000000", "dup", false, 1), code(lower, "dup", false, 1)],
    )
    .await;
    assert!(matches!(again, Err(ControlError::Conflict(_))), "{again:?}");
    assert_eq!(redemptions::count_by_name(db, "dup").await.unwrap(), 0, "all or nothing");
    assert_eq!(redemptions::count_by_name(db, "case").await.unwrap(), 2);
    assert_eq!(redemptions::count_by_name(db, "CASE").await.unwrap(), 0, "names compare exactly");
    let eve = user(db, "case_eve").await;
    assert_eq!(redemptions::redeem(db, None, eve, &lower.to_uppercase(), 100).await.map(|r| r.name).unwrap(), "case");
    assert!(redemptions::redeem(db, None, eve, "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", 100).await.is_err(), "used");
    redemptions::redeem(db, None, eve, lower, 100).await.unwrap();
    let found: Vec<i64> = redemptions::search(db, "CAS").await.unwrap().iter().map(|r| r.id).collect();
    assert_eq!(found.len(), 2);
    assert!(redemptions::search(db, "c%e").await.unwrap().is_empty(), "% is literal");
    assert_eq!(redemptions::search(db, &found[0].to_string()).await.unwrap()[0].id, found[0]);
}

async fn status_edits_follow_the_uses(db: &Db) {
    let id = create(db, code(&key("edit"), "edit", true, 2)).await;
    let fields = |max_uses| RedemptionEdit { name: "edited".into(), quota: 7, max_uses, valid_from: 0, valid_until: 0 };
    for name in ["edit_a", "edit_b"] {
        let u = user(db, name).await;
        redemptions::redeem(db, None, u, &key("edit"), 100).await.unwrap();
    }
    let row = redemptions::find_by_id(db, id).await.unwrap().unwrap();
    assert_eq!(row.status, 3);
    // Used up: neither enabled nor disabled by hand; a refused edit changes no field either.
    assert!(matches!(redemptions::update(db, id, &fields(2), Some(1)).await, Err(ControlError::Conflict(_))));
    assert!(matches!(redemptions::update(db, id, &fields(2), Some(2)).await, Err(ControlError::Conflict(_))));
    assert!(matches!(redemptions::update(db, id, &fields(2), Some(3)).await, Err(ControlError::BadRequest(_))));
    assert_eq!(redemptions::find_by_id(db, id).await.unwrap().unwrap().name, "edit");
    // Raising max_uses lets it be enabled again; lowering it to the uses closes it.
    redemptions::update(db, id, &fields(3), Some(1)).await.unwrap();
    let row = redemptions::find_by_id(db, id).await.unwrap().unwrap();
    assert_eq!((row.status, row.quota, row.name.as_str(), row.used_count), (1, 7, "edited", 2));
    redemptions::update(db, id, &fields(2), None).await.unwrap();
    assert_eq!(redemptions::find_by_id(db, id).await.unwrap().unwrap().status, 3);
    // An ordinary code: disable, enable, disable again in bulk; once used it stays used.
    let single = create(db, code(&key("toggle"), "toggle", false, 1)).await;
    let same = RedemptionEdit { name: "toggle".into(), quota: GIFT_QUOTA, max_uses: 1, valid_from: 0, valid_until: 0 };
    redemptions::update(db, single, &same, Some(2)).await.unwrap();
    redemptions::update(db, single, &same, Some(2)).await.unwrap();
    redemptions::update(db, single, &same, Some(1)).await.unwrap();
    assert_eq!(redemptions::disable_all(db, &[single, id, 999_999]).await.unwrap(), 1, "only enabled codes change");
    redemptions::update(db, single, &same, Some(1)).await.unwrap();
    let u = user(db, "toggler").await;
    redemptions::redeem(db, None, u, &key("toggle"), 100).await.unwrap();
    assert!(matches!(redemptions::update(db, single, &same, Some(1)).await, Err(ControlError::Conflict(_))));
    assert!(matches!(redemptions::update(db, 999_999, &same, None).await, Err(ControlError::NotFound(_))));
}

async fn deletes_take_the_use_records_along(db: &Db) {
    used_up_codes(db).await;
    create(db, code(&key("unused"), "unused", false, 1)).await;
    let uses = |name: &str| {
        format!(
            "SELECT COUNT(*) FROM redemption_logs WHERE redemption_id IN (SELECT id FROM redemptions WHERE name = '{name}')"
        )
    };
    assert_eq!(count(db, uses("ten")).await, 10);
    assert_eq!(redemptions::delete_by_name(db, "ten").await.unwrap(), 1);
    assert_eq!(count(db, "SELECT COUNT(*) FROM redemption_logs rl WHERE NOT EXISTS (SELECT 1 FROM redemptions r WHERE r.id = rl.redemption_id)".into()).await, 0);
    let used_or_disabled = count(db, "SELECT COUNT(*) FROM redemptions WHERE status IN (2, 3)".into()).await;
    assert!(used_or_disabled > 0);
    assert_eq!(redemptions::delete_disabled(db).await.unwrap() as i64, used_or_disabled);
    assert_eq!(count(db, "SELECT COUNT(*) FROM redemptions WHERE status <> 1".into()).await, 0);
    let left = count(db, "SELECT id FROM redemptions ORDER BY id LIMIT 1".into()).await;
    assert!(redemptions::delete(db, left).await.unwrap());
    assert!(!redemptions::delete(db, left).await.unwrap());
    assert_eq!(count(db, "SELECT COUNT(*) FROM redemption_logs rl WHERE NOT EXISTS (SELECT 1 FROM redemptions r WHERE r.id = rl.redemption_id)".into()).await, 0);
}

async fn invitation_codes_are_unique_and_transfers_never_overdraw(db: &Db) {
    let frank = user(db, "aff_frank").await;
    let code = invitations::aff_code(db, frank).await.unwrap();
    assert_eq!(code.chars().count(), 4);
    assert_eq!(invitations::aff_code(db, frank).await.unwrap(), code, "stable once given");
    // The database refuses a second user with the same code.
    let grace = user(db, "aff_grace").await;
    let taken = sqlx::query(&db.sql("UPDATE users SET aff_code = ? WHERE id = ?"))
        .bind(&code)
        .bind(grace)
        .execute(db.pool())
        .await;
    assert!(taken.is_err(), "aff codes are unique");
    // Many users asking at once all get distinct codes.
    let mut many = Vec::new();
    for i in 0..30 {
        many.push(user(db, &format!("aff_many_{i}")).await);
    }
    let many = Arc::new(many);
    let codes = race(30, |i| {
        let (db, many) = (db.clone(), many.clone());
        async move { invitations::aff_code(&db, many[i]).await }
    })
    .await;
    let mut codes: Vec<String> = codes.into_iter().map(Result::unwrap).collect();
    codes.push(code);
    codes.sort();
    codes.dedup();
    assert_eq!(codes.len(), 31);

    run(db, &format!("UPDATE users SET aff_quota = 1200000 WHERE id = {frank}")).await;
    assert!(
        matches!(invitations::transfer(db, 500_000, frank, 499_999).await, Err(ControlError::BadRequest(_))),
        "min 1 unit"
    );
    assert!(matches!(invitations::transfer(db, 500_000, frank, 1_300_000).await, Err(ControlError::BadRequest(_))));
    let outcomes = race(10, |_| {
        let db = db.clone();
        async move { invitations::transfer(&db, 500_000, frank, 500_000).await }
    })
    .await;
    let moved = outcomes.iter().filter(|o| o.is_ok()).count();
    assert_eq!(moved, 2, "{outcomes:?}");
    for o in &outcomes {
        assert!(matches!(o, Ok(_) | Err(ControlError::BadRequest(_))), "{o:?}");
    }
    let row = (quota(db, frank).await, count(db, format!("SELECT aff_quota FROM users WHERE id = {frank}")).await);
    assert_eq!(row, (1_000_000, 200_000));
    let after = invitations::transfer(db, 100_000, frank, 200_000).await.unwrap();
    assert_eq!((after.quota, after.aff_quota), (1_200_000, 0));
}

async fn registration_reward_and_rebate(db: &Db) {
    let inviter = user(db, "inviter").await;
    let invitee = user(db, "invitee").await;
    let reward = invitations::InvitationReward { invitee_quota: 300, inviter_quota: 700 };
    let mut tx = db.begin_write().await.unwrap();
    invitations::reward_inviter(db, &mut tx, inviter, invitee, reward).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(aff(db, inviter).await, (1, 700, 700));
    assert_eq!(quota(db, invitee).await, 300);
    assert_eq!(count(db, format!("SELECT inviter_id FROM users WHERE id = {invitee}")).await, inviter);
    assert_eq!(
        count(db, format!("SELECT COUNT(*) FROM logs WHERE type = 4 AND user_id IN ({inviter}, {invitee})")).await,
        2
    );

    // Rolled back with the registration; refused for a second inviter or oneself.
    let other = user(db, "other_invitee").await;
    let mut tx = db.begin_write().await.unwrap();
    invitations::reward_inviter(db, &mut tx, inviter, other, reward).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!((quota(db, other).await, aff(db, inviter).await), (0, (1, 700, 700)));
    let mut tx = db.begin_write().await.unwrap();
    assert!(invitations::reward_inviter(db, &mut tx, other, invitee, reward).await.is_err());
    assert!(invitations::reward_inviter(db, &mut tx, other, other, reward).await.is_err());
    drop(tx);

    // The rebate is off unless enabled; then the inviter gets the percentage.
    create(db, code(&key("rebate-1"), "rebate", false, 1)).await;
    create(db, code(&key("rebate-2"), "rebate", false, 1)).await;
    redemptions::redeem(db, None, invitee, &key("rebate-1"), 100).await.unwrap();
    assert_eq!(quota(db, inviter).await, 0);
    redemptions::redeem(db, Some(12.5), invitee, &key("rebate-2"), 100).await.unwrap();
    assert_eq!(quota(db, inviter).await, GIFT_QUOTA / 8);
    assert_eq!(quota(db, invitee).await, 300 + 2 * GIFT_QUOTA);
    assert_eq!(count(db, format!("SELECT COUNT(*) FROM logs WHERE user_id = {inviter} AND type = 1")).await, 1);
    assert_eq!(
        count(db, format!("SELECT COUNT(*) FROM logs WHERE user_id = {invitee} AND content LIKE '%your inviter%'"))
            .await,
        1
    );
    db::options::set(db, "RebateEnabled", "false").await.unwrap();
}
