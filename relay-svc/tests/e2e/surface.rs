//! The rest of Veloera's REST surface (content pages, model catalogues and pricing, user settings and self-delete,
//! token search, channel fix, mapping reload): what each answers and who may call it. Then the per-address request
//! limits on `/api`, through the front door and directly at control.

use std::future::Future;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Gateway, chat_body};
use control_svc::config::RateLimit;

/// Every test here finishes within this, or fails.
async fn bounded(test: impl Future<Output = ()>) {
    tokio::time::timeout(Duration::from_secs(60), test).await.expect("the test took longer than 60 s");
}

async fn user_id(gw: &Gateway, cookie: &str) -> i64 {
    gw.api_as(Some(cookie), "GET", "/api/user/self", None).await.1["data"]["id"].as_i64().unwrap()
}

fn names(body: &Value) -> Vec<String> {
    body["data"].as_array().unwrap().iter().map(|m| m.as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn content_pages_are_public_and_written_through_the_options() {
    bounded(async {
        let gw = Gateway::start().await;
        for path in ["/api/notice", "/api/about", "/api/home_page_content"] {
            let (status, body) = gw.api_as(None, "GET", path, None).await;
            assert_eq!((status, &body["success"], &body["data"]), (200, &json!(true), &json!("")), "{path}: {body}");
        }
        for (key, value) in [
            ("Notice", "**maintenance** at 10:00"),
            ("About", "https://example.com/about"),
            ("HomePageContent", "<h1>Hi</h1>"),
        ] {
            let (status, body) = gw.api("PUT", "/api/option/", Some(json!({"key": key, "value": value}))).await;
            assert_eq!(status, 200, "{body}");
        }
        assert_eq!(gw.api_as(None, "GET", "/api/notice", None).await.1["data"], "**maintenance** at 10:00");
        assert_eq!(gw.api_as(None, "GET", "/api/about", None).await.1["data"], "https://example.com/about");
        assert_eq!(gw.api_as(None, "GET", "/api/home_page_content", None).await.1["data"], "<h1>Hi</h1>");
        // Too long for the column: refused, naming the option.
        let (status, body) =
            gw.api("PUT", "/api/option/", Some(json!({"key": "Notice", "value": "x".repeat(15_001)}))).await;
        assert_eq!(status, 400, "{body}");
        assert!(body["message"].as_str().unwrap().contains("Notice"), "{body}");
        // Only root writes them.
        let alice = gw.create_user("alice", "a-long-password").await;
        let (status, _) =
            gw.api_as(Some(&alice), "PUT", "/api/option/", Some(json!({"key": "Notice", "value": "mine"}))).await;
        assert_eq!(status, 403);
    })
    .await;
}

#[tokio::test]
async fn the_database_check_is_for_administrators() {
    bounded(async {
        let gw = Gateway::start().await;
        let alice = gw.create_user("alice", "a-long-password").await;
        assert_eq!(gw.api_as(None, "GET", "/api/status/test", None).await.0, 401);
        assert_eq!(gw.api_as(Some(&alice), "GET", "/api/status/test", None).await.0, 403);
        let (status, body) = gw.api("GET", "/api/status/test", None).await;
        assert_eq!((status, &body["success"]), (200, &json!(true)), "{body}");
        assert!(body["message"].as_str().unwrap().contains("database"), "{body}");
    })
    .await;
}

#[tokio::test]
async fn models_per_channel_type_come_from_the_vendor_catalogue() {
    bounded(async {
        let gw = Gateway::start().await;
        let alice = gw.create_user("alice", "a-long-password").await;
        assert_eq!(gw.api_as(None, "GET", "/api/models", None).await.0, 401);
        let (status, body) = gw.api_as(Some(&alice), "GET", "/api/models", None).await;
        assert_eq!(status, 200, "{body}");
        let of = |t: &str| body["data"][t].as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect::<Vec<_>>();
        assert!(of("1").contains(&"gpt-4o") && of("1").contains(&"dall-e-3"), "{body}");
        assert!(of("14").iter().all(|m| m.starts_with("claude-")) && !of("14").is_empty(), "{body}");
        assert!(of("41").iter().any(|m| m.starts_with("gemini-")) && of("41").iter().any(|m| m.starts_with("claude-")));
        assert!(of("20").is_empty(), "OpenRouter serves anything and has no catalogue: {body}");
    })
    .await;
}

#[tokio::test]
async fn user_models_are_those_of_the_callers_group_with_prefixed_and_virtual_names() {
    bounded(async {
        let gw = Gateway::start().await;
        let base = gw.mock.base_url();
        gw.create_channel(json!({"name": "prefixed", "type": 1, "key": "sk-upstream-2", "base_url": base, "models": "gpt-4.1", "model_prefix": "p/"}))
            .await;
        gw.create_channel(json!({"name": "vip", "type": 1, "key": "sk-upstream-3", "base_url": base, "models": "vip-only", "group": "vip"}))
            .await;
        let (status, body) =
            gw.api("PUT", "/api/model_mapping/", Some(json!({"smart": [{"model": "gpt-4o", "priorities": 10}]}))).await;
        assert_eq!(status, 200, "{body}");
        let alice = gw.create_user("alice", "a-long-password").await;
        assert_eq!(gw.api_as(None, "GET", "/api/user/models", None).await.0, 401);
        let (status, body) = gw.api_as(Some(&alice), "GET", "/api/user/models", None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(names(&body), ["gpt-4.1", "gpt-4o", "gpt-4o-mini", "p/gpt-4.1", "smart"]);
        // Moved to vip, alice sees that group's models instead.
        let id = user_id(&gw, &alice).await;
        gw.api("PUT", "/api/user/", Some(json!({"id": id, "group": "vip"}))).await;
        let (_, body) = gw.api_as(Some(&alice), "GET", "/api/user/models", None).await;
        assert_eq!(names(&body), ["vip-only"]);
    })
    .await;
}

#[tokio::test]
async fn pricing_lists_served_priced_models_and_the_callers_group_ratios() {
    bounded(async {
        let gw = Gateway::start().await;
        let base = gw.mock.base_url();
        gw.create_channel(json!({"name": "images", "type": 1, "key": "sk-upstream-2", "base_url": base, "models": "dall-e-3,unpriced-model", "model_prefix": "img/", "group": "default,vip"}))
            .await;
        gw.set_options(&[("GroupRatio", r#"{"default": 1, "vip": 2, "svip": 3}"#), ("UserUsableGroups", r#"{"default": "Default"}"#)])
            .await;

        let (status, body) = gw.api_as(None, "GET", "/api/pricing", None).await;
        assert_eq!((status, &body["success"]), (200, &json!(true)), "{body}");
        let row = |body: &Value, name: &str| {
            body["data"].as_array().unwrap().iter().find(|r| r["model_name"] == name).cloned().unwrap_or(Value::Null)
        };
        let mini = row(&body, "gpt-4o-mini");
        assert_eq!((mini["quota_type"].as_i64(), mini["model_ratio"].as_f64()), (Some(0), Some(0.075)), "{body}");
        assert_eq!(mini["completion_ratio"].as_f64(), Some(4.0));
        assert_eq!(mini["enable_groups"], json!(["default"]));
        let image = row(&body, "img/dall-e-3");
        assert_eq!((image["quota_type"].as_i64(), image["model_price"].as_f64()), (Some(1), Some(0.04)), "{body}");
        assert_eq!(image["enable_groups"], json!(["default", "vip"]));
        assert_eq!(row(&body, "unpriced-model"), Value::Null, "unpriced models are refused, so not offered: {body}");
        assert_eq!(body["group_ratio"], json!({"default": 1.0}), "{body}");
        assert_eq!(body["usable_group"], json!({"default": "Default"}));
        let text = body.to_string();
        assert!(!text.contains("sk-upstream") && !text.contains(&base) && !text.contains("\"mock\""), "{text}");

        // A vip user also gets the ratio of their own group.
        let alice = gw.create_user("alice", "a-long-password").await;
        let id = user_id(&gw, &alice).await;
        gw.api("PUT", "/api/user/", Some(json!({"id": id, "group": "vip"}))).await;
        let (_, body) = gw.api_as(Some(&alice), "GET", "/api/pricing", None).await;
        assert_eq!(body["group_ratio"], json!({"default": 1.0, "vip": 2.0}), "{body}");
        // A stale or forged session is treated as anonymous, not refused.
        let (status, body) = gw.api_as(Some("session=forged"), "GET", "/api/pricing", None).await;
        assert_eq!((status, &body["group_ratio"]), (200, &json!({"default": 1.0})));
    })
    .await;
}

#[tokio::test]
async fn user_settings_are_checked_stored_and_the_webhook_secret_never_returned() {
    bounded(async {
        let gw = Gateway::start().await;
        let alice = gw.create_user("alice", "a-long-password").await;
        let id = user_id(&gw, &alice).await;
        let put = |body: Value| gw.api_as(Some(&alice), "PUT", "/api/user/setting", Some(body));
        assert_eq!(gw.api_as(None, "PUT", "/api/user/setting", Some(json!({}))).await.0, 401);
        for (body, word) in [
            (json!({"notify_type": "sms", "quota_warning_threshold": 10}), "notify_type"),
            (json!({"notify_type": "webhook", "quota_warning_threshold": 10}), "webhook_url"),
            (json!({"notify_type": "webhook", "quota_warning_threshold": 10, "webhook_url": "ftp://example.com/x"}), "webhook_url"),
            (json!({"notify_type": "email", "quota_warning_threshold": 0}), "quota_warning_threshold"),
            (json!({"notify_type": "email", "quota_warning_threshold": -1}), "quota_warning_threshold"),
            (json!({"notify_type": "email", "quota_warning_threshold": 5, "notification_email": "not-mail"}), "notification_email"),
            (json!({"show_ip_in_logs": "yes"}), "show_ip_in_logs"),
        ] {
            let (status, resp) = put(body.clone()).await;
            assert_eq!(status, 400, "{body} → {resp}");
            assert!(resp["message"].as_str().unwrap().contains(word), "{body} → {resp}");
        }
        let (status, body) = put(json!({"notify_type": "webhook", "quota_warning_threshold": 5000, "webhook_url": "https://hooks.example.com/q",
            "webhook_secret": "hush-hush", "accept_unset_model_ratio_model": true, "record_ip_log": true}))
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["show_ip_in_logs"], true, "new-api's record_ip_log is accepted: {body}");
        assert!(!body.to_string().contains("hush-hush"), "{body}");
        let stored: Value =
            serde_json::from_str(&control_svc::db::users::setting(gw.control.state.db(), id).await.unwrap()).unwrap();
        assert_eq!((&stored["show_ip_in_logs"], &stored["webhook_secret"]), (&json!(true), &json!("hush-hush")), "{stored}");
        assert_eq!(stored["accept_unset_model_ratio_model"], true);
        // The profile page reads them back from `/api/user/self`, the secret left out.
        let (_, me) = gw.api_as(Some(&alice), "GET", "/api/user/self", None).await;
        assert_eq!(me["data"]["setting"]["webhook_url"], "https://hooks.example.com/q", "{me}");
        assert_eq!(me["data"]["setting"]["quota_warning_threshold"], 5000.0, "{me}");
        assert!(!me.to_string().contains("hush-hush"), "{me}");
        // Leaving the secret out keeps it; an empty one clears it.
        put(json!({"notify_type": "webhook", "quota_warning_threshold": 10, "webhook_url": "https://hooks.example.com/q"})).await;
        let stored = control_svc::db::users::setting(gw.control.state.db(), id).await.unwrap();
        assert!(stored.contains("hush-hush") && !stored.contains("\"show_ip_in_logs\":true"), "{stored}");
        put(json!({"notify_type": "", "webhook_secret": ""})).await;
        let stored = control_svc::db::users::setting(gw.control.state.db(), id).await.unwrap();
        assert!(!stored.contains("webhook_secret"), "{stored}");
    })
    .await;
}

#[tokio::test]
async fn users_delete_their_own_account_and_root_cannot() {
    bounded(async {
        let gw = Gateway::start().await;
        let alice = gw.create_user("alice", "a-long-password").await;
        let (status, body) =
            gw.api_as(Some(&alice), "POST", "/api/token/", Some(json!({"name": "k", "unlimited_quota": true}))).await;
        assert_eq!(status, 200, "{body}");
        let key = body["data"]["key"].as_str().unwrap().to_string();
        assert_eq!(gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await.status(), 200);

        assert_eq!(gw.api_as(None, "DELETE", "/api/user/self", None).await.0, 401);
        let (status, body) = gw.api("DELETE", "/api/user/self", None).await;
        assert_eq!(status, 403, "{body}");
        assert!(body["message"].as_str().unwrap().contains("root"), "{body}");
        assert_eq!(gw.api("GET", "/api/user/self", None).await.0, 200);

        let (status, body) = gw.api_as(Some(&alice), "DELETE", "/api/user/self", None).await;
        assert_eq!((status, &body["success"]), (200, &json!(true)), "{body}");
        assert_eq!(gw.api_as(Some(&alice), "GET", "/api/user/self", None).await.0, 401);
        let (status, _) = gw
            .api_as(None, "POST", "/api/user/login", Some(json!({"username": "alice", "password": "a-long-password"})))
            .await;
        assert_eq!(status, 401);
        gw.wait_relay_caught_up().await;
        let status = gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await.status().as_u16();
        assert!(matches!(status, 401 | 403), "a deleted user's key still works: {status}");
    })
    .await;
}

#[tokio::test]
async fn token_search_matches_name_and_key_among_the_callers_own_tokens() {
    bounded(async {
        let gw = Gateway::start().await;
        let alice = gw.create_user("alice", "a-long-password").await;
        let bob = gw.create_user("bob", "a-long-password").await;
        let create = |cookie: &str, name: &str| {
            let cookie = cookie.to_string();
            let name = name.to_string();
            let gw = &gw;
            async move {
                let (_, body) = gw.api_as(Some(&cookie), "POST", "/api/token/", Some(json!({"name": name}))).await;
                body["data"]["key"].as_str().unwrap().to_string()
            }
        };
        create(&alice, "Alpha-one").await;
        let beta_key = create(&alice, "beta").await;
        create(&bob, "alpha-bob").await;
        let search = |query: String| {
            let (gw, alice) = (&gw, &alice);
            async move { gw.api_as(Some(alice), "GET", &format!("/api/token/search?{query}"), None).await }
        };
        let found = |body: &Value| {
            body["data"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap().to_string()).collect::<Vec<_>>()
        };

        let (status, body) = search("keyword=alpha".into()).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(found(&body), ["Alpha-one"]);
        let middle = &beta_key[10..22];
        let (_, body) = search(format!("token={middle}")).await;
        assert_eq!(found(&body), ["beta"]);
        assert!(!body.to_string().contains(middle), "search answers carry masked keys only: {body}");
        let (_, body) = search(format!("token={beta_key}")).await;
        assert_eq!(found(&body), ["beta"]);
        let (_, body) = search("keyword=alpha&token=zzzzzzzz".into()).await;
        assert_eq!(found(&body), Vec::<String>::new());
        let (_, body) = search(String::new()).await;
        assert_eq!(found(&body).len(), 2);
        let (status, body) = search(format!("keyword={}", "a".repeat(65))).await;
        assert_eq!(status, 400, "{body}");
        assert!(body["message"].as_str().unwrap().contains("keyword"), "{body}");
        assert_eq!(gw.api_as(None, "GET", "/api/token/search?keyword=a", None).await.0, 401);
    })
    .await;
}

#[tokio::test]
async fn a_status_only_update_changes_the_status_and_nothing_else() {
    bounded(async {
        let gw = Gateway::start().await;
        let (id, _) = gw.create_token(json!({"name": "keep-me", "unlimited_quota": true})).await;
        let (status, body) = gw
            .api(
                "PUT",
                "/api/token/?status_only=true",
                Some(json!({"id": id, "status": 2, "name": "renamed", "remain_quota": 5})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let token = gw.token(id).await;
        assert_eq!((token["status"].as_i64(), token["name"].as_str()), (Some(2), Some("keep-me")), "{token}");
        let (status, body) = gw.api("PUT", "/api/token/?status_only=true", Some(json!({"id": id, "status": 7}))).await;
        assert_eq!(status, 400, "{body}");
        assert!(body["message"].as_str().unwrap().contains("status"), "{body}");
    })
    .await;
}

#[tokio::test]
async fn channel_models_and_fix_are_for_administrators() {
    bounded(async {
        let gw = Gateway::start().await;
        let custom = gw
            .create_channel(json!({"name": "custom", "type": 8, "key": "sk-upstream-2", "base_url": gw.mock.base_url(), "models": "my-model"}))
            .await;
        let alice = gw.create_user("alice", "a-long-password").await;
        assert_eq!(gw.api_as(Some(&alice), "GET", "/api/channel/models", None).await.0, 403);
        assert_eq!(gw.api_as(Some(&alice), "POST", "/api/channel/fix", None).await.0, 403);

        let (status, body) = gw.api("GET", "/api/channel/models", None).await;
        assert_eq!(status, 200, "{body}");
        let models = body["data"].as_array().unwrap();
        let owner = |id: &str| models.iter().find(|m| m["id"] == id).map(|m| m["owned_by"].as_str().unwrap().to_string());
        assert_eq!(owner("gpt-4o").as_deref(), Some("OpenAI"));
        assert_eq!(owner("claude-opus-4-1").as_deref(), Some("Anthropic Claude"));
        assert_eq!(owner("my-model").as_deref(), Some("custom"));
        assert!(models.iter().all(|m| m["object"] == "model"));

        let (status, body) = gw.api("POST", "/api/channel/fix", None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"], json!({"success": 2, "fails": 0}));
        // A key that cannot be decrypted keeps the channel enabled but out of routing: reported as a failure.
        gw.sql(&format!("UPDATE channels SET key_ciphertext = 'not-a-ciphertext' WHERE id = {custom}")).await;
        let (_, body) = gw.api("POST", "/api/channel/fix", None).await;
        assert_eq!(body["data"], json!({"success": 1, "fails": 1}), "{body}");
    })
    .await;
}

#[tokio::test]
async fn reloading_the_model_mapping_applies_a_stored_change() {
    bounded(async {
        let gw = Gateway::start().await;
        let alice = gw.create_user("alice", "a-long-password").await;
        control_svc::db::options::set(
            gw.control.state.db(),
            "global_model_mapping",
            r#"{"smart": [{"model": "gpt-4o", "priorities": 1}]}"#,
        )
        .await
        .unwrap();
        let (_, body) = gw.api_as(Some(&alice), "GET", "/api/user/models", None).await;
        assert!(!names(&body).contains(&"smart".to_string()), "{body}");
        assert_eq!(gw.api_as(Some(&alice), "POST", "/api/model_mapping/reload", None).await.0, 403);
        let (status, body) = gw.api("POST", "/api/model_mapping/reload", None).await;
        assert_eq!((status, &body["data"]), (200, &json!(1)), "{body}");
        let (_, body) = gw.api_as(Some(&alice), "GET", "/api/user/models", None).await;
        assert!(names(&body).contains(&"smart".to_string()), "{body}");
    })
    .await;
}

/// Calls control's HTTP listener directly, as if the front door had seen `client_ip`.
async fn direct(gw: &Gateway, client_ip: &str, method: &str, path: &str, body: Option<Value>) -> reqwest::Response {
    let url = format!("http://{}{}", gw.control.http_addr, path);
    let mut req = gw.http.request(method.parse().unwrap(), url).header("x-veloera-client-ip", client_ip);
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap()
}

fn login_body() -> Value {
    json!({"username": "root", "password": "wrong-password"})
}

#[tokio::test]
async fn the_critical_limit_refuses_the_next_login_from_one_address_while_other_routes_work() {
    bounded(async {
        let gw = Gateway::start_bare_with(|c| {
            c.critical_rate_limit = RateLimit { enabled: true, count: 3, period: Duration::from_secs(600) };
        })
        .await;
        for _ in 0..3 {
            assert_eq!(gw.api_as(None, "POST", "/api/user/login", Some(login_body())).await.0, 401);
        }
        let resp = gw.http.post(gw.url("/api/user/login")).json(&login_body()).send().await.unwrap();
        assert_eq!(resp.status(), 429);
        let retry: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=200).contains(&retry), "Retry-After {retry}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["success"], false, "{body}");
        assert!(body["message"].as_str().unwrap().contains("too many requests"), "{body}");
        // Registration shares the critical allowance; ordinary routes do not.
        assert_eq!(
            gw.api_as(None, "POST", "/api/user/register", Some(json!({"username": "x", "password": "12345678"})))
                .await
                .0,
            429
        );
        assert_eq!(gw.api_as(None, "GET", "/api/status", None).await.0, 200);
        // A client cannot pose as another address through the front door…
        let resp = gw
            .http
            .post(gw.url("/api/user/login"))
            .header("x-veloera-client-ip", "203.0.113.9")
            .json(&login_body())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 429);
        // …while a genuinely different address has its own allowance.
        assert_eq!(direct(&gw, "203.0.113.9", "POST", "/api/user/login", Some(login_body())).await.status(), 401);
    })
    .await;
}

#[tokio::test]
async fn the_global_limit_counts_every_api_call_per_address() {
    bounded(async {
        let gw = Gateway::start_bare_with(|c| {
            c.api_rate_limit = RateLimit { enabled: true, count: 5, period: Duration::from_secs(600) };
        })
        .await;
        for path in ["/api/status", "/api/notice", "/api/about", "/api/no-such-route", "/api/status"] {
            assert_ne!(gw.api_as(None, "GET", path, None).await.0, 429, "{path}");
        }
        let resp = gw.http.get(gw.url("/api/status")).send().await.unwrap();
        assert_eq!(resp.status(), 429);
        assert!(resp.headers().contains_key("retry-after"));
        assert_eq!(direct(&gw, "198.51.100.7", "GET", "/api/status", None).await.status(), 200);
        // The relay's own API is not control's to limit.
        assert_ne!(gw.http.get(gw.url("/v1/models")).send().await.unwrap().status(), 429);
    })
    .await;
}

#[tokio::test]
async fn switched_off_limits_let_every_request_through() {
    bounded(async {
        let gw = Gateway::start_bare_with(|c| {
            c.api_rate_limit = RateLimit { enabled: false, count: 1, period: Duration::from_secs(600) };
            c.critical_rate_limit = RateLimit { enabled: false, count: 1, period: Duration::from_secs(600) };
        })
        .await;
        // A different name each time: five failures of one name would meet the per-account lock instead.
        for n in 0..6 {
            let body = json!({"username": format!("nobody{n}"), "password": "wrong-password"});
            assert_eq!(gw.api_as(None, "POST", "/api/user/login", Some(body)).await.0, 401);
        }
        assert_eq!(gw.api_as(None, "GET", "/api/status", None).await.0, 200);
    })
    .await;
}
