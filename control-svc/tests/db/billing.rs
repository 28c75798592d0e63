//! Billing on every backend: the subscription quota is spent before `quota` by settlement and by lease grants,
//! and what leases give back returns to the balance it came from; never below zero, exactly once, also when
//! grants, settlements and closes race.

use std::collections::HashMap;

use control_svc::billing::PriceTable;
use control_svc::db::leases::{self, Split};
use control_svc::db::tokens::{NewToken, RateLimit};
use control_svc::db::usage::{Context, settle};
use control_svc::db::user_admin::{Balance, QuotaChange, adjust_quota};
use control_svc::db::users::NewUser;
use control_svc::db::{self, Db};
use control_svc::routing::ChannelSnapshot;
use control_svc::settings::Options;
use control_svc::settlement::{Outcome, UsageReport};

/// A price table where model `m` costs one quota per prompt or completion token.
fn prices() -> PriceTable {
    let options = HashMap::from([
        ("ModelRatio".to_string(), r#"{"m": 1}"#.to_string()),
        ("CompletionRatio".to_string(), r#"{"m": 1}"#.to_string()),
    ]);
    PriceTable::from_options(&options).unwrap()
}

async fn account(db: &Db, name: &str, quota: i64, subscription: i64, token_quota: Option<i64>) -> (i64, i64) {
    let user = db::users::insert(
        db,
        &NewUser { username: name, password_hash: "h", role: 1, quota, must_change_password: false },
    )
    .await
    .unwrap();
    if subscription != 0 {
        let change = QuotaChange { balance: Balance::Subscription, shown: 0, delta: subscription };
        adjust_quota(db, user, "root", change, "").await.unwrap();
    }
    let token = db::tokens::insert(
        db,
        &NewToken {
            user_id: user,
            name: name.into(),
            key_digest_hex: format!("{:0>64}", user),
            key_ciphertext: "ct".into(),
            key_hint: "h".into(),
            created_time: 1,
            expired_time: -1,
            remain_quota: token_quota.unwrap_or(0),
            unlimited_quota: token_quota.is_none(),
            model_limits_enabled: false,
            model_limits: String::new(),
            allow_ips: String::new(),
            group_name: String::new(),
            rate_limit: Default::default(),
        },
    )
    .await
    .unwrap();
    (user, token)
}

/// A lease for relay `r`, surrendering nothing.
fn wanted(user: i64, token: i64, wanted: i64, needed: i64) -> leases::Wanted<'static> {
    leases::Wanted { relay_id: "r", user_id: user, token_id: token, wanted, needed, surrender: None }
}

/// `(subscription_quota, quota)` of a user.
async fn balances(db: &Db, user: i64) -> (i64, i64) {
    sqlx::query_as(&db.sql("SELECT subscription_quota, quota FROM users WHERE id = ?"))
        .bind(user)
        .fetch_one(db.pool())
        .await
        .unwrap()
}

fn report(id: &str, user: i64, token: i64, cost: i64, lease_id: &str) -> UsageReport {
    UsageReport {
        request_id: id.into(),
        user_id: user,
        token_id: token,
        model: "m".into(),
        upstream_model: "m".into(),
        prompt_tokens: cost,
        outcome: Outcome::Answered,
        group: "default".into(),
        lease_id: lease_id.into(),
        ..Default::default()
    }
}

async fn settle_all(db: &Db, reports: &[UsageReport]) -> control_svc::db::usage::Settled {
    let (options, channels) =
        (Options { prices: prices(), quota_remind_threshold: 0, ..Options::default() }, ChannelSnapshot::default());
    let cx = Context { options: &options, channels: &channels };
    settle(db, &cx, reports).await.unwrap()
}

on_every_backend! {
    /// The subscription is spent first, by settlements and leases alike, and given back where it came from.
    subscription_quota_is_spent_first => super::exercise_subscription;
    /// A grant that cannot cover one request is refused; a too-small rest is surrendered.
    not_enough_and_surrender => super::exercise_not_enough_and_surrender;
    /// The token's rate-limit fields are stored and read back.
    token_rate_limit => super::exercise_token_rate_limit;
}

on_every_backend! {
    racing:
    /// Racing grants, settlements and closes account for every unit once.
    racing_grants_and_settlements => super::exercise_racing;
}

async fn exercise_subscription(db: &Db) {
    let (user, token) = account(db, "subscriber", 100, 50, Some(1_000)).await;
    assert_eq!(balances(db, user).await, (50, 100));
    let (logs,): (i64,) = sqlx::query_as(&db.sql("SELECT COUNT(*) FROM logs WHERE user_id = ? AND type = 3"))
        .bind(user)
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(logs, 1, "the administrator's change is logged");

    // Settled without a lease: the subscription first, then quota; a redelivery changes nothing.
    settle_all(db, &[report("s-1", user, token, 30, "")]).await;
    assert_eq!(balances(db, user).await, (20, 100));
    settle_all(db, &[report("s-2", user, token, 40, ""), report("s-1", user, token, 30, "")]).await;
    assert_eq!(balances(db, user).await, (0, 80));

    // A lease takes the subscription first and records it.
    adjust_quota(db, user, "root", QuotaChange { balance: Balance::Subscription, shown: 0, delta: 60 }, "")
        .await
        .unwrap();
    let lease = leases::grant(db, wanted(user, token, 100, 10)).await.unwrap().unwrap();
    assert_eq!(lease.amount, 70, "half of the 140 available");
    assert_eq!(balances(db, user).await, (0, 70));
    assert_eq!(leases::outstanding_for_user(db, user).await.unwrap(), Split { subscription: 60, quota: 10 });
    // 25 spent under it (counted against its subscription part): the unused 45 goes back, 10 to quota (all it
    // took from there) and 35 to the subscription. Net: the subscription paid the 25.
    settle_all(db, &[report("l-1", user, token, 25, &lease.id)]).await;
    assert_eq!(balances(db, user).await, (0, 70), "a leased request is paid by its lease");
    assert_eq!(leases::close(db, &lease.id, Some(25)).await.unwrap(), 45);
    assert_eq!(balances(db, user).await, (35, 80));
    assert_eq!(leases::close(db, &lease.id, Some(25)).await.unwrap(), 0, "closed once");
    assert_eq!(balances(db, user).await, (35, 80));

    // Nothing spent: everything back where it came from.
    let lease = leases::grant(db, wanted(user, token, 100, 10)).await.unwrap().unwrap();
    assert_eq!(balances(db, user).await, (0, 58), "57 leased: 35 of subscription, 22 of quota");
    leases::close(db, &lease.id, Some(0)).await.unwrap();
    assert_eq!(balances(db, user).await, (35, 80));

    // A request that overran its lease: the excess is debited, the subscription first.
    let lease = leases::grant(db, wanted(user, token, 10, 10)).await.unwrap().unwrap();
    assert_eq!((lease.amount, balances(db, user).await), (10, (25, 80)));
    settle_all(db, &[report("o-1", user, token, 40, &lease.id)]).await;
    assert_eq!(balances(db, user).await, (0, 75), "30 over the lease: 25 of subscription, 5 of quota");
    assert_eq!(leases::close(db, &lease.id, None).await.unwrap(), 0);

    // Only the subscription left: still available, and exhaustion counts both balances.
    let (user2, token2) = account(db, "sub_only", 0, 20, None).await;
    let settled = settle_all(db, &[report("x-1", user2, token2, 15, "")]).await;
    assert!(!settled.exhausted_users.contains(&user2));
    let lease = leases::grant(db, wanted(user2, token2, 100, 5)).await.unwrap().unwrap();
    assert_eq!((lease.amount, balances(db, user2).await), (5, (0, 0)));
    assert_eq!(leases::grant(db, wanted(user2, token2, 100, 1)).await.unwrap(), Err(leases::Refused::UserExhausted));
    let settled = settle_all(db, &[report("x-2", user2, token2, 5, &lease.id)]).await;
    assert!(settled.exhausted_users.contains(&user2));
}

/// Grants, direct settlements and closes racing on one user with both balances: every unit is accounted for
/// once and neither balance goes below zero.
async fn exercise_racing(db: &Db) {
    let (user, token) = account(db, "racer", 30, 30, None).await;
    let grants = (0..20).map(|i| {
        let db = db.clone();
        tokio::spawn(async move {
            let relay_id = format!("relay-{i}");
            leases::grant(&db, leases::Wanted { relay_id: &relay_id, ..wanted(user, token, 10, 7) }).await.unwrap()
        })
    });
    let settles = (0..10).map(|i| {
        let db = db.clone();
        tokio::spawn(async move { settle_all(&db, &[report(&format!("race-{i}"), user, token, 1, "")]).await })
    });
    let (granted, settled) =
        futures::future::join(futures::future::join_all(grants), futures::future::join_all(settles)).await;
    for s in settled {
        s.unwrap();
    }
    let granted: Vec<leases::Granted> = granted.into_iter().filter_map(|g| g.unwrap().ok()).collect();
    let leased: i64 = granted.iter().map(|g| g.amount).sum();
    let (subscription, quota) = balances(db, user).await;
    assert!(subscription >= 0, "the subscription never goes below zero: {subscription}");
    // Direct settlements may take `quota` below zero only by what no lease covered (they were never reserved);
    // the total is exact either way.
    assert_eq!(subscription + quota + leased, 60 - 10, "leased {leased}, balances ({subscription}, {quota})");
    assert!(leased <= 60);
    let held = leases::outstanding_for_user(db, user).await.unwrap();
    assert_eq!(held.subscription + held.quota, leased);

    // Closing every lease concurrently with 3 spent under each gives the rest back, once, where it came from.
    let closes = granted.iter().map(|g| {
        let (db, id) = (db.clone(), g.id.clone());
        tokio::spawn(async move { leases::close(&db, &id, Some(3)).await.unwrap() })
    });
    let returned: i64 = futures::future::join_all(closes).await.into_iter().map(|r| r.unwrap()).sum();
    let spent: i64 = granted.iter().map(|g| g.amount.min(3)).sum();
    assert_eq!(returned, leased - spent);
    let (subscription, quota) = balances(db, user).await;
    assert!((0..=30).contains(&subscription), "{subscription}");
    assert_eq!(subscription + quota, 60 - 10 - spent);
    assert_eq!(leases::outstanding_for_user(db, user).await.unwrap(), Split { subscription: 0, quota: 0 });
}

/// A balance smaller than one request's estimate is refused, never leased whole; a relay's rest of a lease given
/// back with its next call counts towards that call (and stays given back when it is refused anyway).
async fn exercise_not_enough_and_surrender(db: &Db) {
    let (user, token) = account(db, "scarce", 100, 0, Some(20)).await;
    assert_eq!(
        leases::grant(db, wanted(user, token, 1000, 30)).await.unwrap(),
        Err(leases::Refused::TokenNotEnough { available: 20, needed: 30 })
    );
    let first = leases::grant(db, wanted(user, token, 1000, 6)).await.unwrap().unwrap();
    assert_eq!(first.amount, 10, "half of the 20");
    // The relay reserved 6 of it; the other 4 are too few for a request of 12, and the token holds 10 more.
    let with_rest = leases::Wanted { surrender: Some((&first.id, 4)), ..wanted(user, token, 1000, 12) };
    let second = leases::grant(db, with_rest).await.unwrap().unwrap();
    assert_eq!(second.amount, 12, "10 left plus the 4 given back; half of 14 is less than one request");
    assert_eq!(leases::outstanding(db, token, user).await.unwrap(), (6 + 12, 6 + 12));
    let (remain,): (i64,) = sqlx::query_as(&db.sql("SELECT remain_quota FROM tokens WHERE id = ?"))
        .bind(token)
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(remain, 2);
    // Refused, and the 2 given back with the call stay given back; a lease of another token gives nothing.
    let refused = leases::Wanted { surrender: Some((&second.id, 2)), ..wanted(user, token, 1000, 5) };
    assert_eq!(
        leases::grant(db, refused).await.unwrap(),
        Err(leases::Refused::TokenNotEnough { available: 4, needed: 5 })
    );
    assert_eq!(leases::outstanding(db, token, user).await.unwrap(), (6 + 10, 6 + 10));
    let (other_user, other_token) = account(db, "other", 100, 0, Some(20)).await;
    let foreign = leases::Wanted { surrender: Some((&first.id, 6)), ..wanted(other_user, other_token, 1000, 5) };
    assert_eq!(leases::grant(db, foreign).await.unwrap().unwrap().amount, 10);
    assert_eq!(leases::outstanding(db, token, user).await.unwrap(), (16, 16), "untouched by another token's call");
    // Closing keeps what was spent: 6 of the first (4 of it surrendered), 10 of the second.
    assert_eq!(leases::close(db, &first.id, Some(6)).await.unwrap(), 0);
    assert_eq!(leases::close(db, &second.id, Some(10)).await.unwrap(), 0);
    let (remain, used): (i64, i64) =
        sqlx::query_as(&db.sql("SELECT remain_quota, used_quota FROM tokens WHERE id = ?"))
            .bind(token)
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert_eq!((remain, used), (4, 0), "20 minus the 16 kept (settlement would record them as used)");
    let user_available: (i64,) =
        sqlx::query_as(&db.sql("SELECT quota FROM users WHERE id = ?")).bind(user).fetch_one(db.pool()).await.unwrap();
    assert_eq!(user_available.0, 100 - 16);
}

/// The token's rate-limit fields are stored and read back as written.
async fn exercise_token_rate_limit(db: &Db) {
    let (_, token) = account(db, "limited", 0, 0, None).await;
    let mut row = db::tokens::find_by_id(db, token).await.unwrap().unwrap();
    assert_eq!(row.rate_limit(), RateLimit::default());
    let limit = RateLimit { enabled: true, period: 30, count: 5, success: 0 };
    row.set_rate_limit(limit);
    db::tokens::save(db, &row).await.unwrap();
    let stored = db::tokens::find_by_id(db, token).await.unwrap().unwrap();
    assert_eq!(stored.rate_limit(), limit);
    let dto = stored.to_dto();
    assert_eq!(
        (dto.rate_limit_enabled, dto.rate_limit_period, dto.rate_limit_count, dto.rate_limit_success),
        (true, 30, 5, 0)
    );
}
