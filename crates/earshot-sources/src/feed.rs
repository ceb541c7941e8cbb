//! RSS 0.9x/1.0/2.0, Atom and JSON Feed, parsed by `feed-rs`.
//!
//! The cursor remembers the validators of the last response (`ETag`, `Last-Modified`) for a
//! conditional GET, and the ids of the entries already handed over, because a feed is a
//! sliding window: the same entries come back on every poll until they scroll off.

use crate::http::{check_status, excerpt, HttpClient, HttpResponse};
use crate::{parse_base_url, PollOutcome, Source, SourceError};
use async_trait::async_trait;
use chrono::Utc;
use earshot_core::{Author, IncomingMention, SourceConfig};
use feed_rs::model::{Entry, Feed, Link};
use reqwest::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashSet;

/// How many entry ids the cursor remembers. Ids present in the latest response are always
/// kept, so only a feed with more entries than this in one response could repeat one.
pub const MAX_REMEMBERED_IDS: usize = 2_000;

/// Comment feeds fetched per poll, at most: one per post, newest posts first.
pub const MAX_COMMENT_FEEDS_PER_POLL: usize = 20;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FeedCursor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    /// Ids of entries (posts and comments) already returned, most recent first.
    #[serde(default)]
    pub seen: Vec<String>,
}

pub struct FeedSource {
    name: String,
    url: url::Url,
    follow_comments: bool,
    http: HttpClient,
}

impl FeedSource {
    pub fn from_config(config: &SourceConfig, http: HttpClient) -> Result<FeedSource, SourceError> {
        let raw_url = config.url.as_deref().ok_or_else(|| SourceError::Config {
            source_name: config.name.clone(),
            message: "a feed source needs `url`".into(),
        })?;
        Ok(FeedSource {
            name: config.name.clone(),
            url: parse_base_url(&config.name, "url", raw_url)?,
            follow_comments: config.follow_comments,
            http,
        })
    }

    fn parse_cursor(&self, cursor: Option<&str>) -> Result<FeedCursor, SourceError> {
        match cursor {
            None => Ok(FeedCursor::default()),
            Some(raw) => serde_json::from_str(raw).map_err(|e| SourceError::Config {
                source_name: self.name.clone(),
                message: format!("stored cursor is not a feed cursor ({e}); reset it"),
            }),
        }
    }

    async fn fetch_comment_feed(
        &self,
        post_id: &str,
        comment_url: &str,
    ) -> Result<Vec<IncomingMention>, String> {
        let url = self
            .url
            .join(comment_url)
            .map_err(|e| format!("comment feed URL {comment_url:?} is invalid: {e}"))?;
        let request = self.http.client().get(url.clone());
        let response = self
            .http
            .fetch(&self.name, request)
            .await
            .map_err(|e| format!("comment feed {url}: {e}"))?;
        check_status(&self.name, &response).map_err(|e| format!("comment feed {url}: {e}"))?;
        let mut ignored_warnings = Vec::new();
        let feed = parse_feed(&response, &url, &mut ignored_warnings)
            .map_err(|e| format!("comment feed {url}: {e}"))?;
        Ok(feed
            .entries
            .iter()
            .map(|entry| {
                let mut mention = entry_to_mention(&self.name, entry);
                mention.in_reply_to = Some(post_id.to_string());
                mention
            })
            .collect())
    }
}

#[async_trait]
impl Source for FeedSource {
    fn name(&self) -> &str {
        &self.name
    }

