//! The embedded alternative a user would try first, kept for the benchmarks: SQLite FTS5 with
//! the `unicode61` tokenizer (case and accent folding, no stemming) plus the same filter
//! columns, queried with the same query language translated into an FTS5 `MATCH` expression.
//!
//! It is not a store: it keeps only what searching needs and answers with mention ids.
//! Without stemming it does not find inflected forms (`Зелтроном` for `Зелтрон`), which is
//! the point of comparing it with the tantivy index.

use std::path::Path;
use std::str::FromStr;

use earshot_core::{MentionFilter, MentionId, NewMention};
use earshot_text::query::{Query, QueryNode};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Sqlite};

use crate::{StoreError, StoreResult};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS docs (
    id           INTEGER PRIMARY KEY,
    source       TEXT    NOT NULL,
    lang         TEXT    NOT NULL,
    published_at INTEGER NOT NULL,
    is_duplicate INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS docs_by_published ON docs(published_at);
CREATE TABLE IF NOT EXISTS doc_brands (
    brand  TEXT    NOT NULL,
    doc_id INTEGER NOT NULL,
    PRIMARY KEY (brand, doc_id)
) WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS docs_fts USING fts5(
    title, text, content = '', tokenize = 'unicode61 remove_diacritics 2'
);
";

/// Rows per multi-row INSERT (5 bound columns each, under SQLite's 32,766 variables).
const ROWS_PER_INSERT: usize = 5_000;

pub struct Fts5Baseline {
    pool: SqlitePool,
}

fn db_error(context: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| StoreError::Database(format!("FTS5 baseline, {context}: {e}"))
}

impl Fts5Baseline {
    /// Opens (creating when missing) the baseline database at `path`.
    pub async fn open(path: &Path) -> StoreResult<Fts5Baseline> {
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(db_error("building connection options"))?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await
            .map_err(db_error("opening the database"))?;
        sqlx::raw_sql(SCHEMA)
            .execute(&pool)
            .await
            .map_err(db_error("creating the schema"))?;
        Ok(Fts5Baseline { pool })
    }

    /// Imports one batch in one transaction; ids are assigned in order after the highest one.
    pub async fn import(&self, mentions: &[NewMention]) -> StoreResult<Vec<MentionId>> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_error("starting a transaction"))?;
        let max_id: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM docs")
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error("reading the highest id"))?;
        let rows: Vec<(i64, &NewMention)> = mentions
            .iter()
            .enumerate()
            .map(|(i, m)| (max_id + 1 + i as i64, m))
            .collect();
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let mut docs = QueryBuilder::<Sqlite>::new(
                "INSERT INTO docs (id, source, lang, published_at, is_duplicate) ",
            );
            docs.push_values(chunk, |mut row, (id, m)| {
                row.push_bind(*id)
                    .push_bind(&m.source)
                    .push_bind(&m.lang)
                    .push_bind(m.published_at.timestamp_micros())
                    .push_bind(m.duplicate_of.is_some());
            });
            docs.build()
                .execute(&mut *tx)
                .await
                .map_err(db_error("inserting documents"))?;
            let mut fts = QueryBuilder::<Sqlite>::new("INSERT INTO docs_fts (rowid, title, text) ");
            fts.push_values(chunk, |mut row, (id, m)| {
                row.push_bind(*id).push_bind(&m.title).push_bind(&m.text);
            });
            fts.build()
                .execute(&mut *tx)
                .await
                .map_err(db_error("indexing documents"))?;
        }
        let brands: Vec<(i64, &str)> = rows
            .iter()
            .flat_map(|(id, m)| {
                let mut names: Vec<&str> = m.brands.iter().map(String::as_str).collect();
                names.sort_unstable();
                names.dedup();
                names.into_iter().map(move |b| (*id, b))
            })
            .collect();
        for chunk in brands.chunks(ROWS_PER_INSERT) {
            let mut sql = QueryBuilder::<Sqlite>::new("INSERT INTO doc_brands (doc_id, brand) ");
            sql.push_values(chunk, |mut row, (id, brand)| {
                row.push_bind(*id).push_bind(*brand);
            });
            sql.build()
                .execute(&mut *tx)
                .await
                .map_err(db_error("storing brands"))?;
        }
        tx.commit().await.map_err(db_error("committing"))?;
        Ok(rows.iter().map(|(id, _)| MentionId(*id)).collect())
    }

    /// Ids of the newest `limit` documents matching the filter; `filter.query` is required.
    pub async fn search(
        &self,
        filter: &MentionFilter,
        limit: usize,
    ) -> StoreResult<Vec<MentionId>> {
        let text = filter
            .query
            .as_deref()
            .ok_or_else(|| StoreError::Query("the FTS5 baseline needs a query".into()))?;
        let query = Query::parse(text).map_err(|e| StoreError::Query(format!("{text:?}: {e}")))?;
        let expression = match_expression(query.root())?;
        let mut sql = QueryBuilder::<Sqlite>::new(
            "SELECT d.id FROM docs_fts JOIN docs d ON d.id = docs_fts.rowid WHERE docs_fts MATCH ",
        );
        sql.push_bind(expression);
        if let Some(lang) = &filter.lang {
            sql.push(" AND d.lang = ").push_bind(lang);
        }
        if let Some(source) = &filter.source {
            sql.push(" AND d.source = ").push_bind(source);
        }
        if let Some(since) = filter.since {
            sql.push(" AND d.published_at >= ")
                .push_bind(since.timestamp_micros());
        }
        if let Some(until) = filter.until {
            sql.push(" AND d.published_at < ")
                .push_bind(until.timestamp_micros());
        }
        if filter.hide_duplicates {
            sql.push(" AND d.is_duplicate = 0");
        }
        if let Some(brand) = &filter.brand {
            sql.push(
                " AND EXISTS (SELECT 1 FROM doc_brands b WHERE b.doc_id = d.id AND b.brand = ",
            )
            .push_bind(brand)
            .push(")");
        }
        sql.push(" ORDER BY d.published_at DESC, d.id DESC LIMIT ")
            .push_bind(i64::try_from(limit).unwrap_or(i64::MAX));
        let ids: Vec<i64> = sql
            .build_query_scalar()
            .fetch_all(&self.pool)
            .await
            .map_err(db_error("searching"))?;
        Ok(ids.into_iter().map(MentionId).collect())
    }
}

