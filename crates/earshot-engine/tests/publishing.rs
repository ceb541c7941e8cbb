//! The publishing worker against real parts: a SQLite store in a tempdir, the real Mastodon
//! and Bluesky publishers, and local servers answering as those APIs document — Mastodon
//! keeping `Idempotency-Key`s (the same key answers the same status), the Bluesky PDS keeping
//! records by key (`getRecord` finds them; a `createRecord` on a taken key answers 500 as the
//! reference PDS does, bluesky-social/atproto#3718). Time is a hand-moved clock.
//!
//! The exactly-once tests stop a worker at each crash point (docs/PUBLISHING-WORKER.md) and
//! start a fresh one on the same store; one of them runs the worker in a child process and
//! kills it with SIGKILL while the network holds its answer.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use earshot_core::{
    BrandConfig, Config, ConversationFilter, IncomingMention, NewPublication, OutboxConfig,
    Publication, PublicationState,
};
use earshot_engine::inbox::{InboxRouter, RoutingRules};
use earshot_engine::{
    Attempt, Clock as _, ManualClock, Pipeline, PublicationOutcomes, PublicationWorker,
    PublisherMap,
};
use earshot_sources::bluesky::publish::BlueskyPublisher;
use earshot_sources::mastodon::publish::MastodonPublisher;
use earshot_sources::publish::tid_for;
use earshot_sources::{HttpClient, Publisher};
use earshot_store::{SqliteStore, Store};
use serde_json::{json, Value};
use tempfile::TempDir;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const TOKEN: &str = "tok";
const DID: &str = "did:plc:brandaccount";
const HANDLE: &str = "brand.bsky.social";
const ACCOUNT: i64 = 1;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap()
}

fn header<'r>(request: &'r Request, name: &str) -> &'r str {
    request
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

// ------------------------------------------------------------------ Mastodon

/// What the fake Mastodon server knows.
#[derive(Default)]
struct MastodonState {
    base: String,
    /// Idempotency-Key → the status created for it.
    by_key: Mutex<HashMap<String, Value>>,
    /// Every status created, in order.
    statuses: Mutex<Vec<Value>>,
    /// Answers to give (instead of creating anything) before behaving normally.
    script: Mutex<VecDeque<ResponseTemplate>>,
    /// Hold the answer to the next creation this long (the status exists meanwhile).
    hold_next_creation: Mutex<Option<Duration>>,
}

/// `POST /api/v1/statuses` as Mastodon answers it: 401 without the token, 422 for a text over
/// 500 characters, one status per `Idempotency-Key` and the same status again for a key it
/// has seen.
struct MastodonStatuses(Arc<MastodonState>);

impl Respond for MastodonStatuses {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let state = &self.0;
        if request.method.as_str() != "POST" || request.url.path() != "/api/v1/statuses" {
            return ResponseTemplate::new(404).set_body_json(json!({"error": "Record not found"}));
        }
        if header(request, "authorization") != format!("Bearer {TOKEN}") {
            return ResponseTemplate::new(401)
                .set_body_json(json!({"error": "The access token is invalid"}));
        }
        if let Some(answer) = state.script.lock().unwrap().pop_front() {
            return answer;
        }
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        let text = body["status"].as_str().unwrap_or_default();
        if text.chars().count() > 500 {
            return ResponseTemplate::new(422).set_body_json(
                json!({"error": "Validation failed: Text character limit of 500 exceeded"}),
            );
        }
        let key = header(request, "idempotency-key").to_string();
        let mut by_key = state.by_key.lock().unwrap();
        if let Some(existing) = by_key.get(&key) {
            return ResponseTemplate::new(200).set_body_json(existing.clone());
        }
        let mut statuses = state.statuses.lock().unwrap();
        let id = format!("1100{}", statuses.len() + 1);
        let status = json!({
            "id": id,
            "created_at": "2026-03-04T12:00:00.000Z",
            "uri": format!("{}/users/brand/statuses/{id}", state.base),
            "url": format!("{}/@brand/{id}", state.base),
            "content": format!("<p>{text}</p>"),
            "language": body["language"],
            "in_reply_to_id": body["in_reply_to_id"],
            "visibility": "public"
        });
        statuses.push(status.clone());
        by_key.insert(key, status.clone());
        let answer = ResponseTemplate::new(200).set_body_json(status);
        match state.hold_next_creation.lock().unwrap().take() {
            Some(hold) => answer.set_delay(hold),
            None => answer,
        }
    }
}

// ------------------------------------------------------------------ Bluesky

#[derive(Default)]
struct PdsState {
    /// rkey → the record as created.
    records: Mutex<HashMap<String, Value>>,
    /// Record keys in creation order.
    created: Mutex<Vec<String>>,
    /// Answers to createRecord (instead of creating) before behaving normally.
    script: Mutex<VecDeque<ResponseTemplate>>,
}

/// The XRPC methods the publisher calls, as a PDS answers them.
struct Pds(Arc<PdsState>);

fn record_uri(rkey: &str) -> String {
    format!("at://{DID}/app.bsky.feed.post/{rkey}")
}

