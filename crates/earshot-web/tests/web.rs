//! The web layer over a real SQLite store in a temporary workspace, driven through the
//! router as a client would drive it.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use chrono::{DateTime, Utc};
use earshot_core::Role;
use earshot_core::{Author, Config, MentionId, NewMention, SourceConfig, SourceKind};
use earshot_store::{AnalysisStore, AuthStore, NewUser, SourceProgress, SqliteStore, Store};
use earshot_web::{router, WebState};
use futures::StreamExt;
use serde_json::Value;
use tower::ServiceExt;

struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    config: Arc<RwLock<Config>>,
    app: Router,
    /// `Cookie` value of a signed-in viewer (the app below sends it with every request).
    session_cookie: String,
    /// Bearer token of an agent, for the API calls that change something.
    agent_token: String,
}

/// A viewer signed in, and the app sending their session cookie with every request: these
/// tests are about what pages show (access itself is tested in tests/security.rs).
async fn signed_in(store: &SqliteStore, config: &Config) -> String {
    let user = store
        .create_user(NewUser {
            name: "viewer".into(),
            display_name: None,
            role: Role::Viewer,
            password_hash: None,
            created_at: Utc::now(),
        })
        .await
        .expect("create user");
    let secrets =
        earshot_web::auth::start_session(store, user.id, "test", &config.auth, Utc::now())
            .await
            .expect("start session");
    format!("{}={}", earshot_web::auth::SESSION_COOKIE, secrets.id)
}

fn with_cookie(app: Router, cookie: String) -> Router {
    app.layer(axum::middleware::map_request(
        move |mut request: axum::extract::Request| {
            let cookie = cookie.clone();
            async move {
                request
                    .headers_mut()
                    .append(header::COOKIE, cookie.parse().unwrap());
                request
            }
        },
    ))
}

async fn fixture(config: Config) -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(SqliteStore::open(dir.path()).await.expect("open store"));
    let session_cookie = signed_in(&store, &config).await;
    let agent = store
        .create_user(NewUser {
            name: "agent".into(),
            display_name: None,
            role: Role::Agent,
            password_hash: None,
            created_at: Utc::now(),
        })
        .await
        .expect("create agent");
    let (agent_token, _) =
        earshot_web::auth::issue_token(store.as_ref(), agent.id, "test", Utc::now())
            .await
            .expect("issue token");
    let config = Arc::new(RwLock::new(config));
    let app = router(WebState {
        store: store.clone(),
        config: config.clone(),
        workspace: dir.path().to_path_buf(),
        live_rules: None,
        analyzer: std::sync::Arc::new(earshot_analysis::Analyzer::rules_only()),
    });
    Fixture {
        _dir: dir,
        store,
        config,
        app: with_cookie(app, session_cookie.clone()),
        session_cookie,
        agent_token,
    }
}

fn zeltron_config() -> Config {
    let mut config = Config::default();
    config.add_brand_query("Zeltron", "Zeltron OR Зелтрон OR Ζέλτρον", false);
    config.add_brand_query("Quorp", "Quorp", true);
    let mut feed = SourceConfig::new("tech-feed", SourceKind::Feed);
    feed.url = Some("https://news.example/feed.xml".into());
    feed.interval_secs = 600;
    config.add_source(feed).unwrap();
    config
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .with_timezone(&Utc)
}

fn mention(
    external_id: &str,
    text: &str,
    lang: &str,
    brands: &[&str],
    published: &str,
) -> NewMention {
    NewMention {
        source: "tech-feed".into(),
        external_id: Some(external_id.into()),
        url: Some(format!("https://news.example/{external_id}")),
        canonical_url: Some(format!("https://news.example/{external_id}")),
        title: None,
        text: text.into(),
        links: Vec::new(),
        published_at: at(published),
        author: Some(Author {
            handle: Some(format!("@{external_id}")),
            name: Some(format!("Author {external_id}")),
            url: Some(format!("https://social.example/@{external_id}")),
            followers: Some(10),
        }),
        lang: lang.into(),
        in_reply_to: None,
        brands: brands.iter().map(|b| b.to_string()).collect(),
        // Distinct per mention, so the store's near-duplicate logic sees different texts.
        fingerprint: text
            .bytes()
            .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64)),
        duplicate_of: None,
        analysis: None,
    }
}

async fn write(store: &SqliteStore, mentions: Vec<NewMention>) -> Vec<MentionId> {
    store
        .write_batch(mentions, None)
        .await
        .expect("write")
        .inserted
}

