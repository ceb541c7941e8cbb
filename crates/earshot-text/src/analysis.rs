//! The one definition of how text becomes searchable terms. Brand matching here and the search
//! index in `earshot-store` both go through it, so a query finds the same mentions in both.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::LazyLock;

use rust_stemmers::{Algorithm, Stemmer};
use unicode_normalization::char::is_combining_mark;

pub use crate::fold::fold;
use crate::urls::{special_spans, SpanKind};

static ENGLISH: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::English));
static RUSSIAN: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::Russian));
static GREEK: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::Greek));

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WordScript {
    Latin,
    Cyrillic,
    Greek,
    /// Digits, mixed scripts, or a script we have no stemmer for.
    Other,
}

fn char_script(c: char) -> WordScript {
    match c {
        'a'..='z' | 'A'..='Z' | '\u{00C0}'..='\u{024F}' | '\u{1E00}'..='\u{1EFF}' => {
            WordScript::Latin
        }
        '\u{0400}'..='\u{052F}' => WordScript::Cyrillic,
        '\u{0370}'..='\u{03FF}' | '\u{1F00}'..='\u{1FFF}' => WordScript::Greek,
        _ => WordScript::Other,
    }
}

fn word_script(word: &str) -> WordScript {
    let mut script = None;
    for c in word.chars() {
        if c == '\'' {
            continue;
        }
        let this = char_script(c);
        match script {
            None => script = Some(this),
            Some(seen) if seen != this => return WordScript::Other,
            Some(_) => {}
        }
    }
    script.unwrap_or(WordScript::Other)
}

/// Reduces a folded word to its stem with the Snowball stemmer of its script: Cyrillic words
/// with the Russian one, Greek with the Greek one, Latin with the English one. Words with
/// digits or mixed scripts (`h2o`, `zeltronб`) are returned as they are.
pub fn stem(folded_word: &str) -> String {
    let stemmer: &Stemmer = match word_script(folded_word) {
        WordScript::Latin => &ENGLISH,
        WordScript::Cyrillic => &RUSSIAN,
        WordScript::Greek => &GREEK,
        WordScript::Other => return folded_word.to_owned(),
    };
    // Word frequencies are skewed, so a small per-thread memo answers most words without running
    // the (comparatively slow) Snowball machine.
    STEM_CACHE.with_borrow_mut(|cache| {
        if let Some(stemmed) = cache.get(folded_word) {
            return stemmed.clone();
        }
        let stemmed = stemmer.stem(folded_word).into_owned();
        if cache.len() >= STEM_CACHE_CAPACITY {
            cache.clear();
        }
        cache.insert(folded_word.to_owned(), stemmed.clone());
        stemmed
    })
}

/// Entries kept per thread; some megabytes at most.
const STEM_CACHE_CAPACITY: usize = 50_000;

thread_local! {
    static STEM_CACHE: RefCell<HashMap<String, String>> = RefCell::new(HashMap::new());
}

/// One word of a text, borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token<'a> {
    pub text: &'a str,
    /// Byte offset of the word in the text.
    pub offset: usize,
    /// Index of the word among the words of the text (0, 1, 2, ...).
    pub position: usize,
}

/// Splits text into words: runs of Unicode letters and digits (with their combining marks, and
/// apostrophes between letters as in `don't` or `Zeltron's`). Everything else separates words:
/// spaces, punctuation, `#`, `@`, emoji. `zeltron.com` is two words, `#зелтрон` one.
pub fn tokenize(text: &str) -> impl Iterator<Item = Token<'_>> {
    Tokenizer {
        text,
        cursor: 0,
        position: 0,
    }
}

struct Tokenizer<'a> {
    text: &'a str,
    cursor: usize,
    position: usize,
}

fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '\u{2019}' | '\u{02BC}')
}

impl<'a> Iterator for Tokenizer<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        let rest = &self.text[self.cursor..];
        // A word starts with a letter or digit proper; a combining mark (which some scripts count as
        // alphabetic) only continues one.
        let (start_in_rest, _) = rest
            .char_indices()
            .find(|&(_, c)| crate::fold::is_alphanumeric_fast(c) && !is_combining_mark(c))?;
        let start = self.cursor + start_in_rest;
        let mut end = self.text.len();
        let mut chars = self.text[start..].char_indices().peekable();
        while let Some((offset, c)) = chars.next() {
            if crate::fold::is_alphanumeric_fast(c) || is_combining_mark(c) {
                continue;
            }
            let apostrophe_inside_word = is_apostrophe(c)
                && chars.peek().is_some_and(|&(_, next)| {
                    crate::fold::is_alphanumeric_fast(next) && !is_combining_mark(next)
                });
            if !apostrophe_inside_word {
                end = start + offset;
                break;
            }
        }
        self.cursor = end;
        let token = Token {
            text: &self.text[start..end],
            offset: start,
            position: self.position,
        };
        self.position += 1;
        Some(token)
    }
}

/// Where a word came from, so that features like near-duplicate detection can leave out the
/// parts of a post that change between copies (links, `@mentions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    Word,
    /// Part of an `@handle`.
    Handle,
    /// The word right after `#`.
    Hashtag,
    /// Part of a bare URL.
    Url,
}

