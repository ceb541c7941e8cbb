//! The publishing worker: puts each scheduled publication on its network at its time, exactly
//! once, and tells the posts side how it went.
//!
//! A pass reports outcomes still owed to the posts side, claims due publications (a lease in
//! the store: two workers never hold one row; a dead worker's row is taken over when its lease
//! ends), and for each one: notes in the store that a network call begins, publishes through
//! the account's [`Publisher`] with the row's idempotency key and a fixed `created_at` (so the
//! Mastodon `Idempotency-Key` and the Bluesky record key are the same on every attempt), then
//! records the outcome — published, retried later (exponential backoff with jitter, at least
//! the network's `Retry-After`), or failed with the network's message. Retries and failures
//! queue an outbox webhook in the same transaction as the mark, so people see them.
//!
//! Crash points and why none loses or doubles a post (docs/PUBLISHING-WORKER.md):
//! 1. after the claim, before the call: the lease ends, another worker publishes;
//! 2. after the network accepted, before `mark_publication_published`: the next worker sends
//!    again with the same key and the network answers with the post it already has;
//! 3. after the mark, before the callback: `reported_at` is still empty, so the next pass
//!    reports it (the callback is at least once; the posts side applies it idempotently);
//! 4. during a backoff: the row waits in the store with its next attempt time.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use earshot_core::{
    ConversationId, NewOutboxMessage, OutboxConfig, OutboxId, Publication, PublicationClaim,
    PublicationId, WebhookPayload,
};
use earshot_sources::{PublishError, PublishRequest, Published, Publisher};
use earshot_store::{Store, StoreError, StoreResult};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::outbox::{Clock, RetryPolicy, SystemClock};

/// Finds the publisher of an account (the posts side's accounts registry, which holds the
/// decrypted credentials). An error says why the account cannot post; its publications fail
/// with it.
pub trait PublisherDirectory: Send + Sync {
    fn publisher(&self, account_id: i64) -> Result<Arc<dyn Publisher>, String>;
}

impl<F> PublisherDirectory for F
where
    F: Fn(i64) -> Result<Arc<dyn Publisher>, String> + Send + Sync,
{
    fn publisher(&self, account_id: i64) -> Result<Arc<dyn Publisher>, String> {
        self(account_id)
    }
}

/// A fixed set of accounts, for tools and tests.
#[derive(Default, Clone)]
pub struct PublisherMap(HashMap<i64, Arc<dyn Publisher>>);

impl PublisherMap {
    pub fn new() -> PublisherMap {
        PublisherMap::default()
    }

    pub fn with(mut self, account_id: i64, publisher: Arc<dyn Publisher>) -> PublisherMap {
        self.0.insert(account_id, publisher);
        self
    }
}

impl PublisherDirectory for PublisherMap {
    fn publisher(&self, account_id: i64) -> Result<Arc<dyn Publisher>, String> {
        self.0.get(&account_id).cloned().ok_or_else(|| {
            format!("account {account_id} is not connected: connect it (or fix its credentials) and publish again")
        })
    }
}

/// Where the worker tells the posts side that a publication was published or failed. Called
/// at least once per outcome (again after a crash between recording and reporting), so it
/// must be idempotent; an error leaves the outcome to be reported on the next pass.
#[async_trait]
pub trait PublicationOutcomes: Send + Sync {
    async fn publication_settled(&self, publication: &Publication) -> Result<(), String>;
}

/// Nobody to tell (the posts side is not connected): outcomes are only recorded.
pub struct NoOutcomeListener;

