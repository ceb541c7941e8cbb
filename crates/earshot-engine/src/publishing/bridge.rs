//! The seam between the posts workflow and the publishing worker: each variant of a scheduled
//! post becomes one publication, and the worker's outcomes settle the variants (and so the
//! post). Both directions are idempotent and are re-run on every worker pass, so a crash
//! between scheduling a post and queueing its publications heals on the next pass.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use earshot_core::{
    NewPublication, PostState, Publication, PublicationFilter, PublicationState, VariantId,
    VariantState,
};
use earshot_store::{PostFilter, Store, StoreError, StoreResult};

use super::worker::PublicationOutcomes;

/// How many scheduled posts and queued publications one reconciliation looks at.
const RECONCILE_PAGE: usize = 500;

/// What [`reconcile_scheduled_posts`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reconciled {
    /// Publications queued for variants of scheduled posts.
    pub queued: usize,
    /// Queued publications withdrawn because their post is no longer scheduled as they are
    /// (unscheduled, edited to a new revision, or moved to another time).
    pub withdrawn: usize,
}

/// Queue a publication for every pending variant of every scheduled post (a no-op for those
/// already queued: the key is post, variant and revision), and withdraw queued publications
/// whose post was unscheduled, edited or moved since. Publications already claimed by a worker
/// are left to finish: the network call may be under way.
pub async fn reconcile_scheduled_posts(
    store: &dyn Store,
    now: DateTime<Utc>,
) -> StoreResult<Reconciled> {
    let mut report = Reconciled::default();
    let scheduled = store
        .list_posts(
            &PostFilter {
                states: vec![PostState::Scheduled],
                ..PostFilter::default()
            },
            RECONCILE_PAGE,
        )
        .await?;
    let mut wanted = std::collections::HashSet::new();
    // Read every account once per pass, not once per variant: this runs every second.
    let mut languages: std::collections::HashMap<i64, Option<String>> =
        std::collections::HashMap::new();
    for post in &scheduled {
        let Some(at) = post.scheduled_at else {
            continue;
        };
        for variant in &post.variants {
            if variant.state != VariantState::Pending {
                continue;
            }
            let language = match languages.get(&variant.account.0) {
                Some(language) => language.clone(),
                None => {
                    let language = store
                        .account(variant.account)
                        .await?
                        .and_then(|account| account.languages.first().cloned());
                    languages.insert(variant.account.0, language.clone());
                    language
                }
            };
            let new = NewPublication {
                account_id: variant.account.0,
                post_id: post.id.0,
                variant_id: variant.id.0,
                revision: i64::from(post.revision),
                text: variant.text.clone(),
                language,
                reply_to: None,
                scheduled_at: at,
            };
            wanted.insert(new.idempotency_key());
            let (queued, created) = store.enqueue_publication(&new, now).await?;
            if !created && queued.scheduled_at != at && queued.state == PublicationState::Scheduled
            {
                store.reschedule_publication(queued.id, at, now).await?;
            }
            report.queued += usize::from(created);
        }
    }
    if scheduled.len() >= RECONCILE_PAGE {
        // Not every scheduled post was seen: withdrawing now could cancel one that was not.
        return Ok(report);
    }
    let waiting = store
        .list_publications(
            &PublicationFilter {
                states: vec![PublicationState::Scheduled],
                ..PublicationFilter::default()
            },
            RECONCILE_PAGE,
        )
        .await?;
    for publication in waiting {
        if wanted.contains(&publication.idempotency_key) {
            continue;
        }
        match store.cancel_publication(publication.id, now).await {
            Ok(_) => report.withdrawn += 1,
            // Claimed meanwhile: the worker finishes it and the outcome settles the variant.
            Err(StoreError::Conflict(_)) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(report)
}

/// Settles a post's variant when the worker is done with its publication: published with the
/// network's id and link, or failed with the network's message.
pub struct PostOutcomes {
    store: Arc<dyn Store>,
}

impl PostOutcomes {
    pub fn new(store: Arc<dyn Store>) -> PostOutcomes {
        PostOutcomes { store }
    }
}

#[async_trait]
impl PublicationOutcomes for PostOutcomes {
    async fn publication_settled(&self, publication: &Publication) -> Result<(), String> {
        let variant = VariantId(publication.variant_id);
        let result = match publication.state {
            PublicationState::Published => {
                let remote_id = publication.remote_id.as_deref().unwrap_or_default();
                let url = publication.url.as_deref().unwrap_or_default();
                let at = publication.published_at.unwrap_or(publication.updated_at);
                self.store
                    .mark_variant_published(variant, remote_id, url, at)
                    .await
            }
            PublicationState::Failed => {
                let error = publication
                    .last_error
                    .as_deref()
                    .unwrap_or("the network refused the post");
                self.store
                    .mark_variant_failed(variant, error, publication.updated_at)
                    .await
            }
            PublicationState::Scheduled
            | PublicationState::Publishing
            | PublicationState::Cancelled => return Ok(()),
        };
        result.map(|_| ()).map_err(|e| e.to_string())
    }
}
