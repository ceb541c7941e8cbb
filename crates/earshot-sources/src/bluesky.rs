//! Bluesky: post search through XRPC (`app.bsky.feed.searchPosts`, newest first), with an
//! app-password session (`com.atproto.server.createSession`, renewed through
//! `com.atproto.server.refreshSession` when the access token expires).
//!
//! The cursor remembers, per query, the newest `indexedAt` handed over and the post URIs seen
//! at exactly that instant. A poll pages back (the API's own `cursor`) until it meets posts
//! older than that, so nothing between polls is missed, up to [`MAX_PAGES_PER_QUERY`] pages.
//! Session tokens live in memory only, never in the cursor (which the store keeps in clear).

use crate::http::{check_status, error_detail, HttpClient, HttpResponse};
use crate::{parse_base_url, resolve_secret, PollOutcome, Source, SourceError};
use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use earshot_core::{Author, IncomingMention, SourceConfig};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use tokio::sync::Mutex;

pub mod publish;

pub const DEFAULT_SERVICE_URL: &str = "https://bsky.social";
/// The lexicon's maximum `limit`.
pub const PAGE_LIMIT: u32 = 100;
pub const MAX_PAGES_PER_QUERY: usize = 10;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlueskyCursor {
    #[serde(default)]
    pub queries: BTreeMap<String, QueryCursor>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryCursor {
    /// RFC 3339 `indexedAt` of the newest post handed over.
    pub newest_indexed_at: String,
    /// URIs of the posts handed over whose `indexedAt` equals `newest_indexed_at`.
    pub uris_at_newest: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Session {
    access_jwt: String,
    refresh_jwt: String,
    /// The account's DID: the repo a post is written to.
    #[serde(default)]
    pub(crate) did: String,
    #[serde(default)]
    pub(crate) handle: String,
}

#[derive(Debug, Deserialize)]
struct SearchPostsOutput {
    #[serde(default)]
    cursor: Option<String>,
    posts: Vec<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostView {
    uri: String,
    author: ProfileViewBasic,
    record: PostRecord,
    indexed_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProfileViewBasic {
    handle: String,
    #[serde(default)]
    display_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostRecord {
    #[serde(default)]
    text: String,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    langs: Vec<String>,
    #[serde(default)]
    reply: Option<ReplyRef>,
}

#[derive(Debug, Deserialize)]
struct ReplyRef {
    parent: StrongRef,
}

#[derive(Debug, Deserialize)]
struct StrongRef {
    uri: String,
}

/// An app-password session with one XRPC service, shared by reading ([`BlueskySource`]) and
/// writing ([`publish::BlueskyPublisher`]): tokens live in memory only.
pub(crate) struct XrpcSession {
    pub(crate) name: String,
    pub(crate) service_url: url::Url,
    identifier: String,
    app_password: String,
    pub(crate) http: HttpClient,
    session: Mutex<Option<Session>>,
}

impl XrpcSession {
    pub(crate) fn new(
        name: String,
        service_url: url::Url,
        identifier: String,
        app_password: String,
        http: HttpClient,
    ) -> XrpcSession {
        XrpcSession {
            name,
            service_url,
            identifier,
            app_password,
            http,
            session: Mutex::new(None),
        }
    }

    pub(crate) fn xrpc_url(&self, method: &str) -> url::Url {
        let mut url = self.service_url.clone();
        url.path_segments_mut()
            .expect("http(s) URLs always have path segments")
            .pop_if_empty()
            .extend(["xrpc", method]);
        url
    }

    async fn create_session(&self) -> Result<Session, SourceError> {
        let request = self
            .http
            .client()
            .post(self.xrpc_url("com.atproto.server.createSession"))
            .json(&serde_json::json!({
                "identifier": self.identifier,
                "password": self.app_password,
            }));
        let response = self.http.fetch(&self.name, request).await?;
        if response.status == StatusCode::BAD_REQUEST {
            // Wrong credentials, a taken-down account or a 2FA demand: all mean these
            // credentials cannot open a session.
            return Err(SourceError::Auth {
                source_name: self.name.clone(),
                message: format!("createSession refused: {}", error_detail(&response.body)),
            });
        }
        check_status(&self.name, &response)?;
        self.parse_session(&response)
    }

    async fn refresh_session(&self, refresh_jwt: &str) -> Result<Session, SourceError> {
        let request = self
            .http
            .client()
            .post(self.xrpc_url("com.atproto.server.refreshSession"))
            .bearer_auth(refresh_jwt);
        let response = self.http.fetch(&self.name, request).await?;
        check_status(&self.name, &response)?;
        if !response.status.is_success() {
            return Err(SourceError::Auth {
                source_name: self.name.clone(),
                message: format!("refreshSession answered HTTP {}", response.status),
            });
        }
        self.parse_session(&response)
    }

    fn parse_session(&self, response: &HttpResponse) -> Result<Session, SourceError> {
        serde_json::from_slice(&response.body).map_err(|e| SourceError::Malformed {
            source_name: self.name.clone(),
            message: format!("session response: {e}"),
        })
    }

    pub(crate) async fn access_token(&self) -> Result<String, SourceError> {
        let mut session = self.session.lock().await;
        if let Some(current) = session.as_ref() {
            return Ok(current.access_jwt.clone());
        }
        let created = self.create_session().await?;
        let token = created.access_jwt.clone();
        *session = Some(created);
        Ok(token)
    }

    /// Replace an expired session: refresh it, or log in again when the refresh token is no
    /// longer accepted either.
    pub(crate) async fn renew_session(&self) -> Result<String, SourceError> {
        let mut session = self.session.lock().await;
        let refreshed = match session.as_ref() {
            Some(current) => self.refresh_session(&current.refresh_jwt).await.ok(),
            None => None,
        };
        let renewed = match refreshed {
            Some(s) => s,
            None => self.create_session().await?,
        };
        let token = renewed.access_jwt.clone();
        *session = Some(renewed);
        Ok(token)
    }

    /// The open session (opening one when none is), for the account's DID and handle.
    pub(crate) async fn session(&self) -> Result<Session, SourceError> {
        self.access_token().await?;
        let session = self.session.lock().await;
        session.clone().ok_or_else(|| SourceError::Auth {
            source_name: self.name.clone(),
            message: "no session after logging in".into(),
        })
    }
}

pub struct BlueskySource {
    name: String,
    service_url: url::Url,
    queries: Vec<String>,
    http: HttpClient,
    xrpc: XrpcSession,
}

#[derive(Default)]
struct PollState {
    items: Vec<IncomingMention>,
    seen_uris: HashSet<String>,
    warnings: Vec<String>,
    rate_limit_spent: bool,
}

impl BlueskySource {
    pub fn from_config(
        config: &SourceConfig,
        http: HttpClient,
    ) -> Result<BlueskySource, SourceError> {
        let name = config.name.clone();
        let config_error = |message: &str| SourceError::Config {
            source_name: name.clone(),
            message: message.to_string(),
        };
        let identifier = config
            .identifier
            .as_deref()
            .map(str::trim)
            .filter(|i| !i.is_empty())
            .ok_or_else(|| config_error("a bluesky source needs `identifier` (handle or DID)"))?
            .to_string();
        let app_password = config
            .app_password
            .as_deref()
            .ok_or_else(|| config_error("a bluesky source needs `app_password` (or env:NAME)"))?;
        let app_password = resolve_secret(&name, "app_password", app_password)?;
        let queries: Vec<String> = config
            .search
            .iter()
            .map(|q| q.trim().to_string())
            .filter(|q| !q.is_empty())
            .collect();
        if queries.is_empty() {
            return Err(config_error(
                "a bluesky source needs at least one `search` query",
            ));
        }
        let service_url = parse_base_url(
            &name,
            "url",
            config.url.as_deref().unwrap_or(DEFAULT_SERVICE_URL),
        )?;
        Ok(BlueskySource {
            xrpc: XrpcSession::new(
                name.clone(),
                service_url.clone(),
                identifier,
                app_password,
                http.clone(),
            ),
            name,
            service_url,
            queries,
            http,
        })
    }

    async fn authorized_get(
        &self,
        url: &url::Url,
        state: &mut PollState,
    ) -> Result<HttpResponse, SourceError> {
        let token = self.xrpc.access_token().await?;
        let mut response = self
            .http
            .fetch(
                &self.name,
                self.http.client().get(url.clone()).bearer_auth(token),
            )
            .await?;
        if is_expired_token(&response) {
            let token = self.xrpc.renew_session().await?;
            response = self
                .http
                .fetch(
                    &self.name,
                    self.http.client().get(url.clone()).bearer_auth(token),
                )
                .await?;
        }
        if response.header("ratelimit-remaining").map(str::trim) == Some("0") {
            state.rate_limit_spent = true;
            let reset = response
                .header("ratelimit-reset")
                .and_then(|v| v.trim().parse::<i64>().ok())
                .and_then(|secs| DateTime::<Utc>::from_timestamp(secs, 0))
                .map_or_else(|| "an unknown time".to_string(), |t| t.to_rfc3339());
            state.warnings.push(format!(
                "{}: rate limit of {} requests used up; it resets at {reset}, the rest waits for the next poll",
                self.service_url,
                response.header("ratelimit-limit").unwrap_or("?")
            ));
        }
        Ok(response)
    }

    async fn poll_query(
        &self,
        query: &str,
        known: Option<&QueryCursor>,
        state: &mut PollState,
    ) -> Result<Option<QueryCursor>, SourceError> {
        let known_newest = match known {
            Some(k) => {
                Some(
                    parse_time(&k.newest_indexed_at).ok_or_else(|| SourceError::Config {
                        source_name: self.name.clone(),
                        message: format!(
                            "stored cursor for {query:?} has a bad time {:?}; reset it",
                            k.newest_indexed_at
                        ),
                    })?,
                )
            }
            None => None,
        };
        let known_uris: HashSet<&str> = known
            .map(|k| k.uris_at_newest.iter().map(String::as_str).collect())
            .unwrap_or_default();
        let mut newest = known_newest.map(|t| {
            (
                t,
                known.map(|k| k.uris_at_newest.clone()).unwrap_or_default(),
            )
        });
        let mut api_cursor: Option<String> = None;
        for page in 0.. {
            if state.rate_limit_spent {
                break;
            }
            if page == MAX_PAGES_PER_QUERY {
                state.warnings.push(format!(
                    "{}: more than {MAX_PAGES_PER_QUERY} pages of new posts for {query:?}; older ones among them were not read",
                    self.service_url
                ));
                break;
            }
            let mut url = self.xrpc.xrpc_url("app.bsky.feed.searchPosts");
            url.query_pairs_mut()
                .append_pair("q", query)
                .append_pair("sort", "latest")
                .append_pair("limit", &PAGE_LIMIT.to_string());
            if let Some(c) = &api_cursor {
                url.query_pairs_mut().append_pair("cursor", c);
            }
            let response = self.authorized_get(&url, state).await?;
            check_status(&self.name, &response)?;
            let output: SearchPostsOutput =
                serde_json::from_slice(&response.body).map_err(|e| SourceError::Malformed {
                    source_name: self.name.clone(),
                    message: format!("searchPosts for {query:?}: {e}"),
                })?;
            let mut reached_known = false;
            for raw in output.posts {
                let post = match serde_json::from_value::<PostView>(raw) {
                    Ok(post) => post,
                    Err(e) => {
                        state
                            .warnings
                            .push(format!("searchPosts for {query:?}: skipped a post: {e}"));
                        continue;
                    }
                };
                if let Some(known_time) = known_newest {
                    if post.indexed_at < known_time
                        || (post.indexed_at == known_time && known_uris.contains(post.uri.as_str()))
                    {
                        reached_known = true;
                        continue;
                    }
                }
                match &mut newest {
                    Some((time, uris)) if post.indexed_at == *time => uris.push(post.uri.clone()),
                    Some((time, _)) if post.indexed_at < *time => {}
                    _ => newest = Some((post.indexed_at, vec![post.uri.clone()])),
                }
                if state.seen_uris.insert(post.uri.clone()) {
                    state.items.push(self.post_to_mention(post));
                }
            }
            // The first poll takes the latest page only: no backfill.
            if known.is_none() || reached_known {
                break;
            }
            match output.cursor {
                Some(next) if !next.is_empty() => api_cursor = Some(next),
                _ => break,
            }
        }
        Ok(newest.map(|(time, uris)| QueryCursor {
            newest_indexed_at: time.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            uris_at_newest: uris,
        }))
    }

    fn post_to_mention(&self, post: PostView) -> IncomingMention {
        let rkey = post.uri.rsplit('/').next().unwrap_or_default().to_string();
        let handle = post.author.handle;
        let published_at = post
            .record
            .created_at
            .as_deref()
            .and_then(parse_time)
            .unwrap_or(post.indexed_at);
        IncomingMention {
            source: self.name.clone(),
            external_id: Some(post.uri.clone()),
            url: Some(format!("https://bsky.app/profile/{handle}/post/{rkey}")),
            title: None,
            text: post.record.text,
            is_html: false,
            published_at,
            author: Some(Author {
                url: Some(format!("https://bsky.app/profile/{handle}")),
                handle: Some(handle),
                name: post.author.display_name.filter(|n| !n.trim().is_empty()),
                followers: None,
            }),
            lang: post
                .record
                .langs
                .into_iter()
                .next()
                .filter(|l| !l.is_empty()),
            in_reply_to: post.record.reply.map(|r| r.parent.uri),
        }
    }
}

fn parse_time(value: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// XRPC reports an expired access token as `{"error": "ExpiredToken"}`, with 400 (the
/// reference PDS) or 401.
pub(crate) fn is_expired_token(response: &HttpResponse) -> bool {
    (response.status == StatusCode::BAD_REQUEST || response.status == StatusCode::UNAUTHORIZED)
        && serde_json::from_slice::<serde_json::Value>(&response.body)
            .ok()
            .and_then(|v| {
                v.get("error")
                    .and_then(|e| e.as_str())
                    .map(|e| e == "ExpiredToken")
            })
            .unwrap_or(false)
}

#[async_trait]
impl Source for BlueskySource {
    fn name(&self) -> &str {
        &self.name
    }

    async fn poll(&self, cursor: Option<&str>) -> Result<PollOutcome, SourceError> {
        let previous: BlueskyCursor = match cursor {
            None => BlueskyCursor::default(),
            Some(raw) => serde_json::from_str(raw).map_err(|e| SourceError::Config {
                source_name: self.name.clone(),
                message: format!("stored cursor is not a bluesky cursor ({e}); reset it"),
            })?,
        };
        let mut next = previous.clone();
        let mut state = PollState::default();
        for query in &self.queries {
            if state.rate_limit_spent {
                break;
            }
            let items_before = state.items.len();
            match self
                .poll_query(query, previous.queries.get(query), &mut state)
                .await
            {
                Ok(Some(cursor)) => {
                    next.queries.insert(query.clone(), cursor);
                }
                Ok(None) => {}
                // Keep what earlier queries brought; this query's posts from this poll are
                // dropped and its cursor stays put, so the next poll reads them again.
                Err(SourceError::RateLimited { retry_after, .. }) if items_before > 0 => {
                    state.items.truncate(items_before);
                    state.warnings.push(format!(
                        "{}: rate limited; retry after {} s, the rest waits for the next poll",
                        self.service_url,
                        retry_after.as_secs()
                    ));
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(PollOutcome {
            items: state.items,
            cursor: Some(serde_json::to_string(&next).expect("a bluesky cursor always serializes")),
            warnings: state.warnings,
        })
    }
}
