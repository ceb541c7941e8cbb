//! View models: everything a template shows, prepared by the handlers so the templates only
//! lay it out. Values stay raw text here; the templates escape them on output.

use chrono::{DateTime, Utc};
use earshot_core::{Config, Mention, SourceState};
use serde::Serialize;
use utoipa::ToSchema;

use crate::i18n::{Tr, UiLang};

/// Characters of mention text shown in the stream; the detail page shows all of it.
const CARD_TEXT_CHARS: usize = 700;

/// `Some(url)` only for an absolute http(s) URL, so `javascript:` and friends never become
/// links. The URL comes back normalized (the parser percent-encodes what needs it).
pub fn safe_href(raw: &str) -> Option<String> {
    let parsed = url::Url::parse(raw.trim()).ok()?;
    matches!(parsed.scheme(), "http" | "https").then(|| parsed.to_string())
}

/// Dates everywhere on the pages: UTC, to the minute.
pub fn show_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// Machine-readable time for `<time datetime=..>`.
pub fn iso_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A piece of text that may be a link: `href` is set only when it is safe to follow.
#[derive(Debug, Clone)]
pub struct MaybeLink {
    pub text: String,
    pub href: Option<String>,
}

impl MaybeLink {
    pub fn new(text: &str) -> Self {
        MaybeLink {
            text: text.to_string(),
            href: safe_href(text),
        }
    }
}

/// One mention in the stream (and in a live-update fragment).
#[derive(Debug, Clone)]
pub struct MentionCard {
    pub id: i64,
    pub author_label: Option<String>,
    pub author_handle: Option<String>,
    pub author_href: Option<String>,
    pub source: String,
    pub published: String,
    pub published_iso: String,
    pub lang: String,
    pub brands: Vec<String>,
    pub title: Option<String>,
    pub text: String,
    pub link: Option<String>,
    pub duplicate_of: Option<i64>,
}

impl MentionCard {
    pub fn new(m: &Mention) -> Self {
        let author = m.author.clone().unwrap_or_default();
        // Show the name when there is one, and the handle beside it only when it adds something.
        let author_label = author.name.clone().or_else(|| author.handle.clone());
        let author_handle = author
            .handle
            .clone()
            .filter(|h| author.name.is_some() && !h.is_empty());
        MentionCard {
            id: m.id.0,
            author_label,
            author_handle,
            author_href: author.url.as_deref().and_then(safe_href),
            source: m.source.clone(),
            published: show_time(m.published_at),
            published_iso: iso_time(m.published_at),
            lang: m.lang.clone(),
            brands: m.brands.clone(),
            title: m.title.clone().filter(|t| !t.trim().is_empty()),
            text: shorten(&m.text, CARD_TEXT_CHARS),
            link: m
                .url
                .as_deref()
                .and_then(safe_href)
                .or_else(|| m.canonical_url.as_deref().and_then(safe_href)),
            duplicate_of: m.duplicate_of.map(|d| d.0),
        }
    }
}

fn shorten(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        None => text.to_string(),
        Some((cut, _)) => format!("{}…", text[..cut].trim_end()),
    }
}

/// Everything about one mention, for its own page.
#[derive(Debug, Clone)]
pub struct MentionDetail {
    pub card: MentionCard,
    pub full_text: String,
    pub external_id: Option<String>,
    pub url: Option<MaybeLink>,
    pub canonical_url: Option<MaybeLink>,
    pub links: Vec<MaybeLink>,
    pub fetched: String,
    pub author_name: Option<String>,
    pub author_handle: Option<String>,
    pub author_url: Option<MaybeLink>,
    pub author_followers: Option<u64>,
    pub in_reply_to: Option<MaybeLink>,
    pub fingerprint: String,
}