/// An FTS5 string: double quotes inside are doubled.
fn quoted(words: &[&str]) -> String {
    format!("\"{}\"", words.join(" ").replace('"', "\"\""))
}

/// Translates the query AST into an FTS5 MATCH expression. FTS5's NOT is binary (`a NOT b`),
/// so a negation must sit in an AND beside something positive.
pub fn match_expression(node: &QueryNode) -> StoreResult<String> {
    Ok(match node {
        QueryNode::Term { folded, .. } => quoted(&[folded]),
        QueryNode::Prefix { folded } => format!("{} *", quoted(&[folded])),
        QueryNode::Phrase { folded, .. } => {
            let words: Vec<&str> = folded.iter().map(String::as_str).collect();
            quoted(&words)
        }
        QueryNode::And(children) => {
            let mut positive = Vec::new();
            let mut negative = Vec::new();
            for child in children {
                match child {
                    QueryNode::Not(inner) => negative.push(match_expression(inner)?),
                    other => positive.push(match_expression(other)?),
                }
            }
            if positive.is_empty() {
                return Err(unsupported());
            }
            let mut expression = format!("({})", positive.join(" AND "));
            for excluded in negative {
                expression = format!("({expression} NOT ({excluded}))");
            }
            expression
        }
        QueryNode::Or(children) => {
            let parts = children
                .iter()
                .map(match_expression)
                .collect::<StoreResult<Vec<_>>>()?;
            format!("({})", parts.join(" OR "))
        }
        QueryNode::Not(_) => return Err(unsupported()),
    })
}

fn unsupported() -> StoreError {
    StoreError::Query("FTS5 cannot express a negation that is not beside a positive term".into())
}
