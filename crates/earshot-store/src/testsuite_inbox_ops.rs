//! Behaviour tests of [`crate::UserContactStore`] and [`crate::InboxBatchStore`] that every
//! [`Store`] must pass; [`run_all`] runs them, each on a fresh store (see
//! `tests/sqlite_inbox_ops.rs`).

use std::future::Future;

use earshot_core::{
    ConversationId, ConversationState, ConversationTarget, EmailAddress, EventKind, InboxStep,
    InboxStepOutcome, MentionId, NewConversation, Priority, Role, Stamp, TeamRecord,
};

use crate::testsuite::{at_minute, mention};
use crate::testsuite_auth::new_user;
use crate::{Store, StoreError};

pub async fn run_all<S, F, Fut>(make: F)
where
    S: Store,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    users_have_optional_checked_addresses(&make().await).await;
    a_batch_opens_and_threads_like_the_one_step_methods(&make().await).await;
    a_bad_step_stores_nothing_of_the_batch(&make().await).await;
    batch_lookups_find_mentions_and_references(&make().await).await;
}

fn address(raw: &str) -> EmailAddress {
    EmailAddress::parse(raw).unwrap()
}

pub async fn users_have_optional_checked_addresses(store: &dyn Store) {
    let maria = store
        .create_user_with_email(
            new_user("maria", Role::Manager),
            Some(&address("maria@brand.example")),
        )
        .await
        .unwrap();
    assert_eq!(maria.name, "maria");
    store
        .create_user_with_email(new_user("sam", Role::Manager), None)
        .await
        .unwrap();
    let taken = store
        .create_user_with_email(
            new_user("maria", Role::Agent),
            Some(&address("x@brand.example")),
        )
        .await
        .unwrap_err();
    assert!(matches!(taken, StoreError::Conflict(_)), "{taken}");
    assert_eq!(
        store.user_email("maria").await.unwrap(),
        Some(address("maria@brand.example")),
        "the failed second create changed nothing"
    );
    assert_eq!(store.user_email("sam").await.unwrap(), None);
    assert_eq!(store.user_email("nobody").await.unwrap(), None);

    store
        .set_user_email("sam", Some(&address("sam@brand.example")))
        .await
        .unwrap();
    assert_eq!(
        store.user_emails().await.unwrap(),
        [
            ("maria".to_string(), address("maria@brand.example")),
            ("sam".to_string(), address("sam@brand.example")),
        ]
    );
    store.set_user_email("maria", None).await.unwrap();
    assert_eq!(store.user_email("maria").await.unwrap(), None);
    let missing = store
        .set_user_email("ghost", Some(&address("g@brand.example")))
        .await
        .unwrap_err();
    assert!(
        matches!(&missing, StoreError::NotFound(m) if m.contains("ghost")),
        "{missing}"
    );
    // Users made the old way have no address and are listed without one.
    store
        .create_user(new_user("old", Role::Viewer))
        .await
        .unwrap();
    assert_eq!(store.user_email("old").await.unwrap(), None);
    assert_eq!(store.user_emails().await.unwrap().len(), 1);
}

async fn seed(store: &dyn Store, count: usize) -> Vec<MentionId> {
    store
        .upsert_teams(&[TeamRecord {
            name: "support".into(),
            manager: Some("maria".into()),
            capacity: None,
            hours: serde_json::json!({}),
            members: vec!["anna".into(), "boris".into()],
        }])
        .await
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..count {
        let mut m = mention("masto", &format!("m{i}"), &format!("mention {i}"), i as i64);
        m.canonical_url = Some(format!("https://masto.example/m{i}"));
        ids.push(store.write_batch(vec![m], None).await.unwrap().per_item[0].0);
    }
    ids
}

fn routed(root: MentionId, assignee: Option<&str>, tags: &[&str]) -> NewConversation {
    NewConversation {
        root_mention: root,
        state: if assignee.is_some() {
            ConversationState::Assigned
        } else {
            ConversationState::New
        },
        priority: Priority::High,
        team: Some("support".into()),
        assignee: assignee.map(String::from),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        routed_by: Some("complaints".into()),
        routing_reason: Some("rule \"complaints\": intent complaint (0.90)".into()),
        negative: true,
        first_response_due: Some(at_minute(60)),
        resolution_due: Some(at_minute(480)),
    }
}

