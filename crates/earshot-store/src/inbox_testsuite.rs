//! Behaviour tests of [`crate::InboxStore`] that every [`Store`] must pass; [`run_all`] runs
//! them, each on a fresh store (see `tests/inbox_store.rs`). Times are given, never read from
//! the clock, so the metrics can be checked against figures worked out by hand.

use std::collections::HashSet;
use std::future::Future;

use chrono::{DateTime, Duration};
use earshot_core::inbox::{InvalidTransition, MetricsWindow, SlaClock};
use earshot_core::{
    Conversation, ConversationFilter, ConversationId, ConversationSort, ConversationState,
    EventKind, MentionId, NewConversation, Priority, ReplyStatus, Stamp, TeamRecord,
};

use crate::testsuite::{at_minute, mention};
use crate::{InboxError, Store, StoreError};

use ConversationState::*;

/// Runs every inbox behaviour test, each on a fresh store from `make`.
pub async fn run_all<S, F, Fut>(make: F)
where
    S: Store,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    teams_and_member_loads(&make().await).await;
    every_transition_writes_its_event(&make().await).await;
    ignoring_is_reversible(&make().await).await;
    bad_requests_are_refused_and_change_nothing(&make().await).await;
    threads_attach_mentions_and_find_references(&make().await).await;
    replies_are_idempotent_and_record_the_first_response(&make().await).await;
    notes_tags_and_corrections(&make().await).await;
    pagination_has_no_gaps_or_repeats_under_inserts(&make().await).await;
    filters_select_the_right_conversations(&make().await).await;
    sla_breaches_are_flagged_once(&make().await).await;
    metrics_match_hand_computed_figures(&make().await).await;
    feedback_themes_are_reused_and_counted(&make().await).await;
    saved_replies_crud(&make().await).await;
}

fn by(actor: &str, minute: i64) -> Stamp {
    Stamp::new(actor, at_minute(minute))
}

fn team(name: &str, manager: &str, members: &[&str]) -> TeamRecord {
    TeamRecord {
        name: name.into(),
        manager: Some(manager.into()),
        capacity: Some(10),
        hours: serde_json::json!({"mon-fri": "09:00-18:00"}),
        members: members.iter().map(|m| m.to_string()).collect(),
    }
}

async fn seed_teams(store: &dyn Store) {
    store
        .upsert_teams(&[
            team("support", "maria", &["boris", "anna"]),
            team("sales", "sam", &["sam", "anna"]),
        ])
        .await
        .unwrap();
}

/// Stores a mention of `source` published at `minute` and returns its id.
async fn stored_mention(store: &dyn Store, source: &str, external: &str, minute: i64) -> MentionId {
    let mut m = mention(source, external, &format!("mention {external}"), minute);
    m.brands = vec!["zeltron".into()];
    store.write_batch(vec![m], None).await.unwrap().per_item[0].0
}

/// A conversation for a new mention `external`, created at `minute` with `new`'s settings.
async fn conversation_with(
    store: &dyn Store,
    external: &str,
    minute: i64,
    configure: impl FnOnce(&mut NewConversation),
) -> Conversation {
    let root = stored_mention(store, "masto", external, minute).await;
    let mut new = NewConversation::for_mention(root);
    configure(&mut new);
    let (conversation, created) = store
        .create_conversation(&new, &Stamp::system(at_minute(minute)))
        .await
        .unwrap();
    assert!(created);
    conversation
}

async fn plain_conversation(store: &dyn Store, external: &str, minute: i64) -> Conversation {
    conversation_with(store, external, minute, |_| {}).await
}

async fn event_kinds(store: &dyn Store, id: ConversationId) -> Vec<EventKind> {
    let detail = store.conversation_detail(id).await.unwrap().unwrap();
    detail.events.into_iter().map(|e| e.kind).collect()
}

fn inbox_error(result: Result<impl std::fmt::Debug, StoreError>) -> InboxError {
    match result {
        Err(StoreError::Inbox(e)) => e,
        other => panic!("expected an inbox error, got {other:?}"),
    }
}

pub async fn teams_and_member_loads(store: &dyn Store) {
    seed_teams(store).await;
    let teams = store.teams().await.unwrap();
    assert_eq!(
        teams.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["support", "sales"],
        "configured order is kept"
    );
    assert_eq!(teams[0].members, ["anna", "boris"]);
    assert_eq!(teams[0].manager.as_deref(), Some("maria"));
    assert_eq!(teams[0].hours["mon-fri"], "09:00-18:00");

    let a = plain_conversation(store, "a", 0).await;
    let b = plain_conversation(store, "b", 1).await;
    let c = plain_conversation(store, "c", 2).await;
    let d = plain_conversation(store, "d", 3).await;
    store
        .assign(a.id, Some("anna"), &by("maria", 5))
        .await
        .unwrap();
    store
        .assign(b.id, Some("anna"), &by("maria", 5))
        .await
        .unwrap();
    store
        .set_state(b.id, Waiting, &by("anna", 6))
        .await
        .unwrap();
    store
        .assign(c.id, Some("boris"), &by("maria", 5))
        .await
        .unwrap();
    // Resolved conversations are no load.
    store
        .assign(d.id, Some("boris"), &by("maria", 5))
        .await
        .unwrap();
    store
        .set_state(d.id, Resolved, &by("boris", 7))
        .await
        .unwrap();

    let loads = store.member_loads(Some("support")).await.unwrap();
    let summary: Vec<(&str, u64, u64)> = loads
        .iter()
        .map(|l| (l.member.as_str(), l.assigned, l.waiting))
        .collect();
    assert_eq!(
        summary,
        [("boris", 1, 0), ("anna", 1, 1)],
        "least loaded first"
    );
    let all = store.member_loads(None).await.unwrap();
    assert_eq!(all.len(), 4, "anna counts once per team: {all:?}");
    assert_eq!(all[0].member, "sam");
    assert_eq!(all[0].open(), 0);

    // Replacing the teams drops members no longer listed.
    store
        .upsert_teams(&[team("support", "maria", &["boris"])])
        .await
        .unwrap();
    let loads = store.member_loads(None).await.unwrap();
    assert_eq!(loads.len(), 1);
    assert_eq!(loads[0].member, "boris");
    assert!(store
        .upsert_teams(&[team("x", "m", &[]), team("x", "n", &[])])
        .await
        .is_err());
    assert_eq!(
        store.teams().await.unwrap().len(),
        1,
        "a refused sync changes nothing"
    );
}

