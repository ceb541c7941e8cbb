//! Publication queue behaviours every [`Store`] must show. Each function takes a fresh, empty
//! store.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use earshot_core::{
    NewConversation, NewOutboxMessage, NewPublication, PublicationFilter, PublicationId,
    PublicationState, ReplyTarget, Stamp, WebhookPayload,
};

use crate::testsuite::mention;
use crate::{Store, StoreError};

const LEASE: Duration = Duration::from_secs(60);

fn t(second: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap() + chrono::Duration::seconds(second)
}

/// Variant `variant` of post `post`, revision 1, on account `account`, due at `t(at)`.
pub fn variant(account: i64, post: i64, variant: i64, at: i64) -> NewPublication {
    NewPublication {
        account_id: account,
        post_id: post,
        variant_id: variant,
        revision: 1,
        text: format!("Spring sale starts today (post {post}, variant {variant})"),
        language: Some("en".into()),
        reply_to: None,
        scheduled_at: t(at),
    }
}

fn retry_notice(id: PublicationId) -> NewOutboxMessage {
    NewOutboxMessage::webhook(
        format!("publication:{id}:retrying"),
        &WebhookPayload {
            event: "publication.retrying".into(),
            data: serde_json::json!({"publication": id}),
        },
    )
}

/// Runs every publication behaviour test, each on a fresh store from `make`.
pub async fn run_all<S, F, Fut>(make: F)
where
    S: Store,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    enqueue_is_idempotent_by_revision(&make().await).await;
    bad_input_is_refused_and_nothing_stored(&make().await).await;
    claims_only_due_rows_once_and_in_time_order(&make().await).await;
    a_dead_workers_row_is_taken_over_after_its_lease(&make().await).await;
    marks_follow_the_claim_and_publishing_is_a_fact(&make().await).await;
    cancel_and_reschedule_only_before_a_claim(&make().await).await;
    outcomes_are_reported_once(&make().await).await;
    listing_filters_by_account_state_and_time(&make().await).await;
    replies_find_their_publication_and_conversations_link_to_it(&make().await).await;
}

pub async fn enqueue_is_idempotent_by_revision(store: &dyn Store) {
    let mut first = variant(3, 17, 2, 60);
    first.reply_to = Some(ReplyTarget {
        external_id: Some("109".into()),
        url: Some("https://social.example/@alice/109".into()),
        server: Some("https://social.example".into()),
    });
    let (stored, created) = store.enqueue_publication(&first, t(0)).await.unwrap();
    assert!(created);
    assert_eq!(stored.idempotency_key, "pub:17:2:1");
    assert_eq!(stored.state, PublicationState::Scheduled);
    assert_eq!(stored.next_attempt_at, t(60));
    assert_eq!(stored.scheduled_at, t(60));
    assert_eq!(stored.attempts, 0);
    assert_eq!(stored.reply_to, first.reply_to);
    assert_eq!(stored.language.as_deref(), Some("en"));
    assert_eq!(stored.created_at, t(0));

    let mut again = first.clone();
    again.text = "an edited text under the same revision".into();
    again.scheduled_at = t(999);
    let (same, created) = store.enqueue_publication(&again, t(5)).await.unwrap();
    assert!(!created, "the same revision is queued once");
    assert_eq!(same.id, stored.id);
    assert_eq!(same.text, first.text, "the first text stays");
    assert_eq!(same.scheduled_at, t(60));

    let mut revised = first.clone();
    revised.revision = 2;
    let (newer, created) = store.enqueue_publication(&revised, t(6)).await.unwrap();
    assert!(created, "a new revision is a new publication");
    assert_ne!(newer.id, stored.id);
    assert_eq!(
        store
            .publication_by_key("pub:17:2:2")
            .await
            .unwrap()
            .unwrap()
            .id,
        newer.id
    );
    assert!(store
        .publication(PublicationId(9_999))
        .await
        .unwrap()
        .is_none());
}

