//! Routing and resilience through the real relay against scripted upstreams: retries before the first byte
//! only, never for request faults, per-key health, circuits that open and close, and billing of the answering
//! attempt only. Named after the fault-injection matrix (reliability spec §3.6–3.7).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::Gateway;
use crate::mock_upstream::{Gate, MockUpstream, Reply, Step, resetting_upstream, stream_chunks};

const MODEL: &str = "gpt-4o-mini";

/// Root signed in; a primary channel (priority 10) at the gateway's mock and a fallback (priority 0) at a
/// second mock. Returns the gateway, the fallback mock, both channel ids and a token key.
async fn primary_and_fallback(primary_setting: Value) -> (Gateway, MockUpstream, i64, i64, String) {
    let mut gw = Gateway::start_bare().await;
    gw.sign_in_root().await;
    let fallback = MockUpstream::start().await;
    let primary = gw
        .create_channel(json!({"name": "primary", "type": 1, "key": "sk-primary", "base_url": gw.mock.base_url(),
            "models": MODEL, "priority": 10, "setting": primary_setting.to_string()}))
        .await;
    let backup = gw
        .create_channel(json!({"name": "fallback", "type": 1, "key": "sk-fallback", "base_url": fallback.base_url(),
            "models": MODEL, "priority": 0}))
        .await;
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    (gw, fallback, primary, backup, key)
}

fn ask(stream: bool) -> Value {
    json!({"model": MODEL, "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
}

fn error_reply(status: u16, code: &str, message: &str) -> Reply {
    Reply::Status {
        status,
        headers: Vec::new(),
        body: json!({"error": {"message": message, "type": "x", "code": code}}),
    }
}

async fn channel(gw: &Gateway, id: i64) -> Value {
    gw.api("GET", &format!("/api/channel/{id}"), None).await.1["data"].clone()
}

#[tokio::test]
async fn a_429_with_retry_after_fails_over_and_the_key_is_left_alone_meanwhile() {
    let (gw, fallback, _, _, key) = primary_and_fallback(json!({})).await;
    gw.mock.script(Reply::Status {
        status: 429,
        headers: vec![("retry-after", "30".into())],
        body: json!({"error": {"message": "slow down", "type": "rate_limit", "code": "rate_limit_exceeded"}}),
    });
    for _ in 0..3 {
        let resp = gw.chat("/v1", &key, ask(false)).await;
        assert_eq!(resp.status(), 200);
    }
    assert_eq!(gw.mock.chat_requests(), 1, "the paused key is not called again within its Retry-After");
    assert_eq!(fallback.chat_requests(), 3);
}

#[tokio::test]
async fn a_429_everywhere_is_bounded_and_answered_with_retry_after() {
    let mut gw = Gateway::start_bare().await;
    gw.sign_in_root().await;
    let other = MockUpstream::start().await;
    for (name, url) in [("a", gw.mock.base_url()), ("b", other.base_url())] {
        gw.create_channel(json!({"name": name, "type": 1, "key": format!("sk-{name}1,sk-{name}2,sk-{name}3"),
            "base_url": url, "models": MODEL}))
            .await;
    }
    let limited = Reply::Status {
        status: 429,
        headers: vec![("retry-after", "2".into())],
        body: json!({"error": {"message": "slow down", "type": "rate_limit", "code": "rate_limit_exceeded"}}),
    };
    gw.mock.on_key("sk-", limited.clone());
    other.on_key("sk-", limited);
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    let started = Instant::now();
    let resp = gw.chat("/v1", &key, ask(false)).await;
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().get("retry-after").is_some());
    assert_eq!(gw.mock.chat_requests() + other.chat_requests(), 4, "one attempt and RetryTimes (3) retries");
    // Time is the behaviour here: waiting out the 2 s Retry-After and trying again would take longer.
    assert!(started.elapsed() < Duration::from_secs(3), "no waiting loop: {:?}", started.elapsed());
    // Every key is now paused: the next request is refused at once, without touching an upstream.
    let resp = gw.chat("/v1", &key, ask(false)).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(gw.mock.chat_requests() + other.chat_requests(), 6, "the two keys not tried yet were tried");
    let resp = gw.chat("/v1", &key, ask(false)).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(gw.mock.chat_requests() + other.chat_requests(), 6);
}

#[tokio::test]
async fn a_500_once_is_retried_on_another_key_and_answered() {
    let mut gw = Gateway::start_bare().await;
    gw.sign_in_root().await;
    gw.create_channel(
        json!({"name": "two keys", "type": 1, "key": "sk-one,sk-two", "base_url": gw.mock.base_url(), "models": MODEL}),
    )
    .await;
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    gw.mock.script(error_reply(500, "server_error", "boom"));
    let resp = gw.chat("/v1", &key, ask(false)).await;
    assert_eq!(resp.status(), 200);
    let seen: Vec<String> = gw.mock.received().iter().map(|r| r.authorization.clone()).collect();
    assert_eq!(seen.len(), 2);
    assert_ne!(seen[0], seen[1], "the retry used the other key");
}

#[tokio::test]
async fn a_persistent_503_fails_over_to_the_next_tier() {
    let (gw, fallback, _, _, key) = primary_and_fallback(json!({})).await;
    gw.mock.on_key("sk-primary", error_reply(503, "overloaded", "busy"));
    let resp = gw.chat("/v1", &key, ask(true)).await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(text.contains("Hello") && text.ends_with("data: [DONE]\n\n"), "{text}");
    assert_eq!((gw.mock.chat_requests(), fallback.chat_requests()), (1, 1));
}

#[tokio::test]
async fn a_connection_reset_before_headers_fails_over() {
    let mut gw = Gateway::start_bare().await;
    gw.sign_in_root().await;
    let dead = resetting_upstream().await;
    gw.create_channel(json!({"name": "dead", "type": 1, "key": "sk-dead", "base_url": format!("http://{dead}"), "models": MODEL, "priority": 5}))
        .await;
    gw.create_channel(
        json!({"name": "ok", "type": 1, "key": "sk-ok", "base_url": gw.mock.base_url(), "models": MODEL}),
    )
    .await;
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    let resp = gw.chat("/v1", &key, ask(false)).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "Hello world");
    let text = body.to_string();
    assert!(!text.contains(&dead.to_string()), "no upstream address leaks: {text}");
}

