//! Chat completions through the relay: non-stream, stream, the `/hf/v1` alias, billing and logs.

use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};

use crate::harness::{Gateway, chat_body};
use crate::mock_upstream::{COMPLETION_TOKENS, Gate, PROMPT_TOKENS, Reply, Step, stream_chunks};

/// gpt-4o-mini: (12 + 5×4) × 0.075 = 2.4 → 2 quota.
const EXPECTED_QUOTA: i64 = 2;

#[tokio::test]
async fn non_streaming_chat_is_relayed_billed_once_and_logged() {
    let gw = Gateway::start().await;
    let (token_id, key) = gw.create_token(json!({"name": "t", "remain_quota": 1000})).await;
    let resp = gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("x-veloera-request-id").is_some());
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "Hello world");
    assert_eq!(body["usage"]["prompt_tokens"], PROMPT_TOKENS);

    let got = gw.mock.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].path, "/v1/chat/completions");
    assert_eq!(got[0].authorization, "Bearer sk-upstream-1");
    assert_eq!(got[0].body["messages"][0]["content"], "Say hello");

    let logs = gw.wait_for_logs(1).await;
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0]["type"], 2);
    assert_eq!(logs[0]["model_name"], "gpt-4o-mini");
    assert_eq!(logs[0]["prompt_tokens"], PROMPT_TOKENS);
    assert_eq!(logs[0]["completion_tokens"], COMPLETION_TOKENS);
    assert_eq!(logs[0]["quota"], EXPECTED_QUOTA);
    assert_eq!(logs[0]["token_name"], "t");
    assert_eq!(logs[0]["username"], "root");
    assert_eq!(logs[0]["is_stream"], false);

    let token = gw.token(token_id).await;
    assert_eq!(token["remain_quota"], 1000 - EXPECTED_QUOTA);
    assert_eq!(token["used_quota"], EXPECTED_QUOTA);
    assert_eq!(gw.root_self().await["used_quota"], EXPECTED_QUOTA);
    // Nothing more arrives later: the charge happened exactly once.
    gw.wait_all_settled().await;
    assert_eq!(gw.wait_for_logs(1).await.len(), 1);
    assert_eq!(gw.token(token_id).await["used_quota"], EXPECTED_QUOTA);
}

async fn sse_payloads(resp: reqwest::Response) -> Vec<String> {
    let text = resp.text().await.unwrap();
    text.split("\n\n").filter_map(|f| f.strip_prefix("data: ")).map(str::to_string).collect()
}

#[tokio::test]
async fn streaming_chat_hides_the_usage_chunk_it_asked_for_and_bills_it() {
    let gw = Gateway::start().await;
    let (token_id, key) = gw.create_token(json!({"name": "s", "unlimited_quota": true})).await;
    let mut body = chat_body("gpt-4o-mini");
    body["stream"] = json!(true);
    let resp = gw.chat("/v1", &key, body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let payloads = sse_payloads(resp).await;
    assert_eq!(payloads.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = payloads[..payloads.len() - 1].iter().map(|p| serde_json::from_str(p).unwrap()).collect();
    let text: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(text, "Hello world");
    assert!(chunks.iter().all(|c| c.get("usage").is_none()), "usage chunk leaked: {chunks:?}");

    // The upstream was asked for usage although the client did not ask.
    assert_eq!(gw.mock.received()[0].body["stream_options"]["include_usage"], true);
    let logs = gw.wait_for_logs(1).await;
    assert_eq!(logs[0]["is_stream"], true);
    assert_eq!(logs[0]["quota"], EXPECTED_QUOTA);
    assert_eq!(gw.token(token_id).await["used_quota"], EXPECTED_QUOTA);
}

#[tokio::test]
async fn streaming_chat_keeps_the_usage_chunk_when_the_client_asked() {
    let gw = Gateway::start().await;
    let (_, key) = gw.create_token(json!({"name": "s", "unlimited_quota": true})).await;
    let mut body = chat_body("gpt-4o-mini");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let payloads = sse_payloads(gw.chat("/v1", &key, body).await).await;
    let usage_chunk: Value = serde_json::from_str(&payloads[payloads.len() - 2]).unwrap();
    assert_eq!(usage_chunk["usage"]["completion_tokens"], COMPLETION_TOKENS);
}

#[tokio::test]
async fn stream_chunks_are_forwarded_as_they_arrive() {
    let gw = Gateway::start().await;
    let (_, key) = gw.create_token(json!({"name": "s", "unlimited_quota": true})).await;
    // The upstream sends its first chunk and then holds everything else until the test has read that chunk
    // from the relay: a relay that buffered would never deliver it.
    let hold = Gate::new();
    let mut chunks = stream_chunks("gpt-4o-mini", &["first", "second"], true).into_iter().map(Step::Chunk);
    let mut steps: Vec<Step> = chunks.next().into_iter().chain([Step::Until(hold.clone())]).collect();
    steps.extend(chunks);
    steps.push(Step::Frame("data: [DONE]\n\n".into()));
    gw.mock.script(Reply::Steps(steps));
    let mut body = chat_body("gpt-4o-mini");
    body["stream"] = json!(true);
    let resp = gw.chat("/v1", &key, body).await;
    let mut stream = resp.bytes_stream();
    let first = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("the first chunk was held back while the upstream waited: buffered?")
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&first).contains("first"));
    assert!(!String::from_utf8_lossy(&first).contains("second"));
    hold.open();
    let mut rest = Vec::new();
    while let Some(chunk) = stream.next().await {
        rest.extend_from_slice(&chunk.unwrap());
    }
    let rest = String::from_utf8_lossy(&rest);
    assert!(rest.contains("second") && rest.ends_with("data: [DONE]\n\n"), "{rest}");
}