pub async fn bad_input_is_refused_and_nothing_stored(store: &dyn Store) {
    let mut empty = variant(1, 1, 1, 0);
    empty.text = "  \n".into();
    let error = store.enqueue_publication(&empty, t(0)).await.unwrap_err();
    assert!(matches!(error, StoreError::InvalidInput(_)), "{error}");
    assert!(error.to_string().contains("post 1 variant 1"), "{error}");
    let mut huge = variant(1, 1, 2, 0);
    huge.text = "x".repeat(crate::publications::MAX_PUBLICATION_CHARS + 1);
    let error = store.enqueue_publication(&huge, t(0)).await.unwrap_err();
    assert!(error.to_string().contains("characters long"), "{error}");
    assert!(store
        .list_publications(&PublicationFilter::default(), 10)
        .await
        .unwrap()
        .is_empty());
    let (stored, _) = store
        .enqueue_publication(&variant(1, 1, 3, 0), t(0))
        .await
        .unwrap();
    let error = store
        .mark_publication_published(stored.id, " ", None, false, t(1))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::InvalidInput(_)), "{error}");
    assert_eq!(
        store.publication(stored.id).await.unwrap().unwrap().state,
        PublicationState::Scheduled
    );
}

pub async fn claims_only_due_rows_once_and_in_time_order(store: &dyn Store) {
    let later = store
        .enqueue_publication(&variant(1, 1, 1, 120), t(0))
        .await
        .unwrap()
        .0;
    let soon = store
        .enqueue_publication(&variant(1, 2, 1, 30), t(0))
        .await
        .unwrap()
        .0;
    let sooner = store
        .enqueue_publication(&variant(2, 3, 1, 10), t(0))
        .await
        .unwrap()
        .0;
    assert!(store
        .claim_due_publications(t(9), 10, LEASE)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .claim_due_publications(t(30), 0, LEASE)
        .await
        .unwrap()
        .is_empty());
    let claims = store
        .claim_due_publications(t(30), 10, LEASE)
        .await
        .unwrap();
    let ids: Vec<_> = claims.iter().map(|c| c.publication.id).collect();
    assert_eq!(ids, vec![sooner.id, soon.id], "due ones, earliest first");
    for claim in &claims {
        assert_eq!(claim.publication.state, PublicationState::Publishing);
        assert_eq!(claim.publication.attempts, 1);
        assert_eq!(claim.publication.lease_until, Some(t(90)));
        assert_eq!(claim.claim, 1);
    }
    assert!(
        store
            .claim_due_publications(t(31), 10, LEASE)
            .await
            .unwrap()
            .is_empty(),
        "a held row is not claimed twice"
    );
    let limited = store
        .claim_due_publications(t(200), 1, LEASE)
        .await
        .unwrap();
    assert_eq!(limited.len(), 1);
    assert_eq!(
        limited[0].publication.id, soon.id,
        "leases that ended at t(90) come before a row due at t(120); equal ones by id"
    );
    let rest: Vec<_> = store
        .claim_due_publications(t(200), 10, LEASE)
        .await
        .unwrap()
        .iter()
        .map(|c| c.publication.id)
        .collect();
    assert_eq!(rest, vec![sooner.id, later.id]);
}

pub async fn a_dead_workers_row_is_taken_over_after_its_lease(store: &dyn Store) {
    let row = store
        .enqueue_publication(&variant(1, 1, 1, 0), t(0))
        .await
        .unwrap()
        .0;
    let dead = store
        .claim_due_publications(t(0), 10, LEASE)
        .await
        .unwrap()
        .remove(0);
    assert!(store
        .record_publication_attempt(row.id, dead.claim, t(1))
        .await
        .unwrap());
    assert!(store
        .claim_due_publications(t(59), 10, LEASE)
        .await
        .unwrap()
        .is_empty());
    let taken = store
        .claim_due_publications(t(60), 10, LEASE)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(taken.claim, dead.claim + 1);
    assert_eq!(taken.publication.attempts, 2);
    assert_eq!(
        taken.publication.attempt_started_at,
        Some(t(1)),
        "the new worker sees that the network may have the post already"
    );
    assert!(taken
        .publication
        .last_error
        .as_deref()
        .unwrap()
        .contains("stopped before finishing"));
    assert!(
        !store
            .record_publication_attempt(row.id, dead.claim, t(61))
            .await
            .unwrap(),
        "the dead worker's claim no longer lets it send"
    );
}

