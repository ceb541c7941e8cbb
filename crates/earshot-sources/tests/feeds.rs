//! Feed sources against a local HTTP server serving real-world-shaped feeds.

use earshot_core::{SourceConfig, SourceKind};
use earshot_sources::{build_source, HttpClient, Source, SourceError};
use std::time::Duration;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn fixture(name: &str, base: &str) -> Vec<u8> {
    let bytes = std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap_or_else(|e| panic!("fixture {name}: {e}"));
    // Only UTF-8 fixtures carry the placeholder; others pass through byte for byte.
    match String::from_utf8(bytes.clone()) {
        Ok(text) => text.replace("{{BASE}}", base).into_bytes(),
        Err(_) => bytes,
    }
}

fn feed_source(server: &MockServer, feed_path: &str, follow_comments: bool) -> Box<dyn Source> {
    feed_source_with_timeout(server, feed_path, follow_comments, Duration::from_secs(10))
}

fn feed_source_with_timeout(
    server: &MockServer,
    feed_path: &str,
    follow_comments: bool,
    timeout: Duration,
) -> Box<dyn Source> {
    let mut config = SourceConfig::new("blog", SourceKind::Feed);
    config.url = Some(format!("{}{feed_path}", server.uri()));
    config.follow_comments = follow_comments;
    build_source(&config, &HttpClient::new(timeout).unwrap()).unwrap()
}

async fn serve(server: &MockServer, at: &str, body: Vec<u8>, content_type: &str) {
    Mock::given(method("GET"))
        .and(path(at))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, content_type))
        .mount(server)
        .await;
}

#[tokio::test]
async fn wordpress_feed_with_comment_feeds() {
    let server = MockServer::start().await;
    let base = server.uri();
    serve(
        &server,
        "/feed/",
        fixture("wordpress_rss2.xml", &base),
        "application/rss+xml; charset=UTF-8",
    )
    .await;
    serve(
        &server,
        "/2026/03/03/ethiopian-roast/feed/",
        fixture("wordpress_comments.xml", &base),
        "application/rss+xml; charset=UTF-8",
    )
    .await;
    // The second post's comment feed is broken: a warning, the rest goes on.
    Mock::given(method("GET"))
        .and(path("/2026/02/27/closed-for-inventory/feed/"))
        .respond_with(ResponseTemplate::new(500).set_body_string("database error"))
        .mount(&server)
        .await;

    let source = feed_source(&server, "/feed/", true);
    let outcome = source.poll(None).await.unwrap();
    let ids: Vec<_> = outcome
        .items
        .iter()
        .map(|m| m.external_id.clone().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![
            format!("{base}/?p=412"),
            format!("{base}/?p=405"),
            format!("{base}/?p=412#comment-901"),
            format!("{base}/?p=412#comment-902"),
        ]
    );
    let post = &outcome.items[0];
    assert_eq!(post.source, "blog");
    assert_eq!(
        post.url.as_deref(),
        Some(format!("{base}/2026/03/03/ethiopian-roast/").as_str())
    );
    assert_eq!(
        post.title.as_deref(),
        Some("Our new Ethiopian roast – first impressions")
    );
    assert!(
        post.text.contains("<strong>Acme</strong> roast"),
        "content:encoded wins over description: {}",
        post.text
    );
    assert!(post.is_html);
    assert_eq!(post.published_at.to_rfc3339(), "2026-03-03T09:12:44+00:00");
    assert_eq!(
        post.author.as_ref().unwrap().name.as_deref(),
        Some("Maria Lopez")
    );
    assert_eq!(post.in_reply_to, None);

    let comment = &outcome.items[2];
    assert_eq!(
        comment.in_reply_to.as_deref(),
        Some(format!("{base}/?p=412").as_str())
    );
    assert_eq!(
        comment.author.as_ref().unwrap().name.as_deref(),
        Some("Dmitri")
    );
    assert!(comment.text.contains("Too acidic"));
    // A comment without content:encoded falls back to its description.
    assert_eq!(outcome.items[3].text, "Loved it!");

    assert_eq!(outcome.warnings.len(), 1, "{:?}", outcome.warnings);
    assert!(
        outcome.warnings[0].contains("closed-for-inventory/feed/"),
        "{:?}",
        outcome.warnings
    );
    assert!(
        outcome.warnings[0].contains("500"),
        "{:?}",
        outcome.warnings
    );

    // Restart with the persisted cursor: nothing is new, comments included.
    let again = source.poll(outcome.cursor.as_deref()).await.unwrap();
    assert!(again.items.is_empty(), "{:?}", again.items);
}

