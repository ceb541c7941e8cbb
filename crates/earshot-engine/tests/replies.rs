//! A reply from the inbox to a Mastodon server and back: the reply bridge and the outbox
//! worker over a real SQLite store, the server a local one answering as Mastodon's
//! `POST /api/v1/statuses` documents (a Status with `id` and `url`; 422 for invalid input).

use std::sync::{Arc, RwLock};

use chrono::{TimeZone, Utc};
use earshot_core::{
    Author, Config, NewConversation, NewMention, ReplyStatus, SourceConfig, SourceKind, Stamp,
};
use earshot_engine::replies::ReplyBridge;
use earshot_engine::OutboxWorker;
use earshot_sources::HttpClient;
use earshot_store::{SqliteStore, Store};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

struct Setup {
    _dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    config: Config,
    conversation: earshot_core::ConversationId,
}

async fn setup(server: &MockServer) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
    let mut config = Config::default();
    config.add_brand_query("Zeltron", "Zeltron", false);
    let mut masto = SourceConfig::new("masto", SourceKind::Mastodon);
    masto.url = Some(server.uri());
    masto.token = Some("write-token".into());
    config.add_source(masto).unwrap();
    let at = Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap();
    let mention = NewMention {
        source: "masto".into(),
        external_id: Some("109876".into()),
        url: Some(format!("{}/@carol/109876", server.uri())),
        canonical_url: None,
        title: None,
        text: "My Zeltron stopped charging".into(),
        links: Vec::new(),
        published_at: at,
        author: Some(Author {
            handle: Some("carol".into()),
            name: Some("Carol".into()),
            url: None,
            followers: Some(40),
        }),
        lang: "en".into(),
        in_reply_to: None,
        brands: vec!["Zeltron".into()],
        fingerprint: 42,
        duplicate_of: None,
        analysis: None,
    };
    let id = store
        .write_batch(vec![mention], None)
        .await
        .unwrap()
        .inserted[0];
    let (conversation, _) = store
        .create_conversation(&NewConversation::for_mention(id), &Stamp::system(at))
        .await
        .unwrap();
    Setup {
        _dir: dir,
        store,
        config,
        conversation: conversation.id,
    }
}

fn worker(s: &Setup) -> OutboxWorker {
    let http = HttpClient::new(std::time::Duration::from_secs(5)).unwrap();
    OutboxWorker::from_config(s.store.clone(), http, &s.config).unwrap()
}

#[tokio::test]
async fn a_reply_is_posted_once_in_reply_to_the_mention_and_marked_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/statuses"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "110000",
            "uri": format!("{}/users/brand/statuses/110000", server.uri()),
            "url": format!("{}/@brand/110000", server.uri()),
            "created_at": "2026-03-02T10:05:00.000Z",
            "content": "<p>Sorry Carol</p>",
            "visibility": "public",
            "in_reply_to_id": "109876",
            "account": {"id": "1", "username": "brand", "acct": "brand"}
        })))
        .mount(&server)
        .await;
    let s = setup(&server).await;
    let now = Utc::now();
    let reply = s
        .store
        .queue_reply(
            s.conversation,
            "Sorry Carol, we are on it",
            "key-1",
            &Stamp::new("anna", now),
        )
        .await
        .unwrap();
    let bridge = ReplyBridge::new(s.store.clone(), Arc::new(RwLock::new(s.config.clone())));
    assert_eq!(bridge.run_once(now).await.unwrap().enqueued, 1);
    // A second pass before delivery hands nothing over again.
    assert_eq!(bridge.run_once(now).await.unwrap().enqueued, 0);
    let report = worker(&s).run_once().await.unwrap();
    assert_eq!(report.delivered, 1);
    assert_eq!(bridge.run_once(now).await.unwrap().sent, 1);

    let reply = s.store.reply(reply.id).await.unwrap().unwrap();
    assert_eq!(reply.status, ReplyStatus::Sent);
    assert_eq!(reply.network_id.as_deref(), Some("110000"));
    assert_eq!(
        reply.network_url,
        Some(format!("{}/@brand/110000", server.uri()))
    );
    let conversation = s.store.conversation(s.conversation).await.unwrap().unwrap();
    assert!(conversation.first_response_at.is_some());

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1, "posted exactly once");
    let posted = &requests[0];
    assert_eq!(
        posted
            .headers
            .get("idempotency-key")
            .unwrap()
            .to_str()
            .unwrap(),
        "key-1"
    );
    assert_eq!(
        posted
            .headers
            .get("authorization")
            .unwrap()
            .to_str()
            .unwrap(),
        "Bearer write-token"
    );
    let body: Value = serde_json::from_slice(&posted.body).unwrap_or_else(|_| {
        // Form-encoded bodies are also what Mastodon accepts.
        let pairs: serde_json::Map<String, Value> = url::form_urlencoded::parse(&posted.body)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        Value::Object(pairs)
    });
    assert_eq!(body["in_reply_to_id"], "109876");
    assert_eq!(body["status"], "Sorry Carol, we are on it");
    // Nothing more happens on later passes.
    assert_eq!(bridge.run_once(now).await.unwrap(), Default::default());
}

#[tokio::test]
async fn a_refused_reply_is_marked_failed_with_the_servers_reason() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/statuses"))
        .respond_with(ResponseTemplate::new(422).set_body_json(
            json!({"error": "Validation failed: Text character limit of 500 exceeded"}),
        ))
        .mount(&server)
        .await;
    let s = setup(&server).await;
    let now = Utc::now();
    let reply = s
        .store
        .queue_reply(
            s.conversation,
            "far too long",
            "key-2",
            &Stamp::new("anna", now),
        )
        .await
        .unwrap();
    let bridge = ReplyBridge::new(s.store.clone(), Arc::new(RwLock::new(s.config.clone())));
    bridge.run_once(now).await.unwrap();
    let report = worker(&s).run_once().await.unwrap();
    assert_eq!(report.failed, 1);
    assert_eq!(bridge.run_once(now).await.unwrap().failed, 1);
    // The failure is recorded once, not on every pass.
    assert_eq!(bridge.run_once(now).await.unwrap().failed, 0);
    let reply = s.store.reply(reply.id).await.unwrap().unwrap();
    assert_eq!(reply.status, ReplyStatus::Failed);
    assert!(
        reply.error.as_deref().unwrap().contains("character limit"),
        "{:?}",
        reply.error
    );
}