impl MentionDetail {
    pub fn new(m: &Mention) -> Self {
        let author = m.author.clone().unwrap_or_default();
        MentionDetail {
            card: MentionCard::new(m),
            full_text: m.text.clone(),
            external_id: m.external_id.clone(),
            url: m.url.as_deref().map(MaybeLink::new),
            canonical_url: m.canonical_url.as_deref().map(MaybeLink::new),
            links: m.links.iter().map(|l| MaybeLink::new(l)).collect(),
            fetched: show_time(m.fetched_at),
            author_name: author.name,
            author_handle: author.handle,
            author_url: author.url.as_deref().map(MaybeLink::new),
            author_followers: author.followers,
            in_reply_to: m.in_reply_to.as_deref().map(MaybeLink::new),
            fingerprint: format!("{:016x}", m.fingerprint),
        }
    }
}

/// A configured source (or one the store knows from imports) and how it is doing.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SourceInfo {
    pub name: String,
    /// `feed`, `mastodon` or `bluesky`; absent for names only the store knows (imports,
    /// removed sources).
    pub kind: Option<String>,
    /// The source's address with any user name or password taken out.
    pub url: Option<String>,
    pub interval_secs: Option<u64>,
    pub configured: bool,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub items_seen: u64,
    pub items_stored: u64,
}

/// Configured sources first, in configuration order, then the rest the store has state for.
/// Credentials (tokens, app passwords) are never part of this.
pub fn collect_sources(config: &Config, states: &[SourceState]) -> Vec<SourceInfo> {
    let blank = |name: &str| SourceInfo {
        name: name.to_string(),
        kind: None,
        url: None,
        interval_secs: None,
        configured: false,
        last_success_at: None,
        last_error_at: None,
        last_error: None,
        items_seen: 0,
        items_stored: 0,
    };
    let with_state = |mut info: SourceInfo| {
        if let Some(state) = states.iter().find(|s| s.name == info.name) {
            let h = &state.health;
            info.last_success_at = h.last_success_at;
            info.last_error_at = h.last_error_at;
            info.last_error = h.last_error.clone();
            info.items_seen = h.items_seen;
            info.items_stored = h.items_stored;
        }
        info
    };
    let mut out: Vec<SourceInfo> = config
        .sources
        .iter()
        .map(|s| {
            with_state(SourceInfo {
                kind: Some(s.kind.to_string()),
                url: s.url.as_deref().map(without_credentials),
                interval_secs: Some(s.interval_secs),
                configured: true,
                ..blank(&s.name)
            })
        })
        .collect();
    for state in states {
        if !config.sources.iter().any(|s| s.name == state.name) {
            out.push(with_state(blank(&state.name)));
        }
    }
    out
}

fn without_credentials(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut parsed) => {
            // Both calls only fail for URLs that cannot carry credentials at all.
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        Err(_) => raw.to_string(),
    }
}

/// A source row as the page shows it.
#[derive(Debug, Clone)]
pub struct SourceRow {
    pub info: SourceInfo,
    pub url_href: Option<String>,
    pub last_success: Option<String>,
    pub last_error_at: Option<String>,
}

impl SourceRow {
    pub fn new(info: SourceInfo) -> Self {
        SourceRow {
            url_href: info.url.as_deref().and_then(safe_href),
            last_success: info.last_success_at.map(show_time),
            last_error_at: info.last_error_at.map(show_time),
            info,
        }
    }
}

/// A brand and the queries that find it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BrandInfo {
    pub name: String,
    pub competitor: bool,
    pub queries: Vec<String>,
}

pub fn collect_brands(config: &Config) -> Vec<BrandInfo> {
    config
        .brands
        .iter()
        .map(|b| BrandInfo {
            name: b.name.clone(),
            competitor: b.competitor,
            queries: b.queries.clone(),
        })
        .collect()
}

