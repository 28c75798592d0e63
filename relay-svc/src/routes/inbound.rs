//! What every relay handler reads about a request besides its body, extracted once: the request's id (from
//! [`super::request_id`]'s layer), the client's address (the connection's peer, or the trusted proxies' entry
//! `client_addr` put in its place) and the headers, moved out of the request rather than copied.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderMap, StatusCode};

use super::request_id::RequestId;

pub struct Inbound {
    pub request_id: RequestId,
    pub client_ip: IpAddr,
    pub headers: HeaderMap,
}

impl Inbound {
    /// The client's address as control and the logs take it.
    pub fn ip_text(&self) -> String {
        self.client_ip.to_string()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Inbound {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Response> {
        // Both are put there by the relay's own server and layers; missing, the server is wired wrongly.
        let wiring =
            |what: &str| (StatusCode::INTERNAL_SERVER_ERROR, format!("the relay has no {what}")).into_response();
        let request_id = parts.extensions.get::<RequestId>().copied().ok_or_else(|| wiring("request id"))?;
        let ConnectInfo(peer) =
            parts.extensions.get::<ConnectInfo<SocketAddr>>().copied().ok_or_else(|| wiring("client address"))?;
        // Taken, not cloned: the handlers that take an `Inbound` read the headers only through it.
        let headers = std::mem::take(&mut parts.headers);
        Ok(Inbound { request_id, client_ip: peer.ip(), headers })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn extract(request: http::Request<()>) -> Result<Inbound, Response> {
        let (mut parts, ()) = request.into_parts();
        Inbound::from_request_parts(&mut parts, &()).await
    }

    #[tokio::test]
    async fn takes_the_id_the_address_and_the_headers() {
        let id = RequestId::generate();
        let peer: SocketAddr = "203.0.113.7:5555".parse().unwrap();
        let mut request = http::Request::builder().header("authorization", "Bearer sk-x").body(()).unwrap();
        request.extensions_mut().insert(id);
        request.extensions_mut().insert(ConnectInfo(peer));
        let inbound = extract(request).await.unwrap_or_else(|_| panic!("extracted"));
        assert_eq!(inbound.request_id.as_str(), id.as_str());
        assert_eq!(inbound.ip_text(), "203.0.113.7");
        assert_eq!(inbound.headers["authorization"], "Bearer sk-x");
    }

    #[tokio::test]
    async fn a_server_without_its_layers_is_a_server_error_not_a_guess() {
        let response = extract(http::Request::new(())).await.err().expect("refused");
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