/// Four mentions: two Zeltron in Russian and Greek, one Quorp in English, one English copy.
async fn seeded() -> (Fixture, Vec<MentionId>) {
    let f = fixture(zeltron_config()).await;
    let ids = write(
        &f.store,
        vec![
            mention(
                "1",
                "Зелтрон снова подорожал",
                "ru",
                &["Zeltron"],
                "2026-01-10T10:00:00Z",
            ),
            mention(
                "2",
                "Το Ζέλτρον είναι καλό",
                "el",
                &["Zeltron"],
                "2026-01-11T10:00:00Z",
            ),
            mention(
                "3",
                "Quorp launches a new phone",
                "en",
                &["Quorp"],
                "2026-01-12T10:00:00Z",
            ),
        ],
    )
    .await;
    let mut copy = mention(
        "4",
        "Quorp launches a new phone!",
        "en",
        &["Quorp"],
        "2026-01-13T10:00:00Z",
    );
    copy.duplicate_of = Some(ids[2]);
    let more = write(&f.store, vec![copy]).await;
    let all = ids.into_iter().chain(more).collect();
    (f, all)
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

async fn get_with(app: &Router, uri: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = Request::get(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .expect("router answers");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    Answer {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).expect("utf-8 body"),
    }
}

async fn get(app: &Router, uri: &str) -> Answer {
    get_with(app, uri, &[]).await
}

fn ids_of(answer: &Answer) -> Vec<i64> {
    answer.json()["mentions"]
        .as_array()
        .expect("mentions array")
        .iter()
        .map(|m| m["id"].as_i64().expect("id"))
        .collect()
}

/// Reads a live stream until `done` says the text so far is enough. The timeout only keeps a
/// broken stream from hanging the test run; nothing is asserted about timing.
async fn read_stream_until(
    response: axum::response::Response,
    done: impl Fn(&str) -> bool,
) -> String {
    let mut body = response.into_body().into_data_stream();
    let mut text = String::new();
    let reading = async {
        while let Some(chunk) = body.next().await {
            text.push_str(std::str::from_utf8(&chunk.expect("stream chunk")).unwrap());
            if done(&text) {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), reading)
        .await
        .expect("the stream delivered what was expected");
    text
}

async fn open_stream(app: &Router, uri: &str) -> axum::response::Response {
    let response = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/event-stream"
    );
    response
}

#[tokio::test]
async fn api_filters_narrow_the_mentions() {
    let (f, ids) = seeded().await;
    let id = |i: usize| ids[i].0;
    assert_eq!(
        ids_of(&get(&f.app, "/api/mentions").await),
        vec![id(3), id(2), id(1), id(0)]
    );
    assert_eq!(
        ids_of(&get(&f.app, "/api/mentions?brand=Zeltron").await),
        vec![id(1), id(0)]
    );
    assert_eq!(
        ids_of(&get(&f.app, "/api/mentions?lang=el").await),
        vec![id(1)]
    );
    assert_eq!(
        ids_of(&get(&f.app, "/api/mentions?since=2026-01-11&until=2026-01-12").await),
        vec![id(2), id(1)],
        "a date `until` covers that whole day"
    );
    assert_eq!(
        ids_of(&get(&f.app, "/api/mentions?until=2026-01-11T10:00:00Z").await),
        vec![id(0)],
        "until is exclusive"
    );
    assert_eq!(
        ids_of(&get(&f.app, "/api/mentions?hide_duplicates=true&brand=Quorp").await),
        vec![id(2)]
    );
    assert_eq!(
        ids_of(&get(&f.app, "/api/mentions?source=elsewhere").await),
        Vec::<i64>::new()
    );
    // Full-text search folds and stems: "зелтрон" finds the Russian mention.
    assert_eq!(
        ids_of(
            &get(
                &f.app,
                "/api/mentions?q=%D0%B7%D0%B5%D0%BB%D1%82%D1%80%D0%BE%D0%BD"
            )
            .await
        ),
        vec![id(0)]
    );
    assert_eq!(
        ids_of(
            &get(
                &f.app,
                "/api/mentions?q=phone%20AND%20NOT%20Zeltron&hide_duplicates=1"
            )
            .await
        ),
        vec![id(2)]
    );
}

#[tokio::test]
async fn api_mentions_use_the_interchange_format() {
    let (f, ids) = seeded().await;
    let answer = get(&f.app, &format!("/api/mentions/{}", ids[3].0)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers[header::CONTENT_TYPE], "application/json");
    let m = answer.json();
    assert_eq!(m["id"], ids[3].0);
    assert_eq!(m["source"], "tech-feed");
    assert_eq!(m["external_id"], "4");
    assert_eq!(m["text"], "Quorp launches a new phone!");
    assert_eq!(m["published_at"], "2026-01-13T10:00:00+00:00");
    assert_eq!(m["lang"], "en");
    assert_eq!(m["brands"], serde_json::json!(["Quorp"]));
    assert_eq!(m["duplicate_of"], ids[2].0);
    assert_eq!(m["author"]["handle"], "@4");
    assert_eq!(m["author"]["followers"], 10);
    // What the API answers imports back: it parses as an interchange line.
    let line: earshot_core::InterchangeMention = serde_json::from_value(m).unwrap();
    assert!(line.into_incoming("x").is_ok());

    let page = get(&f.app, "/api/mentions?limit=1").await.json();
    let keys: Vec<&str> = page
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, vec!["mentions", "next_cursor"]);
    assert!(page["next_cursor"].is_string());
}

