//! The tantivy search index kept beside the database.
//!
//! Words are analysed by `earshot-text` (the same tokenizer, folding and stemming that brand
//! matching uses), so a search finds exactly what a brand query would match.
//!
//! Writing: one process at a time may hold tantivy's writer lock. The store that holds it
//! indexes every row whose `rev` is above the one recorded in the last commit's payload, so it
//! also picks up rows written by other processes sharing the workspace. A store that finds the
//! lock taken (`LockBusy`) searches read-only, leaves indexing to the holder, and tries to take
//! the lock again before each of its own writes and searches.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

use earshot_core::{MentionFilter, MentionId, SortOrder};
use earshot_text::query::{Query as TextQuery, QueryNode};
use serde::{Deserialize, Serialize};
use tantivy::collector::TopDocs;
use tantivy::directory::error::LockError;
use tantivy::directory::MmapDirectory;
use tantivy::query::{
    AllQuery, BooleanQuery, ConstScoreQuery, EmptyQuery, Occur, PhraseQuery, Query, RangeQuery,
    TermQuery,
};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED, STORED, STRING,
};
use tantivy::tokenizer::{TextAnalyzer, Token, TokenStream, Tokenizer};
use tantivy::{
    DocAddress, DocId, Index, IndexReader, IndexWriter, ReloadPolicy, Score, SegmentReader,
    TantivyDocument, TantivyError, Term,
};

use crate::{StoreError, StoreResult};

const STEMMED_TOKENIZER: &str = "earshot_stemmed";
const FOLDED_TOKENIZER: &str = "earshot_folded";
/// tantivy refuses terms longer than 65,530 bytes; no real word is this long, so longer
/// "words" (base64 blobs and the like) are left out of the index rather than failing a batch.
const MAX_TERM_BYTES: usize = 255;
const WRITER_HEAP_BYTES: usize = 96 * 1024 * 1024;
const WRITER_THREADS: usize = 2;
/// Distinct words whose analysis is remembered while indexing; the cache starts over when full.
const WORD_CACHE_ENTRIES: usize = 100_000;

thread_local! {
    /// Word as written → (folded, stemmed), per indexing thread. Texts repeat words a lot and
    /// folding and stemming cost more than a lookup; every word still goes through `earshot-text`.
    static WORD_CACHE: RefCell<HashMap<String, (String, String)>> = RefCell::new(HashMap::new());
}

/// Writes the folded (or folded and stemmed) form of a word into `term`, from the cache when
/// the word was seen before.
fn analyse_word_into(word: &str, stemmed: bool, term: &mut String) {
    term.clear();
    WORD_CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some((folded, stem)) = cache.get(word) {
            term.push_str(if stemmed { stem } else { folded });
            return;
        }
        if cache.len() >= WORD_CACHE_ENTRIES {
            cache.clear();
        }
        let folded = earshot_text::analysis::fold(word);
        let stem = earshot_text::analysis::stem(&folded);
        term.push_str(if stemmed { &stem } else { &folded });
        cache.insert(word.to_owned(), (folded, stem));
    })
}

/// Turns text into index terms with `earshot-text`: folded and stemmed for the main fields,
/// folded only for `text_exact`.
#[derive(Clone)]
struct EarshotTokenizer {
    stemmed: bool,
    tokens: Vec<Token>,
}

impl EarshotTokenizer {
    fn new(stemmed: bool) -> Self {
        EarshotTokenizer {
            stemmed,
            tokens: Vec::new(),
        }
    }
}

struct BufferedTokenStream<'a> {
    tokens: &'a mut [Token],
    /// Index of the current token plus one; zero before the first `advance`.
    next: usize,
}

impl TokenStream for BufferedTokenStream<'_> {
    fn advance(&mut self) -> bool {
        if self.next < self.tokens.len() {
            self.next += 1;
            true
        } else {
            false
        }
    }

    fn token(&self) -> &Token {
        &self.tokens[self.next.saturating_sub(1)]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next.saturating_sub(1)]
    }
}

