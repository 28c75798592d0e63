//! The authorization matrix: every `/api` route control registers × anonymous / user / administrator / root,
//! asserting who may and who may not call it. The route list is read from control's router source, so a route
//! added without a row here fails the test.

use serde_json::{Value, json};

use crate::harness::Gateway;

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    /// Anyone, signed in or not.
    Public,
    /// Any signed-in user.
    User,
    /// Administrators and root.
    Admin,
    /// Root only.
    Root,
    /// Nobody once the site is set up (first-run setup).
    Closed,
    /// Any signed-in user but root (deleting one's own account).
    UserNotRoot,
    /// Nobody while the feature is switched off, as it is in this test (sign-in with GitHub or OIDC).
    Off,
}

impl Access {
    /// Whether the caller at `level` (0 anonymous, 1 user, 2 administrator, 3 root) is let in.
    fn admits(self, level: u8) -> bool {
        match self {
            Access::Public => true,
            Access::User => level >= 1,
            Access::UserNotRoot => (1..=2).contains(&level),
            Access::Admin => level >= 2,
            Access::Root => level >= 3,
            Access::Closed | Access::Off => false,
        }
    }
}

/// The `(METHOD, path)` pairs control's router registers under `/api`, read from its source.
fn registered_routes() -> Vec<(String, String)> {
    let source = include_str!("../../../control-svc/src/admin/mod.rs");
    let mut routes = Vec::new();
    for piece in source.split(".route(").skip(1) {
        let Some(path) = piece.trim_start().strip_prefix('"').and_then(|p| p.split('"').next()) else { continue };
        // The handlers of this route end where the next builder call starts.
        let handlers = piece.split("\n        .").next().unwrap_or(piece);
        for method in ["get", "post", "put", "delete"] {
            let registered = handlers.match_indices(&format!("{method}(")).any(|(i, _)| {
                i == 0 || !handlers.as_bytes()[i - 1].is_ascii_alphanumeric() && handlers.as_bytes()[i - 1] != b'_'
            });
            if registered {
                routes.push((method.to_uppercase(), format!("/api{path}")));
            }
        }
    }
    routes
}

async fn id_of(gw: &Gateway, cookie: &str) -> i64 {
    gw.api_as(Some(cookie), "GET", "/api/user/self", None).await.1["data"]["id"].as_i64().unwrap()
}

