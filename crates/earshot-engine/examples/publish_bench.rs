//! How many publications per second the publishing worker gets through, against a local
//! server answering `POST /api/v1/statuses` like Mastodon (bearer token, one status per
//! `Idempotency-Key`), with 1, 2 and 4 workers side by side on one SQLite workspace.
//!
//! ```text
//! cargo run --release -p earshot-engine --example publish_bench -- [COUNT] [LATENCY_MS] [CONCURRENCY]
//! ```
//! COUNT publications (default 2000) are all due at once; LATENCY_MS (default 0) delays every
//! answer of the server, standing in for the network; CONCURRENCY (default 1) is how many
//! calls one worker has in flight. Each run checks that the server holds exactly COUNT
//! statuses. Beside each run, the same posts as outbox `publish` messages through the
//! `OutboxWorker` (the path replies take), for comparison.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use earshot_core::{
    NewOutboxMessage, NewPublication, OutboxConfig, PublicationFilter, PublicationState,
    PublishPayload,
};
use earshot_engine::{OutboxWorker, PublicationWorker, PublisherMap};
use earshot_sources::mastodon::publish::MastodonPublisher;
use earshot_sources::{HttpClient, Publisher};
use earshot_store::{SqliteStore, Store};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

struct Statuses {
    base: String,
    latency: Duration,
    by_key: Mutex<HashMap<String, String>>,
}

impl Respond for Statuses {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let key = request
            .headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let mut by_key = self.by_key.lock().unwrap();
        let next = by_key.len() + 1;
        let id = by_key
            .entry(key)
            .or_insert_with(|| format!("{}", 110_000_000 + next))
            .clone();
        ResponseTemplate::new(200)
            .set_body_json(json!({
                "id": id,
                "uri": format!("{}/users/brand/statuses/{id}", self.base),
                "url": format!("{}/@brand/{id}", self.base),
                "content": body["status"],
                "visibility": "public"
            }))
            .set_delay(self.latency)
    }
}

async fn run(count: usize, workers: usize, latency: Duration, concurrency: usize) -> f64 {
    let (server, statuses) = start_server(latency).await;
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
    let now = Utc::now();
    for post_id in 0..count {
        store
            .enqueue_publication(
                &NewPublication {
                    account_id: 1,
                    post_id: post_id as i64,
                    variant_id: 1,
                    revision: 1,
                    text: format!("Benchmark post number {post_id}"),
                    language: Some("en".into()),
                    reply_to: None,
                    scheduled_at: now,
                },
                now,
            )
            .await
            .unwrap();
    }
    let http = HttpClient::new(Duration::from_secs(30)).unwrap();
    let publisher = Arc::new(MastodonPublisher::new(
        "bench",
        url::Url::parse(&server.uri()).unwrap(),
        "tok",
        http,
    ));
    let directory = Arc::new(PublisherMap::new().with(1, publisher));
    let started = Instant::now();
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let worker =
                PublicationWorker::new(store.clone(), directory.clone(), &OutboxConfig::default())
                    .with_batch(20)
                    .with_concurrency(concurrency);
            tokio::spawn(async move {
                let mut published = 0;
                loop {
                    let report = worker.run_once().await.unwrap();
                    published += report.published;
                    if report.claimed == 0 {
                        return published;
                    }
                }
            })
        })
        .collect();
    let mut published = 0;
    for task in tasks {
        published += task.await.unwrap();
    }
    let elapsed = started.elapsed();
    assert_eq!(published, count, "every publication published once");
    assert_eq!(statuses.by_key.lock().unwrap().len(), count);
    let done = store
        .list_publications(
            &PublicationFilter {
                states: vec![PublicationState::Published],
                ..PublicationFilter::default()
            },
            count,
        )
        .await
        .unwrap();
    assert_eq!(done.len(), count.min(earshot_store::MAX_PUBLICATION_PAGE));
    count as f64 / elapsed.as_secs_f64()
}

/// The alternative already in the code base: the same posts as outbox `publish` messages,
/// delivered by the `OutboxWorker` (no outcome reporting, no attempt record, no late flag).
async fn run_outbox(count: usize, workers: usize, latency: Duration) -> f64 {
    let (server, statuses) = start_server(latency).await;
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
    let now = Utc::now();
    for post_id in 0..count {
        let message = NewOutboxMessage::publish(
            format!("pub:{post_id}:1:1"),
            &PublishPayload {
                account: "bench".into(),
                text: format!("Benchmark post number {post_id}"),
                reply_to: None,
                language: Some("en".into()),
                created_at: now,
            },
        );
        store.enqueue(message, now).await.unwrap();
    }
    let publisher: Arc<dyn Publisher> = Arc::new(MastodonPublisher::new(
        "bench",
        url::Url::parse(&server.uri()).unwrap(),
        "tok",
        HttpClient::new(Duration::from_secs(30)).unwrap(),
    ));
    let started = Instant::now();
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let worker = OutboxWorker::new(
                store.clone(),
                HttpClient::new(Duration::from_secs(30)).unwrap(),
                &OutboxConfig::default(),
            )
            .unwrap()
            .with_publisher(publisher.clone())
            .with_batch(20);
            tokio::spawn(async move {
                let mut delivered = 0;
                loop {
                    let report = worker.run_once().await.unwrap();
                    delivered += report.delivered;
                    if report.claimed == 0 {
                        return delivered;
                    }
                }
            })
        })
        .collect();
    let mut delivered = 0;
    for task in tasks {
        delivered += task.await.unwrap();
    }
    let elapsed = started.elapsed();
    assert_eq!(delivered, count);
    assert_eq!(statuses.by_key.lock().unwrap().len(), count);
    count as f64 / elapsed.as_secs_f64()
}

async fn start_server(latency: Duration) -> (MockServer, Arc<Statuses>) {
    let server = MockServer::start().await;
    let statuses = Arc::new(Statuses {
        base: server.uri(),
        latency,
        by_key: Mutex::new(HashMap::new()),
    });
    Mock::given(method("POST"))
        .and(path("/api/v1/statuses"))
        .respond_with(SharedStatuses(statuses.clone()))
        .mount(&server)
        .await;
    (server, statuses)
}

struct SharedStatuses(Arc<Statuses>);

impl Respond for SharedStatuses {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.0.respond(request)
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: u64| {
        args.get(i)
            .map(|a| a.parse::<u64>().expect("arguments are whole numbers"))
            .unwrap_or(default)
    };
    let count = arg(0, 2_000) as usize;
    let latency = Duration::from_millis(arg(1, 0));
    let concurrency = arg(2, 1) as usize;
    println!(
        "{count} publications, server latency {} ms, {concurrency} call(s) in flight per worker",
        latency.as_millis()
    );
    println!("workers  PublicationWorker/s  OutboxWorker publish/s");
    for workers in [1, 2, 4] {
        let rate = run(count, workers, latency, concurrency).await;
        let outbox = run_outbox(count, workers, latency).await;
        println!("{workers:>7}  {rate:>19.0}  {outbox:>22.0}");
    }
}
