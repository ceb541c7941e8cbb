//! Turning what sources deliver (HTML or plain text) into clean text plus the links it contains,
//! and URLs into a canonical form for deduplication.

use std::collections::HashSet;

use std::cell::RefCell;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, Tag, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
    TokenizerResult,
};
use html5ever::LocalName;
use url::{form_urlencoded, Url};

use crate::urls::bare_urls;

/// Clean text and the canonical links found in it, deduplicated, in order of appearance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Normalized {
    pub text: String,
    pub links: Vec<String>,
}

/// Elements whose content is never readable text.
const SKIPPED_ELEMENTS: &[&str] = &[
    "script", "style", "noscript", "noembed", "noframes", "xmp", "template", "title", "iframe",
    "object", "svg", "math", "canvas", "select", "textarea",
];

/// Elements that end a paragraph: a blank line around them.
const PARAGRAPH_ELEMENTS: &[&str] = &[
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "ul",
    "ol",
    "dl",
    "table",
    "hr",
    "figure",
];

/// Elements that end a line.
const LINE_ELEMENTS: &[&str] = &[
    "div",
    "li",
    "tr",
    "dt",
    "dd",
    "section",
    "article",
    "aside",
    "header",
    "footer",
    "main",
    "nav",
    "address",
    "details",
    "summary",
    "figcaption",
    "caption",
    "form",
    "fieldset",
    "legend",
    "center",
];

/// Cells and images separate words even without spaces in the markup.
const SPACED_ELEMENTS: &[&str] = &["td", "th", "img"];

/// Converts HTML (a fragment or a whole document, broken markup included) into plain text: no
/// markup survives, script and style content is dropped, entities are decoded, block elements and
/// `<br>` become line breaks, and runs of whitespace collapse. `links` holds the absolute
/// http(s) `href`s of `<a>` elements and the bare URLs of the text, canonicalized.
///
/// Only html5ever's tokenizer runs, not its tree builder: text extraction needs no tree, and the
/// tree builder takes time quadratic in the nesting depth, which hostile input can make huge.
pub fn html_to_text(html: &str) -> Normalized {
    let tokenizer = Tokenizer::new(TextSink::default(), TokenizerOpts::default());
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(html));
    while let TokenizerResult::Script(()) = tokenizer.feed(&input) {}
    tokenizer.end();
    let state = tokenizer.sink.state.into_inner();
    Normalized {
        text: state.writer.finish(),
        links: state.links.links,
    }
}

#[derive(Default)]
struct TextSink {
    state: RefCell<SinkState>,
}

#[derive(Default)]
struct SinkState {
    writer: TextWriter,
    links: LinkCollector,
    /// The element whose content is being skipped, and how deeply it is nested in itself.
    skipping: Option<(LocalName, usize)>,
}

impl SinkState {
    fn tag(&mut self, tag: Tag) -> TokenSinkResult<()> {
        if let Some((skipped, depth)) = &mut self.skipping {
            if tag.name == *skipped && !tag.self_closing {
                match tag.kind {
                    TagKind::StartTag => *depth += 1,
                    TagKind::EndTag => *depth -= 1,
                }
                if *depth == 0 {
                    self.skipping = None;
                }
            }
            return TokenSinkResult::Continue;
        }
        let name: &str = &tag.name;
        if tag.kind == TagKind::StartTag {
            if SKIPPED_ELEMENTS.contains(&name) {
                if !tag.self_closing {
                    self.skipping = Some((tag.name.clone(), 1));
                }
                return raw_content_kind(name);
            }
            match name {
                "br" => self.writer.line_break(),
                "a" => {
                    if let Some(href) = tag.attrs.iter().find(|attr| &*attr.name.local == "href") {
                        self.links.add(&href.value);
                    }
                }
                "plaintext" => return TokenSinkResult::Plaintext,
                _ => {}
            }
        }
        self.writer.open_or_close(name);
        TokenSinkResult::Continue
    }
}