pub async fn a_batch_opens_and_threads_like_the_one_step_methods(store: &dyn Store) {
    let ids = seed(store, 6).await;
    let stamp = Stamp::system(at_minute(100));
    // Opened the one-step way before the batch.
    let (before, _) = store
        .create_conversation(&routed(ids[0], None, &[]), &stamp)
        .await
        .unwrap();
    let steps = vec![
        InboxStep::Open(routed(
            ids[1],
            Some("anna"),
            &["vip", " vip ", "billing words"],
        )),
        InboxStep::Attach {
            to: ConversationTarget::OpenedInBatch(0),
            mention: ids[2],
        },
        InboxStep::Attach {
            to: ConversationTarget::Stored(before.id),
            mention: ids[3],
        },
        InboxStep::Open(routed(ids[0], Some("boris"), &[])),
        InboxStep::Open(NewConversation::for_mention(ids[4])),
        InboxStep::Attach {
            to: ConversationTarget::Stored(before.id),
            mention: ids[3],
        },
    ];
    let outcomes = store.create_conversations(&steps, &stamp).await.unwrap();
    let opened = outcomes[0].conversation();
    assert_eq!(
        outcomes,
        [
            InboxStepOutcome::Opened(opened),
            InboxStepOutcome::Attached(opened),
            InboxStepOutcome::Attached(before.id),
            InboxStepOutcome::AlreadyOpen(before.id),
            InboxStepOutcome::Opened(outcomes[4].conversation()),
            InboxStepOutcome::AlreadyAttached(before.id),
        ]
    );
    let detail = store.conversation_detail(opened).await.unwrap().unwrap();
    let conversation = &detail.conversation;
    assert_eq!(conversation.state, ConversationState::Assigned);
    assert_eq!(conversation.assignee.as_deref(), Some("anna"));
    assert_eq!(conversation.tags, ["billing words", "vip"]);
    assert_eq!(conversation.mention_count, 2);
    assert_eq!(conversation.first_mention_at, at_minute(1));
    assert_eq!(conversation.last_mention_at, at_minute(2));
    assert_eq!(conversation.first_response_due, Some(at_minute(60)));
    let kinds: Vec<&str> = detail.events.iter().map(|e| e.kind.name()).collect();
    assert_eq!(
        kinds,
        [
            "created",
            "routed",
            "assigned",
            "state_changed",
            "tagged",
            "tagged",
            "mention_attached"
        ]
    );
    assert_eq!(
        detail.events[2].kind,
        EventKind::Assigned {
            from: None,
            to: Some("anna".into())
        }
    );
    assert!(detail.events.iter().all(|e| e.at == at_minute(100)));
    let before_now = store.conversation(before.id).await.unwrap().unwrap();
    assert_eq!(before_now.mention_count, 2);
    assert_eq!(
        before_now.assignee, None,
        "an existing conversation is left as it was"
    );
    assert_eq!(
        store.member_loads(Some("support")).await.unwrap()[1].member,
        "anna"
    );
    // An empty batch is fine.
    assert!(store
        .create_conversations(&[], &stamp)
        .await
        .unwrap()
        .is_empty());
}

async fn conversation_count(store: &dyn Store) -> usize {
    store
        .list_conversations(&earshot_core::ConversationFilter::default(), None, 50)
        .await
        .unwrap()
        .conversations
        .len()
}