    async fn poll(&self, cursor: Option<&str>) -> Result<PollOutcome, SourceError> {
        let previous = self.parse_cursor(cursor)?;
        let mut request = self.http.client().get(self.url.clone());
        if let Some(etag) = &previous.etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        if let Some(last_modified) = &previous.last_modified {
            request = request.header(IF_MODIFIED_SINCE, last_modified);
        }
        let response = self.http.fetch(&self.name, request).await?;
        check_status(&self.name, &response)?;
        if response.status == StatusCode::NOT_MODIFIED {
            return Ok(PollOutcome {
                items: Vec::new(),
                cursor: cursor.map(str::to_string),
                warnings: Vec::new(),
            });
        }
        let mut warnings = Vec::new();
        let feed = parse_feed(&response, &self.url, &mut warnings).map_err(|message| {
            SourceError::Malformed {
                source_name: self.name.clone(),
                message: format!("{}: {message}", self.url),
            }
        })?;

        let already_seen: HashSet<&str> = previous.seen.iter().map(String::as_str).collect();
        let mut current_ids: Vec<String> = Vec::new();
        let mut items = Vec::new();
        for entry in &feed.entries {
            current_ids.push(entry.id.clone());
            if !already_seen.contains(entry.id.as_str()) {
                items.push(entry_to_mention(&self.name, entry));
            }
        }

        if self.follow_comments {
            let comment_feeds = comment_feed_links(&response.body, &feed);
            if comment_feeds.len() > MAX_COMMENT_FEEDS_PER_POLL {
                warnings.push(format!(
                    "{}: {} posts advertise comment feeds; read the first {MAX_COMMENT_FEEDS_PER_POLL}",
                    self.url,
                    comment_feeds.len()
                ));
            }
            for (post_id, comment_url) in comment_feeds.iter().take(MAX_COMMENT_FEEDS_PER_POLL) {
                match self.fetch_comment_feed(post_id, comment_url).await {
                    Ok(comments) => {
                        for comment in comments {
                            let id = comment.external_id.clone().unwrap_or_default();
                            current_ids.push(id.clone());
                            if !already_seen.contains(id.as_str()) {
                                items.push(comment);
                            }
                        }
                    }
                    Err(warning) => warnings.push(warning),
                }
            }
        }

        let next = FeedCursor {
            etag: response.header(ETAG.as_str()).map(str::to_string),
            last_modified: response.header(LAST_MODIFIED.as_str()).map(str::to_string),
            seen: remember_ids(current_ids, previous.seen),
        };
        Ok(PollOutcome {
            items,
            cursor: Some(serde_json::to_string(&next).expect("a feed cursor always serializes")),
            warnings,
        })
    }
}

/// Ids of this response first (they must not repeat next time), then older ones, deduplicated
/// and bounded.
fn remember_ids(current: Vec<String>, previous: Vec<String>) -> Vec<String> {
    let mut kept = HashSet::new();
    let mut remembered = Vec::new();
    for id in current {
        if kept.insert(id.clone()) {
            remembered.push(id);
        }
    }
    for id in previous {
        if remembered.len() >= MAX_REMEMBERED_IDS {
            break;
        }
        if kept.insert(id.clone()) {
            remembered.push(id);
        }
    }
    remembered
}

/// Parse a feed; a feed that claims UTF-8 but holds invalid bytes is read with those bytes
/// replaced by U+FFFD (and a warning) rather than lost whole for one bad byte.
fn parse_feed(
    response: &HttpResponse,
    url: &url::Url,
    warnings: &mut Vec<String>,
) -> Result<Feed, String> {
    match parse_feed_bytes(&response.body, url) {
        Ok(feed) => Ok(feed),
        Err(error) => {
            let claims_utf8 = declared_xml_encoding(&response.body)
                .is_none_or(|e| e.eq_ignore_ascii_case("utf-8") || e.eq_ignore_ascii_case("utf8"));
            if claims_utf8 && std::str::from_utf8(&response.body).is_err() {
                let repaired = String::from_utf8_lossy(&response.body);
                if let Ok(feed) = parse_feed_bytes(repaired.as_bytes(), url) {
                    warnings.push(format!(
                        "{url}: the feed holds invalid UTF-8 bytes; they were replaced with U+FFFD"
                    ));
                    return Ok(feed);
                }
            }
            Err(describe_parse_error(response, &error))
        }
    }
}

/// The `encoding` of an XML declaration, if the document starts with one.
fn declared_xml_encoding(body: &[u8]) -> Option<String> {
    let head = String::from_utf8_lossy(&body[..body.len().min(200)]);
    let declaration = &head[head.find("<?xml")?..];
    let declaration = &declaration[..declaration.find("?>")?];
    let after = &declaration[declaration.find("encoding")? + "encoding".len()..];
    let after = after.trim_start().strip_prefix('=')?.trim_start();
    let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &after[1..];
    Some(value[..value.find(quote)?].to_string())
}

fn parse_feed_bytes(body: &[u8], url: &url::Url) -> Result<Feed, feed_rs::parser::ParseFeedError> {
    let mut feed = feed_rs::parser::Builder::new()
        .base_uri(Some(url.as_str()))
        // The default falls back to a random UUID for entries without link or title, which
        // would make such an entry new on every poll; an empty id is filled in below from
        // the entry's content instead.
        .id_generator(
            |links: &[Link], title, _base| match (links.first(), title) {
                (None, None) => String::new(),
                (link, title) => {
                    let mut hasher = Sha256::new();
                    hasher.update(link.map(|l| l.href.as_str()).unwrap_or_default());
                    hasher.update([0]);
                    hasher.update(
                        title
                            .as_ref()
                            .map(|t| t.content.as_str())
                            .unwrap_or_default(),
                    );
                    format!("sha256:{}", hex::encode(hasher.finalize()))
                }
            },
        )
        .build()
        .parse(body)?;
    for entry in &mut feed.entries {
        if entry.id.is_empty() {
            let mut hasher = Sha256::new();
            hasher.update(entry_body(entry).unwrap_or_default());
            entry.id = format!("sha256:{}", hex::encode(hasher.finalize()));
        }
    }
    Ok(feed)
}

