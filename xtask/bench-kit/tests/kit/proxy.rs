//! The bare proxy relays answers from the mock byte for byte, streams included, and maps a dead
//! upstream to 502.

use std::time::{Duration, Instant};

use hyper::header::CONTENT_TYPE;
use hyper::{Method, StatusCode};
use tokio::net::TcpListener;

use crate::harness::{body_text, post_chat, read_events, send, spawn_mock, spawn_proxy, stats, stats_eventually};

#[tokio::test]
async fn non_stream_answer_is_relayed_unchanged() {
    let mock = spawn_mock(&[]).await;
    let proxy = spawn_proxy(mock.addr).await;
    let request = r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#;
    let direct = post_chat(mock.addr, request).await;
    let relayed = post_chat(proxy.addr, request).await;
    assert_eq!(relayed.status(), direct.status());
    assert_eq!(relayed.headers()[CONTENT_TYPE], direct.headers()[CONTENT_TYPE]);
    assert_eq!(body_text(relayed).await, body_text(direct).await);
    assert_eq!(stats(mock.addr).await.requests, 2);
}

#[tokio::test]
async fn stream_is_relayed_unchanged_and_keeps_its_pacing() {
    let mock = spawn_mock(&["paced=0:4:60"]).await;
    let proxy = spawn_proxy(mock.addr).await;
    let request = r#"{"model":"paced","stream":true,"stream_options":{"include_usage":true}}"#;
    let (_, direct) = read_events(post_chat(mock.addr, request).await, Instant::now()).await;
    let start = Instant::now();
    let relayed = post_chat(proxy.addr, request).await;
    assert_eq!(relayed.headers()[CONTENT_TYPE], "text/event-stream");
    let (events, raw) = read_events(relayed, start).await;
    assert_eq!(raw, direct);
    assert_eq!(events.len(), 4 + 3);
    // Frames arrive one by one through the proxy rather than in one burst at the end; the ideal
    // spread is 180 ms, half of it leaves room for a late first read.
    let spread = events[3].at - events[0].at;
    assert!(spread >= Duration::from_millis(90), "content spread over {spread:?}");
    assert!(events[3].at >= Duration::from_millis(180), "last chunk arrived at {:?}", events[3].at);
    let snapshot = stats_eventually(mock.addr, |s| s.streams_open == 0).await;
    assert_eq!(snapshot.frames_sent, 2 * 7);
}

#[tokio::test]
async fn upstream_statuses_pass_through() {
    let mock = spawn_mock(&[]).await;
    let proxy = spawn_proxy(mock.addr).await;
    assert_eq!(send(proxy.addr, Method::GET, "/nowhere?x=1", "").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(post_chat(proxy.addr, "{").await.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn unreachable_upstream_is_a_bad_gateway() {
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = closed.local_addr().unwrap();
    drop(closed);
    let proxy = spawn_proxy(dead).await;
    assert_eq!(post_chat(proxy.addr, r#"{"model":"x"}"#).await.status(), StatusCode::BAD_GATEWAY);
}
