//! Usage in the answers of OpenAI endpoints that are passed through untouched (completions, embeddings,
//! moderations, images, rerank, responses): each names its counts differently (`prompt_tokens` /
//! `completion_tokens`, `input_tokens` / `output_tokens`, the Responses API's `response.usage`).

use serde::Deserialize;

use crate::error::RelayError;
use crate::providers::chat::{self, StreamEvent};

#[derive(Deserialize, Default)]
struct AnyUsage {
    #[serde(default)]
    prompt_tokens: Option<i64>,
    #[serde(default)]
    completion_tokens: Option<i64>,
    #[serde(default)]
    input_tokens: Option<i64>,
    #[serde(default)]
    output_tokens: Option<i64>,
    /// Jina's rerank and embeddings report only a total.
    #[serde(default)]
    total_tokens: Option<i64>,
    #[serde(default)]
    prompt_tokens_details: Option<Details>,
    #[serde(default)]
    input_tokens_details: Option<Details>,
    #[serde(default)]
    output_tokens_details: Option<Details>,
    #[serde(default)]
    completion_tokens_details: Option<Details>,
}

#[derive(Deserialize, Default)]
struct Details {
    #[serde(default)]
    cached_tokens: Option<i64>,
    #[serde(default)]
    reasoning_tokens: Option<i64>,
}

impl From<AnyUsage> for chat::Usage {
    fn from(u: AnyUsage) -> chat::Usage {
        let cached = u.prompt_tokens_details.or(u.input_tokens_details).and_then(|d| d.cached_tokens);
        let reasoning = u.completion_tokens_details.or(u.output_tokens_details).and_then(|d| d.reasoning_tokens);
        chat::Usage {
            input: u.prompt_tokens.or(u.input_tokens).or(u.total_tokens).unwrap_or(0),
            cache_read: cached.unwrap_or(0),
            cache_write: 0,
            output: u.completion_tokens.or(u.output_tokens).unwrap_or(0),
            reasoning: reasoning.unwrap_or(0),
        }
    }
}

#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    usage: Option<AnyUsage>,
    /// Responses API events wrap the response object.
    #[serde(default)]
    response: Option<Box<Probe>>,
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    error: Option<serde::de::IgnoredAny>,
}

/// The usage a whole answer reports, if any.
pub fn usage_in(body: &[u8]) -> Option<chat::Usage> {
    let probe: Probe = serde_json::from_slice(body).ok()?;
    probe.usage.or(probe.response.and_then(|r| r.usage)).map(Into::into)
}

/// Follows a passed-through OpenAI stream for usage and completion: `[DONE]`, or the Responses API's terminal
/// `response.completed` / `response.incomplete`; `response.failed` and error payloads are failures.
#[derive(Default)]
pub struct UsageDecoder {
    complete: bool,
}

impl chat::StreamDecoder for UsageDecoder {
    fn decode(&mut self, _event: &str, data: &str) -> Result<Vec<StreamEvent>, RelayError> {
        if data.trim() == "[DONE]" {
            self.complete = true;
            return Ok(Vec::new());
        }
        let probe: Probe = serde_json::from_str(data)
            .map_err(|e| RelayError::UpstreamFailed(format!("malformed stream event from upstream: {e}")))?;
        match probe.kind.as_deref() {
            Some("response.completed" | "response.incomplete") => self.complete = true,
            Some("response.failed" | "error") => {
                return Err(RelayError::UpstreamFailed(format!("upstream stream failed: {data}")));
            }
            _ if probe.error.is_some() => {
                return Err(RelayError::UpstreamFailed(format!("upstream stream error: {data}")));
            }
            _ => {}
        }
        Ok(probe
            .usage
            .or(probe.response.and_then(|r| r.usage))
            .map(|u| StreamEvent::Usage(u.into()))
            .into_iter()
            .collect())
    }

    fn complete(&self) -> bool {
        self.complete
    }

    fn reads_answer(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::chat::StreamDecoder as _;

    #[test]
    fn every_usage_shape_is_read() {
        let embeddings = usage_in(br#"{"data":[],"usage":{"prompt_tokens":8,"total_tokens":8}}"#).unwrap();
        assert_eq!((embeddings.input, embeddings.output), (8, 0));
        let responses = usage_in(
            br#"{"id":"resp_1","object":"response","usage":{"input_tokens":20,"input_tokens_details":{"cached_tokens":4},"output_tokens":7,"output_tokens_details":{"reasoning_tokens":3}}}"#,
        )
        .unwrap();
        assert_eq!(responses, chat::Usage { input: 20, cache_read: 4, cache_write: 0, output: 7, reasoning: 3 });
        assert!(usage_in(b"\x89PNG binary").is_none());
        let rerank = usage_in(br#"{"results":[],"usage":{"total_tokens":7}}"#).unwrap();
        assert_eq!(rerank.input, 7);
    }

    #[test]
    fn responses_streams_complete_on_their_terminal_event() {
        let mut d = UsageDecoder::default();
        assert!(
            d.decode("response.output_text.delta", r#"{"type":"response.output_text.delta","delta":"Hi"}"#)
                .unwrap()
                .is_empty()
        );
        let events = d
            .decode(
                "response.completed",
                r#"{"type":"response.completed","response":{"usage":{"input_tokens":5,"output_tokens":2}}}"#,
            )
            .unwrap();
        assert_eq!(events, vec![StreamEvent::Usage(chat::Usage { input: 5, output: 2, ..Default::default() })]);
        assert!(d.complete());
        assert!(UsageDecoder::default().decode("response.failed", r#"{"type":"response.failed"}"#).is_err());
    }
}
