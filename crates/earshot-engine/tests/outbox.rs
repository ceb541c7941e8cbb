//! The outbox worker against real parts: a SQLite store in a tempdir, webhook receivers and a
//! Mastodon server answering as documented (wiremock), and a small SMTP server written here.
//! Time is a hand-moved clock, so retries and leases are exact.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use earshot_core::{
    EmailPayload, NewOutboxMessage, OutboxConfig, OutboxState, PublishPayload, SmtpConfig,
    SmtpSecurity, SourceConfig, SourceKind, WebhookConfig, WebhookPayload,
};
use earshot_engine::outbox::{sign, DELIVERY_HEADER, SIGNATURE_HEADER};
use earshot_engine::{Delivery, ManualClock, OutboxWorker};
use earshot_sources::{build_publisher, HttpClient};
use earshot_store::{SqliteStore, Store};
use serde_json::{json, Value};
use tempfile::TempDir;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

mod support;
use support::smtp::smtp_server;

const SECRET: &str = "s3cret-hook-key";

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap()
}

struct Setup {
    _dir: TempDir,
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
}

async fn setup() -> Setup {
    let dir = TempDir::new().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
    Setup {
        _dir: dir,
        store,
        clock: Arc::new(ManualClock::new(start())),
    }
}

fn http() -> HttpClient {
    HttpClient::new(Duration::from_secs(5)).unwrap()
}

fn config_with_webhook(server: &MockServer) -> OutboxConfig {
    OutboxConfig {
        webhook: Some(WebhookConfig {
            url: format!("{}/hooks/earshot", server.uri()),
            secret: SECRET.into(),
        }),
        ..OutboxConfig::default()
    }
}

fn worker(setup: &Setup, config: &OutboxConfig) -> OutboxWorker {
    OutboxWorker::new(setup.store.clone(), http(), config)
        .unwrap()
        .with_clock(setup.clock.clone())
}

fn overdue(key: &str) -> NewOutboxMessage {
    NewOutboxMessage::webhook(
        key,
        &WebhookPayload {
            event: "sla.overdue".into(),
            data: json!({"conversation": 42, "author": "<script>alert(1)</script>"}),
        },
    )
}

fn header<'r>(request: &'r Request, name: &str) -> &'r str {
    request
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[tokio::test]
async fn webhook_is_signed_retried_after_500_and_delivered() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hooks/earshot"))
        .respond_with(ResponseTemplate::new(500).set_body_string("busy"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/hooks/earshot"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let setup = setup().await;
    let worker = worker(&setup, &config_with_webhook(&server));
    let id = setup
        .store
        .enqueue(overdue("sla:42"), start())
        .await
        .unwrap()
        .id;

    let report = worker.run_once().await.unwrap();
    assert_eq!((report.claimed, report.retried), (1, 1));
    let waiting = setup.store.outbox_message(id).await.unwrap().unwrap();
    assert_eq!(waiting.state, OutboxState::Pending);
    assert!(waiting.last_error.as_deref().unwrap().contains("HTTP 500"));
    let wait = waiting.next_attempt_at - start();
    assert!(
        wait >= chrono::Duration::seconds(15) && wait <= chrono::Duration::seconds(30),
        "first backoff is half to all of the 30 s base: {wait}"
    );
    assert_eq!(worker.run_once().await.unwrap().claimed, 0, "not due yet");

    setup.clock.advance(Duration::from_secs(30));
    let report = worker.run_once().await.unwrap();
    assert_eq!(report.delivered, 1);
    let delivered = setup.store.outbox_message(id).await.unwrap().unwrap();
    assert_eq!(delivered.state, OutboxState::Delivered);
    assert_eq!(delivered.attempts, 2);
    assert_eq!(delivered.result, Some(json!({"status": 204})));

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        // The receiver's check: HMAC-SHA256 of the exact body under the shared secret.
        assert_eq!(
            header(request, SIGNATURE_HEADER),
            sign(SECRET, &request.body),
            "signature over the body"
        );
        assert_eq!(header(request, DELIVERY_HEADER), id.to_string());
        assert_eq!(header(request, "content-type"), "application/json");
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["event"], "sla.overdue");
        assert_eq!(body["data"]["author"], "<script>alert(1)</script>");
    }
    assert_eq!(
        requests[0].body, requests[1].body,
        "a retry sends the same delivery"
    );
    assert_ne!(
        sign("another secret", &requests[0].body),
        header(&requests[0], SIGNATURE_HEADER)
    );
}

