//! Every inbound format reaching channels of other formats through the real relay: OpenAI clients on Anthropic
//! and Gemini channels, Anthropic and Gemini clients on OpenAI channels, same-format pass-through, and errors in
//! the caller's own shape (also under `/hf/v1`).

use futures::StreamExt;
use serde_json::{Value, json};

use crate::harness::{Gateway, chat_body};
use crate::mock_upstream::{COMPLETION_TOKENS, PROMPT_TOKENS, Reply};

async fn gateway_with(channel_type: i64, models: &str) -> (Gateway, String) {
    let mut gw = Gateway::start_bare().await;
    gw.sign_in_root().await;
    gw.create_channel(json!({"name": "native", "type": channel_type, "key": "upstream-key", "base_url": gw.mock.base_url(), "models": models}))
        .await;
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    (gw, key)
}

fn anthropic_message(text: &str) -> Value {
    json!({"id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": 10, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 2, "output_tokens": 5}})
}

fn anthropic_events() -> Reply {
    Reply::Events(vec![
        (
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_02", "type": "message", "role": "assistant",
            "model": "claude-sonnet-4-5", "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 10, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 2, "output_tokens": 1}}}),
        ),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        ("ping", json!({"type": "ping"})),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": " there"}}),
        ),
        ("content_block_stop", json!({"type": "content_block_stop", "index": 0})),
        (
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": 5}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ])
}

/// `data:` payloads (and event names) of an SSE body.
async fn sse_events(resp: reqwest::Response) -> Vec<(String, String)> {
    let mut text = String::new();
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
    }
    text.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let name = e.lines().find_map(|l| l.strip_prefix("event: ")).unwrap_or_default().to_string();
            let data = e.lines().filter_map(|l| l.strip_prefix("data: ")).collect::<Vec<_>>().join("\n");
            (name, data)
        })
        .collect()
}

