//! Rate limits per token, user and model: 429 with `Retry-After` in the caller's format, nothing billed for a
//! refusal, one shared limit across relays through Redis, and the fail-open / fail-closed choice when Redis is
//! down. Redis tests use a key prefix of their own, so parallel tests never share counters.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Gateway, RelayHandle, chat_body, relay_config, start_relay};
use crate::mock_upstream::{Gate, Reply, Step};

const REDIS_URL: &str = "redis://127.0.0.1:6379";

/// A token of root's with its own rate limit (as Veloera v0.5 stores it on the token row).
async fn limited_token(gw: &Gateway, count: i64, success: i64) -> (i64, String) {
    let (id, key) = gw.create_token(json!({"name": "limited", "unlimited_quota": true})).await;
    gw.sql(&format!(
        "UPDATE tokens SET rate_limit_enabled = 1, rate_limit_period = 60, rate_limit_count = {count}, \
         rate_limit_success = {success} WHERE id = {id}"
    ))
    .await;
    (id, key)
}

async fn chat_at(gw: &Gateway, relay: SocketAddr, key: &str, body: Value) -> reqwest::Response {
    gw.http.post(format!("http://{relay}/v1/chat/completions")).bearer_auth(key).json(&body).send().await.unwrap()
}

async fn anthropic(gw: &Gateway, key: &str) -> reqwest::Response {
    gw.http
        .post(gw.url("/v1/messages"))
        .header("x-api-key", key)
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "gpt-4o-mini", "max_tokens": 50, "messages": [{"role": "user", "content": "Hi"}]}))
        .send()
        .await
        .unwrap()
}

fn retry_after(resp: &reqwest::Response) -> u64 {
    resp.headers()
        .get("retry-after")
        .expect("a refusal says when to retry")
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in seconds")
}

/// Sets options and waits (bounded) until `relays` apply rate-limit settings from them.
async fn set_limits(gw: &Gateway, relays: &[&RelayHandle], options: &[(&str, &str)]) {
    gw.set_options(options).await;
    for relay in relays {
        relay.wait_caught_up(&gw.control).await;
        assert!(relay.limiter.is_active(), "the relay applied the rate-limit settings");
    }
}

/// A relay of `gw`'s control counting in Redis under a prefix of its own test.
async fn redis_relay(gw: &Gateway, url: &str, prefix: &str, fail_open: bool) -> RelayHandle {
    let mut config = relay_config(&gw.control);
    config.redis_url = Some(url.to_string());
    config.rate_limit_key_prefix = prefix.to_string();
    config.rate_limit_fail_open = fail_open;
    start_relay(config).await
}

fn unique_prefix() -> String {
    format!("veloera-test:{:016x}:", rand::random::<u64>())
}

/// A Redis URL where nothing listens.
async fn redis_down() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("redis://127.0.0.1:{port}")
}