pub async fn marks_follow_the_claim_and_publishing_is_a_fact(store: &dyn Store) {
    let row = store
        .enqueue_publication(&variant(1, 1, 1, 0), t(0))
        .await
        .unwrap()
        .0;
    let first = store
        .claim_due_publications(t(0), 1, LEASE)
        .await
        .unwrap()
        .remove(0);
    store
        .record_publication_attempt(row.id, first.claim, t(0))
        .await
        .unwrap();
    assert!(store
        .mark_publication_retry(row.id, first.claim, "HTTP 503", t(30), None, t(1))
        .await
        .unwrap());
    let waiting = store.publication(row.id).await.unwrap().unwrap();
    assert_eq!(waiting.state, PublicationState::Scheduled);
    assert_eq!(waiting.next_attempt_at, t(30));
    assert_eq!(waiting.attempt_started_at, None);
    assert_eq!(waiting.last_error.as_deref(), Some("HTTP 503"));
    assert_eq!(
        waiting.scheduled_at,
        t(0),
        "the scheduled time stays for the calendar"
    );
    assert!(
        !store
            .mark_publication_failed(row.id, first.claim, "late", None, t(2))
            .await
            .unwrap(),
        "not held any more"
    );

    let second = store
        .claim_due_publications(t(30), 1, LEASE)
        .await
        .unwrap()
        .remove(0);
    assert!(!store
        .mark_publication_retry(row.id, first.claim, "stale", t(99), None, t(31))
        .await
        .unwrap());
    assert!(store
        .mark_publication_published(
            row.id,
            "110001",
            Some("https://m.example/@b/110001"),
            true,
            t(31)
        )
        .await
        .unwrap());
    let done = store.publication(row.id).await.unwrap().unwrap();
    assert_eq!(done.state, PublicationState::Published);
    assert_eq!(done.remote_id.as_deref(), Some("110001"));
    assert_eq!(done.url.as_deref(), Some("https://m.example/@b/110001"));
    assert_eq!(done.published_at, Some(t(31)));
    assert!(done.late);
    assert_eq!(done.lease_until, None);
    assert!(!store
        .mark_publication_failed(row.id, second.claim, "x", None, t(32))
        .await
        .unwrap());
    assert!(
        !store
            .mark_publication_published(row.id, "110002", None, false, t(33))
            .await
            .unwrap(),
        "published once"
    );
    assert_eq!(
        store
            .publication(row.id)
            .await
            .unwrap()
            .unwrap()
            .remote_id
            .as_deref(),
        Some("110001")
    );

    let other = store
        .enqueue_publication(&variant(1, 2, 1, 0), t(0))
        .await
        .unwrap()
        .0;
    let claim = store
        .claim_due_publications(t(40), 1, LEASE)
        .await
        .unwrap()
        .remove(0);
    let notice = NewOutboxMessage::webhook(
        format!("publication:{}:failed", other.id),
        &WebhookPayload {
            event: "publication.failed".into(),
            data: serde_json::json!({"publication": other.id}),
        },
    );
    assert!(store
        .mark_publication_failed(
            other.id,
            claim.claim,
            "HTTP 422: Validation failed",
            Some(&notice),
            t(41)
        )
        .await
        .unwrap());
    let queued = store
        .outbox_by_dedup_key(&notice.dedup_key)
        .await
        .unwrap()
        .expect("the failure notice is queued with the mark");
    assert_eq!(queued.payload["event"], "publication.failed");
    assert!(
        !store
            .mark_publication_retry(
                other.id,
                claim.claim,
                "again",
                t(50),
                Some(&retry_notice(other.id)),
                t(42)
            )
            .await
            .unwrap(),
        "a mark that does not apply queues no notice"
    );
    assert!(store
        .outbox_by_dedup_key(&retry_notice(other.id).dedup_key)
        .await
        .unwrap()
        .is_none());
    let failed = store.publication(other.id).await.unwrap().unwrap();
    assert_eq!(failed.state, PublicationState::Failed);
    assert_eq!(
        failed.last_error.as_deref(),
        Some("HTTP 422: Validation failed")
    );
    assert!(
        store
            .claim_due_publications(t(10_000), 10, LEASE)
            .await
            .unwrap()
            .is_empty(),
        "final rows are never claimed"
    );
}

