//! `POST …/chat/completions`: the OpenAI wire shapes the mock answers with. Only `model`, `stream` and
//! `stream_options.include_usage` are read; every answer carries the same fixed `usage`.

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Either, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde::Deserialize;

use super::sse::SseBody;
use super::{MockBody, Upstream, respond};

const USAGE: &str = r#""usage":{"prompt_tokens":10,"completion_tokens":20,"total_tokens":30}"#;
const DONE: &[u8] = b"data: [DONE]\n\n";

/// The fields the mock acts on; serde skips the rest (messages and all) without building values.
#[derive(Deserialize)]
struct ChatRequest<'a> {
    #[serde(borrow)]
    model: Cow<'a, str>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: Option<bool>,
}

/// Answers one chat completion after the model's profile latency: a `chat.completion` object, or a
/// paced `chat.completion.chunk` stream ending in finish, optional usage, and `[DONE]` frames.
pub(super) async fn chat_completions(upstream: Arc<Upstream>, request: Request<Incoming>) -> Response<MockBody> {
    upstream.stats.request_received();
    let Ok(body) = request.into_body().collect().await.map(|collected| collected.to_bytes()) else {
        return invalid_request("could not read the request body");
    };
    let chat: ChatRequest = match serde_json::from_slice(&body) {
        Ok(chat) => chat,
        Err(err) => return invalid_request(&err.to_string()),
    };
    let profile = upstream.profiles.for_model(&chat.model);
    if !profile.latency.is_zero() {
        tokio::time::sleep(profile.latency).await;
    }
    // Re-serialising the model name is the cheapest correct way to echo it as a JSON string.
    let model = serde_json::to_string(&chat.model).unwrap_or_else(|_| "\"\"".to_owned());
    if !chat.stream.unwrap_or(false) {
        let completion = format!(
            r#"{{"id":"chatcmpl-mock","object":"chat.completion","created":{created},"model":{model},"choices":[{{"index":0,"message":{{"role":"assistant","content":"Hello from the mock upstream."}},"finish_reason":"stop"}}],{USAGE}}}"#,
            created = upstream.created,
        );
        return respond(StatusCode::OK, "application/json", Either::Left(Full::new(Bytes::from(completion))));
    }
    let include_usage = chat.stream_options.and_then(|options| options.include_usage).unwrap_or(false);
    let head = format!(
        r#"data: {{"id":"chatcmpl-mock","object":"chat.completion.chunk","created":{created},"model":{model},"#,
        created = upstream.created,
    );
    let content = Bytes::from(format!(
        r#"{head}"choices":[{{"index":0,"delta":{{"content":"tok"}},"finish_reason":null}}]}}{sep}"#,
        sep = "\n\n"
    ));
    let mut tail = Vec::with_capacity(3);
    tail.push(Bytes::from(format!(
        r#"{head}"choices":[{{"index":0,"delta":{{}},"finish_reason":"stop"}}]}}{sep}"#,
        sep = "\n\n"
    )));
    if include_usage {
        tail.push(Bytes::from(format!(r#"{head}"choices":[],{USAGE}}}{sep}"#, sep = "\n\n")));
    }
    tail.push(Bytes::from_static(DONE));
    let body = SseBody::new(content, profile.chunks, profile.interval, tail, upstream.stats.clone());
    respond(StatusCode::OK, "text/event-stream", Either::Right(body))
}

fn invalid_request(message: &str) -> Response<MockBody> {
    let error = serde_json::json!({
        "error": {"message": message, "type": "invalid_request_error", "param": null, "code": null}
    });
    respond(StatusCode::BAD_REQUEST, "application/json", Either::Left(Full::new(Bytes::from(error.to_string()))))
}
