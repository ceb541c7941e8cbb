//! Mastodon: hashtag timelines (`GET /api/v1/timelines/tag/:hashtag`) and status search
//! (`GET /api/v2/search?type=statuses`), per <https://docs.joinmastodon.org/methods/>.
//!
//! Paging follows the documented scheme: results come newest first; `min_id` asks for the
//! page immediately newer than an id, and the `Link` header's `rel="prev"` points at the
//! next newer page. The first poll of a hashtag or term takes only the latest page (no
//! backfill); later polls walk forward from the remembered newest id until a page comes back
//! empty, so nothing is missed even when more arrived than one poll reads.
//!
//! `external_id` is the status `id` on the configured server, not its ActivityPub `uri`:
//! `in_reply_to_id` is in the same id space, so replies link up, and a mention's identity is
//! (source, external_id) anyway. Copies of one status seen through two servers share their
//! `url`, which the pipeline's canonical-URL dedup catches.

use crate::http::{check_status, HttpClient, HttpResponse};
use crate::{parse_base_url, resolve_secret, PollOutcome, Source, SourceError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use earshot_core::{Author, IncomingMention, SourceConfig};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashSet};

pub mod publish;

/// The documented maximum of `limit` for both endpoints.
pub const PAGE_LIMIT: u32 = 40;
/// Pages read per hashtag or term in one poll; the cursor carries on from there next time.
pub const MAX_PAGES_PER_STREAM: usize = 10;

/// The newest status id handed over, per hashtag and per search term.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MastodonCursor {
    #[serde(default)]
    pub hashtags: BTreeMap<String, String>,
    #[serde(default)]
    pub search: BTreeMap<String, String>,
}

pub struct MastodonSource {
    name: String,
    base_url: url::Url,
    hashtags: Vec<String>,
    search: Vec<String>,
    token: Option<String>,
    http: HttpClient,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StreamKind {
    Hashtag,
    Search,
}

/// The part of the Status entity we read. `reblog` holds the boosted status.
#[derive(Debug, Deserialize)]
struct Status {
    id: String,
    uri: String,
    created_at: DateTime<Utc>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    content: String,
    #[serde(default)]
    spoiler_text: String,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    in_reply_to_id: Option<String>,
    account: Account,
    #[serde(default)]
    reblog: Option<Box<Status>>,
}

#[derive(Debug, Deserialize)]
struct Account {
    acct: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    followers_count: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct SearchResults {
    statuses: Vec<serde_json::Value>,
}

/// What the poll learned about the server's rate limit; once spent, no more requests.
#[derive(Debug, Default)]
struct PollState {
    items: Vec<IncomingMention>,
    seen_ids: HashSet<String>,
    warnings: Vec<String>,
    rate_limit_spent: bool,
}

impl MastodonSource {
    pub fn from_config(
        config: &SourceConfig,
        http: HttpClient,
    ) -> Result<MastodonSource, SourceError> {
        let name = config.name.clone();
        let raw_url = config.url.as_deref().ok_or_else(|| SourceError::Config {
            source_name: name.clone(),
            message: "a mastodon source needs `url`, the server's base URL".into(),
        })?;
        let base_url = parse_base_url(&name, "url", raw_url)?;
        let hashtags: Vec<String> = config
            .hashtags
            .iter()
            .map(|tag| tag.trim().trim_start_matches('#').to_string())
            .filter(|tag| !tag.is_empty())
            .collect();
        let search: Vec<String> = config
            .search
            .iter()
            .map(|term| term.trim().to_string())
            .filter(|term| !term.is_empty())
            .collect();
        if hashtags.is_empty() && search.is_empty() {
            return Err(SourceError::Config {
                source_name: name,
                message: "a mastodon source needs at least one of `hashtags` or `search`".into(),
            });
        }
        let token = match config.token.as_deref() {
            Some(raw) => Some(resolve_secret(&name, "token", raw)?),
            None => None,
        };
        Ok(MastodonSource {
            name,
            base_url,
            hashtags,
            search,
            token,
            http,
        })
    }

    fn endpoint(&self, kind: StreamKind, key: &str) -> url::Url {
        let mut url = self.base_url.clone();
        {
            let mut segments = url
                .path_segments_mut()
                .expect("http(s) URLs always have path segments");
            segments.pop_if_empty();
            match kind {
                StreamKind::Hashtag => segments.extend(["api", "v1", "timelines", "tag", key]),
                StreamKind::Search => segments.extend(["api", "v2", "search"]),
            };
        }
        {
            let mut query = url.query_pairs_mut();
            if kind == StreamKind::Search {
                query.append_pair("q", key).append_pair("type", "statuses");
            }
            query.append_pair("limit", &PAGE_LIMIT.to_string());
        }
        url
    }

