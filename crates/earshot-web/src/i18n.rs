//! Interface text in English and Russian, and choosing between them per request.
//!
//! The catalogues are TOML files compiled into the binary; nested tables become dotted keys
//! (`[nav] mentions = ".."` is `nav.mentions`). A key missing from a catalogue falls back to
//! English, and a key missing from English shows as itself, so a gap is visible, not fatal.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::http::{header, HeaderMap, HeaderValue};

/// A language the interface is translated into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UiLang {
    #[default]
    En,
    Ru,
}

impl UiLang {
    pub const ALL: [UiLang; 2] = [UiLang::En, UiLang::Ru];

    pub fn code(self) -> &'static str {
        match self {
            UiLang::En => "en",
            UiLang::Ru => "ru",
        }
    }

    /// Accepts a bare code or a regional tag (`ru-RU`), case-insensitively.
    pub fn from_tag(tag: &str) -> Option<UiLang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(UiLang::En),
            "ru" => Some(UiLang::Ru),
            _ => None,
        }
    }

    /// The language's own name, for the switcher (never translated, so a reader who cannot
    /// read the current language still finds theirs).
    pub fn native_name(self) -> &'static str {
        match self {
            UiLang::En => "English",
            UiLang::Ru => "Русский",
        }
    }
}

pub(crate) const EN_SOURCE: &str = include_str!("../locales/en.toml");
pub(crate) const RU_SOURCE: &str = include_str!("../locales/ru.toml");

static EN: LazyLock<HashMap<String, String>> = LazyLock::new(|| load_catalogue("en", EN_SOURCE));
static RU: LazyLock<HashMap<String, String>> = LazyLock::new(|| load_catalogue("ru", RU_SOURCE));

fn load_catalogue(name: &str, source: &str) -> HashMap<String, String> {
    match parse_catalogue(source) {
        Ok(map) => map,
        Err(error) => {
            // A broken catalogue must not take the server down; the keys show instead and
            // the unit tests catch it before release.
            tracing::error!("message catalogue locales/{name}.toml is not valid: {error}");
            HashMap::new()
        }
    }
}

/// Parse a catalogue into dotted keys. Public to the crate for the catalogue tests.
pub(crate) fn parse_catalogue(source: &str) -> Result<HashMap<String, String>, String> {
    let table: toml::Table = toml::from_str(source).map_err(|e| e.to_string())?;
    let mut out = HashMap::new();
    flatten("", &table, &mut out)?;
    Ok(out)
}

fn flatten(
    prefix: &str,
    table: &toml::Table,
    out: &mut HashMap<String, String>,
) -> Result<(), String> {
    for (key, value) in table {
        let full = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::String(text) => {
                out.insert(full, text.clone());
            }
            toml::Value::Table(inner) => flatten(&full, inner, out)?,
            other => {
                return Err(format!(
                    "`{full}` must be a string, found {}",
                    other.type_str()
                ))
            }
        }
    }
    Ok(())
}

/// Looks up interface text in one language. Cheap to copy into every view model.
#[derive(Debug, Clone, Copy)]
pub struct Tr {
    pub lang: UiLang,
}

impl Tr {
    pub fn new(lang: UiLang) -> Self {
        Tr { lang }
    }

    /// The text for `key`, in English when this language lacks it, or the key itself.
    pub fn t(&self, key: &'static str) -> &'static str {
        let own: &'static HashMap<String, String> = match self.lang {
            UiLang::En => &EN,
            UiLang::Ru => &RU,
        };
        let english: &'static HashMap<String, String> = &EN;
        own.get(key)
            .or_else(|| english.get(key))
            .map(String::as_str)
            .unwrap_or(key)
    }
}

pub(crate) const LANG_COOKIE: &str = "lang";
pub(crate) const UI_LANG_PARAM: &str = "lang";

/// The interface language for a request and whether the response must remember it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    pub lang: UiLang,
    /// Set when `?lang=` chose it: the response sets the cookie so the choice sticks.
    pub remember: bool,
}

/// `?lang=` beats the `lang` cookie, which beats `Accept-Language`, which beats English.
pub fn negotiate(query: Option<&str>, headers: &HeaderMap) -> Negotiated {
    let from_query = query.and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == UI_LANG_PARAM)
            .and_then(|(_, v)| UiLang::from_tag(&v))
    });
    if let Some(lang) = from_query {
        return Negotiated {
            lang,
            remember: true,
        };
    }
    let lang = cookie_lang(headers)
        .or_else(|| accept_language(headers))
        .unwrap_or_default();
    Negotiated {
        lang,
        remember: false,
    }
}

fn cookie_lang(headers: &HeaderMap) -> Option<UiLang> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.split_once('='))
        .find(|(name, _)| name.trim() == LANG_COOKIE)
        .and_then(|(_, value)| UiLang::from_tag(value.trim().trim_matches('"')))
}

