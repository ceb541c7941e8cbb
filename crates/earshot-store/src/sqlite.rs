//! [`SqliteStore`]: the default [`Store`], one SQLite file plus the tantivy index beside it.

// The maps of a batch write are on the import's serial chain: SipHash was ~3 % of its CPU.
use rustc_hash::{FxHashMap as HashMap, FxHashSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use earshot_core::{
    Author, Mention, MentionFilter, MentionId, NewMention, SortOrder, SourceHealth, SourceState,
};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Connection, QueryBuilder, Row, Sqlite, SqliteConnection};

use crate::analysis::analysis_columns;
use crate::analysis::{
    analysis_from_row, push_analysis_conditions, write_analyses, MENTIONS_WITH_ANALYSIS,
};
use crate::cursor::PageCursor;
use crate::index::{IndexDoc, SearchHit, SearchIndex, SearchPosition};
use crate::known_keys::{KnownKeys, KNOWN_KEYS_MIN_BATCH};
use crate::{
    BatchOutcome, Fingerprint, Page, SourceProgress, Store, StoreError, StoreResult, StoreStats,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Several processes (`earshot serve`, `earshot fetch`) may write the same workspace; a writer
/// waits this long for another's transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
const POOL_SIZE: u32 = 4;
/// Rows read per step when the index catches up or is rebuilt.
const INDEX_CHUNK: i64 = 5_000;
/// SQLite allows 32,766 bound variables per statement.
const MENTION_COLUMNS_BOUND: usize = 19;
const MENTION_ROWS_PER_INSERT: usize = 1_000;
const _: () = assert!(MENTION_ROWS_PER_INSERT * MENTION_COLUMNS_BOUND < 32_766);
const BRAND_ROWS_PER_INSERT: usize = 10_000;
/// The most mentions one page returns, whatever `limit` asks for.
pub const MAX_PAGE_SIZE: usize = 10_000;

/// Every column of a mention, from [`MENTIONS_WITH_ANALYSIS`].
const MENTION_COLUMNS: &str = concat!(
    "m.id, m.source, m.external_id, m.url, m.canonical_url, m.title, \
    m.text, m.links, m.published_at, m.fetched_at, m.author_handle, m.author_name, m.author_url, \
    m.author_followers, m.lang, m.in_reply_to, m.fingerprint, m.duplicate_of, \
    (SELECT json_group_array(b.brand) FROM mention_brands b WHERE b.mention_id = m.id) AS brands, ",
    analysis_columns!()
);

/// The SQLite store of one workspace: `earshot.db` and the search index in `index/`.
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
    index: Arc<SearchIndex>,
    /// Serializes this process's writes, so that `rev` values reach the index in order.
    write_lock: tokio::sync::Mutex<()>,
    /// The index commit of the last batch, still running: it overlaps the next batch's database
    /// work. Searches, catch-ups and `close` wait for it.
    pending_index: std::sync::Mutex<Option<tokio::task::JoinHandle<StoreResult<bool>>>>,
    skip_indexing: AtomicBool,
    /// The dedup keys the database holds, once a large batch has loaded them: items whose
    /// keys are certainly new skip the lookup in the unique indexes.
    known_keys: tokio::sync::Mutex<KnownKeys>,
    /// The connection every `write_batch` uses, with a page cache of its own
    /// ([`WRITER_CACHE_KIB`]): the unique indexes on random keys are touched all over by each
    /// batch, and a connection's cache survives from one transaction to the next only while no
    /// other connection of the process writes in between, which pooled connections taking
    /// turns would break.
    mention_writer: tokio::sync::Mutex<SqliteConnection>,
    db_path: PathBuf,
}

/// Page cache of the mention-writing connection, in KiB (SQLite's negative `cache_size`).
/// About what the unique indexes and the hot end of the others take at a million mentions;
/// the pooled readers keep the smaller default.
const WRITER_CACHE_KIB: i64 = 256 * 1024;

pub(crate) fn db_error(context: &str) -> impl Fn(sqlx::Error) -> StoreError + '_ {
    move |e| StoreError::Database(format!("{context}: {e}"))
}

pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub(crate) fn from_micros(value: i64, column: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_micros(value).ok_or_else(|| {
        StoreError::Database(format!("column {column} holds an impossible time: {value}"))
    })
}

fn opt_from_micros(value: Option<i64>, column: &str) -> StoreResult<Option<DateTime<Utc>>> {
    value.map(|v| from_micros(v, column)).transpose()
}

fn clamp_u64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn decode_json_strings(raw: &str, column: &str, id: i64) -> StoreResult<Vec<String>> {
    serde_json::from_str(raw).map_err(|e| {
        StoreError::Database(format!(
            "mention {id}: column {column} is not a JSON list of strings: {e}"
        ))
    })
}

fn mention_from_row(row: &SqliteRow) -> StoreResult<Mention> {
    let get = |e: sqlx::Error| StoreError::Database(format!("reading a mention row: {e}"));
    let id: i64 = row.try_get("id").map_err(get)?;
    let links_raw: String = row.try_get("links").map_err(get)?;
    let brands_raw: String = row.try_get("brands").map_err(get)?;
    let mut brands = decode_json_strings(&brands_raw, "brands", id)?;
    brands.sort();
    let (analysis, corrections) = analysis_from_row(row, id)?;
    let author = Author {
        handle: row.try_get("author_handle").map_err(get)?,
        name: row.try_get("author_name").map_err(get)?,
        url: row.try_get("author_url").map_err(get)?,
        followers: row
            .try_get::<Option<i64>, _>("author_followers")
            .map_err(get)?
            .map(|f| u64::try_from(f).unwrap_or(0)),
    };
    Ok(Mention {
        id: MentionId(id),
        source: row.try_get("source").map_err(get)?,
        external_id: row.try_get("external_id").map_err(get)?,
        url: row.try_get("url").map_err(get)?,
        canonical_url: row.try_get("canonical_url").map_err(get)?,
        title: row.try_get("title").map_err(get)?,
        text: row.try_get("text").map_err(get)?,
        links: decode_json_strings(&links_raw, "links", id)?,
        published_at: from_micros(row.try_get("published_at").map_err(get)?, "published_at")?,
        fetched_at: from_micros(row.try_get("fetched_at").map_err(get)?, "fetched_at")?,
        author: (!author.is_empty()).then_some(author),
        lang: row.try_get("lang").map_err(get)?,
        in_reply_to: row.try_get("in_reply_to").map_err(get)?,
        fingerprint: row.try_get::<i64, _>("fingerprint").map_err(get)? as u64,
        duplicate_of: row
            .try_get::<Option<i64>, _>("duplicate_of")
            .map_err(get)?
            .map(MentionId),
        brands,
        analysis,
        corrections,
    })
}