pub async fn every_transition_writes_its_event(store: &dyn Store) {
    seed_teams(store).await;
    let c = conversation_with(store, "1", 0, |n| {
        n.team = Some("support".into());
        n.routed_by = Some("complaints".into());
        n.routing_reason = Some("intent complaint".into());
    })
    .await;
    assert_eq!((c.state, c.assignee.as_deref()), (New, None));
    assert_eq!(c.routed_by.as_deref(), Some("complaints"));

    let refused = store.set_state(c.id, Assigned, &by("anna", 1)).await;
    assert_eq!(
        inbox_error(refused),
        InboxError::Transition(InvalidTransition::NeedsAssignee)
    );
    let c1 = store
        .assign(c.id, Some("anna"), &by("maria", 2))
        .await
        .unwrap();
    assert_eq!((c1.state, c1.assignee.as_deref()), (Assigned, Some("anna")));
    let c2 = store
        .set_state(c.id, Waiting, &by("anna", 3))
        .await
        .unwrap();
    assert_eq!(c2.state, Waiting);
    let c3 = store
        .set_state(c.id, Resolved, &by("anna", 4))
        .await
        .unwrap();
    assert_eq!(c3.resolved_at, Some(at_minute(4)));
    let refused = store.set_state(c.id, Waiting, &by("anna", 5)).await;
    assert_eq!(
        inbox_error(refused),
        InboxError::Transition(InvalidTransition::ReopenFirst {
            from: Resolved,
            to: Waiting
        })
    );
    let c4 = store
        .set_state(c.id, Assigned, &by("anna", 6))
        .await
        .unwrap();
    assert_eq!((c4.state, c4.resolved_at), (Assigned, None), "reopened");
    // Same state and same assignee: nothing happens, no event.
    store
        .set_state(c.id, Assigned, &by("anna", 7))
        .await
        .unwrap();
    store
        .assign(c.id, Some("anna"), &by("anna", 7))
        .await
        .unwrap();
    let refused = store.set_state(c.id, New, &by("anna", 8)).await;
    assert_eq!(
        inbox_error(refused),
        InboxError::Transition(InvalidTransition::HasAssignee)
    );
    let c5 = store.assign(c.id, None, &by("maria", 9)).await.unwrap();
    assert_eq!((c5.state, c5.assignee), (New, None), "unassigned → new");
    let c6 = store
        .set_priority(c.id, Priority::Urgent, &by("maria", 10))
        .await
        .unwrap();
    assert_eq!(c6.priority, Priority::Urgent);
    assert_eq!(c6.updated_at, at_minute(10));

    let detail = store.conversation_detail(c.id).await.unwrap().unwrap();
    let log: Vec<(String, DateTime<chrono::Utc>, EventKind)> = detail
        .events
        .into_iter()
        .map(|e| (e.actor, e.at, e.kind))
        .collect();
    let expected = vec![
        (
            "earshot",
            0,
            EventKind::Created {
                root_mention: c.root_mention,
            },
        ),
        (
            "earshot",
            0,
            EventKind::Routed {
                rule: Some("complaints".into()),
                reason: Some("intent complaint".into()),
                team: Some("support".into()),
            },
        ),
        (
            "maria",
            2,
            EventKind::Assigned {
                from: None,
                to: Some("anna".into()),
            },
        ),
        (
            "maria",
            2,
            EventKind::StateChanged {
                from: New,
                to: Assigned,
            },
        ),
        (
            "anna",
            3,
            EventKind::StateChanged {
                from: Assigned,
                to: Waiting,
            },
        ),
        (
            "anna",
            4,
            EventKind::StateChanged {
                from: Waiting,
                to: Resolved,
            },
        ),
        (
            "anna",
            6,
            EventKind::StateChanged {
                from: Resolved,
                to: Assigned,
            },
        ),
        (
            "maria",
            9,
            EventKind::Assigned {
                from: Some("anna".into()),
                to: None,
            },
        ),
        (
            "maria",
            9,
            EventKind::StateChanged {
                from: Assigned,
                to: New,
            },
        ),
        (
            "maria",
            10,
            EventKind::PriorityChanged {
                from: Priority::Normal,
                to: Priority::Urgent,
            },
        ),
    ];
    let expected: Vec<_> = expected
        .into_iter()
        .map(|(actor, minute, kind)| (actor.to_string(), at_minute(minute), kind))
        .collect();
    assert_eq!(log, expected);
}

