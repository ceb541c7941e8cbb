//! Behaviour tests of [`crate::PublishingStore`], runnable against any [`crate::Store`] (the
//! SQLite store runs them in `tests/sqlite_publishing.rs`). Each test makes its own accounts
//! with a unique prefix, so they share one store.

use chrono::{DateTime, Duration, TimeZone, Utc};
use earshot_core::{
    Account, AccountStatus, Actor, Network, NewAccount, PostAction, PostEventKind, PostState, Role,
    VariantDraft, VariantState,
};

use crate::{PostFilter, Store, StoreError};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 4, 9, 0, 0).unwrap()
}

pub fn new_account(name: &str, network: Network, steps: &[&str]) -> NewAccount {
    NewAccount {
        network,
        name: name.to_string(),
        handle: match network {
            Network::Mastodon => format!("@{name}@social.example"),
            Network::Bluesky => format!("{name}.bsky.social"),
        },
        server_url: match network {
            Network::Mastodon => "https://social.example".into(),
            Network::Bluesky => "https://bsky.social".into(),
        },
        owner: "olga".into(),
        purpose: "news for customers".into(),
        languages: vec!["en".into()],
        posts_per_day: 3,
        approval_steps: steps.iter().map(|s| s.to_string()).collect(),
        sealed_credentials: vec![1, 2, 3],
    }
}

fn draft(account: &Account, text: &str) -> VariantDraft {
    VariantDraft {
        account: account.id,
        text: text.into(),
        media: Vec::new(),
    }
}

fn author() -> Actor {
    Actor::new("anna", Role::Agent, vec!["marketing".into()])
}
fn marketer() -> Actor {
    Actor::new("mark", Role::Agent, vec!["marketing".into()])
}
fn lawyer() -> Actor {
    Actor::new("lena", Role::Agent, vec!["legal".into()])
}

pub async fn run_all(store: &dyn Store) {
    accounts_are_kept_with_their_settings(store).await;
    account_checks_record_health(store).await;
    an_account_in_use_cannot_be_removed(store).await;
    a_post_goes_through_every_step_in_order(store).await;
    an_edit_after_approval_sends_the_post_back_to_review(store).await;
    a_rejection_needs_a_comment_and_returns_to_draft(store).await;
    publication_results_finish_the_post(store).await;
    a_failed_variant_fails_the_post(store).await;
    lists_filter_by_account_state_and_time(store).await;
    bad_posts_store_nothing(store).await;
}

pub async fn accounts_are_kept_with_their_settings(store: &dyn Store) {
    let created = store
        .create_account(
            new_account("acc-keep", Network::Mastodon, &["marketing", "legal"]),
            t0(),
        )
        .await
        .unwrap();
    let read = store.account(created.id).await.unwrap().unwrap();
    assert_eq!(read, created);
    assert_eq!(read.approval_steps, ["marketing", "legal"]);
    assert_eq!(read.status, AccountStatus::Active);
    assert_eq!(read.languages, ["en"]);
    assert_eq!(
        store.account_credentials(created.id).await.unwrap(),
        [1, 2, 3]
    );
    assert_eq!(
        store.account_by_name("acc-keep").await.unwrap().unwrap().id,
        created.id
    );
    // The same name, or the same handle on the same server, is a clear conflict.
    let again = store
        .create_account(new_account("acc-keep", Network::Mastodon, &[]), t0())
        .await
        .unwrap_err();
    assert!(matches!(again, StoreError::Conflict(_)), "{again}");
    assert!(again.to_string().contains("acc-keep"));
    let mut bad = new_account("acc-bad-lang", Network::Bluesky, &[]);
    bad.languages = vec!["English".into()];
    let err = store.create_account(bad, t0()).await.unwrap_err();
    assert!(err.to_string().contains("ISO 639-1"), "{err}");
    assert!(store
        .account_by_name("acc-bad-lang")
        .await
        .unwrap()
        .is_none());
    // Rotation replaces the sealed bytes.
    store
        .replace_credentials(vec![(created.id, vec![9, 9])])
        .await
        .unwrap();
    assert_eq!(store.account_credentials(created.id).await.unwrap(), [9, 9]);
}

