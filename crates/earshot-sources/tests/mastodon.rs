//! Mastodon against a local server answering as docs.joinmastodon.org documents: statuses
//! newest first, `min_id` paging with `Link` headers, `X-RateLimit-*` headers, JSON errors.

use earshot_core::{SourceConfig, SourceKind};
use earshot_sources::{build_source, HttpClient, Source, SourceError};
use serde_json::{json, Value};
use std::time::Duration;
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn status(id: &str) -> Value {
    json!({
        "id": id,
        "created_at": "2026-03-04T10:15:30.000Z",
        "in_reply_to_id": null,
        "in_reply_to_account_id": null,
        "sensitive": false,
        "spoiler_text": "",
        "visibility": "public",
        "language": "en",
        "uri": format!("https://mastodon.example/users/ann/statuses/{id}"),
        "url": format!("https://mastodon.example/@ann/{id}"),
        "replies_count": 0,
        "reblogs_count": 0,
        "favourites_count": 0,
        "content": format!("<p>Status {id} about <a href=\"https://mastodon.example/tags/acme\" class=\"mention hashtag\" rel=\"tag\">#<span>acme</span></a></p>"),
        "reblog": null,
        "account": {
            "id": "1090",
            "username": "ann",
            "acct": "ann",
            "display_name": "Ann <b>Example</b>",
            "url": "https://mastodon.example/@ann",
            "followers_count": 321,
            "following_count": 10,
            "statuses_count": 999
        },
        "media_attachments": [],
        "mentions": [],
        "tags": [{"name": "acme", "url": "https://mastodon.example/tags/acme"}],
        "emojis": [],
        "card": null,
        "poll": null
    })
}

fn source_for(
    server: &MockServer,
    hashtags: &[&str],
    search: &[&str],
    token: Option<&str>,
) -> Box<dyn Source> {
    let mut config = SourceConfig::new("masto", SourceKind::Mastodon);
    config.url = Some(server.uri());
    config.hashtags = hashtags.iter().map(|s| s.to_string()).collect();
    config.search = search.iter().map(|s| s.to_string()).collect();
    config.token = token.map(str::to_string);
    build_source(&config, &HttpClient::new(Duration::from_secs(5)).unwrap()).unwrap()
}

fn ids(items: &[earshot_core::IncomingMention]) -> Vec<String> {
    items
        .iter()
        .map(|m| m.external_id.clone().unwrap())
        .collect()
}

fn page_links(server: &MockServer, tag: &str, max_id: &str, min_id: &str) -> String {
    let base = format!("{}/api/v1/timelines/tag/{tag}", server.uri());
    format!("<{base}?max_id={max_id}>; rel=\"next\", <{base}?min_id={min_id}>; rel=\"prev\"")
}

