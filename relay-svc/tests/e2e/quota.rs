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
    gw.wait_all_settled().await;
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
    gw.wait_all_settled().await;
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
    gw.wait_all_settled().await;
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
async fn a_client_that_hangs_up_mid_converted_stream_pays_for_what_it_received() {
    use crate::mock_upstream::{Reply, Step, stream_chunks};
    let gw = Gateway::start().await;
    let (id, key) = gw.create_token(json!({"name": "t", "remain_quota": 10000})).await;
    let chunks = stream_chunks("gpt-4o-mini", &["A fairly long first piece of the answer"; 3], true);
    let mut steps = vec![Step::Chunk(chunks[0].clone()), Step::Wait(std::time::Duration::from_secs(5))];
    steps.extend(chunks[1..].iter().cloned().map(Step::Chunk));
    gw.mock.script(Reply::Steps(steps));
    // An Anthropic client on an OpenAI channel: the answer is converted as it passes.
    let body = json!({"model": "gpt-4o-mini", "stream": true, "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}]});
    let mut resp = gw.http.post(gw.url("/v1/messages")).header("x-api-key", &key).json(&body).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut seen = String::new();
    while !seen.contains("first piece") {
        let piece = resp.chunk().await.unwrap().expect("the first piece arrives before the upstream pauses");
        seen.push_str(&String::from_utf8_lossy(&piece));
    }
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

/// A request whose reservation is larger than the balance left: refused before anything reaches the upstream, in
/// the caller's own error shape, with Veloera's words.
#[tokio::test]
async fn a_request_larger_than_the_token_balance_is_refused_in_every_format() {
    let gw = Gateway::start().await;
    let (id, key) = gw.create_token(json!({"name": "one", "remain_quota": 1})).await;
    let big = json!({"model": "gpt-4o-mini", "max_tokens": 100000, "messages": [{"role": "user", "content": "hi"}]});
    let resp = gw.chat("/v1", &key, big).await;
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "pre_consume_token_quota_failed", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("token quota is not enough, token remain quota: 1, need quota: "), "{message}");

    let resp = gw
        .http
        .post(gw.url("/v1/messages"))
        .header("x-api-key", &key)
        .json(&json!({"model": "gpt-4o-mini", "max_tokens": 100000, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["type"], "error", "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("quota is not enough"), "{body}");

    let resp = gw
        .http
        .post(gw.url(&format!("/v1beta/models/gpt-4o-mini:generateContent?key={key}")))
        .json(&json!({"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": {"maxOutputTokens": 100000}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], 403, "{body}");
    assert_eq!(body["error"]["status"], "PERMISSION_DENIED", "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("quota is not enough"), "{body}");

    assert!(gw.mock.received().is_empty(), "nothing is sent for a refused request");
    let token = gw.token(id).await;
    assert_eq!((token["remain_quota"].as_i64(), token["used_quota"].as_i64()), (Some(1), Some(0)), "{token}");
}

#[tokio::test]
async fn a_request_larger_than_the_user_balance_is_refused_even_with_an_unlimited_token() {
    let gw = Gateway::start().await;
    let (_, key) = gw.create_token(json!({"name": "unlimited", "unlimited_quota": true})).await;
    gw.sql("UPDATE users SET quota = 1 WHERE username = 'root'").await;
    let big = json!({"model": "gpt-4o-mini", "max_tokens": 100000, "messages": [{"role": "user", "content": "hi"}]});
    let resp = gw.chat("/v1", &key, big.clone()).await;
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "insufficient_user_quota", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("user quota is not enough, user quota: 1, need quota: "), "{message}");
    assert_eq!(gw.mock.chat_requests(), 0);
    // Once the user's balance covers the reservation, the unlimited token needs nothing more.
    gw.sql("UPDATE users SET quota = 100000000 WHERE username = 'root'").await;
    assert_eq!(gw.chat("/v1", &key, big).await.status(), 200);
}

/// Without `max_tokens` the default estimate (500 output tokens) is reserved, and must fit too.
#[tokio::test]
async fn a_request_without_max_tokens_reserves_the_default_estimate() {
    let gw = Gateway::start().await;
    let uncapped = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hello"}]});
    // (prompt ≈ 25 + 500 × 4) × 0.075 ≈ 152: 100 does not cover it, 200 does.
    let (_, small) = gw.create_token(json!({"name": "small", "remain_quota": 100})).await;
    let resp = gw.chat("/v1", &small, uncapped.clone()).await;
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("token quota is not enough"), "{body}");
    assert_eq!(gw.mock.chat_requests(), 0);
    let (_, enough) = gw.create_token(json!({"name": "enough", "remain_quota": 200})).await;
    assert_eq!(gw.chat("/v1", &enough, uncapped).await.status(), 200);
}

/// `n` answers cost `n` times the output: the reservation says so.
#[tokio::test]
async fn n_multiplies_the_reservation() {
    let gw = Gateway::start().await;
    let (_, key) = gw.create_token(json!({"name": "t", "remain_quota": 2000})).await;
    let asking = |n: u64| json!({"model": "gpt-4o-mini", "max_tokens": 100, "n": n, "messages": [{"role": "user", "content": "hi"}]});
    // 128 × 100 × 4 × 0.075 = 3840 > 2000.
    let resp = gw.chat("/v1", &key, asking(128)).await;
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("need quota: 38"), "{message}");
    assert_eq!(gw.mock.chat_requests(), 0, "the upstream never sees n=128");
    // 2 × 100 × 4 × 0.075 = 60: fits.
    assert_eq!(gw.chat("/v1", &key, asking(2)).await.status(), 200);

    // The same for completions' `best_of`, image `n` and Gemini's `candidateCount`.
    let (_, key) = gw.create_token(json!({"name": "t2", "remain_quota": 2000})).await;
    let resp = gw
        .http
        .post(gw.url("/v1/completions"))
        .bearer_auth(&key)
        .json(&json!({"model": "gpt-4o-mini", "prompt": "hi", "max_tokens": 100, "best_of": 128}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = gw
        .http
        .post(gw.url(&format!("/v1beta/models/gpt-4o-mini:generateContent?key={key}")))
        .json(&json!({"contents": [{"parts": [{"text": "hi"}]}],
            "generationConfig": {"maxOutputTokens": 100, "candidateCount": 128}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    gw.set_options(&[("ModelPrice", r#"{"dall-e-3": 0.04}"#)]).await;
    gw.create_channel(json!({"name": "images", "type": 1, "key": "sk-upstream-2", "base_url": gw.mock.base_url(), "models": "dall-e-3"}))
        .await;
    // $0.04 × 500,000 = 20,000 quota a picture.
    let (_, rich) = gw.create_token(json!({"name": "rich", "remain_quota": 1_000_000})).await;
    let picture = |n: u64| json!({"model": "dall-e-3", "prompt": "a cat", "n": n});
    let send = |n: u64| gw.http.post(gw.url("/v1/images/generations")).bearer_auth(&rich).json(&picture(n)).send();
    assert_eq!(send(128).await.unwrap().status(), 403, "128 pictures are 2,560,000");
    assert!(gw.mock.received().iter().all(|r| r.body["n"] != 128), "nothing with n=128 was sent");
}

/// Two relays on one control, many parallel requests of a few shapes each: every answered request was reserved
/// in full, so the balance never goes below zero (the mock's usage is always below the estimate), and what was
/// answered is billed exactly.
#[tokio::test]
async fn parallel_requests_across_two_relays_never_overdraw_the_balance() {
    let gw = Gateway::start().await;
    let (id, key) = gw.create_token(json!({"name": "shared", "remain_quota": 30})).await;
    let mut second_config = crate::harness::relay_config(&gw.control);
    second_config.relay_id = "second-relay".into();
    let mut second = crate::harness::start_relay(second_config).await;
    let shapes = [
        json!({"model": "gpt-4o-mini", "max_tokens": 5, "messages": [{"role": "user", "content": "Say hello"}]}),
        json!({"model": "gpt-4o-mini", "max_tokens": 20, "messages": [{"role": "user", "content": "Say hello"}]}),
        json!({"model": "gpt-4o-mini", "max_tokens": 5, "n": 3, "messages": [{"role": "user", "content": "Hi"}]}),
    ];
    let http = gw.http.clone();
    let sends = (0..60).map(|i| {
        let relay = if i % 2 == 0 { gw.relay.addr } else { second.addr };
        let request = http
            .post(format!("http://{relay}/v1/chat/completions"))
            .bearer_auth(&key)
            .json(&shapes[i % shapes.len()])
            .send();
        async move { request.await.unwrap().status().as_u16() }
    });
    let statuses = futures::future::join_all(sends).await;
    let answered = statuses.iter().filter(|s| **s == 200).count();
    assert!(statuses.iter().all(|s| [200, 403, 429].contains(s)), "{statuses:?}");
    assert!(answered >= 3, "the balance covers several requests; {answered} answered");
    gw.wait_for_logs(answered).await;
    second.stop().await;
    gw.wait_all_settled().await;
    let token = gw.token(id).await;
    assert_eq!(token["used_quota"], answered as i64 * COST, "{token}");
    assert_eq!(token["remain_quota"], 30 - answered as i64 * COST, "{token}");
    assert!(token["remain_quota"].as_i64().unwrap() >= 0, "below zero: {token}");
    assert_eq!(gw.mock.chat_requests(), answered, "refused requests never reach the upstream");
}

/// A price per call is charged once per answer asked for, as Veloera charges images: `n` pictures cost `n` prices,
/// in the token's balance and in the log, not only in the reservation.
#[tokio::test]
async fn pictures_priced_per_call_are_charged_once_per_picture() {
    let gw = Gateway::start().await;
    gw.set_options(&[("ModelPrice", r#"{"dall-e-3": 0.04}"#)]).await;
    gw.create_channel(json!({"name": "images", "type": 1, "key": "sk-upstream-2", "base_url": gw.mock.base_url(), "models": "dall-e-3"}))
        .await;
    let (id, key) = gw.create_token(json!({"name": "pictures", "remain_quota": 1_000_000})).await;
    gw.mock.script(crate::mock_upstream::Reply::Json(
        200,
        json!({"created": 1, "data": [{"url": "a"}, {"url": "b"}, {"url": "c"}]}),
    ));
    let resp = gw
        .http
        .post(gw.url("/v1/images/generations"))
        .bearer_auth(&key)
        .json(&json!({"model": "dall-e-3", "prompt": "a cat", "n": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let logs = gw.wait_for_logs(1).await;
    // $0.04 × 500,000 = 20,000 quota a picture.
    assert_eq!(logs[0]["quota"], 60_000, "{}", logs[0]);
    assert_eq!(gw.token(id).await["used_quota"], 60_000);
}
