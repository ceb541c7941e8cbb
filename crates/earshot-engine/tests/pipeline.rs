//! The pipeline and scheduler on a real SQLite workspace, with sources served by local HTTP servers.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use earshot_core::{
    BrandConfig, IncomingMention, MentionFilter, SortOrder, SourceConfig, SourceKind,
};
use earshot_engine::{poll_source_once, Pipeline, Scheduled, Scheduler};
use earshot_sources::{build_source, HttpClient};
use earshot_store::{SqliteStore, Store};
use tokio_util::sync::CancellationToken;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn brands() -> Vec<BrandConfig> {
    vec![
        BrandConfig {
            name: "Zeltron".into(),
            queries: vec!["Zeltron OR Зелтрон OR Ζέλτρον".into()],
            competitor: false,
        },
        BrandConfig {
            name: "Kvantix".into(),
            queries: vec!["Kvantix".into()],
            competitor: true,
        },
    ]
}

fn item(id: &str, text: &str) -> IncomingMention {
    IncomingMention {
        source: "test".into(),
        external_id: Some(id.into()),
        url: None,
        title: None,
        text: text.into(),
        is_html: false,
        published_at: Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap(),
        author: None,
        lang: None,
        in_reply_to: None,
    }
}

async fn open(dir: &std::path::Path) -> (Arc<dyn Store>, Pipeline) {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir).await.unwrap());
    let pipeline = Pipeline::new(store.clone(), &brands()).await.unwrap();
    (store, pipeline)
}

async fn all(store: &Arc<dyn Store>) -> Vec<earshot_core::Mention> {
    store
        .search(&MentionFilter::default(), SortOrder::Newest, None, 1000)
        .await
        .unwrap()
        .mentions
}

#[tokio::test]
async fn matched_items_are_normalized_and_stored_unmatched_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (store, pipeline) = open(dir.path()).await;
    let mut html = item("1", "<p>Мы ушли от Зелтрона к <a href=\"https://kvantix.example/?utm_source=x\">Kvantix</a></p>");
    html.is_html = true;
    let report = pipeline
        .ingest(
            vec![html, item("2", "nothing to see here, just some words")],
            None,
        )
        .await
        .unwrap();
    assert_eq!((report.seen, report.inserted, report.unmatched), (2, 1, 1));
    let stored = all(&store).await;
    assert_eq!(stored.len(), 1);
    let mention = &stored[0];
    assert_eq!(mention.text, "Мы ушли от Зелтрона к Kvantix");
    assert_eq!(
        mention.brands,
        vec!["Kvantix".to_string(), "Zeltron".to_string()],
        "brands come sorted by name"
    );
    assert_eq!(mention.lang, "ru");
    assert_eq!(mention.links, vec!["https://kvantix.example/".to_string()]);
}

#[tokio::test]
async fn reposts_link_to_their_original_within_a_batch_and_across_runs() {
    let dir = tempfile::tempdir().unwrap();
    let original = "Zeltron dropped my calls again this morning, third time this week, anyone else seeing this";
    {
        let (store, pipeline) = open(dir.path()).await;
        let report = pipeline
            .ingest(
                vec![
                    item("1", original),
                    item("2", &format!("RT @someone: {original}")),
                ],
                None,
            )
            .await
            .unwrap();
        assert_eq!((report.inserted, report.near_duplicates), (2, 1));
        let stored = all(&store).await;
        let first = stored
            .iter()
            .find(|m| m.external_id.as_deref() == Some("1"))
            .unwrap();
        let copy = stored
            .iter()
            .find(|m| m.external_id.as_deref() == Some("2"))
            .unwrap();
        assert_eq!(first.duplicate_of, None);
        assert_eq!(copy.duplicate_of, Some(first.id));
    }
    // A new process recognises copies of what earlier runs stored.
    let (store, pipeline) = open(dir.path()).await;
    let report = pipeline
        .ingest(vec![item("3", &format!("{original}!!"))], None)
        .await
        .unwrap();
    assert_eq!(report.near_duplicates, 1);
    // Re-ingesting an original updates it in place and does not make it a copy of itself.
    let report = pipeline
        .ingest(vec![item("1", original)], None)
        .await
        .unwrap();
    assert_eq!((report.inserted, report.updated), (0, 1));
    let stored = all(&store).await;
    assert_eq!(stored.len(), 3);
    let first = stored
        .iter()
        .find(|m| m.external_id.as_deref() == Some("1"))
        .unwrap();
    assert_eq!(first.duplicate_of, None);
}