#[tokio::test]
async fn api_pages_through_everything_once() {
    let f = fixture(zeltron_config()).await;
    let batch = (0..7)
        .map(|i| {
            mention(
                &format!("p{i}"),
                &format!("Zeltron post number {i}"),
                "en",
                &["Zeltron"],
                &format!("2026-02-0{}T12:00:00Z", i + 1),
            )
        })
        .collect();
    let written = write(&f.store, batch).await;
    for base in [
        "/api/mentions?limit=3",
        "/api/mentions?limit=3&q=zeltron&sort=relevance",
    ] {
        let mut seen = Vec::new();
        let mut uri = base.to_string();
        let mut pages = 0;
        loop {
            let answer = get(&f.app, &uri).await;
            assert_eq!(answer.status, StatusCode::OK, "{uri}: {}", answer.body);
            let page = answer.json();
            let ids = ids_of(&answer);
            assert!(ids.len() <= 3);
            seen.extend(ids);
            pages += 1;
            match page["next_cursor"].as_str() {
                Some(cursor) => uri = format!("{base}&cursor={cursor}"),
                None => break,
            }
            assert!(pages < 10, "paging does not end");
        }
        let mut expected: Vec<i64> = written.iter().map(|id| id.0).collect();
        if base.ends_with("limit=3") {
            expected.reverse();
            assert_eq!(seen, expected, "newest first, each once");
        } else {
            seen.sort();
            assert_eq!(seen, expected, "each once");
        }
    }
}

#[tokio::test]
async fn api_errors_are_json_with_the_right_status() {
    let (f, _) = seeded().await;
    let cases = [
        (
            "/api/mentions?q=Zeltron%20AND%20(",
            StatusCode::BAD_REQUEST,
            "column",
        ),
        (
            "/api/mentions?cursor=not-a-cursor",
            StatusCode::BAD_REQUEST,
            "cursor",
        ),
        ("/api/mentions?limit=1000", StatusCode::BAD_REQUEST, "limit"),
        ("/api/mentions?sort=oldest", StatusCode::BAD_REQUEST, "sort"),
        (
            "/api/mentions?since=last%20week",
            StatusCode::BAD_REQUEST,
            "since",
        ),
        ("/api/mentions/abc", StatusCode::BAD_REQUEST, "abc"),
        ("/api/mentions/999999", StatusCode::NOT_FOUND, "999999"),
        (
            "/api/nothing-here",
            StatusCode::NOT_FOUND,
            "/api/nothing-here",
        ),
    ];
    for (uri, status, mentioned) in cases {
        let answer = get(&f.app, uri).await;
        assert_eq!(answer.status, status, "{uri}: {}", answer.body);
        assert_eq!(
            answer.headers[header::CONTENT_TYPE],
            "application/json",
            "{uri}"
        );
        let body = answer.json();
        let message = body["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{uri}: {body}"));
        assert!(message.contains(mentioned), "{uri}: {message}");
        assert_eq!(body.as_object().unwrap().len(), 1);
    }
}

#[tokio::test]
async fn api_sources_brands_and_stats() {
    let (f, _) = seeded().await;
    f.store
        .write_batch(
            Vec::new(),
            Some(SourceProgress {
                name: "tech-feed".into(),
                cursor: Some("{}".into()),
                items_seen: 12,
                success_at: Some(at("2026-01-14T08:00:00Z")),
            }),
        )
        .await
        .unwrap();
    f.store
        .record_source_error(
            "tech-feed",
            "HTTP 503 from news.example",
            at("2026-01-14T09:00:00Z"),
        )
        .await
        .unwrap();
    let sources = get(&f.app, "/api/sources").await.json();
    let feed = &sources[0];
    assert_eq!(feed["name"], "tech-feed");
    assert_eq!(feed["kind"], "feed");
    assert_eq!(feed["interval_secs"], 600);
    assert_eq!(feed["items_seen"], 12);
    assert_eq!(feed["last_error"], "HTTP 503 from news.example");
    assert_eq!(feed["last_success_at"], "2026-01-14T08:00:00Z");

    let brands = get(&f.app, "/api/brands").await.json();
    assert_eq!(brands[0]["name"], "Zeltron");
    assert_eq!(brands[0]["competitor"], false);
    assert_eq!(brands[0]["queries"][0], "Zeltron OR Зелтрон OR Ζέλτρον");
    assert_eq!(brands[1]["competitor"], true);

    let stats = get(&f.app, "/api/stats").await.json();
    assert!(stats["mentions"].as_u64().unwrap() >= 3);
    let per_lang = stats["per_lang"].as_array().unwrap();
    assert!(
        per_lang
            .iter()
            .any(|c| c["name"] == "el" && c["count"] == 1),
        "{stats}"
    );
}

