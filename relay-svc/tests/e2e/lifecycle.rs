//! The relay ⇄ control contract under restarts and outages: warm requests need no call, usage is counted once,
//! invalidations arrive, and control refuses callers without the internal secret.

use serde_json::json;
use veloera_proto::INTERNAL_SECRET_HEADER;
use veloera_proto::v1::control_client::ControlClient;
use veloera_proto::v1::{AuthorizeRequest, Outcome, UsageBatch, UsageRecord};

use crate::harness::{Gateway, chat_body, relay_config, restart_control, start_relay};

#[tokio::test]
async fn a_restarted_relay_serves_again_against_the_same_control() {
    let mut gw = Gateway::start().await;
    let (token_id, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    assert_eq!(gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await.status(), 200);
    // A graceful stop drains the usage outbox before returning.
    gw.relay.stop().await;
    gw.relay = start_relay(relay_config(&gw.control)).await;
    assert_eq!(gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await.status(), 200);
    let logs = gw.wait_for_logs(2).await;
    assert_eq!(logs.len(), 2);
    assert_eq!(gw.token(token_id).await["used_quota"], 4);
}

#[tokio::test]
async fn warm_requests_need_no_call_to_control() {
    let mut gw = Gateway::start().await;
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    // Cached answers are trusted only while the watch stream is up; then warm the caches.
    gw.wait_relay_caught_up().await;
    assert_eq!(gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await.status(), 200);
    gw.wait_for_logs(1).await;
    gw.control.stop().await;
    // Control is gone: only the relay's caches can answer these.
    for _ in 0..3 {
        assert_eq!(gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await.status(), 200);
    }
    // A key the relay has never seen needs control, and the caller is told clearly.
    let other = format!("sk-{}", "y".repeat(48));
    let resp = gw.chat("/v1", &other, chat_body("gpt-4o-mini")).await;
    assert_eq!(resp.status(), 503);
    assert_eq!(gw.mock.received().len(), 4);
}

#[tokio::test]
async fn usage_served_while_control_is_down_is_replayed_once_it_is_back() {
    let mut gw = Gateway::start().await;
    let (token_id, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    gw.wait_relay_caught_up().await;
    assert_eq!(gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await.status(), 200);
    gw.wait_for_logs(1).await;
    gw.control.stop().await;
    for _ in 0..5 {
        assert_eq!(gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await.status(), 200);
    }
    // Same database, same addresses: the relay reconnects on its own and resends what was never acknowledged.
    restart_control(&mut gw).await;
    let logs = gw.wait_for_logs(6).await;
    assert_eq!(logs.len(), 6, "every request is logged exactly once");
    let mut ids: Vec<&str> = logs.iter().filter_map(|l| l["request_id"].as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 6, "no request is logged twice: {ids:?}");
    assert_eq!(gw.token(token_id).await["used_quota"], 12);
}

#[tokio::test]
async fn a_new_token_clears_the_negative_cache_at_once() {
    let gw = Gateway::start().await;
    gw.wait_relay_caught_up().await;
    // Prime the negative cache with lots of misses, then create tokens: each works on first use.
    for _ in 0..5 {
        let fake = format!("sk-{}", "z".repeat(48));
        assert_eq!(gw.chat("/v1", &fake, chat_body("gpt-4o-mini")).await.status(), 401);
    }
    let (_, key) = gw.create_token(json!({"name": "fresh", "unlimited_quota": true})).await;
    assert_eq!(gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await.status(), 200);
}

async fn grpc(gw: &Gateway) -> ControlClient<tonic::transport::Channel> {
    ControlClient::connect(format!("http://{}", gw.control.grpc_addr)).await.unwrap()
}

#[tokio::test]
async fn control_refuses_grpc_calls_without_the_internal_secret() {
    let gw = Gateway::start_bare().await;
    let mut client = grpc(&gw).await;
    let req = AuthorizeRequest { key_digest: vec![0; 32], ..Default::default() };
    let err = client.authorize(req.clone()).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    let mut wrong = tonic::Request::new(req.clone());
    wrong.metadata_mut().insert(INTERNAL_SECRET_HEADER, "not-the-secret".parse().unwrap());
    assert_eq!(client.authorize(wrong).await.unwrap_err().code(), tonic::Code::Unauthenticated);
    let mut right = tonic::Request::new(req);
    right.metadata_mut().insert(INTERNAL_SECRET_HEADER, gw.control.secret.parse().unwrap());
    assert!(client.authorize(right).await.is_ok());
}

#[tokio::test]
async fn a_usage_record_delivered_twice_is_counted_once() {
    let gw = Gateway::start().await;
    let (token_id, _) = gw.create_token(json!({"name": "t", "remain_quota": 1000})).await;
    let record = UsageRecord {
        request_id: "dup-1".into(),
        user_id: 1,
        token_id,
        token_name: "t".into(),
        channel_id: 1,
        model: "gpt-4o".into(),
        upstream_model: "gpt-4o".into(),
        prompt_tokens: 100,
        completion_tokens: 100,
        outcome: Outcome::Success as i32,
        group: "default".into(),
        ..Default::default()
    };
    let mut client = grpc(&gw).await;
    for _ in 0..2 {
        let batches = vec![UsageBatch { records: vec![record.clone(), record.clone()] }];
        let mut req = tonic::Request::new(futures::stream::iter(batches));
        req.metadata_mut().insert(INTERNAL_SECRET_HEADER, gw.control.secret.parse().unwrap());
        let mut acks = client.report_usage(req).await.unwrap().into_inner();
        let ack = acks.message().await.unwrap().unwrap();
        assert_eq!(ack.request_ids, vec!["dup-1", "dup-1"]);
    }
    // gpt-4o: (100 + 100×4) × 1.25 = 625, once.
    assert_eq!(gw.token(token_id).await["used_quota"], 625);
    assert_eq!(gw.wait_for_logs(1).await.len(), 1);
}
