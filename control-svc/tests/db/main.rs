//! The database layer against each backend: SQLite (temp file), and the real PostgreSQL and MariaDB/MySQL
//! servers of the machine (see DEVELOPERS.md). Each test creates its own uniquely named database and drops it.
//! Server URLs: `TEST_POSTGRES_URL` (default postgres://postgres@127.0.0.1:5432/postgres) and
//! `TEST_MYSQL_URL` (default mysql://root@127.0.0.1:3306/test).

use control_svc::billing::PriceTable;
use control_svc::db::usage::{UsageReport, settle};
use control_svc::db::{self, DatabaseUrl, Db, channels::NewChannel, tokens::NewToken, users::NewUser};
use sqlx::{AnyPool, Executor};

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

/// The same behaviours on every backend: migrations, inserts with ids, lookups, exactly-once settlement, logs.
async fn exercise(url: DatabaseUrl) {
    let db = Db::connect(&url).await.expect("connect and migrate");
    // Running migrations a second time is a no-op.
    let db2 = Db::connect(&url).await.expect("reconnect");
    assert_eq!(db::users::count(&db2).await.unwrap(), 0);

    let user_id = db::users::insert(
        &db,
        &NewUser { username: "alice", password_hash: "h", role: 1, quota: 10_000, must_change_password: true },
    )
    .await
    .unwrap();
    let bob = db::users::insert(
        &db,
        &NewUser { username: "bob", password_hash: "h", role: 1, quota: 5, must_change_password: false },
    )
    .await
    .unwrap();
    assert_ne!(user_id, bob);
    let alice = db::users::find_by_username(&db, "alice").await.unwrap().unwrap();
    assert_eq!((alice.id, alice.quota, alice.must_change_password), (user_id, 10_000, 1));
    let duplicate = db::users::insert(
        &db,
        &NewUser { username: "alice", password_hash: "h", role: 1, quota: 0, must_change_password: false },
    )
    .await;
    assert!(duplicate.is_err(), "usernames are unique");

    let token_id = db::tokens::insert(
        &db,
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
        },
    )
    .await
    .unwrap();
    let found = db::tokens::find_with_owner_by_digest(&db, &"ab".repeat(32)).await.unwrap().unwrap();
    assert_eq!((found.token.id, found.token.remain_quota), (token_id, 100));
    assert_eq!(
        (found.owner_status, found.owner_quota, found.owner_group.as_deref()),
        (Some(1), Some(10_000), Some("default"))
    );
    assert!(db::tokens::find_with_owner_by_digest(&db, &"cd".repeat(32)).await.unwrap().is_none());

    let channel_id = db::channels::insert(
        &db,
        &NewChannel {
            channel_type: 1,
            name: "c".into(),
            key_ciphertext: "ct".into(),
            key_hint: "h".into(),
            base_url: "http://x".into(),
            models: "gpt-4o".into(),
            group_name: "default".into(),
            model_mapping: String::new(),
            status: 1,
            priority: 0,
            weight: 0,
            auto_ban: 1,
            test_model: String::new(),
            openai_organization: String::new(),
            tag: String::new(),
            created_time: 1,
            model_prefix: String::new(),
            settings: db::channels::ChannelSettings {
                other: "2024-10-21".into(),
                system_prompt: "Be brief.".into(),
                headers: r#"{"X-Team":"blue"}"#.into(),
                ..Default::default()
            },
        },
    )
    .await
    .unwrap();
    let stored = &db::channels::list(&db).await.unwrap()[0];
    assert_eq!(stored.id, channel_id);
    assert_eq!((stored.settings.other.as_str(), stored.settings.system_prompt.as_str()), ("2024-10-21", "Be brief."));
    assert_eq!(stored.settings.headers, r#"{"X-Team":"blue"}"#);

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
        billable: true,
        group: "default".into(),
        created_at_secs: 10,
        ..Default::default()
    };
    let prices = PriceTable::default();
    // (40 + 5×4) × 1.25 = 75, applied once although delivered three times in two batches.
    let first = settle(&db, &prices, &[report.clone(), report.clone()]).await.unwrap();
    assert_eq!(first.newly_applied, 1);
    let again = settle(&db, &prices, std::slice::from_ref(&report)).await.unwrap();
    assert_eq!(again.newly_applied, 0);
    let token = db::tokens::find_by_id(&db, token_id).await.unwrap().unwrap();
    assert_eq!((token.remain_quota, token.used_quota), (25, 75));
    let alice = db::users::find_by_id(&db, user_id).await.unwrap().unwrap();
    assert_eq!((alice.quota, alice.used_quota, alice.request_count), (10_000 - 75, 75, 1));
    let logs = db::logs::page(&db, 0, 10).await.unwrap();
    assert_eq!(logs.len(), 1);
    assert_eq!((logs[0].quota, logs[0].username.as_str(), logs[0].request_id.as_str()), (75, "alice", "req-1"));

    // Spending the rest marks the token as exhausted for invalidation.
    let more = UsageReport { request_id: "req-2".into(), ..report.clone() };
    let settled = settle(&db, &prices, &[more]).await.unwrap();
    assert!(settled.exhausted_tokens.contains(&token_id));

    // A failed upstream call is recorded for idempotency but charges nothing.
    let failed = UsageReport { request_id: "req-3".into(), billable: false, ..report.clone() };
    settle(&db, &prices, &[failed]).await.unwrap();
    assert_eq!(db::logs::page(&db, 0, 10).await.unwrap().len(), 2);

    // Large batches are written in several fixed-size statements; a redelivered batch with a few new records
    // applies only the new ones.
    let bulk: Vec<UsageReport> = (0..150)
        .map(|i| UsageReport {
            request_id: format!("bulk-{i}"),
            prompt_tokens: 0,
            completion_tokens: 0,
            ..report.clone()
        })
        .collect();
    assert_eq!(settle(&db, &prices, &bulk).await.unwrap().newly_applied, 150);
    let mut redelivered = bulk.clone();
    redelivered.extend((150..153).map(|i| UsageReport { request_id: format!("bulk-{i}"), ..bulk[0].clone() }));
    assert_eq!(settle(&db, &prices, &redelivered).await.unwrap().newly_applied, 3);
    assert_eq!(db::logs::page(&db, 0, 500).await.unwrap().len(), 2 + 153);
    db.pool().close().await;
    db2.pool().close().await;
}

#[tokio::test]
async fn sqlite_backend_behaves() {
    let dir = tempfile::tempdir().unwrap();
    let url = DatabaseUrl::sqlite_file(&dir.path().join("nested/dir/veloera.db").to_string_lossy());
    exercise(url).await;
    assert!(dir.path().join("nested/dir/veloera.db").exists(), "the SQLite file is created on first start");
}

#[tokio::test]
async fn postgres_backend_behaves() {
    let admin = postgres_admin_url();
    with_server_db(
        &admin,
        "PostgreSQL",
        "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
        |name| replace_db(&admin, name),
        exercise,
    )
    .await;
}

#[tokio::test]
async fn mysql_backend_behaves() {
    let admin = mysql_admin_url();
    with_server_db(
        &admin,
        "MariaDB/MySQL",
        "start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd",
        |name| replace_db(&admin, name),
        exercise,
    )
    .await;
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
