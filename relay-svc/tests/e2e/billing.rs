//! Accounts and billing through the real services: usable groups and the token groups they allow, the
//! subscription quota spent before the quota (also through leases), prompt-cache writes charged at their own
//! ratio, and the token's own rate-limit fields.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use veloera_proto::INTERNAL_SECRET_HEADER;
use veloera_proto::v1::control_client::ControlClient;
use veloera_proto::v1::{AuthorizeRequest, authorize_response::Outcome};

use crate::harness::Gateway;
use crate::mock_upstream::Reply;

/// The id of a user, looked up by root.
async fn user_id(gw: &Gateway, username: &str) -> i64 {
    let (status, body) = gw.api("GET", &format!("/api/user/search?keyword={username}"), None).await;
    assert_eq!(status, 200, "{body}");
    body["data"]["items"].as_array().unwrap().iter().find(|u| u["username"] == username).unwrap()["id"]
        .as_i64()
        .unwrap()
}

const GROUPS: &[(&str, &str)] = &[
    ("GroupRatio", r#"{"default": 1, "vip": 2, "svip": 3}"#),
    ("UserUsableGroups", r#"{"default": "Default", "vip": "VIP", "retired": "Gone"}"#),
];

#[tokio::test]
async fn users_see_their_usable_groups_and_administrators_every_group() {
    let gw = Gateway::start().await;
    gw.set_options(GROUPS).await;
    let alice = gw.create_user("alice", "alice-password").await;
    let (status, body) = gw.api_as(Some(&alice), "GET", "/api/user/groups", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"],
        json!({"default": {"ratio": 1.0, "desc": "Default"}, "vip": {"ratio": 2.0, "desc": "VIP"}}),
        "a group without a ratio is retired and not offered"
    );
    assert_eq!(gw.api_as(Some(&alice), "GET", "/api/user/self/groups", None).await.1["data"], body["data"]);
    // The user's own group is always offered.
    gw.sql("UPDATE users SET group_name = 'svip' WHERE username = 'alice'").await;
    let (_, body) = gw.api_as(Some(&alice), "GET", "/api/user/groups", None).await;
    assert_eq!(body["data"]["svip"]["ratio"], 3.0, "{body}");

    assert_eq!(gw.api_as(None, "GET", "/api/user/groups", None).await.0, 401);
    assert_eq!(gw.api_as(Some(&alice), "GET", "/api/group/", None).await.0, 403);
    let (status, body) = gw.api("GET", "/api/group/", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!(["default", "svip", "vip"]));
}

#[tokio::test]
async fn a_token_group_the_user_may_not_use_is_refused_and_nothing_is_written() {
    let gw = Gateway::start().await;
    gw.set_options(GROUPS).await;
    let alice = gw.create_user("alice", "alice-password").await;
    let create = |group: &str| json!({"name": "t", "unlimited_quota": true, "group": group});

    let (status, body) = gw.api_as(Some(&alice), "POST", "/api/token/", Some(create("svip"))).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("not available"), "{body}");
    let (status, body) = gw.api_as(Some(&alice), "POST", "/api/token/", Some(create("retired"))).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("retired"), "{body}");
    assert_eq!(
        gw.api_as(Some(&alice), "GET", "/api/token/", None).await.1["data"]["items"],
        json!([]),
        "no token was made"
    );

    let (status, body) = gw.api_as(Some(&alice), "POST", "/api/token/", Some(create("vip"))).await;
    assert_eq!(status, 200, "{body}");
    let id = body["data"]["id"].as_i64().unwrap();
    assert_eq!(body["data"]["group"], "vip");
    let (status, body) = gw
        .api_as(Some(&alice), "PUT", "/api/token/", Some(json!({"id": id, "name": "renamed", "group": "svip"})))
        .await;
    assert_eq!(status, 400, "{body}");
    let (_, body) = gw.api_as(Some(&alice), "GET", &format!("/api/token/{id}"), None).await;
    assert_eq!((&body["data"]["group"], &body["data"]["name"]), (&json!("vip"), &json!("t")), "unchanged: {body}");

    // Once svip is alice's own group she may use it.
    gw.sql("UPDATE users SET group_name = 'svip' WHERE username = 'alice'").await;
    let (status, body) = gw.api_as(Some(&alice), "PUT", "/api/token/", Some(json!({"id": id, "group": "svip"}))).await;
    assert_eq!((status, &body["data"]["group"]), (200, &json!("svip")), "{body}");
}