pub async fn cancel_and_reschedule_only_before_a_claim(store: &dyn Store) {
    let row = store
        .enqueue_publication(&variant(1, 1, 1, 100), t(0))
        .await
        .unwrap()
        .0;
    let moved = store
        .reschedule_publication(row.id, t(500), t(1))
        .await
        .unwrap();
    assert_eq!(moved.scheduled_at, t(500));
    assert_eq!(moved.next_attempt_at, t(500));
    assert!(store
        .claim_due_publications(t(499), 10, LEASE)
        .await
        .unwrap()
        .is_empty());
    let cancelled = store.cancel_publication(row.id, t(2)).await.unwrap();
    assert_eq!(cancelled.state, PublicationState::Cancelled);
    assert!(store
        .claim_due_publications(t(1_000), 10, LEASE)
        .await
        .unwrap()
        .is_empty());
    assert!(!store
        .mark_publication_published(row.id, "1", None, false, t(3))
        .await
        .unwrap());

    let held = store
        .enqueue_publication(&variant(1, 2, 1, 0), t(0))
        .await
        .unwrap()
        .0;
    store.claim_due_publications(t(0), 10, LEASE).await.unwrap();
    let error = store.cancel_publication(held.id, t(1)).await.unwrap_err();
    assert!(matches!(error, StoreError::Conflict(_)), "{error}");
    assert!(error.to_string().contains("is publishing"), "{error}");
    let error = store
        .reschedule_publication(held.id, t(900), t(1))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("rescheduled"), "{error}");
    let missing = store
        .cancel_publication(PublicationId(777), t(1))
        .await
        .unwrap_err();
    assert!(matches!(missing, StoreError::NotFound(_)), "{missing}");
}

pub async fn outcomes_are_reported_once(store: &dyn Store) {
    let good = store
        .enqueue_publication(&variant(1, 1, 1, 0), t(0))
        .await
        .unwrap()
        .0;
    let bad = store
        .enqueue_publication(&variant(1, 2, 1, 0), t(0))
        .await
        .unwrap()
        .0;
    store
        .enqueue_publication(&variant(1, 3, 1, 500), t(0))
        .await
        .unwrap();
    let claims = store.claim_due_publications(t(0), 10, LEASE).await.unwrap();
    assert!(store.unreported_publications(10).await.unwrap().is_empty());
    store
        .mark_publication_published(
            good.id,
            "at://did:plc:x/app.bsky.feed.post/3k",
            None,
            false,
            t(1),
        )
        .await
        .unwrap();
    let bad_claim = claims
        .iter()
        .find(|c| c.publication.id == bad.id)
        .unwrap()
        .claim;
    store
        .mark_publication_failed(bad.id, bad_claim, "refused", None, t(1))
        .await
        .unwrap();
    let due: Vec<_> = store
        .unreported_publications(10)
        .await
        .unwrap()
        .iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(due, vec![good.id, bad.id]);
    assert!(store
        .mark_publication_reported(good.id, t(2))
        .await
        .unwrap());
    assert!(!store
        .mark_publication_reported(good.id, t(3))
        .await
        .unwrap());
    let due: Vec<_> = store
        .unreported_publications(10)
        .await
        .unwrap()
        .iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(due, vec![bad.id]);
    assert_eq!(
        store
            .publication(good.id)
            .await
            .unwrap()
            .unwrap()
            .reported_at,
        Some(t(2))
    );
}

