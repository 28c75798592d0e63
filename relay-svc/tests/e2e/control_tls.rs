//! Control's gRPC listener over TLS (`CONTROL_GRPC_TLS_CERT`/`_KEY`): a relay given `CONTROL_GRPC_URL=https://…`
//! and the CA (`CONTROL_GRPC_CA`) serves requests; one speaking plaintext, or trusting only the public web roots,
//! never reaches control. The certificates in `tests/fixtures/tls/` are a test CA and a `localhost`/`127.0.0.1`
//! certificate it signed.

use std::path::PathBuf;

use serde_json::json;

use crate::harness::{Gateway, chat_body, relay_config, start_relay};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls").join(name)
}

#[tokio::test]
async fn a_relay_trusting_controls_ca_serves_over_tls_and_others_never_reach_control() {
    let mut gw = Gateway::start_bare_with(|c| {
        c.grpc_tls = Some(control_svc::config::GrpcTls { cert: fixture("control.pem"), key: fixture("control.key") });
    })
    .await;
    gw.sign_in_root().await;
    gw.create_channel(json!({"name": "mock", "type": 1, "key": "sk-upstream-1", "base_url": gw.mock.base_url(), "models": "gpt-4o-mini"}))
        .await;
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    let grpc = gw.control.grpc_addr;

    gw.relay.stop().await;
    let mut tls = relay_config(&gw.control);
    tls.control_grpc_url = format!("https://{grpc}");
    tls.control_grpc_ca = Some(fixture("ca.pem"));
    gw.relay = start_relay(tls).await;
    let answer = gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await;
    assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap());
    gw.wait_settled(1).await;
    assert_eq!(gw.mock.received().len(), 1);

    // Plaintext against the TLS listener, and TLS that does not trust our CA: control is unreachable, so the
    // request is refused before anything reaches the upstream.
    for (url, ca) in [(format!("http://{grpc}"), None), (format!("https://{grpc}"), None)] {
        gw.relay.stop().await;
        let mut config = relay_config(&gw.control);
        config.control_grpc_url = url.clone();
        config.control_grpc_ca = ca;
        gw.relay = start_relay(config).await;
        let refused = gw.chat("/v1", &key, chat_body("gpt-4o-mini")).await;
        assert_ne!(refused.status(), 200, "{url} reached control");
    }
    assert_eq!(gw.mock.received().len(), 1, "no refused request reached the upstream");
}

#[tokio::test]
async fn a_ca_file_that_is_not_a_certificate_or_a_plain_url_with_a_ca_stops_the_relay() {
    let gw = Gateway::start_bare().await;
    let mut bad = relay_config(&gw.control);
    bad.control_grpc_url = format!("https://{}", gw.control.grpc_addr);
    bad.control_grpc_ca = Some(fixture("control.key"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let error = relay_svc::Application::build_with_listener(bad, listener).await.err().unwrap();
    assert!(error.contains("CONTROL_GRPC_CA") && error.contains("no PEM certificate"), "{error}");

    let mut plain = relay_config(&gw.control);
    plain.control_grpc_ca = Some(fixture("ca.pem"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let error = relay_svc::Application::build_with_listener(plain, listener).await.err().unwrap();
    assert!(error.contains("is not https://"), "{error}");
}
