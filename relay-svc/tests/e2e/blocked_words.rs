//! Blocked words: prompts refused in every inbound format before anything is reserved or sent upstream, regex-only
//! lists, the exempt group, and answers (whole and streamed, a word split across chunks) stopped when answers
//! are checked.

use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};

use crate::harness::{Gateway, chat_body};
use crate::mock_upstream::{Reply, stream_chunks};

/// Sets blocked-word options, waits (bounded) until the relay applied them, and checks it with `probe`.
async fn set_words(gw: &Gateway, options: &[(&str, &str)], probe: &str, blocked: bool) {
    gw.set_options(options).await;
    gw.wait_relay_caught_up().await;
    let body = json!({"messages": [{"role": "user", "content": probe}]}).to_string();
    let refused = gw.relay.link.guard.check_prompt("default", body.as_bytes(), "probe").is_err();
    assert_eq!(refused, blocked, "the relay applied the blocked-word settings to {probe:?}");
}

async fn post(gw: &Gateway, path: &str, key: &str, body: Value) -> (u16, Value) {
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
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_blocked_prompt_is_refused_in_every_format_and_costs_nothing() {
    let gw = Gateway::start().await;
    let (token, key) = gw.create_token(json!({"name": "t", "remain_quota": 500000})).await;
    set_words(&gw, &[("SensitiveWords", "Forbidden\nsecret plan")], "forbidden", true).await;

    let mut chat = chat_body("gpt-4o-mini");
    chat["messages"] = json!([{"role": "user", "content": [{"type": "text", "text": "this is FORBIDDEN"}]}]);
    let cases = [
        ("/v1/chat/completions", chat),
        (
            "/hf/v1/chat/completions",
            json!({"model": "gpt-4o-mini", "stream": true, "messages": [{"role": "user", "content": "a secret plan"}]}),
        ),
        ("/v1/completions", json!({"model": "gpt-4o-mini", "prompt": ["ok", "forbidden"]})),
        ("/v1/embeddings", json!({"model": "gpt-4o-mini", "input": "forbidden"})),
        ("/v1/moderations", json!({"model": "gpt-4o-mini", "input": ["forbidden"]})),
        ("/v1/images/generations", json!({"model": "gpt-4o-mini", "prompt": "draw forbidden"})),
        ("/v1/audio/speech", json!({"model": "gpt-4o-mini", "input": "say forbidden", "voice": "alloy"})),
        (
            "/v1/responses",
            json!({"model": "gpt-4o-mini", "input": [{"role": "user", "content": [{"type": "input_text", "text": "forbidden"}]}]}),
        ),
    ];
    for (path, body) in cases {
        let (status, body) = post(&gw, path, &key, body).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["error"]["code"], "sensitive_words_detected", "{path}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.starts_with("sensitive words detected"), "{message}");
        assert!(!message.to_lowercase().contains("forbidden"), "the matched word stays in the server log: {message}");
    }

    let anthropic = json!({"model": "gpt-4o-mini", "max_tokens": 10, "system": "be nice",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "forbidden"}]}]});
    let (status, body) = post(&gw, "/v1/messages", &key, anthropic).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["type"], "error");
    assert!(body["error"]["message"].as_str().unwrap().starts_with("sensitive words detected"), "{body}");

    let gemini = json!({"contents": [{"role": "user", "parts": [{"text": "forbidden"}]}]});
    let (status, body) =
        post(&gw, &format!("/v1beta/models/gpt-4o-mini:generateContent?key={key}"), &key, gemini).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], 400);

    assert!(gw.mock.received().is_empty(), "nothing reaches the upstream");
    // A clean prompt still works, and only it is billed.
    let (status, body) = post(&gw, "/v1/chat/completions", &key, chat_body("gpt-4o-mini")).await;
    assert_eq!(status, 200, "{body}");
    let logs = gw.wait_for_logs(1).await;
    gw.wait_all_settled().await;
    let (_, all) = gw.api("GET", "/api/log/?p=1&page_size=100", None).await;
    assert_eq!(all["data"]["items"].as_array().unwrap().len(), 1, "only the clean request was billed: {all}");
    assert_eq!(gw.token(token).await["used_quota"], logs[0]["quota"]);
}