#[tokio::test]
async fn an_upstream_that_never_answers_is_cut_at_its_first_byte_bound() {
    let (gw, fallback, _, _, key) = primary_and_fallback(json!({"first_byte_timeout": 0.5})).await;
    gw.mock.on_key("sk-primary", Reply::Hang);
    let started = Instant::now();
    let resp = gw.chat("/v1", &key, ask(false)).await;
    assert_eq!(resp.status(), 200);
    // The bound is the subject: a generous limit over the 0.5 s first-byte timeout, far below the relay's own
    // 5 s default that would apply if the channel's setting were ignored.
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert_eq!(fallback.chat_requests(), 1);

    // Alone, it fails clearly within its bound.
    let mut alone = Gateway::start_bare().await;
    alone.sign_in_root().await;
    alone
        .create_channel(
            json!({"name": "hung", "type": 1, "key": "sk-h", "base_url": alone.mock.base_url(), "models": MODEL,
            "setting": json!({"first_byte_timeout": 0.5}).to_string()}),
        )
        .await;
    alone.mock.on_key("sk-h", Reply::Hang);
    let (_, key) = alone.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    let started = Instant::now();
    let resp = alone.chat("/v1", &key, ask(true)).await;
    assert_eq!(resp.status(), 502);
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_slow_first_token_within_its_bound_is_answered() {
    let (gw, fallback, _, _, key) = primary_and_fallback(json!({"first_byte_timeout": 3})).await;
    let mut steps = vec![Step::Wait(Duration::from_millis(1200))];
    steps.extend(stream_chunks(MODEL, &["slow", " but sure"], true).into_iter().map(Step::Chunk));
    steps.push(Step::Frame("data: [DONE]\n\n".into()));
    gw.mock.script(Reply::Steps(steps));
    let resp = gw.chat("/v1", &key, ask(true)).await;
    let text = resp.text().await.unwrap();
    assert!(text.contains("slow") && text.contains(" but sure") && text.ends_with("data: [DONE]\n\n"), "{text}");
    assert_eq!(fallback.chat_requests(), 0);
}

#[tokio::test]
async fn a_stream_cut_midway_ends_with_an_error_event_and_is_never_retried() {
    let (gw, fallback, _, _, key) = primary_and_fallback(json!({})).await;
    let chunks = stream_chunks(MODEL, &["one", " two", " three"], false);
    let cut = Gate::new();
    gw.mock.script(Reply::Steps(vec![
        Step::Chunk(chunks[0].clone()),
        Step::Chunk(chunks[1].clone()),
        // The connection breaks only once the client has both chunks.
        Step::Until(cut.clone()),
        Step::Cut,
    ]));
    let resp = gw.chat("/v1", &key, ask(true)).await;
    let text = read_until(resp, " two", || cut.open()).await;
    assert!(text.contains("one") && text.contains(" two"), "{text}");
    assert!(text.contains("\"error\""), "an explicit error event: {text}");
    assert!(!text.contains("[DONE]") && !text.contains("\"finish_reason\":\"stop\""), "never a normal finish: {text}");
    assert_eq!(fallback.chat_requests(), 0, "after the first byte there is no retry");
}

#[tokio::test]
async fn a_stalled_stream_is_cut_at_its_idle_bound() {
    let (gw, _, _, _, key) = primary_and_fallback(json!({"idle_timeout": 0.5})).await;
    let chunks = stream_chunks(MODEL, &["one"], false);
    gw.mock.script(Reply::Steps(vec![Step::Chunk(chunks[0].clone()), Step::Wait(Duration::from_secs(30))]));
    let started = Instant::now();
    let text = gw.chat("/v1", &key, ask(true)).await.text().await.unwrap();
    // The idle bound is the subject: cut well before the 30 s stall ends (generous over its 0.5 s).
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert!(text.contains("one") && text.contains("\"error\"") && !text.contains("[DONE]"), "{text}");
    // The gateway is healthy afterwards.
    assert_eq!(gw.chat("/v1", &key, ask(false)).await.status(), 200);
}

#[tokio::test]
async fn a_malformed_chunk_fails_the_stream_cleanly() {
    let (gw, _, _, _, key) = primary_and_fallback(json!({})).await;
    let chunks = stream_chunks(MODEL, &["fine"], false);
    gw.mock.script(Reply::Steps(vec![Step::Chunk(chunks[0].clone()), Step::Frame("data: {not json\n\n".into())]));
    let text = gw.chat("/v1", &key, ask(true)).await.text().await.unwrap();
    assert!(text.contains("fine") && text.contains("\"error\"") && !text.contains("[DONE]"), "{text}");
    assert_eq!(gw.chat("/v1", &key, ask(false)).await.status(), 200);
}

#[tokio::test]
async fn a_stream_without_done_is_finished_and_its_usage_reported() {
    let (gw, _, _, _, key) = primary_and_fallback(json!({})).await;
    let steps = stream_chunks(MODEL, &["all", " there"], true).into_iter().map(Step::Chunk).collect();
    gw.mock.script(Reply::Steps(steps));
    // Finished when the upstream closes: waiting for the idle timeout instead would end in an error event.
    let text = gw.chat("/v1", &key, ask(true)).await.text().await.unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    let logs = gw.wait_for_logs(1).await;
    assert_eq!(logs[0]["completion_tokens"], crate::mock_upstream::COMPLETION_TOKENS);
}

#[tokio::test]
async fn request_faults_are_never_retried_and_keep_their_reason() {
    let (gw, fallback, _, _, key) = primary_and_fallback(json!({})).await;
    for (status, code) in [(400, "context_length_exceeded"), (400, "content_filter"), (404, "model_not_found")] {
        gw.mock.script(error_reply(status, code, &format!("refused: {code}")));
        let resp = gw.chat("/v1", &key, ask(false)).await;
        assert_eq!(resp.status(), status);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{body}");
    }
    assert_eq!(fallback.chat_requests(), 0);
}

#[tokio::test]
async fn only_the_answering_attempt_is_billed_and_admins_see_the_trail() {
    let (gw, fallback, primary, backup, _) = primary_and_fallback(json!({})).await;
    let (token_id, key) = gw.create_token(json!({"name": "billed", "remain_quota": 100000})).await;
    gw.mock.script(error_reply(502, "bad_gateway", "upstream down"));
    assert_eq!(gw.chat("/v1", &key, ask(false)).await.status(), 200);
    assert_eq!(fallback.chat_requests(), 1);
    let logs = gw.wait_for_logs(1).await;
    assert_eq!(logs.len(), 1, "one log row for one request: {logs:?}");
    assert_eq!(logs[0]["channel"], backup);
    let other: Value = serde_json::from_str(logs[0]["other"].as_str().unwrap()).unwrap();
    assert_eq!(other["admin_info"]["use_channel"], json!([primary, backup]));
    let token = gw.token(token_id).await;
    assert_eq!(token["used_quota"], logs[0]["quota"], "charged once, for the answer");
}

#[tokio::test]
async fn one_bad_key_among_three_never_fails_a_request_and_is_disabled_alone() {
    let mut gw = Gateway::start_bare().await;
    gw.sign_in_root().await;
    let id = gw
        .create_channel(json!({"name": "keys", "type": 1, "key": "sk-good-1,sk-bad-2,sk-good-3", "base_url": gw.mock.base_url(), "models": MODEL}))
        .await;
    gw.mock.on_key("sk-bad", error_reply(401, "invalid_api_key", "Incorrect API key provided"));
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    let bad_calls = |gw: &Gateway| gw.mock.received().iter().filter(|r| r.authorization.contains("sk-bad")).count();
    // Keys are drawn at random: go on (bounded) until the bad one has been drawn at least once.
    for sent in 0..100 {
        assert_eq!(gw.chat("/v1", &key, ask(false)).await.status(), 200);
        if sent >= 11 && bad_calls(&gw) > 0 {
            break;
        }
    }
    assert!(bad_calls(&gw) > 0, "the bad key was never drawn in 100 requests");
    let keys = gw.wait_for_state(&format!("/api/channel/{id}/keys"), |k| k["data"][1]["status"] == 3).await;
    let statuses: Vec<i64> = keys["data"].as_array().unwrap().iter().map(|k| k["status"].as_i64().unwrap()).collect();
    assert_eq!(statuses, vec![1, 3, 1], "{keys}");
    assert!(keys["data"][1]["status_reason"].as_str().unwrap().contains("invalid_api_key"), "{keys}");
    assert!(!keys.to_string().contains("sk-bad-2"), "keys are shown masked");
    assert_eq!(channel(&gw, id).await["status"], 1, "the channel keeps serving");
    // Once control has shared the key's state, it is not tried any more.
    let before = bad_calls(&gw);
    for _ in 0..10 {
        assert_eq!(gw.chat("/v1", &key, ask(false)).await.status(), 200);
    }
    assert_eq!(bad_calls(&gw), before);
    // An administrator may take a key out by hand, and put it back.
    let (status, _) = gw.api("PUT", &format!("/api/channel/{id}/keys"), Some(json!({"slot": 0, "status": 2}))).await;
    assert_eq!(status, 200);
    let (status, body) = gw.api("PUT", &format!("/api/channel/{id}/keys"), Some(json!({"slot": 7, "status": 2}))).await;
    assert_eq!(status, 400, "{body}");
    let received = gw.mock.received().len();
    for _ in 0..6 {
        assert_eq!(gw.chat("/v1", &key, ask(false)).await.status(), 200);
    }
    assert!(gw.mock.received()[received..].iter().all(|r| r.authorization.contains("sk-good-3")));
}

#[tokio::test]
async fn a_429_is_the_keys_fault_for_the_relays_retry_and_for_controls_health() {
    let mut gw = Gateway::start_bare().await;
    gw.sign_in_root().await;
    // One failure against the channel would open its circuit: a 429 must not count as one.
    gw.set_options(&[("ChannelFailureThreshold", "1")]).await;
    let id = gw
        .create_channel(json!({"name": "keys", "type": 1, "key": "sk-limited-1,sk-fine-2", "base_url": gw.mock.base_url(), "models": MODEL}))
        .await;
    gw.mock.on_key("sk-limited", error_reply(429, "rate_limit_exceeded", "Rate limit reached"));
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    let limited_calls =
        |gw: &Gateway| gw.mock.received().iter().filter(|r| r.authorization.contains("sk-limited")).count();
    let mut sent = 0;
    while limited_calls(&gw) == 0 && sent < 100 {
        // The relay's retry scope: another key of the same channel answers.
        assert_eq!(gw.chat("/v1", &key, ask(false)).await.status(), 200);
        sent += 1;
    }
    assert!(limited_calls(&gw) > 0, "the rate-limited key was never drawn in 100 requests");
    gw.wait_settled(sent).await;
    // Control's health effect: counted on the key, neither disabling it nor opening the channel's circuit.
    let keys = gw.api("GET", &format!("/api/channel/{id}/keys"), None).await.1;
    assert_eq!(keys["data"][0]["status"], 1, "{keys}");
    assert!(keys["data"][0]["error_count"].as_i64().unwrap() >= 1, "{keys}");
    assert_eq!(channel(&gw, id).await["status"], 1, "the channel is well");
}

/// Reads a streamed answer until it contains `seen`, calls `then` (the test releases the upstream's next
/// step), and reads the rest (bounded).
async fn read_until(resp: reqwest::Response, seen: &str, then: impl FnOnce()) -> String {
    use futures::StreamExt;
    let mut stream = resp.bytes_stream();
    let mut text = String::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut then = Some(then);
        while let Some(chunk) = stream.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
            if text.contains(seen)
                && let Some(release) = then.take()
            {
                release();
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the stream never ended after {seen:?}: {text}");
    text
}

#[tokio::test]
async fn a_primary_that_goes_down_opens_its_circuit_and_a_probe_brings_it_back() {
    let (gw, fallback, primary, _, key) = primary_and_fallback(json!({})).await;
    gw.set_options(&[("ChannelFailureThreshold", "2"), ("ChannelProbeIntervalSeconds", "1")]).await;
    gw.mock.on_key("sk-primary", error_reply(503, "overloaded", "down for maintenance"));
    for _ in 0..2 {
        assert_eq!(gw.chat("/v1", &key, ask(false)).await.status(), 200);
    }
    let opened = gw.wait_for_state(&format!("/api/channel/{primary}"), |c| c["data"]["status"] == 3).await;
    let info: Value = serde_json::from_str(opened["data"]["other_info"].as_str().unwrap()).unwrap();
    assert!(info["status_reason"].as_str().unwrap().contains("2 failures"), "{info}");
    // While open, client traffic goes to the fallback only (the primary sees only the probes, which cap
    // their output at 16 tokens).
    let client_calls = |gw: &Gateway| gw.mock.received().iter().filter(|r| r.body["max_tokens"].is_null()).count();
    let primary_calls = client_calls(&gw);
    for _ in 0..3 {
        assert_eq!(gw.chat("/v1", &key, ask(false)).await.status(), 200);
    }
    assert_eq!(client_calls(&gw), primary_calls);
    // The upstream recovers; a half-open probe (run by the relay for control) closes the circuit.
    gw.mock.clear_key_rules();
    gw.wait_for_state(&format!("/api/channel/{primary}"), |c| c["data"]["status"] == 1).await;
    let served_by_fallback = fallback.chat_requests();
    gw.wait_relay_caught_up().await;
    assert_eq!(gw.chat("/v1", &key, ask(false)).await.status(), 200);
    assert_eq!(fallback.chat_requests(), served_by_fallback, "the primary serves again");
}

#[tokio::test]
async fn channels_with_auto_ban_off_are_never_disabled() {
    let mut gw = Gateway::start_bare().await;
    gw.sign_in_root().await;
    let id = gw
        .create_channel(json!({"name": "keep", "type": 1, "key": "sk-k", "base_url": gw.mock.base_url(), "models": MODEL, "auto_ban": 0}))
        .await;
    gw.set_options(&[("ChannelFailureThreshold", "1")]).await;
    gw.mock.on_key("sk-k", error_reply(401, "invalid_api_key", "no"));
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    for _ in 0..3 {
        assert_eq!(gw.chat("/v1", &key, ask(false)).await.status(), 502);
    }
    gw.wait_settled(3).await;
    assert_eq!(channel(&gw, id).await["status"], 1);
    let keys = gw.api("GET", &format!("/api/channel/{id}/keys"), None).await.1;
    assert_eq!(keys["data"][0]["status"], 1, "{keys}");
    assert!(keys["data"][0]["error_count"].as_i64().unwrap() >= 1, "{keys}");
}

#[tokio::test]
async fn a_pinned_request_is_never_sent_to_another_channel() {
    let (gw, fallback, primary, _, _) = primary_and_fallback(json!({})).await;
    let root_key = gw.root_key().await;
    gw.mock.on_key("sk-primary", error_reply(503, "overloaded", "busy"));
    let resp = gw.chat("/v1", &format!("{root_key}-{primary}"), ask(false)).await;
    assert_eq!(resp.status(), 502);
    assert_eq!(fallback.chat_requests(), 0);
}

#[tokio::test]
async fn channel_tests_model_lists_and_balances_go_through_a_relay() {
    let (gw, _, primary, _, _) = primary_and_fallback(json!({})).await;
    let (status, body) = gw.api("GET", &format!("/api/channel/test/{primary}"), None).await;
    assert_eq!((status, body["success"].clone()), (200, json!(true)), "{body}");
    assert!(body["time"].as_f64().unwrap() >= 0.0);
    let tested = channel(&gw, primary).await;
    assert!(tested["test_time"].as_i64().unwrap() > 0, "{tested}");

    gw.mock.script(error_reply(401, "invalid_api_key", "bad key"));
    let (_, body) = gw.api("GET", &format!("/api/channel/test/{primary}"), None).await;
    assert_eq!(body["success"], false, "{body}");
    assert!(body["message"].as_str().unwrap().contains("bad key"), "{body}");

    let (_, body) = gw.api("GET", &format!("/api/channel/fetch_models/{primary}"), None).await;
    assert_eq!(body["data"], json!(["mock-a", "mock-b"]), "{body}");
    let unsaved = json!({"type": 1, "base_url": gw.mock.base_url(), "key": "sk-new"});
    let (_, body) = gw.api("POST", "/api/channel/fetch_models", Some(unsaved)).await;
    assert_eq!(body["data"], json!(["mock-a", "mock-b"]), "{body}");
    let (status, body) =
        gw.api("POST", "/api/channel/fetch_models", Some(json!({"type": 1, "base_url": "ftp://x", "key": "k"}))).await;
    assert_eq!(status, 400, "{body}");

    let (_, body) = gw.api("GET", &format!("/api/channel/update_balance/{primary}"), None).await;
    assert_eq!(body["balance"], 75.0, "{body}");
    assert_eq!(channel(&gw, primary).await["balance"], 75.0);
    let (status, _) = gw.api("GET", "/api/channel/test/9999", None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_model_prefix_routes_to_its_channel_and_the_bare_name_keeps_working() {
    let mut gw = Gateway::start_bare().await;
    gw.sign_in_root().await;
    let other = MockUpstream::start().await;
    gw.create_channel(
        json!({"name": "plain", "type": 1, "key": "sk-p", "base_url": gw.mock.base_url(), "models": MODEL}),
    )
    .await;
    gw.create_channel(json!({"name": "prefixed", "type": 1, "key": "sk-z", "base_url": other.base_url(), "models": MODEL, "model_prefix": "az/"}))
        .await;
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    let resp = gw
        .chat("/v1", &key, json!({"model": format!("az/{MODEL}"), "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(other.received()[0].body["model"], MODEL);
    let models: Value = gw.http.get(gw.url("/v1/models")).bearer_auth(&key).send().await.unwrap().json().await.unwrap();
    let ids: Vec<&str> = models["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&MODEL) && ids.contains(&"az/gpt-4o-mini"), "{ids:?}");
}

#[tokio::test]
async fn a_virtual_model_is_served_by_its_real_models_in_priority_order() {
    let mut gw = Gateway::start_bare().await;
    gw.sign_in_root().await;
    gw.create_channel(
        json!({"name": "c", "type": 1, "key": "sk-c", "base_url": gw.mock.base_url(), "models": "gpt-4o,gpt-4o-mini"}),
    )
    .await;
    let mapping = json!({"smart": [{"model": "gpt-4o-mini", "priorities": 1}, {"model": "gpt-4o", "priorities": 5}]});
    let (status, body) = gw.api("PUT", "/api/model_mapping/", Some(mapping)).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = gw.api("PUT", "/api/model_mapping/", Some(json!({"smart": []}))).await;
    assert_eq!(status, 400, "{body}");
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    gw.mock.on_key("sk-c", Reply::Json(200, json!({})));
    gw.mock.clear_key_rules();
    gw.mock.script(error_reply(503, "overloaded", "busy"));
    let resp = gw.chat("/v1", &key, json!({"model": "smart", "messages": [{"role": "user", "content": "hi"}]})).await;
    assert_eq!(resp.status(), 200);
    let sent: Vec<Value> = gw.mock.received().iter().map(|r| r.body["model"].clone()).collect();
    assert_eq!(sent, vec![json!("gpt-4o"), json!("gpt-4o-mini")], "the higher priority first, the next on retry");
    let logs = gw.wait_for_logs(1).await;
    assert_eq!(logs[0]["model_name"], "gpt-4o-mini", "billed as the real model that answered");
}

#[tokio::test]
async fn testing_all_channels_disables_the_broken_and_restores_the_recovered() {
    let (gw, _, primary, backup, _) = primary_and_fallback(json!({})).await;
    gw.mock.on_key("sk-primary", error_reply(401, "invalid_api_key", "revoked"));
    let (status, body) = gw.api("GET", "/api/channel/test", None).await;
    assert_eq!((status, body["success"].clone()), (200, json!(true)), "{body}");
    let disabled = gw.wait_for_state(&format!("/api/channel/{primary}"), |c| c["data"]["status"] == 3).await;
    assert!(disabled["data"]["other_info"].as_str().unwrap().contains("revoked"), "{disabled}");
    assert_eq!(channel(&gw, backup).await["status"], 1);
    gw.mock.clear_key_rules();
    gw.api("GET", "/api/channel/test", None).await;
    gw.wait_for_state(&format!("/api/channel/{primary}"), |c| c["data"]["status"] == 1).await;
}

#[tokio::test]
async fn a_stream_longer_than_its_total_bound_is_cut_there() {
    let (gw, _, _, _, key) = primary_and_fallback(json!({"total_timeout": 1, "idle_timeout": 5})).await;
    let chunks = stream_chunks(MODEL, &["tick"; 12], false);
    let mut steps = Vec::new();
    for c in chunks {
        steps.push(Step::Chunk(c));
        steps.push(Step::Wait(Duration::from_millis(250)));
    }
    gw.mock.script(Reply::Steps(steps));
    let started = Instant::now();
    let text = gw.chat("/v1", &key, ask(true)).await.text().await.unwrap();
    // The total bound is the subject: cut near its 1 s, well before the 3 s the whole stream would take.
    assert!(started.elapsed() < Duration::from_millis(2500), "{:?}", started.elapsed());
    assert!(text.contains("tick") && text.contains("\"error\"") && !text.contains("[DONE]"), "{text}");
}

#[tokio::test]
async fn a_key_disabled_through_one_relay_is_avoided_by_another() {
    let mut gw = Gateway::start_bare().await;
    gw.sign_in_root().await;
    let id = gw
        .create_channel(json!({"name": "keys", "type": 1, "key": "sk-good,sk-bad", "base_url": gw.mock.base_url(), "models": MODEL}))
        .await;
    gw.mock.on_key("sk-bad", error_reply(401, "invalid_api_key", "revoked"));
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    let mut second = crate::harness::start_relay(crate::harness::relay_config(&gw.control)).await;
    for _ in 0..8 {
        assert_eq!(gw.chat("/v1", &key, ask(false)).await.status(), 200);
    }
    gw.wait_for_state(&format!("/api/channel/{id}/keys"), |k| k["data"][1]["status"] == 3).await;
    second.wait_caught_up(&gw.control).await;
    let before = gw.mock.received().len();
    for _ in 0..8 {
        let resp = gw
            .http
            .post(format!("http://{}/v1/chat/completions", second.addr))
            .bearer_auth(&key)
            .json(&ask(false))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    let later = &gw.mock.received()[before..];
    assert_eq!(later.len(), 8, "no failed attempt through the second relay");
    assert!(later.iter().all(|r| r.authorization.contains("sk-good")));
    second.stop().await;
}
