//! `TRUSTED_PROXY_HOPS`: behind a load balancer the client's address comes from `X-Forwarded-For` (the entry the
//! trusted proxy appended), so token IP allow-lists keep working; without it the header is ignored.

use serde_json::json;

use crate::harness::{Gateway, chat_body, relay_config, start_relay};

async fn status_forwarded_for(gw: &Gateway, key: &str, forwarded: Option<&str>) -> u16 {
    let mut request = gw.http.post(gw.url("/v1/chat/completions")).bearer_auth(key).json(&chat_body("gpt-4o-mini"));
    if let Some(list) = forwarded {
        request = request.header("x-forwarded-for", list);
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn behind_one_trusted_proxy_the_address_it_appended_is_the_client() {
    let mut gw = Gateway::start().await;
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true, "allow_ips": "203.0.113.7"})).await;
    // By default the header is only the client's word: the peer (127.0.0.1) is checked.
    assert_eq!(status_forwarded_for(&gw, &key, Some("203.0.113.7")).await, 403);

    gw.relay.stop().await;
    let mut config = relay_config(&gw.control);
    config.trusted_proxy_hops = 1;
    gw.relay = start_relay(config).await;
    assert_eq!(status_forwarded_for(&gw, &key, Some("6.6.6.6, 203.0.113.7")).await, 200);
    // What a client writes in front of the proxy's entry does not count.
    assert_eq!(status_forwarded_for(&gw, &key, Some("203.0.113.7, 6.6.6.6")).await, 403);
    // A request that did not come through the proxy keeps its peer address.
    assert_eq!(status_forwarded_for(&gw, &key, None).await, 403);
    assert_eq!(gw.mock.received().len(), 1, "refused requests never reach the upstream");
}
