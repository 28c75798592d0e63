//! Secrets scrubbed from what an upstream says when it fails. An upstream error may quote the credentials it was
//! called with (a proxy or a vendor echoing `Authorization: Bearer <key>`), and that text reaches the client, the
//! relay's log, the usage record's error log and the channel's health notes. Every stored key of the channel is
//! removed, and so is anything shaped like a provider key or a bearer token, whoever's it is.

use std::borrow::Cow;

use crate::channel::Key;

/// What a secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// How provider keys begin: OpenAI and the many `sk-` vendors (Anthropic's `sk-ant-`, OpenRouter's `sk-or-`),
/// Google `AIza`, AWS access key ids, xAI, Groq, Hugging Face, Perplexity, Replicate, GitHub tokens.
const KEY_PREFIXES: &[&str] =
    &["sk-", "AIza", "AKIA", "ASIA", "xai-", "gsk_", "hf_", "pplx-", "r8_", "ghp_", "github_pat_"];
/// A prefix followed by at least this many key characters is taken for a key (shorter runs are ordinary words).
const MIN_KEY_TAIL: usize = 16;
/// Words after which the next token is a credential, whatever its shape.
const CREDENTIAL_LABELS: &[&str] = &["bearer ", "x-api-key: ", "api-key: ", "x-goog-api-key: "];
/// A stored key shorter than this is not searched for: it would match ordinary text.
const MIN_STORED_SECRET: usize = 8;
/// The same for a part of a composite key, whose other parts (a region, a project id) are no secrets.
const MIN_KEY_PART: usize = 16;

fn key_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// `text` without the channel's stored `keys` (each whole, and each part of a `|`-separated composite key such as
/// AWS's `access|secret|region`) and without anything shaped like a provider key or a bearer credential.
pub fn redact<'a>(text: &'a str, keys: &[Key]) -> Cow<'a, str> {
    let mut out = Cow::Borrowed(text);
    for key in keys {
        let whole = key.secret.expose().trim();
        let parts = whole.split('|').map(str::trim).filter(|part| part.len() >= MIN_KEY_PART);
        let secrets = std::iter::once(whole).filter(|w| w.len() >= MIN_STORED_SECRET).chain(parts);
        for secret in secrets {
            if out.contains(secret) {
                out = Cow::Owned(out.replace(secret, REDACTED));
            }
        }
    }
    match scrub_shapes(&out) {
        Some(scrubbed) => Cow::Owned(scrubbed),
        None => out,
    }
}

/// Replaces provider-key-shaped runs and labelled credentials; `None` when there are none.
fn scrub_shapes(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let lower = text.to_ascii_lowercase();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Secrets are ASCII: they start on a character (never inside a multi-byte one) after a non-key byte.
        let at_boundary = text.is_char_boundary(i) && (i == 0 || !key_char(bytes[i - 1]));
        let secret_end = if at_boundary { secret_at(text, &lower, i) } else { None };
        match secret_end {
            Some((start, end)) => {
                let buffer = out.get_or_insert_with(|| String::with_capacity(text.len()));
                buffer.push_str(&text[copied..start]);
                buffer.push_str(REDACTED);
                copied = end;
                i = end;
            }
            None => i += 1,
        }
    }
    out.map(|mut buffer| {
        buffer.push_str(&text[copied..]);
        buffer
    })
}

/// The byte range of a secret starting at `i` (a credential after a label keeps its label), if one does.
fn secret_at(text: &str, lower: &str, i: usize) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let run_end = |from: usize| from + bytes[from..].iter().take_while(|b| key_char(**b)).count();
    for label in CREDENTIAL_LABELS {
        if lower[i..].starts_with(label) {
            let from = i + label.len();
            // Tokens of any alphabet: up to the next space, quote or separator.
            let end = from
                + bytes[from..]
                    .iter()
                    .take_while(|b| !b.is_ascii_whitespace() && !matches!(b, b'"' | b'\'' | b',' | b';' | b'\\'))
                    .count();
            if end - from >= MIN_STORED_SECRET && &text[from..end] != REDACTED {
                return Some((from, end));
            }
        }
    }
    for prefix in KEY_PREFIXES {
        if text[i..].starts_with(prefix) {
            let end = run_end(i + prefix.len());
            if end - i - prefix.len() >= MIN_KEY_TAIL {
                return Some((i, end));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(list: &[&str]) -> Vec<Key> {
        let auth = crate::channel::Auth::Bearer;
        list.iter()
            .enumerate()
            .map(|(i, k)| Key::new(i as i32, k.to_string(), &auth, crate::channel::ChannelId(1)))
            .collect()
    }

    #[test]
    fn stored_keys_are_removed_whole_and_by_part() {
        let k = keys(&["sk-upstream-1", "AKIAIOSFODNN7EXAMPLE|wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY|us-east-1"]);
        let said = "bad key sk-upstream-1; signature for wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY by \
                    AKIAIOSFODNN7EXAMPLE in us-east-1 did not match";
        assert_eq!(
            redact(said, &k),
            "bad key [redacted]; signature for [redacted] by [redacted] in us-east-1 did not match",
            "a region is shorter than a secret and stays"
        );
    }

    #[test]
    fn provider_shaped_keys_are_removed_whoever_owns_them() {
        let said = r#"{"error": "keys sk-ant-api03-AbCdEfGhIjKlMnOpQrSt and AIzaSyA1234567890abcdefghijklmnopqrs and sk-proj-0123456789abcdefXYZ are invalid"}"#;
        assert_eq!(redact(said, &[]), r#"{"error": "keys [redacted] and [redacted] and [redacted] are invalid"}"#);
    }

    #[test]
    fn labelled_credentials_are_removed_in_any_shape() {
        let said = "echo: Authorization: Bearer tok.en/with+odd=chars\nx-api-key: abcdefgh12345678 done";
        assert_eq!(redact(said, &[]), "echo: Authorization: Bearer [redacted]\nx-api-key: [redacted] done");
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        for said in ["the model does not exist", "task-runner failed", "ask-me-anything", "sk-short", "Bearer x"] {
            assert!(matches!(redact(said, &keys(&["short"])), Cow::Borrowed(_)), "{said}");
        }
        // A key-shaped word inside another word is not a key.
        assert_eq!(redact("risk-0123456789abcdefghij", &[]), "risk-0123456789abcdefghij");
    }

    #[test]
    fn text_in_any_script_is_scanned_safely() {
        let said = "密钥无效：sk-proj-0123456789abcdefXYZ，请检查 Bearer 令牌令牌令牌";
        assert_eq!(redact(said, &[]), "密钥无效：[redacted]，请检查 Bearer [redacted]");
    }
}
