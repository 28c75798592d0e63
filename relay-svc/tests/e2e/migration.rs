//! Migrating in: a Veloera database imported into control's (then control restarted, as the README says), after
//! which an imported user signs in with the old password and the relay takes the old key; and channels moved
//! between two sites with the export/import API.

use control_svc::import::{self, ImportOptions};
use serde_json::{Value, json};

use crate::harness::{Gateway, chat_body, restart_control, session_cookie};

// Shared with control-svc's database tests, which use the new-api schema and the rest of it too.
#[allow(dead_code)]
#[path = "../../../control-svc/tests/fixtures/import/render.rs"]
mod render;

async fn veloera_database(dir: &std::path::Path, upstream: &str) -> control_svc::db::DatabaseUrl {
    let path = dir.join("veloera-old.db");
    let url = control_svc::db::DatabaseUrl::sqlite_file(&path.to_string_lossy());
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url.url).await.unwrap();
    for statement in render::statements(render::VELOERA, render::Dialect::Sqlite, upstream) {
        sqlx::query(&statement).execute(&pool).await.unwrap_or_else(|e| panic!("{e}: {statement}"));
    }
    pool.close().await;
    import::source_url(&path.to_string_lossy()).unwrap()
}

async fn sign_in(gw: &Gateway, username: &str, password: &str) -> (u16, String) {
    let resp = gw
        .http
        .post(gw.url("/api/user/login"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, if status == 200 { session_cookie(&resp) } else { String::new() })
}

#[tokio::test]
async fn an_imported_user_signs_in_with_the_old_password_and_the_old_key_reaches_the_imported_channel() {
    let mut gw = Gateway::start_bare().await;
    let dir = tempfile::tempdir().unwrap();
    let source = veloera_database(dir.path(), &gw.mock.base_url()).await;
    let state = gw.control.state.clone();
    let report = import::run(&source, state.db(), state.cipher(), ImportOptions::default()).await.unwrap();
    // The site's own root stays as it is: the old root is matched on its name and left alone.
    assert_eq!(report.counts("users").map(|c| (c.imported, c.existing)), Some((1, 1)), "{report}");
    restart_control(&mut gw).await;
    gw.wait_relay_caught_up().await;

    assert_eq!(sign_in(&gw, "alice", "not-her-password").await.0, 401);
    let (status, cookie) = sign_in(&gw, "alice", render::ALICE_PASSWORD).await;
    assert_eq!(status, 200, "the bcrypt hash from Veloera verifies");
    let (_, me) = gw.api_as(Some(&cookie), "GET", "/api/user/self", None).await;
    assert_eq!((me["data"]["quota"].as_i64(), me["data"]["group"].as_str()), (Some(5_000_000), Some("vip")), "{me}");
    let db = gw.control.state.db();
    let hash: String = sqlx::query_scalar(&db.sql("SELECT password_hash FROM users WHERE username = ?"))
        .bind("alice")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id$"), "rehashed on sign-in: {hash}");
    assert_eq!(sign_in(&gw, "alice", render::ALICE_PASSWORD).await.0, 200, "and the new hash verifies too");

    let key = format!("sk-{}", render::ALICE_KEY);
    let resp = gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap_or_default());
    let sent = gw.mock.received();
    let auth = sent.last().map(|r| r.authorization.clone()).unwrap_or_default();
    assert!(auth == "Bearer sk-upstream-a" || auth == "Bearer sk-upstream-b", "the imported channel's key: {auth}");
    // The imported model mapping applies: gpt-4o is sent upstream as gpt-4o-mini.
    let resp = gw.chat("/v1", &key, chat_body("gpt-4o")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(gw.mock.received().last().map(|r| r.body["model"].clone()), Some(json!("gpt-4o-mini")));
}

fn by_name(file: &Value) -> Vec<Value> {
    let mut channels = file["channels"].as_array().cloned().unwrap_or_default();
    channels.sort_by_key(|c| c["name"].as_str().unwrap_or_default().to_string());
    channels
}

#[tokio::test]
async fn channels_exported_by_one_site_are_imported_by_another_once_with_their_keys() {
    let source = Gateway::start().await;
    source
        .create_channel(json!({
            "name": "pool", "type": 1, "key": "sk-pool-1\nsk-pool-2", "base_url": source.mock.base_url(),
            "models": "gpt-4o-mini", "group": "default,vip", "priority": 3, "weight": 7, "tag": "team",
            "model_mapping": "{\"gpt-4o\":\"gpt-4o-mini\"}"
        }))
        .await;
    let (status, export) = source.api("GET", "/api/channel/export", None).await;
    assert_eq!(status, 200, "{export}");
    let file = export["data"].clone();
    assert_eq!(file["version"], 1);
    let pool = by_name(&file).into_iter().find(|c| c["name"] == "pool").unwrap();
    assert_eq!(pool["keys"], json!(["sk-pool-1", "sk-pool-2"]), "the export carries the keys in full");
    let first_id = source.api("GET", "/api/channel/", None).await.1["data"]["items"][0]["id"].as_i64().unwrap();
    let (_, one) = source.api("GET", &format!("/api/channel/export?ids={first_id}"), None).await;
    assert_eq!(one["data"]["channels"].as_array().map(Vec::len), Some(1), "{one}");

    let mut target = Gateway::start_bare().await;
    target.sign_in_root().await;
    let mut upload = file.clone();
    if let Some(channels) = upload["channels"].as_array_mut() {
        channels.push(json!({"type": 9999, "name": "from the future", "keys": ["k"], "models": "m"}));
    }
    let (status, dry) = target.api("POST", "/api/channel/import?dry_run=true", Some(upload.clone())).await;
    assert_eq!(status, 200, "{dry}");
    assert_eq!((dry["data"]["created"].as_i64(), dry["data"]["skipped"].as_i64()), (Some(2), Some(0)), "{dry}");
    assert_eq!(target.api("GET", "/api/channel/", None).await.1["data"]["total"], 0, "a dry run creates nothing");

    let (_, real) = target.api("POST", "/api/channel/import", Some(upload.clone())).await;
    assert_eq!(real["data"]["created"], 2, "{real}");
    let failed = real["data"]["failed"].as_array().cloned().unwrap_or_default();
    assert_eq!(failed.len(), 1, "{real}");
    assert_eq!(failed[0]["name"], "from the future");
    assert!(failed[0]["reason"].as_str().unwrap_or_default().contains("unknown channel type"), "{real}");
    let (_, again) = target.api("POST", "/api/channel/import", Some(upload)).await;
    assert_eq!((again["data"]["created"].as_i64(), again["data"]["skipped"].as_i64()), (Some(0), Some(2)), "{again}");

    let (_, copied) = target.api("GET", "/api/channel/export", None).await;
    assert_eq!(by_name(&copied["data"]), by_name(&file), "the second site has the same channels");
    let db = target.control.state.db();
    let logged: i64 = sqlx::query_scalar(&db.sql("SELECT COUNT(*) FROM logs WHERE type = 3 AND content LIKE ?"))
        .bind("%imported channels from a file: 2 created%")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(logged, 1, "the import is in the manage log");

    // The keys work at the second site: its relay reaches the first site's upstream with them.
    target.wait_relay_caught_up().await;
    let (_, key) = target.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    let before = source.mock.chat_requests();
    assert_eq!(target.chat("/v1", &key, chat_body("gpt-4o-mini")).await.status(), 200);
    assert_eq!(source.mock.chat_requests(), before + 1);
}