/// The supported language with the highest q-value; on a tie the one listed first wins.
fn accept_language(headers: &HeaderMap) -> Option<UiLang> {
    let mut best: Option<(UiLang, f32)> = None;
    for value in headers
        .get_all(header::ACCEPT_LANGUAGE)
        .iter()
        .filter_map(|v| v.to_str().ok())
    {
        for item in value.split(',') {
            let mut parts = item.split(';');
            let Some(lang) = parts.next().and_then(UiLang::from_tag) else {
                continue;
            };
            let quality = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if quality > 0.0 && best.is_none_or(|(_, q)| quality > q) {
                best = Some((lang, quality));
            }
        }
    }
    best.map(|(lang, _)| lang)
}

/// The `Set-Cookie` value that remembers a chosen language for a year.
pub(crate) fn remember_cookie(lang: UiLang) -> HeaderValue {
    HeaderValue::from_static(match lang {
        UiLang::En => "lang=en; Path=/; Max-Age=31536000; SameSite=Lax",
        UiLang::Ru => "lang=ru; Path=/; Max-Age=31536000; SameSite=Lax",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn both_catalogues_parse_and_have_the_same_keys() {
        let en = parse_catalogue(EN_SOURCE).expect("en.toml parses");
        let ru = parse_catalogue(RU_SOURCE).expect("ru.toml parses");
        let en_keys: BTreeSet<_> = en.keys().collect();
        let ru_keys: BTreeSet<_> = ru.keys().collect();
        let only_en: Vec<_> = en_keys.difference(&ru_keys).collect();
        let only_ru: Vec<_> = ru_keys.difference(&en_keys).collect();
        assert!(only_en.is_empty(), "missing in ru.toml: {only_en:?}");
        assert!(only_ru.is_empty(), "missing in en.toml: {only_ru:?}");
        assert!(
            en.len() > 20,
            "catalogue looks truncated: {} keys",
            en.len()
        );
        assert!(en.values().chain(ru.values()).all(|v| !v.trim().is_empty()));
    }

    #[test]
    fn every_key_used_in_the_code_and_templates_exists() {
        let en = parse_catalogue(EN_SOURCE).unwrap();
        let sources = [
            include_str!("../templates/layout.html"),
            include_str!("../templates/mentions.html"),
            include_str!("../templates/card.html"),
            include_str!("../templates/mention.html"),
            include_str!("../templates/sources.html"),
            include_str!("../templates/brands.html"),
            include_str!("../templates/error.html"),
            include_str!("../templates/brand.html"),
            include_str!("../templates/maybe_link.html"),
            include_str!("pages.rs"),
            include_str!("live.rs"),
            include_str!("../templates/inbox.html"),
            include_str!("../templates/inbox_row.html"),
            include_str!("../templates/inbox_help.html"),
            include_str!("../templates/conversation.html"),
            include_str!("../templates/feedback.html"),
            include_str!("../templates/inbox_metrics.html"),
            include_str!("inbox/pages.rs"),
            include_str!("inbox/view.rs"),
        ];
        let mut missing = Vec::new();
        for source in sources {
            for (start, _) in source.match_indices(".t(\"") {
                let rest = &source[start + 4..];
                let Some(end) = rest.find('"') else { continue };
                let key = &rest[..end];
                if !en.contains_key(key) {
                    missing.push(key.to_string());
                }
            }
        }
        assert!(
            missing.is_empty(),
            "keys used but not in en.toml: {missing:?}"
        );
    }

    #[test]
    fn lookup_falls_back_to_english_then_to_the_key() {
        assert_eq!(Tr::new(UiLang::Ru).t("nav.mentions"), "Упоминания");
        assert_eq!(Tr::new(UiLang::En).t("nav.mentions"), "Mentions");
        assert_eq!(Tr::new(UiLang::Ru).t("no.such.key"), "no.such.key");
    }

    #[test]
    fn query_beats_cookie_beats_accept_language() {
        let h = headers(&[
            ("cookie", "theme=dark; lang=ru"),
            ("accept-language", "en-US,en;q=0.9"),
        ]);
        assert_eq!(
            negotiate(Some("q=x&lang=en"), &h),
            Negotiated {
                lang: UiLang::En,
                remember: true
            }
        );
        assert_eq!(
            negotiate(Some("q=x"), &h),
            Negotiated {
                lang: UiLang::Ru,
                remember: false
            }
        );
        let h = headers(&[("accept-language", "de-DE, en;q=0.5, ru;q=0.8")]);
        assert_eq!(negotiate(None, &h).lang, UiLang::Ru);
        let h = headers(&[("accept-language", "ru;q=0, en;q=0.1")]);
        assert_eq!(negotiate(None, &h).lang, UiLang::En);
        let h = headers(&[("accept-language", "fr, de")]);
        assert_eq!(negotiate(None, &h).lang, UiLang::En);
        // An unknown `?lang=` is ignored rather than forced to English.
        let h = headers(&[("cookie", "lang=ru")]);
        assert_eq!(negotiate(Some("lang=xx"), &h).lang, UiLang::Ru);
    }
}
