//! The public front door: every path the relay does not serve itself goes to control's HTTP listener,
//! so one public port serves the API, the admin API and the UI.

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;
use http::{HeaderName, StatusCode};

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

fn forwardable(name: &HeaderName) -> bool {
    !HOP_BY_HOP.contains(&name.as_str()) && name != http::header::HOST
}

pub async fn forward(
    State(state): State<RelayState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let url = format!("{}{}", state.control_http_url, path);
    let mut upstream = state.frontdoor.request(parts.method.clone(), &url);
    for (name, value) in parts.headers.iter().filter(|(n, _)| forwardable(n) && n.as_str() != CLIENT_IP) {
        upstream = upstream.header(name, value);
    }
    upstream = upstream.header("x-forwarded-for", peer.ip().to_string()).header(CLIENT_IP, peer.ip().to_string());
    let body = reqwest::Body::wrap_stream(body.into_data_stream());
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
            tracing::warn!(error = %e, "control-svc HTTP is unreachable");
            (StatusCode::BAD_GATEWAY, "the admin service is unreachable; try again shortly\n").into_response()
        }
    }
}