impl Respond for Pds {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let state = &self.0;
        let authorized = header(request, "authorization") == "Bearer access-1";
        match request.url.path() {
            "/xrpc/com.atproto.server.createSession" => {
                ResponseTemplate::new(200).set_body_json(json!({
                    "accessJwt": "access-1",
                    "refreshJwt": "refresh-1",
                    "handle": HANDLE,
                    "did": DID,
                    "active": true
                }))
            }
            _ if !authorized => ResponseTemplate::new(401).set_body_json(
                json!({"error": "AuthenticationRequired", "message": "Authentication Required"}),
            ),
            "/xrpc/com.atproto.repo.getRecord" => {
                let rkey = request
                    .url
                    .query_pairs()
                    .find(|(k, _)| k == "rkey")
                    .map(|(_, v)| v.to_string())
                    .unwrap_or_default();
                match state.records.lock().unwrap().get(&rkey) {
                    Some(record) => ResponseTemplate::new(200).set_body_json(json!({
                        "uri": record_uri(&rkey),
                        "cid": "bafyreirecord",
                        "value": record
                    })),
                    None => ResponseTemplate::new(400).set_body_json(json!({
                        "error": "RecordNotFound",
                        "message": format!("Could not locate record: {}", record_uri(&rkey))
                    })),
                }
            }
            "/xrpc/com.atproto.repo.createRecord" => {
                if let Some(answer) = state.script.lock().unwrap().pop_front() {
                    return answer;
                }
                let body: Value = serde_json::from_slice(&request.body).unwrap();
                let rkey = body["rkey"].as_str().unwrap_or_default().to_string();
                let mut records = state.records.lock().unwrap();
                if records.contains_key(&rkey) {
                    return ResponseTemplate::new(500).set_body_json(
                        json!({"error": "InternalServerError", "message": "Internal Server Error"}),
                    );
                }
                records.insert(rkey.clone(), body["record"].clone());
                state.created.lock().unwrap().push(rkey.clone());
                ResponseTemplate::new(200).set_body_json(json!({
                    "uri": record_uri(&rkey),
                    "cid": "bafyreirecord",
                    "commit": {"cid": "bafyreicommit", "rev": "3lrev"},
                    "validationStatus": "valid"
                }))
            }
            _ => ResponseTemplate::new(501).set_body_json(
                json!({"error": "MethodNotImplemented", "message": "Method Not Implemented"}),
            ),
        }
    }
}

// ------------------------------------------------------------------ either network

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Network {
    Mastodon,
    Bluesky,
}

struct FakeNetwork {
    network: Network,
    server: MockServer,
    mastodon: Arc<MastodonState>,
    pds: Arc<PdsState>,
}

impl FakeNetwork {
    async fn start(network: Network) -> FakeNetwork {
        let server = MockServer::start().await;
        let mastodon = Arc::new(MastodonState {
            base: server.uri(),
            ..MastodonState::default()
        });
        let pds = Arc::new(PdsState::default());
        match network {
            Network::Mastodon => {
                Mock::given(any())
                    .respond_with(MastodonStatuses(mastodon.clone()))
                    .mount(&server)
                    .await
            }
            Network::Bluesky => {
                Mock::given(any())
                    .respond_with(Pds(pds.clone()))
                    .mount(&server)
                    .await
            }
        }
        FakeNetwork {
            network,
            server,
            mastodon,
            pds,
        }
    }

    fn publisher(&self, timeout: Duration) -> Arc<dyn Publisher> {
        let http = HttpClient::new(timeout).unwrap();
        let base = url::Url::parse(&self.server.uri()).unwrap();
        match self.network {
            Network::Mastodon => Arc::new(MastodonPublisher::new("brand-masto", base, TOKEN, http)),
            Network::Bluesky => Arc::new(BlueskyPublisher::new(
                "brand-sky",
                base,
                HANDLE,
                "app-pass-word",
                http,
            )),
        }
    }

    /// Posts on the server, each once.
    fn posts(&self) -> usize {
        match self.network {
            Network::Mastodon => self.mastodon.statuses.lock().unwrap().len(),
            Network::Bluesky => self.pds.created.lock().unwrap().len(),
        }
    }

    /// Answer the next post requests with these (nothing is created).
    fn answer_next(&self, answers: Vec<ResponseTemplate>) {
        match self.network {
            Network::Mastodon => self.mastodon.script.lock().unwrap().extend(answers),
            Network::Bluesky => self.pds.script.lock().unwrap().extend(answers),
        }
    }

    fn unavailable(&self) -> ResponseTemplate {
        match self.network {
            Network::Mastodon => ResponseTemplate::new(503).set_body_string("<html>503</html>"),
            Network::Bluesky => ResponseTemplate::new(502)
                .set_body_json(json!({"error": "UpstreamFailure", "message": "Upstream Failure"})),
        }
    }

    /// The network's id of the post it published for `key` at `at`.
    fn remote_id_for(&self, key: &str, at: DateTime<Utc>) -> String {
        match self.network {
            Network::Mastodon => self.mastodon.by_key.lock().unwrap()[key]["id"]
                .as_str()
                .unwrap()
                .to_string(),
            Network::Bluesky => record_uri(&tid_for(key, at)),
        }
    }
}

// ------------------------------------------------------------------ setup

/// The posts side's callback as the tests see it: every outcome, in order.
#[derive(Default)]
struct RecordedOutcomes(Mutex<Vec<Publication>>);