    fn with_min_id(&self, kind: StreamKind, key: &str, min_id: &str) -> url::Url {
        let mut url = self.endpoint(kind, key);
        url.query_pairs_mut().append_pair("min_id", min_id);
        url
    }

    async fn get(&self, url: url::Url, state: &mut PollState) -> Result<HttpResponse, SourceError> {
        let mut request = self.http.client().get(url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = self.http.fetch(&self.name, request).await?;
        if response.header("x-ratelimit-remaining").map(str::trim) == Some("0") {
            state.rate_limit_spent = true;
            let reset = response
                .header("x-ratelimit-reset")
                .unwrap_or("an unknown time");
            state.warnings.push(format!(
                "{}: rate limit of {} requests used up; it resets at {reset}, the rest waits for the next poll",
                self.base_url,
                response.header("x-ratelimit-limit").unwrap_or("?"),
            ));
        }
        Ok(response)
    }

    /// Read one hashtag or term; returns the newest status id now handed over (or the one it
    /// started from).
    async fn poll_stream(
        &self,
        kind: StreamKind,
        key: &str,
        since: Option<&str>,
        state: &mut PollState,
    ) -> Result<Option<String>, SourceError> {
        let mut newest = since.map(str::to_string);
        let mut next_url = Some(match since {
            Some(id) => self.with_min_id(kind, key, id),
            None => self.endpoint(kind, key),
        });
        let mut pages = 0;
        while let Some(url) = next_url.take() {
            if state.rate_limit_spent {
                break;
            }
            if pages == MAX_PAGES_PER_STREAM {
                state.warnings.push(format!(
                    "{}: more new statuses for {key:?} than {MAX_PAGES_PER_STREAM} pages; the rest comes next poll",
                    self.base_url
                ));
                break;
            }
            pages += 1;
            let response = self.get(url.clone(), state).await?;
            check_status(&self.name, &response)?;
            let page = self.parse_page(kind, &response, &url)?;
            if page.is_empty() {
                break;
            }
            let mut page_newest: Option<String> = None;
            for raw in page {
                let id = raw.get("id").and_then(|v| v.as_str()).map(str::to_string);
                match serde_json::from_value::<Status>(raw) {
                    Ok(status) => {
                        let mention = self.status_to_mention(status);
                        let key = mention.external_id.clone().unwrap_or_default();
                        if state.seen_ids.insert(key) {
                            state.items.push(mention);
                        }
                    }
                    Err(e) => state.warnings.push(format!(
                        "{url}: skipped status {}: {e}",
                        id.as_deref().unwrap_or("without id")
                    )),
                }
                if let Some(id) = id {
                    if page_newest
                        .as_deref()
                        .is_none_or(|n| compare_ids(&id, n) == Ordering::Greater)
                    {
                        page_newest = Some(id);
                    }
                }
            }
            let Some(page_newest) = page_newest else {
                break;
            };
            if newest
                .as_deref()
                .is_none_or(|n| compare_ids(&page_newest, n) == Ordering::Greater)
            {
                newest = Some(page_newest.clone());
            }
            // The first poll takes the latest page only: no backfill.
            if since.is_none() {
                break;
            }
            next_url = match kind {
                StreamKind::Hashtag => match link_url(&response, "prev") {
                    Some(prev) if prev.origin() == self.base_url.origin() => Some(prev),
                    Some(_) => Some(self.with_min_id(kind, key, &page_newest)),
                    // Without a prev link the server says there is nothing newer.
                    None => None,
                },
                StreamKind::Search => Some(self.with_min_id(kind, key, &page_newest)),
            };
        }
        Ok(newest)
    }

    fn parse_page(
        &self,
        kind: StreamKind,
        response: &HttpResponse,
        url: &url::Url,
    ) -> Result<Vec<serde_json::Value>, SourceError> {
        let malformed = |e: serde_json::Error| SourceError::Malformed {
            source_name: self.name.clone(),
            message: format!("{url}: {e}"),
        };
        match kind {
            StreamKind::Hashtag => serde_json::from_slice(&response.body).map_err(malformed),
            StreamKind::Search => serde_json::from_slice::<SearchResults>(&response.body)
                .map(|r| r.statuses)
                .map_err(malformed),
        }
    }

    fn status_to_mention(&self, status: Status) -> IncomingMention {
        let status = match status.reblog {
            Some(original) => *original,
            None => status,
        };
        let account = status.account;
        IncomingMention {
            source: self.name.clone(),
            external_id: Some(status.id),
            url: status.url.filter(|u| !u.is_empty()).or(Some(status.uri)),
            title: Some(status.spoiler_text).filter(|s| !s.trim().is_empty()),
            text: status.content,
            is_html: true,
            published_at: status.created_at,
            author: Some(Author {
                handle: Some(account.acct),
                name: Some(account.display_name).filter(|n| !n.trim().is_empty()),
                url: account.url,
                followers: account.followers_count,
            }),
            lang: status.language.filter(|l| !l.is_empty()),
            in_reply_to: status.in_reply_to_id,
        }
    }
}

#[async_trait]
impl Source for MastodonSource {
    fn name(&self) -> &str {
        &self.name
    }

