//! `/healthz` and `/readyz` of both services: what they answer when all is well, while control is away, when
//! Redis does not answer, and when control's database is gone.

use std::time::Duration;

use serde_json::Value;

use crate::harness::{Gateway, relay_config, start_relay};

async fn probe(gw: &Gateway, base: std::net::SocketAddr, path: &str) -> (u16, Value) {
    let resp = gw.http.get(format!("http://{base}{path}")).send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

/// Asks `path` until its `status` field is `want` (bounded), and returns that answer.
async fn probe_until(gw: &Gateway, base: std::net::SocketAddr, path: &str, want: &str) -> (u16, Value) {
    let mut last = (0, Value::Null);
    for _ in 0..200 {
        last = probe(gw, base, path).await;
        if last.1["status"] == want {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{path} never said {want}; last answer {last:?}");
}

#[tokio::test]
async fn both_services_are_alive_and_ready_and_the_relay_answers_on_its_public_port() {
    let gw = Gateway::start_bare().await;
    gw.wait_relay_caught_up().await;
    assert_eq!(probe(&gw, gw.relay.addr, "/healthz").await, (200, serde_json::json!({"status": "ok"})));
    let (status, ready) = probe(&gw, gw.relay.addr, "/readyz").await;
    assert_eq!((status, ready["status"].as_str()), (200, Some("ready")), "{ready}");
    assert_eq!(ready["checks"]["control"]["status"], "ok");
    assert!(ready["checks"].get("redis").is_none(), "no Redis configured, none checked: {ready}");

    assert_eq!(probe(&gw, gw.control.http_addr, "/healthz").await.0, 200);
    let (status, ready) = probe(&gw, gw.control.http_addr, "/readyz").await;
    assert_eq!((status, ready["checks"]["database"]["status"].as_str()), (200, Some("ok")), "{ready}");
}

#[tokio::test]
async fn while_control_is_away_the_relay_serves_from_caches_then_says_it_cannot() {
    let mut gw = Gateway::start_bare().await;
    let mut config = relay_config(&gw.control);
    config.control_stale_grace = Duration::from_secs(2);
    let relay = start_relay(config).await;
    probe_until(&gw, relay.addr, "/readyz", "ready").await;

    gw.control.stop().await;
    let (status, degraded) = probe_until(&gw, relay.addr, "/readyz", "degraded").await;
    assert_eq!(status, 200, "still serving from its caches: {degraded}");
    assert!(degraded["checks"]["control"]["detail"].as_str().unwrap().contains("serving from caches"), "{degraded}");

    let (status, down) = probe_until(&gw, relay.addr, "/readyz", "unavailable").await;
    assert_eq!(status, 503);
    assert_eq!(down["failing"], serde_json::json!(["control"]));
    assert_eq!(probe(&gw, relay.addr, "/healthz").await.0, 200, "alive all the same");
}

#[tokio::test]
async fn a_silent_redis_makes_the_relay_unavailable_or_degraded_by_its_fail_policy() {
    let gw = Gateway::start_bare().await;
    let nobody = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("redis://{}", nobody.local_addr().unwrap());
    drop(nobody);
    for (fail_open, want_status, want) in [(false, 503, "unavailable"), (true, 200, "degraded")] {
        let mut config = relay_config(&gw.control);
        config.redis_url = Some(url.clone());
        config.rate_limit_fail_open = fail_open;
        let relay = start_relay(config).await;
        relay.wait_caught_up(&gw.control).await;
        let (status, ready) = probe_until(&gw, relay.addr, "/readyz", want).await;
        assert_eq!(status, want_status, "{ready}");
        assert_eq!(ready["checks"]["redis"]["status"], if fail_open { "degraded" } else { "failing" });
        assert_eq!(ready["checks"]["control"]["status"], "ok");
    }
}

#[tokio::test]
async fn control_without_its_database_is_not_ready_and_names_it() {
    let gw = Gateway::start_bare().await;
    gw.control.state.db().pool().close().await;
    let (status, ready) = probe(&gw, gw.control.http_addr, "/readyz").await;
    assert_eq!(status, 503, "{ready}");
    assert_eq!(ready["failing"], serde_json::json!(["database"]));
    assert_eq!(probe(&gw, gw.control.http_addr, "/healthz").await.0, 200);
}