#[tokio::test]
async fn openapi_document_describes_every_endpoint() {
    let (f, ids) = seeded().await;
    let answer = get(&f.app, "/api/openapi.json").await;
    assert_eq!(answer.status, StatusCode::OK);
    let doc = answer.json();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/api/mentions",
        "/api/mentions/{id}",
        "/api/sources",
        "/api/brands",
        "/api/stats",
    ] {
        assert!(
            paths[path]["get"]["responses"]["200"].is_object(),
            "{path} missing"
        );
    }
    let params: Vec<&str> = paths["/api/mentions"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for name in [
        "q",
        "brand",
        "lang",
        "source",
        "since",
        "until",
        "sort",
        "limit",
        "cursor",
        "hide_duplicates",
    ] {
        assert!(
            params.contains(&name),
            "parameter {name} undocumented: {params:?}"
        );
    }
    // Every reference points at a schema that exists.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let text = doc.to_string();
    for (start, _) in text.match_indices("#/components/schemas/") {
        let name: String = text[start + 21..]
            .chars()
            .take_while(|c| *c != '"')
            .collect();
        assert!(schemas.contains_key(&name), "dangling reference to {name}");
    }
    // The described mention has every field a real answer carries.
    let described = schemas["InterchangeMention"]["properties"]
        .as_object()
        .unwrap();
    let real = get(&f.app, &format!("/api/mentions/{}", ids[3].0))
        .await
        .json();
    for key in real.as_object().unwrap().keys() {
        assert!(
            described.contains_key(key),
            "field {key} is not in the schema"
        );
    }
}

#[tokio::test]
async fn pages_show_and_filter_mentions() {
    let (f, ids) = seeded().await;
    let root = get(&f.app, "/?lang=ru").await;
    assert_eq!(root.status, StatusCode::SEE_OTHER);
    assert_eq!(root.headers[header::LOCATION], "/mentions?lang=ru");

    let page = get(&f.app, "/mentions").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    for text in [
        "Зелтрон снова подорожал",
        "Το Ζέλτρον είναι καλό",
        "Author 3",
        "tech-feed",
        "2026-01-12 10:00 UTC",
    ] {
        assert!(page.body.contains(text), "{text} missing");
    }
    assert!(
        page.body.contains(&format!("copy of #{}", ids[2].0)),
        "duplicate badge"
    );
    assert!(page
        .body
        .contains(&format!("href=\"/mentions/{}\"", ids[2].0)));
    assert!(
        page.body.contains("data-stream=\"/mentions/stream?after="),
        "live updates wired"
    );

    // `language` filters mentions; `lang` stays the interface language.
    let greek = get(&f.app, "/mentions?language=el").await;
    assert!(greek.body.contains("Το Ζέλτρον είναι καλό"));
    assert!(!greek.body.contains("Зелтрон снова подорожал"));
    let searched = get(&f.app, "/mentions?q=phone&hide_duplicates=1").await;
    assert!(searched.body.contains("Quorp launches a new phone"));
    assert!(!searched.body.contains("Quorp launches a new phone!"));
    assert!(!searched.body.contains("Ζέλτρον είναι"));
    assert!(
        searched.body.contains("value=\"phone\""),
        "the form keeps the query"
    );

    let bad = get(&f.app, "/mentions?q=Zeltron%20AND%20(").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("The search query is not valid"));
    assert!(bad.body.contains("at column"), "{}", bad.body);
    assert!(!bad.body.contains("class=\"mention"));
}

#[tokio::test]
async fn pages_link_to_the_next_page() {
    let f = fixture(zeltron_config()).await;
    let batch = (0..55)
        .map(|i| {
            mention(
                &format!("n{i}"),
                &format!("Zeltron note {i}"),
                "en",
                &["Zeltron"],
                &format!("2026-03-01T{:02}:{:02}:00Z", i / 60, i % 60),
            )
        })
        .collect();
    write(&f.store, batch).await;
    let first = get(&f.app, "/mentions?brand=Zeltron").await;
    assert_eq!(first.body.matches("class=\"mention").count(), 50);
    let start = first
        .body
        .find("id=\"next-page\" href=\"")
        .expect("next link")
        + 21;
    let href = first.body[start..]
        .split('"')
        .next()
        .unwrap()
        .replace("&#38;", "&");
    assert!(
        href.starts_with("/mentions?brand=Zeltron&cursor="),
        "{href}"
    );
    let second = get(&f.app, &href).await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(second.body.matches("class=\"mention").count(), 5);
    assert!(second.body.contains("Zeltron note 0<"));
    assert!(!second.body.contains("id=\"next-page\""));
    assert!(
        !second.body.contains("data-stream"),
        "no live updates on later pages"
    );

    let bad = get(&f.app, "/mentions?cursor=zzz").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("cursor"));
}