pub async fn listing_filters_by_account_state_and_time(store: &dyn Store) {
    let a = store
        .enqueue_publication(&variant(1, 1, 1, 100), t(0))
        .await
        .unwrap()
        .0;
    let b = store
        .enqueue_publication(&variant(2, 1, 2, 50), t(0))
        .await
        .unwrap()
        .0;
    let c = store
        .enqueue_publication(&variant(1, 2, 1, 300), t(0))
        .await
        .unwrap()
        .0;
    store.cancel_publication(c.id, t(1)).await.unwrap();
    let ids = |list: Vec<earshot_core::Publication>| list.iter().map(|p| p.id).collect::<Vec<_>>();
    let all = store
        .list_publications(&PublicationFilter::default(), 10)
        .await
        .unwrap();
    assert_eq!(ids(all), vec![b.id, a.id, c.id], "by scheduled time");
    let account = PublicationFilter {
        account_id: Some(1),
        ..PublicationFilter::default()
    };
    assert_eq!(
        ids(store.list_publications(&account, 10).await.unwrap()),
        vec![a.id, c.id]
    );
    let scheduled = PublicationFilter {
        account_id: Some(1),
        states: vec![PublicationState::Scheduled, PublicationState::Failed],
        ..PublicationFilter::default()
    };
    assert_eq!(
        ids(store.list_publications(&scheduled, 10).await.unwrap()),
        vec![a.id]
    );
    let window = PublicationFilter {
        from: Some(t(50)),
        until: Some(t(300)),
        ..PublicationFilter::default()
    };
    assert_eq!(
        ids(store.list_publications(&window, 10).await.unwrap()),
        vec![b.id, a.id],
        "from inclusive, until exclusive"
    );
    let post = PublicationFilter {
        post_id: Some(1),
        ..PublicationFilter::default()
    };
    assert_eq!(
        ids(store.list_publications(&post, 1).await.unwrap()),
        vec![b.id]
    );
}

pub async fn replies_find_their_publication_and_conversations_link_to_it(store: &dyn Store) {
    let row = store
        .enqueue_publication(&variant(1, 1, 1, 0), t(0))
        .await
        .unwrap()
        .0;
    assert!(store
        .publication_for_remote("110001")
        .await
        .unwrap()
        .is_none());
    store.claim_due_publications(t(0), 1, LEASE).await.unwrap();
    store
        .mark_publication_published(
            row.id,
            "110001",
            Some("https://m.example/@brand/110001"),
            false,
            t(1),
        )
        .await
        .unwrap();
    for reference in ["110001", " https://m.example/@brand/110001 "] {
        let found = store.publication_for_remote(reference).await.unwrap();
        assert_eq!(found.map(|p| p.id), Some(row.id), "{reference}");
    }
    assert!(store.publication_for_remote("").await.unwrap().is_none());
    assert!(store
        .publication_for_remote("110002")
        .await
        .unwrap()
        .is_none());

    let outcome = store
        .write_batch(
            vec![mention("masto", "ext-1", "Does the sale include shoes?", 5)],
            None,
        )
        .await
        .unwrap();
    let root = outcome.inserted[0];
    let (conversation, _) = store
        .create_conversation(&NewConversation::for_mention(root), &Stamp::system(t(2)))
        .await
        .unwrap();
    assert!(store
        .publication_for_conversation(conversation.id)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .link_conversation_to_publication(conversation.id, row.id, t(3))
        .await
        .unwrap());
    assert!(!store
        .link_conversation_to_publication(conversation.id, row.id, t(4))
        .await
        .unwrap());
    let linked = store
        .publication_for_conversation(conversation.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(linked.id, row.id);
    assert_eq!(linked.post_id, 1);
    let error = store
        .link_conversation_to_publication(conversation.id, PublicationId(404), t(5))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::NotFound(_)), "{error}");
    let error = store
        .link_conversation_to_publication(earshot_core::ConversationId(404), row.id, t(5))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("conversation 404"), "{error}");
}