const FEED: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Reviews</title><id>urn:reviews</id>
<updated>2026-05-02T10:00:00Z</updated>
<entry><id>urn:r:1</id><title>Zeltron fibre review</title><updated>2026-05-01T10:00:00Z</updated>
<link rel="alternate" href="https://reviews.example/1"/><content type="html">&lt;p&gt;Zeltron is fast&lt;/p&gt;</content></entry>
<entry><id>urn:r:2</id><title>Kvantix prices</title><updated>2026-05-02T10:00:00Z</updated>
<link rel="alternate" href="https://reviews.example/2"/><content type="html">Kvantix raised prices</content></entry>
</feed>"#;

fn feed_source(server: &MockServer, route: &str) -> SourceConfig {
    let mut config = SourceConfig::new("reviews", SourceKind::Feed);
    config.url = Some(format!("{}{route}", server.uri()));
    config.follow_comments = false;
    config
}

#[tokio::test]
async fn a_restart_with_the_persisted_cursor_neither_misses_nor_repeats() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/atom"))
        .respond_with(ResponseTemplate::new(200).set_body_string(FEED))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let http = HttpClient::new(Duration::from_secs(5)).unwrap();
    {
        let (store, pipeline) = open(dir.path()).await;
        let source = build_source(&feed_source(&server, "/atom"), &http).unwrap();
        let report = poll_source_once(&pipeline, source.as_ref()).await.unwrap();
        assert_eq!((report.ingest.seen, report.ingest.inserted), (2, 2));
        let state = store.source_state("reviews").await.unwrap().unwrap();
        assert!(state.cursor.is_some());
        assert_eq!((state.health.items_seen, state.health.items_stored), (2, 2));
    }
    let (store, pipeline) = open(dir.path()).await;
    let source = build_source(&feed_source(&server, "/atom"), &http).unwrap();
    let report = poll_source_once(&pipeline, source.as_ref()).await.unwrap();
    assert_eq!(report.ingest.inserted, 0);
    assert_eq!(all(&store).await.len(), 2);
}

#[tokio::test]
async fn a_failing_source_records_its_error_and_keeps_its_cursor() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/down"))
        .respond_with(ResponseTemplate::new(500).set_body_string("oops"))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let (store, pipeline) = open(dir.path()).await;
    let http = HttpClient::new(Duration::from_secs(5)).unwrap();
    let source = build_source(&feed_source(&server, "/down"), &http).unwrap();
    let error = poll_source_once(&pipeline, source.as_ref())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("reviews"), "{error}");
    let state = store.source_state("reviews").await.unwrap().unwrap();
    assert!(state.health.last_error.unwrap().contains("500"));
    assert!(state.health.last_success_at.is_none());
    assert!(state.cursor.is_none());
}

#[tokio::test]
async fn the_scheduler_polls_on_its_interval_until_cancelled() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/atom"))
        .respond_with(ResponseTemplate::new(200).set_body_string(FEED))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let (store, pipeline) = open(dir.path()).await;
    let http = HttpClient::new(Duration::from_secs(5)).unwrap();
    let source = build_source(&feed_source(&server, "/atom"), &http).unwrap();
    let scheduler = Scheduler::new(
        Arc::new(pipeline),
        vec![Scheduled {
            source: Arc::from(source),
            interval: Duration::from_millis(100),
        }],
    );
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(scheduler.run(shutdown.clone()));
    // Wait (bounded) until the server has been polled three times.
    for _ in 0..100 {
        if server.received_requests().await.unwrap().len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .expect("scheduler stops when cancelled")
        .unwrap();
    assert!(server.received_requests().await.unwrap().len() >= 3);
    assert_eq!(
        all(&store).await.len(),
        2,
        "repeated polls store nothing twice"
    );
}