#[async_trait::async_trait]
impl PublicationOutcomes for RecordedOutcomes {
    async fn publication_settled(&self, publication: &Publication) -> Result<(), String> {
        self.0.lock().unwrap().push(publication.clone());
        Ok(())
    }
}

impl RecordedOutcomes {
    fn states(&self) -> Vec<(i64, PublicationState)> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|p| (p.post_id, p.state))
            .collect()
    }
}

struct Setup {
    dir: TempDir,
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
    outcomes: Arc<RecordedOutcomes>,
}

async fn setup() -> Setup {
    let dir = TempDir::new().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
    Setup {
        dir,
        store,
        clock: Arc::new(ManualClock::new(start())),
        outcomes: Arc::new(RecordedOutcomes::default()),
    }
}

fn config() -> OutboxConfig {
    OutboxConfig::default()
}

fn worker_for(setup: &Setup, publisher: Arc<dyn Publisher>) -> PublicationWorker {
    PublicationWorker::new(
        setup.store.clone(),
        Arc::new(PublisherMap::new().with(ACCOUNT, publisher)),
        &config(),
    )
    .with_clock(setup.clock.clone())
    .with_outcomes(setup.outcomes.clone())
}

fn worker(setup: &Setup, network: &FakeNetwork) -> PublicationWorker {
    worker_for(setup, network.publisher(Duration::from_secs(5)))
}

fn post(post_id: i64, at: DateTime<Utc>) -> NewPublication {
    NewPublication {
        account_id: ACCOUNT,
        post_id,
        variant_id: 1,
        revision: 1,
        text: format!("Our spring collection is out: post {post_id}"),
        language: Some("en".into()),
        reply_to: None,
        scheduled_at: at,
    }
}

async fn enqueue(setup: &Setup, new: &NewPublication) -> Publication {
    setup
        .store
        .enqueue_publication(new, start())
        .await
        .unwrap()
        .0
}

async fn reload(setup: &Setup, publication: &Publication) -> Publication {
    setup
        .store
        .publication(publication.id)
        .await
        .unwrap()
        .unwrap()
}

// ------------------------------------------------------------------ scheduling

#[tokio::test]
async fn nothing_is_published_before_its_time_and_it_is_published_once_at_its_time() {
    let network = FakeNetwork::start(Network::Mastodon).await;
    let setup = setup().await;
    let at = start() + chrono::Duration::minutes(10);
    let row = enqueue(&setup, &post(7, at)).await;
    let worker = worker(&setup, &network);

    assert_eq!(worker.run_once().await.unwrap().claimed, 0);
    setup.clock.advance(Duration::from_secs(599));
    assert_eq!(
        worker.run_once().await.unwrap().claimed,
        0,
        "a second early"
    );
    assert_eq!(network.posts(), 0);

    setup.clock.advance(Duration::from_secs(1));
    let report = worker.run_once().await.unwrap();
    assert_eq!((report.published, report.late, report.reported), (1, 0, 1));
    let done = reload(&setup, &row).await;
    assert_eq!(done.state, PublicationState::Published);
    assert_eq!(done.remote_id.as_deref(), Some("11001"));
    assert_eq!(
        done.url,
        Some(format!("{}/@brand/11001", network.server.uri()))
    );
    assert_eq!(done.published_at, Some(at));
    assert!(!done.late);
    assert!(done.reported_at.is_some());
    assert_eq!(
        setup.outcomes.states(),
        vec![(7, PublicationState::Published)]
    );

    let requests = network.server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(header(&requests[0], "idempotency-key"), "pub:7:1:1");
    let sent: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(sent["status"], "Our spring collection is out: post 7");
    assert_eq!(sent["language"], "en");

    setup.clock.advance(Duration::from_secs(3_600));
    let report = worker.run_once().await.unwrap();
    assert_eq!((report.claimed, report.reported), (0, 0));
    assert_eq!(network.posts(), 1);
}

#[tokio::test]
async fn a_post_due_while_the_server_was_down_is_published_on_start_and_flagged_late() {
    let network = FakeNetwork::start(Network::Bluesky).await;
    let setup = setup().await;
    let missed = enqueue(&setup, &post(1, start() - chrono::Duration::hours(2))).await;
    let on_time = enqueue(&setup, &post(2, start() - chrono::Duration::seconds(30))).await;
    let report = worker(&setup, &network).run_once().await.unwrap();
    assert_eq!((report.published, report.late), (2, 1));
    let missed = reload(&setup, &missed).await;
    assert!(missed.late);
    assert_eq!(missed.published_at, Some(start()));
    assert!(
        !reload(&setup, &on_time).await.late,
        "within a minute is on time"
    );
    let records = network.pds.records.lock().unwrap();
    let record = &records[&tid_for(&missed.idempotency_key, missed.scheduled_at)];
    assert_eq!(
        record["createdAt"], "2026-03-04T10:00:00.000Z",
        "the post carries its scheduled time"
    );
    assert_eq!(record["langs"], json!(["en"]));
    assert_eq!(
        missed.url,
        Some(format!(
            "https://bsky.app/profile/{HANDLE}/post/{}",
            tid_for(&missed.idempotency_key, missed.scheduled_at)
        ))
    );
}

