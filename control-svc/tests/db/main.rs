//! The database layer against each backend: SQLite (temp file), and the real PostgreSQL and MariaDB/MySQL
//! servers of the machine (see DEVELOPERS.md). Each test creates its own uniquely named database and drops it.
//! Server URLs: `TEST_POSTGRES_URL` (default postgres://postgres@127.0.0.1:5432/postgres) and
//! `TEST_MYSQL_URL` (default mysql://root@127.0.0.1:3306/test).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::disallowed_methods,
    reason = "test code: a panic is a failed test with its message; fixtures spawn freely and read TEST_* variables"
)]

use control_svc::db::channels::{ChannelOrder, ChannelSearch, StatusChange, TagEdit};
use control_svc::db::usage::{Context, settle};
use control_svc::db::{self, DatabaseUrl, Db, channels::NewChannel, tokens::NewToken, users::NewUser};
use control_svc::error::ControlError;
use control_svc::health::Policy;
use control_svc::routing::ChannelSnapshot;
use control_svc::routing::virtual_models::VirtualModels;
use control_svc::secrets::Cipher;
use control_svc::settings::Options;
use control_svc::settlement::{ChatContent, FailedAttempt, Outcome, UsageReport};
use sqlx::{AnyPool, Executor};

/// One named test per behaviour per backend (`<behaviour>::sqlite`, `::postgres`, `::mysql`), each on a fresh
/// database, so the first failure on one backend hides nothing else. Behaviours take the connected `&Db`;
/// after `from_url:` they take the `DatabaseUrl` (to connect more than once); after `racing:` they run on a
/// multi-threaded runtime (real parallel tasks).
macro_rules! on_every_backend {
    (@tests #[$test:meta] $run:path) => {
        #[$test]
        async fn sqlite() {
            crate::on_sqlite($run).await;
        }

        #[$test]
        async fn postgres() {
            crate::on_postgres($run).await;
        }

        #[$test]
        async fn mysql() {
            crate::on_mysql($run).await;
        }
    };
    (@connected #[$test:meta] $($(#[$doc:meta])* $behaviour:ident => $exercise:path;)*) => {$(
        $(#[$doc])*
        mod $behaviour {
            async fn run(url: control_svc::db::DatabaseUrl) {
                let db = control_svc::db::Db::connect(&url).await.expect("connect and migrate");
                $exercise(&db).await;
                db.pool().close().await;
            }

            on_every_backend!(@tests #[$test] run);
        }
    )*};
    (from_url: $($(#[$doc:meta])* $behaviour:ident => $exercise:path;)*) => {$(
        $(#[$doc])*
        mod $behaviour {
            on_every_backend!(@tests #[tokio::test] $exercise);
        }
    )*};
    (racing: $($body:tt)*) => {
        on_every_backend!(@connected #[tokio::test(flavor = "multi_thread", worker_threads = 4)] $($body)*);
    };
    ($($body:tt)*) => {
        on_every_backend!(@connected #[tokio::test] $($body)*);
    };
}

mod accounts;
mod billing;
mod import;
mod notices;
mod redemptions;
mod retention;
mod sessions;

fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn mysql_admin_url() -> String {
    std::env::var("TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into())
}

fn unique_name() -> String {
    format!("veloera_test_{:016x}", rand::random::<u64>())
}

/// Connects to a server's admin database, or fails with a message that says how to start the server.
async fn admin_pool(url: &str, what: &str, start: &str) -> AnyPool {
    sqlx::any::install_default_drivers();
    match AnyPool::connect(url).await {
        Ok(p) => p,
        Err(e) => panic!("{what} at {url} is unreachable ({e}). Start it with: {start}"),
    }
}

/// Runs `exercise` against a fresh SQLite file.
async fn on_sqlite<F, Fut>(exercise: F)
where
    F: FnOnce(DatabaseUrl) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    exercise(DatabaseUrl::sqlite_file(&dir.path().join("veloera.db").to_string_lossy())).await;
}

/// Runs `exercise` against a fresh database on the PostgreSQL server.
async fn on_postgres<F, Fut>(exercise: F)
where
    F: FnOnce(DatabaseUrl) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let admin = postgres_admin_url();
    let start = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start";
    with_server_db(&admin, "PostgreSQL", start, |name| replace_db(&admin, name), exercise).await;
}

/// Runs `exercise` against a fresh database on the MariaDB/MySQL server.
async fn on_mysql<F, Fut>(exercise: F)
where
    F: FnOnce(DatabaseUrl) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let admin = mysql_admin_url();
    let start = "start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd";
    with_server_db(&admin, "MariaDB/MySQL", start, |name| replace_db(&admin, name), exercise).await;
}

/// Runs `body` against a fresh database on a server, dropping the database afterwards even if `body` panics.
async fn with_server_db<F, Fut>(admin_url: &str, what: &str, start: &str, make_url: impl Fn(&str) -> String, body: F)
where
    F: FnOnce(DatabaseUrl) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let admin = admin_pool(admin_url, what, start).await;
    let name = unique_name();
    admin.execute(format!("CREATE DATABASE {name}").as_str()).await.expect("create test database");
    let url = DatabaseUrl::parse(&make_url(&name), "unused").unwrap();
    let outcome = tokio::spawn(body(url)).await;
    // Let the test's pool close before dropping (PostgreSQL refuses to drop a database in use).
    let drop_sql = if admin_url.starts_with("postgres") {
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    } else {
        format!("DROP DATABASE IF EXISTS {name}")
    };
    admin.execute(drop_sql.as_str()).await.expect("drop test database");
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

fn replace_db(url: &str, name: &str) -> String {
    let (base, _) = url.rsplit_once('/').expect("URL has a database path");
    format!("{base}/{name}")
}

/// Alice (quota 10 000, must change her password) with a token of 100 and a gpt-4o channel named "c", and a
/// report of one of her requests on them (40 prompt and 5 completion tokens: (40 + 5×4) × 1.25 = 75 quota).
struct Alice {
    user_id: i64,
    token_id: i64,
    report: UsageReport,
}

async fn alice_with_a_token_and_a_channel(db: &Db) -> Alice {
    let user_id = db::users::insert(
        db,
        &NewUser { username: "alice", password_hash: "h", role: 1, quota: 10_000, must_change_password: true },
    )
    .await
    .unwrap();
    let token_id = db::tokens::insert(
        db,
        &NewToken {
            user_id,
            name: "t".into(),
            key_digest_hex: "ab".repeat(32),
            key_ciphertext: "ct".into(),
            key_hint: "sk-abcd**********wxyz".into(),
            created_time: 1,
            expired_time: -1,
            remain_quota: 100,
            unlimited_quota: false,
            model_limits_enabled: false,
            model_limits: String::new(),
            allow_ips: String::new(),
            group_name: String::new(),
            rate_limit: Default::default(),
        },
    )
    .await
    .unwrap();
    let mut c = channel("c", "http://x", "gpt-4o", "default", "", 0, 1);
    c.created_time = 1;
    c.settings = db::channels::ChannelSettings {
        other: "2024-10-21".into(),
        system_prompt: "Be brief.".into(),
        headers: r#"{"X-Team":"blue"}"#.into(),
        ..Default::default()
    };
    let channel_id = db::channels::insert(db, &c).await.unwrap();
    let report = UsageReport {
        request_id: "req-1".into(),
        user_id,
        token_id,
        token_name: "t".into(),
        channel_id,
        model: "gpt-4o".into(),
        upstream_model: "gpt-4o".into(),
        prompt_tokens: 40,
        completion_tokens: 5,
        outcome: Outcome::Answered,
        group: "default".into(),
        created_at_secs: 10,
        ..Default::default()
    };
    Alice { user_id, token_id, report }
}

/// Default options without quota warnings (no site threshold), for settlement.
fn quiet_options() -> Options {
    Options { quota_remind_threshold: 0, ..Options::default() }
}

/// 150 free requests of `report`'s caller (no tokens), `bulk-0` … `bulk-149`.
fn bulk(report: &UsageReport) -> Vec<UsageReport> {
    (0..150)
        .map(|i| UsageReport {
            request_id: format!("bulk-{i}"),
            prompt_tokens: 0,
            completion_tokens: 0,
            ..report.clone()
        })
        .collect()
}

/// Connecting runs the migrations; connecting again finds nothing left to run.
async fn exercise_migrations(url: DatabaseUrl) {
    let db = Db::connect(&url).await.expect("connect and migrate");
    let again = Db::connect(&url).await.expect("reconnect");
    assert_eq!(db::users::count(&again).await.unwrap(), 0);
    db.pool().close().await;
    again.pool().close().await;
}

/// Users get their own ids, are found by name with what was stored, and names are unique.
async fn exercise_users(db: &Db) {
    let user_id = alice_with_a_token_and_a_channel(db).await.user_id;
    let bob = db::users::insert(
        db,
        &NewUser { username: "bob", password_hash: "h", role: 1, quota: 5, must_change_password: false },
    )
    .await
    .unwrap();
    assert_ne!(user_id, bob);
    let alice = db::users::find_by_username(db, "alice").await.unwrap().unwrap();
    assert_eq!((alice.id, alice.quota, alice.must_change_password), (user_id, 10_000, 1));
    let duplicate = db::users::insert(
        db,
        &NewUser { username: "alice", password_hash: "h", role: 1, quota: 0, must_change_password: false },
    )
    .await;
    assert!(duplicate.is_err(), "usernames are unique");
}

/// A token is found by its key's digest together with its owner's status, quota and group.
async fn exercise_tokens(db: &Db) {
    let Alice { token_id, .. } = alice_with_a_token_and_a_channel(db).await;
    let found = db::tokens::find_with_owner_by_digest(db, &"ab".repeat(32)).await.unwrap().unwrap();
    assert_eq!((found.token.id, found.token.remain_quota), (token_id, 100));
    assert_eq!(
        (found.owner_status, found.owner_quota, found.owner_group.as_deref()),
        (Some(1), Some(10_000), Some("default"))
    );
    // Veloera v0.5's per-token rate limit columns, with their defaults (off).
    assert_eq!(
        (
            found.token.rate_limit_enabled,
            found.token.rate_limit_period,
            found.token.rate_limit_count,
            found.token.rate_limit_success
        ),
        (0, 60, 1000, 10)
    );
    assert!(db::tokens::find_with_owner_by_digest(db, &"cd".repeat(32)).await.unwrap().is_none());
}

/// A channel's settings (API version, system prompt, headers) are stored and listed as written.
async fn exercise_channel_settings(db: &Db) {
    let channel_id = alice_with_a_token_and_a_channel(db).await.report.channel_id;
    let stored = &db::channels::list(db).await.unwrap()[0];
    assert_eq!(stored.id, channel_id);
    assert_eq!((stored.settings.other.as_str(), stored.settings.system_prompt.as_str()), ("2024-10-21", "Be brief."));
    assert_eq!(stored.settings.headers, r#"{"X-Team":"blue"}"#);
}

/// A report is applied once although delivered three times in two batches: token, user and log charged once.
async fn exercise_settled_once(db: &Db) {
    let Alice { user_id, token_id, report } = alice_with_a_token_and_a_channel(db).await;
    let (options, snapshot) = (quiet_options(), ChannelSnapshot::default());
    let cx = Context { options: &options, channels: &snapshot };
    let first = settle(db, &cx, &[report.clone(), report.clone()]).await.unwrap();
    assert_eq!(first.newly_applied, 1);
    let again = settle(db, &cx, std::slice::from_ref(&report)).await.unwrap();
    assert_eq!(again.newly_applied, 0);
    let token = db::tokens::find_by_id(db, token_id).await.unwrap().unwrap();
    assert_eq!((token.remain_quota, token.used_quota), (25, 75));
    let alice = db::users::find_by_id(db, user_id).await.unwrap().unwrap();
    assert_eq!((alice.quota, alice.used_quota, alice.request_count), (10_000 - 75, 75, 1));
    let logs = db::logs::page(db, &Default::default(), 0, 10).await.unwrap();
    assert_eq!(logs.len(), 1);
    assert_eq!((logs[0].quota, logs[0].username.as_str(), logs[0].request_id.as_str()), (75, "alice", "req-1"));
}

/// Spending the rest of a token marks it as exhausted, so relays are told.
async fn exercise_exhausted_tokens(db: &Db) {
    let Alice { token_id, report, .. } = alice_with_a_token_and_a_channel(db).await;
    let (options, snapshot) = (quiet_options(), ChannelSnapshot::default());
    let cx = Context { options: &options, channels: &snapshot };
    let settled = settle(db, &cx, std::slice::from_ref(&report)).await.unwrap();
    assert!(!settled.exhausted_tokens.contains_key(&token_id), "25 of 100 are left");
    let more = UsageReport { request_id: "req-2".into(), ..report };
    let settled = settle(db, &cx, &[more]).await.unwrap();
    assert!(settled.exhausted_tokens.contains_key(&token_id));
}

/// A failed upstream call is recorded for idempotency but charges nothing and writes no consume row.
async fn exercise_failed_calls(db: &Db) {
    let Alice { token_id, report, .. } = alice_with_a_token_and_a_channel(db).await;
    let (options, snapshot) = (quiet_options(), ChannelSnapshot::default());
    let cx = Context { options: &options, channels: &snapshot };
    let failed = UsageReport { request_id: "req-3".into(), outcome: Outcome::Failed, ..report };
    settle(db, &cx, std::slice::from_ref(&failed)).await.unwrap();
    assert_eq!(settle(db, &cx, &[failed]).await.unwrap().newly_applied, 0, "recorded: a redelivery is known");
    assert!(db::logs::page(db, &Default::default(), 0, 10).await.unwrap().is_empty());
    let token = db::tokens::find_by_id(db, token_id).await.unwrap().unwrap();
    assert_eq!((token.remain_quota, token.used_quota), (100, 0));
}

/// Large batches are written in several fixed-size statements; a redelivered batch with a few new records
/// applies only the new ones.
async fn exercise_large_batches(db: &Db) {
    let report = alice_with_a_token_and_a_channel(db).await.report;
    let (options, snapshot) = (quiet_options(), ChannelSnapshot::default());
    let cx = Context { options: &options, channels: &snapshot };
    let bulk = bulk(&report);
    assert_eq!(settle(db, &cx, &bulk).await.unwrap().newly_applied, 150);
    let mut redelivered = bulk.clone();
    redelivered.extend((150..153).map(|i| UsageReport { request_id: format!("bulk-{i}"), ..bulk[0].clone() }));
    assert_eq!(settle(db, &cx, &redelivered).await.unwrap().newly_applied, 3);
    assert_eq!(db::logs::page(db, &Default::default(), 0, 500).await.unwrap().len(), 153);
}

fn channel(name: &str, base_url: &str, models: &str, group: &str, tag: &str, priority: i64, status: i64) -> NewChannel {
    NewChannel {
        channel_type: 1,
        name: name.into(),
        key_ciphertext: "ct".into(),
        key_hint: "h".into(),
        base_url: base_url.into(),
        models: models.into(),
        group_name: group.into(),
        model_mapping: String::new(),
        status,
        priority,
        weight: 0,
        auto_ban: 1,
        test_model: String::new(),
        openai_organization: String::new(),
        tag: tag.into(),
        created_time: 42,
        model_prefix: String::new(),
        settings: Default::default(),
    }
}

async fn run(db: &Db, query: &str) {
    sqlx::query(&db.sql(query)).execute(db.pool()).await.unwrap();
}

async fn number(db: &Db, query: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(&db.sql(query)).fetch_one(db.pool()).await.unwrap()
}

fn ids(rows: Result<Vec<db::channels::ChannelRow>, ControlError>) -> Vec<i64> {
    rows.unwrap().iter().map(|r| r.id).collect()
}

/// Channel administration on this backend: paging, search (case, LIKE wildcards taken literally), tags,
/// status bookkeeping, and all-or-nothing deletes that take the per-key health rows along.
async fn exercise_channel_admin(db: &Db) {
    use db::channels;
    let existing = ids(channels::list(db).await);
    assert_eq!(channels::delete(db, &existing).await.unwrap(), existing.len() as u64);
    assert!(channels::list(db).await.unwrap().is_empty());

    let a = channels::insert(
        db,
        &channel("Alpha_1", "https://alpha.example", "gpt-4o,claude", "default,vip", "blue", 5, 1),
    )
    .await
    .unwrap();
    let b = channels::insert(db, &channel("beta 100%", "http://beta.example", "gpt-4o-mini", "default", "blue", 0, 1))
        .await
        .unwrap();
    let c = channels::insert(db, &channel("Gamma", "https://gamma.example", "gpt-4o,zeta", "default", "", 5, 2))
        .await
        .unwrap();

    assert_eq!(ids(channels::page(db, ChannelOrder::PriorityDesc, None).await), vec![c, a, b]);
    assert_eq!(ids(channels::page(db, ChannelOrder::IdDesc, None).await), vec![c, b, a]);
    assert_eq!(ids(channels::page(db, ChannelOrder::PriorityDesc, Some((1, 1))).await), vec![a]);
    assert_eq!(ids(channels::page(db, ChannelOrder::PriorityDesc, Some((1, 5))).await), vec![a, b]);

    let search = |keyword: &str, group: &str, model: &str| {
        let filters = ChannelSearch { keyword: keyword.into(), group: group.into(), model: model.into() };
        async move { ids(channels::search(db, &filters, ChannelOrder::PriorityDesc).await) }
    };
    assert_eq!(search("ALPHA", "", "").await, vec![a], "case-insensitive on every backend");
    assert_eq!(search("alpha_", "", "").await, vec![a]);
    assert_eq!(search("beta_100", "", "").await, Vec::<i64>::new(), "_ is literal");
    assert_eq!(search("a%a", "", "").await, Vec::<i64>::new(), "% is literal");
    assert_eq!(search("0%", "", "").await, vec![b]);
    assert_eq!(search("gamma.EXAMPLE", "", "").await, vec![c], "base URL");
    assert!(search(&c.to_string(), "", "").await.contains(&c), "id");
    assert_eq!(search("", "vip", "").await, vec![a]);
    assert_eq!(search("", "vi", "").await, Vec::<i64>::new());
    assert_eq!(search("", "", "gpt-4o").await, vec![c, a]);
    assert_eq!(search("example", "default", "gpt-4o-mini").await, vec![b]);

    let enabled: Vec<String> = channels::enabled_models(db).await.unwrap().into_iter().collect();
    assert_eq!(enabled, ["claude", "gpt-4o", "gpt-4o-mini"]);
    assert_eq!(channels::tags(db).await.unwrap(), ["blue"]);

    // Disabling by tag records why and when, but not over channels already disabled by hand.
    let disable = |at| StatusChange::Disable { reason: "by hand".into(), at };
    assert_eq!(channels::set_status_by_tag(db, "blue", &disable(100)).await.unwrap(), 2);
    assert_eq!(channels::set_status_by_tag(db, "blue", &disable(200)).await.unwrap(), 2);
    for id in [a, b] {
        let row = channels::find_by_id(db, id).await.unwrap().unwrap();
        assert_eq!((row.status, row.status_reason.as_str(), row.status_time), (2, "by hand", 100));
    }
    run(
        db,
        &format!(
            "UPDATE channels SET fail_count = 3, fail_window_start = 4, probe_at = 5, backoff_secs = 6 WHERE id = {a}"
        ),
    )
    .await;
    assert_eq!(channels::set_status_by_tag(db, "blue", &StatusChange::Enable).await.unwrap(), 2);
    let row = channels::find_by_id(db, a).await.unwrap().unwrap();
    assert_eq!((row.status, row.status_reason.as_str(), row.status_time), (1, "", 0));
    let circuit =
        format!("SELECT fail_count + fail_window_start + probe_at + backoff_secs FROM channels WHERE id = {a}");
    assert_eq!(number(db, &circuit).await, 0);
    assert!(matches!(
        channels::set_status_by_tag(db, "nope", &StatusChange::Enable).await,
        Err(ControlError::NotFound(_))
    ));

    let edit = TagEdit {
        new_tag: Some("green".into()),
        priority: Some(9),
        weight: Some(2),
        models: Some("m1,m2".into()),
        group_name: Some("vip".into()),
        model_mapping: Some("{}".into()),
    };
    assert_eq!(channels::edit_tag(db, "blue", &edit).await.unwrap(), 2);
    let row = channels::find_by_id(db, b).await.unwrap().unwrap();
    assert_eq!(
        (row.tag.as_str(), row.priority, row.weight, row.models.as_str(), row.group_name.as_str()),
        ("green", 9, 2, "m1,m2", "vip")
    );
    assert_eq!(row.model_mapping, "{}");
    assert_eq!(channels::find_by_id(db, c).await.unwrap().unwrap().priority, 5, "other channels untouched");
    assert_eq!(channels::tags(db).await.unwrap(), ["green"]);
    assert_eq!(channels::edit_tag(db, "green", &TagEdit::default()).await.unwrap(), 2);
    assert!(matches!(channels::edit_tag(db, "blue", &edit).await, Err(ControlError::NotFound(_))));

    assert_eq!(channels::set_tag(db, &[a, c, a], "red").await.unwrap(), 2);
    assert!(matches!(channels::set_tag(db, &[b, 999_999], "red").await, Err(ControlError::NotFound(_))));
    assert_eq!(channels::find_by_id(db, b).await.unwrap().unwrap().tag, "green", "nothing half-written");
    assert_eq!(channels::tags(db).await.unwrap(), ["green", "red"]);

    // A whole-channel update, with and without status bookkeeping.
    let mut new = channel("Alpha renamed", "https://alpha.example", "gpt-4o", "default", "red", 1, 2);
    new.created_time = 7;
    let off = StatusChange::Disable { reason: "maintenance".into(), at: 300 };
    channels::update(db, a, &new, Some(&off)).await.unwrap();
    let row = channels::find_by_id(db, a).await.unwrap().unwrap();
    assert_eq!(
        (row.name.as_str(), row.status, row.status_reason.as_str(), row.status_time),
        ("Alpha renamed", 2, "maintenance", 300)
    );
    assert_eq!(row.created_time, 42, "created_time is never rewritten");
    new.name = "Alpha again".into();
    channels::update(db, a, &new, None).await.unwrap();
    let row = channels::find_by_id(db, a).await.unwrap().unwrap();
    assert_eq!((row.name.as_str(), row.status_reason.as_str()), ("Alpha again", "maintenance"));
    run(db, &format!("UPDATE channels SET fail_count = 3, probe_at = 5 WHERE id = {a}")).await;
    new.status = 1;
    channels::update(db, a, &new, Some(&StatusChange::Enable)).await.unwrap();
    let row = channels::find_by_id(db, a).await.unwrap().unwrap();
    assert_eq!((row.status, row.status_reason.as_str(), row.status_time), (1, "", 0));
    assert_eq!(number(db, &circuit).await, 0);

    // Deletes take the per-key health rows along, all or nothing.
    for id in [a, b, c] {
        run(db, &format!("INSERT INTO channel_keys (channel_id, key_digest) VALUES ({id}, 'd1'), ({id}, 'd2')")).await;
    }
    let key_rows = |id: i64| format!("SELECT COUNT(*) FROM channel_keys WHERE channel_id = {id}");
    assert!(matches!(channels::delete(db, &[b, 999_999]).await, Err(ControlError::NotFound(_))));
    assert!(channels::find_by_id(db, b).await.unwrap().is_some());
    assert_eq!(number(db, &key_rows(b)).await, 2);
    assert_eq!(channels::delete(db, &[b, b]).await.unwrap(), 1);
    assert_eq!(number(db, &key_rows(b)).await, 0);
    assert_eq!(number(db, &key_rows(a)).await, 2);
    run(db, &format!("UPDATE channels SET status = 3 WHERE id = {a}")).await;
    assert_eq!(channels::delete_disabled(db).await.unwrap(), 2, "a (3) and c (2)");
    assert_eq!(number(db, "SELECT COUNT(*) FROM channel_keys").await, 0);
    assert!(channels::list(db).await.unwrap().is_empty());
    assert_eq!(channels::delete_disabled(db).await.unwrap(), 0);
}

on_every_backend! {
    /// Users: ids, lookups by name, unique names.
    users => super::exercise_users;
    /// Tokens found by digest with their owner.
    tokens => super::exercise_tokens;
    /// Channel settings stored as written.
    channel_settings => super::exercise_channel_settings;
    /// Settlement applies each report exactly once.
    settled_once => super::exercise_settled_once;
    /// A token spent to its end is reported exhausted.
    exhausted_tokens => super::exercise_exhausted_tokens;
    /// Failed calls are recorded but free.
    failed_calls => super::exercise_failed_calls;
    /// Batches larger than one statement, and redelivered ones.
    large_batches => super::exercise_large_batches;
    /// Log queries and the hourly dashboard sums.
    logs_and_quota_data => super::exercise_logs_and_quota_data;
    /// Chat content kept only while its option is on.
    chat_content => super::exercise_chat_content;
    /// Channel administration: search, order, tags, status changes, deletion.
    channel_admin => super::exercise_channel_admin;
    /// Failed attempts settle into per-key and per-channel health, exactly once.
    channel_health => super::exercise_health;
    /// Quota leases under parallel grants.
    quota_leases => super::exercise_leases;
}

on_every_backend! {
    from_url:
    /// Migrations run once: a second connection finds nothing to do.
    migrations => super::exercise_migrations;
}

#[tokio::test]
async fn a_sqlite_file_is_created_with_its_missing_directories() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dir/veloera.db");
    let db = Db::connect(&DatabaseUrl::sqlite_file(&path.to_string_lossy())).await.expect("connect and migrate");
    assert!(path.exists(), "the SQLite file is created on first start");
    db.pool().close().await;
}

#[tokio::test]
async fn go_style_mysql_dsn_reaches_the_server() {
    // Veloera users write `user:pass@tcp(host:port)/db`; it must reach the same server and migrate.
    let admin = mysql_admin_url();
    with_server_db(
        &admin,
        "MariaDB/MySQL",
        "start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd",
        |name| format!("root:@tcp(127.0.0.1:3306)/{name}?parseTime=true&charset=utf8mb4"),
        |url| async move {
            assert_eq!(url.url.split('@').next(), Some("mysql://root"));
            let db = Db::connect(&url).await.expect("connect with a Go-style DSN");
            db.ping().await.unwrap();
            db.pool().close().await;
        },
    )
    .await;
}

/// Failed attempts settle into per-key and per-channel health, exactly once, on every backend.
async fn exercise_health(db: &Db) {
    let cipher = Cipher::new("health-test-secret");
    let mut new = channel("health", "http://h", "m", "default", "", 0, 1);
    new.key_ciphertext = cipher.encrypt("sk-one,sk-two");
    let id = db::channels::insert(db, &new).await.unwrap();
    let mut other = channel("flaky", "http://f", "m", "default", "", 0, 1);
    other.key_ciphertext = cipher.encrypt("sk-flaky");
    let flaky = db::channels::insert(db, &other).await.unwrap();
    let rows = db::channels::list(db).await.unwrap();
    let snapshot = ChannelSnapshot::build(&rows, &Default::default(), VirtualModels::default(), &cipher);
    let keys: Vec<(i64, String)> = snapshot.all_keys().collect();
    db::channel_keys::ensure(db, &keys).await.unwrap();
    let policy = Policy { failure_threshold: 3, ..Policy::default() };
    let options = Options { policy: policy.clone(), quota_remind_threshold: 0, ..Options::default() };
    let cx = Context { options: &options, channels: &snapshot };
    let refused = |request_id: &str, slot: i32| UsageReport {
        request_id: request_id.into(),
        channel_id: id,
        key_slot: slot,
        outcome: Outcome::Failed,
        failed_attempts: vec![FailedAttempt {
            channel_id: id,
            key_slot: slot,
            status_code: 401,
            error: "invalid_api_key: Incorrect API key".into(),
            fault: None,
        }],
        ..Default::default()
    };
    let settled = settle(db, &cx, &[refused("h-1", 1), refused("h-1", 1)]).await.unwrap();
    assert!(settled.health_changed);
    let health = db::channel_keys::for_channel(db, id).await.unwrap();
    let by_slot = |slot: usize| {
        health.iter().find(|h| h.key_digest == keys.iter().filter(|k| k.0 == id).nth(slot).unwrap().1).unwrap().clone()
    };
    assert_eq!((by_slot(1).status, by_slot(1).error_count, by_slot(0).status), (3, 1, 1));
    assert_eq!(db::channels::find_by_id(db, id).await.unwrap().unwrap().status, 1, "its sibling keeps the channel up");
    settle(db, &cx, &[refused("h-2", 0)]).await.unwrap();
    let row = db::channels::find_by_id(db, id).await.unwrap().unwrap();
    assert_eq!((row.status, row.status_reason.as_str()), (3, control_svc::routing::ALL_KEYS_DISABLED_REASON));

    let transient = |request_id: String| UsageReport {
        request_id,
        channel_id: flaky,
        outcome: Outcome::Failed,
        failed_attempts: vec![FailedAttempt {
            channel_id: flaky,
            key_slot: 0,
            status_code: 503,
            error: "busy".into(),
            fault: None,
        }],
        ..Default::default()
    };
    settle(db, &cx, &[transient("f-1".into()), transient("f-2".into())]).await.unwrap();
    // A success closes the window: two more failures do not reach the threshold of three.
    let ok =
        UsageReport { request_id: "f-ok".into(), channel_id: flaky, outcome: Outcome::Answered, ..Default::default() };
    settle(db, &cx, &[ok]).await.unwrap();
    settle(db, &cx, &[transient("f-3".into()), transient("f-4".into())]).await.unwrap();
    assert_eq!(db::channels::find_by_id(db, flaky).await.unwrap().unwrap().status, 1);
    let settled = settle(db, &cx, &[transient("f-5".into())]).await.unwrap();
    assert!(settled.health_changed);
    let row = db::channels::find_by_id(db, flaky).await.unwrap().unwrap();
    assert_eq!(row.status, 3);
    assert!(row.status_reason.starts_with("3 failures within 60s"), "{}", row.status_reason);
    let due = db::channel_health::due_for_probe(db, i64::MAX).await.unwrap();
    assert!(due.iter().any(|(r, backoff)| r.id == flaky && *backoff == policy.probe_initial_secs));
    assert!(db::channel_health::enable_recovered(db, flaky).await.unwrap());
    assert_eq!(db::channels::find_by_id(db, flaky).await.unwrap().unwrap().status, 1);
}

/// Quota leases under real parallel grants: never more than the balances hold, and closing keeps what was spent.
async fn exercise_leases(db: &Db) {
    let user = db::users::insert(
        db,
        &NewUser { username: "leaser", password_hash: "h", role: 1, quota: 100, must_change_password: false },
    )
    .await
    .unwrap();
    let token = db::tokens::insert(
        db,
        &NewToken {
            user_id: user,
            name: "lt".into(),
            key_digest_hex: "ef".repeat(32),
            key_ciphertext: "ct".into(),
            key_hint: "h".into(),
            created_time: 1,
            expired_time: -1,
            remain_quota: 60,
            unlimited_quota: false,
            model_limits_enabled: false,
            model_limits: String::new(),
            allow_ips: String::new(),
            group_name: String::new(),
            rate_limit: Default::default(),
        },
    )
    .await
    .unwrap();
    let grants = (0..20).map(|i| {
        let db = db.clone();
        tokio::spawn(async move {
            let relay_id = format!("relay-{i}");
            let ask = db::leases::Wanted {
                relay_id: &relay_id,
                user_id: user,
                token_id: token,
                wanted: 10,
                needed: 7,
                surrender: None,
            };
            db::leases::grant(&db, ask).await.unwrap()
        })
    });
    let granted: Vec<i64> =
        futures::future::join_all(grants).await.into_iter().filter_map(|r| r.unwrap().ok()).map(|g| g.amount).collect();
    let total: i64 = granted.iter().sum();
    // 10 while half the balance covers it, then 7 (one request) of the last 10; the last 3 cover no request.
    assert_eq!(total, 57, "the token's 60 are leased up to the last request, never more: {granted:?}");
    let (remain,): (i64,) = sqlx::query_as(&db.sql("SELECT remain_quota FROM tokens WHERE id = ?"))
        .bind(token)
        .fetch_one(db.pool())
        .await
        .unwrap();
    let (quota,): (i64,) =
        sqlx::query_as(&db.sql("SELECT quota FROM users WHERE id = ?")).bind(user).fetch_one(db.pool()).await.unwrap();
    assert_eq!((remain, quota), (3, 43));
    assert_eq!(db::leases::outstanding(db, token, user).await.unwrap(), (57, 57));
    // Closing every lease having spent 3 of each gives the rest back, once.
    let ids: Vec<(String,)> = sqlx::query_as(&db.sql("SELECT id FROM quota_leases WHERE token_id = ?"))
        .bind(token)
        .fetch_all(db.pool())
        .await
        .unwrap();
    for (id,) in &ids {
        db::leases::close(db, id, Some(3)).await.unwrap();
        assert_eq!(db::leases::close(db, id, Some(3)).await.unwrap(), 0, "a lease closes once");
    }
    let spent = 3 * ids.len() as i64;
    let (remain,): (i64,) = sqlx::query_as(&db.sql("SELECT remain_quota FROM tokens WHERE id = ?"))
        .bind(token)
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(remain, 60 - spent);
    assert_eq!(db::leases::outstanding(db, token, user).await.unwrap(), (0, 0));
}

/// Log filters, statistics, search and deletion, and the hourly dashboard sums written at settlement, over
/// req-1 and req-2 (75 quota each), a failed req-3 and 153 free bulk requests of alice at t = 10.
async fn exercise_logs_and_quota_data(db: &Db) {
    use control_svc::db::logs::LogFilter;
    use control_svc::db::quota_data::{self, GroupBy, Window};
    let report = &alice_with_a_token_and_a_channel(db).await.report;
    let (options, snapshot) = (quiet_options(), ChannelSnapshot::default());
    let cx = &Context { options: &options, channels: &snapshot };
    for request_id in ["req-1", "req-2"] {
        settle(db, cx, &[UsageReport { request_id: request_id.into(), ..report.clone() }]).await.unwrap();
    }
    settle(db, cx, &[UsageReport { request_id: "req-3".into(), outcome: Outcome::Failed, ..report.clone() }])
        .await
        .unwrap();
    let mut bulk = bulk(report);
    let first = bulk[0].clone();
    bulk.extend((150..153).map(|i| UsageReport { request_id: format!("bulk-{i}"), ..first.clone() }));
    settle(db, cx, &bulk).await.unwrap();
    // A request at t = 7205 that needed a retry: one failed attempt on the same channel.
    let retried = UsageReport {
        request_id: "req-4".into(),
        created_at_secs: 7205,
        failed_attempts: vec![FailedAttempt { channel_id: report.channel_id, status_code: 500, ..Default::default() }],
        ..report.clone()
    };
    settle(db, cx, &[retried.clone(), retried]).await.unwrap();

    let window = |bucket| Window { start: 0, end: 10_000, user_id: None, username: None, bucket };
    let hourly = quota_data::series(db, &window(3600), GroupBy::Model).await.unwrap();
    let got: Vec<_> =
        hourly.iter().map(|r| (r.created_at, r.model_name.as_str(), r.count, r.token_used, r.quota)).collect();
    assert_eq!(got, vec![(0, "gpt-4o", 155, 90, 150), (7200, "gpt-4o", 1, 45, 75)]);
    let daily = quota_data::series(db, &window(86_400), GroupBy::Model).await.unwrap();
    assert_eq!(daily.iter().map(|r| (r.created_at, r.count)).collect::<Vec<_>>(), vec![(0, 156)]);
    let per_user = quota_data::series(db, &window(86_400), GroupBy::User).await.unwrap();
    assert_eq!((per_user[0].user_id, per_user[0].username.as_str(), per_user[0].quota), (report.user_id, "alice", 225));
    let nobody = Window { username: Some("bob".into()), ..window(3600) };
    assert!(quota_data::series(db, &nobody, GroupBy::Model).await.unwrap().is_empty());
    let channels = quota_data::channels(db, 0, 10_000).await.unwrap();
    assert_eq!((channels[0].channel_id, channels[0].count, channels[0].error_count), (report.channel_id, 156, 1));

    let alice = LogFilter { user_id: Some(report.user_id), ..Default::default() };
    let stat = db::logs::stat(db, &alice, 7000).await.unwrap();
    assert_eq!((stat.quota, stat.rpm, stat.tpm), (225, 1, 45));
    let late = LogFilter { model_name: Some("gpt-4%".into()), start_timestamp: Some(7000), ..Default::default() };
    let rows = db::logs::page(db, &late, 0, 10).await.unwrap();
    assert_eq!(rows.iter().map(|r| r.request_id.as_str()).collect::<Vec<_>>(), vec!["req-4"]);
    assert_eq!(rows[0].channel_name, "c");
    let other_user = LogFilter { username: Some("bob".into()), ..Default::default() };
    assert!(db::logs::page(db, &other_user, 0, 10).await.unwrap().is_empty());
    assert_eq!(db::logs::search(db, Some(report.user_id), "2", 100).await.unwrap().len(), 100);
    assert!(db::logs::search(db, None, "no such content", 100).await.unwrap().is_empty());

    assert_eq!(db::logs::delete_before(db, 7000).await.unwrap(), 155);
    assert_eq!(db::logs::page(db, &Default::default(), 0, 500).await.unwrap().len(), 1);
    // The dashboard keeps its sums when old log rows go.
    assert_eq!(quota_data::series(db, &window(86_400), GroupBy::Model).await.unwrap()[0].count, 156);
}

/// Recorded prompts and answers are kept only while `LogChatContentEnabled` is on, in columns large enough for the
/// longest cut (`LogContentMaxBytes` is at most 64 KiB, a byte more than MySQL's `TEXT` holds).
async fn exercise_chat_content(db: &Db) {
    use control_svc::db::logs::LogFilter;
    let report = &alice_with_a_token_and_a_channel(db).await.report;
    let (options, snapshot) = (quiet_options(), ChannelSnapshot::default());
    let cx = &Context { options: &options, channels: &snapshot };
    let answer = "é".repeat(40_000);
    let recorded = |request_id: &str| UsageReport {
        request_id: request_id.into(),
        created_at_secs: 90_000,
        content: Some(ChatContent { prompt: "Say hello".into(), answer: answer.clone() }),
        ..report.clone()
    };
    settle(db, cx, &[recorded("chat-off")]).await.unwrap();
    let mut on = cx.options.clone();
    on.logs.content = true;
    let cx = Context { options: &on, channels: cx.channels };
    settle(db, &cx, &[recorded("chat-on")]).await.unwrap();
    let plain = UsageReport { request_id: "chat-none".into(), created_at_secs: 90_000, ..report.clone() };
    settle(db, &cx, &[plain]).await.unwrap();

    let recent = LogFilter { start_timestamp: Some(90_000), ..Default::default() };
    let rows = db::logs::page(db, &recent, 0, 10).await.unwrap();
    let content = |id: &str| rows.iter().find(|r| r.request_id == id).unwrap().to_dto().chat_content;
    assert_eq!(content("chat-off"), None, "recorded while the option was off");
    assert_eq!(content("chat-none"), None);
    let kept = content("chat-on").expect("content kept while the option is on");
    assert_eq!((kept.prompt.as_str(), kept.answer.len()), ("Say hello", 80_000));
    assert_eq!(kept.answer, answer);
    let own = rows.iter().find(|r| r.request_id == "chat-on").unwrap().to_self_dto();
    assert_eq!(own.chat_content.map(|c| c.prompt), Some("Say hello".to_string()));
}
