//! Blocked words (`SensitiveWords`): prompts are checked before anything is reserved or sent upstream, answers
//! (when enabled) as they arrive. The list is compiled once per settings change and swapped whole; a request
//! only loads a pointer, and with checking off or an empty list it does nothing more.

mod prompt;

pub use prompt::text_of as prompt_text;

use std::sync::Arc;

use arc_swap::ArcSwap;
use veloera_proto::blocked_words::{BlockedWords, StreamScanner};
use veloera_proto::v1::RelaySettings;

use crate::error::RelayError;

/// The settings in force, compiled.
#[derive(Debug, Default)]
struct Active {
    words: BlockedWords,
    check_prompt: bool,
    check_answer: bool,
    exempt_group: String,
}

impl Active {
    fn applies_to(&self, group: &str) -> bool {
        !self.words.is_empty() && (self.exempt_group.is_empty() || self.exempt_group != group)
    }
}

#[derive(Default)]
pub struct Guard {
    active: ArcSwap<Active>,
}

impl Guard {
    /// Applies settings pushed by control. A list that does not compile (control refuses those when they are
    /// saved, so only an older stored value can) keeps the previous list and says so.
    pub fn apply(&self, settings: &RelaySettings) {
        let words = match BlockedWords::compile(&settings.blocked_words) {
            Ok(words) => words,
            Err(e) => {
                tracing::error!(error = ?e.to_string(), "the stored blocked-word list does not compile; keeping the previous one");
                self.active.load().words.clone()
            }
        };
        self.active.store(Arc::new(Active {
            words,
            check_prompt: settings.check_prompt,
            check_answer: settings.check_completion,
            exempt_group: settings.exempt_group.clone(),
        }));
    }

    /// Refuses a request whose prompt (the text fields of its JSON `body`, in any inbound format) holds a
    /// blocked word. The word goes to the server log only.
    pub fn check_prompt(&self, group: &str, body: &[u8], request_id: &str) -> Result<(), RelayError> {
        let active = self.active.load();
        if !active.check_prompt || !active.applies_to(group) {
            return Ok(());
        }
        let Some(text) = prompt::text_of(body) else { return Ok(()) };
        match active.words.find(&text) {
            None => Ok(()),
            Some(word) => {
                tracing::warn!(request_id, word = ?word, "prompt refused: blocked word");
                Err(RelayError::SensitiveWords { request_id: request_id.to_string(), in_answer: false })
            }
        }
    }

    /// A checker for one answer, when answers are checked for `group`.
    pub fn answer_check(&self, group: &str, request_id: &str) -> Option<AnswerCheck> {
        let active = self.active.load_full();
        (active.check_answer && active.applies_to(group)).then(|| AnswerCheck {
            active,
            scanner: StreamScanner::default(),
            request_id: request_id.to_string(),
        })
    }
}

/// Reads one answer's text, whole or in pieces; a word split across two pieces is still caught.
pub struct AnswerCheck {
    active: Arc<Active>,
    scanner: StreamScanner,
    request_id: String,
}

impl AnswerCheck {
    pub fn feed(&mut self, text: &str) -> Result<(), RelayError> {
        match self.scanner.feed(&self.active.words, text) {
            None => Ok(()),
            Some(word) => {
                tracing::warn!(request_id = %self.request_id, word = ?word, "answer stopped: blocked word");
                Err(RelayError::SensitiveWords { request_id: self.request_id.clone(), in_answer: true })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(words: &str, prompt: bool, answer: bool, exempt: &str) -> Guard {
        let g = Guard::default();
        g.apply(&RelaySettings {
            blocked_words: words.into(),
            check_prompt: prompt,
            check_completion: answer,
            exempt_group: exempt.into(),
            ..Default::default()
        });
        g
    }

    #[test]
    fn prompts_with_a_blocked_word_are_refused_unless_exempt_or_off() {
        let body = br#"{"model":"m","messages":[{"role":"user","content":"say Forbidden"}]}"#;
        let g = guard("forbidden", true, false, "vip");
        let err = g.check_prompt("default", body, "req-1").unwrap_err();
        assert!(matches!(err, RelayError::SensitiveWords { in_answer: false, .. }));
        assert!(g.check_prompt("vip", body, "req-1").is_ok());
        assert!(guard("forbidden", false, false, "").check_prompt("default", body, "r").is_ok());
        assert!(g.check_prompt("default", br#"{"messages":[{"role":"user","content":"fine"}]}"#, "r").is_ok());
    }

    #[test]
    fn the_model_name_is_not_prompt_text() {
        let g = guard("forbidden", true, false, "");
        assert!(g.check_prompt("default", br#"{"model":"forbidden","messages":[]}"#, "r").is_ok());
    }

    #[test]
    fn answers_are_read_only_when_asked() {
        assert!(guard("x", true, false, "").answer_check("default", "r").is_none());
        assert!(guard("", true, true, "").answer_check("default", "r").is_none(), "an empty list reads nothing");
        let g = guard("secret", true, true, "");
        let mut check = g.answer_check("default", "r").unwrap();
        assert!(check.feed("the sec").is_ok());
        assert!(matches!(check.feed("ret is"), Err(RelayError::SensitiveWords { in_answer: true, .. })));
    }

    #[test]
    fn a_bad_stored_list_keeps_the_previous_one() {
        let g = guard("kept", true, false, "");
        g.apply(&RelaySettings { blocked_words: "regex:(".into(), check_prompt: true, ..Default::default() });
        assert!(g.check_prompt("default", br#"{"prompt":"kept"}"#, "r").is_err());
    }
}