#[tokio::test]
async fn every_api_route_admits_exactly_whom_it_should() {
    let gw = Gateway::start().await;
    gw.set_options(&[("CheckInEnabled", "true"), ("CheckInQuota", "100")]).await;
    let user = gw.create_user("user", "a-long-password").await;
    let admin = gw.create_user("admin", "a-long-password").await;
    let victim = gw.create_user("victim", "a-long-password").await;
    let admin_id = id_of(&gw, &admin).await;
    let victim_id = id_of(&gw, &victim).await;
    gw.api("POST", "/api/user/manage", Some(json!({"id": admin_id, "action": "promote"}))).await;
    let (_, token) = gw.api_as(Some(&user), "POST", "/api/token/", Some(json!({"name": "u"}))).await;
    let token_id = token["data"]["id"].as_i64().unwrap();
    let (_, channels) = gw.api("GET", "/api/channel/", None).await;
    let channel_id = channels["data"]["items"][0]["id"]
        .as_i64()
        .or_else(|| channels["data"][0]["id"].as_i64())
        .unwrap_or_else(|| panic!("no channel in {channels}"));
    let (status, codes) =
        gw.api("POST", "/api/redemption/", Some(json!({"name": "matrix", "quota": 10, "count": 1}))).await;
    assert_eq!(status, 200, "{codes}");
    let (_, listed) = gw.api("GET", "/api/redemption/", None).await;
    let redemption_id = listed["data"]["items"][0]["id"]
        .as_i64()
        .or_else(|| listed["data"][0]["id"].as_i64())
        .unwrap_or_else(|| panic!("no redemption in {listed}"));
    let root = gw.cookie.clone();
    let ids = |path: &str| {
        path.replace("/api/channel/{id}", &format!("/api/channel/{channel_id}"))
            .replace("/api/channel/test/{id}", &format!("/api/channel/test/{channel_id}"))
            .replace("/api/channel/update_balance/{id}", &format!("/api/channel/update_balance/{channel_id}"))
            .replace("/api/channel/fetch_models/{id}", &format!("/api/channel/fetch_models/{channel_id}"))
            .replace("/api/token/{id}", &format!("/api/token/{token_id}"))
            .replace("/api/redemption/{id}", &format!("/api/redemption/{redemption_id}"))
            .replace("/api/user/{id}", &format!("/api/user/{victim_id}"))
    };

    use Access::*;
    // (method, path as registered, who may call it, body). Routes that change the caller's own session or
    // account come last, logout (which ends the session) at the very end.
    let table: Vec<(&str, &str, Access, Option<Value>)> = vec![
        ("GET", "/api/status", Public, None),
        ("GET", "/api/notice", Public, None),
        ("GET", "/api/about", Public, None),
        ("GET", "/api/home_page_content", Public, None),
        ("GET", "/api/pricing", Public, None),
        ("GET", "/api/status/test", Admin, None),
        ("GET", "/api/models", User, None),
        ("GET", "/api/user/models", User, None),
        ("PUT", "/api/user/setting", User, Some(json!({"notify_type": "carrier-pigeon"}))),
        ("GET", "/api/token/search", User, None),
        ("GET", "/api/channel/models", Admin, None),
        ("POST", "/api/channel/fix", Admin, None),
        ("POST", "/api/model_mapping/reload", Admin, None),
        ("GET", "/api/setup", Public, None),
        (
            "POST",
            "/api/setup",
            Closed,
            Some(json!({"username": "x", "password": "long-enough-1", "confirmPassword": "long-enough-1"})),
        ),
        ("POST", "/api/user/login", Public, Some(json!({"username": "", "password": ""}))),
        ("POST", "/api/user/register", Public, Some(json!({"username": "", "password": ""}))),
        ("POST", "/api/user/reset", Public, Some(json!({"email": "nobody@example.com", "token": "x"}))),
        ("GET", "/api/verification", Public, None),
        ("GET", "/api/reset_password", Public, None),
        ("GET", "/api/oauth/state", Public, None),
        ("GET", "/api/oauth/github", Off, None),
        ("GET", "/api/oauth/oidc", Off, None),
        ("GET", "/api/oauth/email/bind", User, None),
        ("POST", "/api/oauth/email/bind", User, Some(json!({"email": "x@example.com", "code": "", "password": ""}))),
        ("GET", "/api/user/self", User, None),
        ("PUT", "/api/user/self", User, Some(json!({"display_name": "same"}))),
        ("GET", "/api/user/groups", User, None),
        ("GET", "/api/user/self/groups", User, None),
        ("GET", "/api/user/aff", User, None),
        ("POST", "/api/user/aff_transfer", User, Some(json!({"quota": 0}))),
        ("GET", "/api/user/check_in_status", User, None),
        ("POST", "/api/user/check_in", User, None),
        ("POST", "/api/user/topup", User, Some(json!({"key": "no-such-code"}))),
        ("GET", "/api/token/", User, None),
        ("POST", "/api/token/", User, Some(json!({"name": ""}))),
        ("PUT", "/api/token/", User, Some(json!({"id": 0, "name": "x"}))),
        ("GET", "/api/token/{id}", User, None),
        ("POST", "/api/token/{id}/key", User, None),
        ("GET", "/api/log/self", User, None),
        ("GET", "/api/log/self/search", User, None),
        ("GET", "/api/log/self/stat", User, None),
        ("GET", "/api/log/self/export", User, None),
        ("GET", "/api/data/self", User, None),
        ("GET", "/api/group/", Admin, None),
        ("GET", "/api/user/", Admin, None),
        ("POST", "/api/user/", Admin, Some(json!({"username": "", "password": ""}))),
        ("PUT", "/api/user/", Admin, Some(json!({"id": 0}))),
        ("GET", "/api/user/search", Admin, None),
        ("GET", "/api/user/{id}", Admin, None),
        ("POST", "/api/user/manage", Admin, Some(json!({"id": 0, "action": "disable"}))),
        ("GET", "/api/channel/", Admin, None),
        ("POST", "/api/channel/", Admin, Some(json!({"name": ""}))),
        ("PUT", "/api/channel/", Admin, Some(json!({"id": 0}))),
        ("GET", "/api/channel/search", Admin, None),
        ("GET", "/api/channel/models_enabled", Admin, None),
        ("GET", "/api/channel/tags", Admin, None),
        ("PUT", "/api/channel/tag", Admin, Some(json!({"tag": ""}))),
        ("POST", "/api/channel/tag/disabled", Admin, Some(json!({"tag": "no-such-tag"}))),
        ("POST", "/api/channel/tag/enabled", Admin, Some(json!({"tag": "no-such-tag"}))),
        ("POST", "/api/channel/batch", Admin, Some(json!({"ids": []}))),
        ("POST", "/api/channel/batch/tag", Admin, Some(json!({"ids": [], "tag": "t"}))),
        ("GET", "/api/channel/{id}", Admin, None),
        // The export carries every key in full.
        ("GET", "/api/channel/export", Root, None),
        ("POST", "/api/channel/import", Admin, Some(json!({"version": 1, "exported_at": 0, "channels": []}))),
        ("GET", "/api/channel/test", Admin, None),
        ("GET", "/api/channel/test/{id}", Admin, None),
        ("GET", "/api/channel/update_balance", Admin, None),
        ("GET", "/api/channel/update_balance/{id}", Admin, None),
        ("POST", "/api/channel/fetch_models", Admin, Some(json!({"base_url": "", "type": 1, "key": ""}))),
        ("GET", "/api/channel/fetch_models/{id}", Admin, None),
        ("GET", "/api/channel/{id}/keys", Admin, None),
        ("PUT", "/api/channel/{id}/keys", Admin, Some(json!({"slot": 99, "enabled": true}))),
        ("GET", "/api/model_mapping/", Admin, None),
        ("PUT", "/api/model_mapping/", Admin, Some(json!("not a mapping"))),
        ("GET", "/api/log/", Admin, None),
        ("GET", "/api/log/search", Admin, None),
        ("GET", "/api/log/stat", Admin, None),
        ("GET", "/api/log/export", Admin, None),
        ("GET", "/api/data/", Admin, None),
        ("GET", "/api/data/channels", Admin, None),
        ("GET", "/api/redemption/", Admin, None),
        ("POST", "/api/redemption/", Admin, Some(json!({"name": "", "quota": 0}))),
        ("PUT", "/api/redemption/", Admin, Some(json!({"id": 0}))),
        ("GET", "/api/redemption/search", Admin, None),
        ("GET", "/api/redemption/count-by-name", Admin, None),
        ("POST", "/api/redemption/batch-disable", Admin, Some(json!({"ids": []}))),
        ("PUT", "/api/redemption/batch-disable", Admin, Some(json!({"ids": []}))),
        ("DELETE", "/api/redemption/delete-by-name", Admin, None),
        ("DELETE", "/api/redemption/delete-disabled", Admin, None),
        ("GET", "/api/redemption/{id}", Admin, None),
        ("DELETE", "/api/redemption/{id}", Admin, None),
        ("GET", "/api/option/", Root, None),
        ("PUT", "/api/option/", Root, Some(json!({"key": "NoSuchOption", "value": "1"}))),
        ("DELETE", "/api/log/", Admin, None),
        ("DELETE", "/api/channel/disabled", Admin, None),
        ("DELETE", "/api/channel/{id}", Admin, None),
        ("DELETE", "/api/user/{id}", Admin, None),
        ("DELETE", "/api/token/{id}", User, None),
        ("GET", "/api/user/token", User, None),
        ("POST", "/api/user/logout_all", User, None),
        ("DELETE", "/api/user/self", UserNotRoot, None),
        // Logout ends the session the matrix signs in with, so it comes last.
        ("GET", "/api/user/logout", Public, None),
    ];

    let listed: Vec<(String, String)> = table.iter().map(|(m, p, ..)| (m.to_string(), p.to_string())).collect();
    let missing: Vec<_> = registered_routes().into_iter().filter(|r| !listed.contains(r)).collect();
    assert!(missing.is_empty(), "routes without a row in the authorization matrix: {missing:?}");

    let mut wrong = Vec::new();
    for (method, path, access, body) in &table {
        let path = ids(path);
        for (level, who, cookie) in
            [(0u8, "anonymous", None), (1, "user", Some(&user)), (2, "admin", Some(&admin)), (3, "root", Some(&root))]
        {
            let (status, reply) = gw.api_as(cookie.map(|c| c.as_str()), method, &path, body.clone()).await;
            let refused = matches!(status, 401 | 403);
            let expected = if level == 0 && !matches!(access, Closed | Off) { 401 } else { 403 };
            let wrong_answer = refused && (status != expected || reply["success"] != false);
            if refused == access.admits(level) || wrong_answer {
                wrong.push(format!("{who} {method} {path} ({access:?}): {status} {reply}"));
            }
        }
    }
    assert!(wrong.is_empty(), "the matrix does not hold:\n{}", wrong.join("\n"));
}