#[tokio::test]
async fn detail_page_shows_every_field() {
    let f = fixture(zeltron_config()).await;
    let original = write(
        &f.store,
        vec![mention(
            "o",
            "Zeltron original",
            "en",
            &["Zeltron"],
            "2026-01-01T00:00:00Z",
        )],
    )
    .await;
    let mut copy = mention(
        "c",
        "Zeltron original (repost)",
        "en",
        &["Zeltron"],
        "2026-01-02T03:04:00Z",
    );
    copy.title = Some("Repost title".into());
    copy.links = vec!["https://link.example/a".into()];
    copy.in_reply_to = Some("https://news.example/o".into());
    copy.duplicate_of = Some(original[0]);
    let id = write(&f.store, vec![copy]).await[0];
    let page = get(&f.app, &format!("/mentions/{}", id.0)).await;
    assert_eq!(page.status, StatusCode::OK);
    for text in [
        "Repost title",
        "Zeltron original (repost)",
        "2026-01-02 03:04 UTC",
        "href=\"https://news.example/c\"",
        "href=\"https://social.example/@c\"",
        "href=\"https://link.example/a\"",
        "href=\"https://news.example/o\"",
        "Author c",
        "@c",
        &format!("href=\"/mentions/{}\"", original[0].0),
    ] {
        assert!(page.body.contains(text), "{text} missing");
    }
    let missing = get(&f.app, "/mentions/424242").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.body.contains("no mention #424242"));
    assert_eq!(
        get(&f.app, "/mentions/-1").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get(&f.app, "/no/such/page").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn sources_and_brands_pages() {
    let (f, _) = seeded().await;
    f.store
        .record_source_error(
            "tech-feed",
            "HTTP 503 <b>down</b>",
            at("2026-01-14T09:00:00Z"),
        )
        .await
        .unwrap();
    let sources = get(&f.app, "/sources").await;
    assert_eq!(sources.status, StatusCode::OK);
    for text in [
        "tech-feed",
        "feed",
        "https://news.example/feed.xml",
        "600",
        "HTTP 503 &#60;b&#62;down&#60;/b&#62;",
        "2026-01-14 09:00 UTC",
    ] {
        assert!(sources.body.contains(text), "{text} missing");
    }
    assert!(!sources.body.contains("<b>down"));

    let brands = get(&f.app, "/brands").await;
    assert!(brands.body.contains("Zeltron OR Зелтрон OR Ζέλτρον"));
    let competitors = brands.body.find("Competitors").expect("competitor section");
    assert!(brands.body[competitors..].contains("Quorp"));
    assert!(!brands.body[competitors..].contains("Zeltron OR"));

    // The configuration is read per request, so a reload shows at once.
    f.config
        .write()
        .unwrap()
        .add_brand_query("Vexa", "Vexa", false);
    assert!(get(&f.app, "/brands").await.body.contains("Vexa"));
}

#[tokio::test]
async fn interface_language_is_negotiated() {
    let (f, _) = seeded().await;
    let english = get(&f.app, "/mentions").await;
    assert!(english.body.contains("<html lang=\"en\">"));
    assert!(english.body.contains(">Mentions</a>"));
    assert!(english.headers.get(header::SET_COOKIE).is_none());

    let by_header = get_with(
        &f.app,
        "/mentions",
        &[("accept-language", "de;q=1, ru;q=0.8, en;q=0.5")],
    )
    .await;
    assert!(by_header.body.contains("<html lang=\"ru\">"));
    assert!(by_header.body.contains(">Упоминания</a>"));

    let by_query = get_with(&f.app, "/sources?lang=ru", &[("accept-language", "en")]).await;
    assert!(by_query.body.contains("Источники"));
    let cookie = by_query.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.starts_with("lang=ru;"), "{cookie}");

    let by_cookie = get_with(
        &f.app,
        "/brands",
        &[("cookie", "lang=ru"), ("accept-language", "en")],
    )
    .await;
    assert!(by_cookie.body.contains("Наши бренды"));
    let query_beats_cookie = get_with(&f.app, "/brands?lang=en", &[("cookie", "lang=ru")]).await;
    assert!(query_beats_cookie.body.contains("Our brands"));

    // The switcher keeps the page and its filters.
    let filtered = get(&f.app, "/mentions?language=el").await;
    assert!(
        filtered
            .body
            .contains("href=\"/mentions?language=el&#38;lang=ru\""),
        "{}",
        filtered.body
    );
}