pub async fn account_checks_record_health(store: &dyn Store) {
    let account = store
        .create_account(new_account("acc-health", Network::Bluesky, &[]), t0())
        .await
        .unwrap();
    let failed = store
        .record_account_check(account.id, Some("401 Unauthorized: bad app password"), t0())
        .await
        .unwrap();
    assert_eq!(failed.status, AccountStatus::Disconnected);
    assert_eq!(
        failed.last_error.as_deref(),
        Some("401 Unauthorized: bad app password")
    );
    assert_eq!(failed.last_check_at, Some(t0()));
    let later = t0() + Duration::hours(1);
    let healthy = store
        .record_account_check(account.id, None, later)
        .await
        .unwrap();
    assert_eq!(healthy.status, AccountStatus::Active);
    assert_eq!(healthy.last_error, None);
    // A paused account stays paused after a good check.
    store
        .set_account_status(account.id, AccountStatus::Paused)
        .await
        .unwrap();
    let paused = store
        .record_account_check(account.id, None, later)
        .await
        .unwrap();
    assert_eq!(paused.status, AccountStatus::Paused);
}

pub async fn an_account_in_use_cannot_be_removed(store: &dyn Store) {
    let used = store
        .create_account(new_account("acc-used", Network::Mastodon, &[]), t0())
        .await
        .unwrap();
    let unused = store
        .create_account(new_account("acc-unused", Network::Mastodon, &[]), t0())
        .await
        .unwrap();
    store
        .create_post("p", "anna", &[draft(&used, "hello")], t0())
        .await
        .unwrap();
    let err = store.delete_account(used.id).await.unwrap_err();
    assert!(err.to_string().contains("pause it"), "{err}");
    store.delete_account(unused.id).await.unwrap();
    assert!(store.account(unused.id).await.unwrap().is_none());
    assert!(matches!(
        store.delete_account(unused.id).await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn a_post_goes_through_every_step_in_order(store: &dyn Store) {
    let account = store
        .create_account(
            new_account("acc-flow", Network::Mastodon, &["marketing", "legal"]),
            t0(),
        )
        .await
        .unwrap();
    let post = store
        .create_post(
            "Launch",
            "anna",
            &[draft(&account, "We launch today")],
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(post.post.state, PostState::Draft);
    assert_eq!(post.steps, ["marketing", "legal"]);
    let id = post.post.id;
    let at = |minutes| t0() + Duration::minutes(minutes);
    // Approving a draft is refused: it was never submitted.
    let early = store
        .transition_post(id, &marketer(), &PostAction::Approve, at(1))
        .await
        .unwrap_err();
    assert!(early.to_string().contains("draft"), "{early}");
    store
        .transition_post(id, &author(), &PostAction::Submit, at(2))
        .await
        .unwrap();
    // The author may not approve, even as an admin in the step's team.
    let admin_author = Actor::new("anna", Role::Admin, vec!["marketing".into()]);
    let own = store
        .transition_post(id, &admin_author, &PostAction::Approve, at(3))
        .await
        .unwrap_err();
    assert!(own.to_string().contains("cannot approve"), "{own}");
    // Legal cannot go before marketing.
    let order = store
        .transition_post(id, &lawyer(), &PostAction::Approve, at(3))
        .await
        .unwrap_err();
    assert!(order.to_string().contains("\"marketing\""), "{order}");
    // A viewer in the team is not enough.
    let viewer = Actor::new("vic", Role::Viewer, vec!["marketing".into()]);
    assert!(store
        .transition_post(id, &viewer, &PostAction::Approve, at(3))
        .await
        .is_err());
    let first = store
        .transition_post(id, &marketer(), &PostAction::Approve, at(4))
        .await
        .unwrap();
    assert_eq!(first.post.state, PostState::InReview);
    assert_eq!(first.next_step(), Some("legal"));
    // Scheduling before the last step is refused.
    let when = at(60 * 24);
    assert!(store
        .transition_post(id, &author(), &PostAction::Schedule { at: when }, at(5))
        .await
        .is_err());
    let second = store
        .transition_post(id, &lawyer(), &PostAction::Approve, at(6))
        .await
        .unwrap();
    assert_eq!(second.post.state, PostState::Approved);
    assert_eq!(
        second
            .approvals
            .iter()
            .map(|a| (a.step.as_str(), a.approver.as_str()))
            .collect::<Vec<_>>(),
        [("marketing", "mark"), ("legal", "lena")]
    );
    let scheduled = store
        .transition_post(id, &author(), &PostAction::Schedule { at: when }, at(7))
        .await
        .unwrap();
    assert_eq!(scheduled.post.state, PostState::Scheduled);
    assert_eq!(scheduled.post.scheduled_at, Some(when));
    let kinds: Vec<(PostEventKind, PostState, PostState, &str)> = scheduled
        .history
        .iter()
        .map(|e| (e.kind, e.from, e.to, e.actor.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            (
                PostEventKind::Created,
                PostState::Draft,
                PostState::Draft,
                "anna"
            ),
            (
                PostEventKind::Submitted,
                PostState::Draft,
                PostState::InReview,
                "anna"
            ),
            (
                PostEventKind::Approved,
                PostState::InReview,
                PostState::InReview,
                "mark"
            ),
            (
                PostEventKind::Approved,
                PostState::InReview,
                PostState::Approved,
                "lena"
            ),
            (
                PostEventKind::Scheduled,
                PostState::Approved,
                PostState::Scheduled,
                "anna"
            ),
        ]
    );
    assert_eq!(scheduled.history[4].at, at(7));
    // Unschedule goes back to approved with the approvals intact.
    let back = store
        .transition_post(id, &author(), &PostAction::Unschedule, at(8))
        .await
        .unwrap();
    assert_eq!(back.post.state, PostState::Approved);
    assert_eq!(back.approvals.len(), 2);
}

pub async fn an_edit_after_approval_sends_the_post_back_to_review(store: &dyn Store) {
    let account = store
        .create_account(new_account("acc-edit", Network::Bluesky, &[]), t0())
        .await
        .unwrap();
    let post = store
        .create_post("Edit me", "anna", &[draft(&account, "first text")], t0())
        .await
        .unwrap();
    let id = post.post.id;
    // Without configured steps one review by anyone else is needed.
    assert_eq!(post.steps, ["review"]);
    store
        .transition_post(id, &author(), &PostAction::Submit, t0())
        .await
        .unwrap();
    let approved = store
        .transition_post(id, &lawyer(), &PostAction::Approve, t0())
        .await
        .unwrap();
    assert_eq!(approved.post.state, PostState::Approved);
    // Saving the same text changes nothing.
    let same = store
        .update_post(
            id,
            "Edit me",
            &[draft(&account, "first text")],
            &author(),
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(same.post.state, PostState::Approved);
    assert_eq!(same.history.len(), approved.history.len());
    let edited = store
        .update_post(
            id,
            "Edit me",
            &[draft(&account, "second text")],
            &author(),
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(edited.post.state, PostState::InReview);
    assert!(edited.approvals.is_empty());
    assert_eq!(edited.post.revision, approved.post.revision + 1);
    assert_eq!(edited.post.variants[0].text, "second text");
    let last = edited.history.last().unwrap();
    assert_eq!(last.kind, PostEventKind::Edited);
    assert_eq!(last.from, PostState::Approved);
    assert!(last.comment.as_deref().unwrap().contains("1 approval"));
    // Someone who is neither the author nor a manager cannot edit.
    let stranger = store
        .update_post(id, "x", &[draft(&account, "hijack")], &lawyer(), t0())
        .await
        .unwrap_err();
    assert!(
        stranger.to_string().contains("author or a manager"),
        "{stranger}"
    );
}

pub async fn a_rejection_needs_a_comment_and_returns_to_draft(store: &dyn Store) {
    let account = store
        .create_account(
            new_account("acc-reject", Network::Mastodon, &["legal"]),
            t0(),
        )
        .await
        .unwrap();
    let id = store
        .create_post(
            "Risky",
            "anna",
            &[draft(&account, "Best prices ever!!!")],
            t0(),
        )
        .await
        .unwrap()
        .post
        .id;
    store
        .transition_post(id, &author(), &PostAction::Submit, t0())
        .await
        .unwrap();
    let silent = store
        .transition_post(
            id,
            &lawyer(),
            &PostAction::Reject {
                comment: "  ".into(),
            },
            t0(),
        )
        .await
        .unwrap_err();
    assert!(silent.to_string().contains("comment"), "{silent}");
    let rejected = store
        .transition_post(
            id,
            &lawyer(),
            &PostAction::Reject {
                comment: "we cannot claim best prices".into(),
            },
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(rejected.post.state, PostState::Draft);
    let event = rejected.history.last().unwrap();
    assert_eq!(event.kind, PostEventKind::Rejected);
    assert_eq!(event.actor, "lena");
    assert_eq!(
        event.comment.as_deref(),
        Some("we cannot claim best prices")
    );
}

async fn scheduled_post(
    store: &dyn Store,
    prefix: &str,
) -> (Vec<Account>, earshot_core::PostDetail) {
    let mastodon = store
        .create_account(
            new_account(&format!("{prefix}-m"), Network::Mastodon, &[]),
            t0(),
        )
        .await
        .unwrap();
    let bluesky = store
        .create_account(
            new_account(&format!("{prefix}-b"), Network::Bluesky, &[]),
            t0(),
        )
        .await
        .unwrap();
    let id = store
        .create_post(
            "Two networks",
            "anna",
            &[
                draft(&mastodon, "Hello fediverse"),
                draft(&bluesky, "Hello sky"),
            ],
            t0(),
        )
        .await
        .unwrap()
        .post
        .id;
    store
        .transition_post(id, &author(), &PostAction::Submit, t0())
        .await
        .unwrap();
    store
        .transition_post(id, &marketer(), &PostAction::Approve, t0())
        .await
        .unwrap();
    let detail = store
        .transition_post(
            id,
            &author(),
            &PostAction::Schedule {
                at: t0() + Duration::hours(2),
            },
            t0(),
        )
        .await
        .unwrap();
    (vec![mastodon, bluesky], detail)
}

pub async fn publication_results_finish_the_post(store: &dyn Store) {
    let (_, detail) = scheduled_post(store, "acc-pub").await;
    let (first, second) = (detail.post.variants[0].id, detail.post.variants[1].id);
    let at = t0() + Duration::hours(2);
    let half = store
        .mark_variant_published(first, "1101", "https://social.example/@x/1101", at)
        .await
        .unwrap();
    assert_eq!(half.post.state, PostState::Scheduled);
    // The same success reported twice (a retried worker) changes nothing.
    let twice = store
        .mark_variant_published(first, "1101", "https://social.example/@x/1101", at)
        .await
        .unwrap();
    assert_eq!(twice.history.len(), half.history.len());
    let conflicting = store
        .mark_variant_published(first, "9999", "https://social.example/@x/9999", at)
        .await
        .unwrap_err();
    assert!(matches!(conflicting, StoreError::Conflict(_)));
    let done = store
        .mark_variant_published(
            second,
            "at://did:plc:x/app.bsky.feed.post/3k",
            "https://bsky.app/profile/x/post/3k",
            at,
        )
        .await
        .unwrap();
    assert_eq!(done.post.state, PostState::Published);
    let variant = &done.post.variants[0];
    assert_eq!(variant.state, VariantState::Published);
    assert_eq!(variant.remote_id.as_deref(), Some("1101"));
    assert_eq!(
        variant.url.as_deref(),
        Some("https://social.example/@x/1101")
    );
    assert_eq!(variant.published_at, Some(at));
    assert_eq!(done.history.last().unwrap().kind, PostEventKind::Published);
    // A published post is final: no edit.
    assert!(store
        .update_post(done.post.id, "x", &[], &author(), at)
        .await
        .is_err());
}

pub async fn a_failed_variant_fails_the_post(store: &dyn Store) {
    let (_, detail) = scheduled_post(store, "acc-fail").await;
    let id = detail.post.id;
    let failed = store
        .mark_variant_failed(
            detail.post.variants[1].id,
            "401 from bsky.social: invalid app password",
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(failed.post.state, PostState::Failed);
    assert_eq!(
        failed.post.variants[1].error.as_deref(),
        Some("401 from bsky.social: invalid app password")
    );
    // The author takes it back to draft to fix it; the failed variant is pending again.
    let draft = store
        .transition_post(id, &author(), &PostAction::Withdraw, t0())
        .await
        .unwrap();
    assert_eq!(draft.post.state, PostState::Draft);
    assert_eq!(draft.post.variants[1].state, VariantState::Pending);
    // Results for a post that is not being published are refused.
    assert!(store
        .mark_variant_published(detail.post.variants[0].id, "1", "https://x", t0())
        .await
        .is_err());
    assert!(matches!(
        store
            .mark_variant_failed(earshot_core::VariantId(987_654), "x", t0())
            .await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn lists_filter_by_account_state_and_time(store: &dyn Store) {
    let (accounts, scheduled) = scheduled_post(store, "acc-list").await;
    let other = store
        .create_post("Other", "boris", &[draft(&accounts[0], "draft text")], t0())
        .await
        .unwrap();
    let by_account = store
        .list_posts(
            &PostFilter {
                account: Some(accounts[1].id),
                ..PostFilter::default()
            },
            50,
        )
        .await
        .unwrap();
    assert_eq!(by_account.len(), 1);
    assert_eq!(by_account[0].id, scheduled.post.id);
    assert_eq!(by_account[0].variants.len(), 2);
    let drafts = store
        .list_posts(
            &PostFilter {
                account: Some(accounts[0].id),
                states: vec![PostState::Draft],
                ..PostFilter::default()
            },
            50,
        )
        .await
        .unwrap();
    assert_eq!(
        drafts.iter().map(|p| p.id).collect::<Vec<_>>(),
        [other.post.id]
    );
    let window = |from: i64, until: i64| PostFilter {
        account: Some(accounts[0].id),
        scheduled_from: Some(t0() + Duration::hours(from)),
        scheduled_until: Some(t0() + Duration::hours(until)),
        ..PostFilter::default()
    };
    assert_eq!(store.list_posts(&window(0, 3), 50).await.unwrap().len(), 1);
    assert!(store
        .list_posts(&window(3, 9), 50)
        .await
        .unwrap()
        .is_empty());
    let recent = store
        .account_posts(accounts[0].id, Some(other.post.id), 10)
        .await
        .unwrap();
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0].text, "Hello fediverse");
}

pub async fn bad_posts_store_nothing(store: &dyn Store) {
    let account = store
        .create_account(new_account("acc-badpost", Network::Mastodon, &[]), t0())
        .await
        .unwrap();
    let before = store
        .list_posts(&PostFilter::default(), 500)
        .await
        .unwrap()
        .len();
    let unknown = store
        .create_post(
            "x",
            "anna",
            &[
                draft(&account, "fine"),
                VariantDraft {
                    account: earshot_core::AccountId(424_242),
                    text: "nowhere".into(),
                    media: vec![],
                },
            ],
            t0(),
        )
        .await
        .unwrap_err();
    assert!(unknown.to_string().contains("variant 2"), "{unknown}");
    let twice = store
        .create_post(
            "x",
            "anna",
            &[draft(&account, "a"), draft(&account, "b")],
            t0(),
        )
        .await
        .unwrap_err();
    assert!(twice.to_string().contains("two variants"), "{twice}");
    let after = store
        .list_posts(&PostFilter::default(), 500)
        .await
        .unwrap()
        .len();
    assert_eq!(before, after);
    // A post without variants cannot be submitted.
    let empty = store.create_post("empty", "anna", &[], t0()).await.unwrap();
    let err = store
        .transition_post(empty.post.id, &author(), &PostAction::Submit, t0())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no variants"), "{err}");
}
