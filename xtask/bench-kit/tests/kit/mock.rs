//! The mock upstream answers like OpenAI, paces streams as profiled and counts what it did.

use std::time::{Duration, Instant};

use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{body_text, post_chat, read_events, send, spawn_mock, stats, stats_eventually};

#[tokio::test]
async fn non_stream_answer_echoes_the_model_and_always_reports_usage() {
    let mock = spawn_mock(&[]).await;
    let response = post_chat(mock.addr, r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
    assert!(response.headers().contains_key(CONTENT_LENGTH));
    let answer: Value = serde_json::from_str(&body_text(response).await).unwrap();
    assert_eq!(answer["object"], "chat.completion");
    assert_eq!(answer["model"], "gpt-4o");
    assert_eq!(answer["choices"][0]["message"]["role"], "assistant");
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    assert_eq!(answer["usage"], json!({"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30}));
}

#[tokio::test]
async fn profile_latency_delays_the_answer() {
    let mock = spawn_mock(&["slow=150:0:0"]).await;
    let start = Instant::now();
    let response = post_chat(mock.addr, r#"{"model":"slow","messages":[]}"#).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(start.elapsed() >= Duration::from_millis(150), "answered after {:?}", start.elapsed());
}

#[tokio::test]
async fn stream_sends_paced_chunks_then_finish_usage_and_done() {
    let mock = spawn_mock(&["paced=0:5:60"]).await;
    let start = Instant::now();
    let response = post_chat(
        mock.addr,
        r#"{"model":"paced","stream":true,"stream_options":{"include_usage":true},"messages":[]}"#,
    )
    .await;
    assert_eq!(response.headers()[CONTENT_TYPE], "text/event-stream");
    let (events, _) = read_events(response, start).await;
    assert_eq!(events.len(), 5 + 3, "5 content + finish + usage + [DONE]");

    for event in &events[..5] {
        let chunk: Value = serde_json::from_str(&event.data).unwrap();
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["model"], "paced");
        assert_eq!(chunk["choices"][0]["delta"]["content"], "tok");
    }
    let finish: Value = serde_json::from_str(&events[5].data).unwrap();
    assert_eq!(finish["choices"][0]["delta"], json!({}));
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    let usage: Value = serde_json::from_str(&events[6].data).unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["total_tokens"], 30);
    assert_eq!(events[7].data, "[DONE]");

    // The server cannot send chunk i before i intervals have passed since the request, so this lower
    // bound is exact; gaps between arrivals are not (pacing is deadline-based and a late read shortens
    // the next gap). The upper bound only has to survive a loaded CI box.
    for (i, event) in events[..5].iter().enumerate() {
        assert!(event.at >= Duration::from_millis(60) * i as u32, "chunk {i} arrived at {:?}", event.at);
    }
    assert!(events[4].at < Duration::from_secs(3), "last chunk arrived at {:?}", events[4].at);
}

#[tokio::test]
async fn stream_without_include_usage_has_no_usage_chunk() {
    let mock = spawn_mock(&[]).await;
    let response = post_chat(mock.addr, r#"{"model":"unlisted","stream":true}"#).await;
    let (events, _) = read_events(response, Instant::now()).await;
    assert_eq!(events.len(), 8 + 2, "default profile: 8 content + finish + [DONE]");
    assert!(events.iter().all(|event| !event.data.contains("usage")));
    assert_eq!(events.last().unwrap().data, "[DONE]");
}

#[tokio::test]
async fn stats_count_requests_streams_and_frames() {
    let mock = spawn_mock(&["short=0:3:0"]).await;
    assert_eq!(stats(mock.addr).await, Default::default());
    body_text(post_chat(mock.addr, r#"{"model":"short"}"#).await).await;
    let response =
        post_chat(mock.addr, r#"{"model":"short","stream":true,"stream_options":{"include_usage":true}}"#).await;
    let (events, _) = read_events(response, Instant::now()).await;
    let snapshot = stats_eventually(mock.addr, |s| s.streams_open == 0).await;
    assert_eq!(snapshot.requests, 2);
    assert_eq!(snapshot.streams_open, 0);
    assert_eq!(snapshot.frames_sent, events.len() as u64);
    assert_eq!(snapshot.frames_sent, 3 + 3);
}

#[tokio::test]
async fn a_client_leaving_mid_stream_closes_the_stream() {
    let mock = spawn_mock(&["long=0:100:50"]).await;
    let response = post_chat(mock.addr, r#"{"model":"long","stream":true}"#).await;
    assert_eq!(stats(mock.addr).await.streams_open, 1);
    drop(response);
    let snapshot = stats_eventually(mock.addr, |s| s.streams_open == 0).await;
    assert_eq!(snapshot.streams_open, 0);
    assert!(snapshot.frames_sent < 100);
}

#[tokio::test]
async fn bad_json_is_rejected_and_other_routes_are_not_found() {
    let mock = spawn_mock(&[]).await;
    let response = post_chat(mock.addr, "{not json").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let error: Value = serde_json::from_str(&body_text(response).await).unwrap();
    assert_eq!(error["error"]["type"], "invalid_request_error");
    assert_eq!(send(mock.addr, Method::GET, "/v1/models", "").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(send(mock.addr, Method::GET, "/v1/chat/completions", "").await.status(), StatusCode::NOT_FOUND);
}