pub async fn ignoring_is_reversible(store: &dyn Store) {
    seed_teams(store).await;
    let spam = conversation_with(store, "spam", 0, |n| {
        n.state = Ignored;
        n.routed_by = Some("spam".into());
    })
    .await;
    assert_eq!(spam.state, Ignored);
    let open_ids = |page: crate::ConversationPage| -> Vec<ConversationId> {
        page.conversations.iter().map(|c| c.id).collect()
    };
    let open = store
        .list_conversations(&ConversationFilter::open(), None, 50)
        .await
        .unwrap();
    assert!(
        open_ids(open).is_empty(),
        "ignored is out of the open queue"
    );

    let back = store.set_state(spam.id, New, &by("anna", 1)).await.unwrap();
    assert_eq!(back.state, New);
    let open = store
        .list_conversations(&ConversationFilter::open(), None, 50)
        .await
        .unwrap();
    assert_eq!(open_ids(open), [spam.id]);

    // Ignored while assigned, then back to the assignee.
    store
        .assign(spam.id, Some("boris"), &by("anna", 2))
        .await
        .unwrap();
    store
        .set_state(spam.id, Ignored, &by("boris", 3))
        .await
        .unwrap();
    let refused = store.set_state(spam.id, Resolved, &by("boris", 4)).await;
    assert!(matches!(
        inbox_error(refused),
        InboxError::Transition(InvalidTransition::ReopenFirst { .. })
    ));
    let again = store
        .set_state(spam.id, Assigned, &by("boris", 5))
        .await
        .unwrap();
    assert_eq!(
        (again.state, again.assignee.as_deref()),
        (Assigned, Some("boris"))
    );
    let states: Vec<(ConversationState, ConversationState)> = event_kinds(store, spam.id)
        .await
        .into_iter()
        .filter_map(|k| match k {
            EventKind::StateChanged { from, to } => Some((from, to)),
            _ => None,
        })
        .collect();
    assert_eq!(
        states,
        [
            (New, Ignored),
            (Ignored, New),
            (New, Assigned),
            (Assigned, Ignored),
            (Ignored, Assigned)
        ]
    );
}

pub async fn bad_requests_are_refused_and_change_nothing(store: &dyn Store) {
    seed_teams(store).await;
    let c = plain_conversation(store, "1", 0).await;
    let missing = ConversationId(c.id.0 + 1000);
    assert_eq!(
        inbox_error(store.assign(missing, Some("anna"), &by("x", 1)).await),
        InboxError::ConversationNotFound(missing)
    );
    assert_eq!(
        inbox_error(store.assign(c.id, Some("mallory"), &by("x", 1)).await),
        InboxError::UnknownMember("mallory".into())
    );
    assert_eq!(
        inbox_error(store.add_tag(c.id, "   ", &by("x", 1)).await),
        InboxError::Empty("a tag")
    );
    assert_eq!(
        inbox_error(store.add_note(c.id, " \n ", &by("x", 1)).await),
        InboxError::Empty("the note")
    );
    let no_mention = MentionId(999_999);
    assert_eq!(
        inbox_error(
            store
                .create_conversation(&NewConversation::for_mention(no_mention), &by("x", 1))
                .await
        ),
        InboxError::MentionNotFound(no_mention)
    );
    // A new conversation may not be created in a state its assignee contradicts.
    let mut contradictory = NewConversation::for_mention(c.root_mention);
    contradictory.assignee = Some("anna".into());
    contradictory.state = New;
    assert!(store
        .create_conversation(&contradictory, &by("x", 1))
        .await
        .is_err());
    // Creating again for the same root returns the existing conversation.
    let (again, created) = store
        .create_conversation(&NewConversation::for_mention(c.root_mention), &by("x", 2))
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(again.id, c.id);
    assert_eq!(
        event_kinds(store, c.id).await.len(),
        1,
        "only `created` was written"
    );
    assert!(store.conversation(missing).await.unwrap().is_none());
}

