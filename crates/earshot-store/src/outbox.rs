//! [`OutboxStore`]: messages waiting to be delivered, and its SQLite implementation.
//!
//! Claims are leases: `claim_due` moves due messages to `in_flight` until `now + lease`, in one
//! statement, so two workers never hold one message; a worker that dies leaves its messages
//! to be claimed again when the lease ends, so none is lost. Each claim raises a claim number,
//! and `mark_retry`/`mark_failed` only apply to the current claim.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use earshot_core::{
    NewOutboxMessage, OutboxClaim, OutboxFilter, OutboxId, OutboxKind, OutboxMessage, OutboxState,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite};

use crate::{SqliteStore, StoreError, StoreResult};

/// The most messages one `list_outbox` call returns.
pub const MAX_OUTBOX_PAGE: usize = 1_000;

/// What `enqueue` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enqueued {
    pub id: OutboxId,
    /// False when a message with the same dedup key existed: nothing was added and `id` is
    /// the existing message's.
    pub created: bool,
}

#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Add a message, pending from `deliver_after` (or `now`). A dedup key already present
    /// adds nothing and returns the first message's id.
    async fn enqueue(&self, message: NewOutboxMessage, now: DateTime<Utc>)
        -> StoreResult<Enqueued>;

    /// Claim up to `limit` messages that are due (pending with `next_attempt_at <= now`, or in
    /// flight with a lease that ended), oldest due first: each becomes in flight until
    /// `now + lease` and its attempt count goes up by one.
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease: Duration,
    ) -> StoreResult<Vec<OutboxClaim>>;

    /// Record a delivery and what the remote answered. Applies to a pending or in-flight
    /// message whatever the claim (a delivery that happened is a fact, even from a worker
    /// whose lease ran out); returns false when the message was already delivered or failed.
    async fn mark_delivered(
        &self,
        id: OutboxId,
        result: serde_json::Value,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Put a claimed message back to pending until `next_attempt_at`. Returns false (and
    /// changes nothing) when `claim` is no longer the message's current claim.
    async fn mark_retry(
        &self,
        id: OutboxId,
        claim: i64,
        error: &str,
        next_attempt_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Give up on a claimed message: failed, kept with its error. False when `claim` is no
    /// longer current.
    async fn mark_failed(
        &self,
        id: OutboxId,
        claim: i64,
        error: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Send a failed message again: pending from `now` with its attempts reset. False when the
    /// message is not failed.
    async fn requeue_failed(&self, id: OutboxId, now: DateTime<Utc>) -> StoreResult<bool>;

    async fn outbox_message(&self, id: OutboxId) -> StoreResult<Option<OutboxMessage>>;
    async fn outbox_by_dedup_key(&self, dedup_key: &str) -> StoreResult<Option<OutboxMessage>>;

    /// Messages matching `filter`, newest first, at most `limit` (capped at [`MAX_OUTBOX_PAGE`]).
    async fn list_outbox(
        &self,
        filter: &OutboxFilter,
        limit: usize,
    ) -> StoreResult<Vec<OutboxMessage>>;

    /// How many messages are in each state (states with none are left out).
    async fn outbox_counts(&self) -> StoreResult<Vec<(OutboxState, u64)>>;
}

const OUTBOX_COLUMNS: &str = "id, kind, dedup_key, payload, state, attempts, next_attempt_at, \
    lease_until, claim, last_error, result, created_at, updated_at";

fn db_error(context: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| StoreError::Database(format!("{context}: {e}"))
}

fn time_from(value: i64, column: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_micros(value).ok_or_else(|| {
        StoreError::Database(format!(
            "outbox column {column} holds an impossible time: {value}"
        ))
    })
}

fn lease_micros(lease: Duration) -> i64 {
    i64::try_from(lease.as_micros()).unwrap_or(i64::MAX)
}

fn message_from_row(row: &SqliteRow) -> StoreResult<(OutboxMessage, i64)> {
    let get = |e: sqlx::Error| StoreError::Database(format!("reading an outbox row: {e}"));
    let id: i64 = row.try_get("id").map_err(get)?;
    let bad = |column: &str, problem: String| {
        StoreError::Database(format!("outbox message {id}: column {column}: {problem}"))
    };
    let kind: String = row.try_get("kind").map_err(get)?;
    let state: String = row.try_get("state").map_err(get)?;
    let payload: String = row.try_get("payload").map_err(get)?;
    let result: Option<String> = row.try_get("result").map_err(get)?;
    let attempts: i64 = row.try_get("attempts").map_err(get)?;
    let message = OutboxMessage {
        id: OutboxId(id),
        kind: kind.parse::<OutboxKind>().map_err(|e| bad("kind", e))?,
        dedup_key: row.try_get("dedup_key").map_err(get)?,
        payload: serde_json::from_str(&payload).map_err(|e| bad("payload", e.to_string()))?,
        state: state.parse::<OutboxState>().map_err(|e| bad("state", e))?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        next_attempt_at: time_from(
            row.try_get("next_attempt_at").map_err(get)?,
            "next_attempt_at",
        )?,
        lease_until: row
            .try_get::<Option<i64>, _>("lease_until")
            .map_err(get)?
            .map(|t| time_from(t, "lease_until"))
            .transpose()?,
        last_error: row.try_get("last_error").map_err(get)?,
        result: result
            .map(|r| serde_json::from_str(&r).map_err(|e| bad("result", e.to_string())))
            .transpose()?,
        created_at: time_from(row.try_get("created_at").map_err(get)?, "created_at")?,
        updated_at: time_from(row.try_get("updated_at").map_err(get)?, "updated_at")?,
    };
    Ok((message, row.try_get("claim").map_err(get)?))
}

impl SqliteStore {
    async fn outbox_one<'q>(
        &self,
        query: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    ) -> StoreResult<Option<OutboxMessage>> {
        let row = query
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error("reading an outbox message"))?;
        row.map(|r| message_from_row(&r).map(|(m, _)| m))
            .transpose()
    }
}

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn enqueue(
        &self,
        message: NewOutboxMessage,
        now: DateTime<Utc>,
    ) -> StoreResult<Enqueued> {
        if message.dedup_key.trim().is_empty() {
            return Err(StoreError::InvalidInput(format!(
                "a {} outbox message needs a non-empty dedup key",
                message.kind
            )));
        }
        let payload = serde_json::to_string(&message.payload)
            .map_err(|e| StoreError::InvalidInput(format!("outbox payload: {e}")))?;
        let now_micros = now.timestamp_micros();
        let due = message.deliver_after.unwrap_or(now).timestamp_micros();
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO outbox (kind, dedup_key, payload, state, next_attempt_at, created_at, updated_at)
             VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?5)
             ON CONFLICT (dedup_key) DO NOTHING
             RETURNING id",
        )
        .bind(message.kind.as_str())
        .bind(&message.dedup_key)
        .bind(&payload)
        .bind(due)
        .bind(now_micros)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error("enqueueing an outbox message"))?;
        if let Some(id) = inserted {
            return Ok(Enqueued {
                id: OutboxId(id),
                created: true,
            });
        }
        let existing: i64 = sqlx::query_scalar("SELECT id FROM outbox WHERE dedup_key = ?")
            .bind(&message.dedup_key)
            .fetch_one(&self.pool)
            .await
            .map_err(db_error(
                "reading the outbox message with the same dedup key",
            ))?;
        Ok(Enqueued {
            id: OutboxId(existing),
            created: false,
        })
    }

    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease: Duration,
    ) -> StoreResult<Vec<OutboxClaim>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let now_micros = now.timestamp_micros();
        let lease_end = now_micros.saturating_add(lease_micros(lease));
        // One statement: SQLite runs it under the write lock, so a message is claimed by one
        // worker (one process or several) at a time.
        let sql = format!(
            "UPDATE outbox SET
                 last_error = CASE WHEN state = 'in_flight'
                     THEN 'the worker delivering it stopped before finishing; retried after its lease ended'
                     ELSE last_error END,
                 state = 'in_flight',
                 lease_until = ?2,
                 claim = claim + 1,
                 attempts = attempts + 1,
                 updated_at = ?1
             WHERE id IN (
                 SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= ?1
                 UNION ALL
                 SELECT id FROM outbox WHERE state = 'in_flight' AND lease_until <= ?1
                 ORDER BY id
                 LIMIT ?3)
             RETURNING {OUTBOX_COLUMNS}"
        );
        let rows = sqlx::query(&sql)
            .bind(now_micros)
            .bind(lease_end)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error("claiming due outbox messages"))?;
        let mut claims = rows
            .iter()
            .map(|row| message_from_row(row).map(|(message, claim)| OutboxClaim { message, claim }))
            .collect::<StoreResult<Vec<_>>>()?;
        claims.sort_by_key(|c| c.message.id);
        Ok(claims)
    }

    async fn mark_delivered(
        &self,
        id: OutboxId,
        result: serde_json::Value,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let result = serde_json::to_string(&result)
            .map_err(|e| StoreError::InvalidInput(format!("delivery result: {e}")))?;
        let done = sqlx::query(
            "UPDATE outbox SET state = 'delivered', lease_until = NULL, result = ?2, updated_at = ?3
             WHERE id = ?1 AND state IN ('pending', 'in_flight')",
        )
        .bind(id.0)
        .bind(result)
        .bind(now.timestamp_micros())
        .execute(&self.pool)
        .await
        .map_err(db_error("marking an outbox message delivered"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn mark_retry(
        &self,
        id: OutboxId,
        claim: i64,
        error: &str,
        next_attempt_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE outbox SET state = 'pending', lease_until = NULL, last_error = ?3,
                 next_attempt_at = ?4, updated_at = ?5
             WHERE id = ?1 AND claim = ?2 AND state = 'in_flight'",
        )
        .bind(id.0)
        .bind(claim)
        .bind(error)
        .bind(next_attempt_at.timestamp_micros())
        .bind(now.timestamp_micros())
        .execute(&self.pool)
        .await
        .map_err(db_error("scheduling an outbox retry"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn mark_failed(
        &self,
        id: OutboxId,
        claim: i64,
        error: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE outbox SET state = 'failed', lease_until = NULL, last_error = ?3, updated_at = ?4
             WHERE id = ?1 AND claim = ?2 AND state = 'in_flight'",
        )
        .bind(id.0)
        .bind(claim)
        .bind(error)
        .bind(now.timestamp_micros())
        .execute(&self.pool)
        .await
        .map_err(db_error("marking an outbox message failed"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn requeue_failed(&self, id: OutboxId, now: DateTime<Utc>) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ?2, updated_at = ?2
             WHERE id = ?1 AND state = 'failed'",
        )
        .bind(id.0)
        .bind(now.timestamp_micros())
        .execute(&self.pool)
        .await
        .map_err(db_error("requeueing an outbox message"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn outbox_message(&self, id: OutboxId) -> StoreResult<Option<OutboxMessage>> {
        let sql = format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE id = ?");
        self.outbox_one(sqlx::query(&sql).bind(id.0)).await
    }

    async fn outbox_by_dedup_key(&self, dedup_key: &str) -> StoreResult<Option<OutboxMessage>> {
        let sql = format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE dedup_key = ?");
        self.outbox_one(sqlx::query(&sql).bind(dedup_key)).await
    }

    async fn list_outbox(
        &self,
        filter: &OutboxFilter,
        limit: usize,
    ) -> StoreResult<Vec<OutboxMessage>> {
        let mut sql: QueryBuilder<Sqlite> =
            QueryBuilder::new(format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE 1 = 1"));
        if let Some(state) = filter.state {
            sql.push(" AND state = ").push_bind(state.as_str());
        }
        if let Some(kind) = filter.kind {
            sql.push(" AND kind = ").push_bind(kind.as_str());
        }
        if let Some(before) = filter.before {
            sql.push(" AND id < ").push_bind(before.0);
        }
        sql.push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::try_from(limit.min(MAX_OUTBOX_PAGE)).unwrap_or(0));
        let rows = sql
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(db_error("listing outbox messages"))?;
        rows.iter()
            .map(|row| message_from_row(row).map(|(m, _)| m))
            .collect()
    }

    async fn outbox_counts(&self) -> StoreResult<Vec<(OutboxState, u64)>> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT state, count(*) FROM outbox GROUP BY state ORDER BY state")
                .fetch_all(&self.pool)
                .await
                .map_err(db_error("counting outbox messages"))?;
        rows.into_iter()
            .map(|(state, count)| {
                let state = state
                    .parse::<OutboxState>()
                    .map_err(|e| StoreError::Database(format!("outbox counts: {e}")))?;
                Ok((state, u64::try_from(count).unwrap_or(0)))
            })
            .collect()
    }
}
