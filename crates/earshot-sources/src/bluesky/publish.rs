//! Posting to Bluesky: `com.atproto.repo.createRecord` of an `app.bsky.feed.post` in the
//! account's repo, with the session the source uses (`createSession`, `ExpiredToken` →
//! `refreshSession`).
//!
//! A reply carries strong references (uri + cid) to its parent and to the thread's root:
//! both come from `app.bsky.feed.getPosts` on the parent (the root is the parent's own
//! `reply.root`, or the parent itself when it starts the thread).
//!
//! XRPC has no idempotency header. The record key is a TID derived from the idempotency key
//! ([`tid_for`]), so a retried post targets the same record: the publisher first asks
//! `com.atproto.repo.getRecord` whether it exists (then it was published, and the answer was
//! lost), and if `createRecord` still reports a conflict — the reference PDS answers a taken
//! record key with a 500 today, newer lexicons name it — it asks again before deciding.

use async_trait::async_trait;
use chrono::SecondsFormat;
use earshot_core::{ReplyTarget, SourceConfig};
use reqwest::{RequestBuilder, StatusCode};
use serde::Deserialize;
use unicode_segmentation::UnicodeSegmentation;

use super::{is_expired_token, XrpcSession, DEFAULT_SERVICE_URL};
use crate::http::{HttpClient, HttpResponse};
use crate::publish::{
    error_for_status, tid_for, PublishError, PublishRequest, Published, Publisher,
};
use crate::{parse_base_url, resolve_secret};

/// The lexicon's `maxGraphemes` for a post's text.
pub const MAX_GRAPHEMES: usize = 300;
const POST_COLLECTION: &str = "app.bsky.feed.post";

pub struct BlueskyPublisher {
    account: String,
    xrpc: XrpcSession,
}

#[derive(Debug, Deserialize)]
struct GetPostsOutput {
    posts: Vec<ParentPost>,
}

#[derive(Debug, Deserialize)]
struct ParentPost {
    uri: String,
    cid: String,
    record: ParentRecord,
}

#[derive(Debug, Default, Deserialize)]
struct ParentRecord {
    #[serde(default)]
    reply: Option<ParentReply>,
}

#[derive(Debug, Deserialize)]
struct ParentReply {
    root: StrongRef,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
struct StrongRef {
    uri: String,
    cid: String,
}

#[derive(Debug, Deserialize)]
struct CreateRecordOutput {
    uri: String,
}

#[derive(Debug, Deserialize)]
struct GetRecordOutput {
    uri: String,
}

impl BlueskyPublisher {
    pub fn new(
        account: impl Into<String>,
        service_url: url::Url,
        identifier: impl Into<String>,
        app_password: impl Into<String>,
        http: HttpClient,
    ) -> BlueskyPublisher {
        let account = account.into();
        BlueskyPublisher {
            xrpc: XrpcSession::new(
                account.clone(),
                service_url,
                identifier.into(),
                app_password.into(),
                http,
            ),
            account,
        }
    }

    pub fn from_config(
        config: &SourceConfig,
        http: HttpClient,
    ) -> Result<BlueskyPublisher, PublishError> {
        let name = &config.name;
        let identifier = config
            .identifier
            .as_deref()
            .map(str::trim)
            .filter(|i| !i.is_empty())
            .ok_or_else(|| {
                PublishError::permanent(
                    name,
                    "publishing to Bluesky needs `identifier` (handle or DID)",
                )
            })?;
        let app_password = config.app_password.as_deref().ok_or_else(|| {
            PublishError::permanent(
                name,
                "publishing to Bluesky needs `app_password` (or env:NAME)",
            )
        })?;
        let app_password = resolve_secret(name, "app_password", app_password)?;
        let service_url = parse_base_url(
            name,
            "url",
            config.url.as_deref().unwrap_or(DEFAULT_SERVICE_URL),
        )?;
        Ok(BlueskyPublisher::new(
            name.clone(),
            service_url,
            identifier,
            app_password,
            http,
        ))
    }

    /// Send an authorized request; on `ExpiredToken` renew the session and send it once more.
    async fn send(
        &self,
        build: impl Fn(&str) -> RequestBuilder,
    ) -> Result<HttpResponse, PublishError> {
        let token = self.xrpc.access_token().await?;
        let response = self.xrpc.http.fetch(&self.account, build(&token)).await?;
        if !is_expired_token(&response) {
            return Ok(response);
        }
        let token = self.xrpc.renew_session().await?;
        Ok(self.xrpc.http.fetch(&self.account, build(&token)).await?)
    }

    /// The record at `rkey` in the account's repo, if it exists.
    async fn existing_post(&self, did: &str, rkey: &str) -> Result<Option<String>, PublishError> {
        let mut url = self.xrpc.xrpc_url("com.atproto.repo.getRecord");
        url.query_pairs_mut()
            .append_pair("repo", did)
            .append_pair("collection", POST_COLLECTION)
            .append_pair("rkey", rkey);
        let client = self.xrpc.http.client();
        let response = self
            .send(|token| client.get(url.clone()).bearer_auth(token))
            .await?;
        if response.status.is_success() {
            let record: GetRecordOutput = serde_json::from_slice(&response.body).map_err(|e| {
                PublishError::retryable(&self.account, format!("getRecord: unreadable answer: {e}"))
            })?;
            return Ok(Some(record.uri));
        }
        if response.status == StatusCode::BAD_REQUEST && xrpc_error(&response) == "RecordNotFound" {
            return Ok(None);
        }
        Err(error_for_status(
            &self.account,
            "checking whether the post was already published",
            &response,
        ))
    }

