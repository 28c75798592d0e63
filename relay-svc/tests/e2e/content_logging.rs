//! Chat-content logging (`LogChatContentEnabled`): off by default and then nothing is kept; on, the prompt and answer
//! are recorded for whole and streamed answers (the lean OpenAI path, a converted Anthropic stream, a converted
//! Gemini answer), cut at `LogContentMaxBytes`; `/api/status` says whether it is on; users see the content of
//! their own rows only.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Gateway, chat_body};
use crate::mock_upstream::{Reply, stream_chunks};

/// Sets the content-logging options, waits (bounded) until the relay applied them, and checks its limit.
async fn set_content_logging(gw: &Gateway, options: &[(&str, &str)], expected: Option<usize>) {
    gw.set_options(options).await;
    gw.wait_relay_caught_up().await;
    assert_eq!(gw.relay.link.content.limit(), expected, "the relay's content-logging settings");
}

fn ask(text: &str, stream: bool) -> Value {
    json!({"model": "gpt-4o-mini", "stream": stream, "messages": [{"role": "user", "content": text}]})
}

/// Sends a chat request and reads the whole answer (so the request has ended when this returns).
async fn chat(gw: &Gateway, key: &str, body: Value) -> String {
    let resp = gw.chat("/v1", key, body).await;
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap()
}

/// The log row whose recorded prompt is `prompt`.
fn row_with_prompt<'a>(rows: &'a [Value], prompt: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["chat_content"]["prompt"] == prompt)
        .unwrap_or_else(|| panic!("no log row records the prompt {prompt:?}: {rows:#?}"))
}