#[tokio::test]
async fn an_openai_client_reaches_an_anthropic_channel() {
    let (gw, key) = gateway_with(14, "claude-sonnet-4-5").await;
    gw.mock.script(Reply::Json(200, anthropic_message("Hi from Claude")));
    let mut body = chat_body("claude-sonnet-4-5");
    body["messages"] = json!([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello"}]);
    let resp = gw.chat("/v1", &key, body).await;
    assert_eq!(resp.status(), 200);
    let reply: Value = resp.json().await.unwrap();
    assert_eq!(reply["object"], "chat.completion");
    assert_eq!(reply["choices"][0]["message"]["content"], "Hi from Claude");
    assert_eq!(reply["choices"][0]["finish_reason"], "stop");
    // Anthropic's input excludes cache reads; OpenAI's prompt_tokens includes them.
    assert_eq!(reply["usage"]["prompt_tokens"], 12);
    assert_eq!(reply["usage"]["prompt_tokens_details"]["cached_tokens"], 2);

    let got = &gw.mock.received()[0];
    assert_eq!(got.path, "/v1/messages");
    assert_eq!(got.api_key, "upstream-key");
    assert_eq!(got.body["system"], "Be brief.");
    assert_eq!(got.body["messages"][0]["role"], "user");
    assert!(got.body["max_tokens"].as_u64().unwrap() > 0, "Anthropic requires max_tokens");
    let logs = gw.wait_for_logs(1).await;
    assert_eq!((logs[0]["prompt_tokens"].as_i64(), logs[0]["completion_tokens"].as_i64()), (Some(12), Some(5)));
}

#[tokio::test]
async fn an_openai_client_streams_from_an_anthropic_channel() {
    let (gw, key) = gateway_with(14, "claude-sonnet-4-5").await;
    gw.mock.script(anthropic_events());
    let mut body = chat_body("claude-sonnet-4-5");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let resp = gw.chat("/v1", &key, body).await;
    assert_eq!(resp.status(), 200);
    let events = sse_events(resp).await;
    assert_eq!(events.last().unwrap().1, "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|(_, d)| serde_json::from_str(d).unwrap()).collect();
    let text: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(text, "Hello there");
    let usage = chunks.iter().find(|c| c["usage"].is_object()).expect("the usage chunk the client asked for");
    assert_eq!(usage["usage"]["completion_tokens"], 5);
    assert!(chunks.iter().any(|c| c["choices"][0]["finish_reason"] == "stop"));
    assert_eq!(gw.mock.received()[0].body["stream"], true);
    let logs = gw.wait_for_logs(1).await;
    assert_eq!(logs[0]["completion_tokens"], 5);
}

#[tokio::test]
async fn an_anthropic_client_reaches_an_openai_channel() {
    let (gw, key) = gateway_with(1, "gpt-4o-mini").await;
    for prefix in ["/v1", "/hf/v1"] {
        let resp = gw
            .http
            .post(gw.url(&format!("{prefix}/messages")))
            .header("x-api-key", &key)
            .header("anthropic-version", "2023-06-01")
            .json(&json!({"model": "gpt-4o-mini", "max_tokens": 100, "system": "Be brief.",
                "messages": [{"role": "user", "content": "Say hello"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{prefix}");
        let reply: Value = resp.json().await.unwrap();
        assert_eq!(reply["type"], "message");
        assert_eq!(reply["role"], "assistant");
        assert_eq!(reply["content"][0], json!({"type": "text", "text": "Hello world"}));
        assert_eq!(reply["stop_reason"], "end_turn");
        assert_eq!(reply["usage"]["input_tokens"], PROMPT_TOKENS);
        assert_eq!(reply["usage"]["output_tokens"], COMPLETION_TOKENS);
    }
    let got = &gw.mock.received()[0];
    assert_eq!(got.path, "/v1/chat/completions");
    assert_eq!(got.body["messages"][0], json!({"role": "system", "content": "Be brief."}));
    assert_eq!(got.body["messages"][1]["content"], "Say hello");
}

#[tokio::test]
async fn an_anthropic_client_streams_from_an_openai_channel_with_named_events() {
    let (gw, key) = gateway_with(1, "gpt-4o-mini").await;
    let resp = gw
        .http
        .post(gw.url("/v1/messages"))
        .bearer_auth(&key)
        .json(&json!({"model": "gpt-4o-mini", "max_tokens": 100, "stream": true,
            "messages": [{"role": "user", "content": "Say hello"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let events = sse_events(resp).await;
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(names.last(), Some(&"message_stop"));
    assert!(names.contains(&"content_block_start") && names.contains(&"content_block_stop"));
    let text: String = events
        .iter()
        .filter(|(n, _)| n == "content_block_delta")
        .filter_map(|(_, d)| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| v["delta"]["text"].as_str().map(str::to_string))
        .collect();
    assert_eq!(text, "Hello world");
    let delta: Value = serde_json::from_str(&events.iter().find(|(n, _)| n == "message_delta").unwrap().1).unwrap();
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert_eq!(delta["usage"]["output_tokens"], COMPLETION_TOKENS);
}

#[tokio::test]
async fn an_anthropic_client_passes_through_to_an_anthropic_channel() {
    let (gw, key) = gateway_with(14, "claude-sonnet-4-5").await;
    gw.mock.script(Reply::Json(200, anthropic_message("Native")));
    let request = json!({"model": "claude-sonnet-4-5", "max_tokens": 64,
        "system": [{"type": "text", "text": "Cache me", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": "Hi"}], "metadata": {"user_id": "u-1"}});
    let resp = gw.http.post(gw.url("/v1/messages")).header("x-api-key", &key).json(&request).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let reply: Value = resp.json().await.unwrap();
    assert_eq!(reply, anthropic_message("Native"), "the upstream's answer is passed through as it came");
    let got = &gw.mock.received()[0];
    assert_eq!(got.body["system"], request["system"], "fields the gateway does not model survive");
    assert_eq!(got.body["metadata"], request["metadata"]);
    let logs = gw.wait_for_logs(1).await;
    assert_eq!((logs[0]["prompt_tokens"].as_i64(), logs[0]["completion_tokens"].as_i64()), (Some(12), Some(5)));
}

#[tokio::test]
async fn a_gemini_client_reaches_an_openai_channel() {
    let (gw, key) = gateway_with(1, "gpt-4o-mini").await;
    let request = json!({"systemInstruction": {"parts": [{"text": "Be brief."}]},
        "contents": [{"role": "user", "parts": [{"text": "Say hello"}]}],
        "generationConfig": {"maxOutputTokens": 50, "temperature": 0.5}});
    let resp = gw
        .http
        .post(gw.url(&format!("/v1beta/models/gpt-4o-mini:generateContent?key={key}")))
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let reply: Value = resp.json().await.unwrap();
    assert_eq!(reply["candidates"][0]["content"]["parts"][0]["text"], "Hello world");
    assert_eq!(reply["candidates"][0]["finishReason"], "STOP");
    assert_eq!(reply["usageMetadata"]["promptTokenCount"], PROMPT_TOKENS);
    let got = &gw.mock.received()[0];
    assert_eq!(got.body["messages"][0]["content"], "Be brief.");
    assert_eq!(got.body["temperature"], 0.5);

    // Streaming, key in the Gemini header.
    let resp = gw
        .http
        .post(gw.url("/v1beta/models/gpt-4o-mini:streamGenerateContent?alt=sse"))
        .header("x-goog-api-key", &key)
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let events = sse_events(resp).await;
    let chunks: Vec<Value> = events.iter().map(|(_, d)| serde_json::from_str(d).unwrap()).collect();
    let text: String = chunks
        .iter()
        .flat_map(|c| c["candidates"][0]["content"]["parts"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| p["text"].as_str().map(str::to_string))
        .collect();
    assert_eq!(text, "Hello world");
    assert_eq!(chunks.last().unwrap()["candidates"][0]["finishReason"], "STOP");
}

#[tokio::test]
async fn an_openai_client_reaches_a_gemini_channel() {
    let (gw, key) = gateway_with(24, "gemini-2.5-flash").await;
    gw.mock.script(Reply::Json(
        200,
        json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "Hi from Gemini"}]}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 4, "totalTokenCount": 13},
            "modelVersion": "gemini-2.5-flash", "responseId": "r1"}),
    ));
    let resp = gw.chat("/v1", &key, chat_body("gemini-2.5-flash")).await;
    assert_eq!(resp.status(), 200);
    let reply: Value = resp.json().await.unwrap();
    assert_eq!(reply["choices"][0]["message"]["content"], "Hi from Gemini");
    assert_eq!(reply["usage"]["prompt_tokens"], 9);
    assert_eq!(reply["usage"]["completion_tokens"], 4);
    let got = &gw.mock.received()[0];
    assert_eq!(got.path, "/v1beta/models/gemini-2.5-flash:generateContent");
    assert_eq!(got.api_key, "upstream-key");
    assert_eq!(got.body["contents"][0]["parts"][0]["text"], "Say hello");
}

#[tokio::test]
async fn errors_come_back_in_the_callers_own_shape() {
    let (gw, _key) = gateway_with(1, "gpt-4o-mini").await;
    let resp = gw
        .http
        .post(gw.url("/v1/messages"))
        .header("x-api-key", "sk-nope")
        .json(&json!({"model": "gpt-4o-mini", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "authentication_error");

    let resp = gw
        .http
        .post(gw.url("/v1beta/models/gpt-4o-mini:generateContent?key=sk-nope"))
        .json(&json!({"contents": [{"parts": [{"text": "x"}]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], 401);
    assert!(body["error"]["status"].is_string());

    // Bad input is refused before anything reaches the upstream.
    let (_, key) = gw.create_token(json!({"name": "t2", "unlimited_quota": true})).await;
    let resp = gw
        .http
        .post(gw.url("/v1/messages"))
        .header("x-api-key", &key)
        .json(&json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(body["error"]["message"].as_str().unwrap().contains("max_tokens"));
    assert!(gw.mock.received().is_empty());
}

#[tokio::test]
async fn an_openai_client_streams_from_a_gemini_channel() {
    let (gw, key) = gateway_with(24, "gemini-2.5-flash").await;
    let chunk = |text: &str, last: bool| {
        let mut c = json!({"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}],
            "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": if last { 4 } else { 1 }, "totalTokenCount": 13},
            "modelVersion": "gemini-2.5-flash", "responseId": "r2"});
        if last {
            c["candidates"][0]["finishReason"] = json!("STOP");
        }
        c
    };
    gw.mock.script(Reply::Sse {
        chunks: vec![chunk("Hi", false), chunk(" there", true)],
        delay: std::time::Duration::from_millis(5),
        done: false,
    });
    let mut body = chat_body("gemini-2.5-flash");
    body["stream"] = json!(true);
    let resp = gw.chat("/hf/v1", &key, body).await;
    assert_eq!(resp.status(), 200);
    let events = sse_events(resp).await;
    assert_eq!(events.last().unwrap().1, "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|(_, d)| serde_json::from_str(d).unwrap()).collect();
    let text: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(text, "Hi there");
    assert!(chunks.iter().all(|c| c.get("usage").is_none_or(Value::is_null)), "no usage chunk unless asked");
    let got = &gw.mock.received()[0];
    assert_eq!(got.path, "/v1beta/models/gemini-2.5-flash:streamGenerateContent");
    assert_eq!(got.query, "alt=sse");
    let logs = gw.wait_for_logs(1).await;
    assert_eq!((logs[0]["prompt_tokens"].as_i64(), logs[0]["completion_tokens"].as_i64()), (Some(9), Some(4)));
}

#[tokio::test]
async fn other_openai_endpoints_pass_through_with_usage_and_unimplemented_ones_answer_501() {
    let (gw, key) = gateway_with(1, "text-embedding-3-small,gpt-4o-mini").await;
    gw.mock.script(Reply::Json(
        200,
        json!({"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}],
        "model": "text-embedding-3-small", "usage": {"prompt_tokens": 8, "total_tokens": 8}}),
    ));
    let resp = gw
        .http
        .post(gw.url("/v1/embeddings"))
        .bearer_auth(&key)
        .json(&json!({"model": "text-embedding-3-small", "input": "hello", "encoding_format": "float"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["data"][0]["embedding"][1], 0.2);
    let got = &gw.mock.received()[0];
    assert_eq!(got.path, "/v1/embeddings");
    assert_eq!(got.body["encoding_format"], "float", "fields pass through untouched");
    let logs = gw.wait_for_logs(1).await;
    assert_eq!(logs[0]["prompt_tokens"], 8);

    // The legacy engines path names the model in the path.
    gw.mock.script(Reply::Json(
        200,
        json!({"object": "list", "data": [], "usage": {"prompt_tokens": 3, "total_tokens": 3}}),
    ));
    let resp = gw
        .http
        .post(gw.url("/hf/v1/engines/text-embedding-3-small/embeddings"))
        .bearer_auth(&key)
        .json(&json!({"input": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(gw.mock.received()[1].body["model"], "text-embedding-3-small");

    for path in ["/v1/files", "/v1/fine-tunes", "/hf/v1/files/file-1"] {
        let resp = gw.http.get(gw.url(path)).bearer_auth(&key).send().await.unwrap();
        assert_eq!(resp.status(), 501, "{path}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_implemented");
    }
}

#[tokio::test]
async fn anthropic_count_tokens_is_answered_locally_and_not_billed() {
    let (gw, key) = gateway_with(1, "gpt-4o-mini").await;
    let resp = gw
        .http
        .post(gw.url("/v1/messages/count_tokens"))
        .header("x-api-key", &key)
        .json(&json!({"model": "gpt-4o-mini", "system": "Be brief.", "messages": [{"role": "user", "content": "Hello there, how are you?"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let n = body["input_tokens"].as_i64().unwrap();
    assert!((10..40).contains(&n), "{n}");
    assert!(gw.mock.received().is_empty());
    let resp = gw
        .http
        .post(gw.url("/hf/v1/messages/count_tokens"))
        .header("x-api-key", "sk-nope")
        .json(&json!({"model": "gpt-4o-mini", "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn usage_is_counted_locally_when_the_upstream_reports_none() {
    let (gw, key) = gateway_with(1, "gpt-4o-mini").await;
    gw.mock.script(Reply::Json(200, json!({"id": "x", "object": "chat.completion", "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello, this is an answer without usage."}, "finish_reason": "stop"}]})));
    let resp = gw
        .http
        .post(gw.url("/v1/messages"))
        .header("x-api-key", &key)
        .json(
            &json!({"model": "gpt-4o-mini", "max_tokens": 50, "messages": [{"role": "user", "content": "Say hello"}]}),
        )
        .send()
        .await
        .unwrap();
    let reply: Value = resp.json().await.unwrap();
    assert!(reply["usage"]["output_tokens"].as_i64().unwrap() >= 8, "{reply}");

    // A stream without usage: the output is counted as it passes.
    let chunks = crate::mock_upstream::stream_chunks("gpt-4o-mini", &["Hello", " there", " friend"], false);
    gw.mock.script(Reply::Sse { chunks, delay: std::time::Duration::from_millis(2), done: true });
    let resp = gw
        .http
        .post(gw.url("/v1/messages"))
        .header("x-api-key", &key)
        .json(&json!({"model": "gpt-4o-mini", "max_tokens": 50, "stream": true, "messages": [{"role": "user", "content": "Say hello"}]}))
        .send()
        .await
        .unwrap();
    sse_events(resp).await;
    let logs = gw.wait_for_logs(2).await;
    for log in &logs {
        assert!(log["prompt_tokens"].as_i64().unwrap() > 0, "{log}");
        assert!(log["completion_tokens"].as_i64().unwrap() >= 3, "{log}");
    }
}

#[tokio::test]
async fn channel_settings_shape_what_the_upstream_receives_and_what_the_client_sees() {
    let mut gw = Gateway::start_bare().await;
    gw.sign_in_root().await;
    let id = gw
        .create_channel(
            json!({"name": "tuned", "type": 1, "key": "sk-up", "base_url": gw.mock.base_url(), "models": "gpt-4o-mini",
            "system_prompt": "Answer in French.", "param_override": "{\"temperature\": 0.1}",
            "headers": "{\"X-Team\": \"blue\"}", "status_code_mapping": "{\"429\": \"503\"}"}),
        )
        .await;
    let (_, channel) = gw.api("GET", &format!("/api/channel/{id}"), None).await;
    assert_eq!(channel["data"]["system_prompt"], "Answer in French.");
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;

    let mut body = chat_body("gpt-4o-mini");
    body["temperature"] = json!(0.9);
    assert_eq!(gw.chat("/v1", &key, body.clone()).await.status(), 200);
    let got = &gw.mock.received()[0];
    assert_eq!(got.body["messages"][0], json!({"role": "system", "content": "Answer in French."}));
    assert_eq!(got.body["temperature"], 0.1);
    assert_eq!(got.headers["x-team"], "blue");

    // The same settings reach a converted request (an Anthropic client on this OpenAI channel).
    let resp = gw
        .http
        .post(gw.url("/v1/messages"))
        .header("x-api-key", &key)
        .json(&json!({"model": "gpt-4o-mini", "max_tokens": 20, "system": "Be brief.", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let got = &gw.mock.received()[1];
    assert_eq!(got.body["messages"][0]["content"], "Answer in French.\n\nBe brief.");
    assert_eq!(got.body["temperature"], 0.1);

    gw.mock.script(Reply::Json(
        429,
        json!({"error": {"message": "slow down", "type": "requests", "code": "rate_limit_exceeded"}}),
    ));
    assert_eq!(gw.chat("/v1", &key, body).await.status(), 503, "429 is shown as 503 by the channel's mapping");

    let (status, refused) = gw
        .api(
            "POST",
            "/api/channel/",
            Some(json!({"name": "bad", "type": 1, "key": "k", "models": "m", "param_override": "[1]"})),
        )
        .await;
    assert_eq!(status, 400);
    assert!(refused["message"].as_str().unwrap().contains("param_override"));
}

#[tokio::test]
async fn azure_channels_are_called_by_deployment_with_their_api_version() {
    let mut gw = Gateway::start_bare().await;
    gw.sign_in_root().await;
    gw.create_channel(json!({"name": "azure", "type": 3, "key": "azure-key", "base_url": gw.mock.base_url(),
        "models": "gpt-4o-mini", "other": "2024-06-01"}))
        .await;
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    assert_eq!(gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await.status(), 200);
    let got = &gw.mock.received()[0];
    assert_eq!(got.path, "/openai/deployments/gpt-4o-mini/chat/completions");
    assert_eq!(got.query, "api-version=2024-06-01");
    assert_eq!(got.api_key, "azure-key");
    assert_eq!(got.authorization, "");
}

#[tokio::test]
async fn model_name_suffixes_turn_on_reasoning_and_reach_the_upstream_bare() {
    let (gw, key) = gateway_with(14, "claude-sonnet-4-5-thinking").await;
    gw.mock.script(Reply::Json(200, anthropic_message("Thought about it")));
    let mut body = chat_body("claude-sonnet-4-5-thinking");
    body["max_tokens"] = json!(4000);
    let resp = gw.chat("/v1", &key, body).await;
    assert_eq!(resp.status(), 200);
    let got = &gw.mock.received()[0];
    assert_eq!(got.body["model"], "claude-sonnet-4-5");
    assert_eq!(got.body["thinking"]["type"], "enabled");
    assert_eq!(got.body["thinking"]["budget_tokens"], 3200);
}

#[tokio::test]
async fn multipart_endpoints_reach_the_channel_with_the_mapped_model() {
    let mut gw = Gateway::start_bare().await;
    gw.sign_in_root().await;
    gw.create_channel(json!({"name": "audio", "type": 1, "key": "sk-up", "base_url": gw.mock.base_url(),
        "models": "whisper-1", "model_mapping": "{\"whisper-1\": \"whisper-large-v3\"}"}))
        .await;
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    gw.mock.script(Reply::Json(200, json!({"text": "bonjour"})));
    let form = reqwest::multipart::Form::new().text("model", "whisper-1").text("language", "fr").part(
        "file",
        reqwest::multipart::Part::bytes(b"ID3fakeaudio".to_vec()).file_name("a.mp3").mime_str("audio/mpeg").unwrap(),
    );
    let resp =
        gw.http.post(gw.url("/hf/v1/audio/transcriptions")).bearer_auth(&key).multipart(form).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["text"], "bonjour");
    let got = &gw.mock.received()[0];
    assert_eq!(got.path, "/v1/audio/transcriptions");
    assert!(got.headers["content-type"].to_str().unwrap().starts_with("multipart/form-data; boundary="));
    let raw = String::from_utf8_lossy(&got.raw_body);
    assert!(raw.contains("whisper-large-v3") && !raw.contains("\r\n\r\nwhisper-1\r\n"), "{raw}");
    assert!(raw.contains("ID3fakeaudio") && raw.contains("filename=\"a.mp3\""));

    let resp = gw
        .http
        .post(gw.url("/v1/audio/transcriptions"))
        .bearer_auth(&key)
        .json(&json!({"model": "whisper-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400, "a JSON body is refused with a clear message");
    assert_eq!(gw.mock.received().len(), 1);
}

#[tokio::test]
async fn the_legacy_billing_endpoints_report_the_token_in_dollars() {
    let gw = Gateway::start().await;
    let (_, key) = gw.create_token(json!({"name": "b", "remain_quota": 500_000})).await;
    assert_eq!(gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await.status(), 200);
    for prefix in ["", "/v1", "/hf/v1"] {
        let sub: Value = gw
            .http
            .get(gw.url(&format!("{prefix}/dashboard/billing/subscription")))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(sub["object"], "billing_subscription", "{prefix}");
        let limit = sub["hard_limit_usd"].as_f64().unwrap();
        assert!((limit - 1.0).abs() < 0.001, "{prefix}: remaining + used is the $1 the token started with: {limit}");
        let usage: Value = gw
            .http
            .get(gw.url(&format!("{prefix}/dashboard/billing/usage")))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(usage["total_usage"].as_f64().unwrap() > 0.0, "{prefix}: {usage}");
    }
    let (_, unlimited) = gw.create_token(json!({"name": "u", "unlimited_quota": true})).await;
    let sub: Value = gw
        .http
        .get(gw.url("/v1/dashboard/billing/subscription"))
        .bearer_auth(&unlimited)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sub["hard_limit_usd"], 100_000_000.0);
}

#[tokio::test]
async fn rerank_reaches_a_jina_channel_with_its_usage() {
    let mut gw = Gateway::start_bare().await;
    gw.sign_in_root().await;
    gw.create_channel(json!({"name": "jina", "type": 38, "key": "jina-key", "base_url": gw.mock.base_url(),
        "models": "jina-reranker-v2-base-multilingual"}))
        .await;
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    gw.mock.script(Reply::Json(200, json!({"model": "jina-reranker-v2-base-multilingual",
        "results": [{"index": 1, "relevance_score": 0.9}, {"index": 0, "relevance_score": 0.1}], "usage": {"total_tokens": 7}})));
    let resp = gw
        .http
        .post(gw.url("/v1/rerank"))
        .bearer_auth(&key)
        .json(&json!({"model": "jina-reranker-v2-base-multilingual", "query": "capital of France",
            "documents": ["Berlin", "Paris"], "top_n": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["results"][0]["index"], 1);
    let got = &gw.mock.received()[0];
    assert_eq!((got.path.as_str(), got.authorization.as_str()), ("/v1/rerank", "Bearer jina-key"));
    assert_eq!(got.body["documents"][1], "Paris");
    let logs = gw.wait_for_logs(1).await;
    assert_eq!(logs[0]["prompt_tokens"], 7);
}

#[tokio::test]
async fn a_non_stream_only_channel_answers_streaming_clients_with_sse() {
    let mut gw = Gateway::start_bare().await;
    gw.sign_in_root().await;
    gw.create_channel(json!({"name": "batch", "type": 1, "key": "sk-up", "base_url": gw.mock.base_url(),
        "models": "gpt-4o-mini", "setting": "{\"stream_support\": \"NON_STREAM_ONLY\"}"}))
        .await;
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    let mut body = chat_body("gpt-4o-mini");
    body["stream"] = json!(true);
    let resp = gw.chat("/v1", &key, body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let events = sse_events(resp).await;
    assert_eq!(events.last().unwrap().1, "[DONE]");
    let text: String = events[..events.len() - 1]
        .iter()
        .filter_map(|(_, d)| serde_json::from_str::<Value>(d).ok())
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str().map(str::to_string))
        .collect();
    assert_eq!(text, "Hello world");
    assert!(
        gw.mock.received()[0].body.get("stream").is_none_or(|s| s == &json!(false)),
        "the upstream is not asked to stream"
    );

    let resp = gw
        .http
        .post(gw.url("/v1/messages"))
        .header("x-api-key", &key)
        .json(&json!({"model": "gpt-4o-mini", "max_tokens": 20, "stream": true, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    let names: Vec<String> = sse_events(resp).await.into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        (names.first().map(String::as_str), names.last().map(String::as_str)),
        (Some("message_start"), Some("message_stop"))
    );
    let logs = gw.wait_for_logs(2).await;
    assert!(logs.iter().all(|l| l["completion_tokens"] == COMPLETION_TOKENS));

    let (status, refused) = gw
        .api(
            "POST",
            "/api/channel/",
            Some(json!({"name": "p", "type": 1, "key": "k", "models": "m", "setting": "{\"proxy\": \"ftp://h:1\"}"})),
        )
        .await;
    assert_eq!(status, 400);
    assert!(refused["message"].as_str().unwrap().contains("proxy"));
}

#[tokio::test]
async fn thinking_to_content_and_force_format_rewrite_an_openai_compatible_answer() {
    let mut gw = Gateway::start_bare().await;
    gw.sign_in_root().await;
    gw.create_channel(json!({"name": "r1", "type": 43, "key": "sk-up", "base_url": gw.mock.base_url(),
        "models": "gpt-4o-mini", "setting": "{\"thinking_to_content\": true, \"force_format\": true}"}))
        .await;
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    gw.mock.script(Reply::Json(200, json!({"id": "x", "object": "chat.completion", "model": "deepseek-reasoner",
        "choices": [{"index": 0, "message": {"role": "assistant", "reasoning_content": "Hmm.", "content": "Yes."}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4}})));
    let reply: Value = gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await.json().await.unwrap();
    assert_eq!(reply["choices"][0]["message"]["content"], "<think>\nHmm.\n</think>\n\nYes.");

    let chunk = |delta: Value| {
        json!({"id": "c", "object": "chat.completion.chunk", "model": "m", "x_vendor": 1,
        "choices": [{"index": 0, "delta": delta, "finish_reason": null}]})
    };
    let mut last = chunk(json!({}));
    last["choices"][0]["finish_reason"] = json!("stop");
    gw.mock.script(Reply::Sse {
        chunks: vec![chunk(json!({"reasoning_content": "Let me see."})), chunk(json!({"content": "Done."})), last],
        delay: std::time::Duration::from_millis(2),
        done: true,
    });
    let mut body = chat_body("gpt-4o-mini");
    body["stream"] = json!(true);
    let events = sse_events(gw.chat("/v1", &key, body).await).await;
    let chunks: Vec<Value> = events.iter().filter_map(|(_, d)| serde_json::from_str(d).ok()).collect();
    let text: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(text, "<think>\nLet me see.\n</think>\n\nDone.");
    assert!(chunks.iter().all(|c| c.get("x_vendor").is_none()), "force_format writes standard chunks");
    assert_eq!(events.last().unwrap().1, "[DONE]");
}

/// A minimal HTTP CONNECT proxy on port 0; counts the tunnels it opened.
async fn connect_proxy() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let tunnels = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = tunnels.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read_exact(&mut byte).await.is_err() {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).to_string();
                let Some(target) = head.strip_prefix("CONNECT ").and_then(|r| r.split_whitespace().next()) else {
                    return;
                };
                let Ok(mut upstream) = tokio::net::TcpStream::connect(target).await else { return };
                if client.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n").await.is_ok() {
                    counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                }
            });
        }
    });
    (format!("http://{addr}"), tunnels)
}

#[tokio::test]
async fn a_channel_with_a_proxy_reaches_its_upstream_through_it() {
    let (proxy, tunnels) = connect_proxy().await;
    let mut gw = Gateway::start_bare().await;
    gw.sign_in_root().await;
    let setting = json!({"proxy": proxy}).to_string();
    gw.create_channel(json!({"name": "proxied", "type": 1, "key": "sk-up", "base_url": gw.mock.base_url(),
        "models": "gpt-4o-mini", "setting": setting}))
        .await;
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    let resp = gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["choices"][0]["message"]["content"], "Hello world");
    assert_eq!(tunnels.load(std::sync::atomic::Ordering::SeqCst), 1, "the call went through the proxy");
    assert_eq!(gw.mock.received().len(), 1);
}

#[tokio::test]
async fn aws_bedrock_claude_is_signed_and_its_event_stream_unwrapped() {
    let mut gw = Gateway::start_bare().await;
    gw.sign_in_root().await;
    gw.create_channel(json!({"name": "bedrock", "type": 33, "key": "AKIDEXAMPLE|secret|us-east-1",
        "base_url": gw.mock.base_url(), "models": "claude-sonnet-4-5",
        "model_mapping": "{\"claude-sonnet-4-5\": \"anthropic.claude-sonnet-4-5-v1:0\"}"}))
        .await;
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;

    gw.mock.script(Reply::Json(200, anthropic_message("From Bedrock")));
    let reply: Value = gw.chat("/v1", &key, chat_body("claude-sonnet-4-5")).await.json().await.unwrap();
    assert_eq!(reply["choices"][0]["message"]["content"], "From Bedrock");
    let got = &gw.mock.received()[0];
    assert_eq!(got.path, "/model/anthropic.claude-sonnet-4-5-v1%3A0/invoke");
    assert!(got.authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"), "{}", got.authorization);
    assert_eq!(got.body["anthropic_version"], "bedrock-2023-05-31");
    assert!(got.body.get("model").is_none());

    let Reply::Events(events) = anthropic_events() else { unreachable!() };
    let mut frames = Vec::new();
    for (_, data) in events {
        frames.extend_from_slice(&relay_svc::dispatch::eventstream::frame(&data.to_string()));
    }
    gw.mock.script(Reply::Raw("application/vnd.amazon.eventstream", frames.into()));
    let mut body = chat_body("claude-sonnet-4-5");
    body["stream"] = json!(true);
    let events = sse_events(gw.chat("/v1", &key, body).await).await;
    assert_eq!(events.last().unwrap().1, "[DONE]");
    let text: String = events
        .iter()
        .filter_map(|(_, d)| serde_json::from_str::<Value>(d).ok())
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str().map(str::to_string))
        .collect();
    assert_eq!(text, "Hello there");
    assert_eq!(gw.mock.received()[1].path, "/model/anthropic.claude-sonnet-4-5-v1%3A0/invoke-with-response-stream");
    let logs = gw.wait_for_logs(2).await;
    assert!(logs.iter().all(|l| l["completion_tokens"] == 5));

    let (status, refused) = gw
        .api("POST", "/api/channel/", Some(json!({"name": "b2", "type": 33, "key": "just-a-key", "models": "m"})))
        .await;
    assert_eq!(status, 400);
    assert!(refused["message"].as_str().unwrap().contains("AK|SK|region"));
}

#[tokio::test]
async fn vertex_ai_serves_claude_and_gemini_with_a_service_account_token() {
    let mut gw = Gateway::start_bare().await;
    gw.sign_in_root().await;
    let account = json!({"type": "service_account", "project_id": "proj", "client_email": "svc@proj.iam.gserviceaccount.com",
        "private_key": include_str!("../fixtures/vertex-test-key.pem"), "token_uri": format!("{}/token", gw.mock.base_url())});
    gw.create_channel(json!({"name": "vertex", "type": 41, "key": account.to_string(), "base_url": gw.mock.base_url(),
        "other": "us-east5", "models": "claude-sonnet-4-5,gemini-2.5-flash"}))
        .await;
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;

    gw.mock.script(Reply::Json(200, json!({"access_token": "ya29.test", "expires_in": 3600, "token_type": "Bearer"})));
    gw.mock.script(Reply::Json(200, anthropic_message("From Vertex Claude")));
    let reply: Value = gw.chat("/v1", &key, chat_body("claude-sonnet-4-5")).await.json().await.unwrap();
    assert_eq!(reply["choices"][0]["message"]["content"], "From Vertex Claude");
    let got = gw.mock.received();
    assert_eq!(got[0].path, "/token");
    assert!(
        String::from_utf8_lossy(&got[0].raw_body)
            .starts_with("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=ey")
    );
    assert_eq!(
        got[1].path,
        "/v1/projects/proj/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5:rawPredict"
    );
    assert_eq!(got[1].authorization, "Bearer ya29.test");
    assert_eq!(got[1].body["anthropic_version"], "vertex-2023-10-16");

    // The token is reused; Gemini models go to Google's publisher.
    gw.mock.script(Reply::Json(
        200,
        json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "From Vertex Gemini"}]},
        "finishReason": "STOP", "index": 0}], "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2}}),
    ));
    let reply: Value = gw.chat("/v1", &key, chat_body("gemini-2.5-flash")).await.json().await.unwrap();
    assert_eq!(reply["choices"][0]["message"]["content"], "From Vertex Gemini");
    let got = gw.mock.received();
    assert_eq!(got.len(), 3, "no second token request");
    assert_eq!(
        got[2].path,
        "/v1/projects/proj/locations/us-east5/publishers/google/models/gemini-2.5-flash:generateContent"
    );
    assert_eq!(got[2].authorization, "Bearer ya29.test");

    let (status, refused) = gw
        .api("POST", "/api/channel/", Some(json!({"name": "v2", "type": 41, "key": "not json", "models": "m"})))
        .await;
    assert_eq!(status, 400);
    assert!(refused["message"].as_str().unwrap().contains("service-account"));
}
