//! Outbox behaviours every [`Store`] must show. Each function takes a fresh, empty store.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use earshot_core::{
    NewOutboxMessage, OutboxFilter, OutboxId, OutboxKind, OutboxState, WebhookPayload,
};
use serde_json::json;

use crate::{Store, StoreError};

const LEASE: Duration = Duration::from_secs(60);

fn t(second: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap() + chrono::Duration::seconds(second)
}

fn hook(key: &str, event: &str) -> NewOutboxMessage {
    NewOutboxMessage::webhook(
        key,
        &WebhookPayload {
            event: event.into(),
            data: json!({"conversation": 7}),
        },
    )
}

/// Runs every outbox behaviour test, each on a fresh store from `make`.
pub async fn run_all<S, F, Fut>(make: F)
where
    S: Store,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    enqueue_is_idempotent_by_dedup_key(&make().await).await;
    claims_only_due_messages_once(&make().await).await;
    an_expired_lease_is_claimed_again(&make().await).await;
    retry_failure_and_delivery_follow_the_claim(&make().await).await;
    listing_filters_and_counts(&make().await).await;
}

pub async fn enqueue_is_idempotent_by_dedup_key(store: &dyn Store) {
    let first = store
        .enqueue(hook("sla:7", "sla.overdue"), t(0))
        .await
        .unwrap();
    assert!(first.created);
    let again = store
        .enqueue(hook("sla:7", "something.else"), t(5))
        .await
        .unwrap();
    assert_eq!(again.id, first.id);
    assert!(!again.created);
    let stored = store.outbox_by_dedup_key("sla:7").await.unwrap().unwrap();
    assert_eq!(stored.id, first.id);
    assert_eq!(
        stored.payload["event"], "sla.overdue",
        "the first payload stays"
    );
    assert_eq!(stored.state, OutboxState::Pending);
    assert_eq!(stored.attempts, 0);
    assert_eq!(stored.next_attempt_at, t(0));
    assert_eq!(stored.created_at, t(0));
    assert_eq!(
        store
            .list_outbox(&OutboxFilter::default(), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    let empty = store.enqueue(hook("  ", "x"), t(0)).await.unwrap_err();
    assert!(matches!(empty, StoreError::InvalidInput(_)), "{empty}");
    assert!(store.outbox_by_dedup_key("nope").await.unwrap().is_none());
    assert!(store
        .outbox_message(OutboxId(9_999))
        .await
        .unwrap()
        .is_none());
}

pub async fn claims_only_due_messages_once(store: &dyn Store) {
    let now = store.enqueue(hook("a", "e"), t(0)).await.unwrap().id;
    let mut later = hook("b", "e");
    later.deliver_after = Some(t(100));
    let later = store.enqueue(later, t(0)).await.unwrap().id;

    let claimed = store.claim_due(t(10), 10, LEASE).await.unwrap();
    assert_eq!(
        claimed.iter().map(|c| c.message.id).collect::<Vec<_>>(),
        vec![now]
    );
    let claim = &claimed[0];
    assert_eq!(claim.message.state, OutboxState::InFlight);
    assert_eq!(claim.message.attempts, 1);
    assert_eq!(claim.message.lease_until, Some(t(70)));
    // Held: a second worker gets nothing until the lease ends or the message comes due.
    assert!(store.claim_due(t(20), 10, LEASE).await.unwrap().is_empty());
    let second = store.claim_due(t(100), 10, LEASE).await.unwrap();
    assert_eq!(
        second.iter().map(|c| c.message.id).collect::<Vec<_>>(),
        vec![now, later],
        "the lease of the first ended at 70 s, the second came due at 100 s"
    );
    assert!(store.claim_due(t(100), 0, LEASE).await.unwrap().is_empty());
}

pub async fn an_expired_lease_is_claimed_again(store: &dyn Store) {
    let id = store.enqueue(hook("crash", "e"), t(0)).await.unwrap().id;
    let dead_worker = store.claim_due(t(0), 1, LEASE).await.unwrap().remove(0);
    assert!(store.claim_due(t(59), 1, LEASE).await.unwrap().is_empty());
    let new_worker = store.claim_due(t(60), 1, LEASE).await.unwrap().remove(0);
    assert_eq!(new_worker.message.id, id);
    assert_eq!(new_worker.message.attempts, 2);
    assert!(new_worker.claim > dead_worker.claim);
    assert!(
        new_worker
            .message
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("lease"),
        "{:?}",
        new_worker.message.last_error
    );
    // The dead worker comes back late: its claim is stale, so it cannot reschedule or fail
    // the message the new worker holds.
    assert!(!store
        .mark_retry(id, dead_worker.claim, "late", t(300), t(61))
        .await
        .unwrap());
    assert!(!store
        .mark_failed(id, dead_worker.claim, "late", t(61))
        .await
        .unwrap());
    let held = store.outbox_message(id).await.unwrap().unwrap();
    assert_eq!(held.state, OutboxState::InFlight);
    assert!(store
        .mark_delivered(id, json!({"status": 200}), t(62))
        .await
        .unwrap());
    assert!(store
        .claim_due(t(1_000), 10, LEASE)
        .await
        .unwrap()
        .is_empty());
}

pub async fn retry_failure_and_delivery_follow_the_claim(store: &dyn Store) {
    let id = store.enqueue(hook("r", "e"), t(0)).await.unwrap().id;
    let claim = store.claim_due(t(0), 1, LEASE).await.unwrap().remove(0);
    assert!(store
        .mark_retry(id, claim.claim, "HTTP 500: boom", t(30), t(1))
        .await
        .unwrap());
    let waiting = store.outbox_message(id).await.unwrap().unwrap();
    assert_eq!(waiting.state, OutboxState::Pending);
    assert_eq!(waiting.lease_until, None);
    assert_eq!(waiting.last_error.as_deref(), Some("HTTP 500: boom"));
    assert_eq!(waiting.next_attempt_at, t(30));
    assert!(store.claim_due(t(29), 1, LEASE).await.unwrap().is_empty());

    let claim = store.claim_due(t(30), 1, LEASE).await.unwrap().remove(0);
    assert_eq!(claim.message.attempts, 2);
    assert!(store
        .mark_failed(id, claim.claim, "HTTP 400: bad payload", t(31))
        .await
        .unwrap());
    let failed = store.outbox_message(id).await.unwrap().unwrap();
    assert_eq!(failed.state, OutboxState::Failed);
    assert_eq!(failed.updated_at, t(31));
    assert!(store
        .claim_due(t(10_000), 1, LEASE)
        .await
        .unwrap()
        .is_empty());
    assert!(
        !store.mark_delivered(id, json!({}), t(32)).await.unwrap(),
        "a failed message is not delivered behind the user's back"
    );

    assert!(store.requeue_failed(id, t(40)).await.unwrap());
    assert!(!store.requeue_failed(id, t(40)).await.unwrap());
    let claim = store.claim_due(t(40), 1, LEASE).await.unwrap().remove(0);
    assert_eq!(claim.message.attempts, 1);
    let result = json!({"remote_id": "110", "url": "https://m.example/@us/110"});
    assert!(store
        .mark_delivered(id, result.clone(), t(41))
        .await
        .unwrap());
    assert!(!store.mark_delivered(id, json!({}), t(42)).await.unwrap());
    let delivered = store.outbox_message(id).await.unwrap().unwrap();
    assert_eq!(delivered.state, OutboxState::Delivered);
    assert_eq!(delivered.result, Some(result));
    assert_eq!(delivered.lease_until, None);
}

pub async fn listing_filters_and_counts(store: &dyn Store) {
    let mut ids = Vec::new();
    for (i, kind) in [OutboxKind::Webhook, OutboxKind::Email, OutboxKind::Publish]
        .into_iter()
        .cycle()
        .take(6)
        .enumerate()
    {
        let message = NewOutboxMessage {
            kind,
            dedup_key: format!("k{i}"),
            payload: json!({"n": i}),
            deliver_after: None,
        };
        ids.push(store.enqueue(message, t(i as i64)).await.unwrap().id);
    }
    let claim = store.claim_due(t(100), 1, LEASE).await.unwrap().remove(0);
    assert_eq!(claim.message.id, ids[0]);
    store
        .mark_failed(ids[0], claim.claim, "gone", t(101))
        .await
        .unwrap();

    let all = store
        .list_outbox(&OutboxFilter::default(), 100)
        .await
        .unwrap();
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(all.iter().map(|m| m.id).collect::<Vec<_>>(), newest_first);

    let emails = OutboxFilter {
        kind: Some(OutboxKind::Email),
        ..OutboxFilter::default()
    };
    let listed = store.list_outbox(&emails, 100).await.unwrap();
    assert_eq!(
        listed.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![ids[4], ids[1]]
    );
    let failed = OutboxFilter {
        state: Some(OutboxState::Failed),
        ..OutboxFilter::default()
    };
    let listed = store.list_outbox(&failed, 100).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].last_error.as_deref(), Some("gone"));

    let page = OutboxFilter {
        before: Some(ids[3]),
        ..OutboxFilter::default()
    };
    let listed = store.list_outbox(&page, 2).await.unwrap();
    assert_eq!(
        listed.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![ids[2], ids[1]]
    );

    assert_eq!(
        store.outbox_counts().await.unwrap(),
        vec![(OutboxState::Failed, 1), (OutboxState::Pending, 5)]
    );
}
