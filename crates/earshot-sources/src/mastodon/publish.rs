//! Posting to Mastodon: `POST /api/v1/statuses` with `Authorization: Bearer` and the
//! documented `Idempotency-Key` header (the server keeps keys for an hour and answers a
//! repeated key with the status it already created).
//!
//! A reply needs the replied-to status's id on the account's own server. A mention read
//! through that server already has it; one read through another server is looked up first
//! with `GET /api/v2/search?q=URL&resolve=true&type=statuses`, which fetches it over
//! ActivityPub when the server does not know it yet.

use async_trait::async_trait;
use earshot_core::{ReplyTarget, SourceConfig};
use reqwest::header::HeaderValue;
use serde::Deserialize;

use crate::http::HttpClient;
use crate::publish::{error_for_status, PublishError, PublishRequest, Published, Publisher};
use crate::{parse_base_url, resolve_secret};

/// How long Mastodon answers a repeated `Idempotency-Key` with the status it created (an hour),
/// less five minutes of margin.
pub const MASTODON_IDEMPOTENCY_WINDOW: std::time::Duration =
    std::time::Duration::from_secs(55 * 60);

pub struct MastodonPublisher {
    account: String,
    base_url: url::Url,
    token: String,
    http: HttpClient,
}

#[derive(Debug, Deserialize)]
struct CreatedStatus {
    id: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    uri: Option<String>,
}

#[derive(Debug, Deserialize)]
struct SearchResults {
    #[serde(default)]
    statuses: Vec<FoundStatus>,
}

#[derive(Debug, Deserialize)]
struct FoundStatus {
    id: String,
}

impl MastodonPublisher {
    pub fn new(
        account: impl Into<String>,
        base_url: url::Url,
        token: impl Into<String>,
        http: HttpClient,
    ) -> MastodonPublisher {
        MastodonPublisher {
            account: account.into(),
            base_url,
            token: token.into(),
            http,
        }
    }

    pub fn from_config(
        config: &SourceConfig,
        http: HttpClient,
    ) -> Result<MastodonPublisher, PublishError> {
        let name = &config.name;
        let raw_url = config.url.as_deref().ok_or_else(|| {
            PublishError::permanent(
                name,
                "publishing to Mastodon needs `url`, the server's base URL",
            )
        })?;
        let base_url = parse_base_url(name, "url", raw_url)?;
        let token = config.token.as_deref().ok_or_else(|| {
            PublishError::permanent(
                name,
                "publishing to Mastodon needs `token`, an access token with the write:statuses scope",
            )
        })?;
        let token = resolve_secret(name, "token", token)?;
        Ok(MastodonPublisher::new(name.clone(), base_url, token, http))
    }

    fn api_url(&self, path: &[&str]) -> url::Url {
        let mut url = self.base_url.clone();
        url.path_segments_mut()
            .expect("http(s) URLs always have path segments")
            .pop_if_empty()
            .extend(path);
        url
    }

    fn is_this_server(&self, server: &str) -> bool {
        url::Url::parse(server.trim()).is_ok_and(|other| {
            other.scheme() == self.base_url.scheme()
                && other.host_str() == self.base_url.host_str()
                && other.port_or_known_default() == self.base_url.port_or_known_default()
        })
    }

    /// The id, on this account's server, of the status a reply answers.
    async fn local_status_id(&self, target: &ReplyTarget) -> Result<String, PublishError> {
        if let (Some(id), Some(server)) = (&target.external_id, &target.server) {
            if self.is_this_server(server) && !id.trim().is_empty() {
                return Ok(id.clone());
            }
        }
        let Some(url) = target.url.as_deref().filter(|u| !u.trim().is_empty()) else {
            return Err(PublishError::permanent(
                &self.account,
                "cannot reply: the mention has neither an id on this server nor a URL to look it up by",
            ));
        };
        let mut search = self.api_url(&["api", "v2", "search"]);
        search
            .query_pairs_mut()
            .append_pair("q", url)
            .append_pair("resolve", "true")
            .append_pair("type", "statuses")
            .append_pair("limit", "1");
        let request = self.http.client().get(search).bearer_auth(&self.token);
        let response = self.http.fetch(&self.account, request).await?;
        if !response.status.is_success() {
            return Err(error_for_status(
                &self.account,
                &format!("looking up {url} to reply to it"),
                &response,
            ));
        }
        let results: SearchResults = serde_json::from_slice(&response.body).map_err(|e| {
            PublishError::retryable(
                &self.account,
                format!("looking up {url}: unreadable search answer: {e}"),
            )
        })?;
        results
            .statuses
            .into_iter()
            .next()
            .map(|s| s.id)
            .ok_or_else(|| {
                PublishError::permanent(
                    &self.account,
                    format!(
                        "cannot reply: {} does not find {url} (deleted, private, or its server blocks this one); answer it elsewhere",
                        self.base_url
                    ),
                )
            })
    }
}

#[async_trait]
impl Publisher for MastodonPublisher {
    fn account(&self) -> &str {
        &self.account
    }

    /// Mastodon keeps an `Idempotency-Key` for an hour; a little less leaves room for clocks.
    fn idempotency_window(&self) -> Option<std::time::Duration> {
        Some(MASTODON_IDEMPOTENCY_WINDOW)
    }

    async fn publish(&self, request: &PublishRequest) -> Result<Published, PublishError> {
        if request.text.trim().is_empty() {
            return Err(PublishError::permanent(&self.account, "the text is empty"));
        }
        let in_reply_to_id = match &request.reply_to {
            Some(target) => Some(self.local_status_id(target).await?),
            None => None,
        };
        let mut body = serde_json::json!({
            "status": request.text,
            "visibility": "public",
        });
        if let Some(id) = in_reply_to_id {
            body["in_reply_to_id"] = id.into();
        }
        if let Some(language) = request.language.as_deref().filter(|l| !l.is_empty()) {
            body["language"] = language.into();
        }
        let key = HeaderValue::from_str(&request.idempotency_key).map_err(|_| {
            PublishError::permanent(
                &self.account,
                format!(
                    "the idempotency key {:?} cannot be sent as an HTTP header",
                    request.idempotency_key
                ),
            )
        })?;
        let post = self
            .http
            .client()
            .post(self.api_url(&["api", "v1", "statuses"]))
            .bearer_auth(&self.token)
            .header("Idempotency-Key", key)
            .json(&body);
        let response = self.http.fetch(&self.account, post).await?;
        if !response.status.is_success() {
            return Err(error_for_status(
                &self.account,
                "posting the status",
                &response,
            ));
        }
        let created: CreatedStatus = serde_json::from_slice(&response.body).map_err(|e| {
            // The server took the post but its answer is unreadable; a retry with the same
            // Idempotency-Key returns the same status, so retrying is safe.
            PublishError::retryable(
                &self.account,
                format!("posting the status: unreadable answer: {e}"),
            )
        })?;
        Ok(Published {
            remote_id: created.id,
            url: created.url.or(created.uri),
        })
    }
}