#[tokio::test]
async fn comments_are_not_fetched_when_not_asked_for() {
    let server = MockServer::start().await;
    serve(
        &server,
        "/feed/",
        fixture("wordpress_rss2.xml", &server.uri()),
        "application/rss+xml",
    )
    .await;
    let outcome = feed_source(&server, "/feed/", false)
        .poll(None)
        .await
        .unwrap();
    assert_eq!(outcome.items.len(), 2);
    assert!(outcome.warnings.is_empty());
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn rss1_atom_and_json_feed_items() {
    let server = MockServer::start().await;
    serve(
        &server,
        "/rss1",
        fixture("rdf_rss1.xml", ""),
        "application/rdf+xml",
    )
    .await;
    serve(
        &server,
        "/atom",
        fixture("atom.xml", ""),
        "application/atom+xml",
    )
    .await;
    serve(
        &server,
        "/json",
        fixture("json_feed.json", ""),
        "application/feed+json",
    )
    .await;

    let rss1 = feed_source(&server, "/rss1", true)
        .poll(None)
        .await
        .unwrap();
    assert_eq!(rss1.items.len(), 2);
    let recall = &rss1.items[0];
    assert_eq!(
        recall.title.as_deref(),
        Some("Acme recalls a batch of grinders")
    );
    assert_eq!(
        recall.url.as_deref(),
        Some("http://news.example.org/2026/acme-recall")
    );
    assert_eq!(
        recall.text,
        "Acme says a faulty switch affects 2,000 units."
    );
    assert_eq!(
        recall.published_at.to_rfc3339(),
        "2026-03-01T07:30:00+00:00"
    );
    assert_eq!(
        recall.author.as_ref().unwrap().name.as_deref(),
        Some("Jon Reporter")
    );
    assert_ne!(rss1.items[0].external_id, rss1.items[1].external_id);

    let atom = feed_source(&server, "/atom", true)
        .poll(None)
        .await
        .unwrap();
    assert_eq!(atom.items.len(), 2);
    let post = &atom.items[0];
    assert_eq!(
        post.external_id.as_deref(),
        Some("tag:barista.example,2026:post-17")
    );
    assert_eq!(
        post.url.as_deref(),
        Some("https://barista.example/2026/acme-and-friends")
    );
    assert_eq!(post.text, "<p>A long post about <em>Acme</em> beans.</p>");
    assert_eq!(post.published_at.to_rfc3339(), "2026-03-02T09:00:00+00:00");
    let author = post.author.as_ref().unwrap();
    assert_eq!(author.name.as_deref(), Some("Lee Barista"));
    assert_eq!(author.url.as_deref(), Some("https://barista.example/about"));
    // No <published>: <updated> stands in; no <content>: the summary does.
    assert_eq!(
        atom.items[1].published_at.to_rfc3339(),
        "2026-02-20T12:00:00+00:00"
    );
    assert_eq!(atom.items[1].text, "Summary only, no content.");

    let json = feed_source(&server, "/json", true)
        .poll(None)
        .await
        .unwrap();
    assert_eq!(json.items.len(), 2);
    assert_eq!(
        json.items[0].external_id.as_deref(),
        Some("https://sam.example/2026/03/04/acme")
    );
    assert_eq!(
        json.items[0].text,
        "<p>Acme support answered in <b>5 minutes</b>.</p>"
    );
    assert_eq!(
        json.items[0].published_at.to_rfc3339(),
        "2026-03-04T19:02:00+00:00"
    );
    assert_eq!(
        json.items[0].author.as_ref().unwrap().name.as_deref(),
        Some("Sam Writer")
    );
    assert_eq!(json.items[1].external_id.as_deref(), Some("note-2"));
    assert_eq!(json.items[1].text, "A plain note without a title.");
}

#[tokio::test]
async fn windows_1251_feed_is_decoded() {
    let server = MockServer::start().await;
    serve(
        &server,
        "/ru",
        fixture("russian_cp1251.xml", ""),
        "application/rss+xml; charset=windows-1251",
    )
    .await;
    let outcome = feed_source(&server, "/ru", true).poll(None).await.unwrap();
    assert_eq!(outcome.items.len(), 1);
    let item = &outcome.items[0];
    assert_eq!(item.title.as_deref(), Some("Обзор кофемолки Acme"));
    assert_eq!(
        item.text,
        "<p>Кофемолка <b>Acme</b> работает тихо. Рекомендую!</p>"
    );
    assert_eq!(item.published_at.to_rfc3339(), "2026-03-02T07:00:00+00:00");
}

#[tokio::test]
async fn conditional_get_sends_validators_and_304_returns_nothing() {
    let server = MockServer::start().await;
    let etag = "\"5f2b-60a1\"";
    let last_modified = "Tue, 03 Mar 2026 09:12:44 GMT";
    Mock::given(method("GET"))
        .and(path("/feed/"))
        .and(header("if-none-match", etag))
        // HTTP-dates hold a comma, which wiremock's `header` matcher would split on.
        .and(move |request: &wiremock::Request| {
            request
                .headers
                .get("if-modified-since")
                .is_some_and(|v| v.as_bytes() == last_modified.as_bytes())
        })
        .respond_with(ResponseTemplate::new(304).insert_header("etag", etag))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/feed/"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("etag", etag)
                .insert_header("last-modified", last_modified)
                .set_body_raw(fixture("atom.xml", ""), "application/atom+xml"),
        )
        .expect(1)
        .mount(&server)
        .await;

    let source = feed_source(&server, "/feed/", true);
    let first = source.poll(None).await.unwrap();
    assert_eq!(first.items.len(), 2);
    let cursor = first.cursor.unwrap();
    assert!(cursor.contains("5f2b-60a1"), "{cursor}");

    let second = source.poll(Some(&cursor)).await.unwrap();
    assert!(second.items.is_empty());
    assert_eq!(
        second.cursor.as_deref(),
        Some(cursor.as_str()),
        "304 leaves the cursor as it was"
    );
}