pub async fn threads_attach_mentions_and_find_references(store: &dyn Store) {
    let c = plain_conversation(store, "root", 10).await;
    let other = plain_conversation(store, "other", 11).await;
    let answer = stored_mention(store, "masto", "answer", 30).await;
    let earlier = stored_mention(store, "masto", "earlier", 5).await;
    let attached = store
        .attach_mention(c.id, answer, &by("earshot", 31))
        .await
        .unwrap();
    assert_eq!(attached.mention_count, 2);
    assert_eq!(attached.last_mention_at, at_minute(30));
    let attached = store
        .attach_mention(c.id, earlier, &by("earshot", 32))
        .await
        .unwrap();
    assert_eq!(attached.mention_count, 3);
    assert_eq!(attached.first_mention_at, at_minute(5));
    // Twice: nothing changes.
    let again = store
        .attach_mention(c.id, answer, &by("earshot", 33))
        .await
        .unwrap();
    assert_eq!(again.mention_count, 3);
    assert_eq!(
        inbox_error(
            store
                .attach_mention(other.id, answer, &by("earshot", 34))
                .await
        ),
        InboxError::MentionInOtherConversation {
            mention: answer,
            conversation: c.id
        }
    );
    assert_eq!(
        store.conversation_for_mention(answer).await.unwrap(),
        Some(c.id)
    );
    let detail = store.conversation_detail(c.id).await.unwrap().unwrap();
    let texts: Vec<&str> = detail.mentions.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["mention earlier", "mention root", "mention answer"]);

    // A reply to the root (by external id) or to our own sent reply finds the conversation.
    assert_eq!(
        store
            .conversation_for_reference("masto", "root")
            .await
            .unwrap(),
        Some(c.id)
    );
    assert_eq!(
        store
            .conversation_for_reference("bsky", "root")
            .await
            .unwrap(),
        None
    );
    let reply = store
        .queue_reply(c.id, "Thanks!", "k-1", &by("anna", 40))
        .await
        .unwrap();
    store
        .mark_reply_sent(
            reply.id,
            Some("10999"),
            Some("https://m.example/@z/10999"),
            &by("anna", 41),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .conversation_for_reference("masto", "10999")
            .await
            .unwrap(),
        Some(c.id)
    );
    assert_eq!(
        store
            .conversation_for_reference("masto", "https://m.example/@z/10999")
            .await
            .unwrap(),
        Some(c.id)
    );
    assert_eq!(
        store
            .conversation_for_reference("masto", "nope")
            .await
            .unwrap(),
        None
    );
}

pub async fn replies_are_idempotent_and_record_the_first_response(store: &dyn Store) {
    let c = plain_conversation(store, "1", 0).await;
    let other = plain_conversation(store, "2", 0).await;
    let first = store
        .queue_reply(c.id, "Sorry!", "key-a", &by("anna", 1))
        .await
        .unwrap();
    let second = store
        .queue_reply(c.id, "Sorry!!", "key-a", &by("anna", 2))
        .await
        .unwrap();
    assert_eq!(second, first, "the same key returns the first reply");
    assert_eq!(first.status, ReplyStatus::Pending);
    assert_eq!(
        inbox_error(
            store
                .queue_reply(other.id, "x", "key-a", &by("anna", 2))
                .await
        ),
        InboxError::IdempotencyKeyReused {
            key: "key-a".into(),
            conversation: c.id
        }
    );
    // Two clicks racing each other make one reply.
    let racer = by("anna", 3);
    let (a, b) = tokio::join!(
        store.queue_reply(c.id, "Racing", "key-b", &racer),
        store.queue_reply(c.id, "Racing", "key-b", &racer),
    );
    assert_eq!(a.unwrap().id, b.unwrap().id);
    let detail = store.conversation_detail(c.id).await.unwrap().unwrap();
    assert_eq!(
        detail.replies.len(),
        2,
        "key-a and key-b: {:?}",
        detail.replies
    );
    let queued_events = detail
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::ReplyQueued { .. }))
        .count();
    assert_eq!(queued_events, 2);

    let failed = store
        .mark_reply_failed(
            first.id,
            "HTTP 503 from mastodon.example",
            &by("earshot", 4),
        )
        .await
        .unwrap();
    assert_eq!(
        (failed.status, failed.attempts, failed.error.as_deref()),
        (
            ReplyStatus::Failed,
            1,
            Some("HTTP 503 from mastodon.example")
        )
    );
    let to_send: Vec<_> = store
        .replies_to_send(3, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(to_send.len(), 2);
    assert!(to_send.contains(&first.id));
    assert!(!store
        .replies_to_send(1, 10)
        .await
        .unwrap()
        .iter()
        .any(|r| r.id == first.id));
    assert_eq!(
        store
            .conversation(c.id)
            .await
            .unwrap()
            .unwrap()
            .first_response_at,
        None,
        "a failure is no response"
    );

    let sent = store
        .mark_reply_sent(first.id, Some("1"), None, &by("earshot", 6))
        .await
        .unwrap();
    assert_eq!((sent.status, sent.attempts), (ReplyStatus::Sent, 2));
    assert_eq!(sent.sent_at, Some(at_minute(6)));
    assert_eq!(
        sent.error.as_deref(),
        Some("HTTP 503 from mastodon.example")
    );
    // Sent again (a retry that raced): nothing changes.
    let again = store
        .mark_reply_sent(first.id, Some("1"), None, &by("earshot", 9))
        .await
        .unwrap();
    assert_eq!(again, sent);
    assert_eq!(
        inbox_error(
            store
                .mark_reply_failed(first.id, "late", &by("earshot", 9))
                .await
        ),
        InboxError::ReplyAlreadyFinal(first.id, "failed")
    );
    let conversation = store.conversation(c.id).await.unwrap().unwrap();
    assert_eq!(conversation.first_response_at, Some(at_minute(6)));

    // Answered elsewhere later: the first response stays the earlier one.
    let elsewhere = store
        .record_answered_elsewhere(
            c.id,
            "Called them",
            Some("https://x.example/1"),
            "key-c",
            &by("anna", 8),
        )
        .await
        .unwrap();
    assert_eq!(elsewhere.status, ReplyStatus::AnsweredElsewhere);
    assert_eq!(
        elsewhere.network_url.as_deref(),
        Some("https://x.example/1")
    );
    let repeat = store
        .record_answered_elsewhere(c.id, "Called them", None, "key-c", &by("anna", 9))
        .await
        .unwrap();
    assert_eq!(repeat.id, elsewhere.id);
    assert_eq!(
        store
            .conversation(c.id)
            .await
            .unwrap()
            .unwrap()
            .first_response_at,
        Some(at_minute(6))
    );
    // The other conversation's first response comes from answered-elsewhere.
    let pending = store
        .queue_reply(other.id, "Hi", "key-d", &by("anna", 10))
        .await
        .unwrap();
    store
        .mark_reply_answered_elsewhere(pending.id, None, &by("anna", 11))
        .await
        .unwrap();
    assert_eq!(
        store
            .conversation(other.id)
            .await
            .unwrap()
            .unwrap()
            .first_response_at,
        Some(at_minute(11))
    );
    assert_eq!(
        inbox_error(
            store
                .mark_reply_sent(pending.id, None, None, &by("x", 12))
                .await
        ),
        InboxError::ReplyAlreadyFinal(pending.id, "sent")
    );

    // Canned-answer warning: count of sent replies with exactly this text.
    let racing = store
        .queue_reply(other.id, "Sorry!", "key-e", &by("anna", 13))
        .await
        .unwrap();
    store
        .mark_reply_sent(racing.id, None, None, &by("x", 14))
        .await
        .unwrap();
    assert_eq!(store.sent_reply_count("Sorry!").await.unwrap(), 2);
    assert_eq!(
        store.sent_reply_count("Racing").await.unwrap(),
        0,
        "still pending"
    );
}