#[tokio::test]
async fn webhook_400_fails_at_once_and_429_waits_as_told() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(|request: &Request| {
            let body: Value = serde_json::from_slice(&request.body).unwrap();
            if body["data"]["conversation"] == 1 {
                ResponseTemplate::new(400).set_body_json(json!({"error": "unknown event"}))
            } else {
                ResponseTemplate::new(429).insert_header("retry-after", "120")
            }
        })
        .mount(&server)
        .await;
    let setup = setup().await;
    let worker = worker(&setup, &config_with_webhook(&server));
    let bad = NewOutboxMessage::webhook(
        "bad",
        &WebhookPayload {
            event: "x".into(),
            data: json!({"conversation": 1}),
        },
    );
    let bad = setup.store.enqueue(bad, start()).await.unwrap().id;
    let limited = setup
        .store
        .enqueue(overdue("limited"), start())
        .await
        .unwrap()
        .id;

    let report = worker.run_once().await.unwrap();
    assert_eq!((report.failed, report.retried), (1, 1));
    let failed = setup.store.outbox_message(bad).await.unwrap().unwrap();
    assert_eq!(failed.state, OutboxState::Failed);
    let error = failed.last_error.unwrap();
    assert!(
        error.contains("HTTP 400") && error.contains("unknown event"),
        "{error}"
    );
    let waiting = setup.store.outbox_message(limited).await.unwrap().unwrap();
    assert_eq!(
        waiting.next_attempt_at,
        start() + chrono::Duration::seconds(120)
    );
}

#[tokio::test]
async fn attempts_run_out_and_the_message_is_kept_as_failed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(502))
        .expect(3)
        .mount(&server)
        .await;
    let setup = setup().await;
    let config = OutboxConfig {
        max_attempts: 3,
        ..config_with_webhook(&server)
    };
    let worker = worker(&setup, &config);
    let id = setup
        .store
        .enqueue(overdue("doomed"), start())
        .await
        .unwrap()
        .id;
    for _ in 0..5 {
        worker.run_once().await.unwrap();
        setup.clock.advance(Duration::from_secs(3_600));
    }
    let failed = setup.store.outbox_message(id).await.unwrap().unwrap();
    assert_eq!(failed.state, OutboxState::Failed);
    assert_eq!(failed.attempts, 3);
    assert!(
        failed
            .last_error
            .unwrap()
            .starts_with("gave up after 3 attempts"),
        "kept with the reason"
    );
}

#[tokio::test]
async fn a_claim_whose_worker_died_is_delivered_once_after_the_lease() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let setup = setup().await;
    let config = config_with_webhook(&server);
    let id = setup
        .store
        .enqueue(overdue("crash"), start())
        .await
        .unwrap()
        .id;
    // A worker claims the message and dies without delivering or marking it.
    let dead = setup
        .store
        .claim_due(start(), 10, Duration::from_secs(config.lease_secs))
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    drop(dead);

    let survivor = worker(&setup, &config);
    assert_eq!(
        survivor.run_once().await.unwrap().claimed,
        0,
        "still leased"
    );
    setup
        .clock
        .advance(Duration::from_secs(config.lease_secs - 1));
    assert_eq!(survivor.run_once().await.unwrap().claimed, 0);
    setup.clock.advance(Duration::from_secs(1));
    assert_eq!(survivor.run_once().await.unwrap().delivered, 1);
    setup
        .clock
        .advance(Duration::from_secs(10 * config.lease_secs));
    assert_eq!(survivor.run_once().await.unwrap().claimed, 0);
    let message = setup.store.outbox_message(id).await.unwrap().unwrap();
    assert_eq!(message.state, OutboxState::Delivered);
    assert_eq!(message.attempts, 2);
}

// ------------------------------------------------------------------ publishing

/// `POST /api/v1/statuses` as Mastodon answers it: one status per `Idempotency-Key`, the
/// same status again for a key already seen.
struct MastodonStatuses {
    base: String,
    by_key: Mutex<HashMap<String, String>>,
    created: Arc<Mutex<Vec<Value>>>,
}