fn describe_parse_error(
    response: &HttpResponse,
    error: &feed_rs::parser::ParseFeedError,
) -> String {
    let content_type = response.header("content-type").unwrap_or("");
    let start = String::from_utf8_lossy(&response.body[..response.body.len().min(512)])
        .trim_start()
        .to_ascii_lowercase();
    if content_type.contains("text/html")
        || start.starts_with("<!doctype html")
        || start.starts_with("<html")
    {
        format!(
            "the server sent an HTML page, not a feed (feed-rs: {error}); page starts: {}",
            excerpt(&response.body)
        )
    } else {
        format!("not a valid feed: feed-rs: {error}")
    }
}

fn entry_body(entry: &Entry) -> Option<&str> {
    entry
        .content
        .as_ref()
        .and_then(|c| c.body.as_deref())
        .filter(|b| !b.trim().is_empty())
        .or_else(|| {
            entry
                .summary
                .as_ref()
                .map(|s| s.content.as_str())
                .filter(|s| !s.trim().is_empty())
        })
}

fn entry_to_mention(source_name: &str, entry: &Entry) -> IncomingMention {
    let url = entry
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|rel| rel == "alternate"))
        .or_else(|| entry.links.first())
        .map(|l| l.href.clone());
    let author = entry.authors.first().map(|person| Author {
        handle: None,
        name: Some(person.name.trim().to_string()).filter(|n| !n.is_empty()),
        url: person.uri.clone(),
        followers: None,
    });
    IncomingMention {
        source: source_name.to_string(),
        external_id: Some(entry.id.clone()),
        url,
        title: entry.title.as_ref().map(|t| t.content.trim().to_string()),
        text: entry_body(entry).unwrap_or_default().to_string(),
        // feed-rs hands over HTML (escaped or CDATA) as it was in the feed.
        is_html: true,
        published_at: entry.published.or(entry.updated).unwrap_or_else(Utc::now),
        author: author.filter(|a| !a.is_empty()),
        lang: None,
        in_reply_to: None,
    }
}

/// Pairs (post id, comment feed URL) from `<wfw:commentRss>` in RSS items, which feed-rs does
/// not expose. Items are matched to feed-rs entries by `<guid>`, else by `<link>`.
fn comment_feed_links(raw: &[u8], feed: &Feed) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for item in xml_elements(raw, b"item") {
        let Some(comment_url) = first_child_text(item, b"commentRss") else {
            continue;
        };
        let guid = first_child_text(item, b"guid");
        let link = first_child_text(item, b"link");
        let entry = feed.entries.iter().find(|entry| {
            guid.as_deref() == Some(entry.id.as_str())
                || link
                    .as_deref()
                    .is_some_and(|link| entry.links.iter().any(|l| l.href == link))
        });
        if let Some(entry) = entry {
            pairs.push((entry.id.clone(), comment_url));
        }
    }
    pairs
}

/// The inner bytes of every element whose local name (any namespace prefix) is `name`.
/// Enough for RSS items, which do not nest; CDATA sections are skipped over whole so markup
/// inside them is never mistaken for elements.
fn xml_elements<'a>(raw: &'a [u8], name: &[u8]) -> Vec<&'a [u8]> {
    let mut found = Vec::new();
    let mut position = 0;
    while let Some(start_tag_end) = find_start_tag(raw, position, name) {
        if raw[start_tag_end - 2] == b'/' {
            position = start_tag_end;
            continue;
        }
        match find_end_tag(raw, start_tag_end, name) {
            Some((content_end, after)) => {
                found.push(&raw[start_tag_end..content_end]);
                position = after;
            }
            None => break,
        }
    }
    found
}

/// Finds `<name ...>` or `<prefix:name ...>` from `from`; returns the index after its `>`.
fn find_start_tag(raw: &[u8], from: usize, name: &[u8]) -> Option<usize> {
    let mut i = from;
    while i < raw.len() {
        let lt = i + raw[i..].iter().position(|&b| b == b'<')?;
        let rest = &raw[lt + 1..];
        if rest.starts_with(b"![CDATA[") {
            i = lt + 1 + find_bytes(rest, b"]]>")? + 3;
            continue;
        }
        if rest.starts_with(b"!--") {
            i = lt + 1 + find_bytes(rest, b"-->")? + 3;
            continue;
        }
        let tag_name_len = rest
            .iter()
            .position(|&b| b.is_ascii_whitespace() || b == b'>' || b == b'/')
            .unwrap_or(rest.len());
        let tag_name = &rest[..tag_name_len];
        let local = match tag_name.iter().rposition(|&b| b == b':') {
            Some(colon) => &tag_name[colon + 1..],
            None => tag_name,
        };
        if local == name && !tag_name.starts_with(b"/") {
            let gt = lt + 1 + rest.iter().position(|&b| b == b'>')?;
            return Some(gt + 1);
        }
        i = lt + 1;
    }
    None
}

