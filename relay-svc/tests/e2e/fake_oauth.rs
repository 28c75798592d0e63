//! A fake OAuth provider on port 0 that plays both GitHub (`/login/oauth/access_token`, `/user`) and an OpenID
//! Connect provider (discovery, `/token`, `/userinfo`). The code `good-N` stands for user N; `bad` is refused as
//! GitHub and OIDC refuse a wrong code; `boom` makes the token endpoint fail with a 500. It records what it got.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

pub const CLIENT_ID: &str = "client-id-1";
pub const CLIENT_SECRET: &str = "client-secret-1";

#[derive(Clone)]
struct Shared {
    base: String,
    received: Arc<Mutex<Vec<(String, Value)>>>,
}

pub struct FakeOAuth {
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<(String, Value)>>>,
}

impl FakeOAuth {
    pub async fn start() -> FakeOAuth {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let shared = Shared { base: format!("http://{addr}"), received: received.clone() };
        let app = Router::new()
            .route("/login/oauth/access_token", post(github_token))
            .route("/user", get(github_user))
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/token", post(oidc_token))
            .route("/userinfo", get(oidc_userinfo))
            .with_state(shared);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeOAuth { addr, received }
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `(path, body)` of every request received, in order.
    pub fn received(&self) -> Vec<(String, Value)> {
        self.received.lock().unwrap().clone()
    }
}

fn user_number(code: &str) -> Option<u64> {
    code.strip_prefix("good-")?.parse().ok()
}

fn bearer_number(headers: &HeaderMap, prefix: &str) -> Option<u64> {
    let auth = headers.get("authorization")?.to_str().ok()?;
    auth.strip_prefix("Bearer ")?.strip_prefix(prefix)?.parse().ok()
}

async fn github_token(State(s): State<Shared>, Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
    s.received.lock().unwrap().push(("/login/oauth/access_token".into(), body.clone()));
    let code = body["code"].as_str().unwrap_or_default();
    if code == "boom" {
        return (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({"message": "internal failure at 10.0.0.7"})));
    }
    if body["client_id"] != CLIENT_ID || body["client_secret"] != CLIENT_SECRET {
        return (StatusCode::OK, Json(json!({"error": "incorrect_client_credentials"})));
    }
    match user_number(code) {
        // GitHub answers a wrong code with 200 and an error field.
        None => (
            StatusCode::OK,
            Json(
                json!({"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired."}),
            ),
        ),
        Some(n) => (StatusCode::OK, Json(json!({"access_token": format!("gho_{n}"), "token_type": "bearer"}))),
    }
}

async fn github_user(State(s): State<Shared>, headers: HeaderMap) -> (StatusCode, Json<Value>) {
    s.received.lock().unwrap().push(("/user".into(), Value::Null));
    match bearer_number(&headers, "gho_") {
        Some(n) => (StatusCode::OK, Json(json!({"id": 1000 + n, "login": format!("octocat{n}"), "email": null}))),
        None => (StatusCode::UNAUTHORIZED, Json(json!({"message": "Bad credentials"}))),
    }
}

async fn discovery(State(s): State<Shared>) -> Json<Value> {
    s.received.lock().unwrap().push(("/.well-known/openid-configuration".into(), Value::Null));
    Json(json!({
        "issuer": s.base,
        "authorization_endpoint": format!("{}/authorize", s.base),
        "token_endpoint": format!("{}/token", s.base),
        "userinfo_endpoint": format!("{}/userinfo", s.base),
    }))
}

async fn oidc_token(
    State(s): State<Shared>,
    Form(form): Form<std::collections::HashMap<String, String>>,
) -> (StatusCode, Json<Value>) {
    let body = serde_json::to_value(&form).unwrap();
    s.received.lock().unwrap().push(("/token".into(), body));
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    if field("grant_type") != "authorization_code"
        || field("client_id") != CLIENT_ID
        || field("client_secret") != CLIENT_SECRET
    {
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "invalid_client"})));
    }
    match user_number(field("code")) {
        Some(n) => (StatusCode::OK, Json(json!({"access_token": format!("oat_{n}"), "token_type": "Bearer"}))),
        None => (StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_grant"}))),
    }
}

async fn oidc_userinfo(State(s): State<Shared>, headers: HeaderMap) -> (StatusCode, Json<Value>) {
    s.received.lock().unwrap().push(("/userinfo".into(), Value::Null));
    match bearer_number(&headers, "oat_") {
        Some(n) => (
            StatusCode::OK,
            Json(
                json!({"sub": format!("subject-{n}"), "email": format!("person{n}@idp.test"), "preferred_username": format!("person{n}")}),
            ),
        ),
        None => (StatusCode::UNAUTHORIZED, Json(json!({"error": "invalid_token"}))),
    }
}
