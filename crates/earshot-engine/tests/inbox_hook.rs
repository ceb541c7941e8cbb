//! The inbox hook on a real SQLite workspace: ingesting mentions opens routed conversations,
//! replies join their thread, spam opens ignored, members on shift are assigned, and the SLA
//! checker flags and escalates once.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, TimeZone, Utc};
use earshot_core::{
    Author, BrandConfig, Config, ConversationFilter, ConversationState, IncomingMention, Priority,
    SlaClock,
};
use earshot_engine::inbox::{
    check_sla, InboxRouter, RouteItem, RoutingRules, RoutingSignals, Signal,
};
use earshot_engine::Pipeline;
use earshot_store::{SqliteStore, Store};

/// Wednesday 2026-03-04, 10:00 UTC: the support team (09-18 UTC) is on shift.
fn wednesday_morning() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 4, 10, 0, 0).unwrap()
}

fn item(id: &str, text: &str, reply_to: Option<&str>) -> IncomingMention {
    IncomingMention {
        source: "mastodon".into(),
        external_id: Some(id.into()),
        url: Some(format!("https://social.example/@someone/{id}")),
        title: None,
        text: text.into(),
        is_html: false,
        published_at: wednesday_morning() - Duration::minutes(30),
        author: Some(Author {
            handle: Some("@someone".into()),
            followers: Some(250),
            ..Author::default()
        }),
        lang: Some("en".into()),
        in_reply_to: reply_to.map(String::from),
    }
}

const CONFIG: &str = r#"
[[brand]]
name = "Zeltron"
queries = ["zeltron"]

[[team]]
name = "support"
members = ["anna", "boris"]
manager = "maria"
capacity = 5

[[team]]
name = "billing"
members = ["vera"]
timezone = "Asia/Tokyo"

[[routing.rule]]
name = "spam"
when = { spam = true }
then = { ignore = true }

[[routing.rule]]
name = "money"
when = { keywords = "refund OR invoice" }
then = { team = "billing", assign = "round_robin", tags = ["money"] }

[[routing.rule]]
name = "complaints"
when = { intents = ["complaint"] }
then = { team = "support", assign = "round_robin" }
"#;

/// Signals the test decides per text, standing in for the analysis stage.
fn signals_by_text(item: &RouteItem<'_>) -> RoutingSignals {
    let mut signals = RoutingSignals {
        spam: Some(0.01),
        offensive: Some(0.01),
        sentiment: Some(Signal::new("neutral", 0.6)),
        intents: Vec::new(),
    };
    if item.text.contains("broken") {
        signals.intents.push(Signal::new("complaint", 0.9));
        signals.sentiment = Some(Signal::new("negative", 0.9));
    }
    if item.text.contains("cheap pills") {
        signals.spam = Some(0.99);
    }
    signals
}

struct Setup {
    store: Arc<dyn Store>,
    pipeline: Pipeline,
    rules: Arc<RoutingRules>,
    now: Arc<Mutex<DateTime<Utc>>>,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let config: Config = toml::from_str(CONFIG).unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
    let rules = Arc::new(RoutingRules::compile(&config).unwrap());
    let now = Arc::new(Mutex::new(wednesday_morning()));
    let clock_now = now.clone();
    let router = InboxRouter::new(store.clone(), rules.clone())
        .await
        .unwrap()
        .with_signals(Arc::new(signals_by_text))
        .with_clock(Arc::new(move || *clock_now.lock().unwrap()));
    let brands: Vec<BrandConfig> = config.brands.clone();
    let pipeline = Pipeline::new(store.clone(), &brands)
        .await
        .unwrap()
        .with_inbox(Arc::new(router));
    Setup {
        store,
        pipeline,
        rules,
        now,
        _dir: dir,
    }
}

async fn all_conversations(store: &Arc<dyn Store>) -> Vec<earshot_core::Conversation> {
    let mut found = store
        .list_conversations(&ConversationFilter::default(), None, 100)
        .await
        .unwrap()
        .conversations;
    found.sort_by_key(|c| c.id);
    found
}

