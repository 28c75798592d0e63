//! Settings, usage logs and statistics through the admin API (issue 7): `/api/option/` checks every value and
//! hides secrets, a saved price changes the next charge without a restart; `/api/log/…` filters, searches,
//! exports and deletes exactly the rows it should, and a user's `self` views never show other users, channels
//! or the retry trail; `/api/data/…` sums per hour, model, user and channel.

use serde_json::{Value, json};

use crate::harness::{Gateway, chat_body};
use crate::mock_upstream::Reply;

/// The mock answers with 12 prompt and 5 completion tokens. gpt-4o-mini: (12 + 5×4) × 0.075 = 2.4 → 2;
/// gpt-4o: (12 + 5×4) × 1.25 = 40.
const MINI: i64 = 2;
const FOUR_O: i64 = 40;
const TOKENS: i64 = 17;

async fn put_option(gw: &Gateway, key: &str, value: Value) -> (u16, Value) {
    gw.api("PUT", "/api/option/", Some(json!({"key": key, "value": value}))).await
}

async fn options(gw: &Gateway) -> Vec<Value> {
    let (status, body) = gw.api("GET", "/api/option/", None).await;
    assert_eq!(status, 200, "{body}");
    body["data"].as_array().unwrap().clone()
}

fn option<'a>(all: &'a [Value], key: &str) -> &'a Value {
    all.iter().find(|o| o["key"] == key).unwrap_or_else(|| panic!("{key} is not listed"))
}

async fn ok(gw: &Gateway, cookie: Option<&str>, path: &str) -> Value {
    let (status, body) = gw.api_as(cookie, "GET", path, None).await;
    assert_eq!((status, body["success"].as_bool()), (200, Some(true)), "{path}: {body}");
    body["data"].clone()
}

/// The rows of a search's or the dashboard's array, or of a paged list's `items`.
async fn rows(gw: &Gateway, cookie: Option<&str>, path: &str) -> Vec<Value> {
    let data = ok(gw, cookie, path).await;
    listed(&data).unwrap_or_else(|| panic!("{path} returned no list: {data}"))
}

/// The rows of a list answer's `data`: the array itself or a page's `items`.
fn listed(data: &Value) -> Option<Vec<Value>> {
    let list = if data.is_array() { data } else { &data["items"] };
    list.as_array().cloned()
}

/// An ordinary user "bob" (its session cookie) with an unlimited token (its key).
async fn bob(gw: &Gateway) -> (String, String) {
    let cookie = gw.create_user("bob", "bob-password-1").await;
    let (status, body) = gw
        .api_as(Some(&cookie), "POST", "/api/token/", Some(json!({"name": "bob-key", "unlimited_quota": true})))
        .await;
    assert_eq!(status, 200, "{body}");
    (cookie, body["data"]["key"].as_str().unwrap().to_string())
}

/// How many rows an administrator's log query returns.
async fn count(gw: &Gateway, path: &str) -> usize {
    rows(gw, Some(&gw.cookie), path).await.len()
}

async fn ask(gw: &Gateway, key: &str, model: &str) {
    let resp = gw.chat("/v1", key, chat_body(model)).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
}

/// Root: 2 × gpt-4o-mini and 1 × gpt-4o with "root-key"; bob: 3 × gpt-4o-mini. Waits for the six rows.
async fn scripted_mix(gw: &Gateway) -> (String, String) {
    let root_key = gw.root_key().await;
    let (bob_cookie, bob_key) = bob(gw).await;
    for model in ["gpt-4o-mini", "gpt-4o-mini", "gpt-4o"] {
        ask(gw, &root_key, model).await;
    }
    for _ in 0..3 {
        ask(gw, &bob_key, "gpt-4o-mini").await;
    }
    gw.wait_for_logs(6).await;
    (bob_cookie, bob_key)
}