    async fn poll(&self, cursor: Option<&str>) -> Result<PollOutcome, SourceError> {
        let previous: MastodonCursor = match cursor {
            None => MastodonCursor::default(),
            Some(raw) => serde_json::from_str(raw).map_err(|e| SourceError::Config {
                source_name: self.name.clone(),
                message: format!("stored cursor is not a mastodon cursor ({e}); reset it"),
            })?,
        };
        let mut next = previous.clone();
        let mut state = PollState::default();
        let streams = self
            .hashtags
            .iter()
            .map(|tag| (StreamKind::Hashtag, tag))
            .chain(self.search.iter().map(|term| (StreamKind::Search, term)));
        for (kind, key) in streams {
            if state.rate_limit_spent {
                break;
            }
            let remembered = match kind {
                StreamKind::Hashtag => &previous.hashtags,
                StreamKind::Search => &previous.search,
            };
            let since = remembered.get(key).map(String::as_str);
            let items_before = state.items.len();
            match self.poll_stream(kind, key, since, &mut state).await {
                Ok(Some(newest)) => {
                    let slot = match kind {
                        StreamKind::Hashtag => &mut next.hashtags,
                        StreamKind::Search => &mut next.search,
                    };
                    slot.insert(key.clone(), newest);
                }
                Ok(None) => {}
                // Keep what earlier streams brought; this stream's statuses from this poll
                // are dropped and its cursor stays put, so the next poll reads them again.
                Err(SourceError::RateLimited { retry_after, .. }) if items_before > 0 => {
                    state.items.truncate(items_before);
                    state.warnings.push(format!(
                        "{}: rate limited (HTTP {}); retry after {} s, the rest waits for the next poll",
                        self.base_url,
                        StatusCode::TOO_MANY_REQUESTS.as_u16(),
                        retry_after.as_secs()
                    ));
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(PollOutcome {
            items: state.items,
            cursor: Some(
                serde_json::to_string(&next).expect("a mastodon cursor always serializes"),
            ),
            warnings: state.warnings,
        })
    }
}

/// Mastodon ids are numeric strings of growing length; compare them as numbers without
/// assuming they fit any integer type.
fn compare_ids(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// The URL of the `Link` header entry with the given `rel` (RFC 8288, as Mastodon sends it:
/// `<https://...>; rel="next", <https://...>; rel="prev"`).
fn link_url(response: &HttpResponse, rel: &str) -> Option<url::Url> {
    let header = response.header("link")?;
    header.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let matches = params.split(';').any(|param| {
            param
                .trim()
                .strip_prefix("rel=")
                .map(|value| value.trim_matches('"'))
                .is_some_and(|value| value.split_whitespace().any(|r| r == rel))
        });
        if matches {
            url::Url::parse(target).ok()
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_compare_as_numbers() {
        assert_eq!(compare_ids("110000000000000010", "99"), Ordering::Greater);
        assert_eq!(compare_ids("103", "104"), Ordering::Less);
        assert_eq!(compare_ids("7", "7"), Ordering::Equal);
    }

    #[test]
    fn link_header_entries_are_found_by_rel() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            "link",
            "<https://m.example/api/v1/timelines/tag/cats?max_id=1>; rel=\"next\", <https://m.example/api/v1/timelines/tag/cats?min_id=9>; rel=\"prev\""
                .parse()
                .unwrap(),
        );
        let response = HttpResponse {
            status: StatusCode::OK,
            headers,
            body: Vec::new(),
        };
        assert_eq!(
            link_url(&response, "prev").unwrap().as_str(),
            "https://m.example/api/v1/timelines/tag/cats?min_id=9"
        );
        assert_eq!(
            link_url(&response, "next").unwrap().query(),
            Some("max_id=1")
        );
        assert!(link_url(&response, "last").is_none());
    }
}
