//! normalize → match brand queries → language → analysis → near-duplicate → store.

use std::sync::{Arc, Mutex};

use earshot_analysis::{Analyzer, Scratch};
use earshot_core::{BrandConfig, IncomingMention, NewMention};
use earshot_store::{SourceProgress, Store, StoreError};
use earshot_text::analysis::AnalyzedText;
use earshot_text::brands::{BrandMatcher, BrandQueryError};
use earshot_text::fingerprint::{simhash, NearDupIndex};
use earshot_text::{lang, normalize};
use rayon::prelude::*;

use crate::inbox::{InboxRouter, RouteItem};

/// Near-identical texts within this many differing SimHash bits are one story.
pub const NEAR_DUPLICATE_DISTANCE: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    BrandQuery(#[from] BrandQueryError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one call to [`Pipeline::ingest`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestReport {
    /// Items handed in.
    pub seen: u64,
    /// Items that matched no brand query and were dropped.
    pub unmatched: u64,
    /// New mentions stored.
    pub inserted: u64,
    /// Mentions that existed already and were updated in place.
    pub updated: u64,
    /// New mentions linked to an earlier one as a copy or repost.
    pub near_duplicates: u64,
}

impl IngestReport {
    pub fn add(&mut self, other: &IngestReport) {
        self.seen += other.seen;
        self.unmatched += other.unmatched;
        self.inserted += other.inserted;
        self.updated += other.updated;
        self.near_duplicates += other.near_duplicates;
    }
}

pub struct Pipeline {
    store: Arc<dyn Store>,
    matcher: BrandMatcher,
    near_duplicates: Mutex<NearDupIndex>,
    /// Sentiment, offensive language, spam and intents of each mention; `None`: not analysed.
    analyzer: Option<Arc<Analyzer>>,
    /// Threads and routes new originals into inbox conversations after each write.
    inbox: Option<Arc<InboxRouter>>,
}

/// A normalized, matched item that has not been checked against the near-duplicate index yet.
pub struct Prepared {
    pub mentions: Vec<NewMention>,
    pub seen: u64,
}

/// Batches at least this large split their near-duplicate lookups over two threads.
const SPLIT_LOOKUPS_FROM: usize = 4_096;

/// The stored original (in `index`) of each mention, if any.
fn find_stored_originals(
    index: &NearDupIndex,
    mentions: &[NewMention],
) -> Vec<Option<earshot_core::MentionId>> {
    let find_all = |part: &[NewMention]| -> Vec<Option<earshot_core::MentionId>> {
        part.iter().map(|m| index.find(m.fingerprint)).collect()
    };
    if mentions.len() < SPLIT_LOOKUPS_FROM {
        return find_all(mentions);
    }
    let (first, second) = mentions.split_at(mentions.len() / 2);
    std::thread::scope(|scope| {
        let helper = scope.spawn(|| find_all(second));
        let mut found = find_all(first);
        found.extend(
            helper
                .join()
                .expect("near-duplicate lookup thread panicked"),
        );
        found
    })
}

impl Pipeline {
    /// Build the pipeline for the workspace's brands, loading the fingerprints of stored
    /// originals so copies of mentions stored in earlier runs are recognised too.
    pub async fn new(store: Arc<dyn Store>, brands: &[BrandConfig]) -> Result<Self, PipelineError> {
        let matcher = BrandMatcher::new(brands)?;
        let mut index = NearDupIndex::new(NEAR_DUPLICATE_DISTANCE);
        for stored in store.fingerprints().await? {
            index.insert(stored.id, stored.fingerprint);
        }
        Ok(Pipeline {
            store,
            matcher,
            near_duplicates: Mutex::new(index),
            analyzer: None,
            inbox: None,
        })
    }

    /// Analyse every mention with `analyzer` (`None`: store mentions without analysis).
    pub fn with_analyzer(mut self, analyzer: Option<Arc<Analyzer>>) -> Self {
        self.analyzer = analyzer;
        self
    }

    pub fn analyzer(&self) -> Option<&Arc<Analyzer>> {
        self.analyzer.as_ref()
    }