#[tokio::test]
async fn security_headers_on_every_answer() {
    let (f, ids) = seeded().await;
    for uri in [
        "/mentions",
        &format!("/mentions/{}", ids[0].0),
        "/api/mentions",
        "/api/nothing",
        "/assets/app.js",
        "/sources",
    ] {
        let answer = get(&f.app, uri).await;
        let csp = answer.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{uri}: {csp}"
        );
        assert_eq!(
            answer.headers[header::X_CONTENT_TYPE_OPTIONS],
            "nosniff",
            "{uri}"
        );
        assert_eq!(
            answer.headers[header::REFERRER_POLICY],
            "same-origin",
            "{uri}"
        );
    }
    let page = get(&f.app, "/mentions").await;
    assert!(!page.body.contains("<script>"), "no inline script");
    assert!(page
        .body
        .contains("<script src=\"/assets/app.js\" defer></script>"));
    let script = get(&f.app, "/assets/app.js").await;
    assert!(script.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert!(script.body.contains("EventSource"));
}

const SCRIPT: &str = "<script>alert(1)</script>";
const IMG: &str = "\"><img src=x onerror=alert(1)>";

fn assert_inert(what: &str, html: &str) {
    let lower = html.to_lowercase();
    assert!(
        !lower.contains("<script>alert"),
        "{what}: raw script tag\n{html}"
    );
    assert!(!lower.contains("<img"), "{what}: raw img tag\n{html}");
    assert!(
        !lower.contains("href=\"javascript"),
        "{what}: javascript link\n{html}"
    );
}

#[tokio::test]
async fn hostile_text_is_escaped_everywhere() {
    let mut config = zeltron_config();
    config.add_brand_query(IMG, SCRIPT, false);
    let mut hostile_source = SourceConfig::new(SCRIPT, SourceKind::Mastodon);
    hostile_source.url = Some("javascript:alert(1)".into());
    config.add_source(hostile_source).unwrap();
    let f = fixture(config).await;
    f.store
        .record_source_error(SCRIPT, IMG, at("2026-01-14T09:00:00Z"))
        .await
        .unwrap();
    let mut evil = mention("x", SCRIPT, "en", &["Zeltron", IMG], "2026-01-05T00:00:00Z");
    evil.title = Some(IMG.into());
    evil.source = SCRIPT.into();
    evil.url = Some("javascript:alert(1)".into());
    evil.canonical_url = None;
    evil.links = vec!["javascript:alert(1)".into(), IMG.into()];
    evil.in_reply_to = Some(IMG.into());
    evil.author = Some(Author {
        handle: Some(SCRIPT.into()),
        name: Some(IMG.into()),
        url: Some("javascript:alert(1)".into()),
        followers: None,
    });
    let id = write(&f.store, vec![evil]).await[0];

    for uri in [
        "/mentions".to_string(),
        format!("/mentions/{}", id.0),
        "/sources".into(),
        "/brands".into(),
        format!("/mentions?q=alert&source={}", "%3Cscript%3E"),
        "/mentions?q=%3Cscript%3E%20AND%20(".into(),
        format!(
            "/mentions?lang=ru&brand={}",
            "%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E"
        ),
    ] {
        let page = get(&f.app, &uri).await;
        assert_inert(&uri, &page.body);
    }
    let stream_page = get(&f.app, "/mentions").await.body;
    assert!(
        stream_page.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "text shown escaped"
    );
    assert!(
        stream_page.contains("&#34;&#62;&#60;img src=x onerror=alert(1)&#62;"),
        "name shown escaped"
    );
    let detail = get(&f.app, &format!("/mentions/{}", id.0)).await.body;
    assert!(
        detail.contains("<span class=\"inert\">javascript:alert(1)</span>"),
        "bad link shown as text"
    );

    let stream = open_stream(&f.app, "/mentions/stream?after=0").await;
    let events = read_stream_until(stream, |t| {
        t.contains("event: mention") && t.ends_with("\n\n")
    })
    .await;
    assert!(events.contains(&format!("id=\"mention-{}\"", id.0)));
    assert!(events.contains("&#60;script&#62;alert(1)&#60;/script&#62;"));
    assert_inert("stream", &events);
}