#[async_trait]
impl PublicationOutcomes for NoOutcomeListener {
    async fn publication_settled(&self, _publication: &Publication) -> Result<(), String> {
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PublicationWorkerError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one attempt at one claimed publication came to, before it is recorded.
#[derive(Debug, Clone, PartialEq)]
pub enum Attempt {
    Published(Published),
    /// Try again later; `after` when the network said how long to wait.
    Retry {
        error: String,
        after: Option<Duration>,
    },
    /// Trying again will not help.
    Failed(String),
    /// Another worker took the row over (this one's lease ended): nothing was sent, and
    /// nothing is to be recorded.
    LostClaim,
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PublishingReport {
    pub claimed: usize,
    pub published: usize,
    /// Of the published, how many later than `late_after` past their time.
    pub late: usize,
    pub retried: usize,
    pub failed: usize,
    /// Outcomes handed to the posts side.
    pub reported: usize,
}

impl PublishingReport {
    fn add(&mut self, other: PublishingReport) {
        self.claimed += other.claimed;
        self.published += other.published;
        self.late += other.late;
        self.retried += other.retried;
        self.failed += other.failed;
        self.reported += other.reported;
    }
}

pub struct PublicationWorker {
    store: Arc<dyn Store>,
    directory: Arc<dyn PublisherDirectory>,
    outcomes: Arc<dyn PublicationOutcomes>,
    policy: RetryPolicy,
    lease: Duration,
    batch: usize,
    concurrency: usize,
    late_after: Duration,
    clock: Arc<dyn Clock>,
}

/// Outcomes reported per store read.
const REPORT_BATCH: usize = 100;

impl PublicationWorker {
    /// A worker with the outbox's retry settings (`[outbox]`: attempts, backoff, lease).
    pub fn new(
        store: Arc<dyn Store>,
        directory: Arc<dyn PublisherDirectory>,
        config: &OutboxConfig,
    ) -> PublicationWorker {
        PublicationWorker {
            store,
            directory,
            outcomes: Arc::new(NoOutcomeListener),
            policy: RetryPolicy::from_config(config),
            lease: Duration::from_secs(config.lease_secs.max(1)),
            batch: 20,
            concurrency: 1,
            late_after: Duration::from_secs(60),
            clock: Arc::new(SystemClock),
        }
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> PublicationWorker {
        self.clock = clock;
        self
    }

    pub fn with_outcomes(mut self, outcomes: Arc<dyn PublicationOutcomes>) -> PublicationWorker {
        self.outcomes = outcomes;
        self
    }

    /// Publications claimed per pass.
    pub fn with_batch(mut self, batch: usize) -> PublicationWorker {
        self.batch = batch.max(1);
        self
    }

    /// Publications sent at once within a pass (different accounts' calls overlap).
    pub fn with_concurrency(mut self, concurrency: usize) -> PublicationWorker {
        self.concurrency = concurrency.max(1);
        self
    }

    /// A post published more than this after its time is flagged late.
    pub fn with_late_after(mut self, late_after: Duration) -> PublicationWorker {
        self.late_after = late_after;
        self
    }

    pub fn policy(&self) -> RetryPolicy {
        self.policy
    }

    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// Report owed outcomes, publish what is due, and report what this pass settled.
    pub async fn run_once(&self) -> Result<PublishingReport, PublicationWorkerError> {
        let mut report = PublishingReport {
            reported: self.report_outcomes().await?,
            ..PublishingReport::default()
        };
        let claims = self.claim().await?;
        report.claimed = claims.len();
        let results: Vec<Result<PublishingReport, PublicationWorkerError>> =
            futures::stream::iter(claims)
                .map(|claim| async move {
                    let attempt = self.attempt(&claim).await?;
                    self.record(&claim, attempt).await
                })
                .buffer_unordered(self.concurrency)
                .collect()
                .await;
        for result in results {
            report.add(result?);
        }
        report.reported += self.report_outcomes().await?;
        Ok(report)
    }

    /// Pass after pass until `shutdown`, resting `idle` when nothing was due.
    pub async fn run(&self, shutdown: CancellationToken, idle: Duration) {
        loop {
            let worked = match self.run_once().await {
                Ok(report) => report.claimed > 0,
                Err(e) => {
                    tracing::error!("publishing pass failed: {e}");
                    false
                }
            };
            if shutdown.is_cancelled() {
                return;
            }
            if !worked {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(idle) => {}
                }
            }
        }
    }

    /// Claim what is due now (step 1 of a pass).
    pub async fn claim(&self) -> StoreResult<Vec<PublicationClaim>> {
        self.store
            .claim_due_publications(self.clock.now(), self.batch, self.lease)
            .await
    }

    /// One attempt at a claimed publication: note in the store that a network call begins,
    /// then make it. Records no outcome (that is [`PublicationWorker::record`]).
    pub async fn attempt(
        &self,
        claim: &PublicationClaim,
    ) -> Result<Attempt, PublicationWorkerError> {
        let publication = &claim.publication;
        if publication.attempts > self.policy.max_attempts {
            // Claimed again after its worker died on the last allowed attempt.
            return Ok(Attempt::Failed(format!(
                "gave up after {} attempts; last error: {}",
                self.policy.max_attempts,
                publication.last_error.as_deref().unwrap_or("none recorded")
            )));
        }
        let publisher = match self.directory.publisher(publication.account_id) {
            Ok(publisher) => publisher,
            Err(reason) => return Ok(Attempt::Failed(reason)),
        };
        let now = self.clock.now();
        if let (Some(started), Some(window)) = (
            publication.attempt_started_at,
            publisher.idempotency_window(),
        ) {
            let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
            if now - started > window {
                return Ok(Attempt::Failed(format!(
                    "the outcome of the attempt at {} is unknown (the worker stopped during it) and {} no longer recognises its idempotency key, so sending again could post twice; look at the account: if the post is missing, publish it again",
                    started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    publisher.account()
                )));
            }
        }
        if !self
            .store
            .record_publication_attempt(publication.id, claim.claim, now)
            .await?
        {
            return Ok(Attempt::LostClaim);
        }
        let request = PublishRequest {
            text: publication.text.clone(),
            reply_to: publication.reply_to.clone(),
            language: publication.language.clone(),
            idempotency_key: publication.idempotency_key.clone(),
            created_at: publication.created_at_for_network(),
        };
        Ok(match publisher.publish(&request).await {
            Ok(published) => Attempt::Published(published),
            Err(error @ PublishError::Retryable { .. }) => Attempt::Retry {
                after: error.retry_after(),
                error: error.to_string(),
            },
            Err(error) => Attempt::Failed(error.to_string()),
        })
    }

    /// Record an attempt's outcome (with its notice, for a retry or a failure).
    pub async fn record(
        &self,
        claim: &PublicationClaim,
        attempt: Attempt,
    ) -> Result<PublishingReport, PublicationWorkerError> {
        let publication = &claim.publication;
        let now = self.clock.now();
        let mut report = PublishingReport::default();
        match attempt {
            Attempt::LostClaim => {}
            Attempt::Published(published) => {
                let late_by = now - publication.scheduled_at;
                let late = late_by
                    > chrono::Duration::from_std(self.late_after).unwrap_or(chrono::Duration::MAX);
                if late {
                    tracing::info!(
                        id = %publication.id,
                        late_by_s = late_by.num_seconds(),
                        "published after its time"
                    );
                }
                if self
                    .store
                    .mark_publication_published(
                        publication.id,
                        &published.remote_id,
                        published.url.as_deref(),
                        late,
                        now,
                    )
                    .await?
                {
                    report.published += 1;
                    report.late += usize::from(late);
                }
            }
            Attempt::Retry { error, .. } if publication.attempts >= self.policy.max_attempts => {
                let error = format!(
                    "gave up after {} attempts; last error: {error}",
                    publication.attempts
                );
                report.failed += usize::from(self.fail(claim, &error, now).await?);
            }
            Attempt::Retry { error, after } => {
                let wait = after.unwrap_or_default().max(
                    self.policy
                        .backoff(OutboxId(publication.id.0), publication.attempts),
                );
                let next = now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
                tracing::info!(id = %publication.id, retry_in_s = wait.as_secs(), "{error}");
                let notice = notice(publication, "retrying", &error, Some(next));
                if self
                    .store
                    .mark_publication_retry(
                        publication.id,
                        claim.claim,
                        &error,
                        next,
                        Some(&notice),
                        now,
                    )
                    .await?
                {
                    report.retried += 1;
                }
            }
            Attempt::Failed(error) => {
                report.failed += usize::from(self.fail(claim, &error, now).await?);
            }
        }
        Ok(report)
    }

    async fn fail(
        &self,
        claim: &PublicationClaim,
        error: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let publication = &claim.publication;
        tracing::warn!(id = %publication.id, "publication failed: {error}");
        let notice = notice(publication, "failed", error, None);
        self.store
            .mark_publication_failed(publication.id, claim.claim, error, Some(&notice), now)
            .await
    }

    /// Tell the posts side every outcome it has not heard yet; returns how many it took.
    pub async fn report_outcomes(&self) -> StoreResult<usize> {
        let mut reported = 0;
        loop {
            let owed = self.store.unreported_publications(REPORT_BATCH).await?;
            let mut refused = 0;
            for publication in &owed {
                match self.outcomes.publication_settled(publication).await {
                    Ok(()) => {
                        if self
                            .store
                            .mark_publication_reported(publication.id, self.clock.now())
                            .await?
                        {
                            reported += 1;
                        }
                    }
                    Err(error) => {
                        refused += 1;
                        tracing::warn!(id = %publication.id, "the posts side did not take the outcome (tried again next pass): {error}");
                    }
                }
            }
            // A full page the listener refused entirely would come back unchanged.
            if owed.len() < REPORT_BATCH || refused == owed.len() {
                return Ok(reported);
            }
        }
    }
}

/// The webhook that tells people a publication is retrying or failed. One per publication
/// and state (the dedup key), so a retry storm sends one "retrying" notice.
fn notice(
    publication: &Publication,
    state: &str,
    error: &str,
    next_attempt_at: Option<DateTime<Utc>>,
) -> NewOutboxMessage {
    NewOutboxMessage::webhook(
        format!("publication:{}:{state}", publication.id),
        &WebhookPayload {
            event: format!("publication.{state}"),
            data: serde_json::json!({
                "publication": publication.id,
                "post": publication.post_id,
                "variant": publication.variant_id,
                "account": publication.account_id,
                "scheduled_at": publication.scheduled_at,
                "attempts": publication.attempts,
                "error": error,
                "next_attempt_at": next_attempt_at,
            }),
        },
    )
}

/// When a conversation's root mention replies to one of our published posts (its
/// `in_reply_to` is the post's network id or link), record that the conversation belongs to
/// that post. Returns the publication linked, if any. Called by the inbox hook after it opens
/// a conversation.
pub async fn link_reply_to_publication(
    store: &dyn Store,
    conversation: ConversationId,
    in_reply_to: Option<&str>,
    now: DateTime<Utc>,
) -> StoreResult<Option<PublicationId>> {
    let Some(reference) = in_reply_to.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let mut found = store.publication_for_remote(reference).await?;
    if found.is_none() {
        if let Some(canonical) =
            earshot_text::canonical_url(reference).filter(|c| c.as_str() != reference)
        {
            found = store.publication_for_remote(&canonical).await?;
        }
    }
    let Some(publication) = found else {
        return Ok(None);
    };
    store
        .link_conversation_to_publication(conversation, publication.id, now)
        .await?;
    Ok(Some(publication.id))
}