pub async fn notes_tags_and_corrections(store: &dyn Store) {
    seed_teams(store).await;
    let c = plain_conversation(store, "1", 0).await;
    let note = store
        .add_note(
            c.id,
            "@Anna please call them; cc @stranger and x@boris.example",
            &by("maria", 1),
        )
        .await
        .unwrap();
    assert_eq!(
        note.mentions,
        ["anna"],
        "only team members, spelled as listed"
    );
    store.add_tag(c.id, " vip ", &by("maria", 2)).await.unwrap();
    let tagged = store.add_tag(c.id, "vip", &by("maria", 3)).await.unwrap();
    assert_eq!(tagged.tags, ["vip"]);
    store
        .add_tag(c.id, "billing", &by("maria", 3))
        .await
        .unwrap();
    let untagged = store
        .remove_tag(c.id, "vip", &by("maria", 4))
        .await
        .unwrap();
    assert_eq!(untagged.tags, ["billing"]);
    store
        .remove_tag(c.id, "vip", &by("maria", 5))
        .await
        .unwrap();
    store
        .correct_label(
            c.id,
            "sentiment",
            Some("positive"),
            "negative",
            &by("maria", 6),
        )
        .await
        .unwrap();
    let detail = store.conversation_detail(c.id).await.unwrap().unwrap();
    assert_eq!(detail.notes, std::slice::from_ref(&note));
    let kinds: Vec<EventKind> = detail.events.into_iter().skip(1).map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::NoteAdded { note: note.id },
            EventKind::Tagged { tag: "vip".into() },
            EventKind::Tagged {
                tag: "billing".into()
            },
            EventKind::Untagged { tag: "vip".into() },
            EventKind::LabelCorrected {
                label: "sentiment".into(),
                from: Some("positive".into()),
                to: "negative".into()
            },
        ]
    );
}

async fn walk(
    store: &dyn Store,
    label: &str,
    filter: &ConversationFilter,
    page_size: usize,
    mut between_pages: impl FnMut(usize) -> Option<i64>,
) -> Vec<ConversationId> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut page_number = 0;
    loop {
        let page = store
            .list_conversations(filter, cursor.as_deref(), page_size)
            .await
            .unwrap();
        assert!(page.conversations.len() <= page_size);
        seen.extend(page.conversations.iter().map(|c| c.id));
        page_number += 1;
        if let Some(minute) = between_pages(page_number) {
            plain_conversation(store, &format!("late-{label}-{page_number}"), minute).await;
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return seen,
        }
    }
}

