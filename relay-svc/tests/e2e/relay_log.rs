//! What the relay writes to its log: client-supplied text is escaped, so a model name carrying a line break or a
//! terminal escape cannot forge a log line or repaint the operator's terminal.

use std::sync::{Arc, Mutex};

use serde_json::json;
use tracing_subscriber::fmt::MakeWriter;

use crate::harness::Gateway;

/// Everything logged while the test runs (the relay, control and the mock share the test's thread).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

#[tokio::test]
async fn a_model_name_with_a_line_break_and_an_escape_stays_on_one_escaped_log_line() {
    let captured = Captured::default();
    // The relay's own log format (`main.rs`), without colours so that any escape byte in the output is the client's.
    let subscriber = tracing_subscriber::fmt().with_writer(captured.clone()).with_ansi(false).finish();
    let _logging = tracing::subscriber::set_default(subscriber);
    let gw = Gateway::start().await;
    let (_, key) = gw.create_token(json!({"name": "t", "unlimited_quota": true})).await;
    let forged = "gpt-x\n2026-01-01T00:00:00Z  INFO admin: root logged in from 10.0.0.1\u{1b}[2K";
    let body = json!({"model": forged, "messages": [{"role": "user", "content": "hi"}]});
    let resp = gw.chat("/v1", &key, body).await;
    assert_eq!(resp.status(), 503, "no channel serves that model");
    drop(gw);
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let refusal = log.lines().find(|l| l.contains("relay request failed")).unwrap_or_else(|| panic!("{log}"));
    assert!(refusal.contains(r"gpt-x\n2026-01-01"), "the line break is written escaped: {refusal}");
    assert!(!log.lines().any(|l| l.starts_with("2026-01-01T00:00:00Z")), "a forged line: {log}");
    assert!(!log.contains('\u{1b}'), "a raw escape byte: {log:?}");
}
