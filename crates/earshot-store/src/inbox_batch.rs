//! The ingest hook's batch path ([`InboxBatchStore`], a supertrait of [`crate::Store`]): a
//! pipeline batch's new conversations and threaded mentions in one transaction, and the
//! lookups that decide between them done once per batch instead of once per mention.
//!
//! The result is the same as calling `InboxStore::create_conversation` and
//! `InboxStore::attach_mention` step by step (same rows, same events in the same order);
//! only the number of transactions and round trips differs.

use std::collections::{BTreeSet, HashMap, HashSet};

use async_trait::async_trait;
use earshot_core::{
    ConversationId, ConversationState, ConversationTarget, EventKind, InboxStep, InboxStepOutcome,
    MentionId, Stamp,
};
use sqlx::{QueryBuilder, Row, Sqlite};

use crate::sqlite_inbox::{begin, clean_name, conversation_for_mention_in, db, micros};
use crate::{InboxError, SqliteStore, StoreError, StoreResult};

/// Rows per multi-row INSERT: well under SQLite's limit of 32,766 bound values.
const ROWS_PER_INSERT: usize = 500;

#[async_trait]
pub trait InboxBatchStore: Send + Sync {
    /// Apply the steps in order in ONE transaction: all of them or, on an error (which names
    /// the step's mention), none. An `Open` of a mention that already has a conversation and
    /// an `Attach` of a mention already in that conversation change nothing (as the one-step
    /// methods); an `Attach` to a conversation opened in the batch names the `Open`'s index.
    async fn create_conversations(
        &self,
        steps: &[InboxStep],
        stamp: &Stamp,
    ) -> StoreResult<Vec<InboxStepOutcome>>;
    /// The conversations of these mentions (those that have one), in one query.
    async fn conversations_for_mentions(
        &self,
        mentions: &[MentionId],
    ) -> StoreResult<HashMap<MentionId, ConversationId>>;
    /// For each `(source, reference)` the conversation `InboxStore::conversation_for_reference`
    /// would return, in one query, with the rank of the lookup that found it (1: a mention's
    /// external id, 2: a mention's canonical URL, 3: a sent reply's network id, 4: its URL;
    /// the one-step lookup tries them in that order). References that find none are left out.
    async fn conversations_for_references(
        &self,
        references: &[(String, String)],
    ) -> StoreResult<HashMap<(String, String), (u8, ConversationId)>>;
}

/// The error of a step, with the step's mention named so the caller can find the input.
fn step_error(mention: MentionId, error: impl std::fmt::Display) -> StoreError {
    StoreError::InvalidInput(format!("inbox batch, mention {mention}: {error}"))
}

