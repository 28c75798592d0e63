//! Token checks on the relay: every denial has the right status and OpenAI error shape, and none reaches the upstream.

use serde_json::{Value, json};

use crate::harness::{Gateway, chat_body};

async fn error_of(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    assert!(body["error"]["message"].is_string(), "not an OpenAI error: {body}");
    (status, body)
}

#[tokio::test]
async fn missing_and_unknown_keys_are_401() {
    let gw = Gateway::start().await;
    let resp = gw.http.post(gw.url("/v1/chat/completions")).json(&chat_body("gpt-4o-mini")).send().await.unwrap();
    assert_eq!(error_of(resp).await.0, 401);
    let fake = format!("sk-{}", "x".repeat(48));
    for _ in 0..3 {
        let (status, body) = error_of(gw.chat("/v1", &fake, chat_body("gpt-4o-mini")).await).await;
        assert_eq!(status, 401);
        assert_eq!(body["error"]["code"], "invalid_api_key");
    }
    assert!(gw.mock.received().is_empty());
}

#[tokio::test]
async fn a_disabled_token_is_403_and_works_again_when_enabled() {
    let gw = Gateway::start().await;
    gw.wait_relay_caught_up().await;
    let (id, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    assert_eq!(gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await.status(), 200);
    let (status, _) = gw.api("PUT", "/api/token/?status_only=1", Some(json!({"id": id, "status": 2}))).await;
    assert_eq!(status, 200);
    // The relay had this token cached; the invalidation reaches it and its cached answer goes.
    gw.wait_relay_caught_up().await;
    let (status, body) = error_of(gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "token_disabled");
    gw.api("PUT", "/api/token/?status_only=1", Some(json!({"id": id, "status": 1}))).await;
    gw.wait_relay_caught_up().await;
    assert_eq!(gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await.status(), 200, "re-enabled token still refused");
}

#[tokio::test]
async fn an_expired_token_is_403() {
    let gw = Gateway::start().await;
    let (id, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    gw.sql(&format!("UPDATE tokens SET expired_time = 1000 WHERE id = {id}")).await;
    let (status, body) = error_of(gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "token_expired");
}

#[tokio::test]
async fn a_model_outside_the_allowlist_is_403() {
    let gw = Gateway::start().await;
    let (_, key) = gw
        .create_token(
            json!({"name": "t", "unlimited_quota": true, "model_limits_enabled": true, "model_limits": "gpt-4o"}),
        )
        .await;
    let (status, body) = error_of(gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "model_not_allowed");
    assert_eq!(gw.chat("/v1", &key, chat_body("gpt-4o")).await.status(), 200);
}

#[tokio::test]
async fn a_model_no_channel_serves_is_503() {
    let gw = Gateway::start().await;
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    let (status, body) = error_of(gw.chat("/v1", &key, chat_body("gpt-4")).await).await;
    assert_eq!(status, 503);
    assert_eq!(body["error"]["code"], "model_not_found");
}

#[tokio::test]
async fn an_exhausted_token_is_429() {
    let gw = Gateway::start().await;
    let (id, key) = gw.create_token(json!({"name": "t", "remain_quota": 4})).await;
    // Reserved at 2 (28 prompt tokens estimated from the body, 1 output token) and charged 2 (the mock's usage):
    // two requests spend the token exactly; the third finds nothing left.
    let tiny = || json!({"model": "gpt-4o-mini", "max_tokens": 1, "messages": [{"role": "user", "content": "x"}]});
    assert_eq!(gw.chat("/v1", &key, tiny()).await.status(), 200);
    assert_eq!(gw.chat("/v1", &key, tiny()).await.status(), 200);
    let (status, body) = error_of(gw.chat("/v1", &key, tiny()).await).await;
    assert_eq!(status, 429);
    assert_eq!(body["error"]["code"], "insufficient_quota");
    gw.wait_for_logs(2).await;
    assert_eq!(gw.token(id).await["remain_quota"], 0);
    assert_eq!(gw.mock.received().len(), 2);
}

#[tokio::test]
async fn an_ip_outside_the_allowlist_is_403() {
    let gw = Gateway::start().await;
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true, "allow_ips": "10.0.0.0/8"})).await;
    let (status, body) = error_of(gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "ip_not_allowed");
    let (_, key) = gw.create_token(json!({"name": "u", "unlimited_quota": true, "allow_ips": "127.0.0.1"})).await;
    assert_eq!(gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await.status(), 200);
}