#[tokio::test]
async fn settings_are_checked_named_and_secrets_never_come_back() {
    let gw = Gateway::start().await;
    let before = option(&options(&gw).await, "ModelRatio")["value"].clone();
    for (key, value, why) in [
        ("ModelRatio", json!("{\"gpt-4o\": 1.5"), "not a valid JSON object"),
        ("ModelRatio", json!("{\"gpt-4o\": -2}"), "gpt-4o"),
        ("GroupRatio", json!("[1, 2]"), "JSON object"),
        ("RegisterEnabled", json!("yes"), "true or false"),
        ("RetryTimes", json!(99), "between 0 and 10"),
        ("global_model_mapping", json!("{\"smart\": []}"), "no real model"),
        ("ServerAddress", json!("not a url"), "URL"),
        ("NoSuchOption", json!("1"), "unknown setting"),
        ("ModelRateLimits", json!("{\"gpt-4o\": {\"rpm\": -1}}"), "must not be negative"),
        ("ModelRequestRateLimitDurationMinutes", json!(0), "between 1 and"),
        ("SensitiveWords", json!("ok\nregex:(a"), "line 2"),
    ] {
        let (status, body) = put_option(&gw, key, value.clone()).await;
        assert_eq!((status, body["success"].as_bool()), (400, Some(false)), "{key} = {value}: {body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.starts_with(&format!("{key}: ")) && message.contains(why), "{key}: {message}");
    }
    assert_eq!(option(&options(&gw).await, "ModelRatio")["value"], before, "a refused value is not stored");

    assert_eq!(put_option(&gw, "SMTPToken", json!("hunter2-smtp")).await.0, 200);
    assert_eq!(put_option(&gw, "RegisterEnabled", json!(false)).await.0, 200);
    assert_eq!(put_option(&gw, "GroupRatio", json!({"default": 1, "vip": 0.5})).await.0, 200);
    let (status, raw) = gw.api("GET", "/api/option/", None).await;
    assert_eq!(status, 200);
    assert!(!raw.to_string().contains("hunter2-smtp"), "a secret came back: {raw}");
    let all = options(&gw).await;
    assert_eq!(
        (option(&all, "SMTPToken")["value"].as_str(), option(&all, "SMTPToken")["set"].as_bool()),
        (Some(""), Some(true))
    );
    assert_eq!(option(&all, "GitHubClientSecret")["set"], false);
    assert_eq!(option(&all, "RegisterEnabled")["value"], "false");
    assert_eq!(option(&all, "GroupRatio")["value"], r#"{"default":1,"vip":0.5}"#);
    assert!(option(&all, "RetryTimes").get("set").is_none(), "only secrets carry `set`");
    // Registration reads the saved switch at once.
    let (status, body) = gw
        .api_as(None, "POST", "/api/user/register", Some(json!({"username": "carol", "password": "carol-password"})))
        .await;
    assert!(status >= 400 && body["success"] == false, "registration is off: {status} {body}");
}

#[tokio::test]
async fn a_saved_model_ratio_changes_the_next_charge_without_a_restart() {
    let gw = Gateway::start().await;
    gw.wait_relay_caught_up().await;
    let key = gw.root_key().await;
    ask(&gw, &key, "gpt-4o-mini").await;
    assert_eq!(gw.wait_for_logs(1).await[0]["quota"], MINI);
    let (status, body) = put_option(&gw, "ModelRatio", json!("{\"gpt-4o-mini\": 7.5, \"gpt-4o\": 1.25}")).await;
    assert_eq!(status, 200, "{body}");
    ask(&gw, &key, "gpt-4o-mini").await;
    let logs = gw.wait_for_logs(2).await;
    // (12 + 5×4) × 7.5 = 240
    assert_eq!(logs[0]["quota"], 240, "{}", logs[0]);
    let other: Value = serde_json::from_str(logs[0]["other"].as_str().unwrap()).unwrap();
    assert_eq!(other["model_ratio"], 7.5);
    // An empty value clears the option: the built-in ratios apply again.
    assert_eq!(put_option(&gw, "ModelRatio", json!("")).await.0, 200);
    let shown: Value =
        serde_json::from_str(option(&options(&gw).await, "ModelRatio")["value"].as_str().unwrap()).unwrap();
    assert_eq!(shown["gpt-4o-mini"], 0.075, "the built-in ratios are listed again: {shown}");
    ask(&gw, &key, "gpt-4o-mini").await;
    assert_eq!(gw.wait_for_logs(3).await[0]["quota"], MINI);
}

#[tokio::test]
async fn settings_are_for_root_only() {
    let gw = Gateway::start().await;
    let user = gw.create_user("plain", "plain-password").await;
    let admin = gw.create_user("deputy", "deputy-password").await;
    gw.sql("UPDATE users SET role = 10 WHERE username = 'deputy'").await;
    assert_eq!(gw.api_as(None, "GET", "/api/option/", None).await.0, 401);
    for cookie in [&user, &admin] {
        assert_eq!(gw.api_as(Some(cookie), "GET", "/api/option/", None).await.0, 403);
        let put = Some(json!({"key": "RetryTimes", "value": "1"}));
        assert_eq!(gw.api_as(Some(cookie), "PUT", "/api/option/", put).await.0, 403);
    }
    // The administrator may read logs and statistics, which are not settings.
    ok(&gw, Some(&admin), "/api/log/stat").await;
}

#[tokio::test]
async fn log_filters_statistics_and_search_count_exactly() {
    let gw = Gateway::start().await;
    let (bob_cookie, _) = scripted_mix(&gw).await;
    assert_eq!(count(&gw, "/api/log/?type=2&page_size=100").await, 6);
    assert_eq!(count(&gw, "/api/log/?type=1").await, 0);
    assert_eq!(count(&gw, "/api/log/?username=bob").await, 3);
    assert_eq!(count(&gw, "/api/log/?token_name=root-key").await, 3);
    assert_eq!(count(&gw, "/api/log/?model_name=gpt-4o-mini").await, 5);
    assert_eq!(count(&gw, "/api/log/?model_name=gpt-4o").await, 1);
    assert_eq!(count(&gw, "/api/log/?model_name=gpt-4o%25").await, 6);
    assert_eq!(count(&gw, "/api/log/?group=default").await, 6);
    assert_eq!(count(&gw, "/api/log/?group=vip").await, 0);
    assert_eq!(count(&gw, "/api/log/?channel=").await, 6, "an empty filter is no filter");
    assert_eq!(count(&gw, "/api/log/?channel=9999").await, 0);
    assert_eq!(count(&gw, "/api/log/?page_size=4&p=2").await, 2);
    // Paged as `{items, total, page, page_size}`: the total counts the whole filter on every page.
    let second = ok(&gw, Some(&gw.cookie), "/api/log/?page_size=4&p=2&type=2").await;
    assert_eq!((&second["total"], &second["page"], &second["page_size"]), (&json!(6), &json!(2), &json!(4)));
    let own = ok(&gw, Some(&bob_cookie), "/api/log/self/?p=1&page_size=1").await;
    assert_eq!((own["items"].as_array().unwrap().len(), &own["total"]), (1, &json!(3)), "{own}");
    assert_eq!(count(&gw, "/api/log/?start_timestamp=1&end_timestamp=2").await, 0);
    let (status, body) = gw.api("GET", "/api/log/?channel=abc", None).await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("channel"), "{body}");

    let all = rows(&gw, Some(&gw.cookie), "/api/log/").await;
    let channel = all[0]["channel"].as_i64().unwrap();
    assert_eq!(all[0]["channel_name"], "mock", "administrators see the channel's name");
    assert_eq!(rows(&gw, Some(&gw.cookie), &format!("/api/log/?channel={channel}&page_size=50")).await.len(), 6);

    let stat = ok(&gw, Some(&gw.cookie), "/api/log/stat").await;
    let total = 5 * MINI + FOUR_O;
    assert_eq!(stat, json!({"quota": total, "rpm": 6, "tpm": 6 * TOKENS}));
    let stat = ok(&gw, Some(&gw.cookie), "/api/log/stat?username=bob").await;
    assert_eq!(stat, json!({"quota": 3 * MINI, "rpm": 3, "tpm": 3 * TOKENS}));
    let stat = ok(&gw, Some(&gw.cookie), "/api/log/stat?model_name=gpt-4o").await;
    assert_eq!(stat["quota"], FOUR_O);
    let mine = ok(&gw, Some(&bob_cookie), "/api/log/self/stat?username=root").await;
    assert_eq!(mine, json!({"quota": 3 * MINI, "rpm": 3, "tpm": 3 * TOKENS}), "a user's stat is its own");

    assert_eq!(rows(&gw, Some(&gw.cookie), "/api/log/search?keyword=2").await.len(), 6);
    assert_eq!(rows(&gw, Some(&bob_cookie), "/api/log/self/search?keyword=2").await.len(), 3);
    let (status, body) = gw.api_as(Some(&bob_cookie), "GET", "/api/log/self/search?keyword=abc", None).await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn a_users_own_log_shows_only_its_rows_without_channels_or_admin_info() {
    let gw = Gateway::start().await;
    let (bob_cookie, _) = scripted_mix(&gw).await;
    // Give one of bob's rows a retry trail, as a failed-over request gets.
    gw.sql(
        "UPDATE logs SET other = '{\"model_ratio\":0.075,\"admin_info\":{\"use_channel\":[7,1]}}' \
         WHERE id = (SELECT MAX(id) FROM logs WHERE username = 'bob')",
    )
    .await;
    let admin_view = rows(&gw, Some(&gw.cookie), "/api/log/?username=bob").await;
    assert!(admin_view[0]["other"].as_str().unwrap().contains("admin_info"));
    for path in ["/api/log/self", "/api/log/self?username=root", "/api/log/self?p=1&page_size=100&type=2"] {
        let own = rows(&gw, Some(&bob_cookie), path).await;
        assert_eq!(own.len(), 3, "{path}: {own:?}");
        for row in &own {
            assert_eq!(row["username"], "bob", "{row}");
            assert_eq!((row["channel"].as_i64(), row["channel_name"].as_str()), (Some(0), Some("")), "{row}");
            assert!(!row["other"].as_str().unwrap().contains("admin_info"), "{row}");
            assert!(row["id"].as_i64().unwrap() < 1024);
        }
    }
    let trail: Value =
        serde_json::from_str(rows(&gw, Some(&bob_cookie), "/api/log/self").await[0]["other"].as_str().unwrap())
            .unwrap();
    assert_eq!(trail, json!({"model_ratio": 0.075}), "only admin_info is removed");
}

#[tokio::test]
async fn csv_export_and_delete_before_a_timestamp() {
    let gw = Gateway::start().await;
    let (bob_cookie, _) = scripted_mix(&gw).await;
    let csv = |cookie: String, path: &'static str| {
        let gw = &gw;
        async move {
            let resp = gw.http.get(gw.url(path)).header("cookie", cookie).send().await.unwrap();
            assert_eq!(resp.status(), 200, "{path}");
            let kind = resp.headers()["content-type"].to_str().unwrap().to_string();
            assert!(kind.starts_with("text/csv"), "{kind}");
            resp.text().await.unwrap()
        }
    };
    let admin_csv = csv(gw.cookie.clone(), "/api/log/export?username=bob").await;
    let lines: Vec<&str> = admin_csv.lines().collect();
    assert_eq!(lines.len(), 1 + 3, "{admin_csv}");
    assert!(
        lines[0].starts_with("id,time_utc,created_at,type,username") && lines[0].contains("channel_name"),
        "{}",
        lines[0]
    );
    assert!(lines[1..].iter().all(|l| l.contains(",bob,bob-key,gpt-4o-mini,") && l.contains(",mock,")), "{admin_csv}");
    let own_csv = csv(bob_cookie.clone(), "/api/log/self/export").await;
    assert_eq!(own_csv.lines().count(), 1 + 3, "{own_csv}");
    assert!(!own_csv.contains("channel") && !own_csv.contains("mock"), "{own_csv}");

    // Two of bob's rows become old; deleting before a time in between removes exactly those.
    gw.sql("UPDATE logs SET created_at = 1000 WHERE id IN (SELECT id FROM logs WHERE username = 'bob' ORDER BY id LIMIT 2)")
        .await;
    assert_eq!(rows(&gw, Some(&gw.cookie), "/api/log/?start_timestamp=0&end_timestamp=1500").await.len(), 2);
    let (status, body) = gw.api("DELETE", "/api/log/", None).await;
    assert_eq!(status, 400, "target_timestamp is required: {body}");
    let (status, body) = gw.api("DELETE", "/api/log/?target_timestamp=2000", None).await;
    assert_eq!((status, body["data"].as_i64()), (200, Some(2)), "{body}");
    assert_eq!(rows(&gw, Some(&gw.cookie), "/api/log/?page_size=100").await.len(), 4);
    assert_eq!(rows(&gw, Some(&bob_cookie), "/api/log/self").await.len(), 1);
}

#[tokio::test]
async fn log_and_data_views_check_who_is_asking() {
    let gw = Gateway::start().await;
    let (bob_cookie, _) = bob(&gw).await;
    for path in [
        "/api/log/",
        "/api/log/self",
        "/api/log/stat",
        "/api/log/self/stat",
        "/api/log/export",
        "/api/data/",
        "/api/data/self",
        "/api/data/channels",
    ] {
        assert_eq!(gw.api_as(None, "GET", path, None).await.0, 401, "anonymous {path}");
    }
    for path in [
        "/api/log/",
        "/api/log/search?keyword=2",
        "/api/log/stat",
        "/api/log/export",
        "/api/data/",
        "/api/data/channels",
    ] {
        assert_eq!(gw.api_as(Some(&bob_cookie), "GET", path, None).await.0, 403, "user {path}");
    }
    assert_eq!(gw.api_as(Some(&bob_cookie), "DELETE", "/api/log/?target_timestamp=99999999999", None).await.0, 403);
    for path in ["/api/log/self", "/api/log/self/stat", "/api/data/self"] {
        ok(&gw, Some(&bob_cookie), path).await;
    }
}

/// The sums per (model, hour) of a dashboard series, keyed by model (the test may straddle an hour).
fn by_model(series: &[Value]) -> std::collections::BTreeMap<String, (i64, i64, i64)> {
    let mut out = std::collections::BTreeMap::new();
    for r in series {
        let e = out.entry(r["model_name"].as_str().unwrap().to_string()).or_insert((0, 0, 0));
        e.0 += r["count"].as_i64().unwrap();
        e.1 += r["token_used"].as_i64().unwrap();
        e.2 += r["quota"].as_i64().unwrap();
    }
    out
}

#[tokio::test]
async fn dashboard_data_sums_per_hour_model_user_and_channel() {
    let gw = Gateway::start().await;
    let (bob_cookie, _) = scripted_mix(&gw).await;
    let root_key = gw.root_key().await;
    gw.mock.script(Reply::Json(500, json!({"error": {"message": "boom"}})));
    assert_eq!(gw.chat("/v1", &root_key, chat_body("gpt-4o-mini")).await.status(), 502);
    gw.wait_for_state("/api/data/channels", |b| b["data"][0]["error_count"].as_i64() > Some(0)).await;
    let channels = rows(&gw, Some(&gw.cookie), "/api/data/channels").await;
    let failed_attempts = gw.mock.chat_requests() as i64 - 6;
    assert!(failed_attempts >= 1);
    assert_eq!(channels.len(), 1, "{channels:?}");
    let c = &channels[0];
    assert_eq!(
        (c["channel_name"].as_str(), c["count"].as_i64(), c["error_count"].as_i64()),
        (Some("mock"), Some(6), Some(failed_attempts)),
        "{c}"
    );
    let rate = failed_attempts as f64 / (6 + failed_attempts) as f64;
    assert!((c["error_rate"].as_f64().unwrap() - rate).abs() < 1e-9, "{c}");
    assert_eq!(c["quota"], 5 * MINI + FOUR_O);

    let all = by_model(&rows(&gw, Some(&gw.cookie), "/api/data/").await);
    assert_eq!(all["gpt-4o-mini"], (5, 5 * TOKENS, 5 * MINI));
    assert_eq!(all["gpt-4o"], (1, TOKENS, FOUR_O));
    assert_eq!(all.len(), 2);
    let daily = by_model(&rows(&gw, Some(&gw.cookie), "/api/data/?default_time=day").await);
    assert_eq!(daily, all);
    let bobs = by_model(&rows(&gw, Some(&gw.cookie), "/api/data/?username=bob").await);
    assert_eq!(bobs.into_iter().collect::<Vec<_>>(), vec![("gpt-4o-mini".to_string(), (3, 3 * TOKENS, 3 * MINI))]);
    let mut users = std::collections::BTreeMap::new();
    for r in rows(&gw, Some(&gw.cookie), "/api/data/?group_by=user").await {
        *users.entry(r["username"].as_str().unwrap().to_string()).or_insert(0) += r["count"].as_i64().unwrap();
    }
    assert_eq!(users.into_iter().collect::<Vec<_>>(), vec![("bob".to_string(), 3), ("root".to_string(), 3)]);
    let own = by_model(&rows(&gw, Some(&bob_cookie), "/api/data/self?username=root").await);
    assert_eq!(own.into_iter().collect::<Vec<_>>(), vec![("gpt-4o-mini".to_string(), (3, 3 * TOKENS, 3 * MINI))]);
    let past = rows(&gw, Some(&gw.cookie), "/api/data/?start_timestamp=0&end_timestamp=1000").await;
    assert!(past.is_empty(), "{past:?}");
    // An unknown bucket is the hourly default, as Veloera reads it (its UI sends `undefined` at first).
    assert_eq!(
        rows(&gw, Some(&gw.cookie), "/api/data/?default_time=month").await,
        rows(&gw, Some(&gw.cookie), "/api/data/").await
    );
}

#[tokio::test]
async fn the_client_ip_is_logged_only_for_users_who_opted_in() {
    let gw = Gateway::start().await;
    let root_key = gw.root_key().await;
    let (bob_cookie, bob_key) = bob(&gw).await;
    gw.sql("UPDATE users SET setting = '{\"show_ip_in_logs\":true}' WHERE username = 'bob'").await;
    ask(&gw, &root_key, "gpt-4o-mini").await;
    ask(&gw, &bob_key, "gpt-4o-mini").await;
    gw.wait_for_logs(2).await;
    let root_rows = rows(&gw, Some(&gw.cookie), "/api/log/?username=root").await;
    assert_eq!(root_rows[0]["client_ip"], "", "root did not opt in: {}", root_rows[0]);
    let own = rows(&gw, Some(&bob_cookie), "/api/log/self").await;
    assert_eq!(own[0]["client_ip"], "127.0.0.1", "{}", own[0]);
}

/// Waits (bounded, looking again each time control settles usage) until an administrator's log query returns
/// `n` rows.
async fn wait_for(gw: &Gateway, path: &str, n: usize) -> Vec<Value> {
    let found = gw.wait_for_state(path, |b| listed(&b["data"]).is_some_and(|rows| rows.len() >= n)).await;
    listed(&found["data"]).unwrap_or_default()
}

#[tokio::test]
async fn error_and_consume_rows_follow_their_switches() {
    let gw = Gateway::start().await;
    let (token_id, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    let fail_once = || gw.mock.script(Reply::Json(500, json!({"error": {"message": "boom"}})));
    // Off by default: a failure leaves no row.
    fail_once();
    assert_eq!(gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await.status(), 502);
    ask(&gw, &key, "gpt-4o-mini").await;
    gw.wait_for_logs(1).await;
    assert_eq!(put_option(&gw, "LogErrorEnabled", json!(true)).await.0, 200);
    fail_once();
    assert_eq!(gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await.status(), 502);
    let errors = wait_for(&gw, "/api/log/?type=6", 1).await;
    assert_eq!(errors.len(), 1, "only the failure after the switch: {errors:?}");
    let row = &errors[0];
    assert_eq!((row["quota"].as_i64(), row["model_name"].as_str()), (Some(0), Some("gpt-4o-mini")), "{row}");
    assert_eq!(row["content"], "upstream request failed with HTTP 500", "{row}");
    let other: Value = serde_json::from_str(row["other"].as_str().unwrap()).unwrap();
    assert_eq!(other["status_code"], 500);
    assert_eq!(other["admin_info"]["use_channel"].as_array().map(Vec::len), Some(1), "{other}");
    let own = rows(&gw, Some(&gw.cookie), "/api/log/self?type=6").await;
    assert!(!own[0]["other"].as_str().unwrap().contains("admin_info"), "{}", own[0]);

    assert_eq!(put_option(&gw, "LogConsumeEnabled", json!("false")).await.0, 200);
    ask(&gw, &key, "gpt-4o-mini").await;
    let token = gw.wait_for_state(&format!("/api/token/{token_id}"), |t| t["data"]["used_quota"] == 2 * MINI).await;
    assert_eq!(token["data"]["used_quota"], 2 * MINI, "the request is still charged");
    assert_eq!(rows(&gw, Some(&gw.cookie), "/api/log/?type=2").await.len(), 1, "but not logged");
    // The dashboard still counts it.
    let data = rows(&gw, Some(&gw.cookie), "/api/data/").await;
    assert_eq!(data.iter().map(|r| r["count"].as_i64().unwrap()).sum::<i64>(), 2, "{data:?}");
}