#[tokio::test]
async fn stream_sends_new_mentions_that_pass_the_filters() {
    let (f, ids) = seeded().await;
    // From the start: only the Greek mention passes `language=el`.
    let stream = open_stream(&f.app, "/mentions/stream?after=0&language=el").await;
    let text = read_stream_until(stream, |t| t.contains("event: mention")).await;
    assert!(text.contains(&format!("id: {}", ids[1].0)), "{text}");
    assert!(text.contains("Το Ζέλτρον είναι καλό"));
    assert!(!text.contains("Зелтрон"));

    // Without `after` the stream starts at the newest stored mention: only later ones come.
    let stream = open_stream(&f.app, "/mentions/stream?brand=Zeltron&lang=ru").await;
    let later = write(
        &f.store,
        vec![
            mention("5", "Quorp again", "en", &["Quorp"], "2026-01-20T10:00:00Z"),
            mention(
                "6",
                "Zeltron is back",
                "en",
                &["Zeltron"],
                "2026-01-21T10:00:00Z",
            ),
        ],
    )
    .await;
    let text = read_stream_until(stream, |t| t.contains("event: mention")).await;
    assert!(text.contains(&format!("id: {}", later[1].0)), "{text}");
    assert!(text.contains("Zeltron is back"));
    assert!(text.contains("Подробнее"), "rendered in Russian: {text}");
    assert!(!text.contains("Quorp again"));
    for old in &ids {
        assert!(!text.contains(&format!("id=\"mention-{}\"", old.0)));
    }

    let bad = get(&f.app, "/mentions/stream?q=%22unclosed").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("`q`"));
    assert_eq!(
        get(&f.app, "/mentions/stream?after=x").await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn serve_ends_open_streams_on_shutdown() {
    let (f, _) = seeded().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let state = WebState {
        store: f.store.clone(),
        config: f.config.clone(),
        workspace: std::env::temp_dir(),
        live_rules: None,
        analyzer: std::sync::Arc::new(earshot_analysis::Analyzer::rules_only()),
    };
    let server = tokio::spawn(earshot_web::serve(listener, state, async {
        let _ = stopped.await;
    }));
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
    client
        .write_all(
            format!(
                "GET /mentions/stream?after=0 HTTP/1.1\r\nHost: x\r\nCookie: {}\r\n\r\n",
                f.session_cookie
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("event: mention") {
        let n = client.read(&mut buf).await.unwrap();
        assert!(n > 0, "stream closed early");
        seen.extend_from_slice(&buf[..n]);
    }
    stop.send(()).unwrap();
    let result = tokio::time::timeout(Duration::from_secs(60), server)
        .await
        .expect("the server stopped although a stream was open");
    result.unwrap().unwrap();
}

async fn post_json(f: &Fixture, uri: &str, body: &str) -> Answer {
    let response = f
        .app
        .clone()
        .oneshot(
            Request::post(uri)
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::AUTHORIZATION, format!("Bearer {}", f.agent_token))
                .body(Body::from(body.to_owned()))
                .unwrap(),
        )
        .await
        .expect("router answers");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    Answer {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).expect("utf-8 body"),
    }
}

fn analysed(mut m: NewMention, sentiment: &str, intents: &[&str]) -> NewMention {
    let scored = |label: &str| earshot_core::Scored {
        label: label.into(),
        score: 0.8,
    };
    m.analysis = Some(earshot_core::Analysis {
        lang: m.lang.clone().into(),
        sentiment: Some(scored(sentiment)),
        offensive: Some(scored("NOT")),
        spam: Some(scored("ham")),
        intents: intents.iter().map(|i| scored(i)).collect(),
        targets: Vec::new(),
    });
    m
}

#[tokio::test]
async fn corrections_endpoint_answers_404_422_and_200_and_the_filters_follow() {
    let f = fixture(zeltron_config()).await;
    let ids = write(
        &f.store,
        vec![analysed(
            mention(
                "1",
                "Zeltron broke again",
                "en",
                &["Zeltron"],
                "2026-01-10T10:00:00Z",
            ),
            "negative",
            &["complaint"],
        )],
    )
    .await;
    let uri = format!("/api/mentions/{}/corrections", ids[0].0);

    let missing = post_json(
        &f,
        "/api/mentions/999/corrections",
        r#"{"field":"sentiment","label":"neutral"}"#,
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json()["error"], "no mention with id 999");

    let bad_field = post_json(&f, &uri, r#"{"field":"mood","label":"neutral"}"#).await;
    assert_eq!(bad_field.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad_field.json()["error"]
        .as_str()
        .unwrap()
        .contains("unknown field \"mood\""));

    let bad_label = post_json(&f, &uri, r#"{"field":"sentiment","label":"happy"}"#).await;
    assert_eq!(bad_label.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad_label.json()["error"]
            .as_str()
            .unwrap()
            .contains("expected one of negative, neutral, positive"),
        "{}",
        bad_label.body
    );
    let no_label = post_json(&f, &uri, r#"{"field":"sentiment"}"#).await;
    assert_eq!(no_label.status, StatusCode::UNPROCESSABLE_ENTITY);
    let not_json = post_json(&f, &uri, "field=sentiment").await;
    assert_eq!(not_json.status, StatusCode::BAD_REQUEST);

    let ok = post_json(&f, &uri, r#"{"field":"sentiment","label":"neutral"}"#).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let body = ok.json();
    assert_eq!(body["corrections"]["sentiment"], "neutral");
    assert_eq!(
        body["analysis"]["sentiment"]["label"], "negative",
        "the model's label is kept"
    );
    let recorded = f.store.corrections().await.unwrap();
    assert_eq!(
        recorded.last().and_then(|c| c.by.as_deref()),
        Some("agent"),
        "the correction names who made it"
    );
    let not_complaint = post_json(
        &f,
        &uri,
        r#"{"field":"intent","label":"complaint","present":false}"#,
    )
    .await;
    assert_eq!(not_complaint.status, StatusCode::OK);
    assert_eq!(
        not_complaint.json()["corrections"]["intents"]["complaint"],
        false
    );

    assert_eq!(
        ids_of(&get(&f.app, "/api/mentions?sentiment=neutral").await),
        vec![ids[0].0]
    );
    assert!(ids_of(&get(&f.app, "/api/mentions?sentiment=negative").await).is_empty());
    assert!(ids_of(&get(&f.app, "/api/mentions?intent=complaint").await).is_empty());
    let bad_filter = get(&f.app, "/api/mentions?sentiment=happy").await;
    assert_eq!(bad_filter.status, StatusCode::BAD_REQUEST);
    assert!(bad_filter.json()["error"]
        .as_str()
        .unwrap()
        .contains("parameter `sentiment`"));

    // Documented, with every field the answer carries.
    let doc = get(&f.app, "/api/openapi.json").await.json();
    let operation = &doc["paths"]["/api/mentions/{id}/corrections"]["post"];
    for status in ["200", "404", "422"] {
        assert!(
            operation["responses"][status].is_object(),
            "{status} undocumented"
        );
    }
    let described = doc["components"]["schemas"]["InterchangeMention"]["properties"]
        .as_object()
        .unwrap();
    for key in body.as_object().unwrap().keys() {
        assert!(
            described.contains_key(key),
            "field {key} is not in the schema"
        );
    }
}

#[tokio::test]
async fn analysis_badges_are_translated_marked_when_corrected_and_escaped() {
    let f = fixture(zeltron_config()).await;
    let mut hostile = analysed(
        mention(
            "1",
            "Zeltron again",
            "en",
            &["Zeltron"],
            "2026-01-10T10:00:00Z",
        ),
        "negative",
        &["question"],
    );
    // A label no catalogue knows (say, from a custom model) is shown as text, escaped.
    hostile.analysis.as_mut().unwrap().offensive = Some(earshot_core::Scored {
        label: "<script>alert(1)</script>".into(),
        score: 0.9,
    });
    let ids = write(&f.store, vec![hostile]).await;
    let correction = earshot_core::LabelCorrection::new(
        earshot_core::CorrectionField::Sentiment,
        "positive",
        true,
    )
    .unwrap();
    use earshot_store::AnalysisStore;
    assert!(f
        .store
        .record_correction(ids[0], &correction, None)
        .await
        .unwrap());

    let page = get(&f.app, "/mentions?lang=ru").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("Тональность: позитивная"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("модель считала"),
        "the model's label is shown beside"
    );
    assert!(page.body.contains("Намерение: вопрос"));
    assert!(page
        .body
        .contains("&#60;script&#62;alert(1)&#60;/script&#62;"));
    assert!(!page.body.contains("<script>alert(1)"));

    let detail = get(&f.app, &format!("/mentions/{}", ids[0].0)).await;
    assert!(
        detail.body.contains("Sentiment: positive"),
        "{}",
        detail.body
    );
    assert!(detail.body.contains("Intent: question"));
    assert!(!detail.body.contains("<script>alert(1)"));

    let filtered = get(&f.app, "/mentions?sentiment=negative").await;
    assert!(
        !filtered.body.contains("Zeltron again"),
        "corrected to positive"
    );
    let filtered = get(&f.app, "/mentions?sentiment=positive&intent=question").await;
    assert!(filtered.body.contains("Zeltron again"));
}

/// Every JSON route of the route table is in the OpenAPI document, with its method.
#[tokio::test]
async fn openapi_document_lists_every_api_route_of_the_route_table() {
    let (f, _) = seeded().await;
    let doc = get(&f.app, "/api/openapi.json").await.json();
    let paths = doc["paths"].as_object().unwrap();
    let mut missing = Vec::new();
    for route in earshot_web::route_table() {
        if !route.is_api() || route.path == "/api/openapi.json" {
            continue;
        }
        let method = route.method.as_str().to_ascii_lowercase();
        if !paths
            .get(route.path)
            .is_some_and(|p| p[method.as_str()].is_object())
        {
            missing.push(format!("{} {}", route.method, route.path));
        }
    }
    assert!(missing.is_empty(), "not in /api/openapi.json: {missing:?}");
}