impl Tokenizer for EarshotTokenizer {
    type TokenStream<'a> = BufferedTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> BufferedTokenStream<'a> {
        // The tokens of earlier texts are overwritten in place: their strings keep their
        // buffers, so indexing a text allocates nothing for words seen before.
        let mut used = 0;
        for word in earshot_text::analysis::tokenize(text) {
            if used == self.tokens.len() {
                self.tokens.push(Token::default());
            }
            let token = &mut self.tokens[used];
            analyse_word_into(word.text, self.stemmed, &mut token.text);
            if token.text.is_empty() || token.text.len() > MAX_TERM_BYTES {
                continue;
            }
            token.offset_from = word.offset;
            token.offset_to = word.offset + word.text.len();
            token.position = word.position;
            token.position_length = 1;
            used += 1;
        }
        BufferedTokenStream {
            tokens: &mut self.tokens[..used],
            next: 0,
        }
    }
}

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    text: Field,
    title: Field,
    text_exact: Field,
    brand: Field,
    lang: Field,
    source: Field,
    published_at: Field,
    is_duplicate: Field,
}

fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let stemmed = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(STEMMED_TOKENIZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let folded = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(FOLDED_TOKENIZER)
            .set_index_option(IndexRecordOption::Basic),
    );
    let fields = Fields {
        id: builder.add_u64_field("id", INDEXED | FAST | STORED),
        text: builder.add_text_field("text", stemmed.clone()),
        title: builder.add_text_field("title", stemmed),
        text_exact: builder.add_text_field("text_exact", folded),
        brand: builder.add_text_field("brand", STRING),
        lang: builder.add_text_field("lang", STRING),
        source: builder.add_text_field("source", STRING),
        published_at: builder.add_i64_field("published_at", INDEXED | FAST),
        is_duplicate: builder.add_u64_field("is_duplicate", INDEXED | FAST),
    };
    (builder.build(), fields)
}

/// What the index needs of a mention.
#[derive(Debug, Clone)]
pub(crate) struct IndexDoc {
    pub id: i64,
    pub title: Option<String>,
    pub text: String,
    pub brands: Vec<String>,
    pub lang: String,
    pub source: String,
    pub published_at_micros: i64,
    pub is_duplicate: bool,
    /// Whether an older version of this document may be in the index.
    pub may_exist: bool,
}

#[derive(Serialize, Deserialize)]
struct CommitPayload {
    rev: i64,
}

pub(crate) struct SearchIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    writer: Mutex<Option<IndexWriter>>,
    /// Highest `rev` of the database known to be in the index (as of its last commit).
    indexed_rev: AtomicI64,
    /// Highest `rev` handed to the writer, committed or not. Catch-up starts after it, so
    /// documents waiting for the next commit are never added twice.
    added_rev: AtomicI64,
    /// When the writer last committed. A commit flushes segments and syncs files, which costs
    /// more than indexing a batch, so batches arriving in quick succession share one commit.
    last_commit: Mutex<std::time::Instant>,
}

/// Batches written within this long of the last commit wait for the next one (or for a search,
/// which commits whatever is waiting first, so searches in this process never see less). Each
/// commit turns the segments being built into small segments that later merges rewrite; at
/// 2 s an import made ~60 small segments per million mentions, and each commit makes the writer
/// wait for the segments to be written, so a bulk import commits every 30 s. Another process
/// reading the index sees new documents up to this late; a crash loses nothing (catch-up on
/// open).
const COMMIT_AT_MOST_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

fn index_error(context: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Index(format!("{context}: {error}"))
}

