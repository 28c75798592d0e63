//! The message catalogue: every visible string has a key, with one text per language (`zh.rs`, `en.rs`).
//! Chinese is the default, as in Veloera. The tests below fail when a key is missing in a language or when
//! the code asks for a key no catalogue has, so an untranslated string fails a test, not a user.

mod en;
mod zh;

/// A language the UI speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Zh, Lang::En];

    /// The BCP 47 tag, as stored in localStorage and set on `<html lang>`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|l| l.code() == code)
    }

    /// The language's own name, for the switch.
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::Zh => "中文",
            Lang::En => "English",
        }
    }

    fn table(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Lang::Zh => zh::TEXT,
            Lang::En => en::TEXT,
        }
    }
}

/// The text of `key` in `lang`. A key missing from the catalogue shows as itself (the tests keep that from
/// shipping).
pub fn tr(lang: Lang, key: &'static str) -> &'static str {
    lang.table().iter().find(|(k, _)| *k == key).map_or(key, |(_, v)| v)
}

/// [`tr`] with `{name}` placeholders filled in.
pub fn trf(lang: Lang, key: &'static str, args: &[(&str, String)]) -> String {
    let mut text = tr(lang, key).to_string();
    for (name, value) in args {
        text = text.replace(&format!("{{{name}}}"), value);
    }
    text
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;

    fn keys(lang: Lang) -> BTreeSet<&'static str> {
        lang.table().iter().map(|(k, _)| *k).collect()
    }

    #[test]
    fn every_language_has_every_key_once_and_no_empty_text() {
        for lang in Lang::ALL {
            let table = lang.table();
            assert_eq!(keys(lang).len(), table.len(), "{lang:?} has a key twice");
            for (k, v) in table {
                assert!(!v.trim().is_empty(), "{lang:?}: {k} is empty");
            }
        }
        let zh = keys(Lang::Zh);
        let en = keys(Lang::En);
        let only_zh: Vec<_> = zh.difference(&en).collect();
        let only_en: Vec<_> = en.difference(&zh).collect();
        assert!(only_zh.is_empty(), "missing in English: {only_zh:?}");
        assert!(only_en.is_empty(), "missing in Chinese: {only_en:?}");
    }

    #[test]
    fn placeholders_match_between_languages() {
        let placeholders = |text: &str| -> BTreeSet<String> {
            text.split('{').skip(1).filter_map(|s| s.split_once('}').map(|(p, _)| p.to_string())).collect()
        };
        for (key, zh) in Lang::Zh.table() {
            assert_eq!(placeholders(zh), placeholders(tr(Lang::En, key)), "placeholders of {key}");
        }
    }

    /// Every `t("…")`, `tf("…"` and `tr(…, "…")` in the sources names a key the catalogue has.
    #[test]
    fn every_key_the_code_uses_exists() {
        let known = keys(Lang::Zh);
        let mut missing = BTreeSet::new();
        let mut used = 0;
        for file in sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src")) {
            let text = std::fs::read_to_string(&file).unwrap();
            for key in used_keys(&text) {
                used += 1;
                if !known.contains(key.as_str()) {
                    missing.insert(format!("{key} ({})", file.display()));
                }
            }
        }
        assert!(used > 100, "the key scanner found only {used} uses: is it still reading the call sites?");
        assert!(missing.is_empty(), "keys used but not in the catalogue: {missing:#?}");
    }

    fn sources(dir: &Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.extend(sources(&path));
            } else if path.extension().is_some_and(|e| e == "rs")
                && !path.ends_with("i18n/zh.rs")
                && !path.ends_with("i18n/en.rs")
            {
                out.push(path);
            }
        }
        out
    }

    /// Namespaces of the catalogue's keys: any string literal `"<namespace>.<name>"` in the code is a key.
    const NAMESPACES: &[&str] = &[
        "channel", "common", "dash", "error", "form", "header", "log", "login", "nav", "notfound", "oauth", "pager",
        "password", "privacy", "profile", "register", "reset", "role", "setup", "status", "theme", "token", "wallet",
    ];

    fn used_keys(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        // Escaped quotes and the quote character literal would throw the inside/outside count off.
        let text = text.replace("\\\"", "").replace("'\"'", "");
        for (i, chunk) in text.split('"').enumerate() {
            // Odd chunks are inside quotes.
            if i % 2 == 0 {
                continue;
            }
            let Some((ns, rest)) = chunk.split_once('.') else { continue };
            let key_like = !rest.is_empty()
                && chunk.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.');
            if key_like && NAMESPACES.contains(&ns) {
                out.push(chunk.to_string());
            }
        }
        out
    }
}