fn source_state_from_row(row: &SqliteRow) -> StoreResult<SourceState> {
    let get = |e: sqlx::Error| StoreError::Database(format!("reading a source state row: {e}"));
    Ok(SourceState {
        name: row.try_get("name").map_err(get)?,
        cursor: row.try_get("cursor").map_err(get)?,
        health: SourceHealth {
            last_success_at: opt_from_micros(
                row.try_get("last_success_at").map_err(get)?,
                "last_success_at",
            )?,
            last_error_at: opt_from_micros(
                row.try_get("last_error_at").map_err(get)?,
                "last_error_at",
            )?,
            last_error: row.try_get("last_error").map_err(get)?,
            items_seen: u64::try_from(row.try_get::<i64, _>("items_seen").map_err(get)?)
                .unwrap_or(0),
            items_stored: u64::try_from(row.try_get::<i64, _>("items_stored").map_err(get)?)
                .unwrap_or(0),
        },
    })
}

/// A row already in the database that a batch item turned out to be.
#[derive(Debug, Clone)]
struct ExistingRow {
    id: i64,
    source: String,
    canonical_url: Option<String>,
    published_at: i64,
    duplicate_of: Option<i64>,
}

fn existing_from_row(row: &SqliteRow) -> Result<ExistingRow, sqlx::Error> {
    Ok(ExistingRow {
        id: row.try_get("id")?,
        source: row.try_get("source")?,
        canonical_url: row.try_get("canonical_url")?,
        published_at: row.try_get("published_at")?,
        duplicate_of: row.try_get("duplicate_of")?,
    })
}

/// Folds items of one batch that are the same mention (same `(source, external_id)` or same
/// canonical URL) into one, the later item winning, so a batch never makes two rows of one
/// mention.
/// Where each input item went: the row it became or updated, and whether that row is new.
/// Items merged into one new row report it as inserted only for the first of them.
fn per_item_outcome(
    input_keys: &[(String, Option<String>, Option<String>)],
    writes: &[PlannedWrite],
) -> Vec<(MentionId, bool)> {
    let mut by_external: HashMap<(&str, &str), &PlannedWrite> = HashMap::default();
    let mut by_canonical: HashMap<&str, &PlannedWrite> = HashMap::default();
    for write in writes {
        let m = &write.mention;
        if let Some(external) = &m.external_id {
            by_external.insert((m.source.as_str(), external.as_str()), write);
        }
        if let Some(url) = &m.canonical_url {
            by_canonical.insert(url.as_str(), write);
        }
    }
    let mut reported_new = FxHashSet::default();
    input_keys
        .iter()
        .map(|(source, external, canonical)| {
            let write = external
                .as_deref()
                .and_then(|e| by_external.get(&(source.as_str(), e)))
                .or_else(|| canonical.as_deref().and_then(|u| by_canonical.get(u)));
            match write {
                Some(write) => {
                    let inserted = write.existing.is_none() && reported_new.insert(write.id);
                    (MentionId(write.id), inserted)
                }
                // Every item resolves to a write by one of its keys; should one not, it is
                // reported as an update so callers treat it as nothing new.
                None => (MentionId(0), false),
            }
        })
        .collect()
}

fn merge_within_batch(mentions: Vec<NewMention>) -> Vec<NewMention> {
    let mut slots: Vec<Option<NewMention>> = Vec::with_capacity(mentions.len());
    let mut by_external: HashMap<(String, String), usize> = HashMap::default();
    let mut by_canonical: HashMap<String, usize> = HashMap::default();
    for mut mention in mentions {
        mention.brands.sort();
        mention.brands.dedup();
        let external_key = mention
            .external_id
            .clone()
            .map(|external_id| (mention.source.clone(), external_id));
        let slot = external_key
            .as_ref()
            .and_then(|key| by_external.get(key).copied())
            .or_else(|| {
                mention
                    .canonical_url
                    .as_ref()
                    .and_then(|url| by_canonical.get(url).copied())
            });
        let slot = match slot {
            Some(slot) => {
                if let Some(earlier) = slots[slot].take() {
                    // Like an update of a stored row: the mention keeps the identity it was
                    // first seen with, and a URL the later item lacks or that another item of
                    // the batch already claims.
                    if earlier.external_id.is_some() {
                        mention.source = earlier.source;
                        mention.external_id = earlier.external_id;
                    }
                    let url_claimed_elsewhere = mention
                        .canonical_url
                        .as_ref()
                        .and_then(|url| by_canonical.get(url))
                        .is_some_and(|&other| other != slot);
                    if url_claimed_elsewhere || mention.canonical_url.is_none() {
                        mention.canonical_url = earlier.canonical_url;
                    }
                }
                slots[slot] = Some(mention);
                slot
            }
            None => {
                slots.push(Some(mention));
                slots.len() - 1
            }
        };
        let stored = slots[slot].as_ref().expect("slot was just filled");
        if let Some(key) = external_key {
            by_external.insert(key, slot);
        }
        if let Some(url) = &stored.canonical_url {
            by_canonical.insert(url.clone(), slot);
        }
    }
    slots.into_iter().flatten().collect()
}

