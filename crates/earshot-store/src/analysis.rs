//! The analysis of mentions in the store: [`AnalysisStore`] (corrections) and the SQLite side of
//! reading, writing and filtering the `mention_analysis` table (migration 0002).
//!
//! The analysis itself is written by [`crate::Store::write_batch`] in the same transaction as
//! its mention, and read back with every mention.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::Utc;
use earshot_core::{
    Analysis, CorrectionField, CorrectionRecord, Corrections, LabelCorrection, MentionFilter,
    MentionId, NewMention, Scored, TargetSentiment,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use crate::{SqliteStore, StoreError, StoreResult};

/// Corrections of the labels the analysis gave a mention.
#[async_trait]
pub trait AnalysisStore: Send + Sync {
    /// Records that `by` (a user name, when known) corrected one label of `mention`. The
    /// correction is shown instead of the model's label from now on and is kept for training.
    /// Returns `false` (and stores nothing) when no such mention exists.
    async fn record_correction(
        &self,
        mention: MentionId,
        correction: &LabelCorrection,
        by: Option<&str>,
    ) -> StoreResult<bool>;

    /// The corrections in force (the latest per mention and field, and per intent), oldest
    /// first, with the mention's text and language, for training.
    async fn corrections(&self) -> StoreResult<Vec<CorrectionRecord>>;

    /// The corrections in force of these mentions (as [`AnalysisStore::corrections`]), so a
    /// page can say who corrected a label and when.
    async fn corrections_of(&self, mentions: &[MentionId]) -> StoreResult<Vec<CorrectionRecord>>;

    /// Replaces the analysis of each mention (`earshot reanalyze`, after new models), all in
    /// one transaction; corrections stay as they are. Ids with no mention are skipped; returns
    /// how many analyses were written.
    async fn replace_analyses(&self, analyses: &[(MentionId, Analysis)]) -> StoreResult<u64>;
}

/// Rows per INSERT of analysis rows: 11 bound values each, under SQLite's 32,766.
const ANALYSIS_ROWS_PER_INSERT: usize = 1_000;

/// The columns of `mention_analysis` (alias `a`) read with every mention (a macro, so that it
/// joins the other columns in one `concat!`).
macro_rules! analysis_columns {
    () => {
        "a.analyzed AS a_analyzed, a.lang AS a_lang, \
         a.sentiment AS a_sentiment, a.sentiment_score AS a_sentiment_score, \
         a.offensive AS a_offensive, a.offensive_score AS a_offensive_score, \
         a.spam AS a_spam, a.spam_score AS a_spam_score, a.intents AS a_intents, \
         a.targets AS a_targets, a.sentiment_corrected AS a_sentiment_corrected, \
         a.offensive_corrected AS a_offensive_corrected, a.spam_corrected AS a_spam_corrected, \
         a.intents_corrected AS a_intents_corrected"
    };
}
pub(crate) use analysis_columns;

/// `mentions m` with its analysis, when it has one.
pub(crate) const MENTIONS_WITH_ANALYSIS: &str =
    "mentions m LEFT JOIN mention_analysis a ON a.mention_id = m.id";

fn read_error(id: i64) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| StoreError::Database(format!("mention {id}: reading its analysis: {e}"))
}

fn decode_json<T: serde::de::DeserializeOwned>(raw: &str, column: &str, id: i64) -> StoreResult<T> {
    serde_json::from_str(raw).map_err(|e| {
        StoreError::Database(format!(
            "mention {id}: column mention_analysis.{column} is not valid: {e}"
        ))
    })
}