/// How the tokenizer must read the content of an element whose text is not markup.
fn raw_content_kind(element: &str) -> TokenSinkResult<()> {
    match element {
        "script" => TokenSinkResult::RawData(RawKind::ScriptData),
        "style" | "iframe" | "noembed" | "noframes" | "noscript" | "xmp" => {
            TokenSinkResult::RawData(RawKind::Rawtext)
        }
        "title" | "textarea" => TokenSinkResult::RawData(RawKind::Rcdata),
        _ => TokenSinkResult::Continue,
    }
}

impl TokenSink for TextSink {
    type Handle = ();

    fn process_token(&self, token: Token, _line_number: u64) -> TokenSinkResult<()> {
        let mut state = self.state.borrow_mut();
        match token {
            Token::TagToken(tag) => state.tag(tag),
            Token::CharacterTokens(text) if state.skipping.is_none() => {
                state.links.add_bare_urls(&text);
                state.writer.push_str(&text);
                TokenSinkResult::Continue
            }
            _ => TokenSinkResult::Continue,
        }
    }
}

/// Cleans text that is not HTML: strips control characters (keeping line breaks), collapses runs
/// of spaces, trims lines, keeps at most one blank line between paragraphs, and extracts bare
/// URLs as canonical links.
pub fn plain_text(text: &str) -> Normalized {
    let mut writer = TextWriter::default();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                chars.next_if_eq(&'\n');
                writer.line_break();
            }
            '\n' | '\u{2028}' | '\u{2029}' | '\u{0085}' => writer.line_break(),
            c => writer.push_char(c),
        }
    }
    let mut links = LinkCollector::default();
    links.add_bare_urls(text);
    Normalized {
        text: writer.finish(),
        links: links.links,
    }
}

/// Builds text with collapsed whitespace; line breaks requested between words are written only
/// when more text follows, so the result is trimmed.
#[derive(Default)]
struct TextWriter {
    out: String,
    pending_space: bool,
    pending_newlines: usize,
}

impl TextWriter {
    fn push_str(&mut self, text: &str) {
        for c in text.chars() {
            self.push_char(c);
        }
    }

    fn push_char(&mut self, c: char) {
        if c.is_whitespace() {
            self.pending_space = true;
            return;
        }
        if is_invisible_control(c) {
            return;
        }
        if !self.out.is_empty() {
            if self.pending_newlines > 0 {
                for _ in 0..self.pending_newlines.min(2) {
                    self.out.push('\n');
                }
            } else if self.pending_space {
                self.out.push(' ');
            }
        }
        self.pending_space = false;
        self.pending_newlines = 0;
        self.out.push(c);
    }

    fn line_break(&mut self) {
        self.pending_newlines = (self.pending_newlines + 1).min(2);
    }

    fn open_or_close(&mut self, element: &str) {
        if PARAGRAPH_ELEMENTS.contains(&element) {
            self.pending_newlines = 2;
        } else if LINE_ELEMENTS.contains(&element) {
            self.pending_newlines = self.pending_newlines.max(1);
        } else if SPACED_ELEMENTS.contains(&element) {
            self.pending_space = true;
        }
    }

    fn finish(self) -> String {
        self.out
    }
}

/// Control and invisible formatting characters that only disturb display and matching
/// (zero-width spaces, byte order marks, bidirectional overrides). Zero-width joiners stay: emoji
/// sequences need them.
fn is_invisible_control(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200B}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

#[derive(Default)]
struct LinkCollector {
    links: Vec<String>,
    seen: HashSet<String>,
}

impl LinkCollector {
    fn add(&mut self, url: &str) {
        if let Some(canonical) = canonical_url(url) {
            if self.seen.insert(canonical.clone()) {
                self.links.push(canonical);
            }
        }
    }

    fn add_bare_urls(&mut self, text: &str) {
        for url in bare_urls(text) {
            if url.len() >= 4 && url[..4].eq_ignore_ascii_case("www.") {
                self.add(&format!("https://{url}"));
            } else {
                self.add(url);
            }
        }
    }
}