impl Respond for MastodonStatuses {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        if header(request, "authorization") != "Bearer tok" {
            return ResponseTemplate::new(401)
                .set_body_json(json!({"error": "The access token is invalid"}));
        }
        let key = header(request, "idempotency-key").to_string();
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        let mut by_key = self.by_key.lock().unwrap();
        let id = by_key
            .entry(key)
            .or_insert_with(|| {
                let mut created = self.created.lock().unwrap();
                created.push(body.clone());
                format!("11000{}", created.len())
            })
            .clone();
        ResponseTemplate::new(200).set_body_json(json!({
            "id": id,
            "uri": format!("{}/users/brand/statuses/{id}", self.base),
            "url": format!("{}/@brand/{id}", self.base),
            "content": body["status"],
            "in_reply_to_id": body["in_reply_to_id"],
            "visibility": "public"
        }))
    }
}

async fn mastodon_server() -> (MockServer, Arc<Mutex<Vec<Value>>>) {
    let server = MockServer::start().await;
    let created = Arc::new(Mutex::new(Vec::new()));
    Mock::given(method("POST"))
        .and(path("/api/v1/statuses"))
        .respond_with(MastodonStatuses {
            base: server.uri(),
            by_key: Mutex::new(HashMap::new()),
            created: created.clone(),
        })
        .mount(&server)
        .await;
    (server, created)
}

fn publishing_worker(setup: &Setup, server: &MockServer) -> OutboxWorker {
    let mut account = SourceConfig::new("brand-masto", SourceKind::Mastodon);
    account.url = Some(server.uri());
    account.token = Some("tok".into());
    let publisher = build_publisher(&account, &http()).unwrap();
    worker(setup, &OutboxConfig::default()).with_publisher(Arc::from(publisher))
}

fn reply(key: &str, account: &str) -> NewOutboxMessage {
    NewOutboxMessage::publish(
        key,
        &PublishPayload {
            account: account.into(),
            text: "Sorry about that — a fix is on its way".into(),
            reply_to: Some(earshot_core::ReplyTarget {
                external_id: Some("109".into()),
                url: None,
                server: None,
            }),
            language: Some("en".into()),
            created_at: start(),
        },
    )
}

#[tokio::test]
async fn a_reply_is_published_and_its_remote_id_kept() {
    let (server, created) = mastodon_server().await;
    let setup = setup().await;
    let mut target = reply("reply:42:1", "brand-masto");
    target.payload["reply_to"]["server"] = json!(server.uri());
    let id = setup.store.enqueue(target, start()).await.unwrap().id;
    let unknown = setup
        .store
        .enqueue(reply("reply:43:1", "nobody"), start())
        .await
        .unwrap()
        .id;

    let report = publishing_worker(&setup, &server).run_once().await.unwrap();
    assert_eq!((report.delivered, report.failed), (1, 1));
    let done = setup.store.outbox_message(id).await.unwrap().unwrap();
    assert_eq!(done.state, OutboxState::Delivered);
    let result = done.result.unwrap();
    assert_eq!(result["remote_id"], "110001");
    assert_eq!(result["url"], format!("{}/@brand/110001", server.uri()));
    let sent = created.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["in_reply_to_id"], "109");
    assert_eq!(sent[0]["status"], "Sorry about that — a fix is on its way");

    let failed = setup.store.outbox_message(unknown).await.unwrap().unwrap();
    assert_eq!(failed.state, OutboxState::Failed);
    assert!(failed.last_error.unwrap().contains("\"nobody\""));
}

#[tokio::test]
async fn a_publication_whose_mark_was_lost_is_not_posted_twice() {
    let (server, created) = mastodon_server().await;
    let setup = setup().await;
    let mut message = reply("reply:42:2", "brand-masto");
    message.payload["reply_to"]["server"] = json!(server.uri());
    let id = setup.store.enqueue(message, start()).await.unwrap().id;
    let worker = publishing_worker(&setup, &server);

    // A worker claims it, publishes, and dies before recording the delivery.
    let claim = setup
        .store
        .claim_due(start(), 1, Duration::from_secs(120))
        .await
        .unwrap()
        .remove(0);
    let first = worker.deliver(&claim.message).await;
    let Delivery::Delivered(first) = first else {
        panic!("the first attempt should publish: {first:?}")
    };
    drop(claim);

    // After the lease, another worker sends it again with the same Idempotency-Key.
    setup.clock.advance(Duration::from_secs(121));
    assert_eq!(worker.run_once().await.unwrap().delivered, 1);
    let done = setup.store.outbox_message(id).await.unwrap().unwrap();
    assert_eq!(done.state, OutboxState::Delivered);
    assert_eq!(done.result.unwrap()["remote_id"], first["remote_id"]);
    assert_eq!(
        created.lock().unwrap().len(),
        1,
        "exactly one status on the server"
    );
}