#[tokio::test]
async fn regex_lines_work_alone_and_the_exempt_group_skips_the_check() {
    let gw = Gateway::start().await;
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    set_words(&gw, &[("SensitiveWords", "regex:pass(word|phrase)\\s*=")], "my password = x", true).await;
    let mut body = chat_body("gpt-4o-mini");
    body["messages"] = json!([{"role": "user", "content": "PassPhrase = hunter2"}]);
    let (status, answer) = post(&gw, "/v1/chat/completions", &key, body.clone()).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (400, Some("sensitive_words_detected")));

    set_words(&gw, &[("SafeCheckExemptEnabled", "true"), ("SafeCheckExemptGroup", "default")], "password =", false)
        .await;
    let (status, answer) = post(&gw, "/v1/chat/completions", &key, body.clone()).await;
    assert_eq!(status, 200, "the exempt group is not checked: {answer}");

    set_words(&gw, &[("SafeCheckExemptEnabled", "false"), ("CheckSensitiveEnabled", "false")], "password =", false)
        .await;
    let (status, _) = post(&gw, "/v1/chat/completions", &key, body).await;
    assert_eq!(status, 200, "checking can be switched off");
}

#[tokio::test]
async fn answers_with_a_blocked_word_are_stopped_even_split_across_chunks() {
    let gw = Gateway::start().await;
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    set_words(
        &gw,
        &[("SensitiveWords", "launch code"), ("CheckSensitiveOnCompletionEnabled", "true")],
        "launch code",
        true,
    )
    .await;

    gw.mock.script(Reply::Sse {
        chunks: stream_chunks("gpt-4o-mini", &["Here is the laun", "ch code: 1234", " and more"], true),
        delay: Duration::from_millis(5),
        done: true,
    });
    let mut body = chat_body("gpt-4o-mini");
    body["stream"] = json!(true);
    let resp = gw.chat("/v1", &key, body).await;
    assert_eq!(resp.status(), 200);
    let mut text = String::new();
    let mut stream = resp.bytes_stream();
    while let Some(piece) = stream.next().await {
        text.push_str(&String::from_utf8_lossy(&piece.unwrap()));
    }
    assert!(text.contains("Here is the laun"), "what came before the word is delivered: {text}");
    assert!(!text.contains("1234") && !text.contains(" and more"), "nothing from the word on: {text}");
    assert!(text.contains("blocked words"), "the stream ends with an explicit error event: {text}");
    assert!(!text.contains("[DONE]"), "never passed off as a normal finish: {text}");

    gw.mock.script(Reply::Json(
        200,
        json!({"id": "x", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "the LAUNCH CODE is 1"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}}),
    ));
    let (status, answer) = post(&gw, "/v1/chat/completions", &key, chat_body("gpt-4o-mini")).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["code"], "sensitive_words_detected");
    assert!(!answer.to_string().contains("is 1"), "no part of the answer leaks: {answer}");

    // A clean answer still streams normally.
    let mut body = chat_body("gpt-4o-mini");
    body["stream"] = json!(true);
    let resp = gw.chat("/v1", &key, body).await;
    let text = resp.text().await.unwrap();
    assert!(text.contains("Hello") && text.contains("[DONE]"), "{text}");
}

#[tokio::test]
async fn a_list_saved_through_the_settings_api_is_checked_and_reaches_the_relay() {
    let gw = Gateway::start().await;
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    let put = |value: &str| gw.api("PUT", "/api/option/", Some(json!({"key": "SensitiveWords", "value": value})));
    let (status, body) = put("fine\n\nregex:([unclosed").await;
    assert_eq!((status, body["success"].as_bool()), (400, Some(false)), "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.starts_with("SensitiveWords: line 3: invalid regular expression"), "{message}");

    let (status, body) = put("regex:\\bdrop\\s+table\\b").await;
    assert_eq!(status, 200, "{body}");
    let mut chat = chat_body("gpt-4o-mini");
    chat["messages"] = json!([{"role": "user", "content": "please DROP  TABLE users"}]);
    gw.wait_relay_caught_up().await;
    let (status, body) = post(&gw, "/v1/chat/completions", &key, chat).await;
    assert_eq!(status, 400, "the saved list reached the relay: {body}");
}
