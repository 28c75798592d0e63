//! Starts servers on port 0 and gives tests a plain HTTP client plus SSE event timing.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bench_kit::mock::{Profiles, StatsSnapshot};
use bench_kit::proxy::Upstream;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// A server running in this test's runtime; dropping it starts the server's shutdown.
pub struct Running {
    pub addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

async fn spawn<F, Fut>(server: F) -> Running
where
    F: FnOnce(TcpListener, oneshot::Receiver<()>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel();
    tokio::spawn(server(listener, stopped));
    Running { addr, _stop: stop }
}

/// The mock with `profiles` entries (`MODEL=LATENCY_MS:CHUNKS:INTERVAL_MS`).
pub async fn spawn_mock(profiles: &[&str]) -> Running {
    let mut table = Profiles::default();
    for entry in profiles {
        table.add(entry).unwrap();
    }
    spawn(|listener, stopped| bench_kit::mock::serve(listener, table, async { stopped.await.unwrap_or(()) })).await
}

/// The bare proxy in front of `upstream`.
pub async fn spawn_proxy(upstream: SocketAddr) -> Running {
    let upstream: Upstream = format!("http://{upstream}").parse().unwrap();
    spawn(|listener, stopped| bench_kit::proxy::serve(listener, upstream, async { stopped.await.unwrap_or(()) })).await
}

pub fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

pub async fn send(addr: SocketAddr, method: Method, path: &str, body: &str) -> Response<Incoming> {
    let request = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    client().request(request).await.unwrap()
}

pub async fn post_chat(addr: SocketAddr, body: &str) -> Response<Incoming> {
    send(addr, Method::POST, "/v1/chat/completions", body).await
}

pub async fn body_text(response: Response<Incoming>) -> String {
    String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

pub async fn stats(addr: SocketAddr) -> StatsSnapshot {
    serde_json::from_str(&body_text(send(addr, Method::GET, "/stats", "").await).await).unwrap()
}

/// One SSE event's `data:` payload and when it was complete, measured from `start`.
pub struct Event {
    pub data: String,
    pub at: Duration,
}

/// Reads a whole SSE body, timing each event as it completes, and returns the raw bytes too.
pub async fn read_events(response: Response<Incoming>, start: Instant) -> (Vec<Event>, String) {
    let mut body = response.into_body();
    let mut raw = String::new();
    let mut events = Vec::new();
    let mut consumed = 0;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.unwrap().into_data() else { continue };
        raw.push_str(std::str::from_utf8(&data).unwrap());
        while let Some(end) = raw[consumed..].find("\n\n") {
            let event = &raw[consumed..consumed + end];
            let data = event.strip_prefix("data: ").expect("every event is a data line");
            events.push(Event { data: data.to_owned(), at: start.elapsed() });
            consumed += end + 2;
        }
    }
    assert_eq!(consumed, raw.len(), "stream ended mid-event");
    (events, raw)
}

/// Polls `/stats` until `done` holds, for state that settles just after the client has its bytes.
pub async fn stats_eventually(addr: SocketAddr, done: impl Fn(&StatsSnapshot) -> bool) -> StatsSnapshot {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let snapshot = stats(addr).await;
        if done(&snapshot) || Instant::now() > deadline {
            return snapshot;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