impl SqliteStore {
    /// Opens (creating when missing) the workspace's database `earshot.db` and search index
    /// `index/`, applies pending migrations and indexes rows the index has not seen.
    pub async fn open(workspace_dir: &Path) -> StoreResult<SqliteStore> {
        std::fs::create_dir_all(workspace_dir).map_err(|e| {
            StoreError::Database(format!("creating {}: {e}", workspace_dir.display()))
        })?;
        let db_path = workspace_dir.join("earshot.db");
        let options = connect_options(&db_path)?;
        let pool = open_pool(options.clone(), &db_path).await?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Migration(format!("migrating {}: {e}", db_path.display())))?;
        let mention_writer = SqliteConnection::connect_with(
            &options.pragma("cache_size", format!("-{WRITER_CACHE_KIB}")),
        )
        .await
        .map_err(|e| StoreError::Database(format!("opening {}: {e}", db_path.display())))?;
        let index_dir = workspace_dir.join("index");
        let index = tokio::task::spawn_blocking(move || SearchIndex::open(&index_dir))
            .await
            .map_err(|e| StoreError::Index(format!("opening the index: {e}")))??;
        let store = SqliteStore {
            pool,
            index: Arc::new(index),
            write_lock: tokio::sync::Mutex::new(()),
            pending_index: std::sync::Mutex::new(None),
            skip_indexing: AtomicBool::new(false),
            known_keys: tokio::sync::Mutex::new(KnownKeys::new()),
            mention_writer: tokio::sync::Mutex::new(mention_writer),
            db_path,
        };
        let _write = store.write_lock.lock().await;
        store.catch_up_index(i64::MAX).await?;
        drop(_write);
        Ok(store)
    }

    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Path of the database file.
    pub fn database_path(&self) -> &Path {
        &self.db_path
    }

    /// Whether this store holds the index writer (false while another process does; searches
    /// then see what that process has indexed).
    pub fn index_is_writable(&self) -> bool {
        self.index.holds_writer()
    }

    /// Waits until every batch written so far is committed to the search index (when this
    /// store holds the index writer).
    pub async fn flush_index(&self) {
        let _write = self.write_lock.lock().await;
        self.finish_pending_index().await;
        if let Err(e) = self.commit_pending_index().await {
            tracing::error!(error = %e, "committing the search index failed; it will be retried");
        }
    }

    /// Closes the database pool and releases the index writer lock.
    pub async fn close(self) {
        let write = self.write_lock.lock().await;
        self.finish_pending_index().await;
        if let Err(e) = self.commit_pending_index().await {
            tracing::error!(error = %e, "committing the search index failed; the next open catches up");
        }
        drop(write);
        let _ = self.mention_writer.into_inner().close().await;
        self.pool.close().await;
        let index = self.index.clone();
        let _ = tokio::task::spawn_blocking(move || index.release_writer()).await;
    }

    /// Test hook: simulates a crash between the database commit and the index commit by
    /// leaving batches out of the index.
    #[doc(hidden)]
    pub fn skip_index_commits(&self, skip: bool) {
        self.skip_indexing.store(skip, Ordering::SeqCst);
    }

    /// Indexes committed rows with `rev` above the index's and at most `up_to`. The caller holds
    /// `write_lock`. Does nothing when another process holds the index writer.
    async fn catch_up_index(&self, up_to: i64) -> StoreResult<()> {
        self.finish_pending_index().await;
        if self.skip_indexing.load(Ordering::SeqCst) || !self.index.try_take_writer()? {
            return Ok(());
        }
        loop {
            let from = self.index.added_rev();
            if from >= up_to {
                return Ok(());
            }
            let (docs, max_rev) = load_index_docs(
                &self.pool,
                "m.rev > ?1 AND m.rev <= ?2 ORDER BY m.rev",
                from,
                up_to,
            )
            .await?;
            let Some(max_rev) = max_rev else {
                return Ok(());
            };
            tracing::info!(
                rows = docs.len(),
                from_rev = from,
                "indexing rows the search index has not seen"
            );
            self.apply_to_index(docs, max_rev).await?;
        }
    }

    /// Waits for the index commit of the previous batch. A failure is logged only: the index's
    /// recorded rev stays behind, so the next catch-up indexes those rows again.
    async fn finish_pending_index(&self) {
        let pending = self
            .pending_index
            .lock()
            .map(|mut pending| pending.take())
            .unwrap_or(None);
        if let Some(job) = pending {
            match job.await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "indexing a stored batch failed; it will be retried")
                }
                Err(e) => {
                    tracing::error!(error = %e, "the indexing task failed; it will be retried")
                }
            }
        }
    }

    async fn apply_to_index(&self, docs: Vec<IndexDoc>, rev: i64) -> StoreResult<bool> {
        let index = self.index.clone();
        tokio::task::spawn_blocking(move || index.apply(&docs, false, rev))
            .await
            .map_err(|e| StoreError::Index(format!("indexing task failed: {e}")))?
    }

    /// Brings the index up to date with rows other processes wrote, when this store holds
    /// (or can now take) the writer.
    async fn refresh_index_before_search(&self) -> StoreResult<()> {
        let db_rev: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(rev), 0) FROM mentions")
            .fetch_one(&self.pool)
            .await
            .map_err(db_error("reading the change counter"))?;
        let pending = self
            .pending_index
            .lock()
            .map(|p| p.is_some())
            .unwrap_or(false);
        if db_rev <= self.index.indexed_rev() && !pending {
            return Ok(());
        }
        if !self.index.holds_writer() {
            // Another process may have indexed the rows already; see its latest commit.
            self.index.reload_reader()?;
        }
        let _write = self.write_lock.lock().await;
        self.catch_up_index(i64::MAX).await?;
        self.commit_pending_index().await
    }

    /// Commits index documents that are waiting for the next timed commit, so a search sees
    /// every batch written before it.
    async fn commit_pending_index(&self) -> StoreResult<()> {
        let index = self.index.clone();
        tokio::task::spawn_blocking(move || index.commit_pending())
            .await
            .map_err(|e| StoreError::Index(format!("index commit task failed: {e}")))?
    }

    async fn load_mentions_by_ids(&self, ids: &[i64]) -> StoreResult<Vec<Mention>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids_json = serde_json::to_string(ids).expect("integers always serialize");
        let rows = sqlx::query(&format!(
            "SELECT {MENTION_COLUMNS} FROM {MENTIONS_WITH_ANALYSIS} WHERE m.id IN (SELECT value FROM json_each(?1))"
        ))
        .bind(ids_json)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("loading mentions"))?;
        let mut by_id = HashMap::with_capacity_and_hasher(rows.len(), Default::default());
        for row in &rows {
            let mention = mention_from_row(row)?;
            by_id.insert(mention.id.0, mention);
        }
        Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
    }

    async fn search_index(
        &self,
        query_text: &str,
        filter: &MentionFilter,
        sort: SortOrder,
        cursor: Option<PageCursor>,
        limit: usize,
    ) -> StoreResult<Page> {
        let query = earshot_text::query::Query::parse(query_text)
            .map_err(|e| StoreError::Query(format!("{query_text:?}: {e}")))?;
        let position = match (sort, cursor) {
            (_, None) => SearchPosition::Start,
            (SortOrder::Newest, Some(PageCursor::Newest(published_at, id))) => {
                SearchPosition::Before { published_at, id }
            }
            (SortOrder::Relevance, Some(PageCursor::Relevance(offset))) => {
                SearchPosition::Offset(offset)
            }
            _ => return Err(StoreError::BadCursor),
        };
        self.refresh_index_before_search().await?;
        if filter.filters_analysis() {
            return self
                .search_index_with_analysis(query, filter, sort, position, limit)
                .await;
        }
        let index = self.index.clone();
        let filter_owned = filter.clone();
        let (hits, more) = tokio::task::spawn_blocking(move || {
            index.search(&query, &filter_owned, sort, position, limit)
        })
        .await
        .map_err(|e| StoreError::Index(format!("search task failed: {e}")))??;
        let ids: Vec<i64> = hits.iter().map(|hit| hit.mention_id().0).collect();
        let mentions = self.load_mentions_by_ids(&ids).await?;
        let next_cursor = match (more, hits.last()) {
            (true, Some(last)) => Some(
                match sort {
                    SortOrder::Newest => PageCursor::Newest(last.published_at_micros, last.id),
                    SortOrder::Relevance => PageCursor::Relevance(
                        match position {
                            SearchPosition::Offset(offset) => offset,
                            _ => 0,
                        } + hits.len(),
                    ),
                }
                .encode(),
            ),
            _ => None,
        };
        Ok(Page {
            mentions,
            next_cursor,
        })
    }

    /// Full-text search with analysis filters: the index has no analysis (a correction would
    /// mean reindexing), so hits are read from it in chunks and kept when their analysis in the
    /// database matches, until the page is full or the hits run out.
    async fn search_index_with_analysis(
        &self,
        query: earshot_text::query::Query,
        filter: &MentionFilter,
        sort: SortOrder,
        start: SearchPosition,
        limit: usize,
    ) -> StoreResult<Page> {
        let chunk = (limit * 4).clamp(200, MAX_PAGE_SIZE);
        let query = Arc::new(query);
        let mut position = start;
        let mut consumed = match start {
            SearchPosition::Offset(offset) => offset,
            _ => 0,
        };
        // Each kept hit with the count of index hits consumed up to it (the relevance cursor).
        let mut kept: Vec<(SearchHit, usize)> = Vec::with_capacity(limit + 1);
        'chunks: loop {
            let index = self.index.clone();
            let filter_owned = filter.clone();
            let query_owned = query.clone();
            let (hits, more) = tokio::task::spawn_blocking(move || {
                index.search(&query_owned, &filter_owned, sort, position, chunk)
            })
            .await
            .map_err(|e| StoreError::Index(format!("search task failed: {e}")))??;
            let Some(last) = hits.last().copied() else {
                break;
            };
            let ids: Vec<i64> = hits.iter().map(|hit| hit.id).collect();
            let matching = self.ids_matching_analysis(&ids, filter).await?;
            for hit in hits {
                consumed += 1;
                if matching.contains(&hit.id) {
                    kept.push((hit, consumed));
                    if kept.len() > limit {
                        break 'chunks;
                    }
                }
            }
            if !more {
                break;
            }
            position = match sort {
                SortOrder::Newest => SearchPosition::Before {
                    published_at: last.published_at_micros,
                    id: last.id,
                },
                SortOrder::Relevance => SearchPosition::Offset(consumed),
            };
        }
        let more = kept.len() > limit;
        kept.truncate(limit);
        let ids: Vec<i64> = kept.iter().map(|(hit, _)| hit.id).collect();
        let mentions = self.load_mentions_by_ids(&ids).await?;
        let next_cursor = match (more, kept.last()) {
            (true, Some((hit, consumed))) => Some(
                match sort {
                    SortOrder::Newest => PageCursor::Newest(hit.published_at_micros, hit.id),
                    SortOrder::Relevance => PageCursor::Relevance(*consumed),
                }
                .encode(),
            ),
            _ => None,
        };
        Ok(Page {
            mentions,
            next_cursor,
        })
    }

    /// Which of `ids` pass the analysis conditions of `filter`.
    async fn ids_matching_analysis(
        &self,
        ids: &[i64],
        filter: &MentionFilter,
    ) -> StoreResult<std::collections::HashSet<i64>> {
        let mut sql = QueryBuilder::<Sqlite>::new(format!(
            "SELECT m.id FROM {MENTIONS_WITH_ANALYSIS} WHERE m.id IN (SELECT value FROM json_each("
        ));
        sql.push_bind(serde_json::to_string(ids).expect("integers always serialize"))
            .push("))");
        push_analysis_conditions(&mut sql, filter);
        let rows: Vec<(i64,)> = sql
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(db_error("filtering search hits by their analysis"))?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    async fn search_database(
        &self,
        filter: &MentionFilter,
        cursor: Option<PageCursor>,
        limit: usize,
    ) -> StoreResult<Page> {
        let before = match cursor {
            None => None,
            Some(PageCursor::Newest(published_at, id)) => Some((published_at, id)),
            Some(PageCursor::Relevance(_)) => return Err(StoreError::BadCursor),
        };
        let mut sql = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {MENTION_COLUMNS} FROM {MENTIONS_WITH_ANALYSIS} WHERE 1 = 1"
        ));
        if let Some(lang) = &filter.lang {
            sql.push(" AND m.lang = ").push_bind(lang);
        }
        if let Some(source) = &filter.source {
            sql.push(" AND m.source = ").push_bind(source);
        }
        if let Some(since) = filter.since {
            sql.push(" AND m.published_at >= ").push_bind(micros(since));
        }
        if let Some(until) = filter.until {
            sql.push(" AND m.published_at < ").push_bind(micros(until));
        }
        if filter.hide_duplicates {
            sql.push(" AND m.duplicate_of IS NULL");
        }
        if let Some(brand) = &filter.brand {
            sql.push(
                " AND EXISTS (SELECT 1 FROM mention_brands fb WHERE fb.mention_id = m.id AND fb.brand = ",
            )
            .push_bind(brand)
            .push(")");
        }
        push_analysis_conditions(&mut sql, filter);
        if let Some((published_at, id)) = before {
            sql.push(" AND (m.published_at, m.id) < (")
                .push_bind(published_at)
                .push(", ")
                .push_bind(id)
                .push(")");
        }
        sql.push(" ORDER BY m.published_at DESC, m.id DESC LIMIT ")
            .push_bind((limit + 1) as i64);
        let rows = sql
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(db_error("searching mentions"))?;
        let mut mentions = rows
            .iter()
            .map(mention_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        let more = mentions.len() > limit;
        mentions.truncate(limit);
        let next_cursor = match (more, mentions.last()) {
            (true, Some(last)) => {
                Some(PageCursor::Newest(micros(last.published_at), last.id.0).encode())
            }
            _ => None,
        };
        Ok(Page {
            mentions,
            next_cursor,
        })
    }
}

