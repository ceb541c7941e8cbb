//! SLA escalations end to end: a real SQLite workspace, the inbox hook, `check_sla`, the
//! escalation fan-out, and the outbox worker delivering to a small SMTP server written here
//! and to a webhook receiver (wiremock). Time is injected: nothing waits on the clock.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use earshot_core::{
    Author, Config, EmailAddress, IncomingMention, OutboxFilter, OutboxKind, OutboxState, Role,
    SmtpConfig, SmtpSecurity, WebhookConfig,
};
use earshot_engine::inbox::{
    check_sla, enqueue_escalation, EmailRecipient, EscalationSettings, InboxRouter, RouteItem,
    RoutingRules, RoutingSignals, Signal,
};
use earshot_engine::{ManualClock, OutboxWorker, Pipeline};
use earshot_sources::HttpClient;
use earshot_store::{NewUser, SqliteStore, Store};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

mod support;
use support::smtp::smtp_server;

/// Wednesday 2026-03-04, 10:00 UTC: the support team is on shift.
fn opened() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 4, 10, 0, 0).unwrap()
}

/// The complaint is urgent (first response within 1 h); 2 h 30 min later it is 1 h 30 min late.
fn checked() -> DateTime<Utc> {
    opened() + Duration::minutes(150)
}

const CONFIG: &str = r#"
[server]
public_url = "https://earshot.brand.example/"

[[brand]]
name = "Zeltron"
queries = ["zeltron"]

[[team]]
name = "support"
members = ["anna", "boris"]
manager = "maria"

[[routing.rule]]
name = "complaints"
when = { intents = ["complaint"] }
then = { team = "support", assign = "round_robin" }
"#;

fn complaint_signals(_: &RouteItem<'_>) -> RoutingSignals {
    RoutingSignals {
        spam: Some(0.01),
        offensive: Some(0.01),
        sentiment: Some(Signal::new("negative", 0.9)),
        intents: vec![Signal::new("complaint", 0.9)],
    }
}

struct Setup {
    store: Arc<dyn Store>,
    rules: Arc<RoutingRules>,
    config: Config,
    _dir: tempfile::TempDir,
}

/// A workspace with one overdue complaint of team support (manager maria, who has
/// `manager_email` when given) and `[outbox] escalation_email = fallback` when given.
async fn setup(manager_email: Option<&str>, fallback: Option<&str>) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let mut config: Config = toml::from_str(CONFIG).unwrap();
    config.outbox.escalation_email = fallback.map(|a| EmailAddress::parse(a).unwrap());
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
    store
        .create_user_with_email(
            NewUser {
                name: "maria".into(),
                display_name: None,
                role: Role::Manager,
                password_hash: None,
                created_at: opened(),
            },
            manager_email
                .map(|a| EmailAddress::parse(a).unwrap())
                .as_ref(),
        )
        .await
        .unwrap();
    let rules = Arc::new(RoutingRules::compile(&config).unwrap());
    let router = InboxRouter::new(store.clone(), rules.clone())
        .await
        .unwrap()
        .with_signals(Arc::new(complaint_signals))
        .with_clock(Arc::new(opened));
    let pipeline = Pipeline::new(store.clone(), &config.brands)
        .await
        .unwrap()
        .with_inbox(Arc::new(router));
    pipeline
        .ingest(
            vec![IncomingMention {
                source: "mastodon".into(),
                external_id: Some("1".into()),
                url: Some("https://social.example/@someone/1".into()),
                title: None,
                text: "zeltron is broken again".into(),
                is_html: false,
                published_at: opened() - Duration::minutes(10),
                author: Some(Author {
                    handle: Some("@someone".into()),
                    followers: Some(250),
                    ..Author::default()
                }),
                lang: Some("en".into()),
                in_reply_to: None,
            }],
            None,
        )
        .await
        .unwrap();
    Setup {
        store,
        rules,
        config,
        _dir: dir,
    }
}

fn with_smtp(config: &mut Config, port: u16) {
    config.outbox.smtp = Some(SmtpConfig {
        host: "127.0.0.1".into(),
        port,
        security: SmtpSecurity::Plain,
        user: None,
        password: None,
        from: "Earshot <earshot@brand.example>".into(),
    });
}

/// One SLA check as `earshot serve` runs it: flag, then queue every escalation.
async fn check_and_queue(setup: &Setup) -> Vec<earshot_engine::inbox::EscalationFanOut> {
    let settings = EscalationSettings::from_config(&setup.config);
    let mut fanned = Vec::new();
    for escalation in check_sla(setup.store.as_ref(), &setup.rules, checked())
        .await
        .unwrap()
    {
        fanned.push(
            enqueue_escalation(setup.store.as_ref(), &settings, &escalation, checked())
                .await
                .unwrap(),
        );
    }
    fanned
}

/// The message as written: folded header lines joined, quoted-printable soft breaks removed.
fn unfolded(data: &str) -> String {
    data.replace("=\n", "").replace("\n ", " ")
}

fn worker(setup: &Setup) -> OutboxWorker {
    OutboxWorker::new(
        setup.store.clone(),
        HttpClient::new(std::time::Duration::from_secs(5)).unwrap(),
        &setup.config.outbox,
    )
    .unwrap()
    .with_clock(Arc::new(ManualClock::new(checked())))
}

