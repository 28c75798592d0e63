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
    let scripted = shared.script.lock().unwrap().pop_front();
    let reply = scripted.unwrap_or_else(|| default_reply(&body));
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
        Reply::Events(events) => {
            let text: String = events.iter().map(|(name, data)| format!("event: {name}\ndata: {data}\n\n")).collect();
            Response::builder().header("content-type", "text/event-stream").body(Body::from(text)).unwrap()
        }
    }
}

use futures::StreamExt;

/// A well-behaved OpenAI answer for whatever was asked.
fn default_reply(req: &Value) -> Reply {
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