fn connect_options(db_path: &Path) -> StoreResult<SqliteConnectOptions> {
    Ok(SqliteConnectOptions::from_str("sqlite://")
        .map_err(db_error("building connection options"))?
        .filename(db_path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT)
        .pragma("temp_store", "memory")
        .pragma("cache_size", "-65536"))
}

async fn open_pool(options: SqliteConnectOptions, db_path: &Path) -> StoreResult<SqlitePool> {
    SqlitePoolOptions::new()
        .max_connections(POOL_SIZE)
        .min_connections(1)
        .connect_with(options)
        .await
        .map_err(|e| StoreError::Database(format!("opening {}: {e}", db_path.display())))
}

/// Reads rows for the index: `condition` filters and orders `mentions m` with `?1` and `?2`
/// bound to `low` and `high`. Returns the documents and the highest `rev` among them.
async fn load_index_docs(
    pool: &SqlitePool,
    condition: &str,
    low: i64,
    high: i64,
) -> StoreResult<(Vec<IndexDoc>, Option<i64>)> {
    let rows = sqlx::query(&format!(
        "SELECT m.id, m.title, m.text, m.lang, m.source, m.published_at, m.duplicate_of, m.rev, \
         (SELECT json_group_array(b.brand) FROM mention_brands b WHERE b.mention_id = m.id) AS brands \
         FROM mentions m WHERE {condition} LIMIT ?3"
    ))
    .bind(low)
    .bind(high)
    .bind(INDEX_CHUNK)
    .fetch_all(pool)
    .await
    .map_err(db_error("reading mentions to index"))?;
    let mut docs = Vec::with_capacity(rows.len());
    let mut max_rev = None;
    let get = |e: sqlx::Error| StoreError::Database(format!("reading a mention to index: {e}"));
    for row in &rows {
        let id: i64 = row.try_get("id").map_err(get)?;
        let rev: i64 = row.try_get("rev").map_err(get)?;
        max_rev = max_rev.max(Some(rev));
        let brands_raw: String = row.try_get("brands").map_err(get)?;
        docs.push(IndexDoc {
            id,
            title: row.try_get("title").map_err(get)?,
            text: row.try_get("text").map_err(get)?,
            brands: decode_json_strings(&brands_raw, "brands", id)?,
            lang: row.try_get("lang").map_err(get)?,
            source: row.try_get("source").map_err(get)?,
            published_at_micros: row.try_get("published_at").map_err(get)?,
            is_duplicate: row
                .try_get::<Option<i64>, _>("duplicate_of")
                .map_err(get)?
                .is_some(),
            may_exist: true,
        });
    }
    Ok((docs, max_rev))
}

