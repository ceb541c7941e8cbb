use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::analysis::{Analysis, Corrections};

/// Store-assigned identifier of a mention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MentionId(pub i64);

impl std::fmt::Display for MentionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Who wrote a mention, as far as the network tells us.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub followers: Option<u64>,
}

impl Author {
    pub fn is_empty(&self) -> bool {
        self.handle.is_none()
            && self.name.is_none()
            && self.url.is_none()
            && self.followers.is_none()
    }
}

/// An item as a source or an import file hands it over: not yet normalized, maybe HTML.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingMention {
    /// Name of the configured source (or of the import file's `source` field).
    pub source: String,
    /// The network's own id of the item, when it has one.
    pub external_id: Option<String>,
    pub url: Option<String>,
    pub title: Option<String>,
    /// Body text; HTML when `is_html` is set.
    pub text: String,
    pub is_html: bool,
    pub published_at: DateTime<Utc>,
    pub author: Option<Author>,
    /// Language declared by the network or the file, if any (BCP-47-ish, e.g. "ru").
    pub lang: Option<String>,
    /// External id or URL of the item this one answers.
    pub in_reply_to: Option<String>,
}

/// A normalized mention, ready to be stored. Produced by the pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMention {
    pub source: String,
    pub external_id: Option<String>,
    pub url: Option<String>,
    pub canonical_url: Option<String>,
    pub title: Option<String>,
    /// Plain text: no markup survives normalization.
    pub text: String,
    pub links: Vec<String>,
    pub published_at: DateTime<Utc>,
    pub author: Option<Author>,
    /// ISO 639-1 code, or "und" when the text is too short to tell.
    pub lang: String,
    pub in_reply_to: Option<String>,
    /// Names of the brands whose queries matched.
    pub brands: Vec<String>,
    /// 64-bit SimHash of the folded text, for near-duplicate detection.
    pub fingerprint: u64,
    /// The earlier mention this one copies or reposts, when the pipeline found one.
    pub duplicate_of: Option<MentionId>,
    /// Sentiment, offensive language, spam, intents; `None` when the pipeline runs without an
    /// analyzer.
    pub analysis: Option<Analysis>,
}

/// A stored mention.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mention {
    pub id: MentionId,
    pub source: String,
    pub external_id: Option<String>,
    pub url: Option<String>,
    pub canonical_url: Option<String>,
    pub title: Option<String>,
    pub text: String,
    pub links: Vec<String>,
    pub published_at: DateTime<Utc>,
    pub fetched_at: DateTime<Utc>,
    pub author: Option<Author>,
    pub lang: String,
    pub in_reply_to: Option<String>,
    pub brands: Vec<String>,
    pub fingerprint: u64,
    pub duplicate_of: Option<MentionId>,
    /// What the models and rules said when the mention was stored.
    #[serde(default)]
    pub analysis: Option<Analysis>,
    /// What people corrected; shown instead of the model's labels (see [`Mention::shown_labels`]).
    #[serde(default, skip_serializing_if = "Corrections::is_empty")]
    pub corrections: Corrections,
}

impl Mention {
    /// The labels to display: corrections first, then the model's.
    pub fn shown_labels(&self) -> crate::analysis::ShownLabels {
        crate::analysis::ShownLabels::new(self.analysis.as_ref(), &self.corrections)
    }
}

/// One line of the JSON Lines interchange format (`earshot import` / `earshot export`).
///
/// Required: `text`, `published_at`, and `url` or both `source` and `external_id`.
/// Export adds the fields Earshot computed (`id`, `canonical_url`, `links`, `brands`, ...);
/// import accepts and ignores them, so an export imports into a new workspace unchanged. That
/// includes `analysis` and `corrections`: an import analyses every line again with the models
/// of the importing workspace.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InterchangeMention {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<MentionId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub published_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<Author>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<String>,
    // Fields Earshot adds on export.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canonical_url: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub brands: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<MentionId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetched_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<Analysis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrections: Option<Corrections>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InterchangeError {
    #[error("missing required field `{0}`")]
    MissingField(&'static str),
    #[error("`published_at` is not an RFC 3339 timestamp: {0:?}")]
    BadTimestamp(String),
    #[error("needs `url`, or both `source` and `external_id`, to identify the mention")]
    NoIdentity,
}

impl InterchangeMention {
    /// Validate a line and turn it into an incoming mention. `default_source` names the
    /// source when the line has a `url` but no `source` (e.g. the import file's name).
    pub fn into_incoming(self, default_source: &str) -> Result<IncomingMention, InterchangeError> {
        let text = self.text.ok_or(InterchangeError::MissingField("text"))?;
        let published_raw = self
            .published_at
            .ok_or(InterchangeError::MissingField("published_at"))?;
        let published_at = DateTime::parse_from_rfc3339(published_raw.trim())
            .map_err(|_| InterchangeError::BadTimestamp(published_raw.clone()))?
            .with_timezone(&Utc);
        let has_url = self.url.as_deref().is_some_and(|u| !u.trim().is_empty());
        let has_pair = self.source.as_deref().is_some_and(|s| !s.is_empty())
            && self.external_id.as_deref().is_some_and(|s| !s.is_empty());
        if !has_url && !has_pair {
            return Err(InterchangeError::NoIdentity);
        }
        Ok(IncomingMention {
            source: self
                .source
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| default_source.to_string()),
            external_id: self.external_id.filter(|s| !s.is_empty()),
            url: self.url.filter(|u| !u.trim().is_empty()),
            title: self.title,
            // Interchange text may carry markup from whatever produced it; normalize as HTML
            // only when it looks like markup, so a literal "<3" in plain text survives.
            is_html: looks_like_html(&text),
            text,
            published_at,
            author: self.author.filter(|a| !a.is_empty()),
            lang: self.lang.filter(|l| !l.is_empty()),
            in_reply_to: self.in_reply_to,
        })
    }
}

