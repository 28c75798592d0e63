//! Redemption and gift codes, daily check-in and invitation codes end to end, through the relay's front
//! door: what administrators and users are answered, and what lands in balances and logs.

use serde_json::{Value, json};

use crate::harness::Gateway;

/// Calls the API as root, expects success, and returns `data`.
async fn ok(gw: &Gateway, method: &str, path: &str, body: Option<Value>) -> Value {
    let (status, reply) = gw.api(method, path, body).await;
    assert_eq!(status, 200, "{method} {path}: {reply}");
    assert_eq!(reply["success"], true, "{method} {path}: {reply}");
    reply["data"].clone()
}

/// Calls the API with `cookie` and expects a refusal with `status` whose message contains `words`.
async fn refused_as(
    gw: &Gateway,
    cookie: Option<&str>,
    method: &str,
    path: &str,
    body: Option<Value>,
    status: u16,
    words: &str,
) {
    let (got, reply) = gw.api_as(cookie, method, path, body).await;
    assert_eq!(got, status, "{method} {path}: {reply}");
    assert_eq!(reply["success"], false, "{method} {path}: {reply}");
    let message = reply["message"].as_str().unwrap_or_default();
    assert!(message.contains(words), "{method} {path}: {message:?} does not mention {words:?}");
}

/// As root.
async fn refused(gw: &Gateway, method: &str, path: &str, body: Option<Value>, status: u16, words: &str) {
    let cookie = gw.cookie.clone();
    refused_as(gw, Some(&cookie), method, path, body, status, words).await;
}

/// Creates codes and returns their keys.
async fn create(gw: &Gateway, spec: Value) -> Vec<String> {
    let data = ok(gw, "POST", "/api/redemption/", Some(spec)).await;
    data.as_array().unwrap().iter().map(|k| k.as_str().unwrap().to_string()).collect()
}

/// The id of the code with `key`, found through the admin list.
async fn id_of(gw: &Gateway, key: &str) -> i64 {
    let list = ok(gw, "GET", "/api/redemption/?p=1&page_size=100", None).await;
    list["items"].as_array().unwrap().iter().find(|c| c["key"] == key).expect("the code is listed")["id"]
        .as_i64()
        .unwrap()
}

async fn redeem(gw: &Gateway, cookie: &str, key: &str) -> (u16, Value) {
    gw.api_as(Some(cookie), "POST", "/api/user/topup", Some(json!({"key": key}))).await
}

async fn balance(gw: &Gateway, cookie: &str) -> i64 {
    let (status, me) = gw.api_as(Some(cookie), "GET", "/api/user/self", None).await;
    assert_eq!(status, 200, "{me}");
    me["data"]["quota"].as_i64().unwrap()
}

async fn user_id(gw: &Gateway, cookie: &str) -> i64 {
    gw.api_as(Some(cookie), "GET", "/api/user/self", None).await.1["data"]["id"].as_i64().unwrap()
}