#[tokio::test]
async fn ingest_opens_routed_conversations_and_threads_replies() {
    let setup = setup().await;
    let report = setup
        .pipeline
        .ingest(
            vec![
                // The reply comes first in the batch; it is published later, so it is threaded
                // after its parent opened the conversation.
                {
                    let mut reply = item("2", "still broken, zeltron", Some("1"));
                    reply.published_at = wednesday_morning() - Duration::minutes(5);
                    reply
                },
                item("1", "zeltron is broken again", None),
                item("3", "zeltron: where is my invoice?", None),
                item("4", "zeltron cheap pills", None),
                item("5", "saw zeltron on tv", None),
                // A copy of 5: a near-duplicate opens nothing.
                item("6", "saw zeltron on tv!", None),
            ],
            None,
        )
        .await
        .unwrap();
    assert_eq!(report.inserted, 6);
    assert_eq!(report.near_duplicates, 1);

    let conversations = all_conversations(&setup.store).await;
    assert_eq!(conversations.len(), 4, "{conversations:#?}");

    let complaint = &conversations[0];
    assert_eq!(complaint.team.as_deref(), Some("support"));
    assert_eq!(complaint.state, ConversationState::Assigned);
    assert_eq!(complaint.assignee.as_deref(), Some("anna"));
    assert_eq!(complaint.mention_count, 2, "the reply joined the thread");
    assert_eq!(complaint.routed_by.as_deref(), Some("complaints"));
    assert_eq!(
        complaint.routing_reason.as_deref(),
        Some("rule \"complaints\": intent complaint (0.90)")
    );
    assert!(complaint.negative);
    // complaint 30 + negative 18 + reach 8·log10(251) ≈ 19.2 = 67: urgent; SLA 1h / 8h.
    assert_eq!(complaint.priority, Priority::Urgent);
    assert_eq!(
        complaint.first_response_due,
        Some(wednesday_morning() + Duration::hours(1))
    );
    assert_eq!(
        complaint.resolution_due,
        Some(wednesday_morning() + Duration::hours(8))
    );

    // Billing works in Tokyo: 10:00 UTC is 19:00 there, off shift, so the team queue.
    let invoice = &conversations[1];
    assert_eq!(invoice.team.as_deref(), Some("billing"));
    assert_eq!(invoice.state, ConversationState::New);
    assert_eq!(invoice.assignee, None);
    assert_eq!(invoice.tags, ["money"]);
    // Normal priority (8h), counted from Thursday 09:00 Tokyo = 00:00 UTC.
    assert_eq!(invoice.priority, Priority::Normal);
    assert_eq!(
        invoice.first_response_due,
        Some(Utc.with_ymd_and_hms(2026, 3, 5, 8, 0, 0).unwrap())
    );

    let spam = &conversations[2];
    assert_eq!(spam.state, ConversationState::Ignored);
    assert_eq!(spam.routed_by.as_deref(), Some("spam"));
    assert_eq!(spam.first_response_due, None);

    let unrouted = &conversations[3];
    assert_eq!(unrouted.team, None);
    assert_eq!(unrouted.state, ConversationState::New);
    assert_eq!(unrouted.routing_reason.as_deref(), Some("no rule matched"));

    // Ignoring is reversible: the spam conversation can be reopened.
    let reopened = setup
        .store
        .set_state(
            spam.id,
            ConversationState::New,
            &earshot_core::Stamp::new("anna", wednesday_morning()),
        )
        .await
        .unwrap();
    assert_eq!(reopened.state, ConversationState::New);

    // A later batch: a reply to the reply joins the same conversation; round-robin moves on.
    let report = setup
        .pipeline
        .ingest(
            vec![
                item("7", "zeltron, hello? still here", Some("2")),
                item("8", "my zeltron is broken too", None),
            ],
            None,
        )
        .await
        .unwrap();
    assert_eq!(report.inserted, 2);
    let conversations = all_conversations(&setup.store).await;
    assert_eq!(conversations.len(), 5);
    assert_eq!(conversations[0].mention_count, 3);
    assert_eq!(conversations[4].assignee.as_deref(), Some("boris"));

    // Re-ingesting the same items updates the mentions and opens nothing new.
    setup
        .pipeline
        .ingest(vec![item("8", "my zeltron is broken too", None)], None)
        .await
        .unwrap();
    assert_eq!(all_conversations(&setup.store).await.len(), 5);
}

