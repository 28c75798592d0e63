//! AWS event-stream framing (Bedrock's streams): binary frames, each carrying `{"bytes": "<base64 JSON>"}`.
//! Every frame becomes the SSE-shaped event the stream decoders read, named by its JSON's `type`, so a Bedrock
//! Claude stream reads exactly like Anthropic's own.

use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
use aws_smithy_types::event_stream::Message;
use base64::Engine;
use bytes::{Buf, Bytes, BytesMut};
use eventsource_stream::Event;
use futures::{Stream, StreamExt};
use serde::Deserialize;

use crate::error::RelayError;

pub const CONTENT_TYPE: &str = "application/vnd.amazon.eventstream";

#[derive(Deserialize)]
struct Payload {
    bytes: String,
}

#[derive(Deserialize)]
struct Typed {
    #[serde(rename = "type", default)]
    kind: String,
}

/// The events of an event-stream body.
pub fn events<S, E>(body: S) -> impl Stream<Item = Result<Event, RelayError>> + Send
where
    S: Stream<Item = Result<Bytes, E>> + Send + Unpin,
    E: std::fmt::Display,
{
    let state = (body, BytesMut::new(), MessageFrameDecoder::new(), false);
    futures::stream::unfold(state, |(mut body, mut buffer, mut decoder, done)| async move {
        if done {
            return None;
        }
        loop {
            match decoder.decode_frame(&mut buffer) {
                Ok(DecodedFrame::Complete(message)) => {
                    let event = event_of(&message);
                    let failed = event.is_err();
                    return Some((event, (body, buffer, decoder, failed)));
                }
                Ok(DecodedFrame::Incomplete) => {}
                Err(e) => {
                    let err = RelayError::UpstreamFailed(format!("malformed event-stream frame: {e}"));
                    return Some((Err(err), (body, buffer, decoder, true)));
                }
            }
            match body.next().await {
                Some(Ok(chunk)) => buffer.extend_from_slice(chunk.chunk()),
                Some(Err(e)) => {
                    let err = RelayError::UpstreamFailed(format!("stream broken: {e}"));
                    return Some((Err(err), (body, buffer, decoder, true)));
                }
                None if buffer.is_empty() => return None,
                None => {
                    let err = RelayError::UpstreamFailed("stream ended inside an event-stream frame".into());
                    return Some((Err(err), (body, buffer, decoder, true)));
                }
            }
        }
    })
}

fn event_of(message: &Message) -> Result<Event, RelayError> {
    let header = |name: &str| {
        message
            .headers()
            .iter()
            .find(|h| h.name().as_str() == name)
            .and_then(|h| h.value().as_string().ok())
            .map(|s| s.as_str().to_string())
    };
    let payload = String::from_utf8_lossy(message.payload()).to_string();
    if header(":message-type").as_deref() != Some("event") {
        let kind = header(":exception-type").or(header(":error-code")).unwrap_or_else(|| "error".into());
        return Err(RelayError::UpstreamFailed(format!("Bedrock stream {kind}: {payload}")));
    }
    let bytes: Payload = serde_json::from_str(&payload)
        .map_err(|e| RelayError::UpstreamFailed(format!("unexpected Bedrock stream payload: {e}")))?;
    let json = base64::engine::general_purpose::STANDARD
        .decode(bytes.bytes)
        .map_err(|e| RelayError::UpstreamFailed(format!("Bedrock stream payload is not base64: {e}")))?;
    let data = String::from_utf8(json).map_err(|_| RelayError::UpstreamFailed("Bedrock event is not UTF-8".into()))?;
    let kind = serde_json::from_str::<Typed>(&data).map(|t| t.kind).unwrap_or_default();
    Ok(Event { event: kind, data, id: String::new(), retry: None })
}

/// An event-stream frame as Bedrock sends one (for tests and the mock upstream).
#[allow(clippy::expect_used, reason = "test and mock-upstream support: a frame of a few short headers always encodes")]
pub fn frame(event_json: &str) -> Bytes {
    use aws_smithy_types::event_stream::{Header, HeaderValue};
    let payload = serde_json::json!({"bytes": base64::engine::general_purpose::STANDARD.encode(event_json)});
    let message = Message::new(Bytes::from(payload.to_string()))
        .add_header(Header::new(":message-type", HeaderValue::String("event".into())))
        .add_header(Header::new(":event-type", HeaderValue::String("chunk".into())));
    let mut out = Vec::new();
    aws_smithy_eventstream::frame::write_message_to(&message, &mut out).expect("a small frame always encodes");
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_split_across_reads_become_named_events() {
        let mut all = Vec::new();
        all.extend_from_slice(&frame(r#"{"type":"message_start","message":{"id":"m"}}"#));
        all.extend_from_slice(&frame(r#"{"type":"message_stop"}"#));
        // Delivered in awkward pieces.
        let pieces: Vec<Result<Bytes, std::convert::Infallible>> =
            all.chunks(7).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        let events: Vec<Event> = events(futures::stream::iter(pieces)).map(|e| e.unwrap()).collect().await;
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].event, "message_start");
        assert_eq!(events[1].data, r#"{"type":"message_stop"}"#);
    }

    #[tokio::test]
    async fn a_truncated_frame_is_an_error() {
        let whole = frame(r#"{"type":"ping"}"#);
        let pieces = vec![Ok::<_, std::convert::Infallible>(whole.slice(..whole.len() - 3))];
        let got: Vec<_> = events(futures::stream::iter(pieces)).collect().await;
        assert!(got.last().unwrap().is_err());
    }
}