/// The log rows of `user` of a log type, newest first.
async fn logs_of(gw: &Gateway, user: i64, log_type: i64) -> Vec<Value> {
    let rows = ok(gw, "GET", "/api/log/?p=1&page_size=100", None).await;
    rows["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["user_id"] == user && r["type"] == log_type)
        .cloned()
        .collect()
}

async fn can_check_in(gw: &Gateway, cookie: &str) -> Value {
    let (status, reply) = gw.api_as(Some(cookie), "GET", "/api/user/check_in_status", None).await;
    assert_eq!(status, 200, "{reply}");
    reply["data"]["can_check_in"].clone()
}

async fn aff_code(gw: &Gateway, cookie: &str) -> String {
    let (status, reply) = gw.api_as(Some(cookie), "GET", "/api/user/aff", None).await;
    assert_eq!(status, 200, "{reply}");
    reply["data"].as_str().unwrap().to_string()
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

#[tokio::test]
async fn administrators_create_random_and_custom_codes_and_duplicates_are_refused() {
    let gw = Gateway::start().await;
    let keys = create(&gw, json!({"name": "batch", "quota": 1000, "count": 3})).await;
    assert_eq!(keys.len(), 3);
    assert!(keys.iter().all(|k| k.len() == 32 && k.chars().all(|c| c.is_ascii_alphanumeric())), "{keys:?}");
    assert_ne!(keys[0], keys[1]);
    let custom = "SPRING-2025-promo-code-for-friends!";
    assert_eq!(
        create(&gw, json!({"name": "custom", "quota": 5, "key": custom, "is_gift": true, "max_uses": 3})).await,
        [custom]
    );
    refused(
        &gw,
        "POST",
        "/api/redemption/",
        Some(json!({"name": "again", "quota": 5, "key": custom})),
        409,
        "already exists",
    )
    .await;
    assert_eq!(ok(&gw, "GET", "/api/redemption/count-by-name?name=again", None).await, 0, "nothing created");

    let id = id_of(&gw, custom).await;
    let code = ok(&gw, "GET", &format!("/api/redemption/{id}"), None).await;
    assert_eq!(
        (code["name"].clone(), code["quota"].clone(), code["is_gift"].clone(), code["max_uses"].clone()),
        (json!("custom"), json!(5), json!(true), json!(3))
    );
    assert_eq!(
        (code["status"].clone(), code["used_count"].clone(), code["valid_until"].clone()),
        (json!(1), json!(0), json!(0))
    );
    assert_eq!(ok(&gw, "GET", "/api/redemption/count-by-name?name=batch", None).await, 3);
    let ordinary = ok(&gw, "GET", &format!("/api/redemption/{}", id_of(&gw, &keys[0]).await), None).await;
    assert_eq!((ordinary["is_gift"].clone(), ordinary["max_uses"].clone()), (json!(false), json!(1)));

    // Newest first, paged from 1 with the total; search by part of the name or by id, paged the same way.
    let page = ok(&gw, "GET", "/api/redemption/?p=1&page_size=2", None).await;
    assert_eq!(
        (page["items"].as_array().unwrap().len(), page["page"].clone(), page["page_size"].clone()),
        (2, json!(1), json!(2))
    );
    assert_eq!(page["total"], 4, "three batch codes and the custom one");
    assert_eq!(page["items"][0]["id"], id);
    let found = ok(&gw, "GET", "/api/redemption/search?keyword=BAT", None).await;
    assert_eq!((found["items"].as_array().unwrap().len(), found["total"].clone()), (3, json!(3)));
    let second = ok(&gw, "GET", "/api/redemption/search?keyword=BAT&p=2&page_size=2", None).await;
    assert_eq!((second["items"].as_array().unwrap().len(), second["total"].clone()), (1, json!(3)));
    let found = ok(&gw, "GET", &format!("/api/redemption/search?keyword={id}"), None).await;
    assert_eq!(found["items"][0]["key"], custom);
}

#[tokio::test]
async fn a_user_redeems_a_code_its_balance_grows_and_a_top_up_log_names_the_code() {
    let gw = Gateway::start().await;
    let bob = gw.create_user("bob", "bobs-password").await;
    let bob_id = user_id(&gw, &bob).await;
    let before = balance(&gw, &bob).await;
    let key = create(&gw, json!({"name": "welcome", "quota": 250000})).await.remove(0);
    let (status, reply) = redeem(&gw, &bob, &key).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["data"], json!({"quota": 250000, "is_gift": false}));
    assert_eq!(balance(&gw, &bob).await, before + 250000);
    let code = ok(&gw, "GET", &format!("/api/redemption/{}", id_of(&gw, &key).await), None).await;
    assert_eq!((code["status"].clone(), code["used_user_id"].clone()), (json!(3), json!(bob_id)));
    assert!(code["redeemed_time"].as_i64().unwrap() >= now() - 60);

    let logs = logs_of(&gw, bob_id, 1).await;
    assert_eq!(logs.len(), 1);
    let content = logs[0]["content"].as_str().unwrap();
    assert!(content.contains("\"welcome\"") && !content.contains(&key), "{content}");
    assert_eq!(logs[0]["quota"], 250000);
    assert_eq!(logs[0]["username"], "bob");

    // A gift code is shared: each user once.
    let gift = create(&gw, json!({"name": "gift", "quota": 10, "is_gift": true, "max_uses": -1})).await.remove(0);
    let carol = gw.create_user("carol", "carols-password").await;
    for cookie in [&bob, &carol] {
        let (status, reply) = redeem(&gw, cookie, &gift).await;
        assert_eq!(status, 200, "{reply}");
        assert_eq!(reply["data"], json!({"quota": 10, "is_gift": true}));
    }
    assert_eq!(balance(&gw, &bob).await, before + 250010);
    let code = ok(&gw, "GET", &format!("/api/redemption/{}", id_of(&gw, &gift).await), None).await;
    assert_eq!((code["status"].clone(), code["used_count"].clone()), (json!(1), json!(2)));
}

#[tokio::test]
async fn every_refused_redemption_says_why_and_changes_nothing() {
    let gw = Gateway::start().await;
    let bob = gw.create_user("bob", "bobs-password").await;
    let carol = gw.create_user("carol", "carols-password").await;
    let bob_id = user_id(&gw, &bob).await;

    let used = create(&gw, json!({"name": "used", "quota": 100})).await.remove(0);
    assert_eq!(redeem(&gw, &carol, &used).await.0, 200);
    let off = create(&gw, json!({"name": "off", "quota": 100})).await.remove(0);
    ok(&gw, "PUT", "/api/redemption/?status_only=1", Some(json!({"id": id_of(&gw, &off).await, "status": 2}))).await;
    let once = create(&gw, json!({"name": "once", "quota": 100, "is_gift": true, "max_uses": 1})).await.remove(0);
    assert_eq!(redeem(&gw, &carol, &once).await.0, 200);
    let mine = create(&gw, json!({"name": "mine", "quota": 100, "is_gift": true, "max_uses": 5})).await.remove(0);
    assert_eq!(redeem(&gw, &bob, &mine).await.0, 200);
    let early = create(&gw, json!({"name": "early", "quota": 100, "valid_from": now() + 3600})).await.remove(0);
    let late = create(&gw, json!({"name": "late", "quota": 100, "valid_until": now() + 3600})).await.remove(0);
    gw.sql(&format!("UPDATE redemptions SET valid_until = {} WHERE code = '{late}'", now() - 60)).await;

    let before = balance(&gw, &bob).await;
    let topup_logs = logs_of(&gw, bob_id, 1).await.len();
    for (key, status, words) in [
        ("no-such-code-at-all-0000000000000", 404, "no such redemption code"),
        (off.as_str(), 409, "disabled"),
        (used.as_str(), 409, "already been used"),
        (mine.as_str(), 409, "you have already used this gift code"),
        (once.as_str(), 409, "maximum number of uses"),
        (early.as_str(), 409, "not valid yet"),
        (late.as_str(), 409, "expired"),
        ("  ", 400, "key is required"),
    ] {
        refused_as(&gw, Some(&bob), "POST", "/api/user/topup", Some(json!({"key": key})), status, words).await;
    }
    refused_as(&gw, Some(&bob), "POST", "/api/user/topup", Some(json!({})), 400, "invalid request body").await;
    assert_eq!(balance(&gw, &bob).await, before);
    assert_eq!(logs_of(&gw, bob_id, 1).await.len(), topup_logs);
    let mine_code = ok(&gw, "GET", &format!("/api/redemption/{}", id_of(&gw, &mine).await), None).await;
    assert_eq!(mine_code["used_count"], 1);
}

#[tokio::test]
async fn redemption_admin_is_for_administrators_and_topup_needs_an_active_session() {
    let mut gw = Gateway::start_bare().await;
    // Root before its password change: signed in, but not yet allowed to redeem.
    let resp = gw
        .http
        .post(gw.url("/api/user/login"))
        .json(&json!({"username": "root", "password": "123456"}))
        .send()
        .await
        .unwrap();
    let pending = crate::harness::session_cookie(&resp);
    refused_as(&gw, Some(&pending), "POST", "/api/user/topup", Some(json!({"key": "x"})), 403, "password").await;
    gw.sign_in_root().await;

    let key = create(&gw, json!({"name": "guarded", "quota": 100})).await.remove(0);
    let id = id_of(&gw, &key).await;
    let bob = gw.create_user("bob", "bobs-password").await;
    let body = json!({"id": id, "ids": [id], "name": "guarded", "quota": 1, "status": 2});
    for (method, path) in [
        ("GET", "/api/redemption/".to_string()),
        ("POST", "/api/redemption/".to_string()),
        ("PUT", "/api/redemption/".to_string()),
        ("GET", "/api/redemption/search?keyword=guarded".to_string()),
        ("GET", "/api/redemption/count-by-name?name=guarded".to_string()),
        ("GET", format!("/api/redemption/{id}")),
        ("POST", "/api/redemption/batch-disable".to_string()),
        ("DELETE", format!("/api/redemption/{id}")),
        ("DELETE", "/api/redemption/delete-by-name?name=guarded".to_string()),
        ("DELETE", "/api/redemption/delete-disabled".to_string()),
    ] {
        let (status, reply) = gw.api_as(Some(&bob), method, &path, Some(body.clone())).await;
        assert_eq!(status, 403, "{method} {path}: {reply}");
        let (status, reply) = gw.api_as(None, method, &path, Some(body.clone())).await;
        assert_eq!(status, 401, "{method} {path}: {reply}");
    }
    for (method, path) in [
        ("POST", "/api/user/topup"),
        ("GET", "/api/user/check_in_status"),
        ("POST", "/api/user/check_in"),
        ("GET", "/api/user/aff"),
        ("POST", "/api/user/aff_transfer"),
    ] {
        let (status, reply) = gw.api_as(None, method, path, Some(json!({"key": key, "quota": 500000}))).await;
        assert_eq!(status, 401, "{method} {path}: {reply}");
    }
    let code = ok(&gw, "GET", &format!("/api/redemption/{id}"), None).await;
    assert_eq!((code["status"].clone(), code["quota"].clone()), (json!(1), json!(100)), "nothing changed");
}

#[tokio::test]
async fn codes_are_edited_disabled_in_batches_counted_and_deleted_by_name() {
    let gw = Gateway::start().await;
    let spring = create(&gw, json!({"name": "spring", "quota": 100, "count": 4})).await;
    create(&gw, json!({"name": "summer", "quota": 100, "count": 2})).await;
    let mut spring_ids = Vec::new();
    for k in &spring {
        spring_ids.push(id_of(&gw, k).await);
    }

    // Edit, then toggle the status alone (other fields are ignored then).
    let edited =
        ok(&gw, "PUT", "/api/redemption/", Some(json!({"id": spring_ids[0], "name": "spring2", "quota": 300}))).await;
    assert_eq!((edited["name"].clone(), edited["quota"].clone()), (json!("spring2"), json!(300)));
    let toggled = ok(
        &gw,
        "PUT",
        "/api/redemption/?status_only=1",
        Some(json!({"id": spring_ids[0], "status": 2, "name": "ignored", "quota": 1})),
    )
    .await;
    assert_eq!(
        (toggled["status"].clone(), toggled["name"].clone(), toggled["quota"].clone()),
        (json!(2), json!("spring2"), json!(300))
    );
    refused(&gw, "PUT", "/api/redemption/", Some(json!({"id": spring_ids[0], "status": 3})), 400, "status must be 1")
        .await;
    refused(&gw, "PUT", "/api/redemption/", Some(json!({"id": spring_ids[1], "max_uses": 5})), 400, "gift codes only")
        .await;
    refused(&gw, "PUT", "/api/redemption/", Some(json!({"id": 999999, "name": "x"})), 404, "not found").await;

    // Batch disable: only enabled codes change; disabled codes cannot be redeemed.
    let disabled = ok(
        &gw,
        "POST",
        "/api/redemption/batch-disable",
        Some(json!({"ids": [spring_ids[0], spring_ids[1], spring_ids[2], 999999]})),
    )
    .await;
    assert_eq!(disabled, 2);
    let bob = gw.create_user("bob", "bobs-password").await;
    assert_eq!(redeem(&gw, &bob, &spring[1]).await.0, 409);
    refused(&gw, "POST", "/api/redemption/batch-disable", Some(json!({"ids": []})), 400, "at least one").await;
    // A used code stays used.
    assert_eq!(redeem(&gw, &bob, &spring[3]).await.0, 200);
    refused(
        &gw,
        "PUT",
        "/api/redemption/?status_only=1",
        Some(json!({"id": spring_ids[3], "status": 1})),
        409,
        "used up",
    )
    .await;
    let enabled =
        ok(&gw, "PUT", "/api/redemption/?status_only=1", Some(json!({"id": spring_ids[2], "status": 1}))).await;
    assert_eq!(enabled["status"], 1);

    // Count and delete by name (query or body); delete the disabled and used ones; delete by id.
    assert_eq!(ok(&gw, "GET", "/api/redemption/count-by-name?name=summer", None).await, 2);
    assert_eq!(ok(&gw, "DELETE", "/api/redemption/delete-by-name?name=summer", None).await, 2);
    assert_eq!(ok(&gw, "GET", "/api/redemption/count-by-name?name=summer", None).await, 0);
    assert_eq!(ok(&gw, "DELETE", "/api/redemption/delete-by-name", Some(json!({"name": "spring2"}))).await, 1);
    refused(&gw, "DELETE", "/api/redemption/delete-by-name", None, 400, "name is required").await;
    refused(&gw, "GET", "/api/redemption/count-by-name", None, 400, "name is required").await;
    assert_eq!(
        ok(&gw, "DELETE", "/api/redemption/delete-disabled", None).await,
        2,
        "spring[1] disabled, spring[3] used"
    );
    assert_eq!(ok(&gw, "GET", "/api/redemption/count-by-name?name=spring", None).await, 1);
    ok(&gw, "DELETE", &format!("/api/redemption/{}", spring_ids[2]), None).await;
    refused(&gw, "DELETE", &format!("/api/redemption/{}", spring_ids[2]), None, 404, "not found").await;
    refused(&gw, "GET", "/api/redemption/abc", None, 400, "must be a number").await;
    assert_eq!(ok(&gw, "GET", "/api/redemption/", None).await["items"], json!([]));
}

#[tokio::test]
async fn bad_code_definitions_are_refused_with_a_clear_message() {
    let gw = Gateway::start().await;
    let future = now() + 3600;
    for (body, words) in [
        (json!({"name": "q", "quota": 0}), "quota must be greater than 0"),
        (json!({"name": "q", "quota": -5}), "quota must be greater than 0"),
        (json!({"name": "", "quota": 1}), "name must be 1 to 20 characters"),
        (json!({"name": "x".repeat(21), "quota": 1}), "name must be 1 to 20 characters"),
        (json!({"name": "n", "quota": 1, "count": 0}), "count must be between 1 and 100"),
        (json!({"name": "n", "quota": 1, "count": 101}), "count must be between 1 and 100"),
        (json!({"name": "n", "quota": 1, "key": "short"}), "key must be 32 to 64"),
        (json!({"name": "n", "quota": 1, "key": "a".repeat(65)}), "key must be 32 to 64"),
        (json!({"name": "n", "quota": 1, "key": "a".repeat(40), "count": 2}), "either a custom key or a count"),
        (json!({"name": "n", "quota": 1, "is_gift": true, "max_uses": 0}), "max_uses must be at least 1"),
        (json!({"name": "n", "quota": 1, "valid_from": future, "valid_until": future - 1}), "later than valid_from"),
        (json!({"name": "n", "quota": 1, "valid_until": 1000}), "valid_until must be in the future"),
        (json!({"name": "n", "quota": 1, "valid_from": -1}), "unix seconds"),
        (json!({"name": "n"}), "invalid request body"),
    ] {
        refused(&gw, "POST", "/api/redemption/", Some(body), 400, words).await;
    }
    assert_eq!(ok(&gw, "GET", "/api/redemption/", None).await["items"], json!([]));
    let key = create(&gw, json!({"name": "ok", "quota": 1, "valid_from": future})).await.remove(0);
    let id = id_of(&gw, &key).await;
    refused(
        &gw,
        "PUT",
        "/api/redemption/",
        Some(json!({"id": id, "valid_until": future - 10})),
        400,
        "later than valid_from",
    )
    .await;
    refused(&gw, "PUT", "/api/redemption/", Some(json!({"id": id, "quota": 0})), 400, "quota must be greater").await;
    refused(&gw, "PUT", "/api/redemption/?status_only=1", Some(json!({"id": id})), 400, "needs a status").await;
}

#[tokio::test]
async fn check_in_credits_once_per_utc_day_when_enabled() {
    let gw = Gateway::start().await;
    let bob = gw.create_user("bob", "bobs-password").await;
    let bob_id = user_id(&gw, &bob).await;
    assert_eq!(can_check_in(&gw, &bob).await, false, "off by default");
    refused_as(&gw, Some(&bob), "POST", "/api/user/check_in", None, 403, "not enabled").await;

    gw.set_options(&[("CheckInEnabled", "true"), ("CheckInQuota", "1000"), ("CheckInMaxQuota", "2000")]).await;
    assert_eq!(can_check_in(&gw, &bob).await, true);
    let before = balance(&gw, &bob).await;
    let (code, reply) = gw.api_as(Some(&bob), "POST", "/api/user/check_in", None).await;
    assert_eq!(code, 200, "{reply}");
    let reward = reply["data"]["quota"].as_i64().unwrap();
    assert!((1000..=2000).contains(&reward), "{reward}");
    assert_eq!(balance(&gw, &bob).await, before + reward);
    assert_eq!(can_check_in(&gw, &bob).await, false);
    refused_as(&gw, Some(&bob), "POST", "/api/user/check_in", None, 409, "already checked in today").await;
    assert_eq!(balance(&gw, &bob).await, before + reward);
    let logs = logs_of(&gw, bob_id, 5).await;
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0]["quota"], reward);

    // Yesterday's check-in does not count today.
    gw.sql(&format!("UPDATE users SET last_check_in_time = {} WHERE id = {bob_id}", now() - 86_400)).await;
    assert_eq!(can_check_in(&gw, &bob).await, true);
    gw.set_options(&[("CheckInMaxQuota", "0")]).await;
    let (code, reply) = gw.api_as(Some(&bob), "POST", "/api/user/check_in", None).await;
    assert_eq!((code, reply["data"]["quota"].clone()), (200, json!(1000)), "max not above min: the minimum");
    assert_eq!(logs_of(&gw, bob_id, 5).await.len(), 2);
}

