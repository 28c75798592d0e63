//! Upstream errors that quote credentials: the channel's keys (and anything shaped like a provider key) never
//! reach the client, the usage record's error log or the failed-attempt trail.

use serde_json::{Value, json};

use crate::harness::Gateway;
use crate::mock_upstream::Reply;

#[tokio::test]
async fn an_upstream_error_quoting_the_channel_key_is_redacted_everywhere() {
    let gw = Gateway::start().await;
    gw.set_options(&[("LogErrorEnabled", "true")]).await;
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    let foreign = "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWx";
    let echo = format!(
        "invalid request; headers were Authorization: Bearer sk-upstream-1, x-other: {foreign}, key=AIzaSyA1234567890abcdefghijklmnopqrs"
    );
    gw.mock.script(Reply::Json(400, json!({"error": {"message": echo, "type": "invalid_request_error"}})));
    let resp = gw.chat("/v1", &key, crate::harness::chat_body("gpt-4o-mini")).await;
    assert_eq!(resp.status(), 400);
    let text = resp.text().await.unwrap();
    for secret in ["sk-upstream-1", foreign, "AIzaSyA1234567890"] {
        assert!(!text.contains(secret), "{secret} reached the client: {text}");
    }
    let body: Value = serde_json::from_str(&text).unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("invalid request; headers were Authorization: Bearer [redacted]"), "{message}");

    // The error row (and its failed-attempt trail) is written from the same scrubbed text.
    let db = gw.control.state.db();
    gw.wait_settled(1).await;
    let rows: Vec<(String, String)> =
        sqlx::query_as(&db.sql("SELECT content, other FROM logs WHERE type = 6")).fetch_all(db.pool()).await.unwrap();
    let written: String = rows.iter().map(|(c, o)| format!("{c} {o}")).collect();
    assert!(written.contains("[redacted]"), "an error row with the upstream's words: {written}");
    for secret in ["sk-upstream-1", foreign, "AIzaSyA1234567890"] {
        assert!(!written.contains(secret), "{secret} reached the log: {written}");
    }
}
