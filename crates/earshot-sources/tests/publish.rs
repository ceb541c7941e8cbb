//! Publishing against local servers answering as the Mastodon API and the Bluesky XRPC
//! lexicons document: created statuses and records, validation and auth errors
//! (`{"error": ...}`), rate limits with their headers, server errors, timeouts, and the
//! idempotency each network offers.

use chrono::{TimeZone, Utc};
use earshot_core::{ReplyTarget, SourceConfig, SourceKind};
use earshot_sources::publish::tid_for;
use earshot_sources::{build_publisher, HttpClient, PublishError, PublishRequest, Publisher};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wiremock::matchers::{body_partial_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn request(text: &str, key: &str) -> PublishRequest {
    PublishRequest {
        text: text.to_string(),
        reply_to: None,
        language: Some("en".into()),
        idempotency_key: key.to_string(),
        created_at: Utc.with_ymd_and_hms(2026, 3, 4, 10, 0, 0).unwrap(),
    }
}

fn http(timeout: Duration) -> HttpClient {
    HttpClient::new(timeout).unwrap()
}

// ---------------------------------------------------------------- Mastodon

fn mastodon(server: &MockServer, timeout: Duration) -> Box<dyn Publisher> {
    let mut config = SourceConfig::new("masto", SourceKind::Mastodon);
    config.url = Some(server.uri());
    config.token = Some("tok-123".into());
    build_publisher(&config, &http(timeout)).unwrap()
}

fn status(server: &MockServer, id: &str, text: &str) -> Value {
    json!({
        "id": id,
        "created_at": "2026-03-04T10:00:01.000Z",
        "in_reply_to_id": null,
        "visibility": "public",
        "language": "en",
        "uri": format!("{}/users/earshot/statuses/{id}", server.uri()),
        "url": format!("{}/@earshot/{id}", server.uri()),
        "content": format!("<p>{text}</p>"),
        "account": {"id": "1", "username": "earshot", "acct": "earshot", "display_name": "Earshot"},
        "media_attachments": [],
        "mentions": [],
        "tags": [],
        "emojis": []
    })
}

/// Answers `POST /api/v1/statuses` like Mastodon: a new status per new `Idempotency-Key`,
/// the same status again for a key it has seen.
struct IdempotentStatuses {
    base: String,
    by_key: Mutex<HashMap<String, String>>,
    created: Arc<Mutex<Vec<Value>>>,
}

impl Respond for IdempotentStatuses {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let key = request
            .headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        let mut by_key = self.by_key.lock().unwrap();
        let id = match by_key.get(&key) {
            Some(id) => id.clone(),
            None => {
                let mut created = self.created.lock().unwrap();
                created.push(body.clone());
                let id = format!("1100{}", created.len());
                by_key.insert(key, id.clone());
                id
            }
        };
        ResponseTemplate::new(200).set_body_json(json!({
            "id": id,
            "uri": format!("{}/users/earshot/statuses/{id}", self.base),
            "url": format!("{}/@earshot/{id}", self.base),
            "content": body["status"],
            "visibility": "public"
        }))
    }
}

