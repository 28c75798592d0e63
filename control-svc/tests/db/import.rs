//! `control-svc import`: databases built in Veloera's and new-api's schemas (as their gorm models create them),
//! imported on a dry run (nothing changes), for real, and again (nothing is added twice).

use control_svc::db::{Backend, DatabaseUrl, Db};
use control_svc::import::{self, ImportOptions, Report};
use control_svc::secrets::{Cipher, key_digest, needs_rehash, verify_password};
use sqlx::{AnyPool, Executor, Row};

#[path = "../fixtures/import/render.rs"]
mod render;

use render::{ALICE_ACCESS_TOKEN, ALICE_KEY, ALICE_PASSWORD, Dialect, ROOT_PASSWORD};

const UPSTREAM: &str = "https://upstream.example.test/v1";

fn dialect(backend: Backend) -> Dialect {
    match backend {
        Backend::Sqlite => Dialect::Sqlite,
        Backend::Postgres => Dialect::Postgres,
        Backend::MySql => Dialect::MySql,
    }
}

async fn build_source(url: &DatabaseUrl, template: &str) {
    sqlx::any::install_default_drivers();
    let pool = AnyPool::connect(&url.url).await.expect("source database");
    for statement in render::statements(template, dialect(url.backend), UPSTREAM) {
        pool.execute(statement.as_str()).await.unwrap_or_else(|e| panic!("{e}: {statement}"));
    }
    pool.close().await;
}

/// The source as an operator names it: the SQLite file path itself, or the server's URL.
fn as_source(url: &DatabaseUrl) -> DatabaseUrl {
    let dsn = match url.backend {
        Backend::Sqlite => url.url.trim_start_matches("sqlite://").split('?').next().unwrap_or_default().to_string(),
        _ => url.url.clone(),
    };
    import::source_url(&dsn).expect("source DSN")
}

/// Rows per table of ours the import writes to.
async fn row_counts(db: &Db) -> Vec<(&'static str, i64)> {
    let mut out = Vec::new();
    for table in ["users", "tokens", "channels", "redemptions", "redemption_logs", "options", "logs", "quota_data"] {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(db.pool()).await.unwrap();
        out.push((table, n));
    }
    out
}

fn imported(report: &Report, table: &str) -> u64 {
    report.counts(table).map(|c| c.imported).unwrap_or(0)
}

fn unmapped(report: &Report, table: &str) -> Vec<String> {
    report.unmapped.iter().filter(|u| u.table == table).map(|u| format!("{} {}", u.row, u.reason)).collect()
}

/// Dry run, real run, second run; returns the real run's report for per-schema checks.
async fn import_three_times(source: &DatabaseUrl, target: &Db, cipher: &Cipher) -> Report {
    let options = ImportOptions { with_logs: true, dry_run: true };
    let before = row_counts(target).await;
    let dry = import::run(source, target, cipher, options).await.expect("dry run");
    assert!(dry.dry_run);
    assert_eq!(row_counts(target).await, before, "a dry run writes nothing\n{dry}");
    let real = import::run(source, target, cipher, ImportOptions { dry_run: false, ..options }).await.expect("import");
    assert_eq!(dry.tables, real.tables, "the dry run reports what the import does\n{dry}\n{real}");
    assert_eq!(dry.unmapped, real.unmapped);
    let after = row_counts(target).await;
    let again = import::run(source, target, cipher, ImportOptions { dry_run: false, ..options }).await.expect("rerun");
    assert_eq!(row_counts(target).await, after, "a second run adds nothing\n{again}");
    for (table, counts) in &again.tables {
        assert_eq!(counts.imported, 0, "{table} imported again\n{again}");
    }
    assert_eq!(again.counts("users").map(|c| c.existing), real.counts("users").map(|c| c.imported));
    real
}