    /// Strong references to the post replied to and to its thread's root.
    async fn reply_refs(&self, target: &ReplyTarget) -> Result<serde_json::Value, PublishError> {
        let uri = target
            .external_id
            .as_deref()
            .filter(|id| id.starts_with("at://"))
            .map(str::to_string)
            .or_else(|| target.url.as_deref().and_then(at_uri_from_web_url))
            .ok_or_else(|| {
                PublishError::permanent(
                    &self.account,
                    "cannot reply: the mention has no at:// URI or bsky.app link",
                )
            })?;
        let mut url = self.xrpc.xrpc_url("app.bsky.feed.getPosts");
        url.query_pairs_mut().append_pair("uris", &uri);
        let client = self.xrpc.http.client();
        let response = self
            .send(|token| client.get(url.clone()).bearer_auth(token))
            .await?;
        if !response.status.is_success() {
            return Err(error_for_status(
                &self.account,
                &format!("reading {uri} to reply to it"),
                &response,
            ));
        }
        let output: GetPostsOutput = serde_json::from_slice(&response.body).map_err(|e| {
            PublishError::retryable(&self.account, format!("getPosts: unreadable answer: {e}"))
        })?;
        let parent = output.posts.into_iter().next().ok_or_else(|| {
            PublishError::permanent(
                &self.account,
                format!("cannot reply: {uri} was deleted or is not visible; answer it elsewhere"),
            )
        })?;
        let parent_ref = StrongRef {
            uri: parent.uri,
            cid: parent.cid,
        };
        let root = parent
            .record
            .reply
            .map(|r| r.root)
            .unwrap_or_else(|| parent_ref.clone());
        Ok(serde_json::json!({ "root": root, "parent": parent_ref }))
    }
}

#[async_trait]
impl Publisher for BlueskyPublisher {
    fn account(&self) -> &str {
        &self.account
    }

    async fn publish(&self, request: &PublishRequest) -> Result<Published, PublishError> {
        if request.text.trim().is_empty() {
            return Err(PublishError::permanent(&self.account, "the text is empty"));
        }
        let graphemes = request.text.graphemes(true).count();
        if graphemes > MAX_GRAPHEMES {
            return Err(PublishError::permanent(
                &self.account,
                format!(
                    "the text is {graphemes} characters long; Bluesky allows {MAX_GRAPHEMES}, so shorten it by {}",
                    graphemes - MAX_GRAPHEMES
                ),
            ));
        }
        let session = self.xrpc.session().await?;
        let rkey = tid_for(&request.idempotency_key, request.created_at);
        let published = |uri: String| Published {
            remote_id: uri,
            url: Some(format!(
                "https://bsky.app/profile/{}/post/{rkey}",
                if session.handle.is_empty() {
                    &session.did
                } else {
                    &session.handle
                }
            )),
        };
        if let Some(uri) = self.existing_post(&session.did, &rkey).await? {
            return Ok(published(uri));
        }
        let mut record = serde_json::json!({
            "$type": POST_COLLECTION,
            "text": request.text,
            "createdAt": request.created_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        });
        if let Some(language) = request.language.as_deref().filter(|l| !l.is_empty()) {
            record["langs"] = serde_json::json!([language]);
        }
        if let Some(target) = &request.reply_to {
            record["reply"] = self.reply_refs(target).await?;
        }
        let body = serde_json::json!({
            "repo": session.did,
            "collection": POST_COLLECTION,
            "rkey": rkey,
            "record": record,
        });
        let url = self.xrpc.xrpc_url("com.atproto.repo.createRecord");
        let client = self.xrpc.http.client();
        let response = self
            .send(|token| client.post(url.clone()).bearer_auth(token).json(&body))
            .await?;
        if response.status.is_success() {
            let created: CreateRecordOutput =
                serde_json::from_slice(&response.body).map_err(|e| {
                    PublishError::retryable(
                        &self.account,
                        format!("createRecord: unreadable answer: {e}"),
                    )
                })?;
            return Ok(published(created.uri));
        }
        let conflict = response.status.is_server_error()
            || matches!(
                xrpc_error(&response).as_str(),
                "RecordAlreadyExists" | "InvalidSwap" | "AlreadyExists"
            );
        if conflict {
            if let Some(uri) = self.existing_post(&session.did, &rkey).await? {
                return Ok(published(uri));
            }
        }
        Err(error_for_status(&self.account, "posting", &response))
    }
}

/// The XRPC error name of a JSON error body (`{"error": "...", "message": "..."}`).
fn xrpc_error(response: &HttpResponse) -> String {
    serde_json::from_slice::<serde_json::Value>(&response.body)
        .ok()
        .and_then(|v| v.get("error")?.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// `https://bsky.app/profile/{actor}/post/{rkey}` → `at://{actor}/app.bsky.feed.post/{rkey}`.
fn at_uri_from_web_url(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let segments: Vec<&str> = parsed.path_segments()?.collect();
    match segments.as_slice() {
        ["profile", actor, "post", rkey] if !actor.is_empty() && !rkey.is_empty() => {
            Some(format!("at://{actor}/{POST_COLLECTION}/{rkey}"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_urls_become_at_uris() {
        assert_eq!(
            at_uri_from_web_url("https://bsky.app/profile/alice.bsky.social/post/3kabc").as_deref(),
            Some("at://alice.bsky.social/app.bsky.feed.post/3kabc")
        );
        assert_eq!(at_uri_from_web_url("https://bsky.app/profile/alice"), None);
        assert_eq!(at_uri_from_web_url("not a url"), None);
    }
}