pub async fn pagination_has_no_gaps_or_repeats_under_inserts(store: &dyn Store) {
    let mut existing = Vec::new();
    for i in 0..23 {
        // Priorities cycle and several conversations share a creation time: the order needs
        // every key of the cursor.
        let priority = Priority::ALL[i % 4];
        let c = conversation_with(store, &format!("c{i}"), (i / 3) as i64, |n| {
            n.priority = priority;
        })
        .await;
        existing.push(c.id);
    }
    for sort in [ConversationSort::PriorityThenAge, ConversationSort::Newest] {
        let filter = ConversationFilter {
            sort,
            ..ConversationFilter::default()
        };
        let mut minute = 100;
        let seen = walk(store, &format!("{sort:?}"), &filter, 5, |_| {
            minute += 1;
            Some(minute)
        })
        .await;
        let unique: HashSet<_> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "{sort:?}: a row was repeated");
        for id in &existing {
            assert!(seen.contains(id), "{sort:?}: conversation {id} was skipped");
        }
        // The order itself.
        let all = walk(store, "", &filter, 500, |_| None).await;
        let mut rows = Vec::new();
        for id in &all {
            rows.push(store.conversation(*id).await.unwrap().unwrap());
        }
        let mut sorted = rows.clone();
        match sort {
            ConversationSort::PriorityThenAge => {
                sorted.sort_by_key(|c| (c.priority, c.created_at, c.id))
            }
            ConversationSort::Newest => {
                sorted.sort_by_key(|c| std::cmp::Reverse((c.created_at, c.id)))
            }
        }
        assert_eq!(rows, sorted, "{sort:?} order");
    }
    // A cursor of the other order is refused rather than misread.
    let page = store
        .list_conversations(&ConversationFilter::default(), None, 2)
        .await
        .unwrap();
    let newest = ConversationFilter {
        sort: ConversationSort::Newest,
        ..ConversationFilter::default()
    };
    let cursor = page.next_cursor.unwrap();
    assert!(matches!(
        store.list_conversations(&newest, Some(&cursor), 2).await,
        Err(StoreError::BadCursor)
    ));
    assert!(matches!(
        store.list_conversations(&newest, Some("zz"), 2).await,
        Err(StoreError::BadCursor)
    ));
}

pub async fn filters_select_the_right_conversations(store: &dyn Store) {
    seed_teams(store).await;
    let support = conversation_with(store, "1", 0, |n| n.team = Some("support".into())).await;
    let sales = conversation_with(store, "2", 1, |n| {
        n.team = Some("sales".into());
        n.assignee = Some("sam".into());
        n.state = Assigned;
        n.priority = Priority::High;
        n.tags = vec!["lead".into()];
    })
    .await;
    let resolved = conversation_with(store, "3", 2, |n| n.state = Resolved).await;
    let mut ru = mention("vk", "4", "отзыв", 3);
    ru.lang = "ru".into();
    ru.brands = vec!["acme".into()];
    let ru_root = store.write_batch(vec![ru], None).await.unwrap().per_item[0].0;
    let (ru_conv, _) = store
        .create_conversation(&NewConversation::for_mention(ru_root), &by("earshot", 3))
        .await
        .unwrap();
    assert_eq!(
        (ru_conv.source.as_str(), ru_conv.lang.as_str()),
        ("vk", "ru")
    );
    assert_eq!(ru_conv.brands, ["acme"]);

    let ids = |filter: ConversationFilter| async move {
        let page = store.list_conversations(&filter, None, 100).await.unwrap();
        page.conversations.iter().map(|c| c.id).collect::<Vec<_>>()
    };
    let f = ConversationFilter::default;
    assert_eq!(
        ids(ConversationFilter::open()).await,
        [sales.id, support.id, ru_conv.id]
    );
    assert_eq!(
        ids(ConversationFilter {
            states: vec![Resolved],
            ..f()
        })
        .await,
        [resolved.id]
    );
    assert_eq!(
        ids(ConversationFilter {
            team: Some("support".into()),
            ..f()
        })
        .await,
        [support.id]
    );
    assert_eq!(
        ids(ConversationFilter {
            assignee: Some("sam".into()),
            ..f()
        })
        .await,
        [sales.id]
    );
    assert_eq!(
        ids(ConversationFilter {
            unassigned: true,
            ..ConversationFilter::open()
        })
        .await,
        [support.id, ru_conv.id]
    );
    assert_eq!(
        ids(ConversationFilter {
            priority: Some(Priority::High),
            ..f()
        })
        .await,
        [sales.id]
    );
    assert_eq!(
        ids(ConversationFilter {
            brand: Some("acme".into()),
            ..f()
        })
        .await,
        [ru_conv.id]
    );
    assert_eq!(
        ids(ConversationFilter {
            source: Some("vk".into()),
            ..f()
        })
        .await,
        [ru_conv.id]
    );
    assert_eq!(
        ids(ConversationFilter {
            lang: Some("ru".into()),
            ..f()
        })
        .await,
        [ru_conv.id]
    );
    assert_eq!(
        ids(ConversationFilter {
            tag: Some("lead".into()),
            ..f()
        })
        .await,
        [sales.id]
    );
    assert!(ids(ConversationFilter {
        overdue: true,
        ..f()
    })
    .await
    .is_empty());
}