#[tokio::test]
async fn nothing_is_recorded_while_content_logging_is_off() {
    let gw = Gateway::start().await;
    gw.wait_relay_caught_up().await;
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    let (status, body) = gw.api("GET", "/api/status", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["log_chat_content_enabled"], false, "{body}");
    assert_eq!(gw.relay.link.content.limit(), None);

    chat(&gw, &key, chat_body("gpt-4o-mini")).await;
    chat(&gw, &key, ask("stream me", true)).await;
    let rows = gw.wait_for_logs(2).await;
    for row in &rows {
        assert!(row.get("chat_content").is_none(), "content recorded while off: {row}");
    }
    let db = gw.control.state.db();
    let (stored,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM logs WHERE content_prompt IS NOT NULL OR content_answer IS NOT NULL")
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn prompts_and_answers_are_recorded_whole_and_streamed() {
    let gw = Gateway::start().await;
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    set_content_logging(&gw, &[("LogChatContentEnabled", "true")], Some(16 * 1024)).await;
    let (_, body) = gw.api("GET", "/api/status", None).await;
    assert_eq!(body["data"]["log_chat_content_enabled"], true, "{body}");

    // The lean OpenAI path, whole and streamed.
    let whole = json!({"model": "gpt-4o-mini", "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "lean whole"}]}]});
    chat(&gw, &key, whole).await;
    chat(&gw, &key, ask("lean stream", true)).await;
    // An Anthropic client streaming from the OpenAI channel: the answer is converted as it passes.
    let resp = gw
        .http
        .post(gw.url("/v1/messages"))
        .header("x-api-key", &key)
        .json(&json!({"model": "gpt-4o-mini", "max_tokens": 100, "stream": true, "system": "Be kind.",
            "messages": [{"role": "user", "content": "anthropic stream"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let events = resp.text().await.unwrap();
    assert!(events.contains("message_stop"), "{events}");

    // A Gemini client answered whole from the OpenAI channel: the reply is converted.
    let resp = gw
        .http
        .post(gw.url("/v1beta/models/gpt-4o-mini:generateContent"))
        .header("x-goog-api-key", &key)
        .json(&json!({"contents": [{"role": "user", "parts": [{"text": "gemini whole"}]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap();

    let rows = gw.wait_for_logs(4).await;
    let whole = row_with_prompt(&rows, "Be brief.\nlean whole");
    assert_eq!(whole["chat_content"]["answer"], "Hello world");
    assert_eq!(whole["is_stream"], false);
    let streamed = row_with_prompt(&rows, "lean stream");
    assert_eq!(streamed["chat_content"]["answer"], "Hello world");
    assert_eq!(streamed["is_stream"], true);
    let converted = row_with_prompt(&rows, "anthropic stream\nBe kind.");
    assert_eq!(converted["chat_content"]["answer"], "Hello world");
    assert_eq!(row_with_prompt(&rows, "gemini whole")["chat_content"]["answer"], "Hello world");

    // Turned off again: the relay stops recording and the rows that follow carry nothing.
    set_content_logging(&gw, &[("LogChatContentEnabled", "false")], None).await;
    let (_, body) = gw.api("GET", "/api/status", None).await;
    assert_eq!(body["data"]["log_chat_content_enabled"], false, "{body}");
    chat(&gw, &key, ask("after off", false)).await;
    let rows = gw.wait_for_logs(5).await;
    assert!(rows[0].get("chat_content").is_none(), "{}", rows[0]);
}

#[tokio::test]
async fn recorded_content_is_cut_at_the_limit_on_a_character_boundary() {
    let gw = Gateway::start().await;
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    set_content_logging(&gw, &[("LogChatContentEnabled", "true"), ("LogContentMaxBytes", "4")], Some(4)).await;
    // "é" and "ö" take two bytes each: the 4-byte cut falls inside them, which drops them whole.
    let chunks = stream_chunks("gpt-4o-mini", &["Hé", "ö!", " more"], true);
    gw.mock.script(Reply::Sse { chunks, delay: Duration::from_millis(2), done: true });
    let answer = chat(&gw, &key, ask("aaaé and more", true)).await;
    assert!(answer.contains("ö!") && answer.contains(" more"), "the client still gets everything: {answer}");
    let rows = gw.wait_for_logs(1).await;
    assert_eq!(rows[0]["chat_content"], json!({"prompt": "aaa", "answer": "Hé"}), "{}", rows[0]);
}

#[tokio::test]
async fn control_keeps_no_content_once_the_option_is_off_even_if_a_relay_still_records() {
    let gw = Gateway::start().await;
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    set_content_logging(&gw, &[("LogChatContentEnabled", "true")], Some(16 * 1024)).await;
    // Saved off: control's options snapshot changes at once, the relay with the push that follows. A relay that
    // has not applied the push yet still records (as in the moment between saving and the push):
    set_content_logging(&gw, &[("LogChatContentEnabled", "false")], None).await;
    let late = veloera_proto::v1::RelaySettings {
        log_chat_content_enabled: true,
        log_content_max_bytes: 16 * 1024,
        ..Default::default()
    };
    gw.relay.link.content.apply(&late);
    assert!(gw.relay.link.content.limit().is_some());
    chat(&gw, &key, ask("too late", false)).await;
    let rows = gw.wait_for_logs(1).await;
    assert!(rows[0].get("chat_content").is_none(), "{}", rows[0]);
}

#[tokio::test]
async fn a_user_sees_the_content_of_their_own_rows_only() {
    let gw = Gateway::start().await;
    set_content_logging(&gw, &[("LogChatContentEnabled", "true")], Some(16 * 1024)).await;
    let root_key = gw.root_key().await;
    let bob = gw.create_user("bob", "bob-password-1").await;
    let (status, body) =
        gw.api_as(Some(&bob), "POST", "/api/token/", Some(json!({"name": "bob-key", "unlimited_quota": true}))).await;
    assert_eq!(status, 200, "{body}");
    let bob_key = body["data"]["key"].as_str().unwrap().to_string();

    chat(&gw, &bob_key, ask("bob asks", false)).await;
    chat(&gw, &root_key, ask("root secret", false)).await;

    // Administrators see every row's content, in the list, search and export.
    let rows = gw.wait_for_logs(2).await;
    assert_eq!(row_with_prompt(&rows, "bob asks")["username"], "bob");
    assert_eq!(row_with_prompt(&rows, "root secret")["username"], "root");
    let (status, found) = gw.api("GET", "/api/log/search?keyword=2", None).await;
    assert_eq!(status, 200, "{found}");
    row_with_prompt(found["data"].as_array().unwrap(), "root secret");
    let export =
        gw.http.get(gw.url("/api/log/export")).header("cookie", &gw.cookie).send().await.unwrap().text().await.unwrap();
    assert!(export.lines().next().unwrap().ends_with("chat_prompt,chat_answer"), "{export}");
    assert!(export.contains("root secret") && export.contains("bob asks"), "{export}");

    // Bob sees his own prompt and answer, and nothing of root's, in every self view.
    let (status, own) = gw.api_as(Some(&bob), "GET", "/api/log/self?p=1&page_size=100", None).await;
    assert_eq!(status, 200, "{own}");
    let own_rows = own["data"]["items"].as_array().unwrap();
    assert_eq!(own_rows.len(), 1, "{own}");
    assert_eq!(own_rows[0]["chat_content"], json!({"prompt": "bob asks", "answer": "Hello world"}));
    let (_, searched) = gw.api_as(Some(&bob), "GET", "/api/log/self/search?keyword=2", None).await;
    let export =
        gw.http.get(gw.url("/api/log/self/export")).header("cookie", &bob).send().await.unwrap().text().await.unwrap();
    for view in [own.to_string(), searched.to_string(), export] {
        assert!(view.contains("bob asks"), "{view}");
        assert!(!view.contains("root secret"), "another user's content leaked: {view}");
    }
}