#[tokio::test]
async fn sla_checker_flags_once_and_escalates_to_the_manager() {
    let setup = setup().await;
    setup
        .pipeline
        .ingest(
            vec![
                item("1", "zeltron is broken again", None),
                item("3", "zeltron: where is my invoice?", None),
            ],
            None,
        )
        .await
        .unwrap();
    // An hour and a minute later the urgent complaint missed its first response.
    let later = wednesday_morning() + Duration::minutes(61);
    *setup.now.lock().unwrap() = later;
    let escalations = check_sla(setup.store.as_ref(), &setup.rules, later)
        .await
        .unwrap();
    assert_eq!(escalations.len(), 1, "{escalations:#?}");
    let escalation = &escalations[0];
    assert_eq!(escalation.kind, SlaClock::FirstResponse);
    assert_eq!(escalation.manager.as_deref(), Some("maria"));
    assert_eq!(escalation.team.as_deref(), Some("support"));
    assert_eq!(escalation.due_at, wednesday_morning() + Duration::hours(1));
    assert!(escalation.message().contains("has had no first response"));
    // Checked again: nothing new.
    assert!(check_sla(setup.store.as_ref(), &setup.rules, later)
        .await
        .unwrap()
        .is_empty());
    let conversation = setup
        .store
        .conversation(escalation.conversation)
        .await
        .unwrap()
        .unwrap();
    assert!(conversation.first_response_overdue);
    assert!(!conversation.resolution_overdue);
    // The billing conversation (no manager) is flagged once its deadline passes, not escalated.
    let friday = Utc.with_ymd_and_hms(2026, 3, 6, 0, 0, 0).unwrap();
    let escalations = check_sla(setup.store.as_ref(), &setup.rules, friday)
        .await
        .unwrap();
    assert_eq!(
        escalations
            .iter()
            .map(|e| (e.team.as_deref(), e.kind))
            .collect::<Vec<_>>(),
        [(Some("support"), SlaClock::Resolution)]
    );
    let flagged = setup
        .store
        .list_conversations(
            &ConversationFilter {
                overdue: true,
                ..ConversationFilter::default()
            },
            None,
            10,
        )
        .await
        .unwrap()
        .conversations;
    assert_eq!(flagged.len(), 2);
}

#[tokio::test]
async fn catch_up_routes_mentions_stored_without_the_inbox() {
    let dir = tempfile::tempdir().unwrap();
    let config: Config = toml::from_str(CONFIG).unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
    let plain = Pipeline::new(store.clone(), &config.brands).await.unwrap();
    plain
        .ingest(
            vec![
                item("1", "zeltron is broken again", None),
                item("2", "and zeltron still is", Some("1")),
            ],
            None,
        )
        .await
        .unwrap();
    let rules = Arc::new(RoutingRules::compile(&config).unwrap());
    let router = InboxRouter::new(store.clone(), rules)
        .await
        .unwrap()
        .with_signals(Arc::new(signals_by_text))
        .with_clock(Arc::new(wednesday_morning));
    let (report, last) = router
        .catch_up(earshot_core::MentionId(0), 1)
        .await
        .unwrap();
    assert_eq!((report.opened, report.threaded), (1, 1));
    assert_eq!(last, earshot_core::MentionId(2));
    // Again: everything has a conversation already.
    let (again, _) = router
        .catch_up(earshot_core::MentionId(0), 10)
        .await
        .unwrap();
    assert_eq!(again, Default::default());
    assert_eq!(all_conversations(&store).await.len(), 1);
}

#[tokio::test]
async fn the_sla_checker_task_hands_escalations_to_the_outbox_queue() {
    let setup = setup().await;
    setup
        .pipeline
        .ingest(vec![item("1", "zeltron is broken again", None)], None)
        .await
        .unwrap();
    let (sender, mut receiver) = tokio::sync::mpsc::channel(8);
    let cancel = tokio_util::sync::CancellationToken::new();
    let overdue_now = wednesday_morning() + Duration::hours(2);
    let task = tokio::spawn(earshot_engine::inbox::run_sla_checker(
        setup.store.clone(),
        setup.rules.clone(),
        std::time::Duration::from_millis(5),
        Arc::new(move || overdue_now),
        sender,
        cancel.clone(),
    ));
    let escalation = receiver.recv().await.expect("an escalation");
    assert_eq!(escalation.kind, SlaClock::FirstResponse);
    assert_eq!(escalation.manager.as_deref(), Some("maria"));
    cancel.cancel();
    task.await.unwrap();
    // Each breach is escalated once, however often the checker ran.
    assert!(receiver.try_recv().is_err());
}