async fn authorize(gw: &Gateway, key: &str) -> veloera_proto::v1::Caller {
    let mut client = ControlClient::connect(format!("http://{}", gw.control.grpc_addr)).await.unwrap();
    let digest = Sha256::digest(key.trim_start_matches("sk-").as_bytes()).to_vec();
    let mut req = tonic::Request::new(AuthorizeRequest { key_digest: digest, ..Default::default() });
    req.metadata_mut().insert(INTERNAL_SECRET_HEADER, gw.control.secret.parse().unwrap());
    match client.authorize(req).await.unwrap().into_inner().outcome {
        Some(Outcome::Grant(grant)) => grant.caller.unwrap(),
        other => panic!("not granted: {other:?}"),
    }
}

#[tokio::test]
async fn token_rate_limit_fields_round_trip_and_bad_values_are_refused() {
    let gw = Gateway::start().await;
    let (id, key) = gw.create_token(json!({"name": "plain", "unlimited_quota": true})).await;
    let token = gw.token(id).await;
    let fields = |t: &Value| {
        (
            t["rate_limit_enabled"].clone(),
            t["rate_limit_period"].clone(),
            t["rate_limit_count"].clone(),
            t["rate_limit_success"].clone(),
        )
    };
    assert_eq!(fields(&token), (json!(false), json!(60), json!(1000), json!(10)), "Veloera's defaults");
    let caller = authorize(&gw, &key).await;
    assert_eq!((caller.rate_limit_period, caller.rate_limit_count, caller.rate_limit_success), (0, 0, 0), "disabled");

    let (limited_id, limited_key) = gw
        .create_token(json!({"name": "limited", "unlimited_quota": true, "rate_limit_enabled": true,
            "rate_limit_period": 30, "rate_limit_count": 5, "rate_limit_success": 2}))
        .await;
    assert_eq!(fields(&gw.token(limited_id).await), (json!(true), json!(30), json!(5), json!(2)));
    let caller = authorize(&gw, &limited_key).await;
    assert_eq!((caller.rate_limit_period, caller.rate_limit_count, caller.rate_limit_success), (30, 5, 2));

    for bad in [
        json!({"rate_limit_period": 0}),
        json!({"rate_limit_period": 86_401}),
        json!({"rate_limit_count": -1}),
        json!({"rate_limit_success": -3}),
    ] {
        let mut update = bad.clone();
        update["id"] = json!(limited_id);
        update["name"] = json!("renamed");
        let (status, body) = gw.api("PUT", "/api/token/", Some(update)).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body["message"].as_str().unwrap().contains("rate_limit"), "{body}");
        let mut create = bad.clone();
        create["name"] = json!("bad");
        assert_eq!(gw.api("POST", "/api/token/", Some(create)).await.0, 400, "{bad}");
    }
    let token = gw.token(limited_id).await;
    assert_eq!((fields(&token), &token["name"]), ((json!(true), json!(30), json!(5), json!(2)), &json!("limited")));
    let (_, list) = gw.api("GET", "/api/token/", None).await;
    assert_eq!(list["data"]["items"].as_array().unwrap().len(), 2, "no refused token was created: {list}");

    // 0 means "no limit of that kind"; the full day is the longest period.
    let update = json!({"id": limited_id, "rate_limit_count": 0, "rate_limit_period": 86_400});
    let (status, body) = gw.api("PUT", "/api/token/", Some(update)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(fields(&body["data"]), (json!(true), json!(86_400), json!(0), json!(2)));
}

fn capped() -> Value {
    json!({"model": "gpt-4o-mini", "max_tokens": 5, "messages": [{"role": "user", "content": "Say hello"}]})
}

/// `(subscription_quota, quota)` as stored, and the number of open leases.
async fn stored_balances(gw: &Gateway, user: i64) -> (i64, i64, i64) {
    let db = gw.control.state.db();
    let (subscription, quota): (i64, i64) =
        sqlx::query_as(&db.sql("SELECT subscription_quota, quota FROM users WHERE id = ?"))
            .bind(user)
            .fetch_one(db.pool())
            .await
            .unwrap();
    let (open,): (i64,) = sqlx::query_as(&db.sql("SELECT COUNT(*) FROM quota_leases WHERE user_id = ? AND closed = 0"))
        .bind(user)
        .fetch_one(db.pool())
        .await
        .unwrap();
    (subscription, quota, open)
}

