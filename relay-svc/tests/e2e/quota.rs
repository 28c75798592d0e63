//! Quota under concurrency: requests are admitted against leased reservations, so parallel requests against a
//! balance that covers only some of them never push the token or the user below zero by more than one request's
//! reservation, and every answered request is billed exactly once.

use serde_json::{Value, json};

use crate::harness::Gateway;

/// gpt-4o-mini with the mock's usage (12 prompt, 5 completion): (12 + 5×4) × 0.075 = 2.4 → 2 quota.
const COST: i64 = 2;

fn capped() -> Value {
    json!({"model": "gpt-4o-mini", "max_tokens": 5, "messages": [{"role": "user", "content": "Say hello"}]})
}

async fn fire(gw: &Gateway, key: &str, n: usize) -> usize {
    let sends = (0..n).map(|_| gw.chat("/v1", key, capped()));
    futures::future::join_all(sends).await.iter().filter(|r| r.status() == 200).count()
}

#[tokio::test]
async fn parallel_requests_never_overdraw_a_token_beyond_one_reservation() {
    let gw = Gateway::start().await;
    let (id, key) = gw.create_token(json!({"name": "small", "remain_quota": 20})).await;
    let answered = fire(&gw, &key, 30).await;
    assert!(answered >= 5, "the balance covers several requests; only {answered} answered");
    assert!(answered <= 11, "a balance of 20 at {COST} a request answered {answered}");
    gw.wait_for_logs(answered).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let token = gw.token(id).await;
    assert_eq!(token["used_quota"], answered as i64 * COST, "{token}");
    assert_eq!(token["remain_quota"], 20 - answered as i64 * COST, "{token}");
    assert!(token["remain_quota"].as_i64().unwrap() >= -4, "overdraft beyond one reservation: {token}");
    assert_eq!(gw.mock.chat_requests(), answered, "refused requests never reach the upstream");
}

#[tokio::test]
async fn parallel_requests_never_overdraw_a_user_beyond_one_reservation() {
    let gw = Gateway::start().await;
    let (_, key) = gw.create_token(json!({"name": "unlimited", "unlimited_quota": true})).await;
    gw.sql("UPDATE users SET quota = 20, used_quota = 0 WHERE username = 'root'").await;
    let answered = fire(&gw, &key, 30).await;
    assert!((5..=11).contains(&answered), "{answered} answered");
    gw.wait_for_logs(answered).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let root = gw.root_self().await;
    assert_eq!(root["used_quota"], answered as i64 * COST, "{root}");
    let left = root["quota"].as_i64().unwrap();
    assert!(left >= -4, "overdraft beyond one reservation: {root}");
}

#[tokio::test]
async fn an_upstream_failure_gives_the_reservation_back() {
    let gw = Gateway::start().await;
    let (id, key) = gw.create_token(json!({"name": "t", "remain_quota": 100})).await;
    gw.mock.script(crate::mock_upstream::Reply::Json(500, json!({"error": {"message": "boom"}})));
    assert_eq!(gw.chat("/v1", &key, capped()).await.status(), 502);
    assert_eq!(gw.chat("/v1", &key, capped()).await.status(), 200);
    gw.wait_for_logs(1).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let token = gw.token(id).await;
    assert_eq!(
        (token["used_quota"].as_i64(), token["remain_quota"].as_i64()),
        (Some(COST), Some(100 - COST)),
        "{token}"
    );
}

#[tokio::test]
async fn a_client_that_hangs_up_mid_stream_pays_for_what_it_received() {
    use crate::mock_upstream::{Reply, Step, stream_chunks};
    let gw = Gateway::start().await;
    let (id, key) = gw.create_token(json!({"name": "t", "remain_quota": 10000})).await;
    let chunks = stream_chunks("gpt-4o-mini", &["A fairly long first piece of the answer"; 3], true);
    let mut steps = vec![Step::Chunk(chunks[0].clone()), Step::Wait(std::time::Duration::from_secs(5))];
    steps.extend(chunks[1..].iter().cloned().map(Step::Chunk));
    gw.mock.script(Reply::Steps(steps));
    let mut body = json!({"model": "gpt-4o-mini", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    body["max_tokens"] = json!(100);
    let mut resp = gw.chat("/v1", &key, body).await;
    let first = resp.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("first piece"));
    drop(resp);
    let logs = gw.wait_for_logs(1).await;
    assert!(logs[0]["completion_tokens"].as_i64().unwrap() > 0, "{}", logs[0]);
    assert!(logs[0]["quota"].as_i64().unwrap() > 0, "{}", logs[0]);
    let token = gw.token(id).await;
    assert_eq!(token["used_quota"], logs[0]["quota"]);
}

#[tokio::test]
async fn an_answer_that_says_nothing_is_free() {
    use crate::mock_upstream::Reply;
    let gw = Gateway::start().await;
    let (id, key) = gw.create_token(json!({"name": "t", "remain_quota": 1000})).await;
    gw.mock.script(Reply::Json(
        200,
        json!({"id": "x", "object": "chat.completion", "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": ""}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 0, "total_tokens": 12}}),
    ));
    assert_eq!(gw.chat("/v1", &key, capped()).await.status(), 200);
    let empty_stream = vec![
        json!({"id": "c", "object": "chat.completion.chunk", "model": "gpt-4o-mini", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]}),
        json!({"id": "c", "object": "chat.completion.chunk", "model": "gpt-4o-mini", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
        json!({"id": "c", "object": "chat.completion.chunk", "model": "gpt-4o-mini", "choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 0, "total_tokens": 12}}),
    ];
    gw.mock.script(Reply::Sse { chunks: empty_stream, delay: std::time::Duration::from_millis(1), done: true });
    let mut streamed = capped();
    streamed["stream"] = json!(true);
    let text = gw.chat("/v1", &key, streamed).await.text().await.unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    let logs = gw.wait_for_logs(2).await;
    assert!(logs.iter().all(|l| l["quota"] == 0), "{logs:?}");
    assert_eq!(gw.token(id).await["used_quota"], 0);
}