/// A streamed answer that stays open after its first chunk until `hold` is opened, so its request stays in
/// flight for as long as the test needs.
fn held_stream(hold: &Gate) -> Reply {
    let chunk = |text: &str| {
        json!({"id": "c", "object": "chat.completion.chunk", "model": "gpt-4o-mini",
            "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]})
    };
    Reply::Steps(vec![
        Step::Chunk(chunk("Hello")),
        Step::Until(hold.clone()),
        Step::Chunk(chunk(" world")),
        Step::Frame("data: [DONE]\n\n".into()),
    ])
}

fn stream_body() -> Value {
    json!({"model": "gpt-4o-mini", "stream": true, "messages": [{"role": "user", "content": "Say hello"}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_limit_refuses_the_request_after_the_count_with_retry_after() {
    tokio::time::timeout(Duration::from_secs(30), async {
        let gw = Gateway::start().await;
        let (_, key) = limited_token(&gw, 3, 0).await;
        for i in 0..3 {
            assert_eq!(gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await.status(), 200, "request {i}");
        }
        let refused = gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await;
        assert_eq!(refused.status(), 429);
        assert!((1..=60).contains(&retry_after(&refused)));
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["error"]["type"], "rate_limit_error", "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("Key-level rate limit"), "{body}");

        let refused = anthropic(&gw, &key).await;
        assert_eq!(refused.status(), 429);
        assert!((1..=60).contains(&retry_after(&refused)));
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["type"], "error", "{body}");
        assert_eq!(body["error"]["type"], "rate_limit_error", "{body}");

        let refused = gw
            .http
            .post(gw.url(&format!("/v1beta/models/gpt-4o-mini:generateContent?key={key}")))
            .json(&json!({"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 429);
        assert!((1..=60).contains(&retry_after(&refused)));
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["error"]["code"], 429, "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("Key-level rate limit"), "{body}");

        // Refusals reach no upstream and are billed nothing: only the three answered requests are logged.
        assert_eq!(gw.mock.chat_requests(), 3);
        gw.wait_for_logs(3).await;
        gw.wait_all_settled().await;
        let (_, logs) = gw.api("GET", "/api/log/?p=1&page_size=100", None).await;
        assert_eq!(logs["data"]["items"].as_array().unwrap().len(), 3, "{logs}");
        // Another token of the same user is not limited.
        let (_, other) = gw.create_token(json!({"name": "free", "unlimited_quota": true})).await;
        assert_eq!(gw.chat("/v1", &other, chat_body("gpt-4o-mini")).await.status(), 200);
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn a_token_success_limit_counts_only_successful_requests() {
    tokio::time::timeout(Duration::from_secs(30), async {
        let gw = Gateway::start().await;
        let (_, key) = limited_token(&gw, 0, 2).await;
        gw.mock.script(Reply::Json(400, json!({"error": {"message": "bad request", "type": "invalid_request_error"}})));
        assert_eq!(gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await.status(), 400);
        for i in 0..2 {
            assert_eq!(gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await.status(), 200, "request {i}");
        }
        let refused = gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await;
        assert_eq!(refused.status(), 429);
        let body: Value = refused.json().await.unwrap();
        assert!(body["error"]["message"].as_str().unwrap().contains("successful"), "{body}");
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn tokens_of_the_exempt_group_skip_their_own_limit() {
    tokio::time::timeout(Duration::from_secs(30), async {
        let gw = Gateway::start().await;
        gw.wait_relay_caught_up().await;
        gw.create_channel(json!({"name": "bulk", "type": 1, "key": "sk-upstream-2", "base_url": gw.mock.base_url(),
            "models": "gpt-4o-mini", "group": "bulk-ok"}))
            .await;
        // The unused model limit only lets the test see when the relay has the new settings.
        set_limits(
            &gw,
            &[&gw.relay],
            &[("global.rate_limit_exempt_enabled", "true"), ("ModelRateLimits", r#"{"unused-model": {"rpm": 1}}"#)],
        )
        .await;
        let (bulk_id, bulk) = limited_token(&gw, 1, 0).await;
        gw.sql(&format!("UPDATE tokens SET group_name = 'bulk-ok' WHERE id = {bulk_id}")).await;
        let (_, plain) = limited_token(&gw, 1, 0).await;
        for i in 0..3 {
            assert_eq!(gw.chat("/v1", &bulk, chat_body("gpt-4o-mini")).await.status(), 200, "request {i}");
        }
        assert_eq!(gw.chat("/v1", &plain, chat_body("gpt-4o-mini")).await.status(), 200);
        assert_eq!(gw.chat("/v1", &plain, chat_body("gpt-4o-mini")).await.status(), 429);
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn a_user_limit_spans_all_of_the_users_tokens() {
    tokio::time::timeout(Duration::from_secs(30), async {
        let gw = Gateway::start().await;
        gw.wait_relay_caught_up().await;
        set_limits(
            &gw,
            &[&gw.relay],
            &[
                ("ModelRequestRateLimitEnabled", "true"),
                ("ModelRequestRateLimitCount", "3"),
                ("ModelRequestRateLimitSuccessCount", "0"),
                ("ModelRequestRateLimitDurationMinutes", "1"),
            ],
        )
        .await;
        let (_, a) = gw.create_token(json!({"name": "a", "unlimited_quota": true})).await;
        let (_, b) = gw.create_token(json!({"name": "b", "unlimited_quota": true})).await;
        for key in [&a, &b, &a] {
            assert_eq!(gw.chat("/v1", key, chat_body("gpt-4o-mini")).await.status(), 200);
        }
        let refused = gw.chat("/v1", &b, chat_body("gpt-4o")).await;
        assert_eq!(refused.status(), 429);
        assert!((1..=60).contains(&retry_after(&refused)));
        let body: Value = refused.json().await.unwrap();
        assert!(body["error"]["message"].as_str().unwrap().contains("user rate limit"), "{body}");
        // Another user has a budget of their own.
        let alice = gw.create_user("alice", "alice-password").await;
        let token = json!({"name": "alice", "unlimited_quota": true});
        let (status, body) = gw.api_as(Some(&alice), "POST", "/api/token/", Some(token)).await;
        assert_eq!(status, 200, "{body}");
        let alice_key = body["data"]["key"].as_str().unwrap();
        assert_eq!(gw.chat("/v1", alice_key, chat_body("gpt-4o-mini")).await.status(), 200);
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn a_model_rpm_limit_covers_every_caller_of_that_model_only() {
    tokio::time::timeout(Duration::from_secs(30), async {
        let gw = Gateway::start().await;
        gw.wait_relay_caught_up().await;
        set_limits(&gw, &[&gw.relay], &[("ModelRateLimits", r#"{"gpt-4o": {"rpm": 2}}"#)]).await;
        let (_, a) = gw.create_token(json!({"name": "a", "unlimited_quota": true})).await;
        let (_, b) = gw.create_token(json!({"name": "b", "unlimited_quota": true})).await;
        assert_eq!(gw.chat("/v1", &a, chat_body("gpt-4o")).await.status(), 200);
        assert_eq!(gw.chat("/v1", &b, chat_body("gpt-4o")).await.status(), 200);
        let refused = gw.chat("/v1", &a, chat_body("gpt-4o")).await;
        assert_eq!(refused.status(), 429);
        assert!((1..=60).contains(&retry_after(&refused)));
        let body: Value = refused.json().await.unwrap();
        assert!(body["error"]["message"].as_str().unwrap().contains("requests per minute"), "{body}");
        assert_eq!(gw.chat("/v1", &b, chat_body("gpt-4o-mini")).await.status(), 200, "other models are free");
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn a_model_tpm_limit_counts_the_tokens_requests_used() {
    tokio::time::timeout(Duration::from_secs(30), async {
        let gw = Gateway::start().await;
        gw.wait_relay_caught_up().await;
        // Each mock answer uses 12 + 5 = 17 tokens: two fit under 30 (the second crosses it), the third does not.
        set_limits(&gw, &[&gw.relay], &[("ModelRateLimits", r#"{"gpt-4o-mini": {"tpm": 30}}"#)]).await;
        let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
        assert_eq!(gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await.status(), 200);
        assert_eq!(gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await.status(), 200);
        let refused = gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await;
        assert_eq!(refused.status(), 429);
        let body: Value = refused.json().await.unwrap();
        assert!(body["error"]["message"].as_str().unwrap().contains("tokens per minute"), "{body}");
        assert_eq!(gw.mock.chat_requests(), 2);
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_concurrency_limit_refuses_requests_beyond_its_slots() {
    tokio::time::timeout(Duration::from_secs(30), async {
        let gw = Gateway::start().await;
        gw.wait_relay_caught_up().await;
        set_limits(&gw, &[&gw.relay], &[("ModelRateLimits", r#"{"gpt-4o-mini": {"concurrency": 1}}"#)]).await;
        let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
        let hold = Gate::new();
        gw.mock.script(held_stream(&hold));
        let slow = gw.chat("/v1", &key, stream_body()).await;
        assert_eq!(slow.status(), 200);
        let refused = gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await;
        assert_eq!(refused.status(), 429);
        assert!(retry_after(&refused) >= 1);
        let body: Value = refused.json().await.unwrap();
        assert!(body["error"]["message"].as_str().unwrap().contains("at a time"), "{body}");
        hold.open();
        let text = slow.text().await.unwrap();
        assert!(text.contains("[DONE]"), "{text}");
        // The finished stream gave its slot back.
        assert_eq!(gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await.status(), 200);
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_relays_sharing_redis_enforce_one_token_limit() {
    tokio::time::timeout(Duration::from_secs(30), async {
        let gw = Gateway::start().await;
        let prefix = unique_prefix();
        let one = redis_relay(&gw, REDIS_URL, &prefix, false).await;
        let two = redis_relay(&gw, REDIS_URL, &prefix, false).await;
        let (_, key) = limited_token(&gw, 4, 0).await;
        for relay in [one.addr, two.addr, one.addr, two.addr] {
            assert_eq!(chat_at(&gw, relay, &key, chat_body("gpt-4o-mini")).await.status(), 200);
        }
        for relay in [one.addr, two.addr] {
            let refused = chat_at(&gw, relay, &key, chat_body("gpt-4o-mini")).await;
            assert_eq!(refused.status(), 429, "relay {relay}");
            assert!((1..=60).contains(&retry_after(&refused)));
        }
        // A relay counting on its own would have let these through: the default relay has seen none of them.
        assert_eq!(gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await.status(), 200);
        assert_eq!(gw.mock.chat_requests(), 5);
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_relays_sharing_redis_enforce_one_concurrency_limit() {
    tokio::time::timeout(Duration::from_secs(30), async {
        let gw = Gateway::start().await;
        let prefix = unique_prefix();
        let one = redis_relay(&gw, REDIS_URL, &prefix, false).await;
        let two = redis_relay(&gw, REDIS_URL, &prefix, false).await;
        set_limits(&gw, &[&one, &two], &[("ModelRateLimits", r#"{"gpt-4o-mini": {"concurrency": 1}}"#)]).await;
        let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
        let hold = Gate::new();
        gw.mock.script(held_stream(&hold));
        let slow = chat_at(&gw, one.addr, &key, stream_body()).await;
        assert_eq!(slow.status(), 200);
        assert_eq!(chat_at(&gw, two.addr, &key, chat_body("gpt-4o-mini")).await.status(), 429);
        hold.open();
        slow.text().await.unwrap();
        // The slot is freed in Redis in the background once the stream has ended.
        let mut status = 0;
        for _ in 0..40 {
            status = chat_at(&gw, two.addr, &key, chat_body("gpt-4o-mini")).await.status().as_u16();
            if status == 200 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert_eq!(status, 200, "the finished request's slot was never freed");
    })
    .await
    .expect("test timed out");
}

/// Waits (bounded) until the Redis counter `key` holds `value`, and returns its remaining lifetime in ms.
async fn redis_counter_reaches(key: &str, value: i64) -> i64 {
    let client = redis::Client::open(REDIS_URL).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    for _ in 0..100 {
        let got: Option<i64> = redis::cmd("GET").arg(key).query_async(&mut conn).await.unwrap();
        if got == Some(value) {
            return redis::cmd("PTTL").arg(key).query_async(&mut conn).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("Redis counter {key} never reached {value}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_relays_sharing_redis_count_successes_and_tokens_once() {
    tokio::time::timeout(Duration::from_secs(30), async {
        let gw = Gateway::start().await;
        let prefix = unique_prefix();
        let one = redis_relay(&gw, REDIS_URL, &prefix, false).await;
        let two = redis_relay(&gw, REDIS_URL, &prefix, false).await;
        set_limits(&gw, &[&one, &two], &[("ModelRateLimits", r#"{"gpt-4o": {"tpm": 10}}"#)]).await;
        let (id, key) = limited_token(&gw, 0, 1).await;

        // One success on relay one uses up the token's success limit on relay two as well.
        assert_eq!(chat_at(&gw, one.addr, &key, chat_body("gpt-4o-mini")).await.status(), 200);
        let ttl = redis_counter_reaches(&format!("{prefix}tok:{id}:ok"), 1).await;
        assert!((1..=60_000).contains(&ttl), "the success window lasts the token's period: {ttl} ms");
        let refused = chat_at(&gw, two.addr, &key, chat_body("gpt-4o-mini")).await;
        assert_eq!(refused.status(), 429);
        let body: Value = refused.json().await.unwrap();
        assert!(body["error"]["message"].as_str().unwrap().contains("successful"), "{body}");

        // The 17 tokens one request used on relay one count against the model's minute on relay two.
        let (_, free) = gw.create_token(json!({"name": "free", "unlimited_quota": true})).await;
        assert_eq!(chat_at(&gw, one.addr, &free, chat_body("gpt-4o")).await.status(), 200);
        redis_counter_reaches(&format!("{prefix}model:gpt-4o:tpm"), 17).await;
        let refused = chat_at(&gw, two.addr, &free, chat_body("gpt-4o")).await;
        assert_eq!(refused.status(), 429);
        let body: Value = refused.json().await.unwrap();
        assert!(body["error"]["message"].as_str().unwrap().contains("tokens per minute"), "{body}");
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn with_redis_down_fail_open_admits_requests() {
    tokio::time::timeout(Duration::from_secs(30), async {
        let gw = Gateway::start().await;
        let relay = redis_relay(&gw, &redis_down().await, &unique_prefix(), true).await;
        let (_, key) = limited_token(&gw, 1, 0).await;
        for i in 0..3 {
            assert_eq!(chat_at(&gw, relay.addr, &key, chat_body("gpt-4o-mini")).await.status(), 200, "request {i}");
        }
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn with_redis_down_fail_closed_refuses_limited_requests_only() {
    tokio::time::timeout(Duration::from_secs(30), async {
        let gw = Gateway::start().await;
        let relay = redis_relay(&gw, &redis_down().await, &unique_prefix(), false).await;
        let (_, key) = limited_token(&gw, 1, 0).await;
        let refused = chat_at(&gw, relay.addr, &key, chat_body("gpt-4o-mini")).await;
        assert_eq!(refused.status(), 503);
        assert!(retry_after(&refused) >= 1);
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["error"]["code"], "rate_limit_unavailable", "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("rate limits"), "{body}");
        assert!(!body.to_string().contains("127.0.0.1"), "the store's address stays in the log: {body}");
        // A caller no limit applies to never needs the store.
        let (_, free) = gw.create_token(json!({"name": "free", "unlimited_quota": true})).await;
        assert_eq!(chat_at(&gw, relay.addr, &free, chat_body("gpt-4o-mini")).await.status(), 200);
        assert_eq!(gw.mock.chat_requests(), 1);
    })
    .await
    .expect("test timed out");
}