#[tokio::test]
async fn subscription_quota_is_spent_first_and_unused_leases_give_it_back() {
    let mut gw = Gateway::start().await;
    let alice = gw.create_user("alice", "alice-password").await;
    let id = user_id(&gw, "alice").await;

    let (status, body) = gw.api("PUT", "/api/user/", Some(json!({"id": id, "subscription_quota": -5}))).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = gw.api("PUT", "/api/user/", Some(json!({"id": id, "subscription_quota": 100}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["data"]["subscription_quota"].as_i64(), body["data"]["quota"].as_i64()),
        (Some(100), Some(1_000_000))
    );
    let (_, me) = gw.api_as(Some(&alice), "GET", "/api/user/self", None).await;
    assert_eq!(me["data"]["subscription_quota"], 100, "{me}");

    // Nothing but the subscription left: still admitted, and paid from it.
    gw.sql(&format!("UPDATE users SET quota = 0 WHERE id = {id}")).await;
    let (status, body) =
        gw.api_as(Some(&alice), "POST", "/api/token/", Some(json!({"name": "t", "unlimited_quota": true}))).await;
    assert_eq!(status, 200, "{body}");
    let key = body["data"]["key"].as_str().unwrap().to_string();
    assert_eq!(gw.chat("/v1", &key, capped()).await.status(), 200);
    // A failed upstream call costs nothing: its reservation goes back.
    gw.mock.script(Reply::Json(500, json!({"error": {"message": "boom"}})));
    assert_eq!(gw.chat("/v1", &key, capped()).await.status(), 502);
    gw.wait_for_logs(1).await;
    // gpt-4o-mini with the mock's usage costs 2 (see quota.rs); quota held in the relay's lease is shown where it
    // would go back to. Read again each time control settles, until both requests are accounted for.
    let balances = |u: &Value| (u["data"]["subscription_quota"].as_i64(), u["data"]["quota"].as_i64());
    let shown = gw.wait_for_state(&format!("/api/user/{id}"), |u| balances(u) == (Some(98), Some(0))).await;
    assert_eq!(balances(&shown), (Some(98), Some(0)), "{shown}");
    assert_eq!(shown["data"]["used_quota"], 2);

    // The relay shuts down and returns its lease: the unused part lands back in the subscription.
    gw.relay.stop().await;
    assert_eq!(stored_balances(&gw, id).await, (98, 0, 0));
}

#[tokio::test]
async fn a_subscription_alone_admits_requests_while_it_covers_their_reservation() {
    let gw = Gateway::start().await;
    let alice = gw.create_user("alice", "alice-password").await;
    let id = user_id(&gw, "alice").await;
    // Exactly one request's reservation (4; it costs 2), and no quota.
    gw.sql(&format!("UPDATE users SET quota = 0, subscription_quota = 4 WHERE id = {id}")).await;
    let (_, body) =
        gw.api_as(Some(&alice), "POST", "/api/token/", Some(json!({"name": "t", "unlimited_quota": true}))).await;
    let key = body["data"]["key"].as_str().unwrap().to_string();
    assert_eq!(gw.chat("/v1", &key, capped()).await.status(), 200, "the subscription counts as available");
    gw.wait_for_logs(1).await;
    gw.wait_relay_caught_up().await;
    let resp = gw.chat("/v1", &key, capped()).await;
    assert_eq!(resp.status(), 403, "the 2 left do not cover another reservation of 4");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "insufficient_user_quota", "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("user quota: 2, need quota: 4"), "{body}");
    let (_, shown) = gw.api("GET", &format!("/api/user/{id}"), None).await;
    assert_eq!((shown["data"]["subscription_quota"].as_i64(), shown["data"]["quota"].as_i64()), (Some(2), Some(0)));
}

fn anthropic_reply(cache_write: i64) -> Reply {
    Reply::Json(
        200,
        json!({"id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [{"type": "text", "text": "Cached"}], "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": 100, "cache_creation_input_tokens": cache_write,
                "cache_read_input_tokens": 1000, "output_tokens": 10}}),
    )
}

