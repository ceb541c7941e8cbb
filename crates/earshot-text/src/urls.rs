//! Finding bare URLs and `@handles` in running text with a plain byte scan (this runs for every
//! mention, so no regex).

/// What a special span of running text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SpanKind {
    Url,
    Handle,
}

/// A byte range of `text` that is a URL or a handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub start: usize,
    pub end: usize,
    pub kind: SpanKind,
}

/// URLs (`http://`, `https://`, `www.`) and handles (`@name`, `@name@instance.social`,
/// `@name.bsky.social`) in order of appearance, never overlapping.
pub(crate) fn special_spans(text: &str) -> Vec<Span> {
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let at_boundary = i == 0 || !is_word_byte(bytes[i - 1]);
        if at_boundary && matches!(b, b'h' | b'H' | b'w' | b'W') {
            if let Some(end) = url_end(text, i) {
                spans.push(Span {
                    start: i,
                    end,
                    kind: SpanKind::Url,
                });
                i = end;
                continue;
            }
        } else if at_boundary && b == b'@' {
            let end = handle_end(text, i + 1);
            if end > i + 1 {
                spans.push(Span {
                    start: i,
                    end,
                    kind: SpanKind::Handle,
                });
                i = end;
                continue;
            }
        }
        i += 1;
    }
    spans
}

/// The bare URLs of `text`, as written (not yet canonical).
pub(crate) fn bare_urls(text: &str) -> impl Iterator<Item = &str> {
    special_spans(text)
        .into_iter()
        .filter(|span| span.kind == SpanKind::Url)
        .map(move |span| &text[span.start..span.end])
}

fn is_word_byte(b: u8) -> bool {
    // Any byte of a multi-byte character counts as a word byte, so `приветhttp://` is not a URL start.
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

fn starts_with_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.len() >= needle.len() && haystack[..needle.len()].eq_ignore_ascii_case(needle)
}

fn url_end(text: &str, start: usize) -> Option<usize> {
    let rest = &text.as_bytes()[start..];
    let prefix_len = if starts_with_ignore_case(rest, b"https://") {
        8
    } else if starts_with_ignore_case(rest, b"http://") {
        7
    } else if starts_with_ignore_case(rest, b"www.") {
        4
    } else {
        return None;
    };
    let body_start = start + prefix_len;
    let mut end = body_start;
    for (offset, c) in text[body_start..].char_indices() {
        if c.is_whitespace()
            || c.is_control()
            || matches!(c, '<' | '>' | '"' | '`' | '{' | '}' | '|' | '\\' | '^')
        {
            break;
        }
        end = body_start + offset + c.len_utf8();
    }
    let end = trim_trailing_punctuation(text, body_start, end);
    let host_start = text.as_bytes().get(body_start).copied();
    match host_start {
        Some(b) if end > body_start && (b.is_ascii_alphanumeric() || b >= 0x80 || b == b'[') => {
            Some(end)
        }
        _ => None,
    }
}

/// Sentence punctuation right after a URL is not part of it; a closing bracket is, when the URL
/// opened it (`https://en.wikipedia.org/wiki/Zeltron_(company)`).
fn trim_trailing_punctuation(text: &str, body_start: usize, mut end: usize) -> usize {
    loop {
        let Some(last) = text[body_start..end].chars().next_back() else {
            return end;
        };
        let trim = match last {
            '.' | ',' | ';' | ':' | '!' | '?' | '\'' | '*' | '…' | '«' | '»' | '“' | '”' | '’' => {
                true
            }
            ')' => unbalanced(&text[body_start..end], '(', ')'),
            ']' => unbalanced(&text[body_start..end], '[', ']'),
            _ => false,
        };
        if !trim {
            return end;
        }
        end -= last.len_utf8();
    }
}

fn unbalanced(s: &str, open: char, close: char) -> bool {
    s.chars().filter(|&c| c == close).count() > s.chars().filter(|&c| c == open).count()
}

fn handle_end(text: &str, start: usize) -> usize {
    let mut end = start;
    for (offset, c) in text[start..].char_indices() {
        if c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '@') {
            end = start + offset + c.len_utf8();
        } else {
            break;
        }
    }
    // Sentence punctuation after a handle is not part of it.
    let trimmed = text[start..end].trim_end_matches(['.', '-', '@']);
    start + trimmed.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(text: &str) -> Vec<(&str, SpanKind)> {
        special_spans(text)
            .into_iter()
            .map(|s| (&text[s.start..s.end], s.kind))
            .collect()
    }

    #[test]
    fn finds_urls_and_trims_sentence_punctuation() {
        assert_eq!(
            spans("See https://zeltron.com/a?b=1. And (www.kvantix.io), http://x.org/wiki/Z_(co)!"),
            vec![
                ("https://zeltron.com/a?b=1", SpanKind::Url),
                ("www.kvantix.io", SpanKind::Url),
                ("http://x.org/wiki/Z_(co)", SpanKind::Url),
            ]
        );
    }

    #[test]
    fn finds_handles_of_several_networks() {
        assert_eq!(
            spans("RT @zeltron: hi @anna@mastodon.social and @bob.bsky.social."),
            vec![
                ("@zeltron", SpanKind::Handle),
                ("@anna@mastodon.social", SpanKind::Handle),
                ("@bob.bsky.social", SpanKind::Handle),
            ]
        );
    }

    #[test]
    fn ignores_lookalikes() {
        assert!(spans("mail me at anna@zeltron.com, https:// or httpx://a").is_empty());
        assert!(spans("hello world").is_empty());
        assert!(spans("@ @@ http").is_empty());
    }

    #[test]
    fn handles_non_ascii_without_panicking() {
        assert_eq!(
            spans("Зелтрон: https://зелтрон.рф/новости… @зелтрон😀"),
            vec![
                ("https://зелтрон.рф/новости", SpanKind::Url),
                ("@зелтрон", SpanKind::Handle),
            ]
        );
    }
}
