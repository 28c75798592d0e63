//! A reader of the Dockerfile instructions these tests rely on: stages, `ENV`, `EXPOSE`, `USER`, `HEALTHCHECK`,
//! `CMD` (line continuations and comments handled as Docker does).

use std::path::PathBuf;

/// One instruction: its keyword (upper case) and the rest of its logical line.
#[derive(Debug, Clone)]
pub struct Instruction {
    pub keyword: String,
    pub args: String,
}

/// The repository's Dockerfile.
pub fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../Dockerfile")
}

/// Every instruction, in order.
pub fn instructions(text: &str) -> Vec<Instruction> {
    let mut out = Vec::new();
    let mut logical = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        // Comment lines are dropped even inside a continued instruction, as Docker does.
        if trimmed.starts_with('#') || (trimmed.is_empty() && logical.is_empty()) {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            logical.push_str(head);
            logical.push(' ');
            continue;
        }
        logical.push_str(trimmed);
        let full = std::mem::take(&mut logical);
        let (keyword, args) = full.trim().split_once(char::is_whitespace).unwrap_or((full.trim(), ""));
        out.push(Instruction { keyword: keyword.to_ascii_uppercase(), args: args.trim().to_string() });
    }
    out
}

/// The instructions of the last stage (the image that runs).
pub fn final_stage(text: &str) -> Vec<Instruction> {
    let all = instructions(text);
    let start = all.iter().rposition(|i| i.keyword == "FROM").expect("the Dockerfile has a FROM");
    all[start..].to_vec()
}

/// `ENV` of the final stage as `(name, value)` pairs, in order (`KEY=VALUE ...`; double quotes allowed).
pub fn env(text: &str) -> Vec<(String, String)> {
    let mut vars = Vec::new();
    for i in final_stage(text).iter().filter(|i| i.keyword == "ENV") {
        for word in split_words(&i.args) {
            let (k, v) = word.split_once('=').unwrap_or_else(|| panic!("ENV {word:?}: write ENV KEY=VALUE"));
            vars.push((k.to_string(), v.to_string()));
        }
    }
    vars
}

/// The value the final stage gives `name`.
pub fn env_value(text: &str, name: &str) -> Option<String> {
    env(text).into_iter().rev().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// Words split on white space outside double quotes, the quotes removed.
fn split_words(args: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    for c in args.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// The JSON (exec) form of an instruction's arguments, e.g. `CMD ["veloera"]`.
pub fn exec_form(args: &str) -> Vec<String> {
    serde_json::from_str(args).unwrap_or_else(|e| panic!("{args:?} is not the exec form [\"...\"]: {e}"))
}

#[test]
fn continuations_comments_and_quoted_env_values_are_read_as_docker_does() {
    let text =
        "FROM a AS build\nRUN x \\\n  # a comment\n  && y\nFROM b\nENV A=1 \\\n    B=\"two words\"\nCMD [\"run\"]\n";
    let stage = final_stage(text);
    assert_eq!(stage.iter().map(|i| i.keyword.as_str()).collect::<Vec<_>>(), ["FROM", "ENV", "CMD"]);
    assert_eq!(instructions(text)[1].args, "x  && y");
    assert_eq!(env(text), [("A".to_string(), "1".to_string()), ("B".to_string(), "two words".to_string())]);
    assert_eq!(exec_form(&stage[2].args), ["run"]);
}