async fn outbox_of(store: &Arc<dyn Store>, kind: OutboxKind) -> Vec<earshot_core::OutboxMessage> {
    store
        .list_outbox(
            &OutboxFilter {
                kind: Some(kind),
                ..OutboxFilter::default()
            },
            50,
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn a_breach_is_mailed_once_to_the_teams_manager() {
    let (port, sessions) = smtp_server("250 2.1.5 OK\r\n").await;
    let mut setup = setup(Some("maria@brand.example"), Some("ops@brand.example")).await;
    with_smtp(&mut setup.config, port);

    let fanned = check_and_queue(&setup).await;
    assert_eq!(fanned.len(), 1, "{fanned:#?}");
    let (recipient, key) = fanned[0].email.clone().expect("an e-mail was queued");
    assert_eq!(
        recipient,
        EmailRecipient::Manager(EmailAddress::parse("maria@brand.example").unwrap())
    );
    assert_eq!(
        key,
        "sla-escalation-email:1:first_response:maria@brand.example"
    );
    assert_eq!(fanned[0].webhook, None, "no [outbox.webhook] configured");

    let report = worker(&setup).run_once().await.unwrap();
    assert_eq!(report.delivered, 1, "{report:?}");
    let delivered: Vec<_> = sessions
        .lock()
        .unwrap()
        .iter()
        .filter(|s| !s.data.is_empty())
        .cloned()
        .collect();
    assert_eq!(delivered.len(), 1);
    let commands = delivered[0].commands.join("\n");
    assert!(
        commands.contains("RCPT TO:<maria@brand.example>"),
        "{commands}"
    );
    let data = &unfolded(&delivered[0].data);
    assert!(
        data.contains(
            "Subject: [Earshot] Conversation #1 (support): first response overdue by 1 h 30 min"
        ),
        "{data}"
    );
    assert!(
        data.contains("https://earshot.brand.example/inbox/1"),
        "{data}"
    );
    assert!(data.contains("Assigned to: anna"), "{data}");

    // Checked again (and the same breach queued again, as a restarted checker might): the
    // breach is not reported twice and the dedup key keeps the queue at one e-mail.
    assert!(check_and_queue(&setup).await.is_empty());
    let settings = EscalationSettings::from_config(&setup.config);
    let breach = earshot_engine::inbox::Escalation {
        conversation: earshot_core::ConversationId(1),
        team: Some("support".into()),
        manager: Some("maria".into()),
        kind: earshot_core::SlaClock::FirstResponse,
        due_at: opened() + Duration::hours(1),
        priority: earshot_core::Priority::Urgent,
        assignee: Some("anna".into()),
    };
    enqueue_escalation(setup.store.as_ref(), &settings, &breach, checked())
        .await
        .unwrap();
    assert_eq!(worker(&setup).run_once().await.unwrap().claimed, 0);
    let emails = outbox_of(&setup.store, OutboxKind::Email).await;
    assert_eq!(emails.len(), 1);
    assert_eq!(emails[0].state, OutboxState::Delivered);
    let sent = sessions
        .lock()
        .unwrap()
        .iter()
        .filter(|s| !s.data.is_empty())
        .count();
    assert_eq!(sent, 1, "mailed once");
}

#[tokio::test]
async fn a_manager_without_an_address_is_covered_by_the_fallback() {
    let (port, sessions) = smtp_server("250 2.1.5 OK\r\n").await;
    let mut setup = setup(None, Some("ops@brand.example")).await;
    with_smtp(&mut setup.config, port);

    let fanned = check_and_queue(&setup).await;
    assert_eq!(
        fanned[0].email.as_ref().map(|(to, _)| to.clone()),
        Some(EmailRecipient::Fallback(
            EmailAddress::parse("ops@brand.example").unwrap()
        ))
    );
    assert_eq!(worker(&setup).run_once().await.unwrap().delivered, 1);
    let sessions = sessions.lock().unwrap().clone();
    let session = sessions.iter().find(|s| !s.data.is_empty()).unwrap();
    assert!(
        session
            .commands
            .join("\n")
            .contains("RCPT TO:<ops@brand.example>"),
        "{:?}",
        session.commands
    );
    assert!(
        unfolded(&session.data).contains("manager maria has no e-mail address"),
        "{}",
        session.data
    );
}

#[tokio::test]
async fn with_no_address_at_all_only_the_webhook_goes_out_and_the_reason_is_given() {
    let hooks = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&hooks)
        .await;
    let (port, sessions) = smtp_server("250 2.1.5 OK\r\n").await;
    let mut setup = setup(None, None).await;
    with_smtp(&mut setup.config, port);
    setup.config.outbox.webhook = Some(WebhookConfig {
        url: format!("{}/hooks/earshot", hooks.uri()),
        secret: "hook-secret".into(),
    });

    let fanned = check_and_queue(&setup).await;
    assert_eq!(fanned.len(), 1);
    assert_eq!(fanned[0].email, None);
    assert_eq!(
        fanned[0].webhook.as_deref(),
        Some("sla-escalation:1:first_response")
    );
    let reason = fanned[0].no_email.as_deref().unwrap();
    assert!(
        reason.contains("manager maria has no e-mail address")
            && reason.contains("escalation_email is not set"),
        "{reason}"
    );
    assert_eq!(worker(&setup).run_once().await.unwrap().delivered, 1);
    assert!(outbox_of(&setup.store, OutboxKind::Email).await.is_empty());
    let webhooks = outbox_of(&setup.store, OutboxKind::Webhook).await;
    assert_eq!(webhooks.len(), 1);
    assert_eq!(
        webhooks[0].payload["data"]["url"],
        "https://earshot.brand.example/inbox/1"
    );
    assert!(sessions.lock().unwrap().iter().all(|s| s.data.is_empty()));
}
