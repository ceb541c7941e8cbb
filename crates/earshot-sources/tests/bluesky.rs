//! Bluesky against a local XRPC server answering per the lexicons: createSession,
//! refreshSession, app.bsky.feed.searchPosts (PostView, cursor), XRPC JSON errors and the
//! `ratelimit-*` headers.

use earshot_core::{IncomingMention, SourceConfig, SourceKind};
use earshot_sources::{build_source, HttpClient, Source, SourceError};
use serde_json::{json, Value};
use std::time::Duration;
use wiremock::matchers::{body_json, header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SEARCH: &str = "/xrpc/app.bsky.feed.searchPosts";

fn post(rkey: &str, indexed_at: &str) -> Value {
    json!({
        "uri": format!("at://did:plc:abc123/app.bsky.feed.post/{rkey}"),
        "cid": "bafyreib2rxk3rh6kzwq",
        "author": {
            "did": "did:plc:abc123",
            "handle": "alice.bsky.social",
            "displayName": "Alice <script>",
            "avatar": "https://cdn.bsky.app/img/avatar/plain/did:plc:abc123/x@jpeg",
            "labels": [],
            "createdAt": "2024-01-01T00:00:00.000Z"
        },
        "record": {
            "$type": "app.bsky.feed.post",
            "text": format!("post {rkey} about acme <3"),
            "createdAt": "2026-03-04T10:00:00.000Z",
            "langs": ["en", "ru"]
        },
        "replyCount": 0,
        "repostCount": 0,
        "likeCount": 0,
        "quoteCount": 0,
        "indexedAt": indexed_at,
        "labels": []
    })
}

fn session(access: &str, refresh: &str) -> Value {
    json!({
        "accessJwt": access,
        "refreshJwt": refresh,
        "handle": "earshot.bsky.social",
        "did": "did:plc:earshot",
        "active": true
    })
}

fn source_for(server: &MockServer, queries: &[&str]) -> Box<dyn Source> {
    let mut config = SourceConfig::new("sky", SourceKind::Bluesky);
    config.url = Some(server.uri());
    config.identifier = Some("earshot.bsky.social".into());
    config.app_password = Some("abcd-efgh-ijkl-mnop".into());
    config.search = queries.iter().map(|q| q.to_string()).collect();
    build_source(&config, &HttpClient::new(Duration::from_secs(5)).unwrap()).unwrap()
}

async fn mount_create_session(server: &MockServer, access: &str, times: u64) {
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.server.createSession"))
        .and(body_json(
            json!({"identifier": "earshot.bsky.social", "password": "abcd-efgh-ijkl-mnop"}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(session(access, "refresh-1")))
        .expect(times)
        .mount(server)
        .await;
}

fn uris(items: &[IncomingMention]) -> Vec<String> {
    items
        .iter()
        .map(|m| {
            m.external_id
                .as_deref()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn session_then_search_pages_back_until_known_posts() {
    let server = MockServer::start().await;
    mount_create_session(&server, "access-1", 1).await;
    // First poll: one page, newest first.
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .and(query_param("q", "acme"))
        .and(query_param("sort", "latest"))
        .and(query_param("limit", "100"))
        .and(query_param_is_missing("cursor"))
        .and(header("authorization", "Bearer access-1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({
                    "cursor": "page2",
                    "hitsTotal": 3,
                    "posts": [post("3c", "2026-03-04T10:00:02.000Z"), post("3b", "2026-03-04T10:00:02.000Z")]
                }))
                .insert_header("ratelimit-limit", "3000")
                .insert_header("ratelimit-remaining", "2999")
                .insert_header("ratelimit-reset", "1772618700")
                .insert_header("ratelimit-policy", "3000;w=300"),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;

    let source = source_for(&server, &["acme"]);
    let first = source.poll(None).await.unwrap();
    assert_eq!(uris(&first.items), vec!["3c", "3b"]);
    assert!(first.warnings.is_empty(), "{:?}", first.warnings);
    let mention = &first.items[0];
    assert_eq!(mention.source, "sky");
    assert_eq!(
        mention.external_id.as_deref(),
        Some("at://did:plc:abc123/app.bsky.feed.post/3c")
    );
    assert_eq!(
        mention.url.as_deref(),
        Some("https://bsky.app/profile/alice.bsky.social/post/3c")
    );
    assert_eq!(mention.text, "post 3c about acme <3");
    assert!(!mention.is_html);
    assert_eq!(mention.lang.as_deref(), Some("en"));
    assert_eq!(
        mention.published_at.to_rfc3339(),
        "2026-03-04T10:00:00+00:00"
    );
    let author = mention.author.as_ref().unwrap();
    assert_eq!(author.handle.as_deref(), Some("alice.bsky.social"));
    assert_eq!(author.name.as_deref(), Some("Alice <script>"));

    // Second poll: two pages of new posts, the second reaching a post already handed over
    // (3b, same indexedAt as the remembered newest) and an older one.
    let mut reply = post("4a", "2026-03-04T10:00:05.000Z");
    reply["record"]["reply"] = json!({
        "root": {"uri": "at://did:plc:xyz/app.bsky.feed.post/1", "cid": "bafyroot"},
        "parent": {"uri": "at://did:plc:xyz/app.bsky.feed.post/2", "cid": "bafyparent"}
    });
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .and(query_param_is_missing("cursor"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "cursor": "c-next",
            "posts": [post("4b", "2026-03-04T10:00:06.000Z"), reply]
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .and(query_param("cursor", "c-next"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "cursor": "c-older",
            "posts": [
                post("3d", "2026-03-04T10:00:02.000Z"),
                post("3c", "2026-03-04T10:00:02.000Z"),
                post("3b", "2026-03-04T10:00:02.000Z"),
                post("2z", "2026-03-04T09:59:00.000Z")
            ]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let second = source.poll(first.cursor.as_deref()).await.unwrap();
    assert_eq!(uris(&second.items), vec!["4b", "4a", "3d"]);
    assert_eq!(
        second.items[1].in_reply_to.as_deref(),
        Some("at://did:plc:xyz/app.bsky.feed.post/2")
    );
    let cursor: Value = serde_json::from_str(second.cursor.as_deref().unwrap()).unwrap();
    assert_eq!(
        cursor["queries"]["acme"]["newest_indexed_at"],
        "2026-03-04T10:00:06Z"
    );
    assert_eq!(
        cursor["queries"]["acme"]["uris_at_newest"],
        json!(["at://did:plc:abc123/app.bsky.feed.post/4b"])
    );
}

#[tokio::test]
async fn expired_token_is_refreshed_and_the_request_retried_once() {
    let server = MockServer::start().await;
    mount_create_session(&server, "access-old", 1).await;
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.server.refreshSession"))
        .and(header("authorization", "Bearer refresh-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(session("access-new", "refresh-2")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .and(header("authorization", "Bearer access-old"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"error": "ExpiredToken", "message": "Token has expired"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .and(header("authorization", "Bearer access-new"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"posts": [post("5a", "2026-03-04T11:00:00.000Z")]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let outcome = source_for(&server, &["acme"]).poll(None).await.unwrap();
    assert_eq!(uris(&outcome.items), vec!["5a"]);
}

#[tokio::test]
async fn a_refused_refresh_falls_back_to_a_new_session() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.server.createSession"))
        .respond_with(ResponseTemplate::new(200).set_body_json(session("access-old", "refresh-1")))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.server.createSession"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(session("access-fresh", "refresh-9")),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.server.refreshSession"))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(
                json!({"error": "ExpiredToken", "message": "Token has been revoked"}),
            ),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .and(header("authorization", "Bearer access-old"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"error": "ExpiredToken", "message": "Token has expired"})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .and(header("authorization", "Bearer access-fresh"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"posts": [post("6a", "2026-03-04T12:00:00.000Z")]})),
        )
        .mount(&server)
        .await;
    let outcome = source_for(&server, &["acme"]).poll(None).await.unwrap();
    assert_eq!(uris(&outcome.items), vec!["6a"]);
}

#[tokio::test]
async fn wrong_app_password_is_an_auth_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.server.createSession"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"error": "AuthenticationRequired", "message": "Invalid identifier or password"}),
        ))
        .mount(&server)
        .await;
    let error = source_for(&server, &["acme"]).poll(None).await.unwrap_err();
    assert!(matches!(error, SourceError::Auth { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "sky: authentication failed: HTTP 401: AuthenticationRequired: Invalid identifier or password"
    );
}

#[tokio::test]
async fn too_many_requests_reads_the_ratelimit_reset() {
    let server = MockServer::start().await;
    mount_create_session(&server, "access-1", 1).await;
    let reset = chrono::Utc::now().timestamp() + 120;
    Mock::given(path(SEARCH))
        .respond_with(
            ResponseTemplate::new(429)
                .set_body_json(
                    json!({"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}),
                )
                .insert_header("ratelimit-limit", "3000")
                .insert_header("ratelimit-remaining", "0")
                .insert_header("ratelimit-reset", reset.to_string().as_str())
                .insert_header("ratelimit-policy", "3000;w=300"),
        )
        .mount(&server)
        .await;
    match source_for(&server, &["acme"]).poll(None).await.unwrap_err() {
        SourceError::RateLimited {
            retry_after,
            source_name,
        } => {
            assert_eq!(source_name, "sky");
            assert!(
                (100..=120).contains(&retry_after.as_secs()),
                "waits until the reset time: {retry_after:?}"
            );
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
}

#[tokio::test]
async fn spent_rate_limit_stops_before_the_next_query() {
    let server = MockServer::start().await;
    mount_create_session(&server, "access-1", 1).await;
    Mock::given(path(SEARCH))
        .and(query_param("q", "first"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"posts": [post("7a", "2026-03-04T12:00:00.000Z")]}))
                .insert_header("ratelimit-limit", "3000")
                .insert_header("ratelimit-remaining", "0")
                .insert_header("ratelimit-reset", "1772618700"),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path(SEARCH))
        .and(query_param("q", "second"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"posts": []})))
        .expect(0)
        .mount(&server)
        .await;
    let outcome = source_for(&server, &["first", "second"])
        .poll(None)
        .await
        .unwrap();
    assert_eq!(uris(&outcome.items), vec!["7a"]);
    assert_eq!(outcome.warnings.len(), 1);
    assert!(
        outcome.warnings[0].contains("2026-03-04T10:05:00+00:00"),
        "{:?}",
        outcome.warnings
    );
}

#[tokio::test]
async fn xrpc_errors_are_surfaced() {
    let server = MockServer::start().await;
    mount_create_session(&server, "access-1", 1).await;
    Mock::given(path(SEARCH))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"error": "InvalidRequest", "message": "Error: params.q must have at least 1 character"}),
        ))
        .mount(&server)
        .await;
    let error = source_for(&server, &["acme"]).poll(None).await.unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, SourceError::Http { .. }), "{error:?}");
    assert!(
        message.contains("400") && message.contains("InvalidRequest: Error: params.q"),
        "{message}"
    );
}

#[tokio::test]
async fn a_broken_post_is_a_warning() {
    let server = MockServer::start().await;
    mount_create_session(&server, "access-1", 1).await;
    Mock::given(path(SEARCH))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "posts": [post("8a", "2026-03-04T12:00:00.000Z"), {"uri": "at://x/app.bsky.feed.post/8b"}]
        })))
        .mount(&server)
        .await;
    let outcome = source_for(&server, &["acme"]).poll(None).await.unwrap();
    assert_eq!(uris(&outcome.items), vec!["8a"]);
    assert_eq!(outcome.warnings.len(), 1);
    assert!(
        outcome.warnings[0].contains("acme"),
        "{:?}",
        outcome.warnings
    );
}