#[tokio::test]
async fn a_rate_limit_delays_the_post_as_told_but_does_not_lose_it() {
    let network = FakeNetwork::start(Network::Mastodon).await;
    // Mastodon's 429: the reset time in X-RateLimit-Reset (ISO 8601), five minutes ahead.
    let reset = Utc::now() + chrono::Duration::seconds(300);
    network.answer_next(vec![ResponseTemplate::new(429)
        .insert_header("x-ratelimit-limit", "300")
        .insert_header("x-ratelimit-remaining", "0")
        .insert_header(
            "x-ratelimit-reset",
            reset
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                .as_str(),
        )
        .set_body_json(json!({"error": "Too many requests"}))]);
    let setup = setup().await;
    let row = enqueue(&setup, &post(3, start())).await;
    let worker = worker(&setup, &network);

    let report = worker.run_once().await.unwrap();
    assert_eq!(report.retried, 1);
    let waiting = reload(&setup, &row).await;
    assert_eq!(waiting.state, PublicationState::Scheduled);
    let wait = waiting.next_attempt_at - start();
    assert!(
        wait > chrono::Duration::seconds(240) && wait <= chrono::Duration::seconds(300),
        "waits for the reset, far beyond the 30 s backoff: {wait}"
    );
    assert!(waiting
        .last_error
        .as_deref()
        .unwrap()
        .contains("rate limited"));
    let notice = setup
        .store
        .outbox_by_dedup_key(&format!("publication:{}:retrying", row.id))
        .await
        .unwrap()
        .expect("the retry is announced in the outbox");
    assert_eq!(notice.payload["event"], "publication.retrying");
    assert_eq!(notice.payload["data"]["post"], 3);

    setup.clock.advance(Duration::from_secs(200));
    assert_eq!(worker.run_once().await.unwrap().claimed, 0, "still waiting");
    setup.clock.advance(Duration::from_secs(100));
    assert_eq!(worker.run_once().await.unwrap().published, 1);
    assert_eq!(network.posts(), 1);
    assert_eq!(reload(&setup, &row).await.attempts, 2);
}

#[tokio::test]
async fn refusals_fail_with_the_networks_message_and_reach_the_outbox_and_the_posts_side() {
    let network = FakeNetwork::start(Network::Mastodon).await;
    let setup = setup().await;
    let mut too_long = post(4, start());
    too_long.text = "a".repeat(501);
    let too_long = enqueue(&setup, &too_long).await;
    let mut elsewhere = post(5, start());
    elsewhere.account_id = 99;
    let elsewhere = enqueue(&setup, &elsewhere).await;

    let report = worker(&setup, &network).run_once().await.unwrap();
    assert_eq!((report.failed, report.reported), (2, 2));
    let failed = reload(&setup, &too_long).await;
    assert_eq!(failed.state, PublicationState::Failed);
    let error = failed.last_error.unwrap();
    assert!(
        error.contains("HTTP 422") && error.contains("Text character limit of 500 exceeded"),
        "{error}"
    );
    let unknown = reload(&setup, &elsewhere).await;
    assert!(
        unknown
            .last_error
            .as_deref()
            .unwrap()
            .contains("account 99 is not connected"),
        "{:?}",
        unknown.last_error
    );
    for row in [&too_long, &elsewhere] {
        let notice = setup
            .store
            .outbox_by_dedup_key(&format!("publication:{}:failed", row.id))
            .await
            .unwrap()
            .expect("every failure is announced");
        assert_eq!(notice.payload["event"], "publication.failed");
    }
    assert_eq!(
        setup.outcomes.states(),
        vec![(4, PublicationState::Failed), (5, PublicationState::Failed)]
    );
    assert_eq!(network.posts(), 0);
}

#[tokio::test]
async fn server_errors_back_off_and_the_attempts_run_out() {
    let network = FakeNetwork::start(Network::Bluesky).await;
    network.answer_next((0..3).map(|_| network.unavailable()).collect());
    let setup = setup().await;
    let row = enqueue(&setup, &post(6, start())).await;
    let config = OutboxConfig {
        max_attempts: 3,
        ..OutboxConfig::default()
    };
    let worker = PublicationWorker::new(
        setup.store.clone(),
        Arc::new(PublisherMap::new().with(ACCOUNT, network.publisher(Duration::from_secs(5)))),
        &config,
    )
    .with_clock(setup.clock.clone());
    let mut waits = Vec::new();
    for _ in 0..3 {
        let before = setup.clock.now();
        worker.run_once().await.unwrap();
        let now = reload(&setup, &row).await;
        if now.state == PublicationState::Scheduled {
            waits.push((now.next_attempt_at - before).num_seconds());
        }
        setup.clock.advance(Duration::from_secs(3_600));
    }
    assert_eq!(waits.len(), 2);
    assert!((15..=30).contains(&waits[0]), "{waits:?}");
    assert!((30..=60).contains(&waits[1]), "doubled: {waits:?}");
    let failed = reload(&setup, &row).await;
    assert_eq!(failed.state, PublicationState::Failed);
    assert!(
        failed
            .last_error
            .as_deref()
            .unwrap()
            .starts_with("gave up after 3 attempts"),
        "{:?}",
        failed.last_error
    );
    assert_eq!(network.posts(), 0);
}

