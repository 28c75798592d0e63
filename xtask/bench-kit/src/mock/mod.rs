//! The fake OpenAI-compatible upstream: chat completions (JSON or paced SSE) shaped by per-model
//! [`Profiles`], plus `GET /stats`. It must stay far cheaper per request than the gateway it feeds.

mod completions;
mod profile;
mod sse;
mod stats;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;

pub use profile::{Profile, Profiles};
pub use stats::{Stats, StatsSnapshot};

use crate::Error;
use crate::launch::Launch;
use sse::SseBody;

/// Either a whole body (JSON, errors, stats) or a paced stream.
type MockBody = Either<Full<Bytes>, SseBody>;

/// `mock-upstream` flags: `--listen`, `--threads`, and repeatable `--profile MODEL=LATENCY_MS:CHUNKS:INTERVAL_MS`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Args {
    pub launch: Launch,
    pub profiles: Profiles,
}

impl Args {
    /// Parses the flags that follow the program name.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, Error> {
        let mut parsed = Args::default();
        for (name, value) in crate::cli::flag_pairs(args)? {
            if parsed.launch.take_flag(&name, &value)? {
                continue;
            }
            match name.as_str() {
                "--profile" => parsed.profiles.add(&value).map_err(|reason| Error::invalid(&name, &value, reason))?,
                _ => return Err(Error::UnknownFlag(name)),
            }
        }
        Ok(parsed)
    }
}

/// State shared by every connection.
struct Upstream {
    profiles: Profiles,
    stats: Arc<Stats>,
    /// The `created` timestamp of every answer: fixed at start so answers cost no clock read.
    created: u64,
}

/// Serves the mock on `listener` until `shutdown` resolves.
pub async fn serve(listener: TcpListener, profiles: Profiles, shutdown: impl Future<Output = ()>) {
    let created = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs());
    let upstream = Arc::new(Upstream { profiles, stats: Arc::new(Stats::default()), created });
    let service = service_fn(move |request| route(upstream.clone(), request));
    crate::serve::serve(listener, service, shutdown).await;
}

async fn route(upstream: Arc<Upstream>, request: Request<Incoming>) -> Result<Response<MockBody>, Infallible> {
    let path = request.uri().path();
    let response = if request.method() == Method::POST && path.ends_with("/chat/completions") {
        completions::chat_completions(upstream, request).await
    } else if request.method() == Method::GET && path == "/stats" {
        let stats = serde_json::to_vec(&upstream.stats.snapshot()).unwrap_or_default();
        respond(StatusCode::OK, "application/json", Either::Left(Full::new(Bytes::from(stats))))
    } else {
        let mut not_found = Response::new(Either::Left(Full::default()));
        *not_found.status_mut() = StatusCode::NOT_FOUND;
        not_found
    };
    Ok(response)
}

/// A response with `status`, `content-type` and `body`; hyper adds `content-length` for whole bodies.
fn respond(status: StatusCode, content_type: &'static str, body: MockBody) -> Response<MockBody> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_repeat_and_launch_flags_mix_in() {
        let args = ["--profile", "a=1:2:3", "--listen", "127.0.0.1:9", "--profile=b=0:0:0"].map(str::to_owned);
        let args = Args::parse(args).unwrap();
        assert_eq!(args.launch.listen.port(), 9);
        assert_eq!(args.profiles.for_model("a").chunks, 2);
        assert_eq!(args.profiles.for_model("b").chunks, 0);
    }

    #[test]
    fn unknown_flags_are_rejected() {
        assert!(matches!(Args::parse(["--upstream", "x"].map(str::to_owned)), Err(Error::UnknownFlag(_))));
    }
}