/// Looks up, with one query per key kind, which batch items already exist.
async fn find_existing(
    conn: &mut SqliteConnection,
    mentions: &[&NewMention],
) -> StoreResult<(
    HashMap<(String, String), ExistingRow>,
    HashMap<String, ExistingRow>,
)> {
    let external_keys: Vec<(&str, &str)> = mentions
        .iter()
        .filter_map(|m| m.external_id.as_deref().map(|e| (m.source.as_str(), e)))
        .collect();
    let canonical_urls: Vec<&str> = mentions
        .iter()
        .filter_map(|m| m.canonical_url.as_deref())
        .collect();
    let mut by_external = HashMap::default();
    if !external_keys.is_empty() {
        let keys_json = serde_json::to_string(&external_keys).expect("strings always serialize");
        let rows = sqlx::query(
            "SELECT m.id, m.source, m.external_id, m.canonical_url, m.published_at, m.duplicate_of \
             FROM json_each(?1) k JOIN mentions m \
             ON m.source = k.value ->> 0 AND m.external_id = k.value ->> 1",
        )
        .bind(keys_json)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error("looking up existing mentions by external id"))?;
        for row in &rows {
            let existing =
                existing_from_row(row).map_err(db_error("reading an existing mention"))?;
            let external_id: String = row
                .try_get("external_id")
                .map_err(db_error("reading an existing mention"))?;
            by_external.insert((existing.source.clone(), external_id), existing);
        }
    }
    let mut by_canonical = HashMap::default();
    if !canonical_urls.is_empty() {
        let urls_json = serde_json::to_string(&canonical_urls).expect("strings always serialize");
        let rows = sqlx::query(
            "SELECT m.id, m.source, m.canonical_url, m.published_at, m.duplicate_of \
             FROM json_each(?1) k JOIN mentions m ON m.canonical_url = k.value",
        )
        .bind(urls_json)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error("looking up existing mentions by canonical URL"))?;
        for row in &rows {
            let existing =
                existing_from_row(row).map_err(db_error("reading an existing mention"))?;
            if let Some(url) = existing.canonical_url.clone() {
                by_canonical.insert(url, existing);
            }
        }
    }
    Ok((by_external, by_canonical))
}

struct PlannedWrite {
    mention: NewMention,
    id: i64,
    rev: i64,
    existing: Option<ExistingRow>,
}