pub async fn a_bad_step_stores_nothing_of_the_batch(store: &dyn Store) {
    let ids = seed(store, 4).await;
    let stamp = Stamp::system(at_minute(100));
    let unknown_member = store
        .create_conversations(
            &[
                InboxStep::Open(routed(ids[0], Some("anna"), &[])),
                InboxStep::Open(routed(ids[1], Some("zed"), &[])),
            ],
            &stamp,
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        unknown_member.contains(&format!("mention {}", ids[1])) && unknown_member.contains("zed"),
        "{unknown_member}"
    );
    assert_eq!(
        conversation_count(store).await,
        0,
        "the first step was rolled back too"
    );

    let missing_mention = store
        .create_conversations(
            &[
                InboxStep::Open(routed(ids[0], None, &[])),
                InboxStep::Open(routed(MentionId(9_999), None, &[])),
            ],
            &stamp,
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(missing_mention.contains("9999"), "{missing_mention}");
    let empty_tag = store
        .create_conversations(&[InboxStep::Open(routed(ids[0], None, &["  "]))], &stamp)
        .await
        .unwrap_err()
        .to_string();
    assert!(empty_tag.contains("tag"), "{empty_tag}");
    let forward = store
        .create_conversations(
            &[
                InboxStep::Attach {
                    to: ConversationTarget::OpenedInBatch(1),
                    mention: ids[2],
                },
                InboxStep::Open(routed(ids[0], None, &[])),
            ],
            &stamp,
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(forward.contains("not an earlier Open"), "{forward}");
    let gone = store
        .create_conversations(
            &[InboxStep::Attach {
                to: ConversationTarget::Stored(ConversationId(77)),
                mention: ids[2],
            }],
            &stamp,
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(gone.contains("77"), "{gone}");
    assert_eq!(conversation_count(store).await, 0);
    assert!(store.events_since(0, 10).await.unwrap().is_empty());
}

pub async fn batch_lookups_find_mentions_and_references(store: &dyn Store) {
    let ids = seed(store, 4).await;
    let stamp = Stamp::system(at_minute(100));
    let outcomes = store
        .create_conversations(
            &[
                InboxStep::Open(routed(ids[0], None, &[])),
                InboxStep::Attach {
                    to: ConversationTarget::OpenedInBatch(0),
                    mention: ids[1],
                },
                InboxStep::Open(routed(ids[2], None, &[])),
            ],
            &stamp,
        )
        .await
        .unwrap();
    let (first, second) = (outcomes[0].conversation(), outcomes[2].conversation());
    let found = store
        .conversations_for_mentions(&[ids[0], ids[1], ids[2], ids[3], MentionId(999)])
        .await
        .unwrap();
    assert_eq!(found.len(), 3);
    assert_eq!(found[&ids[1]], first);
    assert_eq!(found[&ids[2]], second);

    // A reply sent from the second conversation, known on the network by its id and URL.
    let reply = store
        .queue_reply(
            second,
            "Thanks!",
            "reply-key-1",
            &Stamp::new("anna", at_minute(101)),
        )
        .await
        .unwrap();
    store
        .mark_reply_sent(
            reply.id,
            Some("net-55"),
            Some("https://masto.example/@brand/55"),
            &Stamp::new("anna", at_minute(102)),
        )
        .await
        .unwrap();
    let asked: Vec<(String, String)> = [
        ("masto", "m1"),
        ("masto", " https://masto.example/m2 "),
        ("masto", "net-55"),
        ("masto", "https://masto.example/@brand/55"),
        ("masto", "m3"),
        ("other", "m1"),
        ("masto", "  "),
    ]
    .iter()
    .map(|(s, r)| (s.to_string(), r.to_string()))
    .collect();
    let references = store.conversations_for_references(&asked).await.unwrap();
    assert_eq!(references.len(), 4, "{references:?}");
    assert_eq!(references[&asked[0]], (1, first));
    assert_eq!(references[&asked[1]], (2, second));
    assert_eq!(references[&asked[2]], (3, second));
    assert_eq!(references[&asked[3]], (4, second));
    // The one-step lookup agrees on every one of them.
    for (source, reference) in &asked {
        assert_eq!(
            store
                .conversation_for_reference(source, reference)
                .await
                .unwrap(),
            references
                .get(&(source.clone(), reference.clone()))
                .map(|&(_, id)| id),
            "{source} {reference}"
        );
    }
}
