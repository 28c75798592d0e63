//! Calls Veloera's own UI and the scripts written against it make, answered as Veloera answers them: trailing
//! slashes, lenient page numbers, the paged list shape, every `/api/status` field, option values in force, and
//! the administrator's global CSS and JS.

use serde_json::{Value, json};

use crate::harness::Gateway;

async fn ok(gw: &Gateway, cookie: Option<&str>, method: &str, path: &str, body: Option<Value>) -> Value {
    let (status, reply) = gw.api_as(cookie, method, path, body).await;
    assert_eq!((status, reply["success"].as_bool()), (200, Some(true)), "{method} {path}: {reply}");
    reply["data"].clone()
}

async fn root(gw: &Gateway, method: &str, path: &str, body: Option<Value>) -> Value {
    ok(gw, Some(&gw.cookie), method, path, body).await
}

#[tokio::test]
async fn the_trailing_slash_paths_veloeras_ui_calls_reach_their_routes() {
    let gw = Gateway::start().await;
    let bob = gw.create_user("bob", "bob-password-1").await;
    let channel = gw
        .create_channel(
            json!({"name": "spare", "type": 1, "key": "sk-spare", "base_url": gw.mock.base_url(), "models": "gpt-4o"}),
        )
        .await;
    let (token, _) = gw.create_token(json!({"name": "doomed"})).await;
    root(&gw, "POST", "/api/redemption/", Some(json!({"name": "slash", "quota": 5, "count": 1}))).await;
    let code = root(&gw, "GET", "/api/redemption/", None).await["items"][0]["id"].as_i64().unwrap();

    // Reads, with their query strings kept.
    let own = ok(&gw, Some(&bob), "GET", "/api/log/self/?p=1&page_size=5&type=0", None).await;
    assert_eq!((&own["page_size"], &own["total"]), (&json!(5), &json!(0)), "{own}");
    assert!(ok(&gw, Some(&bob), "GET", "/api/data/self/?default_time=day", None).await.is_array());
    // Whatever the mock says about balances, both forms get the same answer from the same route.
    let (with_slash, a) = gw.api("GET", &format!("/api/channel/update_balance/{channel}/"), None).await;
    let (without, b) = gw.api("GET", &format!("/api/channel/update_balance/{channel}"), None).await;
    assert_eq!((with_slash, &a["success"]), (without, &b["success"]), "{a} / {b}");
    assert_ne!(a["message"], "no such API route", "{a}");
    // The other direction too: a collection route without its slash.
    assert!(root(&gw, "GET", "/api/channel?p=0", None).await["items"].is_array());

    // Deletes reach the right record.
    root(&gw, "DELETE", &format!("/api/token/{token}/"), None).await;
    assert_eq!(gw.api("GET", &format!("/api/token/{token}"), None).await.0, 404, "the token is gone");
    root(&gw, "DELETE", &format!("/api/redemption/{code}/"), None).await;
    assert_eq!(gw.api("GET", &format!("/api/redemption/{code}"), None).await.0, 404, "the code is gone");
    root(&gw, "DELETE", &format!("/api/channel/{channel}/"), None).await;
    assert_eq!(gw.api("GET", &format!("/api/channel/{channel}"), None).await.0, 404, "the channel is gone");

    // A body survives the second routing; authorization still applies to the other form.
    let renamed = root(&gw, "PUT", "/api/user/self/", Some(json!({"display_name": "Root Admin"}))).await;
    assert_eq!(renamed["display_name"], "Root Admin", "{renamed}");
    assert_eq!(gw.api_as(Some(&bob), "GET", "/api/channel", None).await.0, 403);
    // Paths that match nothing in either form are still unknown.
    let (status, body) = gw.api("GET", "/api/no/such/route/", None).await;
    assert_eq!((status, body["message"].as_str()), (404, Some("no such API route")), "{body}");
}

#[tokio::test]
async fn unreadable_page_numbers_and_buckets_fall_back_to_the_defaults() {
    let gw = Gateway::start().await;
    let bob = gw.create_user("bob", "bob-password-1").await;
    for path in [
        "/api/log/?p=NaN&page_size=abc",
        "/api/user/?p=NaN&page_size=undefined",
        "/api/redemption/?p=undefined&page_size=",
        "/api/channel/?p=NaN&page_size=NaN",
        "/api/user/search?keyword=root&p=NaN",
    ] {
        let page = root(&gw, "GET", path, None).await;
        assert_eq!(page["page_size"], 10, "{path}: {page}");
        assert!(page["page"] == 0 || page["page"] == 1, "{path}: {page}");
    }
    let own = ok(&gw, Some(&bob), "GET", "/api/token/?p=NaN&size=abc", None).await;
    assert_eq!((&own["page"], &own["page_size"]), (&json!(0), &json!(10)), "{own}");
    // Veloera's dashboard sends `default_time=undefined` before its options load: the hourly default applies.
    assert_eq!(
        ok(&gw, Some(&bob), "GET", "/api/data/self?default_time=undefined", None).await,
        ok(&gw, Some(&bob), "GET", "/api/data/self", None).await
    );
    root(&gw, "GET", "/api/data/?default_time=NaN&start_timestamp=&end_timestamp=", None).await;
}

