//! Quota warnings found by settlement on every backend: one crossing per fall below the threshold, counted on
//! the remaining quota (balance plus open leases), re-armed by a top-up, and not fooled by late reports that a
//! closed lease covers.

use std::collections::HashMap;

use control_svc::billing::PriceTable;
use control_svc::db::leases;
use control_svc::db::tokens::NewToken;
use control_svc::db::usage::{Context, settle};
use control_svc::db::users::NewUser;
use control_svc::db::{self, Db};
use control_svc::notify::quota_warning::Crossing;
use control_svc::routing::ChannelSnapshot;
use control_svc::settings::Options;
use control_svc::settlement::{Outcome, UsageReport};

/// Model `m` costs one quota per prompt token.
fn prices() -> PriceTable {
    let options = HashMap::from([("ModelRatio".to_string(), r#"{"m": 1}"#.to_string())]);
    PriceTable::from_options(&options).unwrap()
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

/// Settles one report and returns the warnings it raised (site threshold 0: only the user's own counts).
async fn warnings(db: &Db, r: UsageReport) -> Vec<Crossing> {
    let (options, channels) =
        (Options { prices: prices(), quota_remind_threshold: 0, ..Options::default() }, ChannelSnapshot::default());
    let cx = Context { options: &options, channels: &channels };
    settle(db, &cx, &[r]).await.unwrap().quota_warnings
}

async fn top_up(db: &Db, user: i64, amount: i64) {
    sqlx::query(&db.sql("UPDATE users SET quota = quota + ? WHERE id = ?"))
        .bind(amount)
        .bind(user)
        .execute(db.pool())
        .await
        .unwrap();
}

on_every_backend! {
    /// A quota warning is due once per crossing of the threshold, again after a top-up above it.
    quota_warnings_cross_once => super::exercise_crossings;
}

async fn exercise_crossings(db: &Db) {
    let user = db::users::insert(
        db,
        &NewUser { username: "warned", password_hash: "h", role: 1, quota: 1100, must_change_password: false },
    )
    .await
    .unwrap();
    db::users::set_setting(db, user, r#"{"notify_type":"email","quota_warning_threshold":1000}"#).await.unwrap();
    let token = db::tokens::insert(
        db,
        &NewToken {
            user_id: user,
            name: "t".into(),
            key_digest_hex: format!("{:0>64}", user),
            key_ciphertext: "ct".into(),
            key_hint: "h".into(),
            created_time: 1,
            expired_time: -1,
            remain_quota: 0,
            unlimited_quota: true,
            model_limits_enabled: false,
            model_limits: String::new(),
            allow_ips: String::new(),
            group_name: String::new(),
            rate_limit: Default::default(),
        },
    )
    .await
    .unwrap();
    let crossing = |remaining| vec![Crossing { user_id: user, remaining, threshold: 1000 }];

    assert!(warnings(db, report("a", user, token, 50, "")).await.is_empty(), "1050 left");
    assert_eq!(warnings(db, report("b", user, token, 60, "")).await, crossing(990));
    assert!(warnings(db, report("b", user, token, 60, "")).await.is_empty(), "a redelivery settles nothing");
    assert!(warnings(db, report("c", user, token, 10, "")).await.is_empty(), "further below: the same crossing");

    // Top-up to 1010, then a lease: the 100 it holds still counts as remaining.
    top_up(db, user, 30).await;
    let lease = leases::grant(
        db,
        leases::Wanted { relay_id: "r", user_id: user, token_id: token, wanted: 100, needed: 10, surrender: None },
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(lease.amount, 100);
    assert!(warnings(db, report("l1", user, token, 5, &lease.id)).await.is_empty(), "1005 left");
    assert_eq!(warnings(db, report("l2", user, token, 10, &lease.id)).await, crossing(995));

    // Closed with 50 more spent than settled (reports on their way): 35 back, 945 left. A top-up to 985 stays
    // below; the late report the closed lease covers takes nothing more, so it is no crossing.
    assert_eq!(leases::close(db, &lease.id, Some(65)).await.unwrap(), 35);
    top_up(db, user, 40).await;
    assert!(warnings(db, report("l3", user, token, 50, &lease.id)).await.is_empty());

    // Back to 1005 and down again: warned again.
    top_up(db, user, 20).await;
    assert_eq!(warnings(db, report("d", user, token, 10, "")).await, crossing(995));
}
