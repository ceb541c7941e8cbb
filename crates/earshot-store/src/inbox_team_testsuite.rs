//! Behaviour tests of moving conversations between teams ([`crate::InboxStore::set_team`]) and
//! of reading a thread's corrections ([`crate::AnalysisStore::corrections_of`]), for every
//! [`Store`]; `tests/inbox_team_store.rs` runs them on SQLite.

use chrono::Duration;
use earshot_core::{
    ConversationState, CorrectionField, EventKind, LabelCorrection, MentionId, NewConversation,
    SlaDue, Stamp, TeamRecord,
};

use crate::testsuite::{at_minute, mention};
use crate::{InboxError, Store, StoreError};

fn team(name: &str, members: &[&str]) -> TeamRecord {
    TeamRecord {
        name: name.into(),
        manager: None,
        capacity: Some(10),
        hours: serde_json::json!({"timezone": "UTC"}),
        members: members.iter().map(|m| m.to_string()).collect(),
    }
}

async fn stored_mention(store: &dyn Store, external: &str, minute: i64) -> MentionId {
    store
        .write_batch(
            vec![mention("masto", external, "my order is late", minute)],
            None,
        )
        .await
        .unwrap()
        .per_item[0]
        .0
}

/// A team move: the event names who, from and to; an assignee outside the new team is
/// unassigned (state back to new); one inside keeps it; new deadlines replace the old and
/// clear an overdue flag whose deadline moved into the future; unknown teams are refused
/// and change nothing; moving to the current team writes nothing.
pub async fn moving_to_another_team(store: &dyn Store) {
    store
        .upsert_teams(&[
            team("support", &["anna", "boris"]),
            team("billing", &["anna", "bill"]),
        ])
        .await
        .unwrap();
    let root = stored_mention(store, "t1", 0).await;
    let mut new = NewConversation::for_mention(root);
    new.team = Some("support".into());
    new.first_response_due = Some(at_minute(60));
    new.resolution_due = Some(at_minute(600));
    let (opened, _) = store
        .create_conversation(&new, &Stamp::system(at_minute(0)))
        .await
        .unwrap();
    let id = opened.id;
    store
        .assign(id, Some("boris"), &Stamp::new("maria", at_minute(1)))
        .await
        .unwrap();
    // The first-response deadline passes and is flagged.
    let breaches = store.mark_overdue(at_minute(61)).await.unwrap();
    assert_eq!(breaches.len(), 1);

    let refused = store
        .set_team(id, Some("legal"), None, &Stamp::new("maria", at_minute(62)))
        .await;
    match refused {
        Err(StoreError::Inbox(InboxError::UnknownTeam(name))) => assert_eq!(name, "legal"),
        other => panic!("expected an unknown team, got {other:?}"),
    }
    let unchanged = store.conversation(id).await.unwrap().unwrap();
    assert_eq!(unchanged.team.as_deref(), Some("support"));
    assert_eq!(unchanged.assignee.as_deref(), Some("boris"));

    let later = SlaDue {
        first_response: Some(at_minute(61) + Duration::hours(2)),
        resolution: Some(at_minute(61) + Duration::hours(20)),
    };
    let moved = store
        .set_team(
            id,
            Some("billing"),
            Some(later),
            &Stamp::new("maria", at_minute(63)),
        )
        .await
        .unwrap();
    assert_eq!(moved.team.as_deref(), Some("billing"));
    assert_eq!(moved.assignee, None, "boris is not in billing");
    assert_eq!(moved.state, ConversationState::New);
    assert_eq!(moved.first_response_due, later.first_response);
    assert_eq!(moved.resolution_due, later.resolution);
    assert!(
        !moved.first_response_overdue,
        "the new deadline has not passed"
    );

    let detail = store.conversation_detail(id).await.unwrap().unwrap();
    let tail: Vec<(&str, &EventKind)> = detail
        .events
        .iter()
        .rev()
        .take(3)
        .map(|e| (e.actor.as_str(), &e.kind))
        .collect();
    assert_eq!(
        tail,
        vec![
            (
                "maria",
                &EventKind::StateChanged {
                    from: ConversationState::Assigned,
                    to: ConversationState::New,
                }
            ),
            (
                "maria",
                &EventKind::Assigned {
                    from: Some("boris".into()),
                    to: None,
                }
            ),
            (
                "maria",
                &EventKind::TeamChanged {
                    from: Some("support".into()),
                    to: Some("billing".into()),
                }
            ),
        ]
    );

    // A member of both teams keeps the conversation; no deadlines given keeps them.
    store
        .assign(id, Some("anna"), &Stamp::new("maria", at_minute(64)))
        .await
        .unwrap();
    let back = store
        .set_team(
            id,
            Some("support"),
            None,
            &Stamp::new("maria", at_minute(65)),
        )
        .await
        .unwrap();
    assert_eq!(back.assignee.as_deref(), Some("anna"));
    assert_eq!(back.state, ConversationState::Assigned);
    assert_eq!(back.first_response_due, later.first_response);

    // Same team again: nothing changes, no event.
    let events_before = store
        .conversation_detail(id)
        .await
        .unwrap()
        .unwrap()
        .events
        .len();
    store
        .set_team(
            id,
            Some("support"),
            None,
            &Stamp::new("maria", at_minute(66)),
        )
        .await
        .unwrap();
    let events_after = store
        .conversation_detail(id)
        .await
        .unwrap()
        .unwrap()
        .events
        .len();
    assert_eq!(events_before, events_after);

    // To the shared queue: nobody's team, so the assignee goes too.
    let unrouted = store
        .set_team(id, None, None, &Stamp::new("maria", at_minute(67)))
        .await
        .unwrap();
    assert_eq!(unrouted.team, None);
    assert_eq!(unrouted.assignee, None);
    assert_eq!(unrouted.state, ConversationState::New);

    // The new deadline, once passed, is reported again (once).
    let breaches = store
        .mark_overdue(at_minute(61) + Duration::hours(3))
        .await
        .unwrap();
    assert_eq!(breaches.len(), 1);
    assert_eq!(breaches[0].conversation, id);

    let missing = store
        .set_team(
            earshot_core::ConversationId(id.0 + 1000),
            Some("support"),
            None,
            &Stamp::new("maria", at_minute(68)),
        )
        .await;
    assert!(matches!(
        missing,
        Err(StoreError::Inbox(InboxError::ConversationNotFound(_)))
    ));
}