#[tokio::test]
async fn hf_v1_is_an_exact_alias_of_v1() {
    let gw = Gateway::start().await;
    let (_, key) = gw.create_token(json!({"name": "hf", "unlimited_quota": true})).await;
    let resp = gw.chat("/hf/v1", &key, chat_body("gpt-4o-mini")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(gw.mock.received()[0].path, "/v1/chat/completions");

    let mut body = chat_body("gpt-4o-mini");
    body["stream"] = json!(true);
    let payloads = sse_payloads(gw.chat("/hf/v1", &key, body).await).await;
    assert_eq!(payloads.last().unwrap(), "[DONE]");

    let models: Value =
        gw.http.get(gw.url("/hf/v1/models")).bearer_auth(&key).send().await.unwrap().json().await.unwrap();
    assert_eq!(models["object"], "list");
    let unknown = gw.http.get(gw.url("/hf/v1/no-such-route")).bearer_auth(&key).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    let err: Value = unknown.json().await.unwrap();
    assert!(err["error"]["message"].is_string());
    gw.wait_for_logs(2).await;
}

#[tokio::test]
async fn models_lists_only_what_the_token_may_use() {
    let gw = Gateway::start().await;
    let (_, all) = gw.create_token(json!({"name": "all", "unlimited_quota": true})).await;
    let (_, one) = gw
        .create_token(
            json!({"name": "one", "unlimited_quota": true, "model_limits_enabled": true, "model_limits": "gpt-4o"}),
        )
        .await;
    let ids = |v: Value| -> Vec<String> {
        v["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_string()).collect()
    };
    let list: Value = gw.http.get(gw.url("/v1/models")).bearer_auth(&all).send().await.unwrap().json().await.unwrap();
    assert_eq!(ids(list), vec!["gpt-4o", "gpt-4o-mini"]);
    let list: Value = gw.http.get(gw.url("/v1/models")).bearer_auth(&one).send().await.unwrap().json().await.unwrap();
    assert_eq!(ids(list), vec!["gpt-4o"]);
    let one_model = gw.http.get(gw.url("/v1/models/gpt-4o-mini")).bearer_auth(&one).send().await.unwrap();
    assert_eq!(one_model.status(), 404);
}

#[tokio::test]
async fn upstream_failure_is_a_502_and_costs_nothing() {
    let gw = Gateway::start().await;
    let (token_id, key) = gw.create_token(json!({"name": "t", "remain_quota": 1000})).await;
    gw.mock.script(Reply::Json(500, json!({"error": {"message": "internal detail at 10.1.2.3"}})));
    let resp = gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await;
    assert_eq!(resp.status(), 502);
    let body: Value = resp.json().await.unwrap();
    assert!(!body.to_string().contains("10.1.2.3"), "{body}");
    assert_eq!(body["error"]["type"], "upstream_error");
    // A following good request is billed; the failed one never is.
    assert_eq!(gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await.status(), 200);
    let logs = gw.wait_for_logs(1).await;
    gw.wait_all_settled().await;
    assert_eq!(gw.wait_for_logs(1).await.len(), logs.len());
    assert_eq!(gw.token(token_id).await["used_quota"], EXPECTED_QUOTA);
}

#[tokio::test]
async fn a_stream_cut_midway_ends_with_an_error_event_not_done() {
    let gw = Gateway::start().await;
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    let mut chunks = stream_chunks("gpt-4o-mini", &["partial"], false);
    chunks.truncate(1);
    gw.mock.script(Reply::Sse { chunks, delay: Duration::ZERO, done: false });
    let mut body = chat_body("gpt-4o-mini");
    body["stream"] = json!(true);
    let payloads = sse_payloads(gw.chat("/v1", &key, body).await).await;
    assert!(payloads[0].contains("partial"));
    let last: Value = serde_json::from_str(payloads.last().unwrap()).unwrap();
    assert!(last["error"]["message"].is_string(), "{payloads:?}");
    assert!(!payloads.iter().any(|p| p == "[DONE]"));
}

#[tokio::test]
async fn malformed_requests_are_refused_before_the_upstream() {
    let gw = Gateway::start().await;
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    let bad = gw.http.post(gw.url("/v1/chat/completions")).bearer_auth(&key).body("{not json").send().await.unwrap();
    assert_eq!(bad.status(), 400);
    let err: Value = bad.json().await.unwrap();
    assert_eq!(err["error"]["type"], "invalid_request_error");
    let no_model = gw.chat("/v1", &key, json!({"messages": [{"role": "user", "content": "x"}]})).await;
    assert_eq!(no_model.status(), 400);
    let huge = "x".repeat(2 * 1024 * 1024);
    let too_big =
        gw.chat("/v1", &key, json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": huge}]})).await;
    assert_eq!(too_big.status(), 413);
    assert!(gw.mock.received().is_empty());
}