#[async_trait]
impl Store for SqliteStore {
    async fn write_batch(
        &self,
        mentions: Vec<NewMention>,
        progress: Option<SourceProgress>,
    ) -> StoreResult<BatchOutcome> {
        let _write = self.write_lock.lock().await;
        let now = Utc::now();
        // The keys of each item as handed in, to report per item where it went after merging.
        let input_keys: Vec<(String, Option<String>, Option<String>)> = mentions
            .iter()
            .map(|m| {
                (
                    m.source.clone(),
                    m.external_id.clone(),
                    m.canonical_url.clone(),
                )
            })
            .collect();
        let merged = merge_within_batch(mentions);

        // IMMEDIATE takes the write lock up front: the ids and revs read next stay ours until
        // commit, and a concurrent writer waits (busy timeout) instead of failing mid-way.
        let mut writer = self.mention_writer.lock().await;
        let mut tx = writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_error("starting the batch transaction"))?;
        let (max_id, max_rev): (i64, i64) = sqlx::query_as(
            "SELECT COALESCE(MAX(id), 0), COALESCE((SELECT MAX(rev) FROM mentions), 0) FROM mentions",
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error("reading the id and change counters"))?;
        let mut known_keys = self.known_keys.lock().await;
        if known_keys.is_loaded() || merged.len() >= KNOWN_KEYS_MIN_BATCH {
            known_keys.catch_up(&mut tx, max_rev).await?;
        }
        let may_exist: Vec<&NewMention> = if known_keys.is_loaded() {
            merged.iter().filter(|m| known_keys.may_exist(m)).collect()
        } else {
            merged.iter().collect()
        };
        let (by_external, by_canonical) = find_existing(&mut tx, &may_exist).await?;
        drop(may_exist);

        // Resolve every item to an existing row or a new one; two items resolving to the same
        // row are the same mention, and the later one wins.
        let mut planned: Vec<Option<PlannedWrite>> = Vec::with_capacity(merged.len());
        let mut slot_of_row: HashMap<i64, usize> = HashMap::default();
        for mut mention in merged {
            let existing = mention
                .external_id
                .as_ref()
                .and_then(|e| by_external.get(&(mention.source.clone(), e.clone())))
                .or_else(|| {
                    mention
                        .canonical_url
                        .as_ref()
                        .and_then(|url| by_canonical.get(url))
                })
                .cloned();
            if let Some(row) = &existing {
                let url_taken_by_other = mention
                    .canonical_url
                    .as_ref()
                    .and_then(|url| by_canonical.get(url))
                    .is_some_and(|owner| owner.id != row.id);
                if url_taken_by_other || mention.canonical_url.is_none() {
                    mention.canonical_url = row.canonical_url.clone();
                }
                if let Some(previous) = slot_of_row.insert(row.id, planned.len()) {
                    planned[previous] = None;
                }
            }
            planned.push(Some(PlannedWrite {
                mention,
                id: 0,
                rev: 0,
                existing,
            }));
        }
        let mut writes: Vec<PlannedWrite> = planned.into_iter().flatten().collect();
        let mut next_id = max_id;
        for (offset, write) in writes.iter_mut().enumerate() {
            write.rev = max_rev + 1 + offset as i64;
            write.id = match &write.existing {
                Some(row) => row.id,
                None => {
                    next_id += 1;
                    next_id
                }
            };
        }

