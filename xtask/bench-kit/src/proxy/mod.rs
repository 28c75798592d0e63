//! The bare reverse proxy: the yardstick for what one extra HTTP/1.1 hop costs. It forwards method,
//! path, headers and a streamed body over a pooled client and streams the answer back; it never
//! looks inside a body.

mod hop_by_hop;
mod upstream;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper::header::HOST;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, Version};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::net::TcpListener;

pub use upstream::Upstream;

use crate::Error;
use crate::launch::Launch;

/// The upstream's body passed through untouched, or a short local error.
type ProxyBody = Either<Incoming, Full<Bytes>>;

/// Idle upstream connections are dropped after this long; far above any benchmark pause.
const POOL_IDLE: Duration = Duration::from_secs(90);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// `bare-proxy` flags: `--listen`, `--threads` and the required `--upstream http://HOST:PORT`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Args {
    pub launch: Launch,
    pub upstream: Upstream,
}

impl Args {
    /// Parses the flags that follow the program name.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, Error> {
        let mut launch = Launch::default();
        let mut upstream = None;
        for (name, value) in crate::cli::flag_pairs(args)? {
            if launch.take_flag(&name, &value)? {
                continue;
            }
            match name.as_str() {
                "--upstream" => upstream = Some(value.parse().map_err(|reason| Error::invalid(&name, &value, reason))?),
                _ => return Err(Error::UnknownFlag(name)),
            }
        }
        Ok(Args { launch, upstream: upstream.ok_or(Error::MissingFlag("--upstream"))? })
    }
}

struct Forwarder {
    client: Client<HttpConnector, Incoming>,
    upstream: Upstream,
}

/// Proxies every request on `listener` to `upstream` until `shutdown` resolves.
pub async fn serve(listener: TcpListener, upstream: Upstream, shutdown: impl Future<Output = ()>) {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
    let client = Client::builder(TokioExecutor::new())
        // Keep every connection a burst opened: re-dialling under load would measure connect(), not proxying.
        .pool_max_idle_per_host(usize::MAX)
        .pool_idle_timeout(POOL_IDLE)
        .pool_timer(TokioTimer::new())
        .build(connector);
    let forwarder = Arc::new(Forwarder { client, upstream });
    let service = service_fn(move |request| forward(forwarder.clone(), request));
    crate::serve::serve(listener, service, shutdown).await;
}

async fn forward(forwarder: Arc<Forwarder>, request: Request<Incoming>) -> Result<Response<ProxyBody>, Infallible> {
    let (mut parts, body) = request.into_parts();
    parts.uri = match forwarder.upstream.uri_for(parts.uri.path_and_query()) {
        Ok(uri) => uri,
        Err(_) => return Ok(local_error(StatusCode::BAD_REQUEST, "bad request target")),
    };
    // The client derives Host from the upstream URI; the inbound one names this proxy.
    parts.headers.remove(HOST);
    hop_by_hop::strip(&mut parts.headers);
    parts.version = Version::HTTP_11;
    let response = match forwarder.client.request(Request::from_parts(parts, body)).await {
        Ok(response) => response,
        Err(_) => return Ok(local_error(StatusCode::BAD_GATEWAY, "upstream unavailable")),
    };
    let (mut parts, body) = response.into_parts();
    hop_by_hop::strip(&mut parts.headers);
    Ok(Response::from_parts(parts, Either::Left(body)))
}

fn local_error(status: StatusCode, message: &'static str) -> Response<ProxyBody> {
    let mut response = Response::new(Either::Right(Full::new(Bytes::from_static(message.as_bytes()))));
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_is_required() {
        assert!(matches!(Args::parse(["--listen", "127.0.0.1:0"].map(str::to_owned)), Err(Error::MissingFlag(_))));
        let args = Args::parse(["--upstream", "http://127.0.0.1:1"].map(str::to_owned)).unwrap();
        assert_eq!(args.upstream, "http://127.0.0.1:1".parse().unwrap());
    }
}
