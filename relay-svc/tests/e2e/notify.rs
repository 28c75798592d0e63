//! Notices (issue 12, "settings that are accepted and do nothing"): quota warnings once per crossing, by mail
//! and by signed webhook, re-armed by a top-up; root's notices when a key or channel is disabled automatically
//! and when it comes back; the egress client's refusal of private addresses (and of redirects to them); and
//! `accept_unset_model_ratio_model`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::fake_smtp::{FakeSmtp, send_site_mail_to};
use crate::harness::Gateway;
use crate::mock_upstream::Reply;
use crate::webhook_receiver::{Answer, Receiver};

/// What one gpt-4o-mini request costs with the mock's usage (12 prompt, 5 completion tokens).
const COST: i64 = 2;

/// Root signed in, the mock channel, webhooks to loopback allowed (the test-only setting) when `loopback`.
async fn gateway(loopback: bool) -> Gateway {
    let mut gw = Gateway::start_bare_with(|c| c.webhook_allow_loopback = loopback).await;
    gw.sign_in_root().await;
    gw.create_channel(json!({"name": "mock", "type": 1, "key": "sk-upstream-1", "base_url": gw.mock.base_url(), "models": "gpt-4o-mini"}))
        .await;
    gw
}

async fn set_setting(gw: &Gateway, setting: Value) -> (u16, Value) {
    gw.api("PUT", "/api/user/setting", Some(setting)).await
}

/// Log rows of one type (2 consume, 4 system), newest first.
async fn logs_of_type(gw: &Gateway, log_type: i32) -> Vec<Value> {
    let (_, body) = gw.api("GET", &format!("/api/log/?type={log_type}&p=1&page_size=100"), None).await;
    body["data"]["items"].as_array().cloned().unwrap_or_default()
}

