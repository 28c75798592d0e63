//! The public front door: every path the relay does not serve itself goes to control's HTTP listener,
//! so one public port serves the API, the admin API and the UI. A body larger than control accepts is answered
//! here (413) and never forwarded.

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;
use http::{HeaderName, StatusCode};
use http_body_util::BodyExt;

use crate::routes::RelayState;

/// Hop-by-hop headers (RFC 9110 §7.6.1) are per connection and must not be forwarded.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Set to the address the client connected from; control counts its request limits by it. Whatever a client
/// sends under this name is dropped, so the address cannot be forged through the front door.
const CLIENT_IP: &str = "x-veloera-client-ip";

/// The largest body forwarded: control's own limit on a request body (axum's default for the extractors its
/// handlers use, 2 MiB). Admin API bodies are small JSON documents; nothing there takes uploads.
pub const ADMIN_BODY_LIMIT: usize = 2 * 1024 * 1024;

fn forwardable(name: &HeaderName) -> bool {
    !HOP_BY_HOP.contains(&name.as_str()) && name != http::header::HOST
}

pub async fn forward(
    State(state): State<RelayState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let declared = parts.headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > ADMIN_BODY_LIMIT as u64) {
        return too_large();
    }
    // Read whole (bounded) before anything is sent: a body cut off at the limit is never half-forwarded.
    let body = match http_body_util::Limited::new(body, ADMIN_BODY_LIMIT).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => return too_large(),
        Err(e) => {
            tracing::debug!(error = ?e.to_string(), "request body not received");
            return envelope(StatusCode::BAD_REQUEST, "the request body could not be read");
        }
    };
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let url = format!("{}{}", state.control_http_url, path);
    let mut upstream = state.frontdoor.request(parts.method.clone(), &url);
    for (name, value) in parts.headers.iter().filter(|(n, _)| forwardable(n) && n.as_str() != CLIENT_IP) {
        upstream = upstream.header(name, value);
    }
    upstream = upstream.header("x-forwarded-for", peer.ip().to_string()).header(CLIENT_IP, peer.ip().to_string());
    match upstream.body(body).send().await {
        Ok(resp) => {
            let mut builder = Response::builder().status(resp.status().as_u16());
            for (name, value) in resp.headers().iter().filter(|(n, _)| forwardable(n)) {
                builder = builder.header(name, value);
            }
            let stream = resp.bytes_stream().map_err(std::io::Error::other);
            builder.body(Body::from_stream(stream)).unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
        }
        Err(e) => {
            tracing::warn!(error = ?e.to_string(), "control-svc HTTP is unreachable");
            (StatusCode::BAD_GATEWAY, "the admin service is unreachable; try again shortly\n").into_response()
        }
    }
}

fn too_large() -> Response {
    let message = format!("the request body is larger than {} MiB", ADMIN_BODY_LIMIT / (1024 * 1024));
    envelope(StatusCode::PAYLOAD_TOO_LARGE, &message)
}

/// Veloera's `{success: false, message}` answer, which the admin UI shows.
fn envelope(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "success": false, "message": message }))).into_response()
}
