//! [`PublicationStore`]: the queue of scheduled post variants the publishing worker puts on
//! the networks, and its SQLite implementation (table `publications`, migration 0010).
//!
//! Claims are leases, as in the outbox: `claim_due_publications` moves due rows to
//! `publishing` until `now + lease` in one statement, so two workers never hold one row, and a
//! row whose worker died is claimed again when the lease ends. Each claim raises a claim
//! number; retry and failure marks apply only to the current claim, while a publication that
//! happened is recorded whoever reports it.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use earshot_core::{
    ConversationId, NewOutboxMessage, NewPublication, Publication, PublicationClaim,
    PublicationFilter, PublicationId, PublicationState, ReplyTarget,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite};

use crate::{SqliteStore, StoreError, StoreResult};

/// The most publications one `list_publications` call returns.
pub const MAX_PUBLICATION_PAGE: usize = 1_000;
/// Longest post text accepted (far above any network's limit; the networks refuse the rest).
pub const MAX_PUBLICATION_CHARS: usize = 100_000;

#[async_trait]
pub trait PublicationStore: Send + Sync {
    /// Queue a variant's revision for its time. Idempotent by
    /// [`NewPublication::idempotency_key`]: a key already queued adds nothing and returns the
    /// existing row with `false`.
    async fn enqueue_publication(
        &self,
        new: &NewPublication,
        now: DateTime<Utc>,
    ) -> StoreResult<(Publication, bool)> {
        self.enqueue_publication_with_links(new, &[], now).await
    }

    /// [`PublicationStore::enqueue_publication`] for a text whose links were replaced by
    /// short links: the publication and `links` are stored in one transaction, so a crash
    /// leaves both or neither, and the links are stored only when the publication is new (a
    /// re-enqueue stores none). A taken short code stores nothing and is
    /// [`StoreError::Conflict`]: plan the links again.
    async fn enqueue_publication_with_links(
        &self,
        new: &NewPublication,
        links: &[earshot_core::links::NewTrackedLink],
        now: DateTime<Utc>,
    ) -> StoreResult<(Publication, bool)>;

    /// Withdraw a publication no worker has claimed. A claimed, published or failed one is
    /// refused with [`StoreError::Conflict`] naming its state.
    async fn cancel_publication(
        &self,
        id: PublicationId,
        now: DateTime<Utc>,
    ) -> StoreResult<Publication>;