    /// Open or join inbox conversations for the new original mentions of every write.
    pub fn with_inbox(mut self, router: Arc<InboxRouter>) -> Self {
        self.inbox = Some(router);
        self
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The CPU-bound part: normalize, match, identify the language, analyse, fingerprint. Runs
    /// on all cores; needs no I/O, so an import can prepare the next batch while the last is
    /// written.
    pub fn prepare(&self, items: Vec<IncomingMention>) -> Prepared {
        let seen = items.len() as u64;
        let mentions = items
            .into_par_iter()
            // The analyzer's buffers are made once per rayon work split, not per mention.
            .map_init(
                || self.analyzer.as_ref().map(|analyzer| analyzer.scratch()),
                |scratch, item| self.prepare_one(item, scratch.as_mut()),
            )
            .flatten()
            .collect();
        Prepared { mentions, seen }
    }

    fn prepare_one(
        &self,
        item: IncomingMention,
        scratch: Option<&mut Scratch>,
    ) -> Option<NewMention> {
        let body = if item.is_html {
            normalize::html_to_text(&item.text)
        } else {
            normalize::plain_text(&item.text)
        };
        let title = item
            .title
            .as_deref()
            .map(|t| normalize::html_to_text(t).text)
            .filter(|t| !t.is_empty());
        // Brands are matched on the title and the body together: a blog post often names the
        // brand only in its title.
        let analyzed_body = AnalyzedText::new(&body.text);
        let brands = match &title {
            Some(title) => self
                .matcher
                .matching(&AnalyzedText::new(&format!("{title}\n{}", body.text))),
            None => self.matcher.matching(&analyzed_body),
        };
        if brands.is_empty() {
            return None;
        }
        let lang = lang::detect(&body.text, item.lang.as_deref());
        // The sentiment toward each matched brand: the mention may praise one and pan another.
        let analysis = match (&self.analyzer, scratch) {
            (Some(analyzer), Some(scratch)) => {
                let targets: Vec<&str> = brands.iter().map(String::as_str).collect();
                // The language was just detected: the analyzer need not check it again.
                Some(analyzer.analyze_detected(scratch, &body.text, &lang, &targets))
            }
            _ => None,
        };
        let fingerprint = simhash(&analyzed_body);
        let canonical_url = item.url.as_deref().and_then(normalize::canonical_url);
        Some(NewMention {
            source: item.source,
            external_id: item.external_id,
            url: item.url,
            canonical_url,
            title,
            text: body.text,
            links: body.links,
            published_at: item.published_at,
            author: item.author,
            lang,
            in_reply_to: item.in_reply_to,
            brands,
            fingerprint,
            duplicate_of: None,
            analysis,
        })
    }

    /// Prepare and store `items` (one source's poll, or one batch of a file).
    pub async fn ingest(
        &self,
        items: Vec<IncomingMention>,
        progress: Option<SourceProgress>,
    ) -> Result<IngestReport, PipelineError> {
        let prepared = self.prepare(items);
        self.store_prepared(prepared, progress).await
    }

    /// Link near-duplicates and write. A copy of an item in the same batch can only point at
    /// its original once the original has an id, so such copies go in a second write; the
    /// source's cursor is committed with the last write, so a crash in between re-reads them.
    pub async fn store_prepared(
        &self,
        prepared: Prepared,
        progress: Option<SourceProgress>,
    ) -> Result<IngestReport, PipelineError> {
        let mut report = IngestReport {
            seen: prepared.seen,
            unmatched: prepared.seen - prepared.mentions.len() as u64,
            ..IngestReport::default()
        };
        let mut first = Vec::with_capacity(prepared.mentions.len());
        let mut deferred = Vec::new();
        {
            let index = self
                .near_duplicates
                .lock()
                .expect("near-duplicate index poisoned");
            // The lookups in the stored originals only read the index, and at a million
            // entries they are the largest serial cost of an import's writer: a large batch
            // splits them with one helper thread (not rayon's pool, which is busy preparing
            // the next batch and would make the writer wait for it).
            let stored_originals = find_stored_originals(&index, &prepared.mentions);
            let mut batch_index = NearDupIndex::new(NEAR_DUPLICATE_DISTANCE);
            for (position, (mut mention, stored_original)) in prepared
                .mentions
                .into_iter()
                .zip(stored_originals)
                .enumerate()
            {
                if let Some(original) = stored_original {
                    mention.duplicate_of = Some(original);
                    first.push(mention);
                } else if batch_index.find(mention.fingerprint).is_some() {
                    deferred.push(mention);
                } else {
                    batch_index.insert(
                        earshot_core::MentionId(position as i64),
                        mention.fingerprint,
                    );
                    first.push(mention);
                }
            }
        }
        let (first_progress, last_progress) = if deferred.is_empty() {
            (progress, None)
        } else {
            (None, progress)
        };
        self.write(first, first_progress, &mut report).await?;
        if !deferred.is_empty() || last_progress.is_some() {
            {
                let index = self
                    .near_duplicates
                    .lock()
                    .expect("near-duplicate index poisoned");
                for mention in &mut deferred {
                    mention.duplicate_of = index.find(mention.fingerprint);
                }
            }
            self.write(deferred, last_progress, &mut report).await?;
        }
        Ok(report)
    }

    async fn write(
        &self,
        mentions: Vec<NewMention>,
        progress: Option<SourceProgress>,
        report: &mut IngestReport,
    ) -> Result<(), PipelineError> {
        if mentions.is_empty() && progress.is_none() {
            return Ok(());
        }
        // Which rows are originals, and their fingerprints, so new originals join the
        // in-memory index once the store has given them ids.
        let sent: Vec<(bool, u64)> = mentions
            .iter()
            .map(|m| (m.duplicate_of.is_none(), m.fingerprint))
            .collect();
        // The store takes the batch; the inbox needs the new originals afterwards.
        let for_inbox = self.inbox.as_ref().map(|_| mentions.clone());
        let outcome = self.store.write_batch(mentions, progress).await?;
        report.inserted += outcome.inserted.len() as u64;
        report.updated += outcome.updated.len() as u64;
        {
            let mut index = self
                .near_duplicates
                .lock()
                .expect("near-duplicate index poisoned");
            for (&(id, inserted), &(original, fingerprint)) in outcome.per_item.iter().zip(&sent) {
                if !inserted {
                    continue;
                }
                if original {
                    index.insert(id, fingerprint);
                } else {
                    report.near_duplicates += 1;
                }
            }
        }
        if let (Some(router), Some(written)) = (&self.inbox, for_inbox) {
            let fresh: Vec<RouteItem<'_>> = outcome
                .per_item
                .iter()
                .zip(&written)
                .filter(|((_, inserted), mention)| *inserted && mention.duplicate_of.is_none())
                .map(|(&(id, _), mention)| RouteItem::new_mention(id, mention))
                .collect();
            // The mentions are committed already; a failure here leaves them without a
            // conversation, which `InboxRouter::catch_up` repairs.
            router.handle(&fresh).await?;
        }
        Ok(())
    }
}
