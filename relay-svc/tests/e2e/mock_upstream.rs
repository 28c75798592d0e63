//! A scripted OpenAI-compatible upstream on port 0 that records every request it receives.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// One scripted answer.
#[derive(Clone, Debug)]
pub enum Reply {
    /// A JSON body with this status.
    Json(u16, Value),
    /// SSE `data:` payloads sent `delay` apart, then `[DONE]` when `done`.
    Sse { chunks: Vec<Value>, delay: Duration, done: bool },
    /// Named SSE events (Anthropic style: `event:` line, then `data:`), no terminator.
    Events(Vec<(&'static str, Value)>),
    /// A body as it is, with this content type.
    Raw(&'static str, Bytes),
    /// A JSON error body with this status and extra headers (such as `Retry-After`).
    Status { status: u16, headers: Vec<(&'static str, String)>, body: Value },
    /// Never answers (no headers, ever).
    Hang,
    /// An SSE response driven step by step: waits, raw frames, and an abrupt cut.
    Steps(Vec<Step>),
}

/// One step of a [`Reply::Steps`] stream.
#[derive(Clone, Debug)]
pub enum Step {
    /// A pause of this long, for tests whose subject is a timeout (the clock is the behaviour there).
    Wait(Duration),
    /// Holds the stream until the test opens the gate once more ([`Gate::open`]), so a test that depends on
    /// what the relay does between two chunks says when the next one leaves instead of racing a delay.
    Until(Gate),
    /// A raw frame, sent as it is (`data: …\n\n`).
    Frame(String),
    /// An OpenAI chunk as a `data:` frame.
    Chunk(Value),
    /// The connection is broken here (the body ends with an error, not a clean end).
    Cut,
}

/// A gate in a scripted stream: each [`Gate::open`] lets one [`Step::Until`] waiting on it (or the next to
/// reach it) pass.
#[derive(Clone, Debug)]
pub struct Gate(Arc<tokio::sync::Semaphore>);

impl Default for Gate {
    fn default() -> Self {
        Gate(Arc::new(tokio::sync::Semaphore::new(0)))
    }
}

impl Gate {
    /// A closed gate.
    pub fn new() -> Self {
        Gate::default()
    }

    /// Releases the next chunk held at this gate.
    pub fn open(&self) {
        self.0.add_permits(1);
    }

    async fn pass(&self) {
        self.0.acquire().await.expect("the gate is never closed").forget();
    }
}

#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub query: String,
    pub authorization: String,
    /// `x-api-key` (Anthropic), `x-goog-api-key` (Gemini) or `api-key` (Azure).
    pub api_key: String,
    pub headers: HeaderMap,
    pub body: Value,
    pub raw_body: Bytes,
}

#[derive(Clone, Default)]
struct Shared {
    script: Arc<Mutex<VecDeque<Reply>>>,
    received: Arc<Mutex<Vec<Received>>>,
    /// Standing answers for requests whose credentials contain a text (a bad key, a broken account).
    key_rules: Arc<Mutex<Vec<(String, Reply)>>>,
}

pub struct MockUpstream {
    pub addr: SocketAddr,
    shared: Shared,
}

pub const PROMPT_TOKENS: i64 = 12;
pub const COMPLETION_TOKENS: i64 = 5;

impl MockUpstream {
    pub async fn start() -> Self {
        let shared = Shared::default();
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        MockUpstream { addr, shared }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues replies used before the default behaviour resumes.
    pub fn script(&self, reply: Reply) {
        self.shared.script.lock().unwrap().push_back(reply);
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Answers every request whose credentials contain `key_part` with `reply`, until cleared.
    pub fn on_key(&self, key_part: &str, reply: Reply) {
        self.shared.key_rules.lock().unwrap().push((key_part.to_string(), reply));
    }

    pub fn clear_key_rules(&self) {
        self.shared.key_rules.lock().unwrap().clear();
    }

    /// How many chat requests (`…/chat/completions`) arrived.
    pub fn chat_requests(&self) -> usize {
        self.received().iter().filter(|r| r.path.ends_with("/chat/completions")).count()
    }
}

async fn handle(State(shared): State<Shared>, uri: Uri, headers: HeaderMap, raw_body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&raw_body).unwrap_or(Value::Null);
    shared.received.lock().unwrap().push(Received {
        path: uri.path().to_string(),
        query: uri.query().unwrap_or_default().to_string(),
        authorization: headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string(),
        headers: headers.clone(),
        api_key: ["x-api-key", "x-goog-api-key", "api-key"]
            .iter()
            .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
            .unwrap_or_default()
            .to_string(),
        body: body.clone(),
        raw_body,
    });
    let credentials = format!(
        "{} {}",
        headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default(),
        headers.get("x-api-key").and_then(|v| v.to_str().ok()).unwrap_or_default()
    );
    let standing = shared
        .key_rules
        .lock()
        .unwrap()
        .iter()
        .find(|(part, _)| credentials.contains(part.as_str()))
        .map(|(_, r)| r.clone());
    let reply = match standing {
        Some(r) => r,
        None => {
            let scripted = shared.script.lock().unwrap().pop_front();
            scripted.unwrap_or_else(|| default_reply(uri.path(), &body))
        }
    };
    match reply {
        Reply::Json(status, v) => (StatusCode::from_u16(status).unwrap(), axum::Json(v)).into_response(),
        Reply::Sse { chunks, delay, done } => {
            let mut frames: Vec<String> = chunks.iter().map(|c| format!("data: {c}\n\n")).collect();
            if done {
                frames.push("data: [DONE]\n\n".into());
            }
            let stream = futures::stream::iter(frames.into_iter().enumerate()).then(move |(i, f)| async move {
                if i > 0 {
                    tokio::time::sleep(delay).await;
                }
                Ok::<_, Infallible>(Bytes::from(f))
            });
            Response::builder().header("content-type", "text/event-stream").body(Body::from_stream(stream)).unwrap()
        }
        Reply::Raw(content_type, body) => {
            Response::builder().header("content-type", content_type).body(Body::from(body)).unwrap()
        }
        Reply::Status { status, headers, body } => {
            let mut response = (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response();
            for (name, value) in headers {
                response.headers_mut().insert(name, value.parse().unwrap());
            }
            response
        }
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        Reply::Steps(steps) => {
            let stream = futures::stream::iter(steps).then(|step| async move {
                match step {
                    Step::Wait(d) => {
                        tokio::time::sleep(d).await;
                        Ok(Bytes::new())
                    }
                    Step::Until(gate) => {
                        gate.pass().await;
                        Ok(Bytes::new())
                    }
                    Step::Frame(f) => Ok(Bytes::from(f)),
                    Step::Chunk(v) => Ok(Bytes::from(format!("data: {v}\n\n"))),
                    Step::Cut => Err(std::io::Error::other("cut")),
                }
            });
            Response::builder().header("content-type", "text/event-stream").body(Body::from_stream(stream)).unwrap()
        }
        Reply::Events(events) => {
            let text: String = events.iter().map(|(name, data)| format!("event: {name}\ndata: {data}\n\n")).collect();
            Response::builder().header("content-type", "text/event-stream").body(Body::from(text)).unwrap()
        }
    }
}

use futures::StreamExt;

/// A well-behaved OpenAI answer for whatever was asked: a model list, a legacy billing answer, or a chat reply.
fn default_reply(path: &str, req: &Value) -> Reply {
    if path.ends_with("/models") {
        return Reply::Json(200, json!({"object": "list", "data": [{"id": "mock-a"}, {"id": "mock-b"}]}));
    }
    if path.ends_with("/dashboard/billing/subscription") {
        return Reply::Json(200, json!({"hard_limit_usd": 100.0}));
    }
    if path.ends_with("/dashboard/billing/usage") {
        return Reply::Json(200, json!({"total_usage": 2500.0}));
    }
    let model = req["model"].as_str().unwrap_or("unknown").to_string();
    let usage = json!({"prompt_tokens": PROMPT_TOKENS, "completion_tokens": COMPLETION_TOKENS, "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS});
    if req["stream"] == json!(true) {
        Reply::Sse {
            chunks: stream_chunks(&model, &["Hello", " world"], req["stream_options"]["include_usage"] == json!(true)),
            delay: Duration::from_millis(5),
            done: true,
        }
    } else {
        Reply::Json(
            200,
            json!({
                "id": "chatcmpl-mock", "object": "chat.completion", "created": 1, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello world"}, "finish_reason": "stop"}],
                "usage": usage,
            }),
        )
    }
}

/// Content chunks, a finish chunk, and (when asked) the usage-only chunk.
pub fn stream_chunks(model: &str, parts: &[&str], with_usage: bool) -> Vec<Value> {
    let mut chunks: Vec<Value> = parts
        .iter()
        .map(|p| json!({"id": "c", "object": "chat.completion.chunk", "model": model, "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": null}]}))
        .collect();
    chunks.push(json!({"id": "c", "object": "chat.completion.chunk", "model": model, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}));
    if with_usage {
        chunks.push(json!({"id": "c", "object": "chat.completion.chunk", "model": model, "choices": [], "usage": {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": COMPLETION_TOKENS, "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS}}));
    }
    chunks
}

/// A listener that accepts connections and resets them at once, before any answer (an upstream crashing).
pub async fn resetting_upstream() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            // Linger 0 turns the close into a TCP reset.
            let _ = socket.set_zero_linger();
            drop(socket);
        }
    });
    addr
}
