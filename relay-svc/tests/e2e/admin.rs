//! The admin REST API through the relay's front door: sessions, the forced password change, channels, tokens.

use serde_json::{Value, json};

use crate::harness::{ADMIN_PASSWORD, Gateway, session_cookie};

#[tokio::test]
async fn the_default_root_must_change_its_password_before_anything_else() {
    let gw = Gateway::start_bare().await;
    let resp = gw
        .http
        .post(gw.url("/api/user/login"))
        .json(&json!({"username": "root", "password": "123456"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let cookie = session_cookie(&resp);
    let blocked = gw.http.get(gw.url("/api/token/")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(blocked.status(), 403);
    let body: Value = blocked.json().await.unwrap();
    assert_eq!(body["success"], false);
    assert!(body["message"].as_str().unwrap().contains("password"));
    let me = gw.http.get(gw.url("/api/user/self")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(me.status(), 200);

    let too_short = gw
        .http
        .put(gw.url("/api/user/self"))
        .header("cookie", &cookie)
        .json(&json!({"original_password": "123456", "password": "short"}))
        .send()
        .await
        .unwrap();
    assert_eq!(too_short.status(), 400);
    let changed = gw
        .http
        .put(gw.url("/api/user/self"))
        .header("cookie", &cookie)
        .json(&json!({"original_password": "123456", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    let now_ok = gw.http.get(gw.url("/api/token/")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(now_ok.status(), 200);
    let old = gw
        .http
        .post(gw.url("/api/user/login"))
        .json(&json!({"username": "root", "password": "123456"}))
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 401);
}

#[tokio::test]
async fn wrong_credentials_and_missing_sessions_are_refused() {
    let gw = Gateway::start_bare().await;
    for (user, pass) in [("root", "nope"), ("nobody", "123456")] {
        let resp = gw
            .http
            .post(gw.url("/api/user/login"))
            .json(&json!({"username": user, "password": pass}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["success"], false);
    }
    let anon = gw.http.get(gw.url("/api/channel/")).send().await.unwrap();
    assert_eq!(anon.status(), 401);
    let forged = gw.http.get(gw.url("/api/user/self")).header("cookie", "session=1.99999999999").send().await.unwrap();
    assert_eq!(forged.status(), 401);
    let bad_json = gw
        .http
        .post(gw.url("/api/user/login"))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_json.status(), 400);
}

#[tokio::test]
async fn a_mismatching_veloera_user_header_is_refused() {
    let mut gw = Gateway::start_bare().await;
    gw.sign_in_root().await;
    let ok = gw
        .http
        .get(gw.url("/api/user/self"))
        .header("cookie", &gw.cookie)
        .header("Veloera-User", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let wrong = gw
        .http
        .get(gw.url("/api/user/self"))
        .header("cookie", &gw.cookie)
        .header("Veloera-User", "2")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
}

#[tokio::test]
async fn tokens_show_their_full_key_once_and_masked_afterwards() {
    let gw = Gateway::start().await;
    let (id, key) = gw.create_token(json!({"name": "mine"})).await;
    assert!(key.starts_with("sk-"));
    assert_eq!(key.len(), 3 + 48);
    let (status, list) = gw.api("GET", "/api/token/", None).await;
    assert_eq!(status, 200);
    assert_eq!(list["success"], true);
    let listed = &list["data"]["items"].as_array().unwrap().iter().find(|t| t["id"] == id).unwrap()["key"];
    let listed = listed.as_str().unwrap();
    assert!(!listed.contains(&key[3..]));
    assert!(listed.starts_with(&key[..7]) && listed.ends_with(&key[key.len() - 4..]), "{listed}");
    assert!(!gw.token(id).await.to_string().contains(&key[3..]));
}

#[tokio::test]
async fn channel_keys_never_come_back_in_full() {
    let gw = Gateway::start().await;
    let id = gw
        .create_channel(json!({"name": "two keys", "type": 1, "key": "sk-first-secret-key-aaaa,sk-second-secret-key-bbbb", "base_url": gw.mock.base_url(), "models": "gpt-4o"}))
        .await;
    let (_, list) = gw.api("GET", "/api/channel/", None).await;
    let (_, one) = gw.api("GET", &format!("/api/channel/{id}"), None).await;
    for shown in [list.to_string(), one.to_string()] {
        assert!(!shown.contains("first-secret"), "{shown}");
        assert!(!shown.contains("second-secret"), "{shown}");
    }
    assert_eq!(one["data"]["type"], 1);
    assert_eq!(one["data"]["key"], "sk-f**********aaaa,sk-s**********bbbb");
}

#[tokio::test]
async fn invalid_channels_and_tokens_are_refused_with_a_reason() {
    let gw = Gateway::start().await;
    for (spec, words) in [
        (json!({"name": "x", "type": 1, "key": "", "models": "m"}), "key"),
        (json!({"name": "x", "type": 1, "key": "k", "models": ""}), "models"),
        (json!({"name": "x", "type": 999, "key": "k", "models": "m"}), "unknown channel type"),
        (json!({"name": "x", "type": 1, "key": "k", "models": "m", "model_mapping": "[1]"}), "model_mapping"),
        (json!({"name": "x", "type": 1, "key": "k", "models": "m", "base_url": "ftp://x"}), "base_url"),
        (json!({"name": "x", "type": 8, "key": "k", "models": "m"}), "base_url is required"),
    ] {
        let (status, body) = gw.api("POST", "/api/channel/", Some(spec)).await;
        assert_eq!(status, 400, "{body}");
        assert!(body["message"].as_str().unwrap().contains(words), "{body}");
    }
    for (spec, words) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "x", "expired_time": 5}), "expired_time"),
        (json!({"name": "x", "allow_ips": "not-an-ip"}), "allow_ips"),
        (json!({"name": "x", "remain_quota": -5}), "remain_quota"),
        (json!({"name": "x", "group": "nope"}), "group"),
    ] {
        let (status, body) = gw.api("POST", "/api/token/", Some(spec)).await;
        assert_eq!(status, 400, "{body}");
        assert!(body["message"].as_str().unwrap().contains(words), "{body}");
    }
}

#[tokio::test]
async fn a_user_cannot_see_or_change_another_users_token() {
    let gw = Gateway::start().await;
    let (id, root_key) = gw.create_token(json!({"name": "root's", "unlimited_quota": true})).await;
    let bob = gw.create_user("bob", "bobs-password").await;
    let call = |method: &str, path: &str, body: Option<Value>| {
        let mut req = gw.http.request(method.parse().unwrap(), gw.url(path)).header("cookie", &bob);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send()
    };
    assert_eq!(call("GET", &format!("/api/token/{id}"), None).await.unwrap().status(), 404);
    assert_eq!(call("PUT", "/api/token/", Some(json!({"id": id, "status": 2}))).await.unwrap().status(), 404);
    assert_eq!(call("DELETE", &format!("/api/token/{id}"), None).await.unwrap().status(), 404);
    let list: Value = call("GET", "/api/token/", None).await.unwrap().json().await.unwrap();
    assert_eq!(list["data"]["items"], json!([]));
    // Channels are for administrators only.
    assert_eq!(call("GET", "/api/channel/", None).await.unwrap().status(), 403);
    assert_eq!(
        call("POST", "/api/channel/", Some(json!({"name": "x", "type": 1, "key": "k", "models": "m"})))
            .await
            .unwrap()
            .status(),
        403
    );
    // Root's token is untouched and still works.
    assert_eq!(gw.token(id).await["status"], 1);
    assert_eq!(gw.chat("/v1", &root_key, crate::harness::chat_body("gpt-4o-mini")).await.status(), 200);
}

#[tokio::test]
async fn generate_default_token_gives_root_an_unlimited_token() {
    let mut gw = Gateway::start_bare_with(|c| c.generate_default_token = true).await;
    gw.sign_in_root().await;
    let (_, list) = gw.api("GET", "/api/token/", None).await;
    let tokens = list["data"]["items"].as_array().unwrap();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0]["name"], "root的初始令牌");
    assert_eq!(tokens[0]["unlimited_quota"], true);
    assert_eq!(tokens[0]["expired_time"], -1);
}

#[tokio::test]
async fn the_front_door_serves_the_public_status_and_unknown_api_routes_are_404() {
    let gw = Gateway::start_bare().await;
    let status: Value = gw.http.get(gw.url("/api/status")).send().await.unwrap().json().await.unwrap();
    assert_eq!(status["success"], true);
    assert_eq!(status["data"]["quota_per_unit"], 500000);
    let missing = gw.http.get(gw.url("/api/definitely/not")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    // Without a built UI, the root page says how to build it instead of pretending.
    let ui = gw.http.get(gw.url("/")).send().await.unwrap();
    assert_eq!(ui.status(), 503);
    assert!(ui.text().await.unwrap().contains("cargo xtask ui"));
}

#[tokio::test]
async fn only_its_owner_can_reveal_a_tokens_key() {
    let gw = Gateway::start().await;
    let (id, key) = gw.create_token(json!({"name": "mine"})).await;
    let (status, body) = gw.api("POST", &format!("/api/token/{id}/key"), None).await;
    assert_eq!((status, body["data"].as_str()), (200, Some(key.as_str())), "{body}");
    let other = gw.create_user("mallory", "a-long-password").await;
    let resp = gw.http.post(gw.url(&format!("/api/token/{id}/key"))).header("cookie", &other).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert!(!resp.text().await.unwrap().contains(&key[3..]));
    let anonymous = gw.http.post(gw.url(&format!("/api/token/{id}/key"))).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
}

/// A 50 MB body on `/api` is control's to refuse, but the front door refuses it first: 413 in Veloera's envelope,
/// and nothing reaches control (the change it carries is not applied), whether its size is declared or not.
#[tokio::test]
async fn an_oversized_api_body_is_answered_413_and_not_forwarded() {
    let gw = Gateway::start().await;
    let padded = |name: &str| {
        let mut body = format!(r#"{{"display_name": "{name}", "pad": ""#).into_bytes();
        body.resize(body.len() + 50 * 1024 * 1024, b'x');
        body.extend_from_slice(br#""}"#);
        body
    };
    let declared = gw
        .http
        .put(gw.url("/api/user/self"))
        .header("cookie", &gw.cookie)
        .header("content-type", "application/json")
        .body(padded("declared"))
        .send()
        .await
        .unwrap();
    assert_eq!(declared.status(), 413);
    let body: Value = declared.json().await.unwrap();
    assert_eq!(body["success"], false, "{body}");
    assert!(body["message"].as_str().unwrap().contains("larger than 2 MiB"), "{body}");

    let pieces: Vec<Result<Vec<u8>, std::io::Error>> =
        padded("streamed").chunks(1024 * 1024).map(|c| Ok(c.to_vec())).collect();
    let streamed = gw
        .http
        .put(gw.url("/api/user/self"))
        .header("cookie", &gw.cookie)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(pieces)))
        .send()
        .await
        .unwrap();
    assert_eq!(streamed.status(), 413);
    assert_eq!(streamed.json::<Value>().await.unwrap()["success"], false);

    let me = gw.root_self().await;
    assert_ne!(me["display_name"], "declared", "{me}");
    assert_ne!(me["display_name"], "streamed", "{me}");
    // A body within the limit still goes through.
    let (status, body) = gw.api("PUT", "/api/user/self", Some(json!({"display_name": "Root"}))).await;
    assert_eq!(status, 200, "{body}");
}