// ------------------------------------------------------------------ exactly once

#[derive(Debug, Clone, Copy)]
enum CrashPoint {
    /// The worker claimed the row and died before calling the network.
    AfterClaim,
    /// The network accepted the post; the worker died before recording it.
    AfterRemoteAccepted,
    /// The worker recorded the publication and died before telling the posts side.
    AfterMarkBeforeCallback,
    /// The first attempt failed (503) and the worker died while the row waited to retry.
    DuringBackoff,
}

/// Run a worker up to `point`, drop it there, start a fresh one on the same store, and check
/// that the server ends with exactly one post and the posts side hears of it once.
async fn survives_a_crash(network: Network, point: CrashPoint) {
    let fake = FakeNetwork::start(network).await;
    let setup = setup().await;
    let row = enqueue(&setup, &post(11, start())).await;
    let lease = Duration::from_secs(config().lease_secs);
    {
        let dying = worker(&setup, &fake);
        match point {
            CrashPoint::AfterClaim => {
                assert_eq!(dying.claim().await.unwrap().len(), 1);
            }
            CrashPoint::AfterRemoteAccepted => {
                let claim = dying.claim().await.unwrap().remove(0);
                let attempt = dying.attempt(&claim).await.unwrap();
                assert!(matches!(attempt, Attempt::Published(_)), "{attempt:?}");
                assert_eq!(fake.posts(), 1);
            }
            CrashPoint::AfterMarkBeforeCallback => {
                let claim = dying.claim().await.unwrap().remove(0);
                let attempt = dying.attempt(&claim).await.unwrap();
                dying.record(&claim, attempt).await.unwrap();
                assert!(setup.outcomes.states().is_empty());
            }
            CrashPoint::DuringBackoff => {
                fake.answer_next(vec![fake.unavailable()]);
                assert_eq!(dying.run_once().await.unwrap().retried, 1);
            }
        }
    }
    // The fresh worker starts; a row still held waits for the lease to end.
    let fresh = worker(&setup, &fake);
    let first = fresh.run_once().await.unwrap();
    if matches!(
        point,
        CrashPoint::AfterClaim | CrashPoint::AfterRemoteAccepted
    ) {
        assert_eq!(first.claimed, 0, "{point:?}: the lease still holds");
    }
    setup.clock.advance(lease);
    fresh.run_once().await.unwrap();
    setup.clock.advance(Duration::from_secs(24 * 3_600));
    fresh.run_once().await.unwrap();

    let done = reload(&setup, &row).await;
    assert_eq!(
        done.state,
        PublicationState::Published,
        "{network:?} {point:?}"
    );
    assert_eq!(fake.posts(), 1, "{network:?} {point:?}: exactly one post");
    assert_eq!(
        done.remote_id.as_deref(),
        Some(
            fake.remote_id_for(&row.idempotency_key, row.scheduled_at)
                .as_str()
        ),
        "{network:?} {point:?}"
    );
    assert_eq!(
        setup.outcomes.states(),
        vec![(11, PublicationState::Published)],
        "{network:?} {point:?}: the posts side hears once"
    );
}

const CRASH_POINTS: [CrashPoint; 4] = [
    CrashPoint::AfterClaim,
    CrashPoint::AfterRemoteAccepted,
    CrashPoint::AfterMarkBeforeCallback,
    CrashPoint::DuringBackoff,
];

#[tokio::test]
async fn mastodon_publishes_exactly_once_whatever_the_crash_point() {
    for point in CRASH_POINTS {
        survives_a_crash(Network::Mastodon, point).await;
    }
}

#[tokio::test]
async fn bluesky_publishes_exactly_once_whatever_the_crash_point() {
    for point in CRASH_POINTS {
        survives_a_crash(Network::Bluesky, point).await;
    }
}