/// One option of a filter's drop-down.
#[derive(Debug, Clone)]
pub struct SelectOption {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// Options from the known values, keeping the current value even when it is not among them
/// (so the form never silently drops a filter the URL carries).
pub fn select_options(known: Vec<String>, current: Option<&str>) -> Vec<SelectOption> {
    let mut values = known;
    if let Some(current) = current {
        if !values.iter().any(|v| v == current) {
            values.push(current.to_string());
        }
    }
    values.sort();
    values.dedup();
    values
        .into_iter()
        .map(|value| SelectOption {
            selected: current == Some(value.as_str()),
            label: value.clone(),
            value,
        })
        .collect()
}

/// A link in the language switcher.
#[derive(Debug, Clone)]
pub struct LangSwitch {
    pub code: &'static str,
    pub name: &'static str,
    pub href: String,
    pub current: bool,
}

/// What the shared layout needs.
#[derive(Debug, Clone)]
pub struct Layout {
    pub lang_code: &'static str,
    pub title: String,
    pub active: &'static str,
    pub switches: Vec<LangSwitch>,
    /// Who is signed in, for the header and its logout form.
    pub user: Option<LayoutUser>,
}

/// The signed-in user as the header shows them (escaped on output like everything else).
#[derive(Debug, Clone)]
pub struct LayoutUser {
    pub label: String,
    pub role: &'static str,
    /// The CSRF token for the logout form; empty for bearer-token requests (no forms).
    pub csrf: String,
}

impl Layout {
    /// `path` and `query` are the current request's, so switching language keeps the page
    /// and its filters.
    pub fn new(
        tr: Tr,
        title: String,
        active: &'static str,
        path: &str,
        query: Option<&str>,
    ) -> Self {
        let kept: Vec<(String, String)> = query
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .filter(|(k, _)| k != crate::i18n::UI_LANG_PARAM)
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let switches = UiLang::ALL
            .into_iter()
            .map(|lang| {
                let mut qs = url::form_urlencoded::Serializer::new(String::new());
                qs.extend_pairs(kept.iter());
                qs.append_pair(crate::i18n::UI_LANG_PARAM, lang.code());
                LangSwitch {
                    code: lang.code(),
                    name: lang.native_name(),
                    href: format!("{path}?{}", qs.finish()),
                    current: lang == tr.lang,
                }
            })
            .collect();
        Layout {
            lang_code: tr.lang.code(),
            title,
            active,
            switches,
            user: None,
        }
    }

    pub fn with_user(mut self, signed_in: &crate::auth::SignedIn) -> Self {
        self.user = Some(LayoutUser {
            label: signed_in.user.label().to_string(),
            role: signed_in.user.role.as_str(),
            csrf: signed_in.csrf().unwrap_or_default().to_string(),
        });
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_and_https_become_links() {
        assert_eq!(
            safe_href("https://example.com/a?b=c"),
            Some("https://example.com/a?b=c".into())
        );
        assert_eq!(
            safe_href(" http://example.com "),
            Some("http://example.com/".into())
        );
        for bad in [
            "javascript:alert(1)",
            " JavaScript:alert(1)",
            "java\tscript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:msgbox(1)",
            "//evil.example/x",
            "/relative",
            "\"><img src=x onerror=alert(1)>",
        ] {
            assert_eq!(safe_href(bad), None, "{bad:?} must not become a link");
        }
    }

    #[test]
    fn shortening_cuts_on_a_character_boundary() {
        assert_eq!(shorten("Зелтрон", 3), "Зел…");
        assert_eq!(shorten("short", 10), "short");
    }

    #[test]
    fn credentials_are_removed_from_source_addresses() {
        assert_eq!(
            without_credentials("https://user:secret@example.com/feed.xml"),
            "https://example.com/feed.xml"
        );
    }

    #[test]
    fn the_switcher_keeps_the_filters_and_replaces_the_language() {
        let layout = Layout::new(
            Tr::new(UiLang::Ru),
            "x".into(),
            "mentions",
            "/mentions",
            Some("q=a+b&lang=ru&language=el"),
        );
        let en = &layout.switches[0];
        assert_eq!(en.href, "/mentions?q=a+b&language=el&lang=en");
        assert!(!en.current);
        assert!(layout.switches[1].current);
    }
}
