//! Small text helpers shared by the matchers.
//!
//! Matching is done on a lowercased copy with runs of whitespace folded to a
//! single space, so a phrase wrapped across lines by an MTA still matches.

use aho_corasick::AhoCorasick;

/// Lowercases and folds every run of whitespace (including line breaks) into
/// one space.
pub(crate) fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = true;
    if text.is_ascii() {
        // Fast path: bytes map one to one.
        let mut bytes = Vec::with_capacity(text.len());
        for &b in text.as_bytes() {
            if b.is_ascii_whitespace() {
                if !space {
                    bytes.push(b' ');
                    space = true;
                }
            } else {
                bytes.push(b.to_ascii_lowercase());
                space = false;
            }
        }
        if bytes.last() == Some(&b' ') {
            bytes.pop();
        }
        return String::from_utf8(bytes).unwrap_or_default();
    }
    for ch in text.chars() {
        if ch.is_whitespace() {
            if !space {
                out.push(' ');
                space = true;
            }
        } else {
            for lower in ch.to_lowercase() {
                out.push(lower);
            }
            space = false;
        }
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

/// A fixed list of phrases searched in one pass (Aho-Corasick). A phrase
/// may hold `*` between fragments that must appear in that order; with
/// `short_words`, phrases of four bytes or fewer only match whole words.
pub(crate) struct PhraseSet {
    phrases: &'static [&'static str],
    ac: AhoCorasick,
    ac_index: Vec<usize>,
    wildcards: Vec<usize>,
    short_words: bool,
}

impl PhraseSet {
    #[allow(clippy::expect_used, reason = "called with constant phrase lists: any test that classifies fails at once if they are invalid")]
    pub(crate) fn new(phrases: &'static [&'static str], short_words: bool) -> Self {
        let mut plain = Vec::new();
        let mut ac_index = Vec::new();
        let mut wildcards = Vec::new();
        for (i, p) in phrases.iter().enumerate() {
            if p.contains('*') {
                wildcards.push(i);
            } else {
                plain.push(*p);
                ac_index.push(i);
            }
        }
        let ac = AhoCorasick::new(&plain).expect("phrase lists are small and valid");
        PhraseSet { phrases, ac, ac_index, wildcards, short_words }
    }

    /// The earliest phrase in list order that occurs in `haystack`.
    pub(crate) fn first(&self, haystack: &str) -> Option<&'static str> {
        let mut best = usize::MAX;
        for m in self.ac.find_overlapping_iter(haystack) {
            let idx = self.ac_index[m.pattern().as_usize()];
            if idx >= best {
                continue;
            }
            let short = self.short_words && self.phrases[idx].len() <= 4;
            if !short || bounded(haystack, m.start(), m.end()) {
                best = idx;
            }
        }
        for &i in &self.wildcards {
            if i < best && ordered_fragments(haystack, self.phrases[i]) {
                best = i;
                break;
            }
        }
        self.phrases.get(best).copied()
    }
}

/// Whether `text[start..end]` is a whole word.
pub(crate) fn bounded(text: &str, start: usize, end: usize) -> bool {
    let bytes = text.as_bytes();
    (start == 0 || !is_word_byte(bytes[start - 1])) && (end >= bytes.len() || !is_word_byte(bytes[end]))
}

fn ordered_fragments(haystack: &str, phrase: &str) -> bool {
    let mut rest = haystack;
    for fragment in phrase.split('*').map(str::trim).filter(|f| !f.is_empty()) {
        match rest.find(fragment) {
            Some(pos) => rest = &rest[pos + fragment.len()..],
            None => return false,
        }
    }
    true
}

/// The first needle found in `haystack`, if any.
pub(crate) fn find_any<'a>(haystack: &str, needles: &[&'a str]) -> Option<&'a str> {
    needles.iter().copied().find(|n| haystack.contains(n))
}

pub(crate) fn contains_any(haystack: &str, needles: &[&str]) -> bool {
    find_any(haystack, needles).is_some()
}

/// Truncates to at most `max` characters, on a character boundary.
pub(crate) fn truncate_chars(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((idx, _)) => &text[..idx],
        None => text,
    }
}

/// Whether `word` occurs in `text` as a whole word (not inside another word).
pub(crate) fn has_word(text: &str, word: &str) -> bool {
    let bytes = text.as_bytes();
    let mut start = 0;
    while let Some(pos) = text[start..].find(word) {
        let at = start + pos;
        let end = at + word.len();
        let before_ok = at == 0 || !is_word_byte(bytes[at - 1]);
        let after_ok = end >= bytes.len() || !is_word_byte(bytes[end]);
        if before_ok && after_ok {
            return true;
        }
        start = at + word.len().max(1);
        while start < text.len() && !text.is_char_boundary(start) {
            start += 1;
        }
        if start >= text.len() {
            break;
        }
    }
    false
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_joins_wrapped_lines() {
        assert_eq!(fold("User\r\n  Unknown\t here "), "user unknown here");
    }

    #[test]
    fn whole_words_only() {
        assert!(has_word("please stop.", "stop"));
        assert!(!has_word("nonstop flights", "stop"));
        assert!(!has_word("stopped", "stop"));
    }

    #[test]
    fn truncation_respects_characters() {
        assert_eq!(truncate_chars("héllo", 2), "hé");
        assert_eq!(truncate_chars("hi", 5), "hi");
    }
}