/// The analysis and corrections of a row selected with `analysis_columns!()`.
pub(crate) fn analysis_from_row(
    row: &SqliteRow,
    id: i64,
) -> StoreResult<(Option<Analysis>, Corrections)> {
    let get = read_error(id);
    let Some(analyzed) = row.try_get::<Option<i64>, _>("a_analyzed").map_err(&get)? else {
        return Ok((None, Corrections::default()));
    };
    let scored = |label: &str, score: &str| -> StoreResult<Option<Scored>> {
        let label: Option<String> = row.try_get(label).map_err(&get)?;
        let score: Option<f64> = row.try_get(score).map_err(&get)?;
        Ok(label.map(|label| Scored {
            label: label.into(),
            score: score.unwrap_or(0.0) as f32,
        }))
    };
    let analysis = if analyzed == 1 {
        let intents: String = row.try_get("a_intents").map_err(&get)?;
        let targets: String = row.try_get("a_targets").map_err(&get)?;
        Some(Analysis {
            lang: row.try_get::<String, _>("a_lang").map_err(&get)?.into(),
            sentiment: scored("a_sentiment", "a_sentiment_score")?,
            offensive: scored("a_offensive", "a_offensive_score")?,
            spam: scored("a_spam", "a_spam_score")?,
            intents: decode_json::<Vec<Scored>>(&intents, "intents", id)?,
            targets: decode_json::<Vec<TargetSentiment>>(&targets, "targets", id)?,
        })
    } else {
        None
    };
    let intents_corrected: String = row.try_get("a_intents_corrected").map_err(&get)?;
    let corrections = Corrections {
        sentiment: row.try_get("a_sentiment_corrected").map_err(&get)?,
        offensive: row.try_get("a_offensive_corrected").map_err(&get)?,
        spam: row.try_get("a_spam_corrected").map_err(&get)?,
        intents: decode_json::<BTreeMap<String, bool>>(
            &intents_corrected,
            "intents_corrected",
            id,
        )?,
    };
    Ok((analysis, corrections))
}

/// Writes the analysis of each `(mention id, mention)` that has one; a mention stored again
/// gets its new analysis and keeps its corrections.
pub(crate) async fn write_analyses(
    conn: &mut SqliteConnection,
    rows: &[(i64, &NewMention)],
) -> StoreResult<()> {
    let analysed: Vec<(i64, &Analysis)> = rows
        .iter()
        .filter_map(|(id, mention)| mention.analysis.as_ref().map(|a| (*id, a)))
        .collect();
    upsert_analyses(conn, &analysed).await
}

/// Inserts or replaces the analysis of each `(mention id, analysis)`, keeping its corrections.
async fn upsert_analyses(
    conn: &mut SqliteConnection,
    analysed: &[(i64, &Analysis)],
) -> StoreResult<()> {
    for chunk in analysed.chunks(ANALYSIS_ROWS_PER_INSERT) {
        let mut sql = QueryBuilder::<Sqlite>::new(
            "INSERT INTO mention_analysis (mention_id, analyzed, lang, sentiment, sentiment_score, \
             offensive, offensive_score, spam, spam_score, intents, targets) ",
        );
        sql.push_values(chunk, |mut row, (id, analysis)| {
            let label = |s: &Option<Scored>| s.as_ref().map(|s| s.label.to_string());
            let score = |s: &Option<Scored>| s.as_ref().map(|s| f64::from(s.score));
            row.push_bind(*id)
                .push_bind(1i64)
                .push_bind(analysis.lang.to_string())
                .push_bind(label(&analysis.sentiment))
                .push_bind(score(&analysis.sentiment))
                .push_bind(label(&analysis.offensive))
                .push_bind(score(&analysis.offensive))
                .push_bind(label(&analysis.spam))
                .push_bind(score(&analysis.spam))
                .push_bind(serde_json::to_string(&analysis.intents).expect("plain data serializes"))
                .push_bind(
                    serde_json::to_string(&analysis.targets).expect("plain data serializes"),
                );
        });
        sql.push(
            " ON CONFLICT (mention_id) DO UPDATE SET analyzed = 1, lang = excluded.lang, \
             sentiment = excluded.sentiment, sentiment_score = excluded.sentiment_score, \
             offensive = excluded.offensive, offensive_score = excluded.offensive_score, \
             spam = excluded.spam, spam_score = excluded.spam_score, \
             intents = excluded.intents, targets = excluded.targets",
        );
        sql.build().execute(&mut *conn).await.map_err(|e| {
            StoreError::Database(format!(
                "storing the analysis of {} mentions (the first is mention {}): {e}",
                chunk.len(),
                chunk[0].0
            ))
        })?;
    }
    Ok(())
}