pub async fn sla_breaches_are_flagged_once(store: &dyn Store) {
    seed_teams(store).await;
    let due = |n: &mut NewConversation, first: i64, resolve: i64| {
        n.team = Some("support".into());
        n.first_response_due = Some(at_minute(first));
        n.resolution_due = Some(at_minute(resolve));
    };
    let late = conversation_with(store, "late", 0, |n| due(n, 30, 240)).await;
    let in_time = conversation_with(store, "ok", 0, |n| due(n, 90, 240)).await;
    let ignored = conversation_with(store, "ignored", 0, |n| {
        due(n, 30, 240);
        n.state = Ignored;
    })
    .await;

    let breaches = store.mark_overdue(at_minute(60)).await.unwrap();
    assert_eq!(breaches.len(), 1, "{breaches:?}");
    assert_eq!(breaches[0].conversation, late.id);
    assert_eq!(breaches[0].clock, SlaClock::FirstResponse);
    assert_eq!(breaches[0].due, at_minute(30));
    assert_eq!(breaches[0].manager.as_deref(), Some("maria"));
    assert!(
        store.mark_overdue(at_minute(61)).await.unwrap().is_empty(),
        "reported once"
    );
    let overdue = ConversationFilter {
        overdue: true,
        ..ConversationFilter::default()
    };
    let page = store.list_conversations(&overdue, None, 10).await.unwrap();
    assert_eq!(page.conversations.len(), 1);
    assert!(page.conversations[0].first_response_overdue);
    store
        .record_escalation(
            late.id,
            "maria",
            SlaClock::FirstResponse,
            &Stamp::system(at_minute(61)),
        )
        .await
        .unwrap();

    // Answering ends the first-response flag; the resolution clock still runs.
    let reply = store
        .queue_reply(late.id, "On it", "k", &by("boris", 70))
        .await
        .unwrap();
    store
        .mark_reply_sent(reply.id, None, None, &by("boris", 71))
        .await
        .unwrap();
    let answered = store.conversation(late.id).await.unwrap().unwrap();
    assert!(!answered.first_response_overdue);
    let breaches = store.mark_overdue(at_minute(300)).await.unwrap();
    let mut found: Vec<(ConversationId, SlaClock)> =
        breaches.iter().map(|b| (b.conversation, b.clock)).collect();
    found.sort_by_key(|(id, clock)| (*id, clock.as_str()));
    assert_eq!(
        found,
        [
            (late.id, SlaClock::Resolution),
            (in_time.id, SlaClock::FirstResponse),
            (in_time.id, SlaClock::Resolution),
        ]
    );
    assert!(!store
        .conversation(ignored.id)
        .await
        .unwrap()
        .unwrap()
        .is_overdue());
    // Resolving clears the flag.
    store
        .set_state(late.id, Resolved, &by("boris", 301))
        .await
        .unwrap();
    assert!(!store
        .conversation(late.id)
        .await
        .unwrap()
        .unwrap()
        .is_overdue());
    let kinds = event_kinds(store, late.id).await;
    assert_eq!(
        kinds
            .iter()
            .filter(|k| matches!(k, EventKind::SlaBreached { .. }))
            .count(),
        2
    );
    assert!(kinds.contains(&EventKind::Escalated {
        to: "maria".into(),
        clock: SlaClock::FirstResponse
    }));
}

pub async fn metrics_match_hand_computed_figures(store: &dyn Store) {
    seed_teams(store).await;
    // Support: five conversations created at minute 0, answered after 10, 20, 30, 40 minutes
    // and one never; resolved after 60 and 120 minutes (two of them).
    let mut support = Vec::new();
    for (i, answer) in [Some(10), Some(20), Some(30), Some(40), None]
        .into_iter()
        .enumerate()
    {
        let c = conversation_with(store, &format!("s{i}"), 0, |n| {
            n.team = Some("support".into());
            n.assignee = Some("anna".into());
            n.state = Assigned;
        })
        .await;
        if let Some(minute) = answer {
            let r = store
                .queue_reply(c.id, "hi", &format!("s{i}"), &by("anna", minute))
                .await
                .unwrap();
            store
                .mark_reply_sent(r.id, None, None, &by("anna", minute))
                .await
                .unwrap();
        }
        support.push(c);
    }
    store
        .set_state(support[0].id, Resolved, &by("anna", 60))
        .await
        .unwrap();
    store
        .set_state(support[1].id, Resolved, &by("anna", 120))
        .await
        .unwrap();
    // Sales: one conversation answered after 5 minutes, by sam.
    let s = conversation_with(store, "sales", 0, |n| {
        n.team = Some("sales".into());
        n.assignee = Some("sam".into());
        n.state = Assigned;
    })
    .await;
    store
        .record_answered_elsewhere(s.id, "phoned", None, "sales", &by("sam", 5))
        .await
        .unwrap();
    // Left out: ignored, and created outside the window.
    conversation_with(store, "ignored", 0, |n| n.state = Ignored).await;
    conversation_with(store, "later", 2000, |n| n.team = Some("support".into())).await;
    // Negative, unanswered, past its first-response deadline (created outside the window:
    // the overdue list is not limited to it).
    let negative = conversation_with(store, "angry", 2000, |n| {
        n.negative = true;
        n.first_response_due = Some(at_minute(2030));
    })
    .await;
    conversation_with(store, "angry-but-early", 2000, |n| {
        n.negative = true;
        n.first_response_due = Some(at_minute(3000));
    })
    .await;

    let window = MetricsWindow {
        since: at_minute(0),
        until: at_minute(1000),
    };
    let metrics = store.inbox_metrics(window, at_minute(2100)).await.unwrap();
    let secs = |minutes: f64| Some(minutes * 60.0);

    let team = |key: &str| metrics.by_team.iter().find(|g| g.key == key).unwrap();
    let support_team = team("support");
    assert_eq!((support_team.conversations, support_team.responded), (5, 4));
    assert_eq!(support_team.response_rate, Some(0.8));
    // Answered after 10, 20, 30, 40: median (20+30)/2 = 25; p90 rank ⌈0.9·4⌉ = 4 → 40.
    assert_eq!(support_team.first_response.median_secs, secs(25.0));
    assert_eq!(support_team.first_response.p90_secs, secs(40.0));
    // Resolved after 60 and 120: median 90, p90 rank ⌈1.8⌉ = 2 → 120.
    assert_eq!(support_team.resolution.median_secs, secs(90.0));
    assert_eq!(support_team.resolution.p90_secs, secs(120.0));
    assert_eq!(team("sales").first_response.median_secs, secs(5.0));

    // Overall: 5, 10, 20, 30, 40 → median 20, p90 rank ⌈4.5⌉ = 5 → 40; 5 of 6 answered.
    assert_eq!(metrics.overall.conversations, 6);
    assert_eq!(metrics.overall.responded, 5);
    assert_eq!(metrics.overall.first_response.median_secs, secs(20.0));
    assert_eq!(metrics.overall.first_response.p90_secs, secs(40.0));
    let member = |key: &str| metrics.by_member.iter().find(|g| g.key == key).unwrap();
    assert_eq!(member("anna").conversations, 5);
    assert_eq!(member("sam").responded, 1);
    assert_eq!(metrics.by_source.len(), 1);
    assert_eq!(metrics.by_source[0].key, "masto");
    assert_eq!(metrics.by_brand[0].key, "zeltron");
    assert_eq!(metrics.by_brand[0].conversations, 6);
    assert_eq!(metrics.unanswered_negative_overdue, [negative.id]);
}