#[tokio::test]
async fn mastodon_posts_with_bearer_and_idempotency_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/statuses"))
        .and(header("authorization", "Bearer tok-123"))
        .and(header("idempotency-key", "reply:7:1"))
        .and(body_partial_json(json!({
            "status": "Thanks, we are on it",
            "visibility": "public",
            "language": "en"
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(status(
            &server,
            "110001",
            "Thanks, we are on it",
        )))
        .expect(1)
        .mount(&server)
        .await;
    let published = mastodon(&server, Duration::from_secs(5))
        .publish(&request("Thanks, we are on it", "reply:7:1"))
        .await
        .unwrap();
    assert_eq!(published.remote_id, "110001");
    assert_eq!(
        published.url.as_deref(),
        Some(format!("{}/@earshot/110001", server.uri()).as_str())
    );
}

#[tokio::test]
async fn mastodon_replies_by_local_id_or_resolves_the_url_first() {
    let server = MockServer::start().await;
    // The mention was read through this very server: its id is usable as it is.
    Mock::given(method("POST"))
        .and(path("/api/v1/statuses"))
        .and(body_partial_json(json!({"in_reply_to_id": "555"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(status(&server, "1", "a")))
        .expect(1)
        .mount(&server)
        .await;
    // A mention from another server: looked up by URL with resolve=true.
    Mock::given(method("GET"))
        .and(path("/api/v2/search"))
        .and(query_param("q", "https://other.example/@bob/42"))
        .and(query_param("resolve", "true"))
        .and(query_param("type", "statuses"))
        .and(header("authorization", "Bearer tok-123"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "accounts": [],
            "statuses": [status(&server, "777", "bob's post")],
            "hashtags": []
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/statuses"))
        .and(body_partial_json(json!({"in_reply_to_id": "777"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(status(&server, "2", "b")))
        .expect(1)
        .mount(&server)
        .await;
    // Nothing found: permanent, with what to do.
    Mock::given(method("GET"))
        .and(path("/api/v2/search"))
        .and(query_param("q", "https://other.example/@bob/gone"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "accounts": [], "statuses": [], "hashtags": []
        })))
        .mount(&server)
        .await;

    let publisher = mastodon(&server, Duration::from_secs(5));
    let mut local = request("a", "k1");
    local.reply_to = Some(ReplyTarget {
        external_id: Some("555".into()),
        url: Some("https://other.example/@bob/555".into()),
        server: Some(format!("{}/", server.uri())),
    });
    assert_eq!(publisher.publish(&local).await.unwrap().remote_id, "1");

    let mut remote = request("b", "k2");
    remote.reply_to = Some(ReplyTarget {
        external_id: Some("42".into()),
        url: Some("https://other.example/@bob/42".into()),
        server: Some("https://other.example".into()),
    });
    assert_eq!(publisher.publish(&remote).await.unwrap().remote_id, "2");

    let mut gone = request("c", "k3");
    gone.reply_to = Some(ReplyTarget {
        external_id: None,
        url: Some("https://other.example/@bob/gone".into()),
        server: None,
    });
    let error = publisher.publish(&gone).await.unwrap_err();
    assert!(!error.is_retryable());
    assert!(error.to_string().contains("answer it elsewhere"), "{error}");
}

#[tokio::test]
async fn mastodon_errors_are_permanent_or_retryable_as_documented() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("idempotency-key", "too-long"))
        .respond_with(ResponseTemplate::new(422).set_body_json(
            json!({"error": "Validation failed: Text character limit of 500 exceeded"}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(header("idempotency-key", "bad-token"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"error": "The access token is invalid"})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(header("idempotency-key", "limited"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("x-ratelimit-limit", "300")
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("retry-after", "90")
                .set_body_json(json!({"error": "Too many requests"})),
        )
        .mount(&server)
        .await;
    let publisher = mastodon(&server, Duration::from_secs(5));

    let error = publisher
        .publish(&request(&"x".repeat(501), "too-long"))
        .await
        .unwrap_err();
    assert!(!error.is_retryable());
    let message = error.to_string();
    assert!(message.starts_with("masto: "), "{message}");
    assert!(
        message.contains("HTTP 422: Validation failed: Text character limit of 500 exceeded"),
        "{message}"
    );

    let error = publisher
        .publish(&request("hi", "bad-token"))
        .await
        .unwrap_err();
    assert!(!error.is_retryable());
    assert!(
        error.to_string().contains("credentials were refused")
            && error.to_string().contains("The access token is invalid"),
        "{error}"
    );

    let error = publisher
        .publish(&request("hi", "limited"))
        .await
        .unwrap_err();
    assert!(error.is_retryable(), "{error}");
    assert_eq!(error.retry_after(), Some(Duration::from_secs(90)));

    let empty = publisher
        .publish(&request("  ", "empty"))
        .await
        .unwrap_err();
    assert!(matches!(empty, PublishError::Permanent { .. }));
}

#[tokio::test]
async fn mastodon_server_error_then_success_and_timeouts_are_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/statuses"))
        .respond_with(ResponseTemplate::new(503).set_body_string("<html>Maintenance</html>"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/statuses"))
        .respond_with(ResponseTemplate::new(200).set_body_json(status(&server, "9", "x")))
        .mount(&server)
        .await;
    let publisher = mastodon(&server, Duration::from_secs(5));
    let first = publisher.publish(&request("x", "k")).await.unwrap_err();
    assert!(first.is_retryable());
    assert!(first.to_string().contains("503"), "{first}");
    assert_eq!(
        publisher
            .publish(&request("x", "k"))
            .await
            .unwrap()
            .remote_id,
        "9"
    );

    let slow = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(status(&slow, "1", "x"))
                .set_delay(Duration::from_secs(5)),
        )
        .mount(&slow)
        .await;
    let error = mastodon(&slow, Duration::from_millis(200))
        .publish(&request("x", "k"))
        .await
        .unwrap_err();
    assert!(error.is_retryable());
    assert!(error.to_string().contains("timed out"), "{error}");
}

#[tokio::test]
async fn mastodon_repeated_idempotency_key_creates_one_status() {
    let server = MockServer::start().await;
    let created = Arc::new(Mutex::new(Vec::new()));
    Mock::given(method("POST"))
        .and(path("/api/v1/statuses"))
        .respond_with(IdempotentStatuses {
            base: server.uri(),
            by_key: Mutex::new(HashMap::new()),
            created: created.clone(),
        })
        .mount(&server)
        .await;
    let publisher = mastodon(&server, Duration::from_secs(5));
    let first = publisher
        .publish(&request("once", "reply:1"))
        .await
        .unwrap();
    let again = publisher
        .publish(&request("once", "reply:1"))
        .await
        .unwrap();
    let other = publisher
        .publish(&request("twice", "reply:2"))
        .await
        .unwrap();
    assert_eq!(first, again);
    assert_ne!(first.remote_id, other.remote_id);
    assert_eq!(created.lock().unwrap().len(), 2);
}

#[test]
fn mastodon_publisher_needs_url_and_token() {
    let mut config = SourceConfig::new("masto", SourceKind::Mastodon);
    config.url = Some("https://mastodon.example".into());
    let error = build_publisher(&config, &http(Duration::from_secs(5)))
        .err()
        .unwrap();
    assert!(error.to_string().contains("write:statuses"), "{error}");
}

// ---------------------------------------------------------------- Bluesky

const DID: &str = "did:plc:earshot";

fn bluesky(server: &MockServer) -> Box<dyn Publisher> {
    let mut config = SourceConfig::new("sky", SourceKind::Bluesky);
    config.url = Some(server.uri());
    config.identifier = Some("earshot.bsky.social".into());
    config.app_password = Some("abcd-efgh-ijkl-mnop".into());
    build_publisher(&config, &http(Duration::from_secs(5))).unwrap()
}

fn session(access: &str) -> Value {
    json!({
        "accessJwt": access,
        "refreshJwt": "refresh-1",
        "handle": "earshot.bsky.social",
        "did": DID,
        "active": true
    })
}

async fn mount_session(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.server.createSession"))
        .respond_with(ResponseTemplate::new(200).set_body_json(session("access-1")))
        .expect(1)
        .mount(server)
        .await;
}

fn record_not_found() -> ResponseTemplate {
    ResponseTemplate::new(400).set_body_json(json!({
        "error": "RecordNotFound",
        "message": "Could not locate record"
    }))
}

fn get_record_found(uri: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "uri": uri,
        "cid": "bafyreiposted",
        "value": {"$type": "app.bsky.feed.post", "text": "Thanks!", "createdAt": "2026-03-04T10:00:00.000Z"}
    }))
}

#[tokio::test]
async fn bluesky_reply_carries_root_and_parent_refs_and_a_derived_record_key() {
    let server = MockServer::start().await;
    mount_session(&server).await;
    let req = PublishRequest {
        reply_to: Some(ReplyTarget {
            external_id: Some("at://did:plc:alice/app.bsky.feed.post/3kparent".into()),
            url: None,
            server: None,
        }),
        ..request("Thanks, we are on it", "reply:9:1")
    };
    let rkey = tid_for(&req.idempotency_key, req.created_at);
    let uri = format!("at://{DID}/app.bsky.feed.post/{rkey}");
    Mock::given(method("GET"))
        .and(path("/xrpc/com.atproto.repo.getRecord"))
        .and(query_param("repo", DID))
        .and(query_param("collection", "app.bsky.feed.post"))
        .and(query_param("rkey", rkey.as_str()))
        .and(header("authorization", "Bearer access-1"))
        .respond_with(record_not_found())
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/xrpc/app.bsky.feed.getPosts"))
        .and(query_param(
            "uris",
            "at://did:plc:alice/app.bsky.feed.post/3kparent",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "posts": [{
                "uri": "at://did:plc:alice/app.bsky.feed.post/3kparent",
                "cid": "bafyparent",
                "author": {"did": "did:plc:alice", "handle": "alice.bsky.social"},
                "record": {
                    "$type": "app.bsky.feed.post",
                    "text": "acme broke again",
                    "createdAt": "2026-03-04T09:00:00.000Z",
                    "reply": {
                        "root": {"uri": "at://did:plc:carol/app.bsky.feed.post/3kroot", "cid": "bafyroot"},
                        "parent": {"uri": "at://did:plc:carol/app.bsky.feed.post/3kroot", "cid": "bafyroot"}
                    }
                },
                "indexedAt": "2026-03-04T09:00:01.000Z"
            }]
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.repo.createRecord"))
        .and(header("authorization", "Bearer access-1"))
        .and(body_partial_json(json!({
            "repo": DID,
            "collection": "app.bsky.feed.post",
            "rkey": rkey,
            "record": {
                "$type": "app.bsky.feed.post",
                "text": "Thanks, we are on it",
                "createdAt": "2026-03-04T10:00:00.000Z",
                "langs": ["en"],
                "reply": {
                    "root": {"uri": "at://did:plc:carol/app.bsky.feed.post/3kroot", "cid": "bafyroot"},
                    "parent": {"uri": "at://did:plc:alice/app.bsky.feed.post/3kparent", "cid": "bafyparent"}
                }
            }
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "uri": uri,
            "cid": "bafyreinew",
            "commit": {"cid": "bafyreicommit", "rev": "3kcommit"},
            "validationStatus": "valid"
        })))
        .expect(1)
        .mount(&server)
        .await;

    let published = bluesky(&server).publish(&req).await.unwrap();
    assert_eq!(published.remote_id, uri);
    assert_eq!(
        published.url,
        Some(format!(
            "https://bsky.app/profile/earshot.bsky.social/post/{rkey}"
        ))
    );
}

#[tokio::test]
async fn bluesky_retry_of_a_published_post_does_not_post_twice() {
    let server = MockServer::start().await;
    mount_session(&server).await;
    let req = request("hello", "post:1");
    let rkey = tid_for("post:1", req.created_at);
    let uri = format!("at://{DID}/app.bsky.feed.post/{rkey}");
    // First attempt: not there yet; createRecord fails the way the reference PDS answers a
    // taken record key (500), and the record turns out to exist: it was published.
    Mock::given(method("GET"))
        .and(path("/xrpc/com.atproto.repo.getRecord"))
        .respond_with(record_not_found())
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/xrpc/com.atproto.repo.getRecord"))
        .and(query_param("rkey", rkey.as_str()))
        .respond_with(get_record_found(&uri))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.repo.createRecord"))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({
            "error": "InternalServerError",
            "message": "Internal Server Error"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let publisher = bluesky(&server);
    let first = publisher.publish(&req).await.unwrap();
    assert_eq!(first.remote_id, uri);
    // A later retry sees the record and does not call createRecord again (expect(1) above).
    let again = publisher.publish(&req).await.unwrap();
    assert_eq!(again, first);
}

#[tokio::test]
async fn bluesky_rejects_more_than_300_graphemes_before_sending() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    // 301 graphemes of two code points each: 602 chars, yet one over the limit.
    let text = "👍🏽".repeat(301);
    let error = bluesky(&server)
        .publish(&request(&text, "long"))
        .await
        .unwrap_err();
    assert!(!error.is_retryable());
    assert!(
        error.to_string().contains("301 characters") && error.to_string().contains("by 1"),
        "{error}"
    );
}

#[tokio::test]
async fn bluesky_expired_token_is_refreshed_and_rate_limits_are_retryable() {
    let server = MockServer::start().await;
    mount_session(&server).await;
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.server.refreshSession"))
        .and(header("authorization", "Bearer refresh-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(session("access-2")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/xrpc/com.atproto.repo.getRecord"))
        .and(header("authorization", "Bearer access-1"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "ExpiredToken",
            "message": "Token has expired"
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/xrpc/com.atproto.repo.getRecord"))
        .and(header("authorization", "Bearer access-2"))
        .respond_with(record_not_found())
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.repo.createRecord"))
        .and(header("authorization", "Bearer access-2"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("ratelimit-limit", "5000")
                .insert_header("ratelimit-remaining", "0")
                .insert_header("ratelimit-reset", "4102444800")
                .set_body_json(
                    json!({"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}),
                ),
        )
        .expect(1)
        .mount(&server)
        .await;
    let error = bluesky(&server)
        .publish(&request("hello", "k"))
        .await
        .unwrap_err();
    assert!(error.is_retryable(), "{error}");
    assert!(
        error.retry_after().unwrap() > Duration::from_secs(3600),
        "ratelimit-reset is a Unix time far ahead: {error:?}"
    );
    assert!(error.to_string().contains("RateLimitExceeded"), "{error}");
}

#[tokio::test]
async fn bluesky_wrong_app_password_is_permanent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.server.createSession"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": "AuthenticationRequired",
            "message": "Invalid identifier or password"
        })))
        .mount(&server)
        .await;
    let error = bluesky(&server)
        .publish(&request("hello", "k"))
        .await
        .unwrap_err();
    assert!(!error.is_retryable());
    assert!(
        error.to_string().contains("Invalid identifier or password"),
        "{error}"
    );
}