/// A tiny English sentiment model trained here, so the test needs no shipped model.
fn toy_analyzer() -> earshot_analysis::Analyzer {
    use earshot_analysis::{train_examples, Example, FeatureConfig, Task, TrainOptions};
    let example = |text: String, label: &str| Example {
        id: String::new(),
        text,
        label: label.to_owned(),
        lang: Some("en".to_owned()),
    };
    let mut examples = Vec::new();
    for round in 0..6 {
        examples.push(example(format!("I love it, wonderful {round}"), "positive"));
        examples.push(example(format!("awful, I hate it {round}"), "negative"));
        examples.push(example(format!("it is on the table {round}"), "neutral"));
    }
    let options = TrainOptions {
        features: FeatureConfig {
            buckets_log2: 12,
            ..FeatureConfig::default()
        },
        validation_fraction: 0.0,
        max_epochs: 10,
        learning_rate: 0.5,
        ..TrainOptions::default()
    };
    let (model, _) = train_examples(&Task::Sentiment, &examples, &options).unwrap();
    earshot_analysis::Analyzer::from_models(vec![(model, "toy".to_owned())]).unwrap()
}

#[tokio::test]
async fn a_brand_named_by_another_term_of_its_query_gets_its_tone_under_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let (store, pipeline) = open(dir.path()).await;
    let pipeline = pipeline.with_analyzer(Some(Arc::new(toy_analyzer())));
    // Zeltron's query also finds it as "Ζέλτρον"; the text never writes "Zeltron".
    let mut mention = item(
        "alias",
        "The Ζέλτρον update is awful, I hate it. Kvantix is wonderful, I love it",
    );
    mention.lang = Some("en".into());
    pipeline.ingest(vec![mention], None).await.unwrap();
    let stored = all(&store).await;
    let analysis = stored[0].analysis.as_ref().expect("analysed");
    assert_eq!(
        tones_toward_brands(analysis),
        vec![("Kvantix", "positive"), ("Zeltron", "negative")]
    );
}

/// The (brand, label) of each target of `analysis`, sorted.
fn tones_toward_brands(analysis: &earshot_core::Analysis) -> Vec<(&str, &str)> {
    let mut targets: Vec<(&str, &str)> = analysis
        .targets
        .iter()
        .map(|t| (t.target.as_str(), t.label.as_str()))
        .collect();
    targets.sort();
    targets
}

#[tokio::test]
async fn the_analysis_is_stored_with_each_mention_with_the_tone_toward_each_brand() {
    let dir = tempfile::tempdir().unwrap();
    let (store, pipeline) = open(dir.path()).await;
    let pipeline = pipeline.with_analyzer(Some(Arc::new(toy_analyzer())));
    let mut english = item(
        "1",
        "Zeltron is awful, I hate it. But I love Kvantix, wonderful. Where can I buy one?",
    );
    english.lang = Some("en".into());
    let report = pipeline.ingest(vec![english], None).await.unwrap();
    assert_eq!(report.inserted, 1);
    let stored = all(&store).await;
    let analysis = stored[0]
        .analysis
        .as_ref()
        .expect("the mention was analysed");
    assert_eq!(analysis.lang, "en");
    assert!(analysis.sentiment.is_some());
    assert_eq!(
        tones_toward_brands(analysis),
        vec![("Kvantix", "positive"), ("Zeltron", "negative")],
        "the matched brands are the targets"
    );
    let intents: Vec<&str> = analysis.intents.iter().map(|s| s.label.as_str()).collect();
    assert!(intents.contains(&"question"), "{intents:?}");
    assert!(intents.contains(&"purchase_intent"), "{intents:?}");
    // The sentiment filter sees what the pipeline stored.
    let same_sentiment = store
        .search(
            &MentionFilter {
                sentiment: Some(analysis.sentiment.as_ref().unwrap().label.to_string()),
                ..MentionFilter::default()
            },
            SortOrder::Newest,
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(same_sentiment.mentions.len(), 1);
}

#[tokio::test]
async fn without_an_analyzer_mentions_are_stored_unanalysed() {
    let dir = tempfile::tempdir().unwrap();
    let (store, pipeline) = open(dir.path()).await;
    pipeline
        .ingest(vec![item("1", "Zeltron is fine")], None)
        .await
        .unwrap();
    assert_eq!(all(&store).await[0].analysis, None);
}