/// The corrections of a thread's mentions: the latest per field (per intent), with who.
pub async fn corrections_of_a_thread(store: &dyn Store) {
    let first = stored_mention(store, "c1", 0).await;
    let second = stored_mention(store, "c2", 1).await;
    let other = stored_mention(store, "c3", 2).await;
    let correct =
        |field, label: &str, present| LabelCorrection::new(field, label, present).unwrap();
    for (mention, correction, by) in [
        (
            first,
            correct(CorrectionField::Sentiment, "neutral", true),
            "anna",
        ),
        (
            first,
            correct(CorrectionField::Sentiment, "negative", true),
            "boris",
        ),
        (
            first,
            correct(CorrectionField::Intent, "complaint", false),
            "anna",
        ),
        (second, correct(CorrectionField::Spam, "ham", true), "anna"),
        (other, correct(CorrectionField::Spam, "spam", true), "anna"),
    ] {
        assert!(store
            .record_correction(mention, &correction, Some(by))
            .await
            .unwrap());
    }
    let found = store.corrections_of(&[first, second]).await.unwrap();
    let summary: Vec<(MentionId, CorrectionField, &str, bool, Option<&str>)> = found
        .iter()
        .map(|c| {
            (
                c.mention_id,
                c.field,
                c.label.as_str(),
                c.present,
                c.by.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                first,
                CorrectionField::Sentiment,
                "negative",
                true,
                Some("boris")
            ),
            (
                first,
                CorrectionField::Intent,
                "complaint",
                false,
                Some("anna")
            ),
            (second, CorrectionField::Spam, "ham", true, Some("anna")),
        ]
    );
    assert!(store.corrections_of(&[]).await.unwrap().is_empty());
}