/// What both schemas share: users with working bcrypt passwords, keys stored as digests and ciphertexts, the
/// channel with its keys, mapping and settings, codes and options.
async fn check_common(target: &Db, cipher: &Cipher) {
    let alice = sqlx::query(&target.sql(
        "SELECT password_hash, quota, group_name, inviter_id, access_token_digest, must_change_password \
         FROM users WHERE username = ?",
    ))
    .bind("alice")
    .fetch_one(target.pool())
    .await
    .expect("alice imported");
    let hash: String = alice.try_get(0).unwrap();
    assert!(verify_password(ALICE_PASSWORD, &hash) && !verify_password(ROOT_PASSWORD, &hash));
    assert!(needs_rehash(&hash));
    assert_eq!(alice.try_get::<i64, _>(1).unwrap(), 5_000_000);
    assert_eq!(alice.try_get::<String, _>(2).unwrap(), "vip");
    let root_id: i64 = sqlx::query_scalar(&target.sql("SELECT id FROM users WHERE username = ?"))
        .bind("root")
        .fetch_one(target.pool())
        .await
        .unwrap();
    assert_eq!(alice.try_get::<i64, _>(3).unwrap(), root_id, "the inviter is translated to our id");
    assert_eq!(alice.try_get::<String, _>(4).unwrap(), hex::encode(key_digest(ALICE_ACCESS_TOKEN)));
    assert_eq!(alice.try_get::<i64, _>(5).unwrap(), 0);

    let token =
        sqlx::query(&target.sql(
            "SELECT key_ciphertext, status, unlimited_quota, used_quota, key_hint FROM tokens WHERE key_digest = ?",
        ))
        .bind(hex::encode(key_digest(ALICE_KEY)))
        .fetch_one(target.pool())
        .await
        .expect("alice's key is found by its digest");
    assert_eq!(cipher.decrypt(&token.try_get::<String, _>(0).unwrap()).unwrap(), ALICE_KEY);
    assert_eq!((token.try_get::<i64, _>(1).unwrap(), token.try_get::<i64, _>(2).unwrap()), (1, 1));
    assert_eq!(token.try_get::<i64, _>(3).unwrap(), 42);
    assert!(token.try_get::<String, _>(4).unwrap().starts_with("sk-alic"));

    let channel = sqlx::query(&target.sql(
        "SELECT key_ciphertext, base_url, models, group_name, model_mapping, priority, weight FROM channels WHERE name = ?",
    ))
    .bind("openai-main")
    .fetch_one(target.pool())
    .await
    .expect("the channel is imported");
    assert_eq!(cipher.decrypt(&channel.try_get::<String, _>(0).unwrap()).unwrap(), "sk-upstream-a,sk-upstream-b");
    assert_eq!(channel.try_get::<String, _>(1).unwrap(), UPSTREAM);
    assert_eq!(channel.try_get::<String, _>(2).unwrap(), "gpt-4o-mini,gpt-4o");
    assert_eq!(channel.try_get::<String, _>(3).unwrap(), "default,vip");
    assert_eq!(channel.try_get::<String, _>(4).unwrap(), r#"{"gpt-4o":"gpt-4o-mini"}"#);
    assert_eq!((channel.try_get::<i64, _>(5).unwrap(), channel.try_get::<i64, _>(6).unwrap()), (5, 10));

    let ratio: String = sqlx::query_scalar(&target.sql("SELECT value FROM options WHERE name = ?"))
        .bind("GroupRatio")
        .fetch_one(target.pool())
        .await
        .unwrap();
    assert_eq!(ratio, r#"{"default":1,"vip":2}"#);
}

async fn veloera_imports_once(source: DatabaseUrl, target: DatabaseUrl) {
    build_source(&source, render::VELOERA).await;
    let target = Db::connect(&target).await.expect("target");
    let cipher = Cipher::new("import-test-secret");
    let report = import_three_times(&as_source(&source), &target, &cipher).await;
    assert_eq!(report.flavour, "Veloera");
    let text = report.to_string();
    assert_eq!(imported(&report, "users"), 2, "{text}");
    assert_eq!(report.counts("users").map(|c| c.deleted), Some(1), "{text}");
    assert_eq!(unmapped(&report, "users").len(), 1, "the nameless user is reported\n{text}");
    assert_eq!(imported(&report, "tokens"), 2, "{text}");
    assert_eq!(unmapped(&report, "tokens"), vec!["#3 its user #99 was not imported".to_string()], "{text}");
    assert_eq!(imported(&report, "channels"), 1, "{text}");
    assert!(unmapped(&report, "channels")[0].contains("unknown channel type 9999"), "{text}");
    assert_eq!(imported(&report, "abilities"), 2, "{text}");
    assert_eq!(unmapped(&report, "abilities").len(), 2, "{text}");
    assert_eq!(imported(&report, "redemptions"), 2, "{text}");
    assert_eq!(imported(&report, "redemption_logs"), 1, "{text}");
    assert_eq!(imported(&report, "options"), 2, "{text}");
    assert!(unmapped(&report, "options")[0].starts_with("SomethingOnlyVeloeraHas"), "{text}");
    assert_eq!(imported(&report, "logs"), 1, "{text}");
    assert_eq!(imported(&report, "quota_data"), 1, "{text}");
    assert_eq!(unmapped(&report, "quota_data").len(), 1, "{text}");
    check_common(&target, &cipher).await;

    let checked_in: i64 = sqlx::query_scalar(&target.sql("SELECT last_check_in_time FROM users WHERE username = ?"))
        .bind("alice")
        .fetch_one(target.pool())
        .await
        .unwrap();
    // 2025-06-01 08:00 in the source server's time zone (MySQL's DATETIME has none of its own).
    assert!((checked_in - 1_748_764_800).abs() <= 14 * 3600, "last check-in {checked_in}");

    let gift = sqlx::query(
        &target
            .sql("SELECT id, is_gift, max_uses, used_count, valid_until, used_user_id FROM redemptions WHERE code = ?"),
    )
    .bind("gift0123456789abcdef0123456789ab")
    .fetch_one(target.pool())
    .await
    .unwrap();
    let alice: i64 = sqlx::query_scalar(&target.sql("SELECT id FROM users WHERE username = ?"))
        .bind("alice")
        .fetch_one(target.pool())
        .await
        .unwrap();
    let gift_id: i64 = gift.try_get(0).unwrap();
    let fields: Vec<i64> = (1..=5).map(|i| gift.try_get::<i64, _>(i).unwrap()).collect();
    assert_eq!(fields, vec![1, 10, 1, 1_900_000_000, alice]);
    let uses: i64 =
        sqlx::query_scalar(&target.sql("SELECT COUNT(*) FROM redemption_logs WHERE redemption_id = ? AND user_id = ?"))
            .bind(gift_id)
            .bind(alice)
            .fetch_one(target.pool())
            .await
            .unwrap();
    assert_eq!(uses, 1, "alice's use of the gift code came over, so she cannot redeem it again");
    let log = sqlx::query(&target.sql("SELECT user_id, token_id, quota, request_id FROM logs WHERE username = ?"))
        .bind("alice")
        .fetch_one(target.pool())
        .await
        .unwrap();
    let alice_token: i64 = sqlx::query_scalar(&target.sql("SELECT id FROM tokens WHERE key_digest = ?"))
        .bind(hex::encode(key_digest(ALICE_KEY)))
        .fetch_one(target.pool())
        .await
        .unwrap();
    assert_eq!((log.try_get::<i64, _>(0).unwrap(), log.try_get::<i64, _>(1).unwrap()), (alice, alice_token));
    assert_eq!(log.try_get::<i64, _>(2).unwrap(), 150);
    assert_eq!(log.try_get::<String, _>(3).unwrap(), "imported:1");
}

async fn new_api_imports_once(source: DatabaseUrl, target: DatabaseUrl) {
    build_source(&source, render::NEW_API).await;
    let target = Db::connect(&target).await.expect("target");
    let cipher = Cipher::new("import-test-secret");
    let report = import_three_times(&as_source(&source), &target, &cipher).await;
    let text = report.to_string();
    assert_eq!(report.flavour, "new-api", "{text}");
    assert!(report.unmapped.is_empty(), "{text}");
    assert_eq!((imported(&report, "users"), imported(&report, "tokens")), (2, 1), "{text}");
    assert_eq!((imported(&report, "channels"), imported(&report, "abilities")), (1, 1), "{text}");
    assert_eq!(report.counts("redemption_logs").map(|c| c.present), Some(false), "{text}");
    assert_eq!(report.counts("logs").map(|c| c.present), Some(false), "{text}");
    check_common(&target, &cipher).await;
    let headers: String = sqlx::query_scalar(&target.sql("SELECT headers FROM channels WHERE name = ?"))
        .bind("openai-main")
        .fetch_one(target.pool())
        .await
        .unwrap();
    assert_eq!(headers, r#"{"X-Team":"blue"}"#, "new-api's header_override becomes the channel's headers");
    // Single-use codes: the used one counts its use; the expiry becomes valid_until.
    let codes = sqlx::query("SELECT code, max_uses, used_count, valid_until FROM redemptions ORDER BY code")
        .fetch_all(target.pool())
        .await
        .unwrap();
    let codes: Vec<(String, i64, i64, i64)> = codes
        .iter()
        .map(|r| (r.try_get(0).unwrap(), r.try_get(1).unwrap(), r.try_get(2).unwrap(), r.try_get(3).unwrap()))
        .collect();
    assert_eq!(
        codes,
        vec![
            ("code0123456789abcdef0123456789ab".to_string(), 1, 0, 1_900_000_000),
            ("used0123456789abcdef0123456789ab".to_string(), 1, 1, 0),
        ]
    );
}

#[tokio::test]
async fn a_one_api_sqlite_database_is_imported_with_its_token_limits_and_system_prompts() {
    let dir = tempfile::tempdir().unwrap();
    let source = DatabaseUrl::sqlite_file(&dir.path().join("one-api.db").to_string_lossy());
    build_source(&source, render::ONE_API).await;
    let target =
        Db::connect(&DatabaseUrl::sqlite_file(&dir.path().join("veloera.db").to_string_lossy())).await.unwrap();
    let cipher = Cipher::new("import-test-secret");
    let report = import_three_times(&as_source(&source), &target, &cipher).await;
    let text = report.to_string();
    assert_eq!(report.flavour, "one-api", "{text}");
    assert_eq!((imported(&report, "users"), imported(&report, "tokens")), (2, 1), "{text}");
    assert_eq!(unmapped(&report, "tokens").len(), 1, "the subnet that is not one is reported\n{text}");
    check_common(&target, &cipher).await;
    let token = sqlx::query("SELECT model_limits_enabled, model_limits, allow_ips FROM tokens")
        .fetch_one(target.pool())
        .await
        .unwrap();
    assert_eq!(token.try_get::<i64, _>(0).unwrap(), 1);
    assert_eq!(token.try_get::<String, _>(1).unwrap(), "gpt-4o-mini,gpt-4o");
    assert_eq!(token.try_get::<String, _>(2).unwrap(), "10.0.0.0/8");
    let prompt: String =
        sqlx::query_scalar("SELECT system_prompt FROM channels").fetch_one(target.pool()).await.unwrap();
    assert_eq!(prompt, "Answer briefly.");
    let used: (i64, i64) =
        sqlx::query_as("SELECT max_uses, used_count FROM redemptions").fetch_one(target.pool()).await.unwrap();
    assert_eq!(used, (1, 1));
}

#[tokio::test]
async fn a_veloera_sqlite_database_is_imported_once_after_a_dry_run_that_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let source = DatabaseUrl::sqlite_file(&dir.path().join("veloera-old.db").to_string_lossy());
    let target = DatabaseUrl::sqlite_file(&dir.path().join("veloera.db").to_string_lossy());
    veloera_imports_once(source, target).await;
}

#[tokio::test]
async fn a_veloera_mariadb_database_is_imported_into_sqlite() {
    super::on_mysql(|source| async move {
        let dir = tempfile::tempdir().unwrap();
        veloera_imports_once(source, DatabaseUrl::sqlite_file(&dir.path().join("veloera.db").to_string_lossy())).await;
    })
    .await;
}

#[tokio::test]
async fn a_new_api_postgres_database_is_imported_into_postgres() {
    super::on_postgres(|source| async move {
        super::on_postgres(move |target| async move { new_api_imports_once(source, target).await }).await;
    })
    .await;
}

#[tokio::test]
async fn a_source_that_is_not_a_veloera_database_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let source = DatabaseUrl::sqlite_file(&dir.path().join("other.db").to_string_lossy());
    sqlx::any::install_default_drivers();
    let pool = AnyPool::connect(&source.url).await.unwrap();
    pool.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)").await.unwrap();
    pool.close().await;
    let target =
        Db::connect(&DatabaseUrl::sqlite_file(&dir.path().join("veloera.db").to_string_lossy())).await.unwrap();
    let err = import::run(&as_source(&source), &target, &Cipher::new("s"), ImportOptions::default())
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("no users or channels table"), "{err}");
    assert!(row_counts(&target).await.iter().all(|(_, n)| *n == 0));
}
