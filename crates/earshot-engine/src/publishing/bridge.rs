//! The seam between the posts workflow and the publishing worker: each variant of a scheduled
//! post becomes one publication, and the worker's outcomes settle the variants (and so the
//! post). Both directions are idempotent and are re-run on every worker pass, so a crash
//! between scheduling a post and queueing its publications heals on the next pass.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use earshot_core::links::TrackingSettings;
use earshot_core::{
    publication_key, Account, CampaignId, Config, NewPublication, PostState, Publication,
    PublicationFilter, PublicationState, VariantId, VariantState,
};
use earshot_store::links::plan_tracking;
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
///
/// With `short_links` (the base URL of this Earshot's short links, see
/// [`post_link_tracking`]), every link of a newly queued text becomes a short link with UTM
/// parameters (`utm_source` the network, `utm_medium` social, `utm_campaign` the campaign the
/// post serves, `utm_content` the account), stored with the publication in one transaction:
/// the network gets the tracked text, and its clicks count for the post and its campaign.
pub async fn reconcile_scheduled_posts(
    store: &dyn Store,
    now: DateTime<Utc>,
    short_links: Option<&str>,
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
    let mut wanted = HashSet::new();
    // Read every account once per pass, not once per variant: this runs every second.
    let mut accounts: HashMap<i64, Option<Account>> = HashMap::new();
    let mut campaigns: Option<HashMap<i64, (CampaignId, String)>> = None;
    for post in &scheduled {
        let Some(at) = post.scheduled_at else {
            continue;
        };
        for variant in &post.variants {
            if variant.state != VariantState::Pending {
                continue;
            }
            let key = publication_key(post.id.0, variant.id.0, i64::from(post.revision));
            wanted.insert(key.clone());
            if let Some(queued) = store.publication_by_key(&key).await? {
                if queued.scheduled_at != at && queued.state == PublicationState::Scheduled {
                    store.reschedule_publication(queued.id, at, now).await?;
                }
                continue;
            }
            if let Entry::Vacant(slot) = accounts.entry(variant.account.0) {
                slot.insert(store.account(variant.account).await?);
            }
            let account = accounts[&variant.account.0].as_ref();
            let mut new = NewPublication {
                account_id: variant.account.0,
                post_id: post.id.0,
                variant_id: variant.id.0,
                revision: i64::from(post.revision),
                text: variant.text.clone(),
                language: account.and_then(|a| a.languages.first().cloned()),
                reply_to: None,
                scheduled_at: at,
            };
            let created = match (short_links, account) {
                (Some(base_url), Some(account)) => {
                    if campaigns.is_none() {
                        campaigns = Some(campaigns_by_post(store).await?);
                    }
                    let campaign = campaigns
                        .as_ref()
                        .and_then(|c| c.get(&post.id.0))
                        .map(|(id, utm)| (*id, utm.as_str()));
                    let settings = TrackingSettings::for_post(
                        base_url,
                        account.network.as_str(),
                        &account.name,
                        campaign,
                        post.id.0,
                    );
                    enqueue_tracked(store, &mut new, &settings, now).await?
                }
                _ => store.enqueue_publication(&new, now).await?.1,
            };
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

/// The base URL of short links when the links of posts are tracked (`[links] track_posts`,
/// on by default), for [`reconcile_scheduled_posts`] and the tracking check.
pub fn post_link_tracking(config: &Config) -> Option<String> {
    config
        .links
        .tracks_posts()
        .then(|| config.links.base_url_or(&config.server.addr))
}

/// The campaign each post serves (the first one listed, should a post serve several).
async fn campaigns_by_post(store: &dyn Store) -> StoreResult<HashMap<i64, (CampaignId, String)>> {
    let mut by_post = HashMap::new();
    for campaign in store.campaigns().await? {
        for post in &campaign.post_ids {
            by_post
                .entry(*post)
                .or_insert_with(|| (campaign.id, campaign.utm_campaign.clone()));
        }
    }
    Ok(by_post)
}

/// Queue `new` with its links replaced by short links, stored together. A short code taken
/// by another writer in between is planned again (at most three times); a link that cannot
/// be tracked leaves the text as written.
async fn enqueue_tracked(
    store: &dyn Store,
    new: &mut NewPublication,
    settings: &TrackingSettings,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let original = std::mem::take(&mut new.text);
    let mut last_error = String::new();
    for _ in 0..3 {
        let (text, links) = match plan_tracking(store, &original, settings).await {
            Ok(planned) => planned,
            // The tracking check named this link before approval; an approved post still
            // goes out, as written, rather than stall the queue every second.
            Err(StoreError::InvalidInput(reason)) => {
                tracing::warn!(
                    "post {} variant {}: links published untracked: {reason}",
                    new.post_id,
                    new.variant_id
                );
                new.text = original;
                return Ok(store.enqueue_publication(new, now).await?.1);
            }
            Err(other) => return Err(other),
        };
        new.text = text;
        match store.enqueue_publication_with_links(new, &links, now).await {
            Ok((_, created)) => return Ok(created),
            Err(StoreError::Conflict(message)) => last_error = message,
            Err(other) => return Err(other),
        }
    }
    Err(StoreError::Conflict(last_error))
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