    /// Move a publication no worker has claimed to `at` (its next attempt too). Refused like
    /// [`PublicationStore::cancel_publication`].
    async fn reschedule_publication(
        &self,
        id: PublicationId,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Publication>;

    /// Claim up to `limit` due publications (scheduled with `next_attempt_at <= now`, or
    /// publishing with a lease that ended), earliest first: each becomes `publishing` until
    /// `now + lease`, its attempts and claim number go up by one.
    async fn claim_due_publications(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease: Duration,
    ) -> StoreResult<Vec<PublicationClaim>>;

    /// Note that the worker holding `claim` is about to call the network. False (and nothing
    /// changes) when `claim` is no longer current: the worker must not send then.
    async fn record_publication_attempt(
        &self,
        id: PublicationId,
        claim: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// The network has the post. Applies to a scheduled, publishing or failed row whatever
    /// the claim (a publication that happened is a fact, even reported late); false when it
    /// was already published or was cancelled. The outcome is then due to the posts side.
    async fn mark_publication_published(
        &self,
        id: PublicationId,
        remote_id: &str,
        url: Option<&str>,
        late: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Back to scheduled until `next_attempt_at` with the error kept; `notify` (an outbox
    /// message telling people) is queued in the same transaction, so a crash records both or
    /// neither. False (and nothing changes) when `claim` is no longer current.
    async fn mark_publication_retry(
        &self,
        id: PublicationId,
        claim: i64,
        error: &str,
        next_attempt_at: DateTime<Utc>,
        notify: Option<&NewOutboxMessage>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Give up: failed, kept with its error, the outcome due to the posts side; `notify` is
    /// queued in the same transaction. False when `claim` is no longer current.
    async fn mark_publication_failed(
        &self,
        id: PublicationId,
        claim: i64,
        error: &str,
        notify: Option<&NewOutboxMessage>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Published or failed publications whose outcome the posts side has not been told yet,
    /// oldest first.
    async fn unreported_publications(&self, limit: usize) -> StoreResult<Vec<Publication>>;

    /// The posts side was told the outcome. False when there was nothing to report.
    async fn mark_publication_reported(
        &self,
        id: PublicationId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    async fn publication(&self, id: PublicationId) -> StoreResult<Option<Publication>>;
    async fn publication_by_key(&self, idempotency_key: &str) -> StoreResult<Option<Publication>>;

    /// Publications matching `filter`, by scheduled time then id, at most `limit` (capped at
    /// [`MAX_PUBLICATION_PAGE`]).
    async fn list_publications(
        &self,
        filter: &PublicationFilter,
        limit: usize,
    ) -> StoreResult<Vec<Publication>>;

    /// The published publication a reference names: a network id (Mastodon status id,
    /// Bluesky `at://` URI) or its web address.
    async fn publication_for_remote(&self, reference: &str) -> StoreResult<Option<Publication>>;

    /// Record that `conversation` answers `publication`. A conversation belongs to one post:
    /// linking it again changes nothing (false).
    async fn link_conversation_to_publication(
        &self,
        conversation: ConversationId,
        publication: PublicationId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// The publication a conversation answers, if it answers one of ours.
    async fn publication_for_conversation(
        &self,
        conversation: ConversationId,
    ) -> StoreResult<Option<Publication>>;
}

const COLUMNS: &str = "id, account_id, post_id, variant_id, revision, idempotency_key, text, \
    language, reply_to, scheduled_at, state, attempts, next_attempt_at, lease_until, claim, \
    attempt_started_at, remote_id, url, last_error, published_at, late, reported_at, \
    created_at, updated_at";

fn db(context: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| StoreError::Database(format!("{context}: {e}"))
}

fn publication_from_row(row: &SqliteRow) -> StoreResult<(Publication, i64)> {
    let get = |e: sqlx::Error| StoreError::Database(format!("reading a publication row: {e}"));
    let id: i64 = row.try_get("id").map_err(get)?;
    let bad = |column: &str, problem: String| {
        StoreError::Database(format!("publication {id}: column {column}: {problem}"))
    };
    let time = |column: &str| -> StoreResult<DateTime<Utc>> {
        let value: i64 = row.try_get(column).map_err(get)?;
        DateTime::from_timestamp_micros(value)
            .ok_or_else(|| bad(column, format!("impossible time {value}")))
    };
    let optional_time = |column: &str| -> StoreResult<Option<DateTime<Utc>>> {
        let value: Option<i64> = row.try_get(column).map_err(get)?;
        value
            .map(|v| {
                DateTime::from_timestamp_micros(v)
                    .ok_or_else(|| bad(column, format!("impossible time {v}")))
            })
            .transpose()
    };
    let state: String = row.try_get("state").map_err(get)?;
    let reply_to: Option<String> = row.try_get("reply_to").map_err(get)?;
    let attempts: i64 = row.try_get("attempts").map_err(get)?;
    let late: i64 = row.try_get("late").map_err(get)?;
    let publication = Publication {
        id: PublicationId(id),
        account_id: row.try_get("account_id").map_err(get)?,
        post_id: row.try_get("post_id").map_err(get)?,
        variant_id: row.try_get("variant_id").map_err(get)?,
        revision: row.try_get("revision").map_err(get)?,
        text: row.try_get("text").map_err(get)?,
        language: row.try_get("language").map_err(get)?,
        reply_to: reply_to
            .map(|r| {
                serde_json::from_str::<ReplyTarget>(&r).map_err(|e| bad("reply_to", e.to_string()))
            })
            .transpose()?,
        scheduled_at: time("scheduled_at")?,
        idempotency_key: row.try_get("idempotency_key").map_err(get)?,
        state: state
            .parse::<PublicationState>()
            .map_err(|e| bad("state", e))?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        next_attempt_at: time("next_attempt_at")?,
        lease_until: optional_time("lease_until")?,
        attempt_started_at: optional_time("attempt_started_at")?,
        remote_id: row.try_get("remote_id").map_err(get)?,
        url: row.try_get("url").map_err(get)?,
        last_error: row.try_get("last_error").map_err(get)?,
        published_at: optional_time("published_at")?,
        late: late != 0,
        reported_at: optional_time("reported_at")?,
        created_at: time("created_at")?,
        updated_at: time("updated_at")?,
    };
    Ok((publication, row.try_get("claim").map_err(get)?))
}

fn lease_micros(lease: Duration) -> i64 {
    i64::try_from(lease.as_micros()).unwrap_or(i64::MAX)
}

fn capped_limit(limit: usize) -> i64 {
    i64::try_from(limit.min(MAX_PUBLICATION_PAGE)).unwrap_or(0)
}

impl SqliteStore {
    /// Apply a claim-guarded mark and, when it applied, queue `notify` in the outbox in the
    /// same transaction (a dedup key already there adds nothing).
    async fn mark_with_notice<'q>(
        &self,
        update: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
        notify: Option<&NewOutboxMessage>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let payload = notify
            .map(|message| {
                if message.dedup_key.trim().is_empty() {
                    return Err(StoreError::InvalidInput(
                        "a publication notice needs a non-empty dedup key".into(),
                    ));
                }
                serde_json::to_string(&message.payload)
                    .map_err(|e| StoreError::InvalidInput(format!("publication notice: {e}")))
            })
            .transpose()?;
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(db("starting a publication update"))?;
        let done = update
            .execute(&mut *tx)
            .await
            .map_err(db("updating a claimed publication"))?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        if let (Some(message), Some(payload)) = (notify, payload) {
            let due = message.deliver_after.unwrap_or(now).timestamp_micros();
            sqlx::query(
                "INSERT INTO outbox (kind, dedup_key, payload, state, next_attempt_at, created_at, updated_at)
                 VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?5)
                 ON CONFLICT (dedup_key) DO NOTHING",
            )
            .bind(message.kind.as_str())
            .bind(&message.dedup_key)
            .bind(payload)
            .bind(due)
            .bind(now.timestamp_micros())
            .execute(&mut *tx)
            .await
            .map_err(db("queueing the publication notice"))?;
        }
        tx.commit()
            .await
            .map_err(db("committing a publication update"))?;
        Ok(true)
    }

    async fn one_publication<'q>(
        &self,
        query: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    ) -> StoreResult<Option<Publication>> {
        let row = query
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading a publication"))?;
        row.map(|r| publication_from_row(&r).map(|(p, _)| p))
            .transpose()
    }

    async fn many_publications<'q>(
        &self,
        query: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    ) -> StoreResult<Vec<Publication>> {
        let rows = query
            .fetch_all(&self.pool)
            .await
            .map_err(db("reading publications"))?;
        rows.iter()
            .map(|r| publication_from_row(r).map(|(p, _)| p))
            .collect()
    }

    /// Cancel or reschedule: one guarded UPDATE, and when it matched nothing, the reason.
    async fn change_unclaimed<'q>(
        &self,
        id: PublicationId,
        action: &str,
        update: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    ) -> StoreResult<Publication> {
        let done = update
            .execute(&self.pool)
            .await
            .map_err(db("changing a scheduled publication"))?;
        let current = self
            .publication(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("publication {id} does not exist")))?;
        if done.rows_affected() == 1 {
            return Ok(current);
        }
        Err(StoreError::Conflict(format!(
            "publication {id} is {} and can no longer be {action}; only a scheduled publication can",
            current.state
        )))
    }
}

#[async_trait]
impl PublicationStore for SqliteStore {
    async fn enqueue_publication_with_links(
        &self,
        new: &NewPublication,
        links: &[earshot_core::links::NewTrackedLink],
        now: DateTime<Utc>,
    ) -> StoreResult<(Publication, bool)> {
        if new.text.trim().is_empty() {
            return Err(StoreError::InvalidInput(format!(
                "post {} variant {}: the text to publish is empty",
                new.post_id, new.variant_id
            )));
        }
        let chars = new.text.chars().count();
        if chars > MAX_PUBLICATION_CHARS {
            return Err(StoreError::InvalidInput(format!(
                "post {} variant {}: the text is {chars} characters long; at most {MAX_PUBLICATION_CHARS}",
                new.post_id, new.variant_id
            )));
        }
        let key = new.idempotency_key();
        let reply_to = new
            .reply_to
            .as_ref()
            .map(|r| serde_json::to_string(r).expect("a reply target always serializes"));
        let language = new
            .language
            .as_deref()
            .map(str::trim)
            .filter(|l| !l.is_empty());
        crate::links::validate_links(links)?;
        let scheduled = new.scheduled_at.timestamp_micros();
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db("starting a transaction"))?;
        let result = async {
            let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO publications (account_id, post_id, variant_id, revision, idempotency_key,
                 text, language, reply_to, scheduled_at, next_attempt_at, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?10)
             ON CONFLICT (idempotency_key) DO NOTHING
             RETURNING id",
        )
        .bind(new.account_id)
        .bind(new.post_id)
        .bind(new.variant_id)
        .bind(new.revision)
        .bind(&key)
        .bind(&new.text)
        .bind(language)
        .bind(reply_to)
        .bind(scheduled)
        .bind(now.timestamp_micros())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db("queueing a publication"))?;
            if inserted.is_some() && !links.is_empty() {
                crate::links::insert_links(&mut tx, links, now).await?;
            }
            Ok(inserted)
        }
        .await;
        let inserted = crate::links::settle(tx, result, "queueing a publication").await?;
        let stored = self.publication_by_key(&key).await?.ok_or_else(|| {
            StoreError::Database(format!("publication {key} vanished after queueing"))
        })?;
        Ok((stored, inserted.is_some()))
    }

    async fn cancel_publication(
        &self,
        id: PublicationId,
        now: DateTime<Utc>,
    ) -> StoreResult<Publication> {
        let update = sqlx::query(
            "UPDATE publications SET state = 'cancelled', updated_at = ?2
             WHERE id = ?1 AND state = 'scheduled'",
        )
        .bind(id.0)
        .bind(now.timestamp_micros());
        self.change_unclaimed(id, "cancelled", update).await
    }

    async fn reschedule_publication(
        &self,
        id: PublicationId,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Publication> {
        let update = sqlx::query(
            "UPDATE publications SET scheduled_at = ?2, next_attempt_at = ?2, updated_at = ?3
             WHERE id = ?1 AND state = 'scheduled'",
        )
        .bind(id.0)
        .bind(at.timestamp_micros())
        .bind(now.timestamp_micros());
        self.change_unclaimed(id, "rescheduled", update).await
    }

    async fn claim_due_publications(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease: Duration,
    ) -> StoreResult<Vec<PublicationClaim>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let now_micros = now.timestamp_micros();
        // One statement under SQLite's write lock: a row goes to exactly one worker, in this
        // process or another.
        let sql = format!(
            "UPDATE publications SET
                 last_error = CASE WHEN state = 'publishing'
                     THEN 'the worker publishing it stopped before finishing; taken over after its lease ended'
                     ELSE last_error END,
                 state = 'publishing',
                 lease_until = ?2,
                 claim = claim + 1,
                 attempts = attempts + 1,
                 updated_at = ?1
             WHERE id IN (
                 SELECT id FROM (
                     SELECT id, next_attempt_at AS due FROM publications
                         WHERE state = 'scheduled' AND next_attempt_at <= ?1
                     UNION ALL
                     SELECT id, lease_until AS due FROM publications
                         WHERE state = 'publishing' AND lease_until <= ?1)
                 ORDER BY due, id
                 LIMIT ?3)
             RETURNING {COLUMNS}"
        );
        let rows = sqlx::query(&sql)
            .bind(now_micros)
            .bind(now_micros.saturating_add(lease_micros(lease)))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(db("claiming due publications"))?;
        let mut claims = rows
            .iter()
            .map(|row| {
                publication_from_row(row)
                    .map(|(publication, claim)| PublicationClaim { publication, claim })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        claims.sort_by_key(|c| (c.publication.scheduled_at, c.publication.id));
        Ok(claims)
    }

    async fn record_publication_attempt(
        &self,
        id: PublicationId,
        claim: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE publications SET attempt_started_at = ?3, updated_at = ?3
             WHERE id = ?1 AND claim = ?2 AND state = 'publishing'",
        )
        .bind(id.0)
        .bind(claim)
        .bind(now.timestamp_micros())
        .execute(&self.pool)
        .await
        .map_err(db("recording a publishing attempt"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn mark_publication_published(
        &self,
        id: PublicationId,
        remote_id: &str,
        url: Option<&str>,
        late: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        if remote_id.trim().is_empty() {
            return Err(StoreError::InvalidInput(format!(
                "publication {id}: the network answered without an id for the post"
            )));
        }
        let done = sqlx::query(
            "UPDATE publications SET state = 'published', lease_until = NULL,
                 attempt_started_at = NULL, remote_id = ?2, url = ?3, late = ?4,
                 published_at = ?5, reported_at = NULL, updated_at = ?5
             WHERE id = ?1 AND state IN ('scheduled', 'publishing', 'failed')",
        )
        .bind(id.0)
        .bind(remote_id)
        .bind(url)
        .bind(i64::from(late))
        .bind(now.timestamp_micros())
        .execute(&self.pool)
        .await
        .map_err(db("marking a publication published"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn mark_publication_retry(
        &self,
        id: PublicationId,
        claim: i64,
        error: &str,
        next_attempt_at: DateTime<Utc>,
        notify: Option<&NewOutboxMessage>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let update = sqlx::query(
            "UPDATE publications SET state = 'scheduled', lease_until = NULL,
                 attempt_started_at = NULL, last_error = ?3, next_attempt_at = ?4, updated_at = ?5
             WHERE id = ?1 AND claim = ?2 AND state = 'publishing'",
        )
        .bind(id.0)
        .bind(claim)
        .bind(error)
        .bind(next_attempt_at.timestamp_micros())
        .bind(now.timestamp_micros());
        self.mark_with_notice(update, notify, now).await
    }

    async fn mark_publication_failed(
        &self,
        id: PublicationId,
        claim: i64,
        error: &str,
        notify: Option<&NewOutboxMessage>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let update = sqlx::query(
            "UPDATE publications SET state = 'failed', lease_until = NULL,
                 attempt_started_at = NULL, last_error = ?3, reported_at = NULL, updated_at = ?4
             WHERE id = ?1 AND claim = ?2 AND state = 'publishing'",
        )
        .bind(id.0)
        .bind(claim)
        .bind(error)
        .bind(now.timestamp_micros());
        self.mark_with_notice(update, notify, now).await
    }

    async fn unreported_publications(&self, limit: usize) -> StoreResult<Vec<Publication>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM publications
             WHERE reported_at IS NULL AND state IN ('published', 'failed')
             ORDER BY id LIMIT ?"
        );
        self.many_publications(sqlx::query(&sql).bind(capped_limit(limit)))
            .await
    }

    async fn mark_publication_reported(
        &self,
        id: PublicationId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE publications SET reported_at = ?2
             WHERE id = ?1 AND reported_at IS NULL AND state IN ('published', 'failed')",
        )
        .bind(id.0)
        .bind(now.timestamp_micros())
        .execute(&self.pool)
        .await
        .map_err(db("marking a publication's outcome reported"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn publication(&self, id: PublicationId) -> StoreResult<Option<Publication>> {
        let sql = format!("SELECT {COLUMNS} FROM publications WHERE id = ?");
        self.one_publication(sqlx::query(&sql).bind(id.0)).await
    }

    async fn publication_by_key(&self, idempotency_key: &str) -> StoreResult<Option<Publication>> {
        let sql = format!("SELECT {COLUMNS} FROM publications WHERE idempotency_key = ?");
        self.one_publication(sqlx::query(&sql).bind(idempotency_key))
            .await
    }

    async fn list_publications(
        &self,
        filter: &PublicationFilter,
        limit: usize,
    ) -> StoreResult<Vec<Publication>> {
        let mut sql: QueryBuilder<Sqlite> =
            QueryBuilder::new(format!("SELECT {COLUMNS} FROM publications WHERE 1 = 1"));
        if let Some(account) = filter.account_id {
            sql.push(" AND account_id = ").push_bind(account);
        }
        if let Some(post) = filter.post_id {
            sql.push(" AND post_id = ").push_bind(post);
        }
        if !filter.states.is_empty() {
            sql.push(" AND state IN (");
            let mut states = sql.separated(", ");
            for state in &filter.states {
                states.push_bind(state.as_str());
            }
            sql.push(")");
        }
        if let Some(from) = filter.from {
            sql.push(" AND scheduled_at >= ")
                .push_bind(from.timestamp_micros());
        }
        if let Some(until) = filter.until {
            sql.push(" AND scheduled_at < ")
                .push_bind(until.timestamp_micros());
        }
        sql.push(" ORDER BY scheduled_at, id LIMIT ")
            .push_bind(capped_limit(limit));
        let rows = sql
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(db("listing publications"))?;
        rows.iter()
            .map(|r| publication_from_row(r).map(|(p, _)| p))
            .collect()
    }

    async fn publication_for_remote(&self, reference: &str) -> StoreResult<Option<Publication>> {
        let reference = reference.trim();
        if reference.is_empty() {
            return Ok(None);
        }
        // Two statements, so each uses its own partial index.
        for column in ["remote_id", "url"] {
            let sql = format!(
                "SELECT {COLUMNS} FROM publications
                 WHERE {column} = ?1 AND state = 'published' ORDER BY id DESC LIMIT 1"
            );
            if let Some(found) = self
                .one_publication(sqlx::query(&sql).bind(reference))
                .await?
            {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    async fn link_conversation_to_publication(
        &self,
        conversation: ConversationId,
        publication: PublicationId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO conversation_publications (conversation_id, publication_id, linked_at)
             SELECT ?1, ?2, ?3
             WHERE EXISTS (SELECT 1 FROM conversations WHERE id = ?1)
               AND EXISTS (SELECT 1 FROM publications WHERE id = ?2)
             ON CONFLICT (conversation_id) DO NOTHING",
        )
        .bind(conversation.0)
        .bind(publication.0)
        .bind(now.timestamp_micros())
        .execute(&self.pool)
        .await
        .map_err(db("linking a conversation to its post"))?;
        if done.rows_affected() == 1 {
            return Ok(true);
        }
        if self.publication(publication).await?.is_none() {
            return Err(StoreError::NotFound(format!(
                "publication {publication} does not exist"
            )));
        }
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM conversations WHERE id = ?")
            .bind(conversation.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading a conversation"))?;
        if exists.is_none() {
            return Err(StoreError::NotFound(format!(
                "conversation {conversation} does not exist"
            )));
        }
        Ok(false)
    }

    async fn publication_for_conversation(
        &self,
        conversation: ConversationId,
    ) -> StoreResult<Option<Publication>> {
        let columns = COLUMNS
            .split(", ")
            .map(|c| format!("p.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {columns} FROM conversation_publications cp
             JOIN publications p ON p.id = cp.publication_id
             WHERE cp.conversation_id = ?"
        );
        self.one_publication(sqlx::query(&sql).bind(conversation.0))
            .await
    }
}
