//! Log retention on every backend: `LogRetentionDays` off deletes nothing; on, one control of those sharing the
//! database claims the day and deletes the consume and error rows older than the retention in batches, leaving
//! every other log type, the newer rows and the hourly dashboard sums (`quota_data`).

use control_svc::db::{self, DatabaseUrl, Db};
use control_svc::retention::{self, Check};
use veloera_admin_types::log_type;

const DAY: i64 = 86_400;
/// 2026-12-02 12:00 UTC.
const NOW: i64 = 1_796_212_800;

/// Inserts `count` log rows of `kind` created at `at`, in one statement.
async fn logs(db: &Db, kind: i32, at: i64, count: usize) {
    let rows = vec![format!("(1, {at}, {kind}, 'x')"); count].join(", ");
    let sql = format!("INSERT INTO logs (user_id, created_at, type, content) VALUES {rows}");
    sqlx::query(&sql).execute(db.pool()).await.unwrap();
}

async fn count(db: &Db, sql: &str) -> i64 {
    sqlx::query_as::<_, (i64,)>(sql).fetch_one(db.pool()).await.unwrap().0
}

async fn logs_of(db: &Db, kind: i32) -> i64 {
    count(db, &format!("SELECT COUNT(*) FROM logs WHERE type = {kind}")).await
}

on_every_backend! {
    from_url:
    /// Retention deletes only old consume and error rows, once a day across controls.
    log_retention_deletes_old_consume_and_error_rows_once_a_day => super::exercise_retention;
    /// Several controls checking at once: exactly one does the day's run.
    one_of_several_controls_claims_the_days_run => super::exercise_concurrent_claims;
}

async fn exercise_retention(url: DatabaseUrl) {
    let db = Db::connect(&url).await.expect("connect and migrate");
    let old = NOW - 8 * DAY;
    let recent = NOW - 6 * DAY;
    // More old consume rows than one batch holds, so the deletion takes several.
    logs(&db, log_type::CONSUME, old, 2300).await;
    logs(&db, log_type::ERROR, old, 40).await;
    for kind in [log_type::TOPUP, log_type::MANAGE, log_type::SYSTEM, log_type::CHECK_IN] {
        logs(&db, kind, old, 3).await;
    }
    logs(&db, log_type::CONSUME, recent, 5).await;
    logs(&db, log_type::ERROR, recent, 2).await;
    let sums = "INSERT INTO quota_data (user_id, username, model_name, channel_id, created_at, request_count, quota) \
                VALUES (1, 'u', 'gpt-4o', 1, ?, 2300, 99)";
    sqlx::query(&db.sql(sums)).bind(old - old % 3600).execute(db.pool()).await.unwrap();

    assert_eq!(retention::check(&db, NOW, || false).await.unwrap(), Check::Off, "off by default");
    db::options::set(&db, retention::OPTION, "7").await.unwrap();
    assert_eq!(retention::check(&db, NOW, || false).await.unwrap(), Check::Deleted(2340));
    assert_eq!(logs_of(&db, log_type::CONSUME).await, 5, "the last 7 days are kept");
    assert_eq!(logs_of(&db, log_type::ERROR).await, 2);
    for kind in [log_type::TOPUP, log_type::MANAGE, log_type::SYSTEM, log_type::CHECK_IN] {
        assert_eq!(logs_of(&db, kind).await, 3, "log type {kind} is not retention's");
    }
    assert_eq!(count(&db, "SELECT COUNT(*) FROM quota_data").await, 1, "the dashboard keeps its hourly sums");

    // Another control on the same database, later the same day: the run is claimed already.
    logs(&db, log_type::CONSUME, old, 1).await;
    let other = Db::connect(&url).await.unwrap();
    assert_eq!(retention::check(&other, NOW + 3600, || false).await.unwrap(), Check::AlreadyRun);
    assert_eq!(retention::check(&db, NOW + 7200, || false).await.unwrap(), Check::AlreadyRun);
    // The next day one of them runs it again.
    assert_eq!(retention::check(&other, NOW + DAY, || false).await.unwrap(), Check::Deleted(1));
    assert_eq!(retention::check(&db, NOW + DAY, || false).await.unwrap(), Check::AlreadyRun);
}

/// Several controls checking at once: exactly one of them does the day's run.
async fn exercise_concurrent_claims(url: DatabaseUrl) {
    let db = Db::connect(&url).await.expect("connect and migrate");
    db::options::set(&db, retention::OPTION, "1").await.unwrap();
    logs(&db, log_type::ERROR, NOW - 2 * DAY, 10).await;
    let mut controls = Vec::new();
    for _ in 0..4 {
        controls.push(Db::connect(&url).await.unwrap());
    }
    let checks = controls.iter().map(|db| retention::check(db, NOW, || false));
    let outcomes: Vec<Check> = futures::future::join_all(checks).await.into_iter().map(Result::unwrap).collect();
    let ran: Vec<&Check> = outcomes.iter().filter(|c| matches!(c, Check::Deleted(_))).collect();
    assert_eq!(ran, vec![&Check::Deleted(10)], "{outcomes:?}");
}