/// Adds the analysis conditions of `filter` to a query over [`MENTIONS_WITH_ANALYSIS`]. A
/// correction counts before the model's label; a mention without analysis matches no sentiment
/// or intent, and is not spam.
pub(crate) fn push_analysis_conditions(sql: &mut QueryBuilder<'_, Sqlite>, filter: &MentionFilter) {
    if let Some(sentiment) = &filter.sentiment {
        sql.push(" AND COALESCE(a.sentiment_corrected, a.sentiment) = ")
            .push_bind(sentiment.clone());
    }
    if let Some(intent) = &filter.intent {
        sql.push(
            " AND COALESCE((SELECT ic.value FROM json_each(a.intents_corrected) ic WHERE ic.key = ",
        )
        .push_bind(intent.clone())
        .push("), EXISTS (SELECT 1 FROM json_each(a.intents) mi WHERE mi.value ->> 'label' = ")
        .push_bind(intent.clone())
        .push(")) = 1");
    }
    if filter.hide_spam {
        sql.push(" AND COALESCE(a.spam_corrected, a.spam, 'ham') != 'spam'");
    }
}

#[async_trait]
impl AnalysisStore for SqliteStore {
    async fn replace_analyses(&self, analyses: &[(MentionId, Analysis)]) -> StoreResult<u64> {
        let context = |what: &'static str| {
            move |e: sqlx::Error| {
                StoreError::Database(format!(
                    "replacing the analysis of {} mentions: {what}: {e}",
                    analyses.len()
                ))
            }
        };
        let mut tx = self
            .pool()
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(context("starting the transaction"))?;
        let mut existing = Vec::with_capacity(analyses.len());
        for (id, analysis) in analyses {
            let found: Option<i64> = sqlx::query_scalar("SELECT id FROM mentions WHERE id = ?1")
                .bind(id.0)
                .fetch_optional(&mut *tx)
                .await
                .map_err(context("looking up the mentions"))?;
            if found.is_some() {
                existing.push((id.0, analysis));
            }
        }
        upsert_analyses(&mut tx, &existing).await?;
        tx.commit().await.map_err(context("committing"))?;
        Ok(existing.len() as u64)
    }

    async fn record_correction(
        &self,
        mention: MentionId,
        correction: &LabelCorrection,
        by: Option<&str>,
    ) -> StoreResult<bool> {
        let context = |what: &'static str| {
            move |e: sqlx::Error| {
                StoreError::Database(format!(
                    "recording a {} correction of mention {mention}: {what}: {e}",
                    correction.field
                ))
            }
        };
        let mut tx = self
            .pool()
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(context("starting the transaction"))?;
        let lang: Option<String> = sqlx::query_scalar("SELECT lang FROM mentions WHERE id = ?1")
            .bind(mention.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(context("looking up the mention"))?;
        let Some(lang) = lang else {
            return Ok(false);
        };
        sqlx::query(
            "INSERT INTO mention_corrections (mention_id, field, label, present, corrected_by, \
             corrected_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(mention.0)
        .bind(correction.field.as_str())
        .bind(&correction.label)
        .bind(i64::from(correction.present))
        .bind(by)
        .bind(Utc::now().timestamp_micros())
        .execute(&mut *tx)
        .await
        .map_err(context("storing it"))?;
        // A mention stored without analysis gets a row that only holds its corrections.
        sqlx::query(
            "INSERT INTO mention_analysis (mention_id, analyzed, lang) VALUES (?1, 0, ?2) \
             ON CONFLICT (mention_id) DO NOTHING",
        )
        .bind(mention.0)
        .bind(&lang)
        .execute(&mut *tx)
        .await
        .map_err(context("preparing its analysis row"))?;
        let update = match correction.field {
            CorrectionField::Sentiment => {
                "UPDATE mention_analysis SET sentiment_corrected = ?2 WHERE mention_id = ?1"
            }
            CorrectionField::Offensive => {
                "UPDATE mention_analysis SET offensive_corrected = ?2 WHERE mention_id = ?1"
            }
            CorrectionField::Spam => {
                "UPDATE mention_analysis SET spam_corrected = ?2 WHERE mention_id = ?1"
            }
            CorrectionField::Intent => {
                "UPDATE mention_analysis SET intents_corrected = \
                 json_set(intents_corrected, '$.' || ?2, json(?3)) WHERE mention_id = ?1"
            }
        };
        sqlx::query(update)
            .bind(mention.0)
            .bind(&correction.label)
            .bind(if correction.present { "true" } else { "false" })
            .execute(&mut *tx)
            .await
            .map_err(context("applying it"))?;
        tx.commit().await.map_err(context("committing"))?;
        Ok(true)
    }

    async fn corrections(&self) -> StoreResult<Vec<CorrectionRecord>> {
        let mut sql = QueryBuilder::new(CORRECTIONS_IN_FORCE);
        sql.push(" ORDER BY c.id");
        let rows = sql
            .build()
            .fetch_all(self.pool())
            .await
            .map_err(|e| StoreError::Database(format!("loading corrections: {e}")))?;
        rows.iter().map(correction_from_row).collect()
    }

    async fn corrections_of(&self, mentions: &[MentionId]) -> StoreResult<Vec<CorrectionRecord>> {
        if mentions.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = QueryBuilder::new(CORRECTIONS_IN_FORCE);
        sql.push(" AND c.mention_id IN (");
        let mut ids = sql.separated(", ");
        for mention in mentions {
            ids.push_bind(mention.0);
        }
        sql.push(") ORDER BY c.id");
        let rows =
            sql.build().fetch_all(self.pool()).await.map_err(|e| {
                StoreError::Database(format!("loading corrections of mentions: {e}"))
            })?;
        rows.iter().map(correction_from_row).collect()
    }
}

