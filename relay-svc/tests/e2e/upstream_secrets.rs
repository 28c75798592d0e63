//! Upstream errors that quote credentials: the channel's keys (and anything shaped like a provider key) never
//! reach the client, the usage record's error log or the failed-attempt trail, whether the error comes before
//! the answer or as an error event in the middle of a stream.

use serde_json::{Value, json};

use crate::harness::Gateway;
use crate::mock_upstream::{Reply, Step};

/// A channel of `channel_type` at the mock, with a key the upstream's errors will quote, and a client token.
async fn gateway_with_key(channel_type: i64, upstream_key: &str, model: &str) -> (Gateway, String) {
    let mut gw = Gateway::start_bare().await;
    gw.sign_in_root().await;
    gw.set_options(&[("LogErrorEnabled", "true")]).await;
    gw.create_channel(json!({"name": "quoting", "type": channel_type, "key": upstream_key,
        "base_url": gw.mock.base_url(), "models": model}))
        .await;
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    (gw, key)
}

/// Streams `body` to `path` and returns everything the client received.
async fn streamed(gw: &Gateway, path: &str, key: &str, body: Value) -> String {
    let resp = gw
        .http
        .post(gw.url(path))
        .bearer_auth(key)
        .header("x-api-key", key)
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "the stream began");
    resp.text().await.unwrap()
}

/// Checks that neither the client's stream nor control's log rows carry `secrets`; returns the rows' text.
async fn nowhere(gw: &Gateway, received: &str, secrets: &[&str]) -> String {
    gw.wait_all_settled().await;
    let db = gw.control.state.db();
    let rows: Vec<(String, String)> =
        sqlx::query_as(&db.sql("SELECT content, other FROM logs")).fetch_all(db.pool()).await.unwrap();
    let written: String = rows.iter().map(|(c, o)| format!("{c} {o}")).collect();
    for secret in secrets {
        assert!(!received.contains(secret), "{secret} reached the client: {received}");
        assert!(!written.contains(secret), "{secret} reached the log: {written}");
    }
    written
}

const UPSTREAM_KEY: &str = "sk-proj-QuotedByTheProxy0123456789";
const FOREIGN_KEY: &str = "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWx";

#[tokio::test]
async fn an_error_event_mid_way_through_an_openai_stream_is_scrubbed_before_it_is_passed_on() {
    let (gw, key) = gateway_with_key(1, UPSTREAM_KEY, "gpt-4o-mini").await;
    let error = json!({"error": {"message": format!("proxy: upstream refused Bearer {UPSTREAM_KEY} (also {FOREIGN_KEY})"),
        "type": "server_error"}});
    gw.mock.script(Reply::Steps(vec![
        Step::Chunk(json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}, "finish_reason": null}]})),
        Step::Chunk(error),
    ]));
    let mut body = crate::harness::chat_body("gpt-4o-mini");
    body["stream"] = json!(true);
    let received = streamed(&gw, "/v1/chat/completions", &key, body).await;
    assert!(received.contains("Hel"), "the answer before the error passed: {received}");
    assert!(received.contains("proxy: upstream refused Bearer [redacted]"), "passed on scrubbed: {received}");
    let written = nowhere(&gw, &received, &[UPSTREAM_KEY, FOREIGN_KEY]).await;
    assert!(written.contains("[redacted]"), "the failure is logged with the upstream's words: {written}");
}

fn anthropic_stream_failing_with(message: String) -> Reply {
    Reply::Events(vec![
        (
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_03", "type": "message", "role": "assistant",
            "model": "claude-sonnet-4-5", "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 10, "output_tokens": 1}}}),
        ),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}}),
        ),
        ("error", json!({"type": "error", "error": {"type": "overloaded_error", "message": message}})),
    ])
}

#[tokio::test]
async fn an_anthropic_error_event_mid_stream_is_logged_scrubbed_for_every_client_format() {
    let (gw, key) = gateway_with_key(14, UPSTREAM_KEY, "claude-sonnet-4-5").await;
    let message = format!("overloaded; request carried x-api-key: {UPSTREAM_KEY}");
    // An Anthropic client: the stream ends with an error event in its own shape.
    gw.mock.script(anthropic_stream_failing_with(message.clone()));
    let request = json!({"model": "claude-sonnet-4-5", "max_tokens": 64, "stream": true,
        "messages": [{"role": "user", "content": "Hi"}]});
    let received = streamed(&gw, "/v1/messages", &key, request).await;
    assert!(received.contains("event: error"), "{received}");
    let written = nowhere(&gw, &received, &[UPSTREAM_KEY]).await;
    assert!(written.contains("x-api-key: [redacted]"), "logged with the upstream's words, scrubbed: {written}");

    // An OpenAI client: converted, the same.
    gw.mock.script(anthropic_stream_failing_with(message));
    let mut body = crate::harness::chat_body("claude-sonnet-4-5");
    body["stream"] = json!(true);
    let received = streamed(&gw, "/v1/chat/completions", &key, body).await;
    assert!(received.contains("Hel"), "{received}");
    nowhere(&gw, &received, &[UPSTREAM_KEY]).await;
}

#[tokio::test]
async fn an_upstream_error_quoting_the_channel_key_is_redacted_everywhere() {
    let gw = Gateway::start().await;
    gw.set_options(&[("LogErrorEnabled", "true")]).await;
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    let foreign = "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWx";
    let echo = format!(
        "invalid request; headers were Authorization: Bearer sk-upstream-1, x-other: {foreign}, key=AIzaSyA1234567890abcdefghijklmnopqrs"
    );
    gw.mock.script(Reply::Json(400, json!({"error": {"message": echo, "type": "invalid_request_error"}})));
    let resp = gw.chat("/v1", &key, crate::harness::chat_body("gpt-4o-mini")).await;
    assert_eq!(resp.status(), 400);
    let text = resp.text().await.unwrap();
    for secret in ["sk-upstream-1", foreign, "AIzaSyA1234567890"] {
        assert!(!text.contains(secret), "{secret} reached the client: {text}");
    }
    let body: Value = serde_json::from_str(&text).unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("invalid request; headers were Authorization: Bearer [redacted]"), "{message}");

    // The error row (and its failed-attempt trail) is written from the same scrubbed text.
    let db = gw.control.state.db();
    gw.wait_settled(1).await;
    let rows: Vec<(String, String)> =
        sqlx::query_as(&db.sql("SELECT content, other FROM logs WHERE type = 6")).fetch_all(db.pool()).await.unwrap();
    let written: String = rows.iter().map(|(c, o)| format!("{c} {o}")).collect();
    assert!(written.contains("[redacted]"), "an error row with the upstream's words: {written}");
    for secret in ["sk-upstream-1", foreign, "AIzaSyA1234567890"] {
        assert!(!written.contains(secret), "{secret} reached the log: {written}");
    }
}
