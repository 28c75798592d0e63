//! Every way an answer reaches the client ends the same way: the lean OpenAI path, the pass-through of
//! Anthropic and Gemini, the converted path and a whole answer delivered as a stream. An answer that says
//! nothing is free on each of them, and a request is one failover (one retry-budget charge) whatever path it
//! takes.

use serde_json::{Value, json};

use crate::harness::Gateway;
use crate::mock_upstream::{MockUpstream, Reply};

/// Root signed in with an Anthropic channel (`claude-sonnet-4-5`), a Gemini channel (`gemini-2.5-flash`) and an
/// OpenAI channel that cannot stream (`gpt-4o-mini`), all at the gateway's mock; returns a token key.
async fn gateway_with_every_path() -> (Gateway, String) {
    let mut gw = Gateway::start_bare().await;
    gw.sign_in_root().await;
    let url = gw.mock.base_url();
    gw.create_channel(
        json!({"name": "anthropic", "type": 14, "key": "k-a", "base_url": url, "models": "claude-sonnet-4-5"}),
    )
    .await;
    gw.create_channel(
        json!({"name": "gemini", "type": 24, "key": "k-g", "base_url": url, "models": "gemini-2.5-flash"}),
    )
    .await;
    gw.create_channel(json!({"name": "whole", "type": 1, "key": "k-o", "base_url": url, "models": "gpt-4o-mini",
        "setting": "{\"stream_support\": \"NON_STREAM_ONLY\"}"}))
        .await;
    let (_, key) = gw.create_token(json!({"name": "t", "remain_quota": 100000})).await;
    (gw, key)
}

fn silent_anthropic_message() -> Value {
    json!({"id": "msg_0", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": ""}], "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": 10, "output_tokens": 3}})
}

fn silent_anthropic_stream() -> Reply {
    Reply::Events(vec![
        (
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
            "model": "claude-sonnet-4-5", "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 10, "output_tokens": 1}}}),
        ),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        ("content_block_stop", json!({"type": "content_block_stop", "index": 0})),
        (
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": 3}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ])
}

fn silent_gemini_reply() -> Value {
    json!({"candidates": [{"content": {"role": "model", "parts": [{"text": ""}]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 3, "totalTokenCount": 12},
        "modelVersion": "gemini-2.5-flash", "responseId": "r0"})
}

fn silent_openai_reply() -> Value {
    json!({"id": "x", "object": "chat.completion", "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": ""}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}})
}

async fn post(gw: &Gateway, path: &str, key: &str, body: Value) -> String {
    let resp = gw.http.post(gw.url(path)).bearer_auth(key).header("x-api-key", key).json(&body).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{path}");
    resp.text().await.unwrap()
}

#[tokio::test]
async fn an_answer_that_says_nothing_is_free_on_every_path() {
    let (gw, key) = gateway_with_every_path().await;
    let claude = |stream: bool| json!({"model": "claude-sonnet-4-5", "max_tokens": 20, "stream": stream, "messages": [{"role": "user", "content": "hi"}]});
    // Anthropic passed through, whole and streamed.
    gw.mock.script(Reply::Json(200, silent_anthropic_message()));
    post(&gw, "/v1/messages", &key, claude(false)).await;
    gw.mock.script(silent_anthropic_stream());
    let text = post(&gw, "/v1/messages", &key, claude(true)).await;
    assert!(text.contains("message_stop"), "{text}");
    // Gemini passed through.
    gw.mock.script(Reply::Json(200, silent_gemini_reply()));
    let gemini = json!({"contents": [{"parts": [{"text": "hi"}]}]});
    post(&gw, &format!("/v1beta/models/gemini-2.5-flash:generateContent?key={key}"), &key, gemini).await;
    // Converted: an OpenAI client on the Anthropic channel, whole and streamed.
    gw.mock.script(Reply::Json(200, silent_anthropic_message()));
    post(&gw, "/v1/chat/completions", &key, claude(false)).await;
    gw.mock.script(silent_anthropic_stream());
    let text = post(&gw, "/v1/chat/completions", &key, claude(true)).await;
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    // A whole answer delivered as a stream.
    gw.mock.script(Reply::Json(200, silent_openai_reply()));
    let whole = json!({"model": "gpt-4o-mini", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let text = post(&gw, "/v1/chat/completions", &key, whole).await;
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");

    let logs = gw.wait_for_logs(6).await;
    assert_eq!(logs.len(), 6, "{logs:?}");
    assert!(logs.iter().all(|l| l["quota"] == 0), "every silent answer is free: {logs:?}");
    assert!(logs.iter().all(|l| l["completion_tokens"] == 0), "{logs:?}");
    assert_eq!(gw.root_self().await["used_quota"], 0);
}

#[tokio::test]
async fn an_answer_that_says_something_is_still_billed_on_the_whole_as_stream_path() {
    let (gw, key) = gateway_with_every_path().await;
    let whole = json!({"model": "gpt-4o-mini", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let text = post(&gw, "/v1/chat/completions", &key, whole).await;
    assert!(text.contains("Hello"), "{text}");
    let logs = gw.wait_for_logs(1).await;
    assert!(logs[0]["quota"].as_i64().unwrap() > 0, "{}", logs[0]);
}

/// Requests served through non-streaming channels that all fail: with one retry allowed per request, the
/// relay-wide retry budget (a fifth of the requests, at least ten) bounds how many retries happen.
#[tokio::test]
async fn a_streaming_request_to_a_non_streaming_channel_is_charged_once_to_the_retry_budget() {
    let mut gw = Gateway::start_bare().await;
    gw.sign_in_root().await;
    let other = MockUpstream::start().await;
    for (name, url) in [("a", gw.mock.base_url()), ("b", other.base_url())] {
        gw.create_channel(json!({"name": name, "type": 1, "key": format!("sk-{name}"), "base_url": url,
            "models": "gpt-4o-mini", "auto_ban": 0, "setting": "{\"stream_support\": \"NON_STREAM_ONLY\"}"}))
            .await;
    }
    let broken = Reply::Status { status: 500, headers: Vec::new(), body: json!({"error": {"message": "boom"}}) };
    gw.mock.on_key("sk-", broken.clone());
    other.on_key("sk-", broken);
    gw.set_options(&[("RetryTimes", "1")]).await;
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    // Well inside the budget's ten-second window; a request counted twice would double the retries allowed.
    let requests = 100;
    for _ in 0..requests {
        let body = json!({"model": "gpt-4o-mini", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
        let text = gw.chat("/v1", &key, body).await.text().await.unwrap();
        assert!(text.contains("\"error\"") && !text.contains("[DONE]"), "{text}");
    }
    let retries = gw.mock.chat_requests() + other.chat_requests() - requests;
    assert!(retries >= 10, "the budget's floor allows ten retries: {retries}");
    assert!(retries <= requests / 5, "at most a fifth of {requests} requests are retried: {retries}");
}