/// True when the text contains something that parses as an HTML tag or entity.
pub fn looks_like_html(text: &str) -> bool {
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'<' => {
                let rest = &bytes[i + 1..];
                let rest = rest.strip_prefix(b"/").unwrap_or(rest);
                if rest.first().is_some_and(|c| c.is_ascii_alphabetic()) {
                    return true;
                }
            }
            b'&' => {
                let rest = &bytes[i + 1..];
                let end = rest.iter().take(10).position(|&c| c == b';');
                if let Some(end) = end {
                    let name = &rest[..end];
                    if !name.is_empty()
                        && (name.iter().all(|c| c.is_ascii_alphanumeric()) || name[0] == b'#')
                    {
                        return true;
                    }
                }
            }
            _ => {}
        }
    }
    false
}

impl From<&Mention> for InterchangeMention {
    fn from(m: &Mention) -> Self {
        InterchangeMention {
            id: Some(m.id),
            source: Some(m.source.clone()),
            external_id: m.external_id.clone(),
            url: m.url.clone(),
            title: m.title.clone(),
            text: Some(m.text.clone()),
            published_at: Some(m.published_at.to_rfc3339()),
            author: m.author.clone(),
            lang: Some(m.lang.clone()),
            in_reply_to: m.in_reply_to.clone(),
            canonical_url: m.canonical_url.clone(),
            links: m.links.clone(),
            brands: m.brands.clone(),
            duplicate_of: m.duplicate_of,
            fetched_at: Some(m.fetched_at.to_rfc3339()),
            analysis: m.analysis.clone(),
            corrections: (!m.corrections.is_empty()).then(|| m.corrections.clone()),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SortOrder {
    /// Newest `published_at` first.
    #[default]
    Newest,
    /// Best full-text match first (falls back to newest without a query).
    Relevance,
}

/// Filters shared by `earshot search`, `earshot export`, `/api/mentions` and `/mentions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MentionFilter {
    /// Full-text query in Earshot's query language (see `earshot-text`).
    pub query: Option<String>,
    pub brand: Option<String>,
    pub lang: Option<String>,
    pub source: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Leave out mentions linked to an earlier one as copies/reposts.
    pub hide_duplicates: bool,
    /// Only this sentiment (`negative`, `neutral`, `positive`), corrections counting first.
    #[serde(default)]
    pub sentiment: Option<String>,
    /// Only mentions with this intent (`complaint`, `question`, ...), corrections counting first.
    #[serde(default)]
    pub intent: Option<String>,
    /// Leave out mentions labelled spam.
    #[serde(default)]
    pub hide_spam: bool,
}

impl MentionFilter {
    /// Whether the filter needs the analysis (which lives in the database, not the search index).
    pub fn filters_analysis(&self) -> bool {
        self.sentiment.is_some() || self.intent.is_some() || self.hide_spam
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(json: &str) -> Result<IncomingMention, InterchangeError> {
        serde_json::from_str::<InterchangeMention>(json)
            .unwrap()
            .into_incoming("file.jsonl")
    }

    #[test]
    fn interchange_requires_text_timestamp_and_identity() {
        assert_eq!(
            line(r#"{"published_at":"2026-01-01T00:00:00Z","url":"https://x"}"#),
            Err(InterchangeError::MissingField("text"))
        );
        assert_eq!(
            line(r#"{"text":"hi","url":"https://x"}"#),
            Err(InterchangeError::MissingField("published_at"))
        );
        assert_eq!(
            line(r#"{"text":"hi","published_at":"yesterday","url":"https://x"}"#),
            Err(InterchangeError::BadTimestamp("yesterday".into()))
        );
        assert_eq!(
            line(r#"{"text":"hi","published_at":"2026-01-01T00:00:00Z","source":"x"}"#),
            Err(InterchangeError::NoIdentity)
        );
        let ok = line(r#"{"text":"<b>hi</b>","published_at":"2026-01-01T03:00:00+03:00","source":"vk","external_id":"1"}"#).unwrap();
        assert_eq!(ok.source, "vk");
        assert!(ok.is_html);
        assert_eq!(ok.published_at.to_rfc3339(), "2026-01-01T00:00:00+00:00");
        let url_only =
            line(r#"{"text":"I <3 it","published_at":"2026-01-01T00:00:00Z","url":"https://x/1"}"#)
                .unwrap();
        assert_eq!(url_only.source, "file.jsonl");
        assert!(!url_only.is_html);
    }

    #[test]
    fn html_detection_needs_a_real_tag_or_entity() {
        assert!(looks_like_html("<p>hi</p>"));
        assert!(looks_like_html("a &amp; b"));
        assert!(looks_like_html("a &#39; b"));
        assert!(!looks_like_html("2 < 3 & 4 > 1"));
        assert!(!looks_like_html("I <3 you & me;"));
    }
}