#[async_trait]
impl InboxBatchStore for SqliteStore {
    async fn create_conversations(
        &self,
        steps: &[InboxStep],
        stamp: &Stamp,
    ) -> StoreResult<Vec<InboxStepOutcome>> {
        // Everything that can be checked without the database is checked before the
        // transaction starts.
        let mut tags_of_step: Vec<BTreeSet<String>> = Vec::with_capacity(steps.len());
        for (index, step) in steps.iter().enumerate() {
            let mut tags = BTreeSet::new();
            match step {
                InboxStep::Open(new) => {
                    let has_assignee = new.assignee.is_some();
                    ConversationState::New
                        .after_assignment(has_assignee)
                        .check_transition(new.state, has_assignee)
                        .map_err(|e| step_error(new.root_mention, e))?;
                    for tag in &new.tags {
                        tags.insert(
                            clean_name("a tag", tag)
                                .map_err(|e| step_error(new.root_mention, e))?,
                        );
                    }
                }
                InboxStep::Attach {
                    to: ConversationTarget::OpenedInBatch(opened),
                    mention,
                } => {
                    if *opened >= index || !matches!(steps[*opened], InboxStep::Open(_)) {
                        return Err(step_error(
                            *mention,
                            format!("step {opened} is not an earlier Open of this batch"),
                        ));
                    }
                }
                InboxStep::Attach { .. } => {}
            }
            tags_of_step.push(tags);
        }
        let at = micros(stamp.at);
        let mut tx = begin(self).await?;
        let members: HashSet<String> =
            sqlx::query_scalar("SELECT DISTINCT member FROM team_members")
                .fetch_all(&mut *tx)
                .await
                .map_err(db("loading team members"))?
                .into_iter()
                .collect();
        let mut outcomes: Vec<InboxStepOutcome> = Vec::with_capacity(steps.len());
        // (conversation, kind) in the order the one-step methods would write them.
        let mut events: Vec<(ConversationId, EventKind)> = Vec::new();
        for (step, tags) in steps.iter().zip(&tags_of_step) {
            match step {
                InboxStep::Open(new) => {
                    if let Some(existing) =
                        conversation_for_mention_in(&mut tx, new.root_mention).await?
                    {
                        outcomes.push(InboxStepOutcome::AlreadyOpen(existing));
                        continue;
                    }
                    let assignee = match &new.assignee {
                        Some(name) => {
                            let name = name.trim();
                            if !members.contains(name) {
                                return Err(step_error(
                                    new.root_mention,
                                    InboxError::UnknownMember(name.to_string()),
                                ));
                            }
                            Some(name.to_string())
                        }
                        None => None,
                    };
                    let inserted: Option<i64> = sqlx::query_scalar(
                        "INSERT INTO conversations (state, priority, team, assignee, source, \
                            lang, root_mention, mention_count, author_handle, author_name, \
                            author_followers, first_mention_at, last_mention_at, routed_by, \
                            routing_reason, negative, first_response_due, resolution_due, \
                            resolved_at, created_at, updated_at) \
                         SELECT ?1, ?2, ?3, ?4, m.source, m.lang, m.id, 1, m.author_handle, \
                            m.author_name, m.author_followers, m.published_at, m.published_at, \
                            ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11 \
                         FROM mentions m WHERE m.id = ?12 RETURNING id",
                    )
                    .bind(new.state.as_str())
                    .bind(new.priority.rank())
                    .bind(&new.team)
                    .bind(&assignee)
                    .bind(&new.routed_by)
                    .bind(&new.routing_reason)
                    .bind(new.negative)
                    .bind(new.first_response_due.map(micros))
                    .bind(new.resolution_due.map(micros))
                    .bind((new.state == ConversationState::Resolved).then_some(at))
                    .bind(at)
                    .bind(new.root_mention.0)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db("creating a conversation"))?;
                    let id = ConversationId(inserted.ok_or_else(|| {
                        step_error(
                            new.root_mention,
                            InboxError::MentionNotFound(new.root_mention),
                        )
                    })?);
                    sqlx::query(
                        "INSERT INTO conversation_mentions (mention_id, conversation_id, \
                            attached_at) VALUES (?1, ?2, ?3)",
                    )
                    .bind(new.root_mention.0)
                    .bind(id.0)
                    .bind(at)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("attaching the root mention"))?;
                    events.push((
                        id,
                        EventKind::Created {
                            root_mention: new.root_mention,
                        },
                    ));
                    if new.routed_by.is_some() || new.routing_reason.is_some() || new.team.is_some()
                    {
                        events.push((
                            id,
                            EventKind::Routed {
                                rule: new.routed_by.clone(),
                                reason: new.routing_reason.clone(),
                                team: new.team.clone(),
                            },
                        ));
                    }
                    if assignee.is_some() {
                        events.push((
                            id,
                            EventKind::Assigned {
                                from: None,
                                to: assignee.clone(),
                            },
                        ));
                    }
                    if new.state != ConversationState::New {
                        events.push((
                            id,
                            EventKind::StateChanged {
                                from: ConversationState::New,
                                to: new.state,
                            },
                        ));
                    }
                    for tag in tags {
                        sqlx::query(
                            "INSERT INTO conversation_tags (conversation_id, tag) VALUES (?1, ?2)",
                        )
                        .bind(id.0)
                        .bind(tag)
                        .execute(&mut *tx)
                        .await
                        .map_err(db("tagging a conversation"))?;
                        events.push((id, EventKind::Tagged { tag: tag.clone() }));
                    }
                    outcomes.push(InboxStepOutcome::Opened(id));
                }
                InboxStep::Attach { to, mention } => {
                    let id = match *to {
                        ConversationTarget::Stored(id) => {
                            let exists: Option<i64> =
                                sqlx::query_scalar("SELECT id FROM conversations WHERE id = ?1")
                                    .bind(id.0)
                                    .fetch_optional(&mut *tx)
                                    .await
                                    .map_err(db("loading a conversation"))?;
                            if exists.is_none() {
                                return Err(step_error(
                                    *mention,
                                    InboxError::ConversationNotFound(id),
                                ));
                            }
                            id
                        }
                        ConversationTarget::OpenedInBatch(step) => outcomes[step].conversation(),
                    };
                    match conversation_for_mention_in(&mut tx, *mention).await? {
                        Some(current) if current == id => {
                            outcomes.push(InboxStepOutcome::AlreadyAttached(id));
                            continue;
                        }
                        Some(other) => {
                            return Err(step_error(
                                *mention,
                                InboxError::MentionInOtherConversation {
                                    mention: *mention,
                                    conversation: other,
                                },
                            ))
                        }
                        None => {}
                    }
                    let published: Option<i64> =
                        sqlx::query_scalar("SELECT published_at FROM mentions WHERE id = ?1")
                            .bind(mention.0)
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err(db("loading a mention"))?;
                    let published = published.ok_or_else(|| {
                        step_error(*mention, InboxError::MentionNotFound(*mention))
                    })?;
                    sqlx::query(
                        "INSERT INTO conversation_mentions (mention_id, conversation_id, \
                            attached_at) VALUES (?1, ?2, ?3)",
                    )
                    .bind(mention.0)
                    .bind(id.0)
                    .bind(at)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("attaching a mention"))?;
                    sqlx::query(
                        "UPDATE conversations SET mention_count = mention_count + 1, \
                            first_mention_at = MIN(first_mention_at, ?2), \
                            last_mention_at = MAX(last_mention_at, ?2), updated_at = ?3 \
                         WHERE id = ?1",
                    )
                    .bind(id.0)
                    .bind(published)
                    .bind(at)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("counting a conversation's mentions"))?;
                    events.push((id, EventKind::MentionAttached { mention: *mention }));
                    outcomes.push(InboxStepOutcome::Attached(id));
                }
            }
        }
        // The log in multi-row inserts: rows get ids in VALUES order, so the events keep the
        // order the one-step methods would have given them.
        for chunk in events.chunks(ROWS_PER_INSERT) {
            let mut insert = QueryBuilder::<Sqlite>::new(
                "INSERT INTO conversation_events (conversation_id, at, actor, kind, data) ",
            );
            insert.push_values(chunk, |mut row, (conversation, kind)| {
                row.push_bind(conversation.0)
                    .push_bind(at)
                    .push_bind(&stamp.actor)
                    .push_bind(kind.name())
                    .push_bind(serde_json::to_string(kind).expect("events always serialize"));
            });
            insert
                .build()
                .execute(&mut *tx)
                .await
                .map_err(db("recording events"))?;
        }
        tx.commit()
            .await
            .map_err(db("committing a batch of conversations"))?;
        Ok(outcomes)
    }

    async fn conversations_for_mentions(
        &self,
        mentions: &[MentionId],
    ) -> StoreResult<HashMap<MentionId, ConversationId>> {
        if mentions.is_empty() {
            return Ok(HashMap::new());
        }
        let ids = serde_json::to_string(&mentions.iter().map(|m| m.0).collect::<Vec<_>>())
            .expect("ids serialize");
        let rows = sqlx::query(
            "SELECT cm.mention_id, cm.conversation_id FROM json_each(?1) j \
             JOIN conversation_mentions cm ON cm.mention_id = j.value",
        )
        .bind(ids)
        .fetch_all(self.pool())
        .await
        .map_err(db("finding the conversations of mentions"))?;
        Ok(rows
            .iter()
            .map(|row| {
                (
                    MentionId(row.get("mention_id")),
                    ConversationId(row.get("conversation_id")),
                )
            })
            .collect())
    }

    async fn conversations_for_references(
        &self,
        references: &[(String, String)],
    ) -> StoreResult<HashMap<(String, String), (u8, ConversationId)>> {
        let wanted: Vec<(&str, &str)> = references
            .iter()
            .map(|(source, reference)| (source.as_str(), reference.trim()))
            .filter(|(_, reference)| !reference.is_empty())
            .collect();
        if wanted.is_empty() {
            return Ok(HashMap::new());
        }
        let json = serde_json::to_string(&wanted).expect("pairs serialize");
        // The four lookups of `conversation_for_reference`, ranked in its order; each joins
        // from the references so that it uses its own index.
        let rows = sqlx::query(
            "WITH refs(source, reference) AS MATERIALIZED ( \
                SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') \
                FROM json_each(?1)) \
             SELECT refs.source, refs.reference, 1 AS rank, cm.conversation_id \
                FROM refs JOIN mentions m ON m.source = refs.source \
                    AND m.external_id = refs.reference \
                JOIN conversation_mentions cm ON cm.mention_id = m.id \
             UNION ALL \
             SELECT refs.source, refs.reference, 2, cm.conversation_id \
                FROM refs JOIN mentions m ON m.canonical_url = refs.reference \
                    AND m.source = refs.source \
                JOIN conversation_mentions cm ON cm.mention_id = m.id \
             UNION ALL \
             SELECT refs.source, refs.reference, 3, r.conversation_id \
                FROM refs JOIN replies r ON r.network_id = refs.reference \
                JOIN conversations c ON c.id = r.conversation_id AND c.source = refs.source \
             UNION ALL \
             SELECT refs.source, refs.reference, 4, r.conversation_id \
                FROM refs JOIN replies r ON r.network_url = refs.reference \
                JOIN conversations c ON c.id = r.conversation_id AND c.source = refs.source",
        )
        .bind(json)
        .fetch_all(self.pool())
        .await
        .map_err(db("finding the conversations of replies"))?;
        let mut best: HashMap<(String, String), (i64, i64)> = HashMap::new();
        for row in &rows {
            let key: (String, String) = (row.get("source"), row.get("reference"));
            let found: (i64, i64) = (row.get("rank"), row.get("conversation_id"));
            best.entry(key)
                .and_modify(|current| *current = (*current).min(found))
                .or_insert(found);
        }
        // Keyed as the caller gave them (untrimmed), like the one-step lookup.
        Ok(references
            .iter()
            .filter_map(|(source, reference)| {
                best.get(&(source.clone(), reference.trim().to_string()))
                    .map(|&(rank, id)| {
                        let rank = u8::try_from(rank).unwrap_or(u8::MAX);
                        (
                            (source.clone(), reference.clone()),
                            (rank, ConversationId(id)),
                        )
                    })
            })
            .collect())
    }
}
