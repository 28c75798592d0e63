//! The OpenAI endpoints that take `multipart/form-data` — audio transcriptions and translations, image edits and
//! variations — relayed to OpenAI-compatible channels. The form is read (within the body limit) to learn the
//! model, then sent on with the `model` field set to the channel's name for it; every other field and file
//! passes through unchanged.

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use veloera_proto::v1::EndpointKind;

use super::conversation::{Admitted, Asking, admit};
use super::passthrough::{Incoming, answer, openai_failover};
use super::{RelayState, read_body};
use crate::auth;
use crate::channel::Target;
use crate::dispatch::UpstreamCall;
use crate::error::RelayError;
use crate::providers::openai;
use crate::usage::CostHint;

/// One multipart endpoint.
pub struct Form {
    pub path: &'static str,
    pub kind: EndpointKind,
    pub default_model: &'static str,
}

pub const TRANSCRIPTIONS: Form =
    Form { path: "/v1/audio/transcriptions", kind: EndpointKind::AudioTranscriptions, default_model: "whisper-1" };
pub const TRANSLATIONS: Form =
    Form { path: "/v1/audio/translations", kind: EndpointKind::AudioTranscriptions, default_model: "whisper-1" };
pub const IMAGE_EDITS: Form = Form { path: "/v1/images/edits", kind: EndpointKind::Images, default_model: "dall-e-2" };
pub const IMAGE_VARIATIONS: Form =
    Form { path: "/v1/images/variations", kind: EndpointKind::Images, default_model: "dall-e-2" };

/// One field of the form, kept whole (files included: the body limit bounds them).
#[derive(Debug)]
struct Field {
    name: String,
    file_name: Option<String>,
    content_type: Option<String>,
    data: Bytes,
}

pub async fn relay(
    state: &RelayState,
    form: &Form,
    incoming: Incoming<'_>,
    body: Body,
) -> Result<Response, RelayError> {
    let key = auth::from_headers(incoming.headers)?;
    let boundary = boundary(incoming.headers)?;
    let bytes = read_body(body, state.max_body_bytes).await?;
    let fields = parse(bytes, boundary).await?;
    let model = fields
        .iter()
        .find(|f| f.name == "model" && f.file_name.is_none())
        .map(|f| String::from_utf8_lossy(&f.data).trim().to_string())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| form.default_model.to_string());
    let copies = fields
        .iter()
        .find(|f| f.name == "n" && f.file_name.is_none())
        .and_then(|f| std::str::from_utf8(&f.data).ok()?.trim().parse::<u64>().ok());
    let asking = Asking {
        key: &key,
        model: &model,
        client_ip: incoming.client_ip,
        endpoint: form.kind,
        request_id: incoming.request_id,
        stream: false,
        // Audio and image files say nothing about token counts: only the per-call price (or the floor) is
        // reserved, once per image asked for.
        cost: CostHint::default().times(copies),
        body: &[],
    };
    let Admitted { auth, mut meter, .. } = admit(state, asking).await?;
    let mut failover = openai_failover(state, &auth, &mut meter, form.path, &model)?;
    let first = failover.first(&mut meter)?;
    let build = |t: &Target<'_>| {
        let (boundary, body) = encode(&fields, &t.channel.upstream_model);
        let content_type = HeaderValue::from_str(&format!("multipart/form-data; boundary={boundary}"))
            .map_err(|_| RelayError::InvalidRequest("cannot build the form's content type".into()))?;
        let headers = vec![(http::header::CONTENT_TYPE, content_type)];
        UpstreamCall::to_channel(t, openai::endpoint_url(t.channel, form.path), headers, body)
    };
    let (upstream, _) = failover.send(first, &mut meter, build).await?;
    answer(upstream, meter, &model).await
}

fn boundary(headers: &HeaderMap) -> Result<String, RelayError> {
    let content_type = headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    multer::parse_boundary(content_type)
        .map_err(|_| RelayError::InvalidRequest("this endpoint takes a multipart/form-data body".into()))
}

async fn parse(body: Bytes, boundary: String) -> Result<Vec<Field>, RelayError> {
    let bad = |e: multer::Error| RelayError::InvalidRequest(format!("malformed multipart body: {e}"));
    let stream = futures::stream::once(async move { Ok::<Bytes, std::convert::Infallible>(body) });
    let mut form = multer::Multipart::new(stream, boundary);
    let mut fields = Vec::new();
    while let Some(field) = form.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_string();
        let file_name = field.file_name().map(str::to_string);
        let content_type = field.content_type().map(|m| m.to_string());
        let data = field.bytes().await.map_err(bad)?;
        fields.push(Field { name, file_name, content_type, data });
    }
    Ok(fields)
}

/// The form again, with `model` set to `model` (added when the client sent none), under a fresh boundary.
fn encode(fields: &[Field], model: &str) -> (String, Bytes) {
    let boundary = format!("veloera-{:032x}", rand::random::<u128>());
    let mut out = Vec::with_capacity(fields.iter().map(|f| f.data.len() + 160).sum::<usize>() + 200);
    let mut part = |name: &str, file_name: Option<&str>, content_type: Option<&str>, data: &[u8]| {
        out.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"", quote(name)).as_bytes(),
        );
        if let Some(f) = file_name {
            out.extend_from_slice(format!("; filename=\"{}\"", quote(f)).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        if let Some(ct) = content_type {
            out.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
    };
    part("model", None, None, model.as_bytes());
    for f in fields.iter().filter(|f| !(f.name == "model" && f.file_name.is_none())) {
        part(&f.name, f.file_name.as_deref(), f.content_type.as_deref(), &f.data);
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (boundary, Bytes::from(out))
}

/// Quotes and line breaks cannot appear inside a quoted disposition parameter.
fn quote(s: &str) -> String {
    s.replace(['"', '\r', '\n'], "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_form_round_trips_with_the_model_replaced() {
        let body = "--B\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-alias\r\n--B\r\n\
            Content-Disposition: form-data; name=\"file\"; filename=\"a.mp3\"\r\nContent-Type: audio/mpeg\r\n\r\nID3bytes\r\n\
            --B\r\nContent-Disposition: form-data; name=\"language\"\r\n\r\nfr\r\n--B--\r\n";
        let fields = parse(Bytes::from(body), "B".into()).await.unwrap();
        assert_eq!(fields.len(), 3);
        let (boundary, encoded) = encode(&fields, "whisper-1");
        let again = parse(encoded, boundary).await.unwrap();
        let get = |n: &str| again.iter().find(|f| f.name == n).unwrap();
        assert_eq!(get("model").data, "whisper-1");
        assert_eq!(get("file").data, "ID3bytes");
        assert_eq!(get("file").file_name.as_deref(), Some("a.mp3"));
        assert_eq!(get("file").content_type.as_deref(), Some("audio/mpeg"));
        assert_eq!(get("language").data, "fr");
    }

    #[tokio::test]
    async fn a_broken_form_is_a_clear_error() {
        let err = parse(Bytes::from_static(b"--B\r\nno headers"), "B".into()).await.unwrap_err();
        assert!(err.to_string().contains("malformed multipart"), "{err}");
        assert!(boundary(&HeaderMap::new()).is_err());
    }
}