#[tokio::test]
async fn tag_timeline_first_poll_then_pages_forward_with_min_id() {
    let server = MockServer::start().await;
    let tag_path = "/api/v1/timelines/tag/acme";
    // First poll: the latest page only, no min_id.
    Mock::given(method("GET"))
        .and(path(tag_path))
        .and(query_param("limit", "40"))
        .and(query_param_is_missing("min_id"))
        .and(header("authorization", "Bearer s3cret"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([status("103"), status("102")]))
                .insert_header("link", page_links(&server, "acme", "102", "103"))
                .insert_header("x-ratelimit-limit", "300")
                .insert_header("x-ratelimit-remaining", "299")
                .insert_header("x-ratelimit-reset", "2026-03-04T10:20:00.000Z"),
        )
        .expect(1)
        .mount(&server)
        .await;
    // Later: min_id=103 gives the page just newer (newest first), its prev link leads on.
    Mock::given(method("GET"))
        .and(path(tag_path))
        .and(query_param("min_id", "103"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([status("105"), status("104")]))
                .insert_header("link", page_links(&server, "acme", "104", "105")),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(tag_path))
        .and(query_param("min_id", "105"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([status("1000")]))
                .insert_header("link", page_links(&server, "acme", "1000", "1000")),
        )
        .expect(1)
        .mount(&server)
        .await;
    // Nothing newer: an empty array and no Link header.
    Mock::given(method("GET"))
        .and(path(tag_path))
        .and(query_param("min_id", "1000"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .expect(2)
        .mount(&server)
        .await;

    let source = source_for(&server, &["#acme"], &[], Some("s3cret"));
    let first = source.poll(None).await.unwrap();
    assert_eq!(ids(&first.items), vec!["103", "102"]);
    assert!(first.warnings.is_empty(), "{:?}", first.warnings);
    let mention = &first.items[0];
    assert_eq!(mention.source, "masto");
    assert_eq!(
        mention.url.as_deref(),
        Some("https://mastodon.example/@ann/103")
    );
    assert!(mention.is_html);
    assert!(mention.text.starts_with("<p>Status 103"));
    assert_eq!(mention.lang.as_deref(), Some("en"));
    assert_eq!(
        mention.published_at.to_rfc3339(),
        "2026-03-04T10:15:30+00:00"
    );
    let author = mention.author.as_ref().unwrap();
    assert_eq!(author.handle.as_deref(), Some("ann"));
    assert_eq!(author.name.as_deref(), Some("Ann <b>Example</b>"));
    assert_eq!(author.followers, Some(321));

    let second = source.poll(first.cursor.as_deref()).await.unwrap();
    assert_eq!(ids(&second.items), vec!["105", "104", "1000"]);
    let cursor: Value = serde_json::from_str(second.cursor.as_deref().unwrap()).unwrap();
    assert_eq!(cursor["hashtags"]["acme"], "1000", "ids compare as numbers");

    let third = source.poll(second.cursor.as_deref()).await.unwrap();
    assert!(third.items.is_empty());
    assert_eq!(third.cursor, second.cursor);
}

#[tokio::test]
async fn search_reblogs_and_replies() {
    let server = MockServer::start().await;
    let mut boost = status("210");
    let mut original = status("150");
    original["account"]["acct"] = json!("bob@other.example");
    original["in_reply_to_id"] = json!("149");
    original["url"] = Value::Null;
    original["spoiler_text"] = json!("coffee talk");
    boost["reblog"] = original;
    Mock::given(method("GET"))
        .and(path("/api/v2/search"))
        .and(query_param("q", "acme coffee"))
        .and(query_param("type", "statuses"))
        .and(query_param_is_missing("min_id"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "accounts": [], "hashtags": [], "statuses": [boost, status("200")]
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/search"))
        .and(query_param("min_id", "210"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "accounts": [], "hashtags": [], "statuses": [status("230"), json!({"id": "220", "content": "no account"})]
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/search"))
        .and(query_param("min_id", "230"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "accounts": [], "hashtags": [], "statuses": []
        })))
        .mount(&server)
        .await;

    let source = source_for(&server, &[], &["acme coffee"], None);
    let first = source.poll(None).await.unwrap();
    assert_eq!(
        ids(&first.items),
        vec!["150", "200"],
        "a reblog stands for the reblogged status"
    );
    let reblogged = &first.items[0];
    assert_eq!(
        reblogged.author.as_ref().unwrap().handle.as_deref(),
        Some("bob@other.example")
    );
    assert_eq!(reblogged.in_reply_to.as_deref(), Some("149"));
    assert_eq!(
        reblogged.url.as_deref(),
        Some("https://mastodon.example/users/ann/statuses/150"),
        "no url: the uri stands in"
    );
    assert_eq!(reblogged.title.as_deref(), Some("coffee talk"));
    let cursor: Value = serde_json::from_str(first.cursor.as_deref().unwrap()).unwrap();
    assert_eq!(
        cursor["search"]["acme coffee"], "210",
        "paging follows the outer (reblog) id"
    );

    let second = source.poll(first.cursor.as_deref()).await.unwrap();
    assert_eq!(ids(&second.items), vec!["230"]);
    assert_eq!(second.warnings.len(), 1, "{:?}", second.warnings);
    assert!(second.warnings[0].contains("220"), "{:?}", second.warnings);
}

#[tokio::test]
async fn rate_limit_headers_stop_the_poll_with_a_warning() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v1/timelines/tag/first"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([status("11")]))
                .insert_header("x-ratelimit-limit", "300")
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", "2026-03-04T10:20:00.000Z"),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/v1/timelines/tag/second"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([status("12")])))
        .expect(0)
        .mount(&server)
        .await;
    let outcome = source_for(&server, &["first", "second"], &[], None)
        .poll(None)
        .await
        .unwrap();
    assert_eq!(ids(&outcome.items), vec!["11"]);
    assert_eq!(outcome.warnings.len(), 1);
    assert!(
        outcome.warnings[0].contains("2026-03-04T10:20:00.000Z"),
        "{:?}",
        outcome.warnings
    );
    let cursor: Value = serde_json::from_str(outcome.cursor.as_deref().unwrap()).unwrap();
    assert_eq!(cursor["hashtags"]["first"], "11");
    assert!(cursor["hashtags"].get("second").is_none());
}

#[tokio::test]
async fn too_many_requests_honours_retry_after() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v1/timelines/tag/acme"))
        .respond_with(
            ResponseTemplate::new(429)
                .set_body_json(json!({"error": "Too many requests"}))
                .insert_header("retry-after", "42")
                .insert_header("x-ratelimit-limit", "300")
                .insert_header("x-ratelimit-remaining", "0"),
        )
        .mount(&server)
        .await;
    match source_for(&server, &["acme"], &[], None)
        .poll(None)
        .await
        .unwrap_err()
    {
        SourceError::RateLimited {
            retry_after,
            source_name,
        } => {
            assert_eq!(retry_after, Duration::from_secs(42));
            assert_eq!(source_name, "masto");
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
}

#[tokio::test]
async fn too_many_requests_after_some_streams_keeps_their_items() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v1/timelines/tag/first"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([status("31")])))
        .mount(&server)
        .await;
    Mock::given(path("/api/v1/timelines/tag/second"))
        .respond_with(
            ResponseTemplate::new(429).set_body_json(json!({"error": "Too many requests"})),
        )
        .mount(&server)
        .await;
    let outcome = source_for(&server, &["first", "second"], &[], None)
        .poll(None)
        .await
        .unwrap();
    assert_eq!(ids(&outcome.items), vec!["31"]);
    assert!(
        outcome.warnings[0].contains("retry after 60 s"),
        "{:?}",
        outcome.warnings
    );
}

#[tokio::test]
async fn invalid_token_is_an_auth_error_with_the_server_message() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v1/timelines/tag/acme"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"error": "The access token is invalid"})),
        )
        .mount(&server)
        .await;
    let error = source_for(&server, &["acme"], &[], Some("expired"))
        .poll(None)
        .await
        .unwrap_err();
    assert!(matches!(error, SourceError::Auth { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "masto: authentication failed: HTTP 401: The access token is invalid"
    );
}

#[tokio::test]
async fn server_errors_and_bad_bodies_are_reported() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v1/timelines/tag/down"))
        .respond_with(
            ResponseTemplate::new(503)
                .set_body_string("<html><body>Mastodon is down for maintenance</body></html>"),
        )
        .mount(&server)
        .await;
    Mock::given(path("/api/v1/timelines/tag/odd"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"not\": \"an array\"}"))
        .mount(&server)
        .await;
    let error = source_for(&server, &["down"], &[], None)
        .poll(None)
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, SourceError::Http { .. }), "{error:?}");
    assert!(
        message.contains("503") && message.contains("down for maintenance"),
        "{message}"
    );

    let error = source_for(&server, &["odd"], &[], None)
        .poll(None)
        .await
        .unwrap_err();
    assert!(matches!(error, SourceError::Malformed { .. }), "{error:?}");
    assert!(
        error.to_string().contains("/api/v1/timelines/tag/odd"),
        "{error}"
    );
}

#[tokio::test]
async fn token_from_the_environment_is_sent() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v1/timelines/tag/acme"))
        .and(header("authorization", "Bearer from-env-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([status("5")])))
        .expect(1)
        .mount(&server)
        .await;
    std::env::set_var("EARSHOT_TEST_MASTODON_TOKEN", "from-env-token");
    let outcome = source_for(
        &server,
        &["acme"],
        &[],
        Some("env:EARSHOT_TEST_MASTODON_TOKEN"),
    )
    .poll(None)
    .await
    .unwrap();
    assert_eq!(ids(&outcome.items), vec!["5"]);
}