#[tokio::test]
async fn lists_answer_veloeras_paged_shape_with_the_filters_total() {
    let gw = Gateway::start().await;
    for name in ["carol", "dave", "erin"] {
        gw.create_user(name, "a-long-password").await;
    }
    let users = root(&gw, "GET", "/api/user/?p=1&page_size=2", None).await;
    assert_eq!((users["items"].as_array().unwrap().len(), &users["total"], &users["page"]), (2, &json!(4), &json!(1)));
    let rest = root(&gw, "GET", "/api/user/?p=2&page_size=2", None).await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 2, "{rest}");
    let found = root(&gw, "GET", "/api/user/search?keyword=a&p=1&page_size=1", None).await;
    assert_eq!((found["items"].as_array().unwrap().len(), &found["total"]), (1, &json!(2)), "carol and dave: {found}");

    // Tokens page from 0, with Veloera's `size` or `page_size`.
    for name in ["one", "two", "three"] {
        gw.create_token(json!({"name": name})).await;
    }
    let first = root(&gw, "GET", "/api/token/?p=0&size=2", None).await;
    assert_eq!((first["items"].as_array().unwrap().len(), &first["total"]), (2, &json!(3)));
    assert_eq!(first["items"][0]["name"], "three", "newest first");
    let second = root(&gw, "GET", "/api/token/?p=1&page_size=2", None).await;
    assert_eq!((second["items"].as_array().unwrap().len(), &second["items"][0]["name"]), (1, &json!("one")));
    // Channel pages count from 0 as well.
    let channels = root(&gw, "GET", "/api/channel/?p=0&page_size=10", None).await;
    assert_eq!((&channels["total"], &channels["page"]), (&json!(1), &json!(0)), "{channels}");
}

