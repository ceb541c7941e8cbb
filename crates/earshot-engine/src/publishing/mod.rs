//! Publishing before the worker: the pre-publish checks ([`checks`]) and the guarded steps of
//! the workflow (approve and schedule run the checks again and refuse while one blocks). The
//! web pages, the JSON API and the CLI all go through these functions.

mod bridge;
pub mod checks;
mod worker;

use chrono::{DateTime, Utc};
use earshot_analysis::Analyzer;
use earshot_core::links::{TrackingSettings, SHORT_CODE_LEN};
use earshot_core::{
    Account, AccountId, AccountStatus, Actor, Config, ConversationFilter, PostAction, PostDetail,
    PostId, PostState,
};
use earshot_store::{Store, StoreError, MAX_CONVERSATION_PAGE};
use earshot_text::BrandMatcher;

pub use bridge::{post_link_tracking, reconcile_scheduled_posts, PostOutcomes, Reconciled};
pub use checks::{CheckName, CheckResult, Verdict};
pub use worker::*;

#[derive(Debug, thiserror::Error)]
pub enum PublishingError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot {action}: {}", .blocking.iter().map(|r| format!("{} check: {}", r.check.as_str(), r.explanation)).collect::<Vec<_>>().join("; "))]
    Blocked {
        action: &'static str,
        blocking: Vec<CheckResult>,
    },
    #[error("{0}")]
    Refused(String),
}

/// A variant to check: saved or still in the editor.
#[derive(Debug, Clone)]
pub struct DraftVariant {
    pub account: AccountId,
    pub text: String,
    pub media_count: usize,
}

/// Names of the configured sources that read the account's network: conversations from
/// them are "the account's inbox" for the automation check.
pub fn account_inbox_sources(config: &Config, account: &Account) -> Vec<String> {
    let kind = account.network.source_kind();
    config
        .sources
        .iter()
        .filter(|s| s.kind == kind)
        .map(|s| s.name.clone())
        .collect()
}

async fn overdue_in_inbox(
    store: &dyn Store,
    config: &Config,
    account: &Account,
) -> Result<usize, StoreError> {
    let mut count = 0;
    for source in account_inbox_sources(config, account) {
        let filter = ConversationFilter {
            overdue: true,
            source: Some(source),
            ..ConversationFilter::open()
        };
        count += store
            .list_conversations(&filter, None, MAX_CONVERSATION_PAGE)
            .await?
            .conversations
            .len();
    }
    Ok(count)
}

/// The text with its links replaced by short links as the network will get it (the codes are
/// stand-ins of the real length: the network's length rule sees the right count).
fn as_published(
    text: &str,
    base_url: &str,
    account: &Account,
    post: i64,
) -> Result<String, String> {
    let settings = TrackingSettings::for_post(
        base_url,
        account.network.as_str(),
        &account.name,
        None,
        post,
    );
    let stand_in = "x".repeat(SHORT_CODE_LEN);
    earshot_text::track_links(text, &settings, &mut || stand_in.clone())
        .map(|(tracked, _)| tracked)
        .map_err(|e| e.to_string())
}