/// Waits (bounded) until `n` rows of `log_type` exist.
async fn wait_for_rows(gw: &Gateway, log_type: i32, n: usize) -> Vec<Value> {
    for _ in 0..400 {
        let rows = logs_of_type(gw, log_type).await;
        if rows.len() >= n {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {n} log rows of type {log_type} after 20 s: {:?}", logs_of_type(gw, log_type).await);
}

/// Sends `n` requests one after the other, each settled (and its notices sent) before the next, so each
/// settlement moves the balance once.
async fn spend(gw: &Gateway, key: &str, n: usize) {
    for _ in 0..n {
        let resp = gw.chat("/v1", key, crate::harness::chat_body("gpt-4o-mini")).await;
        assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
        gw.wait_all_settled().await;
    }
}

/// Root's remaining quota, with a warning threshold of 1000 three requests away: 1003 → 1001 → 999 crosses.
async fn root_near_the_threshold(gw: &Gateway) -> String {
    gw.sql("UPDATE users SET quota = 1003, used_quota = 0 WHERE username = 'root'").await;
    gw.create_token(json!({"name": "spender", "unlimited_quota": true})).await.1
}

#[tokio::test]
async fn a_quota_warning_is_mailed_once_per_crossing_and_again_after_a_top_up() {
    let gw = gateway(false).await;
    let smtp = FakeSmtp::start().await;
    send_site_mail_to(&gw, smtp.port).await;
    let (status, body) = set_setting(
        &gw,
        json!({"notify_type": "email", "quota_warning_threshold": 1000, "notification_email": "alerts@example.com"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let key = root_near_the_threshold(&gw).await;

    spend(&gw, &key, 1).await;
    gw.wait_all_settled().await;
    assert!(smtp.messages().is_empty(), "1001 left is not below 1000");

    spend(&gw, &key, 1).await;
    let rows = wait_for_rows(&gw, 4, 1).await;
    assert!(rows[0]["content"].as_str().unwrap().contains("sent by email alerts@example.com"), "{}", rows[0]);
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, vec!["<alerts@example.com>".to_string()]);
    let text = mails[0].body();
    assert!(text.contains(&format!("{}", 1003 - 2 * COST)) && text.contains("https://gw.test/topup"), "{text}");
    assert!(mails[0].data.contains("TestSite - Your quota is running low"), "{}", mails[0].data);

    // Falling further below is the same crossing: no second warning.
    spend(&gw, &key, 2).await;
    gw.wait_all_settled().await;
    assert_eq!(smtp.messages().len(), 1, "one warning per crossing, not per request");

    // A top-up back to the threshold or above re-arms it; the next fall below warns again.
    gw.sql("UPDATE users SET quota = quota + 7 WHERE username = 'root'").await;
    spend(&gw, &key, 1).await;
    gw.wait_all_settled().await;
    assert_eq!(smtp.messages().len(), 1, "1001 left after the top-up and one request");
    spend(&gw, &key, 1).await;
    wait_for_rows(&gw, 4, 2).await;
    assert_eq!(smtp.messages().len(), 2);
}

#[tokio::test]
async fn the_site_threshold_applies_to_users_who_set_none() {
    let gw = gateway(false).await;
    let smtp = FakeSmtp::start().await;
    send_site_mail_to(&gw, smtp.port).await;
    gw.set_options(&[("QuotaRemindThreshold", "1000")]).await;
    gw.sql("UPDATE users SET email = 'root@example.com' WHERE username = 'root'").await;
    let key = root_near_the_threshold(&gw).await;
    spend(&gw, &key, 2).await;
    wait_for_rows(&gw, 4, 1).await;
    assert_eq!(smtp.messages()[0].to, vec!["<root@example.com>".to_string()], "the account's address by default");

    // Threshold 0 for the site: users without their own get no warnings.
    gw.set_options(&[("QuotaRemindThreshold", "0")]).await;
    gw.sql("UPDATE users SET quota = quota + 10 WHERE username = 'root'").await;
    spend(&gw, &key, 4).await;
    gw.wait_all_settled().await;
    assert_eq!(smtp.messages().len(), 1);
}

#[tokio::test]
async fn a_quota_warning_webhook_is_signed_timestamped_and_retried() {
    let gw = gateway(true).await;
    let receiver = Receiver::start().await;
    receiver.script(Answer::Status(503));
    let setting = json!({"notify_type": "webhook", "quota_warning_threshold": 1000, "webhook_url": receiver.url,
        "webhook_secret": "s3cret-for-hmac"});
    let (status, body) = set_setting(&gw, setting).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["data"].get("webhook_secret").is_none(), "the secret is write-only: {body}");
    let key = root_near_the_threshold(&gw).await;
    spend(&gw, &key, 2).await;

    let got = receiver.wait_for(2).await;
    for d in &got {
        assert!(d.signed_with("s3cret-for-hmac"), "bad signature on {:?}", d);
        assert!(!d.signed_with("another-secret"));
        assert_eq!(d.header("content-type"), "application/json");
        assert_eq!(d.header("x-webhook-timestamp"), d.body["timestamp"].to_string(), "{:?}", d.body);
        let age = control_svc::db::now_secs() - d.body["timestamp"].as_i64().unwrap();
        assert!((0..30).contains(&age), "timestamp {age} s old");
        assert_eq!(d.body["type"], "quota_exceed");
        assert_eq!(d.body["title"], "Your quota is running low");
        assert!(d.body["content"].as_str().unwrap().contains("999"), "{}", d.body);
    }
    assert_eq!(got[0].header("x-webhook-id"), got[1].header("x-webhook-id"), "a retry is the same notice");
    let rows = wait_for_rows(&gw, 4, 1).await;
    let line = rows[0]["content"].as_str().unwrap();
    assert!(line.contains("webhook 127.0.0.1") && line.contains("HTTP 200, attempt 2"), "{line}");
    gw.wait_all_settled().await;
    assert_eq!(receiver.received().len(), 2, "delivered: no further attempts");
}

#[tokio::test]
async fn webhooks_to_private_addresses_are_refused_by_default() {
    let gw = gateway(false).await;
    let receiver = Receiver::start().await;
    for url in [
        receiver.url.as_str(),
        "http://localhost:9/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/hook",
        "http://[::1]:9/hook",
    ] {
        let (status, body) =
            set_setting(&gw, json!({"notify_type": "webhook", "quota_warning_threshold": 1000, "webhook_url": url}))
                .await;
        assert_eq!(status, 400, "{url}: {body}");
        assert!(body["message"].as_str().unwrap().contains("webhook_url may not be used"), "{body}");
    }
    let (status, body) = set_setting(
        &gw,
        json!({"notify_type": "webhook", "quota_warning_threshold": 1000, "webhook_url": "ftp://h.example/x"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("http(s)"), "{body}");

    // A URL stored before (or past) the check is refused again when it is called.
    let stored = json!({"notify_type": "webhook", "quota_warning_threshold": 1000, "webhook_url": receiver.url});
    gw.sql(&format!("UPDATE users SET setting = '{stored}' WHERE username = 'root'")).await;
    let key = root_near_the_threshold(&gw).await;
    spend(&gw, &key, 2).await;
    let rows = wait_for_rows(&gw, 4, 1).await;
    let line = rows[0]["content"].as_str().unwrap();
    assert!(line.contains("NOT delivered") && line.contains("loopback") && line.contains("after 1 attempt"), "{line}");
    assert!(receiver.received().is_empty());
}

#[tokio::test]
async fn a_webhook_redirect_to_a_private_address_is_not_followed() {
    let gw = gateway(true).await;
    let receiver = Receiver::start().await;
    receiver.script(Answer::Redirect("http://169.254.169.254/latest/meta-data/iam".into()));
    let (status, body) = set_setting(
        &gw,
        json!({"notify_type": "webhook", "quota_warning_threshold": 1000, "webhook_url": receiver.url}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let key = root_near_the_threshold(&gw).await;
    spend(&gw, &key, 2).await;
    let rows = wait_for_rows(&gw, 4, 1).await;
    let line = rows[0]["content"].as_str().unwrap();
    assert!(line.contains("NOT delivered") && line.contains("redirect refused"), "{line}");
    assert!(line.contains("link-local"), "{line}");
    assert_eq!(receiver.received().len(), 1, "a refused redirect is not retried");
}

async fn root_webhook(gw: &Gateway, receiver: &Receiver) {
    let (status, body) =
        set_setting(gw, json!({"notify_type": "webhook", "quota_warning_threshold": 1, "webhook_url": receiver.url, "webhook_secret": "root-s"}))
            .await;
    assert_eq!(status, 200, "{body}");
}

/// Waits (bounded) for a delivery whose title is `title`.
async fn wait_for_title(receiver: &Receiver, title: &str) -> crate::webhook_receiver::Delivery {
    let titled = |d: &crate::webhook_receiver::Delivery| d.body["title"] == title;
    let got = receiver.wait_until(&format!("notice titled {title:?}"), |got| got.iter().any(titled)).await;
    got.into_iter().find(titled).expect("waited for it")
}

fn invalid_key() -> Reply {
    Reply::Status {
        status: 401,
        headers: Vec::new(),
        body: json!({"error": {"message": "revoked", "type": "x", "code": "invalid_api_key"}}),
    }
}

#[tokio::test]
async fn root_is_notified_when_a_key_is_disabled_automatically_and_when_it_comes_back() {
    let gw = gateway(true).await;
    let receiver = Receiver::start().await;
    root_webhook(&gw, &receiver).await;
    gw.set_options(&[("ChannelProbeIntervalSeconds", "1")]).await;
    let id = gw
        .create_channel(json!({"name": "keys", "type": 1, "key": "sk-good,sk-bad", "base_url": gw.mock.base_url(),
            "models": "gpt-4o", "priority": 5}))
        .await;
    gw.mock.on_key("sk-bad", invalid_key());
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    // Keys are drawn at random: go on (bounded) until the bad one has been drawn.
    let bad_calls = |gw: &Gateway| gw.mock.received().iter().filter(|r| r.authorization.contains("sk-bad")).count();
    for sent in 0..100 {
        assert_eq!(gw.chat("/v1", &key, crate::harness::chat_body("gpt-4o")).await.status(), 200);
        if sent >= 7 && bad_calls(&gw) > 0 {
            break;
        }
    }
    assert!(bad_calls(&gw) > 0, "the bad key was never drawn in 100 requests");
    let off = wait_for_title(&receiver, &format!("Key 1 of channel \"keys\" (#{id}) was disabled")).await;
    assert!(off.signed_with("root-s"));
    assert_eq!(off.body["type"], "channel_update");
    assert!(off.body["content"].as_str().unwrap().contains("Reason: upstream"), "{}", off.body);
    let rows = wait_for_rows(&gw, 4, 1).await;
    assert!(rows.iter().any(|r| r["username"] == "root"), "the delivery is in root's log: {rows:?}");

    // The key recovers; the prober re-enables it and root hears of that too.
    gw.mock.clear_key_rules();
    wait_for_title(&receiver, &format!("Key 1 of channel \"keys\" (#{id}) was enabled")).await;
    let titles: Vec<Value> = receiver.received().iter().map(|d| d.body["title"].clone()).collect();
    assert_eq!(titles.iter().filter(|t| t.as_str().unwrap().contains("was disabled")).count(), 1, "{titles:?}");
}

#[tokio::test]
async fn root_is_notified_when_channel_tests_disable_and_restore_a_channel() {
    let gw = gateway(true).await;
    let smtp = FakeSmtp::start().await;
    send_site_mail_to(&gw, smtp.port).await;
    let (status, body) = set_setting(
        &gw,
        json!({"notify_type": "email", "quota_warning_threshold": 1, "notification_email": "ops@example.com"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let id = gw
        .create_channel(
            json!({"name": "solo", "type": 1, "key": "sk-solo", "base_url": gw.mock.base_url(), "models": "gpt-4o"}),
        )
        .await;
    gw.mock.on_key("sk-solo", invalid_key());
    gw.api("GET", "/api/channel/test", None).await;
    wait_for_rows(&gw, 4, 1).await;
    let mail = smtp.messages().pop().expect("a notice to root");
    assert_eq!(mail.to, vec!["<ops@example.com>".to_string()]);
    assert!(mail.data.contains(&format!("Channel \"solo\" (#{id}) was disabled")), "{}", mail.data);
    gw.mock.clear_key_rules();
    gw.api("GET", "/api/channel/test", None).await;
    wait_for_rows(&gw, 4, 2).await;
    let mail = smtp.messages().pop().unwrap();
    assert!(mail.data.contains(&format!("Channel \"solo\" (#{id}) was enabled")), "{}", mail.data);
}

#[tokio::test]
async fn only_users_accepting_unset_models_may_use_a_model_without_a_price() {
    let gw = gateway(false).await;
    gw.create_channel(
        json!({"name": "odd", "type": 1, "key": "sk-odd", "base_url": gw.mock.base_url(), "models": "mystery-model"}),
    )
    .await;
    let (_, root_key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    let resp = gw.chat("/v1", &root_key, crate::harness::chat_body("mystery-model")).await;
    assert_eq!(resp.status(), 403, "refused as today");
    assert!(resp.text().await.unwrap().contains("no price"));

    let (status, body) = set_setting(&gw, json!({"accept_unset_model_ratio_model": true})).await;
    assert_eq!(status, 200, "{body}");
    let resp = gw.chat("/v1", &root_key, crate::harness::chat_body("mystery-model")).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let rows = wait_for_rows(&gw, 2, 1).await;
    let other: Value = serde_json::from_str(rows[0]["other"].as_str().unwrap()).unwrap();
    assert_eq!(other["model_ratio"], 37.5, "Veloera's unset-model price: {other}");
    // (12 prompt + 5 completion) × 37.5 at completion ratio 1.
    assert_eq!(rows[0]["quota"], 638, "{}", rows[0]);

    // Another user of the same group is still refused, although the relay has a route for the model cached.
    let cookie = gw.create_user("plain", "plain-password-1").await;
    let (status, body) =
        gw.api_as(Some(&cookie), "POST", "/api/token/", Some(json!({"name": "p", "unlimited_quota": true}))).await;
    assert_eq!(status, 200, "{body}");
    let plain_key = body["data"]["key"].as_str().unwrap().to_string();
    let resp = gw.chat("/v1", &plain_key, crate::harness::chat_body("mystery-model")).await;
    assert_eq!(resp.status(), 403);
    assert_eq!(gw.mock.chat_requests(), 1, "only the accepting user's request reached the upstream");
}
