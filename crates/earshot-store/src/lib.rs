//! Earshot's storage. Callers speak to the [`Store`] trait only; the SQLite implementation
//! ([`SqliteStore`]) is the default, and a PostgreSQL one can be added beside it without
//! touching callers. No SQL exists outside this crate.
//!
//! The full-text index (tantivy) is kept by the store itself: every write that commits to
//! the database is indexed, and an index that fell behind (a crash between the database
//! commit and the index commit) catches up when the store is opened.

pub mod analysis;
mod auth;
mod cursor;
pub mod fts5_baseline;
pub mod inbox;
pub mod inbox_batch;
pub mod inbox_team_testsuite;
pub mod inbox_testsuite;
pub mod inbox_views;
mod index;
mod known_keys;
pub mod links;
pub mod outbox;
pub mod publications;
pub mod publications_testsuite;
pub mod publishing;
pub mod publishing_testsuite;
mod sqlite;
mod sqlite_inbox;
mod sqlite_memory;
pub mod testsuite;
pub mod testsuite_auth;
pub mod testsuite_inbox_ops;
pub mod user_contacts;

pub use analysis::AnalysisStore;
pub use auth::{AuthStore, LoginFailures, NewSession, NewToken, NewUser, Session};
pub use inbox::{ConversationPage, InboxError, InboxStore, MAX_CONVERSATION_PAGE};
pub use inbox_batch::InboxBatchStore;
pub use inbox_views::SavedViewStore;
pub use links::{CampaignStore, LinkStore};
pub use outbox::{Enqueued, OutboxStore, MAX_OUTBOX_PAGE};
pub use publications::{PublicationStore, MAX_PUBLICATION_PAGE};
pub use publishing::{AccountPost, PostFilter, PublishingStore};
pub use sqlite::{SqliteStore, MAX_PAGE_SIZE};
pub use sqlite_memory::use_rust_allocator_for_sqlite;
pub use user_contacts::UserContactStore;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use earshot_core::{Mention, MentionFilter, MentionId, NewMention, SortOrder, SourceState};
use serde::{Deserialize, Serialize};

/// Errors a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(String),
    #[error("search index error: {0}")]
    Index(String),
    #[error("invalid search query: {0}")]
    Query(String),
    #[error("invalid page cursor")]
    BadCursor,
    #[error("migration failed: {0}")]
    Migration(String),
    /// The record asked for does not exist; the message names it.
    #[error("{0}")]
    NotFound(String),
    /// The write would break a uniqueness rule; the message names the clash.
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Inbox(#[from] InboxError),
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// What one committed batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Mentions stored for the first time.
    pub inserted: Vec<MentionId>,
    /// Mentions that already existed (same `(source, external_id)` or canonical URL) and
    /// were updated in place.
    pub updated: Vec<MentionId>,
    /// One entry per mention handed to `write_batch`, in the same order: the id it has in
    /// the store and whether it was newly inserted (`true`) or updated (`false`). The
    /// pipeline needs it to add new originals to its near-duplicate index.
    pub per_item: Vec<(MentionId, bool)>,
}

/// The per-source figures to fold into its state in the same transaction as its items.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceProgress {
    pub name: String,
    /// The cursor to persist once the batch is committed; `None` keeps the old one.
    pub cursor: Option<String>,
    pub items_seen: u64,
    pub success_at: Option<DateTime<Utc>>,
}

/// A page of results and the cursor that fetches the next one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Page {
    pub mentions: Vec<Mention>,
    /// Opaque; pass back as `cursor` to continue. `None` on the last page.
    pub next_cursor: Option<String>,
}

/// A near-duplicate fingerprint of a stored original (not itself a duplicate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    pub id: MentionId,
    pub fingerprint: u64,
}

/// Counts for the status line and the pages.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoreStats {
    pub mentions: u64,
    pub duplicates: u64,
    pub per_brand: Vec<(String, u64)>,
    pub per_lang: Vec<(String, u64)>,
    pub per_source: Vec<(String, u64)>,
}

#[async_trait]
pub trait Store:
    AuthStore
    + AnalysisStore
    + InboxStore
    + InboxBatchStore
    + SavedViewStore
    + OutboxStore
    + UserContactStore
    + PublicationStore
    + PublishingStore
    + LinkStore
    + CampaignStore
    + Send
    + Sync
    + 'static
{
    /// Store a batch in one transaction: each mention is inserted, or updated in place when
    /// one with the same `(source, external_id)` or the same canonical URL exists. When
    /// `progress` is given, the source's cursor and counters are updated in the same
    /// transaction, so a crash stores both or neither.
    async fn write_batch(
        &self,
        mentions: Vec<NewMention>,
        progress: Option<SourceProgress>,
    ) -> StoreResult<BatchOutcome>;

    /// The mention with its analysis and the corrections in force.
    async fn get(&self, id: MentionId) -> StoreResult<Option<Mention>>;

    /// Several mentions in one read, in the order of `ids`; ids with no mention are left out.
    /// Pages that show one mention per row (the inbox) use it instead of a `get` per row.
    async fn get_many(&self, ids: &[MentionId]) -> StoreResult<Vec<Mention>>;

    /// Filtered and (when `filter.query` is set) full-text searched mentions, one page. The
    /// analysis filters (sentiment, intent, spam) count a correction before the model's label.
    async fn search(
        &self,
        filter: &MentionFilter,
        sort: SortOrder,
        cursor: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page>;

    /// Mentions with an id greater than `after`, oldest first (live updates, export).
    async fn since_id(&self, after: MentionId, limit: usize) -> StoreResult<Vec<Mention>>;

    /// Fingerprints of stored originals, for the near-duplicate index kept in memory.
    async fn fingerprints(&self) -> StoreResult<Vec<Fingerprint>>;

    async fn source_state(&self, name: &str) -> StoreResult<Option<SourceState>>;
    async fn source_states(&self) -> StoreResult<Vec<SourceState>>;
    /// Record a failed poll: the error and its time; the cursor is left untouched.
    async fn record_source_error(
        &self,
        name: &str,
        error: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Forget a removed source's cursor and figures.
    async fn delete_source_state(&self, name: &str) -> StoreResult<()>;

    async fn stats(&self) -> StoreResult<StoreStats>;

    /// Make everything written so far durable in the search index (the index may commit
    /// batches in groups). Called at the end of an import, before a process exits.
    async fn flush(&self) -> StoreResult<()> {
        Ok(())
    }

    /// Rebuild the search index from the database; `progress(done, total)` is called as it goes.
    async fn reindex(&self, progress: &(dyn Fn(u64, u64) + Send + Sync)) -> StoreResult<u64>;
}