#[tokio::test]
async fn only_new_entries_come_after_a_restart() {
    let server = MockServer::start().await;
    let base = server.uri();
    serve(
        &server,
        "/old",
        fixture("wordpress_rss2.xml", &base),
        "application/rss+xml",
    )
    .await;
    let source = feed_source(&server, "/old", false);
    let first = source.poll(None).await.unwrap();
    assert_eq!(first.items.len(), 2);

    // The feed gains a post at the top; the oldest one scrolls off.
    let grown = String::from_utf8(fixture("wordpress_rss2.xml", &base))
        .unwrap()
        .replacen(
            "<item>",
            "<item><title>Brand new</title><link>https://blog.example/new</link><guid>new-post-1</guid><description>new</description></item>\n<item>",
            1,
        );
    let without_oldest = match grown.find("<item>\n\t\t<title>Closed for inventory") {
        Some(start) => {
            let end = grown[start..].find("</item>").unwrap() + start + "</item>".len();
            format!("{}{}", &grown[..start], &grown[end..])
        }
        None => panic!("fixture changed"),
    };
    server.reset().await;
    serve(
        &server,
        "/old",
        without_oldest.into_bytes(),
        "application/rss+xml",
    )
    .await;
    let second = source.poll(first.cursor.as_deref()).await.unwrap();
    let ids: Vec<_> = second
        .items
        .iter()
        .map(|m| m.external_id.as_deref().unwrap())
        .collect();
    assert_eq!(ids, vec!["new-post-1"]);
}

#[tokio::test]
async fn broken_feeds_are_malformed_errors_naming_the_source() {
    let server = MockServer::start().await;
    serve(
        &server,
        "/truncated",
        fixture("truncated.xml", "https://blog.example"),
        "application/rss+xml",
    )
    .await;
    serve(
        &server,
        "/html",
        fixture("html_page.html", ""),
        "text/html; charset=utf-8",
    )
    .await;

    for (at, expected) in [
        ("/truncated", "not a valid feed"),
        ("/html", "HTML page, not a feed"),
    ] {
        let error = feed_source(&server, at, true).poll(None).await.unwrap_err();
        assert!(
            matches!(error, SourceError::Malformed { .. }),
            "{at}: {error:?}"
        );
        let message = error.to_string();
        assert!(message.starts_with("blog: malformed response"), "{message}");
        assert!(message.contains(at), "names the URL: {message}");
        assert!(message.contains(expected), "{message}");
    }
}