#[tokio::test]
async fn redemption_codes_are_disabled_in_bulk_with_put_as_veloeras_ui_sends_it() {
    let gw = Gateway::start().await;
    let keys = root(&gw, "POST", "/api/redemption/", Some(json!({"name": "bulk", "quota": 5, "count": 2}))).await;
    assert_eq!(keys.as_array().unwrap().len(), 2);
    let listed = root(&gw, "GET", "/api/redemption/", None).await;
    let ids: Vec<i64> = listed["items"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect();
    assert_eq!(root(&gw, "PUT", "/api/redemption/batch-disable", Some(json!({"ids": ids}))).await, 2);
    let listed = root(&gw, "GET", "/api/redemption/", None).await;
    assert!(listed["items"].as_array().unwrap().iter().all(|c| c["status"] == 2), "{listed}");
}

#[tokio::test]
async fn status_carries_every_field_veloeras_ui_reads_from_the_options() {
    let mut gw = Gateway::start_bare().await;
    let status = ok(&gw, None, "GET", "/api/status", None).await;
    for key in [
        "version",
        "start_time",
        "system_name",
        "logo",
        "footer_html",
        "server_address",
        "top_up_link",
        "docs_link",
        "quota_per_unit",
        "display_in_currency",
        "enable_data_export",
        "data_export_default_time",
        "default_collapse_sidebar",
        "chats",
        "check_in_enabled",
        "self_use_mode_enabled",
        "demo_site_enabled",
        "enable_drawing",
        "enable_task",
        "enable_online_topup",
        "turnstile_check",
        "wechat_login",
        "telegram_oauth",
        "linuxdo_oauth",
        "github_oauth",
        "oidc_enabled",
        "email_verification",
        "setup",
        "price",
        "min_topup",
    ] {
        assert!(status.get(key).is_some(), "{key} is missing from {status}");
    }
    let started = status["start_time"].as_i64().unwrap();
    assert!(started > 1_700_000_000, "{status}");
    assert_eq!((&status["display_in_currency"], &status["enable_data_export"]), (&json!(true), &json!(true)));
    assert_eq!(status["data_export_default_time"], "hour");
    assert!(!status["chats"].as_array().unwrap().is_empty(), "Veloera's default chat links: {status}");
    assert_eq!((&status["enable_drawing"], &status["enable_online_topup"]), (&json!(false), &json!(false)));

    gw.sign_in_root().await;
    for (key, value) in [
        ("Logo", "/brand.svg"),
        ("Footer", "<p>Run by us</p>"),
        ("TopUpLink", "https://shop.example/buy"),
        ("general_setting.docs_link", "https://docs.example"),
        ("DisplayInCurrencyEnabled", "false"),
        ("DataExportEnabled", "false"),
        ("DataExportDefaultTime", "week"),
        ("CheckInEnabled", "true"),
        ("SelfUseModeEnabled", "true"),
        ("ServerAddress", "https://gw.example"),
        ("Chats", r#"[{"NextChat": "https://app.nextchat.dev/#/?key={key}&url={address}"}]"#),
    ] {
        root(&gw, "PUT", "/api/option/", Some(json!({"key": key, "value": value}))).await;
    }
    let status = ok(&gw, None, "GET", "/api/status", None).await;
    assert_eq!(
        (&status["logo"], &status["footer_html"], &status["top_up_link"], &status["docs_link"]),
        (
            &json!("/brand.svg"),
            &json!("<p>Run by us</p>"),
            &json!("https://shop.example/buy"),
            &json!("https://docs.example")
        )
    );
    assert_eq!((&status["display_in_currency"], &status["enable_data_export"]), (&json!(false), &json!(false)));
    assert_eq!((&status["data_export_default_time"], &status["check_in_enabled"]), (&json!("week"), &json!(true)));
    assert_eq!(
        (&status["self_use_mode_enabled"], &status["server_address"]),
        (&json!(true), &json!("https://gw.example"))
    );
    assert_eq!(status["chats"], json!([{"NextChat": "https://app.nextchat.dev/#/?key={key}&url={address}"}]));
    assert_eq!(status["start_time"].as_i64(), Some(started), "the start time is the process's, not the request's");

    let (code, body) =
        gw.api("PUT", "/api/option/", Some(json!({"key": "DataExportDefaultTime", "value": "month"}))).await;
    assert_eq!(code, 400, "{body}");
    let (code, body) =
        gw.api("PUT", "/api/option/", Some(json!({"key": "Logo", "value": "javascript:alert(1)"}))).await;
    assert_eq!(code, 400, "{body}");
}

#[tokio::test]
async fn unset_json_options_list_the_values_in_force_so_the_ui_can_parse_them() {
    let gw = Gateway::start().await;
    let options = root(&gw, "GET", "/api/option/", None).await;
    let value = |key: &str| {
        options.as_array().unwrap().iter().find(|o| o["key"] == key).unwrap_or_else(|| panic!("{key} missing"))["value"]
            .as_str()
            .unwrap()
            .to_string()
    };
    for key in ["ModelRatio", "CompletionRatio", "CacheRatio", "ModelPrice", "GroupRatio", "UserUsableGroups"] {
        let parsed: Value = serde_json::from_str(&value(key)).unwrap_or_else(|e| panic!("{key}: {e}"));
        assert!(parsed.as_object().is_some_and(|m| !m.is_empty()), "{key}: {parsed}");
    }
    let ratios: Value = serde_json::from_str(&value("ModelRatio")).unwrap();
    assert_eq!(ratios["gpt-4o-mini"], 0.075);
    let groups: Value = serde_json::from_str(&value("GroupRatio")).unwrap();
    assert_eq!(groups["default"], 1.0);
    assert_eq!(value("QuotaPerUnit"), "500000");
    assert_eq!(value("DisplayInCurrencyEnabled"), "true");
    assert_eq!(value("DataExportDefaultTime"), "hour");

    // Saving what was shown stores it and changes nothing; a stored value is listed as stored.
    root(&gw, "PUT", "/api/option/", Some(json!({"key": "GroupRatio", "value": value("GroupRatio")}))).await;
    root(&gw, "PUT", "/api/option/", Some(json!({"key": "ModelRatio", "value": r#"{"gpt-4o-mini": 0.1}"#}))).await;
    let options = root(&gw, "GET", "/api/option/", None).await;
    let stored = options.as_array().unwrap().iter().find(|o| o["key"] == "ModelRatio").unwrap()["value"].clone();
    assert_eq!(stored, r#"{"gpt-4o-mini": 0.1}"#);
    // The completion ratios in force follow the models that are priced now.
    let completion = options.as_array().unwrap().iter().find(|o| o["key"] == "CompletionRatio").unwrap()["value"]
        .as_str()
        .map(|v| serde_json::from_str::<Value>(v).unwrap())
        .unwrap();
    assert_eq!(completion["gpt-4o-mini"], 4.0, "{completion}");
}

#[tokio::test]
async fn global_css_and_js_are_served_with_their_types_and_empty_until_set() {
    let gw = Gateway::start().await;
    let fetch = |path: &'static str| {
        let gw = &gw;
        async move {
            let resp = gw.http.get(gw.url(path)).send().await.unwrap();
            let kind = resp.headers()["content-type"].to_str().unwrap().to_string();
            (resp.status().as_u16(), kind, resp.text().await.unwrap())
        }
    };
    let (status, kind, body) = fetch("/custom/global.css").await;
    assert_eq!((status, kind.as_str(), body.as_str()), (200, "text/css; charset=utf-8", ""));
    let (status, kind, body) = fetch("/custom/global.js").await;
    assert_eq!((status, kind.as_str(), body.as_str()), (200, "application/javascript; charset=utf-8", ""));

    root(&gw, "PUT", "/api/option/", Some(json!({"key": "global_css", "value": "body { color: teal; }"}))).await;
    root(&gw, "PUT", "/api/option/", Some(json!({"key": "global_js", "value": "console.log('hi');"}))).await;
    assert_eq!(fetch("/custom/global.css").await.2, "body { color: teal; }");
    assert_eq!(fetch("/custom/global.js").await.2, "console.log('hi');");
}
