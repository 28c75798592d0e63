//! `POST /pg/chat/completions`: the admin UI's playground. The caller is the signed-in browser (its session
//! cookie, or a personal access token), authorized by control as the user under the token name
//! `playground-<group>`; from there the request takes the ordinary OpenAI chat path, with its admission, rate
//! limits, quota reservation, billing and logging.

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use serde_json::{Map, Value};

use super::inbound::Inbound;
use super::{RelayState, chat, read_body};
use crate::auth;
use crate::error::RelayError;

pub async fn chat_completions(
    State(state): State<RelayState>,
    inbound: Inbound,
    body: Body,
) -> Result<Response, RelayError> {
    let bytes = read_body(body, state.max_body_bytes).await?;
    let (group, body) = take_group(&bytes)?;
    let key = auth::session_from_headers(&inbound.headers, &group)?;
    Box::pin(chat::handle(state, inbound.client_ip, inbound.request_id, key, async { Ok(body) })).await
}

/// The playground's body is an OpenAI chat request plus `group`, the group picked for it; the group is taken
/// out, so upstreams get the chat request alone.
fn take_group(body: &[u8]) -> Result<(String, bytes::Bytes), RelayError> {
    let mut request: Map<String, Value> = serde_json::from_slice(body)
        .map_err(|e| RelayError::InvalidRequest(format!("the request body is not a JSON object: {e}")))?;
    let group = match request.remove("group") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(g)) => g.trim().to_string(),
        Some(_) => return Err(RelayError::InvalidRequest("group must be a string".into())),
    };
    let body = serde_json::to_vec(&request)
        .map_err(|e| RelayError::InvalidRequest(format!("the request body cannot be written again: {e}")))?;
    Ok((group, body.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_group_is_taken_out_of_the_chat_request() {
        let (group, body) = take_group(br#"{"model":"m","group":" vip ","messages":[]}"#).unwrap();
        assert_eq!(group, "vip");
        let rest: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(rest, serde_json::json!({"model": "m", "messages": []}));
    }

    #[test]
    fn no_group_means_the_users_own_and_a_bad_one_is_refused() {
        assert_eq!(take_group(br#"{"model":"m"}"#).unwrap().0, "");
        assert!(matches!(take_group(br#"{"group":3}"#), Err(RelayError::InvalidRequest(_))));
        assert!(matches!(take_group(b"[1]"), Err(RelayError::InvalidRequest(_))));
    }
}