        let mut outcome = BatchOutcome::default();
        for write in writes.iter().filter(|w| w.existing.is_some()) {
            let m = &write.mention;
            let author = m.author.clone().unwrap_or_default();
            sqlx::query(
                "UPDATE mentions SET url = COALESCE(?1, url), canonical_url = ?2, title = ?3, \
                 text = ?4, links = ?5, author_handle = ?6, author_name = ?7, author_url = ?8, \
                 author_followers = ?9, lang = ?10, in_reply_to = COALESCE(?11, in_reply_to), \
                 fingerprint = ?12, rev = ?13 WHERE id = ?14",
            )
            .bind(&m.url)
            .bind(&m.canonical_url)
            .bind(&m.title)
            .bind(&m.text)
            .bind(serde_json::to_string(&m.links).expect("strings always serialize"))
            .bind(author.handle)
            .bind(author.name)
            .bind(author.url)
            .bind(author.followers.map(clamp_u64))
            .bind(&m.lang)
            .bind(&m.in_reply_to)
            .bind(m.fingerprint as i64)
            .bind(write.rev)
            .bind(write.id)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                StoreError::Database(format!(
                    "updating mention {} (source {:?}, external id {:?}): {e}",
                    write.id, m.source, m.external_id
                ))
            })?;
            outcome.updated.push(MentionId(write.id));
        }
        if !outcome.updated.is_empty() {
            let ids: Vec<i64> = outcome.updated.iter().map(|id| id.0).collect();
            sqlx::query(
                "DELETE FROM mention_brands WHERE mention_id IN (SELECT value FROM json_each(?1))",
            )
            .bind(serde_json::to_string(&ids).expect("integers always serialize"))
            .execute(&mut *tx)
            .await
            .map_err(db_error("replacing brands of updated mentions"))?;
        }

        let inserts: Vec<&PlannedWrite> = writes.iter().filter(|w| w.existing.is_none()).collect();
        for chunk in inserts.chunks(MENTION_ROWS_PER_INSERT) {
            let mut sql = QueryBuilder::<Sqlite>::new(
                "INSERT INTO mentions (id, source, external_id, url, canonical_url, title, text, \
                 links, published_at, fetched_at, author_handle, author_name, author_url, \
                 author_followers, lang, in_reply_to, fingerprint, duplicate_of, rev) ",
            );
            sql.push_values(chunk, |mut row, write| {
                let m = &write.mention;
                let author = m.author.as_ref();
                row.push_bind(write.id)
                    .push_bind(&m.source)
                    .push_bind(&m.external_id)
                    .push_bind(&m.url)
                    .push_bind(&m.canonical_url)
                    .push_bind(&m.title)
                    .push_bind(&m.text)
                    .push_bind(serde_json::to_string(&m.links).expect("strings always serialize"))
                    .push_bind(micros(m.published_at))
                    .push_bind(micros(now))
                    .push_bind(author.and_then(|a| a.handle.clone()))
                    .push_bind(author.and_then(|a| a.name.clone()))
                    .push_bind(author.and_then(|a| a.url.clone()))
                    .push_bind(author.and_then(|a| a.followers).map(clamp_u64))
                    .push_bind(&m.lang)
                    .push_bind(&m.in_reply_to)
                    .push_bind(m.fingerprint as i64)
                    .push_bind(m.duplicate_of.map(|d| d.0))
                    .push_bind(write.rev);
            });
            sql.build().execute(&mut *tx).await.map_err(|e| {
                let first = &chunk[0].mention;
                StoreError::Database(format!(
                    "inserting {} mentions (the first from source {:?}, external id {:?}): {e}",
                    chunk.len(),
                    first.source,
                    first.external_id
                ))
            })?;
            outcome
                .inserted
                .extend(chunk.iter().map(|w| MentionId(w.id)));
        }

        let brand_rows: Vec<(i64, &str)> = writes
            .iter()
            .flat_map(|w| w.mention.brands.iter().map(move |b| (w.id, b.as_str())))
            .collect();
        for chunk in brand_rows.chunks(BRAND_ROWS_PER_INSERT) {
            let mut sql =
                QueryBuilder::<Sqlite>::new("INSERT INTO mention_brands (mention_id, brand) ");
            sql.push_values(chunk, |mut row, (id, brand)| {
                row.push_bind(*id).push_bind(*brand);
            });
            sql.build()
                .execute(&mut *tx)
                .await
                .map_err(db_error("storing the brands of mentions"))?;
        }

        let analysed: Vec<(i64, &NewMention)> = writes.iter().map(|w| (w.id, &w.mention)).collect();
        write_analyses(&mut tx, &analysed).await?;

        if let Some(progress) = &progress {
            sqlx::query(
                "INSERT INTO source_state (name, cursor, last_success_at, items_seen, items_stored) \
                 VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (name) DO UPDATE SET \
                 cursor = COALESCE(excluded.cursor, source_state.cursor), \
                 last_success_at = excluded.last_success_at, \
                 items_seen = source_state.items_seen + excluded.items_seen, \
                 items_stored = source_state.items_stored + excluded.items_stored",
            )
            .bind(&progress.name)
            .bind(&progress.cursor)
            .bind(micros(progress.success_at.unwrap_or(now)))
            .bind(clamp_u64(progress.items_seen))
            .bind(outcome.inserted.len() as i64)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                StoreError::Database(format!(
                    "updating the state of source {:?}: {e}",
                    progress.name
                ))
            })?;
        }
        if let Err(e) = tx.commit().await {
            // Whether the rows made it is unknown: the set is rebuilt rather than trusted.
            known_keys.reset();
            return Err(db_error("committing the batch")(e));
        }
        let batch_rev = max_rev + writes.len() as i64;
        known_keys.add_committed(writes.iter().map(|w| &w.mention), batch_rev);
        drop(known_keys);
        outcome.per_item = per_item_outcome(&input_keys, &writes);

        if writes.is_empty() || self.skip_indexing.load(Ordering::SeqCst) {
            return Ok(outcome);
        }
        if let Err(e) = self.index_batch(writes, max_rev, batch_rev).await {
            // The batch is safely in the database; the index takes the rows on its next
            // catch-up (the next write, search or open), since its recorded rev stays behind.
            tracing::error!(error = %e, "indexing a stored batch failed; it will be retried");
        }
        Ok(outcome)
    }

    async fn flush(&self) -> StoreResult<()> {
        let _write = self.write_lock.lock().await;
        self.finish_pending_index().await;
        self.commit_pending_index().await
    }

    async fn get(&self, id: MentionId) -> StoreResult<Option<Mention>> {
        let row = sqlx::query(&format!(
            "SELECT {MENTION_COLUMNS} FROM {MENTIONS_WITH_ANALYSIS} WHERE m.id = ?1"
        ))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error("loading a mention"))?;
        row.as_ref().map(mention_from_row).transpose()
    }

    async fn get_many(&self, ids: &[MentionId]) -> StoreResult<Vec<Mention>> {
        let raw: Vec<i64> = ids.iter().map(|id| id.0).collect();
        self.load_mentions_by_ids(&raw).await
    }

    async fn search(
        &self,
        filter: &MentionFilter,
        sort: SortOrder,
        cursor: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page> {
        let cursor = cursor.map(PageCursor::decode).transpose()?;
        let limit = limit.clamp(1, MAX_PAGE_SIZE);
        match filter.query.as_deref().filter(|q| !q.trim().is_empty()) {
            Some(query) => self.search_index(query, filter, sort, cursor, limit).await,
            None => self.search_database(filter, cursor, limit).await,
        }
    }

    async fn since_id(&self, after: MentionId, limit: usize) -> StoreResult<Vec<Mention>> {
        let rows = sqlx::query(&format!(
            "SELECT {MENTION_COLUMNS} FROM {MENTIONS_WITH_ANALYSIS} WHERE m.id > ?1 ORDER BY m.id LIMIT ?2"
        ))
        .bind(after.0)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("loading mentions by id"))?;
        rows.iter().map(mention_from_row).collect()
    }

    async fn fingerprints(&self) -> StoreResult<Vec<Fingerprint>> {
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT id, fingerprint FROM mentions WHERE duplicate_of IS NULL AND fingerprint != 0 ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("loading fingerprints"))?;
        Ok(rows
            .into_iter()
            .map(|(id, fingerprint)| Fingerprint {
                id: MentionId(id),
                fingerprint: fingerprint as u64,
            })
            .collect())
    }

    async fn source_state(&self, name: &str) -> StoreResult<Option<SourceState>> {
        let row = sqlx::query("SELECT * FROM source_state WHERE name = ?1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error("loading a source state"))?;
        row.as_ref().map(source_state_from_row).transpose()
    }

    async fn source_states(&self) -> StoreResult<Vec<SourceState>> {
        let rows = sqlx::query("SELECT * FROM source_state ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .map_err(db_error("loading source states"))?;
        rows.iter().map(source_state_from_row).collect()
    }

    async fn record_source_error(
        &self,
        name: &str,
        error: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO source_state (name, last_error_at, last_error) VALUES (?1, ?2, ?3) \
             ON CONFLICT (name) DO UPDATE SET last_error_at = excluded.last_error_at, \
             last_error = excluded.last_error",
        )
        .bind(name)
        .bind(micros(at))
        .bind(error)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::Database(format!("recording an error of source {name:?}: {e}")))?;
        Ok(())
    }

    async fn delete_source_state(&self, name: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM source_state WHERE name = ?1")
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::Database(format!("deleting source {name:?}: {e}")))?;
        Ok(())
    }

    async fn stats(&self) -> StoreResult<StoreStats> {
        let (mentions, duplicates): (i64, i64) =
            sqlx::query_as("SELECT COUNT(*), COUNT(duplicate_of) FROM mentions")
                .fetch_one(&self.pool)
                .await
                .map_err(db_error("counting mentions"))?;
        let counts = |sql: &'static str| async move {
            let rows: Vec<(String, i64)> = sqlx::query_as(sql)
                .fetch_all(&self.pool)
                .await
                .map_err(db_error("counting mentions per group"))?;
            StoreResult::Ok(
                rows.into_iter()
                    .map(|(name, count)| (name, u64::try_from(count).unwrap_or(0)))
                    .collect::<Vec<_>>(),
            )
        };
        Ok(StoreStats {
            mentions: u64::try_from(mentions).unwrap_or(0),
            duplicates: u64::try_from(duplicates).unwrap_or(0),
            per_brand: counts(
                "SELECT brand, COUNT(*) AS n FROM mention_brands GROUP BY brand ORDER BY n DESC, brand",
            )
            .await?,
            per_lang: counts(
                "SELECT lang, COUNT(*) AS n FROM mentions GROUP BY lang ORDER BY n DESC, lang",
            )
            .await?,
            per_source: counts(
                "SELECT source, COUNT(*) AS n FROM mentions GROUP BY source ORDER BY n DESC, source",
            )
            .await?,
        })
    }

    async fn reindex(&self, progress: &(dyn Fn(u64, u64) + Send + Sync)) -> StoreResult<u64> {
        let _write = self.write_lock.lock().await;
        self.finish_pending_index().await;
        if !self.index.try_take_writer()? {
            return Err(StoreError::Index(
                "another process holds the search index writer; stop it (e.g. `earshot serve`) and retry"
                    .into(),
            ));
        }
        let (total, max_rev): (i64, i64) =
            sqlx::query_as("SELECT COUNT(*), COALESCE(MAX(rev), 0) FROM mentions")
                .fetch_one(&self.pool)
                .await
                .map_err(db_error("counting mentions to index"))?;
        let total = u64::try_from(total).unwrap_or(0);
        let index = self.index.clone();
        tokio::task::spawn_blocking(move || index.begin_rebuild())
            .await
            .map_err(|e| StoreError::Index(format!("reindex task failed: {e}")))??;
        progress(0, total);
        let mut done = 0u64;
        let mut after_id = 0i64;
        loop {
            let (docs, _) = load_index_docs(
                &self.pool,
                "m.id > ?1 AND m.rev <= ?2 ORDER BY m.id",
                after_id,
                i64::MAX,
            )
            .await?;
            let Some(last) = docs.last() else { break };
            after_id = last.id;
            done += docs.len() as u64;
            let index = self.index.clone();
            tokio::task::spawn_blocking(move || index.add_uncommitted(&docs))
                .await
                .map_err(|e| StoreError::Index(format!("reindex task failed: {e}")))??;
            progress(done, total.max(done));
        }
        let index = self.index.clone();
        tokio::task::spawn_blocking(move || index.finish_rebuild(max_rev))
            .await
            .map_err(|e| StoreError::Index(format!("reindex task failed: {e}")))??;
        // Rows written by other processes while we read are above `max_rev` and follow now.
        self.catch_up_index(i64::MAX).await?;
        Ok(done)
    }
}

