//! Chat-content logging (`LogChatContentEnabled`): while on, each admitted request's prompt (the text fields of the
//! client's body) and answer (the reply's text, or the streamed text pieces as they pass) are recorded, each cut
//! at `LogContentMaxBytes`, and ride to control in the request's usage record. While off, a request pays one
//! atomic load and a branch: nothing is copied or parsed.

use std::sync::atomic::{AtomicU32, Ordering};

use veloera_proto::v1::{ChatContent, RelaySettings};

/// The setting in force, as control last sent it. One word holds it all (the byte limit, 0 when off), so it is
/// replaced whole by a single store and read with a single load.
#[derive(Debug, Default)]
pub struct ContentLog {
    limit: AtomicU32,
}

impl ContentLog {
    /// Applies settings pushed by control.
    pub fn apply(&self, settings: &RelaySettings) {
        let limit = if settings.log_chat_content_enabled { settings.log_content_max_bytes.max(1) } else { 0 };
        self.limit.store(limit, Ordering::Relaxed);
    }

    /// The bytes kept of each prompt and answer while content is recorded; `None` while off.
    pub fn limit(&self) -> Option<usize> {
        Some(self.limit.load(Ordering::Relaxed) as usize).filter(|&n| n != 0)
    }

    /// A recording of one request whose client sent `body`, when content is being recorded.
    pub fn record(&self, body: &[u8]) -> Option<Box<Recording>> {
        let limit = self.limit.load(Ordering::Relaxed);
        if limit == 0 {
            return None;
        }
        let limit = limit as usize;
        let mut prompt = crate::guard::prompt_text(body).unwrap_or_default();
        // One field per line: the last line's break says nothing.
        if prompt.ends_with('\n') {
            prompt.pop();
        }
        truncate(&mut prompt, limit);
        Some(Box::new(Recording { limit, prompt, answer: String::new() }))
    }
}

/// One request's prompt and the answer so far.
#[derive(Debug)]
pub struct Recording {
    limit: usize,
    prompt: String,
    answer: String,
}

impl Recording {
    /// Appends a piece of the answer; from the first piece that does not fit, the rest is dropped (cut on a
    /// character boundary), so what is kept is always a prefix of the answer.
    pub fn answer(&mut self, text: &str) {
        let room = self.limit - self.answer.len();
        if room == 0 {
            return;
        }
        let end = floor_char_boundary(text, room);
        self.answer.push_str(&text[..end]);
        if end < text.len() {
            self.limit = self.answer.len();
        }
    }

    /// The recording as the usage record carries it.
    pub fn into_proto(self) -> ChatContent {
        ChatContent { prompt: self.prompt, answer: self.answer }
    }
}

/// Cuts `text` to at most `max` bytes, on a character boundary.
fn truncate(text: &mut String, max: usize) {
    let end = floor_char_boundary(text, max);
    text.truncate(end);
}

/// The largest index `<= max` that starts a character of `text` (or its length when shorter).
fn floor_char_boundary(text: &str, max: usize) -> usize {
    if max >= text.len() {
        return text.len();
    }
    (0..=max).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(enabled: bool, max: u32) -> ContentLog {
        let log = ContentLog::default();
        log.apply(&RelaySettings {
            log_chat_content_enabled: enabled,
            log_content_max_bytes: max,
            ..Default::default()
        });
        log
    }

    #[test]
    fn nothing_is_recorded_while_off() {
        assert!(ContentLog::default().record(br#"{"messages":[{"role":"user","content":"hi"}]}"#).is_none());
        assert!(log(false, 100).record(br#"{"prompt":"hi"}"#).is_none());
        assert_eq!(log(false, 100).limit(), None);
        assert_eq!(log(true, 100).limit(), Some(100));
    }

    #[test]
    fn prompt_and_answer_are_cut_at_the_limit_on_a_character_boundary() {
        // "é" is two bytes: the prompt "héllo" cut at 4 bytes keeps "hél"; the answer keeps "aé" (3 bytes), the
        // next "é" does not fit the 1 byte left, and nothing after a cut piece is kept.
        let log = log(true, 4);
        let mut r = log.record(r#"{"messages":[{"role":"user","content":"héllo"}]}"#.as_bytes()).unwrap();
        r.answer("aé");
        r.answer("é");
        r.answer("more");
        let c = r.into_proto();
        assert_eq!((c.prompt.as_str(), c.answer.as_str()), ("hél", "aé"));
    }

    #[test]
    fn a_body_that_is_not_json_records_an_empty_prompt() {
        let mut r = log(true, 100).record(b"--boundary\r\n").unwrap();
        r.answer("ok");
        let c = r.into_proto();
        assert_eq!((c.prompt.as_str(), c.answer.as_str()), ("", "ok"));
    }
}
