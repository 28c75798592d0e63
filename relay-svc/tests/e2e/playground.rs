//! The playground (`POST /pg/chat/completions` with the session): streamed, billed to the signed-in user under
//! `playground-<group>`, logged, and refused once the session has ended or the account is disabled.

use serde_json::{Value, json};

use crate::harness::{Gateway, chat_body};

async fn playground(gw: &Gateway, credential: (&str, &str), body: Value) -> reqwest::Response {
    gw.http.post(gw.url("/pg/chat/completions")).header(credential.0, credential.1).json(&body).send().await.unwrap()
}

fn streamed(model: &str, group: Option<&str>) -> Value {
    let mut body = chat_body(model);
    body["stream"] = json!(true);
    if let Some(g) = group {
        body["group"] = json!(g);
    }
    body
}

fn streamed_text(sse: &str) -> String {
    sse.split("\n\n")
        .filter_map(|f| f.strip_prefix("data: "))
        .filter_map(|p| serde_json::from_str::<Value>(p).ok())
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str().map(str::to_string))
        .collect()
}

async fn quota_of(gw: &Gateway, cookie: &str) -> i64 {
    gw.api_as(Some(cookie), "GET", "/api/user/self", None).await.1["data"]["quota"].as_i64().unwrap()
}

#[tokio::test]
async fn a_playground_answer_is_streamed_billed_to_the_signed_in_user_and_logged_under_its_group() {
    let gw = Gateway::start().await;
    let cookie = gw.create_user("alice", "alice-password").await;
    let before = quota_of(&gw, &cookie).await;
    let resp = playground(&gw, ("cookie", &cookie), streamed("gpt-4o-mini", Some("default"))).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    assert_eq!(streamed_text(&resp.text().await.unwrap()), "Hello world");
    let upstream = gw.mock.received();
    assert!(upstream.last().unwrap().body.get("group").is_none(), "the group is not sent upstream");
    let logs = gw.wait_for_logs(1).await;
    let row = &logs[0];
    assert_eq!(row["username"], "alice");
    assert_eq!(row["token_name"], "playground-default");
    assert_eq!(row["model_name"], "gpt-4o-mini");
    let cost = row["quota"].as_i64().unwrap();
    assert!(cost > 0, "{row}");
    let id = gw.api_as(Some(&cookie), "GET", "/api/user/self", None).await.1["data"]["id"].as_i64().unwrap();
    gw.wait_for_state(&format!("/api/user/{id}"), |u| u["data"]["quota"] == before - cost).await;
    assert_eq!(quota_of(&gw, &cookie).await, before - cost, "alice's own view of her balance");
}

#[tokio::test]
async fn the_playground_refuses_a_browser_without_a_session_and_one_signed_out() {
    let gw = Gateway::start().await;
    let resp = gw.http.post(gw.url("/pg/chat/completions")).json(&chat_body("gpt-4o-mini")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let cookie = gw.create_user("bob", "bob-password").await;
    gw.wait_relay_caught_up().await;
    // A first request caches bob's playground caller on the relay; logging out must end it there too.
    assert_eq!(playground(&gw, ("cookie", &cookie), chat_body("gpt-4o-mini")).await.status(), 200);
    let (status, _) = gw.api_as(Some(&cookie), "GET", "/api/user/logout", None).await;
    assert_eq!(status, 200);
    gw.wait_relay_caught_up().await;
    let resp = playground(&gw, ("cookie", &cookie), chat_body("gpt-4o-mini")).await;
    assert_eq!(resp.status(), 401, "the playground still answers a signed-out session");
    let body: Value = resp.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("sign in"), "{body}");
}

#[tokio::test]
async fn the_playground_refuses_a_disabled_user_even_with_a_personal_access_token() {
    let gw = Gateway::start().await;
    let cookie = gw.create_user("carol", "carol-password").await;
    let id = gw.api_as(Some(&cookie), "GET", "/api/user/self", None).await.1["data"]["id"].as_i64().unwrap();
    let token = gw.api_as(Some(&cookie), "GET", "/api/user/token", None).await.1["data"].as_str().unwrap().to_string();
    gw.wait_relay_caught_up().await;
    assert_eq!(playground(&gw, ("authorization", &token), chat_body("gpt-4o-mini")).await.status(), 200);
    let (status, body) = gw.api("POST", "/api/user/manage", Some(json!({"id": id, "action": "disable"}))).await;
    assert_eq!(status, 200, "{body}");
    gw.wait_relay_caught_up().await;
    let resp = playground(&gw, ("authorization", &token), chat_body("gpt-4o-mini")).await;
    assert_eq!(resp.status(), 403, "the playground still answers a disabled user");
    let body: Value = resp.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("disabled"), "{body}");
}

#[tokio::test]
async fn a_user_limited_to_some_groups_cannot_pick_another_in_the_playground() {
    let gw = Gateway::start().await;
    gw.set_options(&[("UserUsableGroups", r#"{"default": "Default"}"#)]).await;
    let cookie = gw.create_user("dave", "dave-password").await;
    let resp = playground(&gw, ("cookie", &cookie), streamed("gpt-4o-mini", Some("vip"))).await;
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("vip"), "{body}");
    assert_eq!(gw.mock.chat_requests(), 0, "nothing reached the upstream");
    let own = playground(&gw, ("cookie", &cookie), streamed("gpt-4o-mini", None)).await;
    assert_eq!(own.status(), 200, "the user's own group needs no pick");
}