/// Query parameters that only track where a click came from.
const TRACKING_PARAMETERS: &[&str] = &[
    "fbclid",
    "gclid",
    "gclsrc",
    "dclid",
    "gbraid",
    "wbraid",
    "yclid",
    "ysclid",
    "msclkid",
    "twclid",
    "ttclid",
    "li_fat_id",
    "mc_cid",
    "mc_eid",
    "igshid",
    "igsh",
    "ref_src",
    "ref_url",
    "_hsenc",
    "_hsmi",
    "__hstc",
    "__hssc",
    "__hsfp",
    "hsctatracking",
    "mkt_tok",
    "_ga",
    "_gl",
    "vero_id",
    "vero_conv",
    "oly_anon_id",
    "oly_enc_id",
    "rb_clickid",
    "s_cid",
    "wickedid",
    "srsltid",
    "_openstat",
    "cmpid",
    "zanpid",
];

/// Parameters that track sharing only on particular sites (elsewhere they may carry meaning).
fn is_site_tracking_parameter(host: &str, key: &str) -> bool {
    let host = host.strip_prefix("www.").unwrap_or(host);
    match key {
        "si" => matches!(
            host,
            "youtube.com" | "m.youtube.com" | "music.youtube.com" | "youtu.be" | "open.spotify.com"
        ),
        "feature" => matches!(host, "youtube.com" | "m.youtube.com" | "youtu.be"),
        "s" | "t" => matches!(host, "twitter.com" | "x.com" | "mobile.twitter.com"),
        _ => false,
    }
}

fn is_tracking_parameter(host: &str, key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.starts_with("utm_")
        || TRACKING_PARAMETERS.contains(&key.as_str())
        || is_site_tracking_parameter(host, &key)
}