// ------------------------------------------------------------------ e-mail

fn smtp_config(port: u16) -> OutboxConfig {
    OutboxConfig {
        smtp: Some(SmtpConfig {
            host: "127.0.0.1".into(),
            port,
            security: SmtpSecurity::Plain,
            user: Some("earshot".into()),
            password: Some("pa55word".into()),
            from: "Earshot <earshot@brand.example>".into(),
        }),
        ..OutboxConfig::default()
    }
}

fn escalation(key: &str) -> NewOutboxMessage {
    NewOutboxMessage::email(
        key,
        &EmailPayload {
            to: vec!["Support Lead <lead@brand.example>".into()],
            subject: "Overdue: conversation 42".into(),
            body: "A complaint from @alice waits past its SLA.".into(),
        },
    )
}

#[tokio::test]
async fn email_goes_through_smtp_with_auth_headers_and_body() {
    let (port, sessions) = smtp_server("250 2.1.5 OK\r\n").await;
    let setup = setup().await;
    let worker = worker(&setup, &smtp_config(port));
    let id = setup
        .store
        .enqueue(escalation("sla-mail:42"), start())
        .await
        .unwrap()
        .id;
    let report = worker.run_once().await.unwrap();
    assert_eq!(report.delivered, 1, "{report:?}");
    let done = setup.store.outbox_message(id).await.unwrap().unwrap();
    assert_eq!(done.result.unwrap()["smtp_code"], "250");

    let sessions = sessions.lock().unwrap().clone();
    let session = sessions
        .iter()
        .find(|s| !s.data.is_empty())
        .expect("a session that sent data");
    let commands = session.commands.join("\n");
    assert!(
        commands.contains("AUTH PLAIN AGVhcnNob3QAcGE1NXdvcmQ="),
        "credentials earshot/pa55word: {commands}"
    );
    assert!(
        commands.contains("MAIL FROM:<earshot@brand.example>"),
        "{commands}"
    );
    assert!(
        commands.contains("RCPT TO:<lead@brand.example>"),
        "{commands}"
    );
    let data = &session.data;
    assert!(data.contains("Subject: Overdue: conversation 42"), "{data}");
    assert!(
        data.contains("To: \"Support Lead\" <lead@brand.example>"),
        "{data}"
    );
    assert!(
        data.contains("From: Earshot <earshot@brand.example>"),
        "{data}"
    );
    assert!(
        data.contains(&format!("Message-ID: <outbox-{id}-")),
        "{data}"
    );
    assert!(
        data.contains("A complaint from @alice waits past its SLA."),
        "{data}"
    );
}

#[tokio::test]
async fn a_refused_recipient_fails_the_email_permanently() {
    let (port, _sessions) = smtp_server("550 5.1.1 <lead@brand.example>: user unknown\r\n").await;
    let setup = setup().await;
    let worker = worker(&setup, &smtp_config(port));
    let id = setup
        .store
        .enqueue(escalation("sla-mail:43"), start())
        .await
        .unwrap()
        .id;
    assert_eq!(worker.run_once().await.unwrap().failed, 1);
    let failed = setup.store.outbox_message(id).await.unwrap().unwrap();
    assert_eq!(failed.state, OutboxState::Failed);
    assert!(
        failed
            .last_error
            .as_deref()
            .unwrap()
            .contains("user unknown"),
        "{:?}",
        failed.last_error
    );
}

#[tokio::test]
async fn an_unreachable_smtp_server_is_retried() {
    // Bind and drop to get a port nobody listens on.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let setup = setup().await;
    let worker = worker(&setup, &smtp_config(port));
    let id = setup
        .store
        .enqueue(escalation("sla-mail:44"), start())
        .await
        .unwrap()
        .id;
    assert_eq!(worker.run_once().await.unwrap().retried, 1);
    let waiting = setup.store.outbox_message(id).await.unwrap().unwrap();
    assert_eq!(waiting.state, OutboxState::Pending);
    assert!(waiting.last_error.is_some());
}