#[tokio::test]
async fn anthropic_cache_writes_are_charged_at_the_cache_creation_ratio() {
    let mut gw = Gateway::start_bare().await;
    gw.sign_in_root().await;
    gw.create_channel(json!({"name": "claude", "type": 14, "key": "upstream-key", "base_url": gw.mock.base_url(), "models": "claude-sonnet-4-5"}))
        .await;
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    let request =
        json!({"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}]});
    let send = || gw.http.post(gw.url("/v1/messages")).header("x-api-key", &key).json(&request).send();

    gw.mock.script(anthropic_reply(200));
    assert_eq!(send().await.unwrap().status(), 200);
    let logs = gw.wait_for_logs(1).await;
    // (100 + 1000×0.1 read + 200×1.25 written + 10×5) × 1.5 = 500 × 1.5 = 750
    assert_eq!(logs[0]["quota"], 750, "{}", logs[0]);
    assert_eq!(logs[0]["prompt_tokens"], 1300);
    let other: Value = serde_json::from_str(logs[0]["other"].as_str().unwrap()).unwrap();
    assert_eq!(
        (&other["cache_creation_ratio"], &other["cache_creation_tokens"]),
        (&json!(1.25), &json!(200)),
        "{other}"
    );
    assert_eq!((&other["cache_ratio"], &other["cache_tokens"]), (&json!(0.1), &json!(1000)), "{other}");

    // The operator's CreateCacheRatio wins: (100 + 100 + 200×2 + 50) × 1.5 = 975.
    gw.set_options(&[("CreateCacheRatio", r#"{"claude-sonnet-4-5": 2}"#)]).await;
    gw.mock.script(anthropic_reply(200));
    assert_eq!(send().await.unwrap().status(), 200);
    let logs = gw.wait_for_logs(2).await;
    assert_eq!(logs[0]["quota"], 975, "{}", logs[0]);
}

#[tokio::test]
async fn fallback_pricing_prices_models_that_have_none() {
    let gw = Gateway::start().await;
    gw.create_channel(json!({"name": "odd", "type": 1, "key": "sk-upstream-2", "base_url": gw.mock.base_url(), "models": "mystery-model"}))
        .await;
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    let body = json!({"model": "mystery-model", "messages": [{"role": "user", "content": "Say hello"}]});
    let resp = gw.chat("/v1", &key, body.clone()).await;
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.json::<Value>().await.unwrap()["error"]["code"], "model_price_error");

    gw.set_options(&[
        ("fallback_pricing_enabled", "true"),
        ("fallback_input_ratio", "2"),
        ("fallback_completion_ratio", "3"),
    ])
    .await;
    // The relay drops its cached refusal when control announces the option change.
    gw.wait_relay_caught_up().await;
    assert_eq!(gw.chat("/v1", &key, body.clone()).await.status(), 200, "the fallback price admits the model");
    let logs = gw.wait_for_logs(1).await;
    // The mock's usage (12 prompt, 5 completion): (12 + 5×3) × 2 = 54.
    assert_eq!(logs[0]["quota"], 54, "{}", logs[0]);
    assert_eq!(logs[0]["model_name"], "mystery-model");
}

#[tokio::test]
async fn billing_options_are_checked_when_saved() {
    let gw = Gateway::start().await;
    let put =
        |key: &'static str, value: Value| gw.api("PUT", "/api/option/", Some(json!({"key": key, "value": value})));
    assert_eq!(put("CreateCacheRatio", json!({"claude-sonnet-4-5": 2})).await.0, 200);
    assert_eq!(put("CreateCacheRatio", json!({"claude-sonnet-4-5": -1})).await.0, 400);
    assert_eq!(put("UserUsableGroups", json!({"default": "Default", "vip": "VIP"})).await.0, 200);

    // Enabling fallback pricing needs one of its two modes, and never both.
    let (status, body) = put("fallback_pricing_enabled", json!(true)).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("fallback"), "{body}");
    assert_eq!(put("fallback_single_price", json!("0.01")).await.0, 200);
    assert_eq!(put("fallback_pricing_enabled", json!(true)).await.0, 200);
    let (status, body) = put("fallback_input_ratio", json!("2")).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("not both"), "{body}");
    assert_eq!(put("fallback_single_price", json!("-1")).await.0, 400);

    let (_, all) = gw.api("GET", "/api/option/", None).await;
    let value =
        |key: &str| all["data"].as_array().unwrap().iter().find(|o| o["key"] == key).map(|o| o["value"].clone());
    assert_eq!(value("fallback_single_price"), Some(json!("0.01")));
    assert_eq!(value("fallback_pricing_enabled"), Some(json!("true")));
    assert_ne!(value("fallback_input_ratio"), Some(json!("2")), "a refused value is not stored");
}
