//! Every request the UI makes goes through here. All calls are same-origin and carry the
//! HttpOnly session cookie the server set at login (`credentials: same-origin`).

use gloo_net::http::{Request, RequestBuilder, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use veloera_admin_types::{Channel, Envelope, LoginRequest, Token, TokenCreate, UpdateSelf, UserSelf};
use web_sys::RequestCredentials;

/// A failed call, already phrased for display (the server's `message` when it sent one).
pub type ApiResult<T> = Result<T, String>;

fn get(url: &str) -> RequestBuilder {
    Request::get(url).credentials(RequestCredentials::SameOrigin)
}

fn post(url: &str) -> RequestBuilder {
    Request::post(url).credentials(RequestCredentials::SameOrigin)
}

fn put(url: &str) -> RequestBuilder {
    Request::put(url).credentials(RequestCredentials::SameOrigin)
}

async fn send_json<B: Serialize>(builder: RequestBuilder, body: &B) -> ApiResult<Response> {
    let req = builder.json(body).map_err(|e| format!("could not encode request: {e}"))?;
    req.send().await.map_err(|e| format!("network error: {e}"))
}

async fn send(builder: RequestBuilder) -> ApiResult<Response> {
    builder.send().await.map_err(|e| format!("network error: {e}"))
}

/// Reads a Veloera envelope. `success: false` (or an HTTP error) becomes `Err(message)`.
async fn envelope<T: DeserializeOwned>(resp: Response) -> ApiResult<Option<T>> {
    let status = resp.status();
    let text = resp.text().await.map_err(|e| format!("could not read response: {e}"))?;
    match serde_json::from_str::<Envelope<T>>(&text) {
        Ok(env) if env.success && (200..300).contains(&status) => Ok(env.data),
        Ok(env) if !env.message.is_empty() => Err(env.message),
        Ok(_) => Err(format!("request failed (HTTP {status})")),
        Err(_) if !(200..300).contains(&status) => Err(format!("request failed (HTTP {status})")),
        Err(e) => Err(format!("unexpected response: {e}")),
    }
}

async fn envelope_data<T: DeserializeOwned>(resp: Response) -> ApiResult<T> {
    envelope(resp).await?.ok_or_else(|| "response carried no data".to_string())
}

/// `POST /api/user/login`.
pub async fn login(username: String, password: String) -> ApiResult<UserSelf> {
    let resp = send_json(post("/api/user/login"), &LoginRequest { username, password }).await?;
    envelope_data(resp).await
}

/// `GET /api/user/self`: fails (401) when there is no valid session.
pub async fn get_self() -> ApiResult<UserSelf> {
    envelope_data(send(get("/api/user/self")).await?).await
}

/// `PUT /api/user/self` with only the password fields set.
pub async fn change_password(original_password: String, password: String) -> ApiResult<()> {
    let body =
        UpdateSelf { original_password: Some(original_password), password: Some(password), ..Default::default() };
    let resp = send_json(put("/api/user/self"), &body).await?;
    envelope::<serde_json::Value>(resp).await.map(|_| ())
}

/// `GET /api/user/logout`.
pub async fn logout() -> ApiResult<()> {
    envelope::<serde_json::Value>(send(get("/api/user/logout")).await?).await.map(|_| ())
}

/// `GET /api/channel/`.
pub async fn list_channels() -> ApiResult<Vec<Channel>> {
    Ok(envelope(send(get("/api/channel/")).await?).await?.unwrap_or_default())
}

/// `GET /api/token/`.
pub async fn list_tokens() -> ApiResult<Vec<Token>> {
    Ok(envelope(send(get("/api/token/")).await?).await?.unwrap_or_default())
}

/// `POST /api/token/`: an unlimited token; the returned token holds the full key (once).
pub async fn create_token(name: String) -> ApiResult<Option<Token>> {
    let body = TokenCreate { name, unlimited_quota: Some(true), ..Default::default() };
    envelope(send_json(post("/api/token/"), &body).await?).await
}