/// The canonical form of an http(s) URL, for recognizing the same page behind different links:
/// lowercase host, no default port, no credentials, no fragment, no tracking parameters
/// (`utm_*`, `fbclid`, `gclid`, ...), the remaining parameters sorted, and no trailing slash on
/// paths other than `/`. `None` for anything that is not an absolute http(s) URL.
pub fn canonical_url(url: &str) -> Option<String> {
    let mut parsed = Url::parse(url.trim()).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return None;
    }
    let host = parsed
        .host_str()
        .filter(|host| !host.is_empty())?
        .to_owned();
    parsed.set_fragment(None);
    // Credentials never identify the page, and must not be kept or shown.
    parsed.set_username("").ok()?;
    parsed.set_password(None).ok()?;

    if let Some(query) = parsed.query() {
        let mut kept: Vec<&str> = query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .filter(|pair| {
                let key = form_urlencoded::parse(pair.as_bytes())
                    .next()
                    .map(|(key, _)| key.into_owned());
                !key.is_some_and(|key| is_tracking_parameter(&host, &key))
            })
            .collect();
        kept.sort_unstable();
        let rebuilt = (!kept.is_empty()).then(|| kept.join("&"));
        parsed.set_query(rebuilt.as_deref());
    }

    let path = parsed.path();
    if path.len() > 1 && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        let trimmed = if trimmed.is_empty() { "/" } else { trimmed }.to_owned();
        parsed.set_path(&trimmed);
    }
    Some(parsed.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_markup_scripts_and_styles() {
        let html = r#"<style>p{color:red}</style><p>Love <b>Zeltron</b>!</p><script>alert("x")</script><p>Second&nbsp;para &amp; more &lt;tags&gt;</p>"#;
        let normalized = html_to_text(html);
        assert_eq!(
            normalized.text,
            "Love Zeltron!\n\nSecond para & more <tags>"
        );
        assert!(normalized.links.is_empty());
    }

    #[test]
    fn line_breaks_and_whitespace() {
        let html = "  <div>one\n\n   two</div><div>three<br>four<br/><br><br>five</div><ul><li>a</li><li>b</li></ul>";
        assert_eq!(
            html_to_text(html).text,
            "one two\nthree\nfour\n\nfive\n\na\nb"
        );
    }

    #[test]
    fn collects_absolute_links_and_bare_urls_in_order() {
        let html = r#"<p>See <a href="https://Zeltron.com/phones/?utm_source=x&b=2&a=1#top">our <i>new <a href="/relative">phones</a></i></a>
            and https://kvantix.io/news. Also <a href="mailto:a@b.c">mail</a>, <a href="javascript:alert(1)">js</a>,
            <a href="https://zeltron.com/phones?a=1&b=2">again</a> www.noventa.bank</p>"#;
        let normalized = html_to_text(html);
        assert_eq!(
            normalized.links,
            [
                "https://zeltron.com/phones?a=1&b=2",
                "https://kvantix.io/news",
                "https://www.noventa.bank/"
            ]
        );
        assert!(normalized
            .text
            .starts_with("See our new phones and https://kvantix.io/news. Also mail, js,"));
    }

    #[test]
    fn survives_broken_markup() {
        let normalized =
            html_to_text("<p>Zeltron <b>bold <i>unclosed</p><div>next</span> &bogus; &#x1F680; <");
        assert_eq!(
            normalized.text,
            "Zeltron bold unclosed\n\nnext &bogus; 🚀 <"
        );
        assert_eq!(html_to_text("").text, "");
        assert_eq!(html_to_text("<script>only</script>").text, "");
    }

    #[test]
    fn plain_text_cleans_whitespace_and_controls() {
        let normalized = plain_text(
            "  Zeltron\u{0}\u{7}  rocks\t\tagain \r\n\r\n\r\n\n line\u{200b}two\u{202e} \n",
        );
        assert_eq!(normalized.text, "Zeltron rocks again\n\nlinetwo");
        let normalized =
            plain_text("Read https://zeltron.com/a/?fbclid=1, then https://zeltron.com/a");
        assert_eq!(normalized.links, ["https://zeltron.com/a"]);
    }

    #[test]
    fn canonical_urls() {
        let cases = [
            ("HTTPS://WWW.Zeltron.COM:443/Phones/?utm_source=tw&utm_medium=x&b=2&a=1#frag", Some("https://www.zeltron.com/Phones?a=1&b=2")),
            ("http://zeltron.com:80/", Some("http://zeltron.com/")),
            ("http://zeltron.com:8080/x", Some("http://zeltron.com:8080/x")),
            ("https://zeltron.com", Some("https://zeltron.com/")),
            ("https://zeltron.com/?gclid=1&fbclid=2&yclid=3&mc_cid=4&mc_eid=5&igshid=6&ref_src=7&_hsenc=8", Some("https://zeltron.com/")),
            ("https://www.youtube.com/watch?v=abc&si=track", Some("https://www.youtube.com/watch?v=abc")),
            ("https://youtu.be/abc?si=track", Some("https://youtu.be/abc")),
            ("https://zeltron.com/search?si=keep", Some("https://zeltron.com/search?si=keep")),
            ("https://user:pass@zeltron.com/a//", Some("https://zeltron.com/a")),
            ("https://зелтрон.рф/новости", Some("https://xn--e1adnieln.xn--p1ai/%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8")),
            ("ftp://zeltron.com/file", None),
            ("mailto:hi@zeltron.com", None),
            ("/relative/path", None),
            ("not a url", None),
            ("", None),
        ];
        for (input, expected) in cases {
            assert_eq!(canonical_url(input).as_deref(), expected, "{input:?}");
        }
    }

    #[test]
    fn huge_input_does_not_panic() {
        let huge = "<div><p>Zeltron &amp; <a href='https://zeltron.com/?utm_source=a'>link</a>"
            .repeat(20_000);
        let normalized = html_to_text(&huge);
        assert_eq!(normalized.links, ["https://zeltron.com/"]);
        assert!(normalized.text.len() > 100_000);
        let deep = "<div>".repeat(50_000) + "deep";
        assert_eq!(html_to_text(&deep).text, "deep");
    }
}
