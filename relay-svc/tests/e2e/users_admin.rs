//! User administration: the role rules, quota changes that are logged and never lost, and owned resources hidden
//! from other users (the authorization matrix over every route is `api_access`).

use serde_json::{Value, json};

use crate::harness::Gateway;

async fn user_id(gw: &Gateway, cookie: &str) -> i64 {
    gw.api_as(Some(cookie), "GET", "/api/user/self", None).await.1["data"]["id"].as_i64().unwrap()
}

#[tokio::test]
async fn administrators_manage_only_lower_roles_and_only_root_promotes() {
    let gw = Gateway::start().await;
    let alice = gw.create_user("alice", "a-long-password").await;
    let bob = gw.create_user("bob", "a-long-password").await;
    let (alice_id, bob_id) = (user_id(&gw, &alice).await, user_id(&gw, &bob).await);

    // Root promotes alice; alice may then manage bob but not promote him, nor act on root or herself.
    let (status, body) = gw.api("POST", "/api/user/manage", Some(json!({"id": alice_id, "action": "promote"}))).await;
    assert_eq!(status, 200, "{body}");
    let manage = |id: i64, action: &str| json!({"id": id, "action": action});
    assert_eq!(gw.api_as(Some(&alice), "POST", "/api/user/manage", Some(manage(bob_id, "disable"))).await.0, 200);
    assert_eq!(gw.api_as(Some(&alice), "POST", "/api/user/manage", Some(manage(bob_id, "enable"))).await.0, 200);
    assert_eq!(gw.api_as(Some(&alice), "POST", "/api/user/manage", Some(manage(bob_id, "promote"))).await.0, 403);
    assert_eq!(gw.api_as(Some(&alice), "POST", "/api/user/manage", Some(manage(1, "disable"))).await.0, 403);
    assert_eq!(gw.api_as(Some(&alice), "GET", "/api/user/1", None).await.0, 403);
    // Another administrator is off limits to alice as well.
    let carol = gw.create_user("carol", "a-long-password").await;
    let carol_id = user_id(&gw, &carol).await;
    gw.api("POST", "/api/user/manage", Some(manage(carol_id, "promote"))).await;
    assert_eq!(gw.api_as(Some(&alice), "POST", "/api/user/manage", Some(manage(carol_id, "disable"))).await.0, 403);
    // Root cannot be disabled or deleted, not even by root; nonsense actions are refused with a reason.
    let (status, body) = gw.api("POST", "/api/user/manage", Some(manage(1, "delete"))).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = gw.api("POST", "/api/user/manage", Some(manage(bob_id, "explode"))).await;
    assert_eq!(status, 400, "{body}");
    // A disabled user cannot call anything; root demotes alice and she loses administration.
    gw.api("POST", "/api/user/manage", Some(manage(bob_id, "disable"))).await;
    assert_ne!(gw.api_as(Some(&bob), "GET", "/api/user/self", None).await.0, 200);
    gw.api("POST", "/api/user/manage", Some(manage(alice_id, "demote"))).await;
    assert_eq!(gw.api_as(Some(&alice), "GET", "/api/user/", None).await.0, 403);
}

#[tokio::test]
async fn quota_changes_are_relative_and_logged() {
    let gw = Gateway::start().await;
    let alice = gw.create_user("alice", "a-long-password").await;
    let id = user_id(&gw, &alice).await;
    let (status, body) = gw.api("PUT", "/api/user/", Some(json!({"id": id, "quota": 5000, "group": "vip"}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["data"]["quota"].as_i64(), body["data"]["group"].as_str()), (Some(5000), Some("vip")));
    let (_, logs) = gw.api("GET", "/api/log/?p=1&page_size=50", None).await;
    let manage: Vec<&Value> = logs["data"]["items"].as_array().unwrap().iter().filter(|l| l["type"] == 3).collect();
    assert_eq!(manage.len(), 1, "{logs}");
    assert!(manage[0]["content"].as_str().unwrap().contains("to 5000"), "{}", manage[0]);
    for (body, word) in [
        (json!({"id": id, "quota": -1}), "quota"),
        (json!({"id": id, "email": "nope"}), "email"),
        (json!({"id": id, "password": "short"}), "password"),
        (json!({"id": 424242}), "not found"),
    ] {
        let (status, reply) = gw.api("PUT", "/api/user/", Some(body)).await;
        assert!(status == 400 || status == 404, "{reply}");
        assert!(reply["message"].as_str().unwrap().contains(word), "{reply}");
    }
    let (status, body) =
        gw.api("POST", "/api/user/", Some(json!({"username": "alice", "password": "a-long-password"}))).await;
    assert_eq!(status, 409, "{body}");
    let (status, body) =
        gw.api("POST", "/api/user/", Some(json!({"username": "bad name!", "password": "a-long-password"}))).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) =
        gw.api("POST", "/api/user/", Some(json!({"username": "dave", "password": "a-long-password"}))).await;
    assert_eq!((status, body["data"]["role"].as_i64()), (200, Some(1)), "{body}");
    let (_, found) = gw.api("GET", "/api/user/search?keyword=dav", None).await;
    assert_eq!(found["data"]["items"].as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found["data"]["total"], 1, "{found}");
}

/// Owned resources: another user's token is "not found" (never "forbidden", which would confirm it exists); to
/// its owner it is there. Who may call each route at all is `api_access`.
#[tokio::test]
async fn another_users_token_is_not_found() {
    let gw = Gateway::start().await;
    let user = gw.create_user("user", "a-long-password").await;
    let other = gw.create_user("other", "a-long-password").await;
    let (status, token) = gw.api_as(Some(&user), "POST", "/api/token/", Some(json!({"name": "u"}))).await;
    assert_eq!(status, 200, "{token}");
    let token_id = token["data"]["id"].as_i64().unwrap();
    for (method, path) in [("GET", format!("/api/token/{token_id}")), ("POST", format!("/api/token/{token_id}/key"))] {
        assert_eq!(gw.api_as(Some(&other), method, &path, None).await.0, 404, "{method} {path}");
        assert_eq!(gw.api_as(Some(&user), method, &path, None).await.0, 200, "{method} {path}");
        assert_eq!(gw.api_as(None, method, &path, None).await.0, 401, "{method} {path}");
    }
    let update = json!({"id": token_id, "name": "taken"});
    assert_eq!(gw.api_as(Some(&other), "PUT", "/api/token/", Some(update)).await.0, 404);
    let delete = format!("/api/token/{token_id}");
    assert_eq!(gw.api_as(Some(&other), "DELETE", &delete, None).await.0, 404);
    assert_eq!(gw.api_as(Some(&user), "GET", &delete, None).await.1["data"]["name"], "u");
}
