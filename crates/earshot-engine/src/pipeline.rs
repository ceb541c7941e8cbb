//! normalize → match brand queries → language → analysis → near-duplicate → store.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

use earshot_analysis::{Analyzer, Scratch, Target};
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
    /// The fingerprints of stored originals. Preparing reads it (looking each item up ahead of
    /// the write); the writer adds each batch's new originals.
    near_duplicates: RwLock<NearDupIndex>,
    /// Sentiment, offensive language, spam and intents of each mention; `None`: not analysed.
    analyzer: Option<Arc<Analyzer>>,
    /// Each brand as the analysis looks for it: its name and the terms of its queries
    /// ("Билайн" for a brand named Beeline), parsed once.
    targets: HashMap<String, Target>,
    /// Threads and routes new originals into inbox conversations after each write.
    inbox: Option<Arc<InboxRouter>>,
}

/// Normalized, matched items, each looked up among the stored originals as the index was
/// when they were prepared; the writer completes the lookups with what it stored since.
pub struct Prepared {
    mentions: Vec<NewMention>,
    seen: u64,
    /// For each mention, the stored original found when it was prepared.
    stored_originals: Vec<Option<earshot_core::MentionId>>,
    /// How many entries the near-duplicate index had when the lookups began.
    looked_up_in: usize,
}

/// Lookups made under one hold of the index's read lock: short, so a writer adding a batch's
/// originals waits for at most this many.
const LOOKUPS_PER_LOCK: usize = 1_024;

/// How much lower than the rest of the process the preparation threads run (nice increment).
const PREPARATION_NICE_INCREMENT: i32 = 5;

/// The threads that prepare items. Preparing runs ahead of the store's single writer, which is
/// one serial chain (the writer task, then the SQLite thread): when both share the cores
/// equally, the chain runs at a fraction of a core exactly while it is the bottleneck, and the
/// cores idle later while preparing waits for it. At a lower priority preparing takes only what
/// the chain leaves, so on two cores an import keeps both busy.
static PREPARATION_POOL: LazyLock<rayon::ThreadPool> = LazyLock::new(|| {
    rayon::ThreadPoolBuilder::new()
        .thread_name(|n| format!("earshot-prepare-{n}"))
        .start_handler(|_| yield_to_the_writer())
        .build()
        .expect("starting the preparation threads")
});

#[cfg(target_os = "linux")]
fn yield_to_the_writer() {
    // SAFETY: nice(3) takes a plain integer and touches no memory of ours; on Linux it changes
    // the nice value of the calling thread only (the value is per thread). Raising it needs no
    // privilege; should it fail, the thread just keeps the process's priority.
    unsafe {
        libc::nice(PREPARATION_NICE_INCREMENT);
    }
}

#[cfg(not(target_os = "linux"))]
fn yield_to_the_writer() {}

impl Prepared {
    /// How many of the items handed in matched a brand.
    pub fn len(&self) -> usize {
        self.mentions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.mentions.is_empty()
    }
}

impl Pipeline {
    /// Build the pipeline for the workspace's brands, loading the fingerprints of stored
    /// originals so copies of mentions stored in earlier runs are recognised too.
    pub async fn new(store: Arc<dyn Store>, brands: &[BrandConfig]) -> Result<Self, PipelineError> {
        let matcher = BrandMatcher::new(brands)?;
        let targets = brands
            .iter()
            .map(|brand| {
                let target = Target::new(&brand.name, matcher.spellings(&brand.name));
                (brand.name.clone(), target)
            })
            .collect();
        let mut index = NearDupIndex::new(NEAR_DUPLICATE_DISTANCE);
        for stored in store.fingerprints().await? {
            index.insert(stored.id, stored.fingerprint);
        }
        Ok(Pipeline {
            store,
            matcher,
            near_duplicates: RwLock::new(index),
            analyzer: None,
            targets,
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

    /// The CPU-bound part: normalize, match, identify the language, analyse, fingerprint, and
    /// look each item up among the stored originals. Runs on all cores (below the writer's
    /// priority); needs no I/O, so an import can prepare the next batch while the last is
    /// written.
    pub fn prepare(&self, items: Vec<IncomingMention>) -> Prepared {
        let seen = items.len() as u64;
        let mentions = self.prepare_mentions(items);
        PREPARATION_POOL.install(|| {
            // The lookups in a million stored originals were the largest cost of the writer's
            // serial chain; here they run on every core while the previous batch is written.
            let looked_up_in = self.read_near_duplicates().len();
            let stored_originals = mentions
                .par_chunks(LOOKUPS_PER_LOCK)
                .flat_map_iter(|chunk| {
                    let index = self.read_near_duplicates();
                    chunk
                        .iter()
                        .map(|m| index.find(m.fingerprint))
                        .collect::<Vec<_>>()
                })
                .collect();
            Prepared {
                mentions,
                seen,
                stored_originals,
                looked_up_in,
            }
        })
    }

    /// The stages of [`prepare`](Self::prepare) without the near-duplicate lookups: what a
    /// store that does not link copies (the benchmark's FTS5 baseline) is given.
    pub fn prepare_mentions(&self, items: Vec<IncomingMention>) -> Vec<NewMention> {
        PREPARATION_POOL.install(|| {
            items
                .into_par_iter()
                // The analyzer's buffers are made once per rayon work split, not per mention.
                .map_init(
                    || self.analyzer.as_ref().map(|analyzer| analyzer.scratch()),
                    |scratch, item| self.prepare_one(item, scratch.as_mut()),
                )
                .flatten()
                .collect()
        })
    }

    fn read_near_duplicates(&self) -> std::sync::RwLockReadGuard<'_, NearDupIndex> {
        self.near_duplicates
            .read()
            .expect("near-duplicate index poisoned")
    }

    fn write_near_duplicates(&self) -> std::sync::RwLockWriteGuard<'_, NearDupIndex> {
        self.near_duplicates
            .write()
            .expect("near-duplicate index poisoned")
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
                let targets: Vec<&Target> = brands
                    .iter()
                    .filter_map(|name| self.targets.get(name))
                    .collect();
                // The language was just detected: the analyzer need not check it again.
                Some(analyzer.analyze_detected_targets(scratch, &body.text, &lang, &targets))
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
            let index = self.read_near_duplicates();
            let mut batch_index = NearDupIndex::new(NEAR_DUPLICATE_DISTANCE);
            for (position, (mut mention, found_when_prepared)) in prepared
                .mentions
                .into_iter()
                .zip(prepared.stored_originals)
                .enumerate()
            {
                // Only the originals stored since the item was prepared are left to compare
                // with: the tails of a few buckets.
                let stored_original = found_when_prepared
                    .or_else(|| index.find_from(mention.fingerprint, prepared.looked_up_in));
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
                let index = self.read_near_duplicates();
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
            let mut index = self.write_near_duplicates();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    fn own_nice_value() -> i32 {
        // SAFETY: getpriority(2) with PRIO_PROCESS and who = 0 reads the calling thread's nice
        // value on Linux; it takes plain integers and touches no memory of ours.
        unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn preparation_threads_run_below_the_writer() {
        let writer = own_nice_value();
        let preparing = PREPARATION_POOL.install(own_nice_value);
        // Already at the lowest priority (19), a thread cannot go lower.
        assert_eq!(
            preparing,
            (writer + PREPARATION_NICE_INCREMENT).min(19),
            "writer thread at nice {writer}"
        );
        assert_eq!(
            own_nice_value(),
            writer,
            "the calling thread keeps its priority"
        );
    }
}