impl SqliteStore {
    async fn index_batch(
        &self,
        writes: Vec<PlannedWrite>,
        rev_before: i64,
        batch_rev: i64,
    ) -> StoreResult<()> {
        if !self.index.try_take_writer()? {
            return Ok(());
        }
        // Rows other processes committed before this batch go in first, so the recorded rev
        // never jumps over rows the index has not seen.
        self.catch_up_index(rev_before).await?;
        if self.index.added_rev() < rev_before {
            return Ok(());
        }
        let docs: Vec<IndexDoc> = writes
            .into_iter()
            .map(|write| {
                let (source, published_at, duplicate_of) = match &write.existing {
                    Some(row) => (row.source.clone(), row.published_at, row.duplicate_of),
                    None => (
                        write.mention.source.clone(),
                        micros(write.mention.published_at),
                        write.mention.duplicate_of.map(|d| d.0),
                    ),
                };
                IndexDoc {
                    id: write.id,
                    may_exist: write.existing.is_some(),
                    title: write.mention.title,
                    text: write.mention.text,
                    brands: write.mention.brands,
                    lang: write.mention.lang,
                    source,
                    published_at_micros: published_at,
                    is_duplicate: duplicate_of.is_some(),
                }
            })
            .collect();
        let index = self.index.clone();
        let job = tokio::task::spawn_blocking(move || index.apply(&docs, false, batch_rev));
        if let Ok(mut pending) = self.pending_index.lock() {
            *pending = Some(job);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    fn item(source: u8, external: Option<u8>, canonical: Option<u8>, order: usize) -> NewMention {
        let mut m =
            crate::testsuite::mention(&format!("s{source}"), "x", &format!("item {order}"), 0);
        m.external_id = external.map(|e| format!("e{e}"));
        m.canonical_url = canonical.map(|c| format!("https://c.example/{c}"));
        m
    }

    proptest! {
        #[test]
        fn merging_leaves_no_two_items_with_one_key(
            keys in proptest::collection::vec(
                (0u8..3, proptest::option::of(0u8..6), proptest::option::of(0u8..6)),
                0..40,
            )
        ) {
            let input: Vec<NewMention> = keys
                .iter()
                .enumerate()
                .map(|(order, (s, e, c))| item(*s, *e, *c, order))
                .collect();
            let merged = merge_within_batch(input.clone());
            let mut externals = HashSet::new();
            let mut canonicals = HashSet::new();
            for m in &merged {
                if let Some(e) = &m.external_id {
                    prop_assert!(externals.insert((m.source.clone(), e.clone())), "two items with {e}");
                }
                if let Some(c) = &m.canonical_url {
                    prop_assert!(canonicals.insert(c.clone()), "two items with {c}");
                }
            }
            // An item sharing no key with any other item is kept as it was.
            for (index, m) in input.iter().enumerate() {
                let shares_a_key = input.iter().enumerate().any(|(other_index, other)| {
                    other_index != index
                        && ((m.external_id.is_some()
                            && m.external_id == other.external_id
                            && m.source == other.source)
                            || (m.canonical_url.is_some() && m.canonical_url == other.canonical_url))
                });
                if !shares_a_key {
                    prop_assert!(merged.contains(m), "{m:?} was lost");
                }
            }
            prop_assert!(merged.len() <= input.len());
            // The last item always survives as it was given.
            if let Some(last) = input.last() {
                prop_assert!(merged.iter().any(|m| m.text == last.text));
            }
        }
    }
}