/// A text turned into search terms: its words folded ([`fold`]) and stemmed ([`stem`]), in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnalyzedText {
    folded: Vec<String>,
    stems: Vec<String>,
    kinds: Vec<TokenKind>,
    offsets: Vec<usize>,
}

impl AnalyzedText {
    pub fn new(text: &str) -> Self {
        let spans = special_spans(text);
        let mut next_span = 0;
        let mut analyzed = AnalyzedText::default();
        for token in tokenize(text) {
            while next_span < spans.len() && spans[next_span].end <= token.offset {
                next_span += 1;
            }
            let kind = match spans.get(next_span) {
                Some(span) if span.start <= token.offset => match span.kind {
                    SpanKind::Url => TokenKind::Url,
                    SpanKind::Handle => TokenKind::Handle,
                },
                _ if text[..token.offset].ends_with('#') => TokenKind::Hashtag,
                _ => TokenKind::Word,
            };
            let folded = fold(token.text);
            analyzed.stems.push(stem(&folded));
            analyzed.folded.push(folded);
            analyzed.kinds.push(kind);
            analyzed.offsets.push(token.offset);
        }
        analyzed
    }

    /// The folded words, in text order.
    pub fn folded(&self) -> &[String] {
        &self.folded
    }

    /// The stems of the folded words, index for index.
    pub fn stems(&self) -> &[String] {
        &self.stems
    }

    /// What each word is part of, index for index.
    pub fn kinds(&self) -> &[TokenKind] {
        &self.kinds
    }

    /// Byte offset of each word in the original text, index for index.
    pub fn offsets(&self) -> &[usize] {
        &self.offsets
    }

    pub fn len(&self) -> usize {
        self.folded.len()
    }

    pub fn is_empty(&self) -> bool {
        self.folded.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<&str> {
        tokenize(text).map(|t| t.text).collect()
    }

    #[test]
    fn splits_on_punctuation_symbols_and_emoji() {
        assert_eq!(
            words("Love #Zeltron!🚀 @kvantix, zeltron.com; don't stop—Zeltron’s best"),
            vec![
                "Love",
                "Zeltron",
                "kvantix",
                "zeltron",
                "com",
                "don't",
                "stop",
                "Zeltron’s",
                "best"
            ]
        );
        assert_eq!(
            words("#зелтрон_топ «Новента»"),
            vec!["зелтрон", "топ", "Новента"]
        );
        assert!(words("🚀🔥 !!! ... \u{0} \n").is_empty());
    }

    #[test]
    fn reports_offsets_and_positions() {
        let tokens: Vec<Token> = tokenize("  Ζέλτρον, hi").collect();
        assert_eq!(
            tokens[0],
            Token {
                text: "Ζέλτρον",
                offset: 2,
                position: 0
            }
        );
        assert_eq!(
            tokens[1],
            Token {
                text: "hi",
                offset: 18,
                position: 1
            }
        );
    }

    #[test]
    fn keeps_combining_marks_inside_words() {
        assert_eq!(words("cafe\u{0301} ok"), vec!["cafe\u{0301}", "ok"]);
        assert_eq!(words("'quoted' end'"), vec!["quoted", "end"]);
    }

    #[test]
    fn stems_by_script() {
        assert_eq!(stem("зелтроном"), stem("зелтрон"));
        assert_eq!(stem("зелтрона"), stem("зелтрон"));
        assert_eq!(stem(&fold("Ζέλτρονα")), stem(&fold("Ζέλτρον")));
        assert_eq!(stem("running"), "run");
        assert_eq!(stem("zeltron's"), "zeltron");
        assert_eq!(stem("h2o"), "h2o");
        assert_eq!(stem("zeltronб"), "zeltronб");
        assert_eq!(stem("2024"), "2024");
        assert_eq!(stem(""), "");
    }

    #[test]
    fn analyzes_in_order_with_kinds() {
        let text = AnalyzedText::new("RT @zeltron: Новента #Kvantix https://zeltron.com/x");
        assert_eq!(
            text.folded(),
            [
                "rt",
                "zeltron",
                "новента",
                "kvantix",
                "https",
                "zeltron",
                "com",
                "x"
            ]
        );
        assert_eq!(text.stems()[2], stem("новента"));
        assert_eq!(
            text.kinds(),
            [
                TokenKind::Word,
                TokenKind::Handle,
                TokenKind::Word,
                TokenKind::Hashtag,
                TokenKind::Url,
                TokenKind::Url,
                TokenKind::Url,
                TokenKind::Url
            ]
        );
        assert_eq!(text.offsets()[1], 4);
        assert_eq!(text.len(), 8);
    }

    #[test]
    fn huge_and_odd_input_does_not_panic() {
        let huge = "Зелтрон ζέλτρον zeltron 🚀 ".repeat(40_000);
        let analyzed = AnalyzedText::new(&huge);
        assert_eq!(analyzed.len(), 120_000);
        let odd = "\u{0}\u{1}\u{7f}\u{202e}\u{feff}\u{0301}\u{0301}🚀";
        assert!(AnalyzedText::new(odd).is_empty());
    }
}
