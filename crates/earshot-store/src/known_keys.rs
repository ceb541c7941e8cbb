//! Which deduplication keys (`(source, external_id)` and canonical URL) the database may hold,
//! kept in memory so that a large batch looks up in the database only the items that could
//! exist already.
//!
//! Looking up 20,000 keys of an import batch in the two unique indexes costs as much as
//! inserting them (the same random B-tree descents, on indexes that outgrow the page cache
//! as the store grows), and in an import almost every key is new. A set of 64-bit key hashes
//! answers "certainly new" for those; a hash present (an existing key, or a rare collision)
//! sends the item to the database lookup as before, so a false positive costs time, never
//! correctness.
//!
//! The set must hold every key in the database. It is filled on first use and, inside each
//! write transaction (`BEGIN IMMEDIATE`, so no other writer runs in between), brought up to
//! date with the rows other processes wrote since: every insert and update takes a new `rev`,
//! and mentions are never deleted, so the rows with a `rev` above the one the set covers are
//! exactly what it may lack. Keys of a batch are added only after its commit.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hash, Hasher};

use rustc_hash::FxHasher;

use earshot_core::NewMention;
use sqlx::{Row, SqliteConnection};

use crate::sqlite::db_error;
use crate::StoreResult;

/// Batches at least this large load the set; smaller ones (a source's poll) look every key up
/// in the database, which is cheap for them, until some import has loaded it.
pub(crate) const KNOWN_KEYS_MIN_BATCH: usize = 1_000;

/// The set's values are hashes already; hashing them again would only cost time.
#[derive(Default)]
pub(crate) struct PassThroughHasher(u64);

impl Hasher for PassThroughHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used; this keeps the hasher correct for any other input.
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

pub(crate) struct KnownKeys {
    hashes: HashSet<u64, BuildHasherDefault<PassThroughHasher>>,
    /// Every row with a `rev` up to this one has its keys in `hashes`; `None`: not loaded.
    covered_rev: Option<i64>,
}

fn external_key(source: &str, external_id: &str) -> u64 {
    // FxHash: stable within the process, which is all an in-memory set needs, and several times
    // cheaper than SipHash on the serial write path (a collision only costs a database lookup).
    // The tag and the length prefix keep the two key kinds and the two parts of a pair from
    // running into each other.
    let mut hasher = FxHasher::default();
    0u8.hash(&mut hasher);
    source.hash(&mut hasher);
    external_id.hash(&mut hasher);
    hasher.finish()
}

fn url_key(canonical_url: &str) -> u64 {
    let mut hasher = FxHasher::default();
    1u8.hash(&mut hasher);
    canonical_url.hash(&mut hasher);
    hasher.finish()
}

impl KnownKeys {
    pub fn new() -> Self {
        KnownKeys {
            hashes: HashSet::default(),
            covered_rev: None,
        }
    }

    pub fn is_loaded(&self) -> bool {
        self.covered_rev.is_some()
    }

    /// Adds the keys of rows with `rev` above the covered one (all rows when not loaded yet)
    /// and records `up_to_rev`, the database's highest `rev`, as covered. The caller holds the
    /// write transaction, so no row can appear between this read and its commit.
    pub async fn catch_up(
        &mut self,
        conn: &mut SqliteConnection,
        up_to_rev: i64,
    ) -> StoreResult<()> {
        let from = self.covered_rev.unwrap_or(i64::MIN);
        if from >= up_to_rev {
            return Ok(());
        }
        let rows = sqlx::query(
            "SELECT source, external_id, canonical_url FROM mentions WHERE rev > ?1 AND rev <= ?2",
        )
        .bind(from)
        .bind(up_to_rev)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error("reading the keys of stored mentions"))?;
        self.hashes.reserve(rows.len() * 2);
        for row in &rows {
            let read = db_error("reading the keys of a stored mention");
            let source: String = row.try_get("source").map_err(&read)?;
            let external_id: Option<String> = row.try_get("external_id").map_err(&read)?;
            let canonical_url: Option<String> = row.try_get("canonical_url").map_err(&read)?;
            if let Some(external_id) = external_id {
                self.hashes.insert(external_key(&source, &external_id));
            }
            if let Some(url) = canonical_url {
                self.hashes.insert(url_key(&url));
            }
        }
        self.covered_rev = Some(up_to_rev);
        Ok(())
    }

    /// Whether a stored mention may have one of `mention`'s keys. `false` is certain.
    pub fn may_exist(&self, mention: &NewMention) -> bool {
        let by_external = mention
            .external_id
            .as_deref()
            .is_some_and(|e| self.hashes.contains(&external_key(&mention.source, e)));
        by_external
            || mention
                .canonical_url
                .as_deref()
                .is_some_and(|url| self.hashes.contains(&url_key(url)))
    }

    /// Records the keys of a committed batch, whose rows take `rev`s up to `batch_rev`.
    pub fn add_committed<'a>(
        &mut self,
        mentions: impl Iterator<Item = &'a NewMention>,
        batch_rev: i64,
    ) {
        if !self.is_loaded() {
            return;
        }
        for mention in mentions {
            if let Some(external_id) = &mention.external_id {
                self.hashes
                    .insert(external_key(&mention.source, external_id));
            }
            if let Some(url) = &mention.canonical_url {
                self.hashes.insert(url_key(url));
            }
        }
        self.covered_rev = self.covered_rev.max(Some(batch_rev));
    }

    /// Forgets everything: the next large batch loads the set again. Used when a commit's
    /// outcome is unknown.
    pub fn reset(&mut self) {
        self.hashes = HashSet::default();
        self.covered_rev = None;
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.hashes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_kinds_and_parts_do_not_collide() {
        assert_ne!(external_key("a", "bc"), external_key("ab", "c"));
        assert_ne!(external_key("feed", "x"), url_key("x"));
        assert_eq!(
            url_key("https://a.example/1"),
            url_key("https://a.example/1")
        );
    }

    #[test]
    fn only_keys_added_after_loading_count() {
        let mut keys = KnownKeys::new();
        let mut mention = crate::testsuite::mention("feed", "1", "text", 0);
        mention.canonical_url = Some("https://feed.example/1".into());
        keys.add_committed(std::iter::once(&mention), 1);
        assert!(!keys.is_loaded(), "an unloaded set stays unloaded");
        assert_eq!(keys.len(), 0);
        keys.covered_rev = Some(0);
        keys.add_committed(std::iter::once(&mention), 1);
        assert!(keys.may_exist(&mention));
        let other = crate::testsuite::mention("feed", "2", "text", 0);
        assert!(!keys.may_exist(&other));
        let mut same_url = crate::testsuite::mention("other", "9", "text", 0);
        same_url.canonical_url = mention.canonical_url.clone();
        assert!(keys.may_exist(&same_url), "found by its canonical URL");
        same_url.canonical_url = Some("https://feed.example/2".into());
        assert!(!keys.may_exist(&same_url));
    }
}