#[tokio::test]
async fn the_invitation_code_is_stable_and_invitation_quota_moves_into_the_balance() {
    let gw = Gateway::start().await;
    let bob = gw.create_user("bob", "bobs-password").await;
    let carol = gw.create_user("carol", "carols-password").await;
    let bob_id = user_id(&gw, &bob).await;
    let code = aff_code(&gw, &bob).await;
    assert_eq!(code.len(), 4);
    assert!(code.chars().all(|c| c.is_ascii_alphanumeric()), "{code}");
    assert_eq!(aff_code(&gw, &bob).await, code, "the same code every time");
    assert_ne!(aff_code(&gw, &carol).await, code);

    let transfer = |quota: i64| json!({"quota": quota});
    refused_as(
        &gw,
        Some(&bob),
        "POST",
        "/api/user/aff_transfer",
        Some(transfer(500_000)),
        400,
        "not enough invitation quota",
    )
    .await;
    gw.sql(&format!("UPDATE users SET aff_quota = 800000 WHERE id = {bob_id}")).await;
    refused_as(&gw, Some(&bob), "POST", "/api/user/aff_transfer", Some(transfer(499_999)), 400, "at least 500000")
        .await;
    refused_as(
        &gw,
        Some(&bob),
        "POST",
        "/api/user/aff_transfer",
        Some(transfer(900_000)),
        400,
        "not enough invitation quota",
    )
    .await;
    let before = balance(&gw, &bob).await;
    let (status, reply) = gw.api_as(Some(&bob), "POST", "/api/user/aff_transfer", Some(transfer(600_000))).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["data"], json!({"quota": before + 600_000, "aff_quota": 200_000}));
    assert_eq!(balance(&gw, &bob).await, before + 600_000);
    refused_as(&gw, Some(&bob), "POST", "/api/user/aff_transfer", Some(transfer(500_000)), 400, "200000 available")
        .await;
}
