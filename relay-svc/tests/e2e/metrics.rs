//! Prometheus metrics of both services, scraped from their own listeners (`METRICS_ADDR`) after real requests:
//! the series and their values, the bound on model labels, and that the public port never serves them.

use std::net::SocketAddr;

use serde_json::json;

use crate::harness::{Gateway, chat_body, relay_config, start_relay};
use crate::mock_upstream::Reply;

const MODEL: &str = "gpt-4o-mini";

/// Root signed in, control and relay each with a metrics listener on port 0, a primary (priority 10) and a
/// backup channel serving [`MODEL`] at the mock. Returns the gateway, both channel ids and a token key.
async fn measured_gateway() -> (Gateway, i64, i64, String) {
    let mut gw = Gateway::start_bare_with(|c| c.metrics_addr = Some("127.0.0.1:0".parse().unwrap())).await;
    let mut config = relay_config(&gw.control);
    config.metrics_addr = Some("127.0.0.1:0".parse().unwrap());
    gw.relay.stop().await;
    gw.relay = start_relay(config).await;
    gw.wait_relay_caught_up().await;
    gw.sign_in_root().await;
    let base = gw.mock.base_url();
    let primary = gw
        .create_channel(json!({"name": "primary", "type": 1, "key": "sk-primary", "base_url": base, "models": MODEL, "priority": 10}))
        .await;
    let backup = gw
        .create_channel(
            json!({"name": "backup", "type": 1, "key": "sk-backup", "base_url": base, "models": MODEL, "priority": 0}),
        )
        .await;
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    (gw, primary, backup, key)
}

async fn scrape(gw: &Gateway, addr: SocketAddr) -> String {
    let resp = gw.http.get(format!("http://{addr}/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap()
}

/// The value of the series written exactly `series` (name and labels), if the text has it.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn both_metrics_listeners_count_real_requests_retries_refusals_and_usage() {
    let (gw, primary, backup, key) = measured_gateway().await;
    let relay_metrics = gw.relay.metrics_addr.expect("the relay serves metrics");
    let control_metrics = gw.control.metrics_addr.expect("control serves metrics");

    for _ in 0..3 {
        assert_eq!(gw.chat("/v1", &key, chat_body(MODEL)).await.status(), 200);
    }
    // The primary fails once: the request is retried on the backup and answered there.
    gw.mock.script(Reply::Json(500, json!({"error": {"message": "boom", "type": "server_error"}})));
    assert_eq!(gw.chat("/v1", &key, chat_body(MODEL)).await.status(), 200);
    // A model no channel serves is refused, and its name (a client's string) makes no series.
    let refused = gw.chat("/v1", &key, chat_body("not-in-the-catalogue-7f3a")).await;
    assert_eq!(refused.status(), 503, "no channel serves it, as in Veloera");

    let ack_count = "veloera_relay_usage_ack_lag_seconds_count";
    gw.wait_all_settled().await;
    let relay = scrape(&gw, relay_metrics).await;
    assert_eq!(value(&relay, ack_count), Some(4.0), "the four answered requests' usage: {relay}");
    let labels = |channel: i64| format!(r#"route="CHAT_COMPLETIONS",model="{MODEL}",channel="{channel}""#);
    let (p, b) = (labels(primary), labels(backup));
    let requests =
        |l: &str| value(&relay, &format!(r#"veloera_relay_requests_total{{{l},status="200",outcome="SUCCESS"}}"#));
    assert_eq!(requests(&p), Some(3.0), "{relay}");
    assert_eq!(requests(&b), Some(1.0), "{relay}");
    for histogram in ["request_duration_seconds", "time_to_first_byte_seconds", "overhead_seconds"] {
        assert_eq!(
            value(&relay, &format!("veloera_relay_{histogram}_count{{{p}}}")),
            Some(3.0),
            "{histogram}: {relay}"
        );
        assert_eq!(
            value(&relay, &format!("veloera_relay_{histogram}_count{{{b}}}")),
            Some(1.0),
            "{histogram}: {relay}"
        );
    }
    assert_eq!(value(&relay, &format!("veloera_relay_retries_total{{{b}}}")), Some(1.0), "{relay}");
    assert_eq!(value(&relay, &format!("veloera_relay_retries_total{{{p}}}")), Some(0.0), "none made there: {relay}");
    let errors = format!(r#"veloera_relay_upstream_errors_total{{channel="{primary}",kind="server_error"}}"#);
    assert_eq!(value(&relay, &errors), Some(1.0), "{relay}");
    assert_eq!(value(&relay, r#"veloera_relay_refusals_total{reason="NO_CHANNEL"}"#), Some(1.0), "{relay}");
    assert!(!relay.contains("not-in-the-catalogue"), "a client's model name became a label: {relay}");
    let hits = value(&relay, r#"veloera_relay_auth_cache_lookups_total{result="hit"}"#).unwrap_or(0.0);
    let misses = value(&relay, r#"veloera_relay_auth_cache_lookups_total{result="miss"}"#).unwrap_or(0.0);
    assert_eq!(hits + misses, 5.0, "one lookup per request: {relay}");
    assert!(hits >= 3.0 && misses >= 1.0, "warm requests hit the caches: {relay}");
    assert_eq!(value(&relay, "veloera_relay_usage_pending"), Some(0.0), "{relay}");
    assert_eq!(value(&relay, "veloera_relay_leases_held"), Some(1.0), "{relay}");

    let control = scrape(&gw, control_metrics).await;
    assert_eq!(value(&control, r#"veloera_control_usage_records_total{outcome="billable"}"#), Some(4.0), "{control}");
    assert_eq!(value(&control, "veloera_control_usage_batch_seconds_count").map(|n| n >= 1.0), Some(true));
    assert!(value(&control, r#"veloera_control_authorizations_total{decision="GRANT"}"#).unwrap_or(0.0) >= 1.0);
    for channel in [primary, backup] {
        assert_eq!(value(&control, &format!(r#"veloera_control_channel_enabled{{channel="{channel}"}}"#)), Some(1.0));
        let key = format!(r#"veloera_control_channel_key_enabled{{channel="{channel}",key="#);
        assert!(control.lines().any(|l| l.starts_with(&key) && l.ends_with(" 1")), "{control}");
    }
    assert_eq!(value(&control, "veloera_control_leases_open"), Some(1.0), "{control}");
}

#[tokio::test]
async fn the_public_port_answers_404_for_metrics() {
    let (gw, _, _, _) = measured_gateway().await;
    let resp = gw.http.get(gw.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert!(!resp.text().await.unwrap().contains("veloera_relay_"));
    let admin = gw.http.get(format!("http://{}/metrics", gw.control.http_addr)).send().await.unwrap();
    assert!(!admin.text().await.unwrap().contains("veloera_control_"), "control's admin port serves no metrics");
}

#[tokio::test]
async fn without_metrics_addr_neither_service_records_or_serves_metrics() {
    let gw = Gateway::start().await;
    assert_eq!(gw.relay.metrics_addr, None);
    assert_eq!(gw.control.metrics_addr, None);
    assert!(!gw.relay.link.metrics.is_enabled());
    assert!(!gw.control.state.metrics().is_enabled());
}