impl SearchIndex {
    pub fn open(dir: &Path) -> StoreResult<SearchIndex> {
        std::fs::create_dir_all(dir)
            .map_err(|e| index_error(&format!("creating {}", dir.display()), e))?;
        let directory = MmapDirectory::open(dir)
            .map_err(|e| index_error(&format!("opening {}", dir.display()), e))?;
        let (schema, fields) = schema();
        let index = Index::open_or_create(directory, schema).map_err(|e| {
            index_error(
                &format!(
                    "opening the search index in {} (run `earshot reindex` after removing it if its layout is outdated)",
                    dir.display()
                ),
                e,
            )
        })?;
        index.tokenizers().register(
            STEMMED_TOKENIZER,
            TextAnalyzer::from(EarshotTokenizer::new(true)),
        );
        index.tokenizers().register(
            FOLDED_TOKENIZER,
            TextAnalyzer::from(EarshotTokenizer::new(false)),
        );
        // Commits by another process are picked up by the file watcher; our own commits reload
        // explicitly so that a search right after a write sees it.
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::OnCommitWithDelay)
            .try_into()
            .map_err(|e| index_error("opening the index reader", e))?;
        let search_index = SearchIndex {
            index,
            reader,
            fields,
            writer: Mutex::new(None),
            indexed_rev: AtomicI64::new(0),
            added_rev: AtomicI64::new(0),
            // As if the last commit were long ago: the first batch (often a catch-up on open)
            // commits at once.
            last_commit: Mutex::new(
                std::time::Instant::now()
                    .checked_sub(COMMIT_AT_MOST_EVERY)
                    .unwrap_or_else(std::time::Instant::now),
            ),
        };
        search_index.refresh_indexed_rev()?;
        search_index.try_take_writer()?;
        Ok(search_index)
    }

    fn refresh_indexed_rev(&self) -> StoreResult<i64> {
        let metas = self
            .index
            .load_metas()
            .map_err(|e| index_error("reading the index metadata", e))?;
        let rev = metas
            .payload
            .as_deref()
            .and_then(|payload| serde_json::from_str::<CommitPayload>(payload).ok())
            .map_or(0, |payload| payload.rev);
        self.indexed_rev.store(rev, Ordering::SeqCst);
        self.added_rev.store(rev, Ordering::SeqCst);
        Ok(rev)
    }

    pub fn indexed_rev(&self) -> i64 {
        self.indexed_rev.load(Ordering::SeqCst)
    }

    pub fn added_rev(&self) -> i64 {
        self.added_rev.load(Ordering::SeqCst)
    }

    /// Commits documents added since the last commit, if any. Blocking.
    pub fn commit_pending(&self) -> StoreResult<()> {
        let mut guard = self.lock_writer()?;
        let Some(writer) = guard.as_mut() else {
            return Ok(());
        };
        if self.added_rev() <= self.indexed_rev() {
            return Ok(());
        }
        self.commit_locked(writer)?;
        drop(guard);
        self.reload_reader()
    }

    /// Commits what the writer holds with the highest added rev as payload; on failure the
    /// uncommitted documents are dropped and catch-up will add them again.
    fn commit_locked(&self, writer: &mut IndexWriter) -> StoreResult<()> {
        let rev = self.added_rev();
        let payload = serde_json::to_string(&CommitPayload { rev })
            .expect("a struct of one integer always serializes");
        let result = writer.prepare_commit().and_then(|mut prepared| {
            prepared.set_payload(&payload);
            prepared.commit()
        });
        if let Err(e) = result {
            let _ = writer.rollback();
            self.added_rev.store(self.indexed_rev(), Ordering::SeqCst);
            return Err(index_error("committing the search index", e));
        }
        self.indexed_rev.fetch_max(rev, Ordering::SeqCst);
        if let Ok(mut last) = self.last_commit.lock() {
            *last = std::time::Instant::now();
        }
        Ok(())
    }

    /// Takes tantivy's writer lock when nobody holds it. Returns whether this store holds it.
    pub fn try_take_writer(&self) -> StoreResult<bool> {
        let mut writer = self.lock_writer()?;
        if writer.is_some() {
            return Ok(true);
        }
        match self
            .index
            .writer_with_num_threads(WRITER_THREADS, WRITER_HEAP_BYTES)
        {
            Ok(taken) => {
                *writer = Some(taken);
                drop(writer);
                // The previous holder may have committed since we last looked.
                self.refresh_indexed_rev()?;
                self.reload_reader()?;
                Ok(true)
            }
            Err(TantivyError::LockFailure(LockError::LockBusy, _)) => Ok(false),
            Err(e) => Err(index_error("opening the index writer", e)),
        }
    }

    fn lock_writer(&self) -> StoreResult<std::sync::MutexGuard<'_, Option<IndexWriter>>> {
        self.writer
            .lock()
            .map_err(|_| StoreError::Index("the index writer was poisoned by a panic".into()))
    }

    pub fn reload_reader(&self) -> StoreResult<()> {
        self.reader
            .reload()
            .map_err(|e| index_error("reloading the index reader", e))
    }

    pub fn holds_writer(&self) -> bool {
        self.writer.lock().map(|w| w.is_some()).unwrap_or(false)
    }

    fn document(&self, doc: &IndexDoc) -> TantivyDocument {
        let f = &self.fields;
        let mut document = TantivyDocument::new();
        document.add_u64(f.id, doc.id as u64);
        if let Some(title) = doc.title.as_deref() {
            document.add_text(f.title, title);
            document.add_text(f.text_exact, title);
        }
        document.add_text(f.text, &doc.text);
        document.add_text(f.text_exact, &doc.text);
        for brand in &doc.brands {
            document.add_text(f.brand, brand);
        }
        document.add_text(f.lang, &doc.lang);
        document.add_text(f.source, &doc.source);
        document.add_i64(f.published_at, doc.published_at_micros);
        document.add_u64(f.is_duplicate, u64::from(doc.is_duplicate));
        document
    }

    /// Adds (or replaces) documents and commits, recording `rev` as indexed. Blocking.
    /// Returns false, doing nothing, when another process holds the writer.
    pub fn apply(&self, docs: &[IndexDoc], replace_all: bool, rev: i64) -> StoreResult<bool> {
        let mut guard = self.lock_writer()?;
        let Some(writer) = guard.as_mut() else {
            return Ok(false);
        };
        let added = (|| -> tantivy::Result<()> {
            if replace_all {
                writer.delete_all_documents()?;
            }
            for doc in docs {
                if doc.may_exist && !replace_all {
                    writer.delete_term(Term::from_field_u64(self.fields.id, doc.id as u64));
                }
                writer.add_document(self.document(doc))?;
            }
            Ok(())
        })();
        if let Err(e) = added {
            // Whatever was added since the last commit is thrown away, so the index stays at
            // its last good commit and the rows are picked up again by the next catch-up.
            let _ = writer.rollback();
            self.added_rev.store(self.indexed_rev(), Ordering::SeqCst);
            return Err(index_error("writing the search index", e));
        }
        self.added_rev.fetch_max(rev, Ordering::SeqCst);
        let commit_due = replace_all
            || self
                .last_commit
                .lock()
                .map_or(true, |last| last.elapsed() >= COMMIT_AT_MOST_EVERY);
        if !commit_due {
            return Ok(true);
        }
        self.commit_locked(writer)?;
        drop(guard);
        self.reload_reader()?;
        Ok(true)
    }

    /// Adds documents without committing (used by `reindex`, which commits once at the end).
    pub fn begin_rebuild(&self) -> StoreResult<()> {
        let mut guard = self.lock_writer()?;
        let writer = guard.as_mut().ok_or_else(not_writer)?;
        writer
            .delete_all_documents()
            .map_err(|e| index_error("clearing the search index", e))?;
        Ok(())
    }

    pub fn add_uncommitted(&self, docs: &[IndexDoc]) -> StoreResult<()> {
        let mut guard = self.lock_writer()?;
        let writer = guard.as_mut().ok_or_else(not_writer)?;
        for doc in docs {
            if let Err(e) = writer.add_document(self.document(doc)) {
                let _ = writer.rollback();
                return Err(index_error("rebuilding the search index", e));
            }
        }
        Ok(())
    }

    pub fn finish_rebuild(&self, rev: i64) -> StoreResult<()> {
        let mut guard = self.lock_writer()?;
        let writer = guard.as_mut().ok_or_else(not_writer)?;
        self.added_rev.store(rev, Ordering::SeqCst);
        self.commit_locked(writer)?;
        drop(guard);
        self.reload_reader()
    }

    /// Drops the writer, releasing tantivy's lock for other processes. Blocking: waits for
    /// the indexing threads to stop.
    pub fn release_writer(&self) {
        if let Ok(mut guard) = self.writer.lock() {
            if let Some(writer) = guard.take() {
                let _ = writer.wait_merging_threads();
            }
        }
    }

    /// Searches with a parsed query and the filter, returning mention ids in page order and
    /// whether more results follow.
    pub fn search(
        &self,
        query: &TextQuery,
        filter: &MentionFilter,
        sort: SortOrder,
        position: SearchPosition,
        limit: usize,
    ) -> StoreResult<(Vec<SearchHit>, bool)> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> =
            vec![(Occur::Must, self.translate(query.root()))];
        for filter_query in self.filter_clauses(filter, &position) {
            clauses.push((
                Occur::Must,
                Box::new(ConstScoreQuery::new(filter_query, 0.0)),
            ));
        }
        let full_query = BooleanQuery::new(clauses);
        let searcher = self.reader.searcher();
        let fetch = limit + 1;
        let id_of = |address: DocAddress| -> StoreResult<i64> {
            let column = searcher
                .segment_reader(address.segment_ord)
                .fast_fields()
                .u64("id")
                .map_err(|e| index_error("reading ids", e))?;
            column
                .first(address.doc_id)
                .map(|id| id as i64)
                .ok_or_else(|| StoreError::Index("an indexed document has no id".into()))
        };
        let mut hits = Vec::with_capacity(fetch);
        match sort {
            SortOrder::Relevance => {
                let offset = match position {
                    SearchPosition::Offset(offset) => offset,
                    _ => 0,
                };
                let collector = TopDocs::with_limit(fetch).and_offset(offset);
                let found: Vec<(Score, DocAddress)> = searcher
                    .search(&full_query, &collector)
                    .map_err(|e| index_error("searching", e))?;
                for (_, address) in found {
                    hits.push(SearchHit {
                        id: id_of(address)?,
                        published_at_micros: 0,
                    });
                }
            }
            SortOrder::Newest => {
                let before = match position {
                    SearchPosition::Before { published_at, id } => Some((published_at, id)),
                    _ => None,
                };
                let collector =
                    TopDocs::with_limit(fetch).custom_score(move |segment: &SegmentReader| {
                        let published = segment.fast_fields().i64("published_at").ok();
                        let ids = segment.fast_fields().u64("id").ok();
                        move |doc: DocId| {
                            let published_at = published
                                .as_ref()
                                .and_then(|c| c.first(doc))
                                .unwrap_or(i64::MIN);
                            let id = ids.as_ref().and_then(|c| c.first(doc)).unwrap_or(0) as i64;
                            // The range clause keeps only rows at or before the cursor's time;
                            // rows at that time but not before it in id order sink below every
                            // real hit and are dropped after collection.
                            match before {
                                Some(cursor) if (published_at, id) >= cursor => {
                                    (i64::MIN, i64::MIN)
                                }
                                _ => (published_at, id),
                            }
                        }
                    });
                let found: Vec<((i64, i64), DocAddress)> = searcher
                    .search(&full_query, &collector)
                    .map_err(|e| index_error("searching", e))?;
                for ((published_at, id), _) in found {
                    if (published_at, id) == (i64::MIN, i64::MIN) {
                        continue;
                    }
                    hits.push(SearchHit {
                        id,
                        published_at_micros: published_at,
                    });
                }
            }
        }
        let more = hits.len() > limit;
        hits.truncate(limit);
        Ok((hits, more))
    }

    fn filter_clauses(
        &self,
        filter: &MentionFilter,
        position: &SearchPosition,
    ) -> Vec<Box<dyn Query>> {
        let f = &self.fields;
        let mut clauses: Vec<Box<dyn Query>> = Vec::new();
        let raw_term = |field: Field, value: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_field_text(field, value),
                IndexRecordOption::Basic,
            ))
        };
        if let Some(brand) = &filter.brand {
            clauses.push(raw_term(f.brand, brand));
        }
        if let Some(lang) = &filter.lang {
            clauses.push(raw_term(f.lang, lang));
        }
        if let Some(source) = &filter.source {
            clauses.push(raw_term(f.source, source));
        }
        if filter.hide_duplicates {
            clauses.push(Box::new(TermQuery::new(
                Term::from_field_u64(f.is_duplicate, 0),
                IndexRecordOption::Basic,
            )));
        }
        let since = filter.since.map(|t| t.timestamp_micros());
        let mut until = filter.until.map(|t| (t.timestamp_micros(), false));
        if let SearchPosition::Before { published_at, .. } = position {
            until = Some(match until {
                Some((u, _)) if u <= *published_at => (u, false),
                _ => (*published_at, true),
            });
        }
        if since.is_some() || until.is_some() {
            let lower = since.map_or(Bound::Unbounded, |s| {
                Bound::Included(Term::from_field_i64(f.published_at, s))
            });
            let upper = until.map_or(Bound::Unbounded, |(u, inclusive)| {
                let term = Term::from_field_i64(f.published_at, u);
                if inclusive {
                    Bound::Included(term)
                } else {
                    Bound::Excluded(term)
                }
            });
            clauses.push(Box::new(RangeQuery::new(lower, upper)));
        }
        clauses
    }

    fn translate(&self, node: &QueryNode) -> Box<dyn Query> {
        let f = &self.fields;
        let stem_term = |field: Field, stem: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_field_text(field, stem),
                IndexRecordOption::WithFreqs,
            ))
        };
        // A word is found by its stem: texts are indexed stemmed, and equal folded forms always
        // have equal stems, so this covers the "stem or folded form" rule of brand matching.
        match node {
            QueryNode::Term { stem, .. } => Box::new(BooleanQuery::new(vec![
                (Occur::Should, stem_term(f.text, stem)),
                (Occur::Should, stem_term(f.title, stem)),
            ])),
            QueryNode::Prefix { folded } => {
                // Every word starting with `folded` sorts between it and `folded` followed by
                // the highest code point.
                let mut upper = folded.clone();
                upper.push(char::MAX);
                Box::new(RangeQuery::new(
                    Bound::Included(Term::from_field_text(f.text_exact, folded)),
                    Bound::Excluded(Term::from_field_text(f.text_exact, &upper)),
                ))
            }
            QueryNode::Phrase { stems, .. } => match stems.len() {
                0 => Box::new(EmptyQuery),
                1 => Box::new(BooleanQuery::new(vec![
                    (Occur::Should, stem_term(f.text, &stems[0])),
                    (Occur::Should, stem_term(f.title, &stems[0])),
                ])),
                _ => {
                    let phrase = |field: Field| -> Box<dyn Query> {
                        Box::new(PhraseQuery::new(
                            stems
                                .iter()
                                .map(|s| Term::from_field_text(field, s))
                                .collect(),
                        ))
                    };
                    Box::new(BooleanQuery::new(vec![
                        (Occur::Should, phrase(f.text)),
                        (Occur::Should, phrase(f.title)),
                    ]))
                }
            },
            QueryNode::And(children) => {
                let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
                for child in children {
                    match child {
                        QueryNode::Not(inner) => {
                            clauses.push((Occur::MustNot, self.translate(inner)))
                        }
                        other => clauses.push((Occur::Must, self.translate(other))),
                    }
                }
                if !clauses.iter().any(|(occur, _)| *occur == Occur::Must) {
                    clauses.push((Occur::Must, Box::new(AllQuery)));
                }
                Box::new(BooleanQuery::new(clauses))
            }
            QueryNode::Or(children) => Box::new(BooleanQuery::new(
                children
                    .iter()
                    .map(|child| (Occur::Should, self.translate(child)))
                    .collect(),
            )),
            QueryNode::Not(inner) => Box::new(BooleanQuery::new(vec![
                (Occur::Must, Box::new(AllQuery) as Box<dyn Query>),
                (Occur::MustNot, self.translate(inner)),
            ])),
        }
    }
}

fn not_writer() -> StoreError {
    StoreError::Index(
        "another process holds the search index writer; run this where `earshot serve` is stopped"
            .into(),
    )
}

/// Where a page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SearchPosition {
    Start,
    /// Newest order: rows strictly before this (published_at, id).
    Before {
        published_at: i64,
        id: i64,
    },
    /// Relevance order: skip this many hits.
    Offset(usize),
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct SearchHit {
    pub id: i64,
    pub published_at_micros: i64,
}

impl SearchHit {
    pub fn mention_id(&self) -> MentionId {
        MentionId(self.id)
    }
}