/// Finds the next `</name>` or `</prefix:name>` after `from`;
/// returns (index of `<`, index after `>`).
fn find_end_tag(raw: &[u8], from: usize, name: &[u8]) -> Option<(usize, usize)> {
    let mut i = from;
    while i < raw.len() {
        let lt = i + raw[i..].iter().position(|&b| b == b'<')?;
        let rest = &raw[lt + 1..];
        if rest.starts_with(b"![CDATA[") {
            i = lt + 1 + find_bytes(rest, b"]]>")? + 3;
            continue;
        }
        if let Some(closing) = rest.strip_prefix(b"/") {
            let tag_name_len = closing
                .iter()
                .position(|&b| b.is_ascii_whitespace() || b == b'>')
                .unwrap_or(closing.len());
            let tag_name = &closing[..tag_name_len];
            let local = match tag_name.iter().rposition(|&b| b == b':') {
                Some(colon) => &tag_name[colon + 1..],
                None => tag_name,
            };
            if local == name {
                let gt = lt + 1 + rest.iter().position(|&b| b == b'>')?;
                return Some((lt, gt + 1));
            }
        }
        i = lt + 1;
    }
    None
}

fn find_bytes(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Text of the first child element called `name`: CDATA unwrapped, the XML entities a URL or
/// guid may carry decoded, whitespace trimmed. Feeds put only ASCII in these (URLs, guids),
/// so the document's declared encoding does not matter here.
fn first_child_text(item: &[u8], name: &[u8]) -> Option<String> {
    let inner = *xml_elements(item, name).first()?;
    let text = String::from_utf8_lossy(inner);
    let text = text.trim();
    let text = match text
        .strip_prefix("<![CDATA[")
        .and_then(|t| t.strip_suffix("]]>"))
    {
        Some(cdata) => cdata.to_string(),
        None => text
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&#38;", "&")
            .replace("&amp;", "&"),
    };
    let text = text.trim().to_string();
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_declaration_encoding_is_read() {
        assert_eq!(
            declared_xml_encoding(b"<?xml version=\"1.0\" encoding=\"windows-1251\"?><rss/>")
                .as_deref(),
            Some("windows-1251")
        );
        assert_eq!(
            declared_xml_encoding(b"<?xml version='1.0' encoding = 'UTF-8' ?>").as_deref(),
            Some("UTF-8")
        );
        assert_eq!(
            declared_xml_encoding(b"<?xml version=\"1.0\"?><rss/>"),
            None
        );
        assert_eq!(
            declared_xml_encoding(b"{\"version\": \"https://jsonfeed.org/version/1.1\"}"),
            None
        );
    }

    #[test]
    fn scanner_finds_prefixed_elements_and_ignores_cdata_markup() {
        let raw = br#"<rss><channel>
            <item><title>A</title><description><![CDATA[<item>fake</item>]]></description>
              <guid isPermaLink="false">https://blog.example/?p=1</guid>
              <wfw:commentRss>https://blog.example/a/feed/?x=1&amp;y=2</wfw:commentRss></item>
            <item><link>https://blog.example/b</link><x:commentRss><![CDATA[ https://blog.example/b/feed ]]></x:commentRss></item>
            <itemize>not an item</itemize>
        </channel></rss>"#;
        let items = xml_elements(raw, b"item");
        assert_eq!(items.len(), 2);
        assert_eq!(
            first_child_text(items[0], b"commentRss").as_deref(),
            Some("https://blog.example/a/feed/?x=1&y=2")
        );
        assert_eq!(
            first_child_text(items[0], b"guid").as_deref(),
            Some("https://blog.example/?p=1")
        );
        assert_eq!(
            first_child_text(items[1], b"commentRss").as_deref(),
            Some("https://blog.example/b/feed")
        );
        assert_eq!(first_child_text(items[1], b"guid"), None);
    }

    #[test]
    fn remembered_ids_keep_the_current_response_and_stay_bounded() {
        let previous: Vec<String> = (0..MAX_REMEMBERED_IDS).map(|i| format!("old{i}")).collect();
        let current = vec!["new1".to_string(), "old5".to_string(), "new1".to_string()];
        let kept = remember_ids(current, previous);
        assert_eq!(kept.len(), MAX_REMEMBERED_IDS);
        assert_eq!(&kept[..3], &["new1", "old5", "old0"]);
        assert!(!kept.contains(&format!("old{}", MAX_REMEMBERED_IDS - 1)));
    }
}