pub async fn feedback_themes_are_reused_and_counted(store: &dyn Store) {
    let a = plain_conversation(store, "a", 0).await;
    let b = plain_conversation(store, "b", 1).await;
    let first = store
        .send_to_product(a.id, "Dark mode", "wants a dark theme", &by("anna", 2))
        .await
        .unwrap();
    store
        .send_to_product(
            b.id,
            "  dark   MODE ",
            "eyes hurt at night",
            &by("boris", 3),
        )
        .await
        .unwrap();
    store
        .send_to_product(a.id, "DARK MODE", "asked again", &by("anna", 4))
        .await
        .unwrap();
    store
        .send_to_product(b.id, "Экспорт в CSV", "нужен экспорт", &by("boris", 5))
        .await
        .unwrap();
    store
        .send_to_product(a.id, "экспорт в csv", "тоже", &by("anna", 6))
        .await
        .unwrap();
    store
        .send_to_product(a.id, "Offline", "no network on trains", &by("anna", 7))
        .await
        .unwrap();
    assert_eq!(first.theme, "Dark mode");

    let themes = store.feedback_themes().await.unwrap();
    let summary: Vec<(&str, u64, Vec<ConversationId>)> = themes
        .iter()
        .map(|t| (t.name.as_str(), t.count, t.conversations.clone()))
        .collect();
    assert_eq!(
        summary,
        [
            ("Dark mode", 3, vec![a.id, b.id]),
            ("Экспорт в CSV", 2, vec![b.id, a.id]),
            ("Offline", 1, vec![a.id]),
        ]
    );
    assert_eq!(themes[0].first_at, at_minute(2));
    assert_eq!(themes[0].last_at, at_minute(4));
    let dark = store.feedback_items(Some("dark mode")).await.unwrap();
    assert_eq!(
        dark.iter().map(|i| i.summary.as_str()).collect::<Vec<_>>(),
        ["wants a dark theme", "eyes hurt at night", "asked again"]
    );
    assert_eq!(store.feedback_items(None).await.unwrap().len(), 6);
    assert!(event_kinds(store, a.id)
        .await
        .contains(&EventKind::SentToProduct {
            item: first.id,
            theme: "Dark mode".into()
        }));
    assert_eq!(
        inbox_error(store.send_to_product(a.id, "", "x", &by("anna", 8)).await),
        InboxError::Empty("the theme")
    );
}

pub async fn saved_replies_crud(store: &dyn Store) {
    let t0 = at_minute(0);
    let greeting = store
        .create_saved_reply(
            "Greeting",
            "Hi {author}, thanks for writing to {brand}!",
            t0,
        )
        .await
        .unwrap();
    assert_eq!(
        greeting.render("<b>Ann</b>", "Zeltron"),
        "Hi <b>Ann</b>, thanks for writing to Zeltron!"
    );
    let refund = store
        .create_saved_reply("Refund", "We have refunded you.", t0)
        .await
        .unwrap();
    assert_eq!(
        inbox_error(store.create_saved_reply("greeting", "dup", t0).await),
        InboxError::SavedReplyNameTaken("greeting".into())
    );
    assert_eq!(
        inbox_error(
            store
                .update_saved_reply(refund.id, "GREETING", "x", t0)
                .await
        ),
        InboxError::SavedReplyNameTaken("GREETING".into())
    );
    let later = t0 + Duration::minutes(5);
    let updated = store
        .update_saved_reply(refund.id, "Refund done", "Refunded, {author}.", later)
        .await
        .unwrap();
    assert_eq!(updated.updated_at, later);
    assert_eq!(updated.created_at, t0);
    let names: Vec<String> = store
        .saved_replies()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["Greeting", "Refund done"]);
    store.delete_saved_reply(greeting.id).await.unwrap();
    assert!(store.saved_reply(greeting.id).await.unwrap().is_none());
    assert_eq!(
        inbox_error(store.delete_saved_reply(greeting.id).await),
        InboxError::SavedReplyNotFound(greeting.id)
    );
}