/// Run every check over `variants` (of post `post`, when saved), gathering the facts from the
/// store: the accounts, their recent posts and posting rate, and their inboxes.
pub async fn check_variants(
    store: &dyn Store,
    config: &Config,
    analyzer: &Analyzer,
    post: Option<PostId>,
    variants: &[DraftVariant],
    scheduled_at: Option<DateTime<Utc>>,
) -> Result<Vec<CheckResult>, PublishingError> {
    let ours: Vec<earshot_core::BrandConfig> = config
        .brands
        .iter()
        .filter(|b| !b.competitor)
        .cloned()
        .collect();
    // The configuration was checked when it was loaded; a brand query that no longer parses
    // only weakens the self-promotion check.
    let our_brands = BrandMatcher::new(&ours)
        .unwrap_or_else(|_| BrandMatcher::new(&[]).expect("an empty brand list always compiles"));
    let mut accounts = Vec::with_capacity(variants.len());
    for variant in variants {
        let account = store
            .account(variant.account)
            .await?
            .ok_or_else(|| PublishingError::Refused(format!("no account {}", variant.account)))?;
        accounts.push(account);
    }
    let window = config.publishing.checks.recent_posts.max(1) as usize;
    let short_links = post_link_tracking(config);
    let mut facts = Vec::with_capacity(variants.len());
    for (variant, account) in variants.iter().zip(&accounts) {
        let others = store.account_posts(account.id, post, 200).await?;
        let recent_texts = others
            .iter()
            .take(window.saturating_sub(1))
            .map(|p| p.text.clone())
            .collect();
        let posts_same_day = match scheduled_at {
            Some(at) => others
                .iter()
                .filter(|p| matches!(p.state, PostState::Scheduled | PostState::Published))
                .filter(|p| p.scheduled_at.map(|s| s.date_naive()) == Some(at.date_naive()))
                .count(),
            None => 0,
        };
        let offensive = analyzer.analyze(&variant.text, None).offensive;
        let published_text = short_links.as_deref().map(|base_url| {
            as_published(
                &variant.text,
                base_url,
                account,
                post.map(|p| p.0).unwrap_or(0),
            )
        });
        facts.push(checks::VariantFacts {
            published_text,
            account,
            text: &variant.text,
            media_count: variant.media_count,
            offensive,
            recent_texts,
            posts_same_day,
            overdue_conversations: overdue_in_inbox(store, config, account).await?,
        });
    }
    Ok(checks::run_all(&checks::CheckInput {
        variants: facts,
        config: &config.publishing,
        our_brands: &our_brands,
        scheduled_at,
    }))
}

/// The checks of a saved post (at its scheduled time, or `at` when given).
pub async fn check_post(
    store: &dyn Store,
    config: &Config,
    analyzer: &Analyzer,
    post: &PostDetail,
    at: Option<DateTime<Utc>>,
) -> Result<Vec<CheckResult>, PublishingError> {
    let variants: Vec<DraftVariant> = post
        .post
        .variants
        .iter()
        .map(|v| DraftVariant {
            account: v.account,
            text: v.text.clone(),
            media_count: v.media.len(),
        })
        .collect();
    check_variants(
        store,
        config,
        analyzer,
        Some(post.post.id),
        &variants,
        at.or(post.post.scheduled_at),
    )
    .await
}

async fn existing(store: &dyn Store, id: PostId) -> Result<PostDetail, PublishingError> {
    store
        .post(id)
        .await?
        .ok_or_else(|| PublishingError::Store(StoreError::NotFound(format!("no post {id}"))))
}

/// Approve the post's next step, unless a check blocks.
pub async fn approve(
    store: &dyn Store,
    config: &Config,
    analyzer: &Analyzer,
    actor: &Actor,
    id: PostId,
    now: DateTime<Utc>,
) -> Result<PostDetail, PublishingError> {
    let post = existing(store, id).await?;
    let results = check_post(store, config, analyzer, &post, None).await?;
    let blocking: Vec<CheckResult> = checks::blocking(&results).into_iter().cloned().collect();
    if !blocking.is_empty() {
        return Err(PublishingError::Blocked {
            action: "approve",
            blocking,
        });
    }
    Ok(store
        .transition_post(id, actor, &PostAction::Approve, now)
        .await?)
}

/// Schedule an approved post for `at`: the time must be ahead, every account active, and the
/// checks (run again for that day) must not block.
pub async fn schedule(
    store: &dyn Store,
    config: &Config,
    analyzer: &Analyzer,
    actor: &Actor,
    id: PostId,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<PostDetail, PublishingError> {
    if at <= now {
        return Err(PublishingError::Refused(format!(
            "the time {} has passed; pick a time ahead",
            at.format("%Y-%m-%d %H:%M UTC")
        )));
    }
    let post = existing(store, id).await?;
    for variant in &post.post.variants {
        if let Some(account) = store.account(variant.account).await? {
            if account.status != AccountStatus::Active {
                return Err(PublishingError::Refused(format!(
                    "account {} is {}; resume or reconnect it first",
                    account.name,
                    account.status.as_str()
                )));
            }
        }
    }
    let results = check_post(store, config, analyzer, &post, Some(at)).await?;
    let blocking: Vec<CheckResult> = checks::blocking(&results).into_iter().cloned().collect();
    if !blocking.is_empty() {
        return Err(PublishingError::Blocked {
            action: "schedule",
            blocking,
        });
    }
    Ok(store
        .transition_post(id, actor, &PostAction::Schedule { at }, now)
        .await?)
}