#[tokio::test]
async fn invalid_utf8_bytes_do_not_stop_the_feed() {
    let server = MockServer::start().await;
    serve(
        &server,
        "/bad",
        fixture("invalid_utf8.xml", ""),
        "application/rss+xml",
    )
    .await;
    let outcome = feed_source(&server, "/bad", true).poll(None).await.unwrap();
    // Undecodable bytes become U+FFFD with a warning; the item is still read.
    assert_eq!(outcome.items.len(), 1);
    assert_eq!(outcome.warnings.len(), 1, "{:?}", outcome.warnings);
    assert!(
        outcome.warnings[0].contains("invalid UTF-8"),
        "{:?}",
        outcome.warnings
    );
    assert!(
        outcome.warnings[0].contains("/bad"),
        "{:?}",
        outcome.warnings
    );
    let item = &outcome.items[0];
    assert!(
        item.title.as_deref().unwrap().contains('\u{FFFD}'),
        "{:?}",
        item.title
    );
    assert!(item.text.starts_with("Acme"), "{}", item.text);
}

#[tokio::test]
async fn http_failures_become_clear_errors() {
    let server = MockServer::start().await;
    Mock::given(path("/gone"))
        .respond_with(ResponseTemplate::new(404).set_body_string("<h1>Not Found</h1>"))
        .mount(&server)
        .await;
    Mock::given(path("/busy"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "120"))
        .mount(&server)
        .await;
    Mock::given(path("/private"))
        .respond_with(ResponseTemplate::new(403).set_body_string("Forbidden"))
        .mount(&server)
        .await;

    let error = feed_source(&server, "/gone", true)
        .poll(None)
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, SourceError::Http { .. }), "{error:?}");
    assert!(
        message.contains("404") && message.contains("Not Found"),
        "{message}"
    );

    match feed_source(&server, "/busy", true)
        .poll(None)
        .await
        .unwrap_err()
    {
        SourceError::RateLimited {
            source_name,
            retry_after,
        } => {
            assert_eq!(source_name, "blog");
            assert_eq!(retry_after, Duration::from_secs(120));
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    let error = feed_source(&server, "/private", true)
        .poll(None)
        .await
        .unwrap_err();
    assert!(matches!(error, SourceError::Auth { .. }), "{error:?}");
}

#[tokio::test]
async fn a_hanging_server_hits_the_timeout() {
    let server = MockServer::start().await;
    Mock::given(path("/slow"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_delay(Duration::from_secs(5))
                .set_body_raw(fixture("atom.xml", ""), "application/atom+xml"),
        )
        .mount(&server)
        .await;
    let source = feed_source_with_timeout(&server, "/slow", true, Duration::from_millis(300));
    let error = source.poll(None).await.unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, SourceError::Http { .. }), "{error:?}");
    assert!(message.contains("timed out"), "{message}");
    assert!(message.contains("/slow"), "{message}");
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let server = MockServer::start().await;
    serve(&server, "/big", vec![b' '; 4096], "application/rss+xml").await;
    let mut config = SourceConfig::new("blog", SourceKind::Feed);
    config.url = Some(format!("{}/big", server.uri()));
    let http = HttpClient::new(Duration::from_secs(5))
        .unwrap()
        .with_max_body_bytes(1024);
    let error = build_source(&config, &http)
        .unwrap()
        .poll(None)
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("larger than the 1024 byte limit"),
        "{error}"
    );
}

#[tokio::test]
async fn unreachable_server_is_a_connection_error() {
    // Bind then drop a listener so the port is (almost certainly) closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = SourceConfig::new("blog", SourceKind::Feed);
    config.url = Some(format!("http://127.0.0.1:{port}/feed"));
    let source = build_source(&config, &HttpClient::new(Duration::from_secs(5)).unwrap()).unwrap();
    let message = source.poll(None).await.unwrap_err().to_string();
    assert!(message.contains("could not connect"), "{message}");
}
