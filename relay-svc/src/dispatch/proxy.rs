//! Per-channel proxies (Veloera's `setting.proxy`): `http://` proxies through an HTTP CONNECT tunnel, and
//! `socks5://` (local DNS) or `socks5h://` (the proxy resolves names), each with optional `user:password@`.
//! One pooled client per proxy, made on first use and kept.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use dashmap::DashMap;
use http::{HeaderValue, Uri};
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::{SocksV5, Tunnel};
use hyper_util::client::legacy::{Client, ResponseFuture};
use hyper_util::rt::TokioExecutor;

use crate::error::RelayError;

#[derive(Clone)]
enum Proxied {
    Tunnel(Client<HttpsConnector<Tunnel<HttpConnector>>, Full<Bytes>>),
    Socks(Client<HttpsConnector<SocksV5<HttpConnector>>, Full<Bytes>>),
}

/// The clients for every proxy seen so far.
#[derive(Clone)]
pub struct Proxies {
    clients: Arc<DashMap<String, Proxied>>,
    connect_timeout: Duration,
}

impl Proxies {
    pub fn new(connect_timeout: Duration) -> Self {
        Proxies { clients: Arc::default(), connect_timeout }
    }

    /// Sends `request` through the proxy at `proxy`.
    pub fn request(&self, proxy: &str, request: http::Request<Full<Bytes>>) -> Result<ResponseFuture, RelayError> {
        let client = match self.clients.get(proxy) {
            Some(c) => c.clone(),
            None => {
                let c = self.build(proxy)?;
                self.clients.insert(proxy.to_string(), c.clone());
                c
            }
        };
        Ok(match client {
            Proxied::Tunnel(c) => c.request(request),
            Proxied::Socks(c) => c.request(request),
        })
    }

    fn build(&self, proxy: &str) -> Result<Proxied, RelayError> {
        let bad = |why: &str| RelayError::UpstreamFailed(format!("the channel's proxy cannot be used: {why}"));
        let url = url::Url::parse(proxy).map_err(|_| bad("not a URL"))?;
        let host = url.host_str().ok_or_else(|| bad("no host"))?;
        let port = url.port_or_known_default().ok_or_else(|| bad("no port"))?;
        let proxy_dst: Uri = format!("{}://{host}:{port}", url.scheme()).parse().map_err(|_| bad("not a URI"))?;
        let user = (!url.username().is_empty())
            .then(|| (url.username().to_string(), url.password().unwrap_or("").to_string()));
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        http.set_connect_timeout(Some(self.connect_timeout));
        http.enforce_http(false);
        let tls = || hyper_rustls::HttpsConnectorBuilder::new().with_webpki_roots().https_or_http().enable_http1();
        let builder = || {
            let mut b = Client::builder(TokioExecutor::new());
            b.pool_idle_timeout(Duration::from_secs(90));
            b
        };
        match url.scheme() {
            "http" => {
                let mut tunnel = Tunnel::new(proxy_dst, http);
                if let Some((user, pass)) = user {
                    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
                    let auth = HeaderValue::from_str(&format!("Basic {token}")).map_err(|_| bad("bad credentials"))?;
                    tunnel = tunnel.with_auth(auth);
                }
                Ok(Proxied::Tunnel(builder().build(tls().wrap_connector(tunnel))))
            }
            scheme @ ("socks5" | "socks5h") => {
                let mut socks = SocksV5::new(proxy_dst, http).local_dns(scheme == "socks5");
                if let Some((user, pass)) = user {
                    socks = socks.with_auth(user, pass);
                }
                Ok(Proxied::Socks(builder().build(tls().wrap_connector(socks))))
            }
            other => Err(bad(&format!("the scheme {other} is not http, socks5 or socks5h"))),
        }
    }
}