#[tokio::test]
async fn an_unknown_outcome_past_mastodons_key_window_is_not_sent_again() {
    for network in [Network::Mastodon, Network::Bluesky] {
        let fake = FakeNetwork::start(network).await;
        let setup = setup().await;
        let row = enqueue(&setup, &post(12, start())).await;
        // A worker claims the row, notes the attempt, and dies before the request leaves.
        let claim = setup
            .store
            .claim_due_publications(start(), 1, Duration::from_secs(120))
            .await
            .unwrap()
            .remove(0);
        assert!(setup
            .store
            .record_publication_attempt(row.id, claim.claim, start())
            .await
            .unwrap());
        // The server was down for over an hour.
        setup.clock.advance(Duration::from_secs(61 * 60));
        worker(&setup, &fake).run_once().await.unwrap();
        let after = reload(&setup, &row).await;
        match network {
            Network::Mastodon => {
                assert_eq!(after.state, PublicationState::Failed);
                let error = after.last_error.unwrap();
                assert!(
                    error.contains("unknown") && error.contains("look at the account"),
                    "{error}"
                );
                assert_eq!(fake.posts(), 0, "not sent blindly");
            }
            Network::Bluesky => {
                // The record key is checked on every attempt, whenever it comes.
                assert_eq!(after.state, PublicationState::Published);
                assert_eq!(fake.posts(), 1);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_running_side_by_side_publish_each_post_once() {
    let fake = FakeNetwork::start(Network::Mastodon).await;
    let setup = setup().await;
    for post_id in 0..30 {
        enqueue(&setup, &post(post_id, start())).await;
    }
    let workers: Vec<PublicationWorker> = (0..3)
        .map(|_| worker(&setup, &fake).with_batch(4).with_concurrency(2))
        .collect();
    let mut published = 0;
    for _ in 0..10 {
        let reports = futures::future::join_all(workers.iter().map(|w| w.run_once())).await;
        published += reports
            .into_iter()
            .map(|r| r.unwrap().published)
            .sum::<usize>();
    }
    assert_eq!(published, 30);
    assert_eq!(fake.posts(), 30);
    assert_eq!(
        fake.server.received_requests().await.unwrap().len(),
        30,
        "no post was even sent twice"
    );
    // Workers report owed outcomes side by side, so one may be reported more than once (the
    // callback is at least once); every post is reported, and only as published.
    let reported: std::collections::HashSet<(i64, PublicationState)> =
        setup.outcomes.states().into_iter().collect();
    assert_eq!(reported.len(), 30);
    assert!(reported
        .iter()
        .all(|(_, state)| *state == PublicationState::Published));
}

// ------------------------------------------------------------------ a real kill

const CHILD_DIR: &str = "EARSHOT_PUBLISHING_CHILD_DIR";
const CHILD_SERVER: &str = "EARSHOT_PUBLISHING_CHILD_SERVER";
const CHILD_NOW: &str = "EARSHOT_PUBLISHING_CHILD_NOW";

/// One pass of a publishing worker over the workspace and Mastodon server the parent test
/// names, at the time it names.
#[tokio::test]
#[ignore = "the worker process of a_worker_killed_with_sigkill_mid_publish_leaves_one_status; that test starts it with the environment it needs"]
async fn publishing_child_process() {
    let dir = std::env::var(CHILD_DIR).expect("started by the kill test");
    let server = std::env::var(CHILD_SERVER).unwrap();
    let now: DateTime<Utc> = std::env::var(CHILD_NOW).unwrap().parse().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(std::path::Path::new(&dir)).await.unwrap());
    let http = HttpClient::new(Duration::from_secs(120)).unwrap();
    let publisher = MastodonPublisher::new(
        "brand-masto",
        url::Url::parse(&server).unwrap(),
        TOKEN,
        http,
    );
    let worker = PublicationWorker::new(
        store,
        Arc::new(PublisherMap::new().with(ACCOUNT, Arc::new(publisher))),
        &config(),
    )
    .with_clock(Arc::new(ManualClock::new(now)));
    let report = worker.run_once().await.unwrap();
    println!("child report: {report:?}");
}

fn spawn_child(setup: &Setup, server: &MockServer, now: DateTime<Utc>) -> std::process::Child {
    std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "publishing_child_process",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_DIR, setup.dir.path())
        .env(CHILD_SERVER, server.uri())
        .env(CHILD_NOW, now.to_rfc3339())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_with_sigkill_mid_publish_leaves_one_status() {
    let fake = FakeNetwork::start(Network::Mastodon).await;
    // The server creates the status and holds its answer, so the kill lands after the
    // network accepted the post and before the worker could record it.
    *fake.mastodon.hold_next_creation.lock().unwrap() = Some(Duration::from_secs(300));
    let setup = setup().await;
    let row = enqueue(&setup, &post(21, start())).await;

    let mut child = spawn_child(&setup, &fake.server, start());
    let mut waited = Duration::ZERO;
    while fake.posts() == 0 {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the worker process ended before publishing: {status}");
        }
        assert!(
            waited < Duration::from_secs(120),
            "the worker process never reached the server"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += Duration::from_millis(20);
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success(), "killed, not finished: {status}");
    let orphan = reload(&setup, &row).await;
    assert_eq!(orphan.state, PublicationState::Publishing);
    assert!(
        orphan.attempt_started_at.is_some(),
        "the store knows a call was under way"
    );

    // A new worker process after the lease: it sends again with the same key, and Mastodon
    // answers with the status it already created.
    let restart = start() + chrono::Duration::seconds(config().lease_secs as i64 + 1);
    let output = spawn_child(&setup, &fake.server, restart)
        .wait_with_output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let done = reload(&setup, &row).await;
    assert_eq!(done.state, PublicationState::Published);
    assert_eq!(done.remote_id.as_deref(), Some("11001"));
    assert_eq!(fake.posts(), 1, "exactly one status on the server");
    let posts: Vec<String> = fake
        .server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| header(r, "idempotency-key").to_string())
        .collect();
    assert_eq!(
        posts,
        vec!["pub:21:1:1", "pub:21:1:1"],
        "sent twice, posted once"
    );
}

// ------------------------------------------------------------------ replies to our posts

#[tokio::test]
async fn a_reply_to_a_published_post_opens_a_conversation_linked_to_the_post() {
    let fake = FakeNetwork::start(Network::Mastodon).await;
    let setup = setup().await;
    let row = enqueue(&setup, &post(31, start())).await;
    worker(&setup, &fake).run_once().await.unwrap();
    let published = reload(&setup, &row).await;
    let remote_id = published.remote_id.clone().unwrap();

    let config: Config =
        toml::from_str("[[brand]]\nname = \"Zeltron\"\nqueries = [\"zeltron\"]\n").unwrap();
    let rules = Arc::new(RoutingRules::compile(&config).unwrap());
    let router = InboxRouter::new(setup.store.clone(), rules)
        .await
        .unwrap()
        .with_clock(Arc::new(start));
    let brands: Vec<BrandConfig> = config.brands.clone();
    let pipeline = Pipeline::new(setup.store.clone(), &brands)
        .await
        .unwrap()
        .with_inbox(Arc::new(router));
    let mention = |id: &str, text: &str, reply_to: Option<&str>| IncomingMention {
        source: "mastodon".into(),
        external_id: Some(id.into()),
        url: Some(format!("https://social.example/@fan/{id}")),
        title: None,
        text: text.into(),
        is_html: false,
        published_at: start(),
        author: None,
        lang: Some("en".into()),
        in_reply_to: reply_to.map(String::from),
    };
    pipeline
        .ingest(
            vec![
                mention(
                    "900",
                    "@brand does the zeltron sale include shoes?",
                    Some(remote_id.as_str()),
                ),
                mention("901", "zeltron is great", None),
            ],
            None,
        )
        .await
        .unwrap();
    let conversations = setup
        .store
        .list_conversations(&ConversationFilter::default(), None, 10)
        .await
        .unwrap()
        .conversations;
    assert_eq!(conversations.len(), 2);
    let mut linked = Vec::new();
    for conversation in &conversations {
        if let Some(publication) = setup
            .store
            .publication_for_conversation(conversation.id)
            .await
            .unwrap()
        {
            linked.push((conversation.root_mention, publication.post_id));
        }
    }
    assert_eq!(linked.len(), 1, "only the reply belongs to the post");
    assert_eq!(linked[0].1, 31);
    let root = setup.store.get(linked[0].0).await.unwrap().unwrap();
    assert_eq!(root.external_id.as_deref(), Some("900"));
}

// ------------------------------------------------------------------ the posts side glued on

/// The Mastodon account the posts-side tests publish through (credentials are not opened:
/// the worker gets its publisher directly).
async fn brand_account(store: &dyn Store, network: &FakeNetwork) -> earshot_core::Account {
    store
        .create_account(
            earshot_core::NewAccount {
                network: earshot_core::Network::Mastodon,
                name: "brand-masto".into(),
                handle: "@brand@social.example".into(),
                server_url: network.server.uri(),
                owner: "olga".into(),
                purpose: "news for customers".into(),
                languages: vec!["en".into()],
                posts_per_day: 3,
                approval_steps: Vec::new(),
                sealed_credentials: vec![1, 2, 3],
            },
            start(),
        )
        .await
        .unwrap()
}

/// A post approved and scheduled through the workflow becomes a publication, is published
/// once at its time, and the outcome settles the post; unscheduling withdraws what waits.
#[tokio::test]
async fn a_scheduled_post_is_queued_published_and_settled() {
    use earshot_core::{Actor, PostAction, PostState, Role, VariantDraft, VariantState};
    use earshot_engine::publishing::{reconcile_scheduled_posts, PostOutcomes};

    let network = FakeNetwork::start(Network::Mastodon).await;
    let setup = setup().await;
    let store = setup.store.clone();
    let account = brand_account(store.as_ref(), &network).await;
    let author = Actor::new("anna", Role::Agent, vec!["marketing".into()]);
    let reviewer = Actor::new("mark", Role::Agent, vec!["marketing".into()]);
    let draft = |text: &str| VariantDraft {
        account: account.id,
        text: text.into(),
        media: Vec::new(),
    };
    let at = start() + chrono::Duration::minutes(30);
    let mut ids = Vec::new();
    for text in ["Spring collection is out", "Our summer hours"] {
        let post = store
            .create_post(text, "anna", &[draft(text)], start())
            .await
            .unwrap();
        let id = post.post.id;
        store
            .transition_post(id, &author, &PostAction::Submit, start())
            .await
            .unwrap();
        store
            .transition_post(id, &reviewer, &PostAction::Approve, start())
            .await
            .unwrap();
        store
            .transition_post(id, &author, &PostAction::Schedule { at }, start())
            .await
            .unwrap();
        ids.push(id);
    }

    let first = reconcile_scheduled_posts(store.as_ref(), start(), None)
        .await
        .unwrap();
    assert_eq!((first.queued, first.withdrawn), (2, 0));
    let again = reconcile_scheduled_posts(store.as_ref(), start(), None)
        .await
        .unwrap();
    assert_eq!(
        (again.queued, again.withdrawn),
        (0, 0),
        "queueing is idempotent"
    );

    // The second post is unscheduled before its time: its publication is withdrawn.
    store
        .transition_post(ids[1], &author, &PostAction::Unschedule, start())
        .await
        .unwrap();
    let withdrawn = reconcile_scheduled_posts(store.as_ref(), start(), None)
        .await
        .unwrap();
    assert_eq!((withdrawn.queued, withdrawn.withdrawn), (0, 1));

    let worker = PublicationWorker::new(
        store.clone(),
        Arc::new(PublisherMap::new().with(account.id.0, network.publisher(Duration::from_secs(5)))),
        &config(),
    )
    .with_clock(setup.clock.clone())
    .with_outcomes(Arc::new(PostOutcomes::new(store.clone())));
    worker.run_once().await.unwrap();
    assert_eq!(network.posts(), 0, "nothing goes out before its time");

    setup.clock.advance(Duration::from_secs(30 * 60));
    worker.run_once().await.unwrap();
    worker.run_once().await.unwrap();
    assert_eq!(network.posts(), 1, "only the post still scheduled went out");
    let published = store.post(ids[0]).await.unwrap().unwrap();
    assert_eq!(published.post.state, PostState::Published);
    let variant = &published.post.variants[0];
    assert_eq!(variant.state, VariantState::Published);
    assert!(variant
        .url
        .as_deref()
        .is_some_and(|url| url.starts_with("http")));
    let unscheduled = store.post(ids[1]).await.unwrap().unwrap();
    assert_ne!(unscheduled.post.state, PostState::Published);
    assert_eq!(unscheduled.post.variants[0].state, VariantState::Pending);
}

/// With link tracking on, a queued post's links become short links with UTM parameters,
/// stored with the publication for the post and its campaign; the network gets the tracked
/// text, and queueing again makes no second set of links.
#[tokio::test]
async fn a_scheduled_posts_links_are_tracked_when_it_is_queued() {
    use earshot_core::{Actor, Goal, NewCampaign, PostAction, Role, VariantDraft};
    use earshot_engine::publishing::{reconcile_scheduled_posts, PostOutcomes};

    let network = FakeNetwork::start(Network::Mastodon).await;
    let setup = setup().await;
    let store = setup.store.clone();
    let account = brand_account(store.as_ref(), &network).await;
    let text = "Spring sale: https://shop.example/spring?ref=fedi. Again: https://shop.example/spring?ref=fedi and www.shop.example/help";
    let post = store
        .create_post(
            "Spring",
            "anna",
            &[VariantDraft {
                account: account.id,
                text: text.into(),
                media: Vec::new(),
            }],
            start(),
        )
        .await
        .unwrap();
    let id = post.post.id;
    let campaign = store
        .create_campaign(
            NewCampaign {
                name: "Spring Sale".into(),
                utm_campaign: "spring-sale".into(),
                goal: Goal::Sales,
                custom_goal: None,
                target: None,
                budget: None,
                starts_on: start().date_naive(),
                ends_on: None,
                post_ids: vec![id.0],
            },
            start(),
        )
        .await
        .unwrap();
    let author = Actor::new("anna", Role::Agent, vec!["marketing".into()]);
    let reviewer = Actor::new("mark", Role::Agent, vec!["marketing".into()]);
    let at = start() + chrono::Duration::minutes(5);
    store
        .transition_post(id, &author, &PostAction::Submit, start())
        .await
        .unwrap();
    store
        .transition_post(id, &reviewer, &PostAction::Approve, start())
        .await
        .unwrap();
    store
        .transition_post(id, &author, &PostAction::Schedule { at }, start())
        .await
        .unwrap();

    let base = "https://go.example.com";
    let first = reconcile_scheduled_posts(store.as_ref(), start(), Some(base))
        .await
        .unwrap();
    assert_eq!(first.queued, 1);
    let links = store.links(Some(campaign.id), 100).await.unwrap();
    assert_eq!(links.len(), 2, "one short link per distinct URL: {links:?}");
    for link in &links {
        assert_eq!(link.post_id, Some(id.0));
        assert_eq!(link.utm.source.as_deref(), Some("mastodon"));
        assert_eq!(link.utm.medium.as_deref(), Some("social"));
        assert_eq!(link.utm.campaign.as_deref(), Some("spring-sale"));
        assert_eq!(link.utm.content.as_deref(), Some("brand-masto"));
        assert!(link.target_url.contains("utm_campaign=spring-sale"));
    }
    let spring = links
        .iter()
        .find(|l| {
            l.target_url
                .starts_with("https://shop.example/spring?ref=fedi&")
        })
        .expect("the shop link keeps its own query first");
    let help = links
        .iter()
        .find(|l| l.target_url.starts_with("https://www.shop.example/help?"))
        .expect("the bare www. link is tracked as https");
    let expected = format!(
        "Spring sale: {base}/l/{}. Again: {base}/l/{} and {base}/l/{}",
        spring.code, spring.code, help.code
    );

    let again = reconcile_scheduled_posts(store.as_ref(), start(), Some(base))
        .await
        .unwrap();
    assert_eq!(again.queued, 0);
    assert_eq!(
        store.links(None, 100).await.unwrap().len(),
        2,
        "queueing again makes no new links"
    );

    let worker = PublicationWorker::new(
        store.clone(),
        Arc::new(PublisherMap::new().with(account.id.0, network.publisher(Duration::from_secs(5)))),
        &config(),
    )
    .with_clock(setup.clock.clone())
    .with_outcomes(Arc::new(PostOutcomes::new(store.clone())));
    setup.clock.advance(Duration::from_secs(5 * 60));
    worker.run_once().await.unwrap();
    let statuses = network.mastodon.statuses.lock().unwrap().clone();
    assert_eq!(statuses.len(), 1);
    assert_eq!(
        statuses[0]["content"].as_str(),
        Some(format!("<p>{expected}</p>").as_str()),
        "the network got the tracked text"
    );
}
