//! The blocked-word list (Veloera's `SensitiveWords`): one entry per line; a plain line matches as a
//! case-insensitive substring (Aho-Corasick), a `regex:<pattern>` line is a case-insensitive regular expression.
//! Compiled once per settings change: by control to refuse a bad list when it is saved (naming the line), and
//! by the relay to match requests and answers.

use aho_corasick::{AhoCorasick, MatchKind};
use regex::{RegexSet, RegexSetBuilder};

const REGEX_PREFIX: &str = "regex:";
/// Compiled size bound per pattern, so a pathological pattern is refused instead of eating memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// How much earlier answer text a regex may still reach back into when the answer arrives in pieces.
const REGEX_STREAM_WINDOW: usize = 1024;

/// A line that could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListError {
    /// 1-based line number in the list.
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for ListError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// A compiled list. Empty lists match nothing and cost nothing.
#[derive(Debug, Clone, Default)]
pub struct BlockedWords {
    plain: Option<AhoCorasick>,
    /// Lower-cased plain entries, indexed like the automaton's patterns.
    words: Vec<String>,
    regexes: Option<RegexSet>,
    /// Longest plain entry in characters, for the stream window.
    longest_word: usize,
}

impl BlockedWords {
    /// Compiles `list`. Blank lines are skipped; every other line must compile.
    pub fn compile(list: &str) -> Result<Self, ListError> {
        let mut words = Vec::new();
        let mut patterns = Vec::new();
        for (i, line) in list.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            match line.strip_prefix(REGEX_PREFIX) {
                Some(pattern) => {
                    let pattern = pattern.trim();
                    if pattern.is_empty() {
                        return Err(ListError { line: i + 1, message: "empty regular expression".into() });
                    }
                    // Compiled alone first so the error names its line.
                    regex::RegexBuilder::new(pattern)
                        .size_limit(REGEX_SIZE_LIMIT)
                        .build()
                        .map_err(|e| ListError { line: i + 1, message: format!("invalid regular expression: {e}") })?;
                    patterns.push(pattern.to_string());
                }
                None => words.push(line.to_lowercase()),
            }
        }
        let plain = if words.is_empty() {
            None
        } else {
            let automaton = AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::LeftmostFirst)
                .build(&words)
                .map_err(|e| ListError { line: 0, message: format!("word list: {e}") })?;
            Some(automaton)
        };
        let regexes = if patterns.is_empty() {
            None
        } else {
            let set = RegexSetBuilder::new(&patterns)
                .case_insensitive(true)
                .size_limit(REGEX_SIZE_LIMIT * patterns.len().min(16))
                .build()
                .map_err(|e| ListError { line: 0, message: format!("regular expressions together: {e}") })?;
            Some(set)
        };
        let longest_word = words.iter().map(|w| w.chars().count()).max().unwrap_or(0);
        Ok(BlockedWords { plain, words, regexes, longest_word })
    }

    pub fn is_empty(&self) -> bool {
        self.plain.is_none() && self.regexes.is_none()
    }

    /// The first entry found in `text` (a regular expression's pattern, or a plain word), if any.
    /// Regular expressions are tried first, as Veloera does.
    pub fn find(&self, text: &str) -> Option<String> {
        if let Some(set) = &self.regexes
            && let Some(i) = set.matches(text).iter().next()
        {
            return Some(format!("{REGEX_PREFIX}{}", set.patterns()[i]));
        }
        let automaton = self.plain.as_ref()?;
        // The automaton folds ASCII case itself; other scripts are folded by lower-casing the text.
        let found = if text.is_ascii() { automaton.find(text) } else { automaton.find(text.to_lowercase().as_str()) };
        found.map(|m| self.words[m.pattern().as_usize()].clone())
    }

    /// How many trailing characters of earlier text a match may still span into the next piece.
    fn window(&self) -> usize {
        let regex = if self.regexes.is_some() { REGEX_STREAM_WINDOW } else { 0 };
        self.longest_word.saturating_sub(1).max(regex)
    }
}

/// Matches text that arrives in pieces (a streamed answer): an entry split across two pieces is still found.
#[derive(Debug, Default)]
pub struct StreamScanner {
    /// The end of the text seen so far, as long as a match could still reach back.
    tail: String,
}

impl StreamScanner {
    /// Scans `piece` together with the end of the earlier pieces.
    pub fn feed(&mut self, words: &BlockedWords, piece: &str) -> Option<String> {
        if words.is_empty() || piece.is_empty() {
            return None;
        }
        self.tail.push_str(piece);
        let found = words.find(&self.tail);
        let keep = words.window();
        let chars = self.tail.chars().count();
        if chars > keep {
            let cut = self.tail.char_indices().nth(chars - keep).map(|(i, _)| i).unwrap_or(self.tail.len());
            self.tail.drain(..cut);
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_words_match_case_insensitively_as_substrings() {
        let w = BlockedWords::compile("Forbidden\n\n  秘密  \n").unwrap();
        assert_eq!(w.find("this is FORBIDDEN text").as_deref(), Some("forbidden"));
        assert_eq!(w.find("含有秘密的内容").as_deref(), Some("秘密"));
        assert_eq!(w.find("ÄÖ forBidden").as_deref(), Some("forbidden"));
        assert_eq!(w.find("nothing here"), None);
    }

    #[test]
    fn regex_lines_work_without_plain_entries_and_come_first() {
        let w = BlockedWords::compile("regex:b[a-z]+d\n").unwrap();
        assert_eq!(w.find("a BAD word").as_deref(), Some("regex:b[a-z]+d"));
        let both = BlockedWords::compile("bad\nregex:ba.\n").unwrap();
        assert_eq!(both.find("bad").as_deref(), Some("regex:ba."));
        assert_eq!(w.find("good"), None);
    }

    #[test]
    fn invalid_patterns_are_refused_with_their_line() {
        let err = BlockedWords::compile("fine\n\nregex:([a-z]\n").unwrap_err();
        assert_eq!(err.line, 3);
        assert!(err.message.contains("invalid regular expression"), "{}", err.message);
        assert_eq!(BlockedWords::compile("regex:   ").unwrap_err().line, 1);
    }

    #[test]
    fn empty_list_matches_nothing() {
        let w = BlockedWords::compile(" \n\n").unwrap();
        assert!(w.is_empty());
        assert_eq!(w.find("anything"), None);
    }

    #[test]
    fn a_word_split_across_pieces_is_found() {
        let w = BlockedWords::compile("forbidden\nregex:se+cret").unwrap();
        let mut s = StreamScanner::default();
        assert_eq!(s.feed(&w, "this is forb"), None);
        assert_eq!(s.feed(&w, "idd").as_deref(), None);
        assert_eq!(s.feed(&w, "en!").as_deref(), Some("forbidden"));
        let mut s = StreamScanner::default();
        assert_eq!(s.feed(&w, "a s"), None);
        assert_eq!(s.feed(&w, "eee"), None);
        assert_eq!(s.feed(&w, "cret").as_deref(), Some("regex:se+cret"));
    }

    #[test]
    fn the_stream_tail_stays_bounded() {
        let w = BlockedWords::compile("abc").unwrap();
        let mut s = StreamScanner::default();
        for _ in 0..1000 {
            assert_eq!(s.feed(&w, "xyzxyz日本"), None);
        }
        assert!(s.tail.chars().count() <= 2);
        assert_eq!(s.feed(&w, "ab"), None);
        assert_eq!(s.feed(&w, "c").as_deref(), Some("abc"));
    }
}