/// The latest correction per mention and field (per intent for intents), with the text.
const CORRECTIONS_IN_FORCE: &str =
    "SELECT c.mention_id, m.text, m.lang, c.field, c.label, c.present, c.corrected_at, \
     c.corrected_by FROM mention_corrections c JOIN mentions m ON m.id = c.mention_id \
     WHERE c.id = (SELECT MAX(l.id) FROM mention_corrections l \
         WHERE l.mention_id = c.mention_id AND l.field = c.field \
         AND (c.field != 'intent' OR l.label = c.label))";

fn correction_from_row(row: &SqliteRow) -> StoreResult<CorrectionRecord> {
    let get = |e: sqlx::Error| StoreError::Database(format!("reading a correction row: {e}"));
    let field: String = row.try_get("field").map_err(get)?;
    let at: i64 = row.try_get("corrected_at").map_err(get)?;
    Ok(CorrectionRecord {
        mention_id: MentionId(row.try_get("mention_id").map_err(get)?),
        text: row.try_get("text").map_err(get)?,
        lang: row.try_get("lang").map_err(get)?,
        field: CorrectionField::parse(&field)
            .map_err(|e| StoreError::Database(format!("a stored correction is not valid: {e}")))?,
        label: row.try_get("label").map_err(get)?,
        present: row.try_get::<i64, _>("present").map_err(get)? == 1,
        at: chrono::DateTime::from_timestamp_micros(at).ok_or_else(|| {
            StoreError::Database(format!("a correction holds an impossible time: {at}"))
        })?,
        by: row.try_get("corrected_by").map_err(get)?,
    })
}
