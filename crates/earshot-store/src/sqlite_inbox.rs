//! [`InboxStore`] for [`SqliteStore`]: tables of `migrations/0004_inbox.sql`.
//!
//! Every change runs in one `BEGIN IMMEDIATE` transaction that reads the conversation, checks
//! the change, writes it and its event: two people acting on one conversation at once are
//! serialized, and the second sees the first's result.

use std::collections::{BTreeMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use earshot_core::inbox::{parse_note_mentions, DurationStats, GroupMetrics, MetricsWindow};
use earshot_core::{
    Conversation, ConversationDetail, ConversationEvent, ConversationFilter, ConversationId,
    ConversationSort, ConversationState, EventKind, FeedbackItem, FeedbackItemId, FeedbackTheme,
    InboxMetrics, MemberLoad, MentionId, NewConversation, Note, NoteId, Priority, Reply, ReplyId,
    ReplyStatus, SavedReply, SavedReplyId, SlaBreach, SlaClock, SlaDue, Stamp, TeamRecord,
};
use serde::{Deserialize, Serialize};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use crate::inbox::{
    ConversationPage, InboxError, InboxStore, MAX_CONVERSATION_PAGE, MAX_NAME_CHARS, MAX_TEXT_CHARS,
};
use crate::{SqliteStore, Store, StoreError, StoreResult};

/// The open states, written exactly as in the partial indexes of the migration, so that SQLite
/// recognizes the term and uses them.
const OPEN_STATES_SQL: &str = "c.state IN ('new', 'assigned', 'waiting')";

const CONVERSATION_COLUMNS: &str = "c.id, c.state, c.priority, c.team, c.assignee, c.source, \
    c.lang, c.root_mention, c.mention_count, c.author_handle, c.author_name, c.author_followers, \
    c.first_mention_at, c.last_mention_at, c.routed_by, c.routing_reason, c.negative, \
    c.first_response_due, c.resolution_due, c.first_response_at, c.resolved_at, \
    c.first_response_overdue, c.resolution_overdue, c.created_at, c.updated_at, \
    (SELECT json_group_array(tag) FROM (SELECT t.tag FROM conversation_tags t \
        WHERE t.conversation_id = c.id ORDER BY t.tag)) AS tags, \
    (SELECT json_group_array(brand) FROM (SELECT b.brand FROM mention_brands b \
        WHERE b.mention_id = c.root_mention ORDER BY b.brand)) AS brands";

const REPLY_COLUMNS: &str = "id, conversation_id, body, author, idempotency_key, status, \
    network_id, network_url, error, attempts, created_at, sent_at";

pub(crate) fn db(context: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| StoreError::Database(format!("{context}: {e}"))
}

pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn time(value: i64, column: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_micros(value).ok_or_else(|| {
        StoreError::Database(format!("column {column} holds an impossible time: {value}"))
    })
}

fn opt_time(value: Option<i64>, column: &str) -> StoreResult<Option<DateTime<Utc>>> {
    value.map(|v| time(v, column)).transpose()
}

fn read<'r, T>(row: &'r SqliteRow, column: &str) -> StoreResult<T>
where
    T: sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>,
{
    row.try_get(column)
        .map_err(|e| StoreError::Database(format!("reading column {column}: {e}")))
}

fn parse_stored<T: std::str::FromStr>(raw: &str, column: &str) -> StoreResult<T>
where
    T::Err: std::fmt::Display,
{
    raw.parse()
        .map_err(|e| StoreError::Database(format!("column {column}: {e}")))
}

fn json_list<T: serde::de::DeserializeOwned>(raw: &str, column: &str) -> StoreResult<Vec<T>> {
    serde_json::from_str(raw)
        .map_err(|e| StoreError::Database(format!("column {column} is not a JSON list: {e}")))
}

fn conversation_from_row(row: &SqliteRow) -> StoreResult<Conversation> {
    let state: String = read(row, "state")?;
    let priority: i64 = read(row, "priority")?;
    Ok(Conversation {
        id: ConversationId(read(row, "id")?),
        state: parse_stored(&state, "state")?,
        priority: Priority::from_rank(priority).ok_or_else(|| {
            StoreError::Database(format!("column priority holds {priority}, not 0..=3"))
        })?,
        team: read(row, "team")?,
        assignee: read(row, "assignee")?,
        tags: json_list(&read::<String>(row, "tags")?, "tags")?,
        brands: json_list(&read::<String>(row, "brands")?, "brands")?,
        source: read(row, "source")?,
        lang: read(row, "lang")?,
        root_mention: MentionId(read(row, "root_mention")?),
        mention_count: u32::try_from(read::<i64>(row, "mention_count")?).unwrap_or(u32::MAX),
        author_handle: read(row, "author_handle")?,
        author_name: read(row, "author_name")?,
        author_followers: read::<Option<i64>>(row, "author_followers")?
            .map(|f| u64::try_from(f).unwrap_or(0)),
        first_mention_at: time(read(row, "first_mention_at")?, "first_mention_at")?,
        last_mention_at: time(read(row, "last_mention_at")?, "last_mention_at")?,
        routed_by: read(row, "routed_by")?,
        routing_reason: read(row, "routing_reason")?,
        negative: read::<bool>(row, "negative")?,
        first_response_due: opt_time(read(row, "first_response_due")?, "first_response_due")?,
        resolution_due: opt_time(read(row, "resolution_due")?, "resolution_due")?,
        first_response_at: opt_time(read(row, "first_response_at")?, "first_response_at")?,
        resolved_at: opt_time(read(row, "resolved_at")?, "resolved_at")?,
        first_response_overdue: read::<bool>(row, "first_response_overdue")?,
        resolution_overdue: read::<bool>(row, "resolution_overdue")?,
        created_at: time(read(row, "created_at")?, "created_at")?,
        updated_at: time(read(row, "updated_at")?, "updated_at")?,
    })
}

fn reply_from_row(row: &SqliteRow) -> StoreResult<Reply> {
    let status: String = read(row, "status")?;
    Ok(Reply {
        id: ReplyId(read(row, "id")?),
        conversation: ConversationId(read(row, "conversation_id")?),
        body: read(row, "body")?,
        author: read(row, "author")?,
        idempotency_key: read(row, "idempotency_key")?,
        status: parse_stored::<ReplyStatus>(&status, "status")?,
        network_id: read(row, "network_id")?,
        network_url: read(row, "network_url")?,
        error: read(row, "error")?,
        attempts: u32::try_from(read::<i64>(row, "attempts")?).unwrap_or(u32::MAX),
        created_at: time(read(row, "created_at")?, "created_at")?,
        sent_at: opt_time(read(row, "sent_at")?, "sent_at")?,
    })
}

fn event_from_row(row: &SqliteRow) -> StoreResult<ConversationEvent> {
    let data: String = read(row, "data")?;
    let id: i64 = read(row, "id")?;
    Ok(ConversationEvent {
        id,
        conversation: ConversationId(read(row, "conversation_id")?),
        actor: read(row, "actor")?,
        at: time(read(row, "at")?, "at")?,
        kind: serde_json::from_str(&data).map_err(|e| {
            StoreError::Database(format!("event {id}: column data is not an event: {e}"))
        })?,
    })
}

fn note_from_row(row: &SqliteRow) -> StoreResult<Note> {
    Ok(Note {
        id: NoteId(read(row, "id")?),
        conversation: ConversationId(read(row, "conversation_id")?),
        author: read(row, "author")?,
        body: read(row, "body")?,
        mentions: json_list(&read::<String>(row, "mentions")?, "mentions")?,
        created_at: time(read(row, "created_at")?, "created_at")?,
    })
}

fn saved_reply_from_row(row: &SqliteRow) -> StoreResult<SavedReply> {
    Ok(SavedReply {
        id: SavedReplyId(read(row, "id")?),
        name: read(row, "name")?,
        body: read(row, "body")?,
        created_at: time(read(row, "created_at")?, "created_at")?,
        updated_at: time(read(row, "updated_at")?, "updated_at")?,
    })
}

fn feedback_item_from_row(row: &SqliteRow) -> StoreResult<FeedbackItem> {
    Ok(FeedbackItem {
        id: FeedbackItemId(read(row, "id")?),
        theme: read(row, "theme")?,
        summary: read(row, "summary")?,
        conversation: ConversationId(read(row, "conversation_id")?),
        author: read(row, "author")?,
        created_at: time(read(row, "created_at")?, "created_at")?,
    })
}

/// A trimmed one-line name (tag, theme, saved reply) or a clear refusal.
pub(crate) fn clean_name(what: &'static str, raw: &str) -> Result<String, InboxError> {
    let name = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() {
        return Err(InboxError::Empty(what));
    }
    let len = name.chars().count();
    if len > MAX_NAME_CHARS {
        return Err(InboxError::TooLong {
            what,
            len,
            max: MAX_NAME_CHARS,
        });
    }
    Ok(name)
}

/// Text kept as written (line breaks matter in replies), but not blank and not huge.
fn clean_text(what: &'static str, raw: &str) -> Result<String, InboxError> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(InboxError::Empty(what));
    }
    let len = text.chars().count();
    if len > MAX_TEXT_CHARS {
        return Err(InboxError::TooLong {
            what,
            len,
            max: MAX_TEXT_CHARS,
        });
    }
    Ok(text.to_string())
}

/// Names equal without regard to case or spacing share a key (themes, saved replies).
fn name_key(name: &str) -> String {
    name.to_lowercase()
}

/// Where the last row of a page was, in the list's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
enum ListCursor {
    /// Priority then age: (priority rank, created_at, id).
    #[serde(rename = "q")]
    Queue(i64, i64, i64),
    /// Newest first: (created_at, id).
    #[serde(rename = "n")]
    Newest(i64, i64),
}

impl ListCursor {
    fn encode(&self) -> String {
        hex::encode(serde_json::to_vec(self).expect("a cursor always serializes"))
    }

    fn decode(raw: &str, sort: ConversationSort) -> StoreResult<ListCursor> {
        let bytes = hex::decode(raw.trim()).map_err(|_| StoreError::BadCursor)?;
        let cursor: ListCursor =
            serde_json::from_slice(&bytes).map_err(|_| StoreError::BadCursor)?;
        match (cursor, sort) {
            (ListCursor::Queue(..), ConversationSort::PriorityThenAge)
            | (ListCursor::Newest(..), ConversationSort::Newest) => Ok(cursor),
            // A cursor of another order would skip or repeat rows.
            _ => Err(StoreError::BadCursor),
        }
    }
}

pub(crate) async fn begin(store: &SqliteStore) -> StoreResult<sqlx::Transaction<'static, Sqlite>> {
    store
        .pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(db("starting an inbox transaction"))
}

async fn load_conversation(
    conn: &mut SqliteConnection,
    id: ConversationId,
) -> StoreResult<Option<Conversation>> {
    let row = sqlx::query(&format!(
        "SELECT {CONVERSATION_COLUMNS} FROM conversations c WHERE c.id = ?1"
    ))
    .bind(id.0)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db("loading a conversation"))?;
    row.as_ref().map(conversation_from_row).transpose()
}

async fn existing_conversation(
    conn: &mut SqliteConnection,
    id: ConversationId,
) -> StoreResult<Conversation> {
    load_conversation(conn, id)
        .await?
        .ok_or_else(|| InboxError::ConversationNotFound(id).into())
}

pub(crate) async fn insert_event(
    conn: &mut SqliteConnection,
    conversation: ConversationId,
    stamp: &Stamp,
    kind: &EventKind,
) -> StoreResult<i64> {
    let data = serde_json::to_string(kind).expect("events always serialize");
    let result = sqlx::query(
        "INSERT INTO conversation_events (conversation_id, at, actor, kind, data) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .bind(conversation.0)
    .bind(micros(stamp.at))
    .bind(&stamp.actor)
    .bind(kind.name())
    .bind(data)
    .execute(&mut *conn)
    .await
    .map_err(db("recording an event"))?;
    Ok(result.last_insert_rowid())
}

async fn touch(
    conn: &mut SqliteConnection,
    id: ConversationId,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query("UPDATE conversations SET updated_at = ?2 WHERE id = ?1")
        .bind(id.0)
        .bind(micros(at))
        .execute(&mut *conn)
        .await
        .map_err(db("updating a conversation"))?;
    Ok(())
}

/// The member's name as the team list spells it, or `None` when nobody is called that.
async fn known_member(conn: &mut SqliteConnection, name: &str) -> StoreResult<Option<String>> {
    sqlx::query_scalar("SELECT member FROM team_members WHERE member = ?1 LIMIT 1")
        .bind(name.trim())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db("looking up a team member"))
}

async fn load_reply(conn: &mut SqliteConnection, id: ReplyId) -> StoreResult<Option<Reply>> {
    let row = sqlx::query(&format!(
        "SELECT {REPLY_COLUMNS} FROM replies WHERE id = ?1"
    ))
    .bind(id.0)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db("loading a reply"))?;
    row.as_ref().map(reply_from_row).transpose()
}

async fn load_reply_by_key(conn: &mut SqliteConnection, key: &str) -> StoreResult<Option<Reply>> {
    let row = sqlx::query(&format!(
        "SELECT {REPLY_COLUMNS} FROM replies WHERE idempotency_key = ?1"
    ))
    .bind(key)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db("loading a reply"))?;
    row.as_ref().map(reply_from_row).transpose()
}

/// Finds the reply of an idempotency key, or inserts a pending one (with its event). Returns
/// the reply and whether it is new.
async fn queue_reply_in(
    conn: &mut SqliteConnection,
    id: ConversationId,
    body: &str,
    idempotency_key: &str,
    stamp: &Stamp,
) -> StoreResult<(Reply, bool)> {
    let key = idempotency_key.trim();
    if key.is_empty() {
        return Err(InboxError::Empty("the idempotency key").into());
    }
    if let Some(existing) = load_reply_by_key(conn, key).await? {
        if existing.conversation != id {
            return Err(InboxError::IdempotencyKeyReused {
                key: key.to_string(),
                conversation: existing.conversation,
            }
            .into());
        }
        return Ok((existing, false));
    }
    let body = clean_text("the reply", body)?;
    existing_conversation(conn, id).await?;
    let reply_id: i64 = sqlx::query_scalar(
        "INSERT INTO replies (conversation_id, body, author, idempotency_key, status, created_at) \
         VALUES (?1, ?2, ?3, ?4, 'pending', ?5) RETURNING id",
    )
    .bind(id.0)
    .bind(&body)
    .bind(&stamp.actor)
    .bind(key)
    .bind(micros(stamp.at))
    .fetch_one(&mut *conn)
    .await
    .map_err(db("queueing a reply"))?;
    let reply_id = ReplyId(reply_id);
    insert_event(conn, id, stamp, &EventKind::ReplyQueued { reply: reply_id }).await?;
    touch(conn, id, stamp.at).await?;
    let reply = load_reply(conn, reply_id)
        .await?
        .ok_or(InboxError::ReplyNotFound(reply_id))?;
    Ok((reply, true))
}

/// The first response of a conversation is its first reply that went out (sent or answered
/// elsewhere); it also ends the first-response overdue flag.
async fn record_first_response(
    conn: &mut SqliteConnection,
    id: ConversationId,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE conversations SET \
            first_response_overdue = CASE WHEN first_response_at IS NULL THEN 0 \
                ELSE first_response_overdue END, \
            first_response_at = COALESCE(first_response_at, ?2), updated_at = ?2 \
         WHERE id = ?1",
    )
    .bind(id.0)
    .bind(micros(at))
    .execute(&mut *conn)
    .await
    .map_err(db("recording the first response"))?;
    Ok(())
}

async fn mark_answered_elsewhere_in(
    conn: &mut SqliteConnection,
    reply: Reply,
    url: Option<&str>,
    stamp: &Stamp,
) -> StoreResult<Reply> {
    match reply.status {
        ReplyStatus::AnsweredElsewhere => return Ok(reply),
        ReplyStatus::Sent => {
            return Err(InboxError::ReplyAlreadyFinal(reply.id, "answered elsewhere").into())
        }
        ReplyStatus::Pending | ReplyStatus::Failed => {}
    }
    let url = url.map(str::trim).filter(|u| !u.is_empty());
    sqlx::query(
        "UPDATE replies SET status = 'answered_elsewhere', network_url = ?2, sent_at = ?3 \
         WHERE id = ?1",
    )
    .bind(reply.id.0)
    .bind(url)
    .bind(micros(stamp.at))
    .execute(&mut *conn)
    .await
    .map_err(db("marking a reply answered elsewhere"))?;
    record_first_response(conn, reply.conversation, stamp.at).await?;
    insert_event(
        conn,
        reply.conversation,
        stamp,
        &EventKind::ReplyAnsweredElsewhere {
            reply: reply.id,
            url: url.map(str::to_string),
        },
    )
    .await?;
    load_reply(conn, reply.id)
        .await?
        .ok_or_else(|| InboxError::ReplyNotFound(reply.id).into())
}

async fn existing_reply(conn: &mut SqliteConnection, id: ReplyId) -> StoreResult<Reply> {
    load_reply(conn, id)
        .await?
        .ok_or_else(|| InboxError::ReplyNotFound(id).into())
}

/// Adds the filter's conditions (each `AND ...`) to a query over `conversations c`.
fn is_open_set(states: &[ConversationState]) -> bool {
    let states: HashSet<ConversationState> = states.iter().copied().collect();
    let open: HashSet<ConversationState> = ConversationState::ALL
        .iter()
        .copied()
        .filter(|s| s.is_open())
        .collect();
    states == open
}

fn push_filter(query: &mut QueryBuilder<'_, Sqlite>, filter: &ConversationFilter) {
    let states: HashSet<ConversationState> = filter.states.iter().copied().collect();
    if is_open_set(&filter.states) {
        query.push(" AND ").push(OPEN_STATES_SQL);
    } else if !states.is_empty() {
        // Names come from the enum, never from the request, so they are written inline.
        let names: Vec<String> = ConversationState::ALL
            .iter()
            .filter(|s| states.contains(s))
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        query.push(format!(" AND c.state IN ({})", names.join(", ")));
    }
    if let Some(team) = &filter.team {
        query.push(" AND c.team = ").push_bind(team.clone());
    }
    if let Some(assignee) = &filter.assignee {
        query.push(" AND c.assignee = ").push_bind(assignee.clone());
    }
    if filter.unassigned {
        query.push(" AND c.assignee IS NULL");
    }
    if let Some(priority) = filter.priority {
        query.push(" AND c.priority = ").push_bind(priority.rank());
    }
    if filter.overdue {
        query.push(" AND (first_response_overdue = 1 OR resolution_overdue = 1)");
    }
    if let Some(brand) = &filter.brand {
        query
            .push(" AND EXISTS (SELECT 1 FROM mention_brands b WHERE b.brand = ")
            .push_bind(brand.clone())
            .push(" AND b.mention_id = c.root_mention)");
    }
    if let Some(source) = &filter.source {
        query.push(" AND c.source = ").push_bind(source.clone());
    }
    if let Some(lang) = &filter.lang {
        query.push(" AND c.lang = ").push_bind(lang.clone());
    }
    if let Some(tag) = &filter.tag {
        query
            .push(" AND EXISTS (SELECT 1 FROM conversation_tags t WHERE t.tag = ")
            .push_bind(tag.trim().to_string())
            .push(" AND t.conversation_id = c.id)");
    }
}

/// Adds each value to its groups: the overall one and one per key.
#[derive(Default)]
struct GroupAccumulator {
    conversations: u64,
    responded: u64,
    first_response_secs: Vec<f64>,
    resolution_secs: Vec<f64>,
}

impl GroupAccumulator {
    fn add(&mut self, row: &MetricsRow) {
        self.conversations += 1;
        if let Some(first) = row.first_response_at {
            self.responded += 1;
            self.first_response_secs
                .push((first - row.created_at) as f64 / 1e6);
        }
        if let Some(resolved) = row.resolved_at {
            self.resolution_secs
                .push((resolved - row.created_at) as f64 / 1e6);
        }
    }

    fn finish(self, key: String) -> GroupMetrics {
        GroupMetrics {
            key,
            conversations: self.conversations,
            responded: self.responded,
            response_rate: (self.conversations > 0)
                .then(|| self.responded as f64 / self.conversations as f64),
            first_response: DurationStats::from_secs(self.first_response_secs),
            resolution: DurationStats::from_secs(self.resolution_secs),
        }
    }
}

struct MetricsRow {
    team: Option<String>,
    assignee: Option<String>,
    source: String,
    brands: Vec<String>,
    created_at: i64,
    first_response_at: Option<i64>,
    resolved_at: Option<i64>,
}

fn finish_groups(groups: BTreeMap<String, GroupAccumulator>) -> Vec<GroupMetrics> {
    groups
        .into_iter()
        .map(|(key, acc)| acc.finish(key))
        .collect()
}

#[async_trait]
impl InboxStore for SqliteStore {
    async fn upsert_teams(&self, teams: &[TeamRecord]) -> StoreResult<()> {
        let mut seen = HashSet::new();
        for team in teams {
            let name = clean_name("a team name", &team.name)?;
            if !seen.insert(name.clone()) {
                return Err(StoreError::Database(format!(
                    "team {name:?} is listed twice; team names must be unique"
                )));
            }
        }
        let mut tx = begin(self).await?;
        sqlx::query("DELETE FROM team_members")
            .execute(&mut *tx)
            .await
            .map_err(db("replacing teams"))?;
        sqlx::query("DELETE FROM teams")
            .execute(&mut *tx)
            .await
            .map_err(db("replacing teams"))?;
        for (position, team) in teams.iter().enumerate() {
            let name = clean_name("a team name", &team.name)?;
            sqlx::query(
                "INSERT INTO teams (name, manager, capacity, hours, position) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .bind(&name)
            .bind(
                team.manager
                    .as_deref()
                    .map(str::trim)
                    .filter(|m| !m.is_empty()),
            )
            .bind(team.capacity.map(i64::from))
            .bind(team.hours.to_string())
            .bind(position as i64)
            .execute(&mut *tx)
            .await
            .map_err(db("storing a team"))?;
            for member in &team.members {
                let member = clean_name("a member name", member)?;
                sqlx::query(
                    "INSERT INTO team_members (team, member) VALUES (?1, ?2) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(&name)
                .bind(member)
                .execute(&mut *tx)
                .await
                .map_err(db("storing a team member"))?;
            }
        }
        tx.commit().await.map_err(db("committing teams"))?;
        Ok(())
    }

    async fn teams(&self) -> StoreResult<Vec<TeamRecord>> {
        let rows = sqlx::query(
            "SELECT t.name, t.manager, t.capacity, t.hours, \
                (SELECT json_group_array(member) FROM (SELECT m.member FROM team_members m \
                    WHERE m.team = t.name ORDER BY m.member)) AS members \
             FROM teams t ORDER BY t.position",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db("loading teams"))?;
        rows.iter()
            .map(|row| {
                let hours: String = read(row, "hours")?;
                Ok(TeamRecord {
                    name: read(row, "name")?,
                    manager: read(row, "manager")?,
                    capacity: read::<Option<i64>>(row, "capacity")?
                        .map(|c| u32::try_from(c).unwrap_or(u32::MAX)),
                    hours: serde_json::from_str(&hours).map_err(|e| {
                        StoreError::Database(format!("column hours is not JSON: {e}"))
                    })?,
                    members: json_list(&read::<String>(row, "members")?, "members")?,
                })
            })
            .collect()
    }

    async fn member_loads(&self, team: Option<&str>) -> StoreResult<Vec<MemberLoad>> {
        let rows = sqlx::query(
            "SELECT m.member, m.team, \
                (SELECT COUNT(*) FROM conversations c \
                    WHERE c.assignee = m.member AND c.state = 'assigned') AS assigned, \
                (SELECT COUNT(*) FROM conversations c \
                    WHERE c.assignee = m.member AND c.state = 'waiting') AS waiting \
             FROM team_members m WHERE ?1 IS NULL OR m.team = ?1",
        )
        .bind(team)
        .fetch_all(&self.pool)
        .await
        .map_err(db("counting open conversations per member"))?;
        let mut loads = rows
            .iter()
            .map(|row| {
                Ok(MemberLoad {
                    member: read(row, "member")?,
                    team: read(row, "team")?,
                    assigned: read::<i64>(row, "assigned")?.max(0) as u64,
                    waiting: read::<i64>(row, "waiting")?.max(0) as u64,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        loads.sort_by(|a, b| (a.open(), &a.member, &a.team).cmp(&(b.open(), &b.member, &b.team)));
        Ok(loads)
    }

    async fn create_conversation(
        &self,
        new: &NewConversation,
        stamp: &Stamp,
    ) -> StoreResult<(Conversation, bool)> {
        let has_assignee = new.assignee.is_some();
        ConversationState::New
            .after_assignment(has_assignee)
            .check_transition(new.state, has_assignee)
            .map_err(InboxError::from)?;
        let tags = new
            .tags
            .iter()
            .map(|t| clean_name("a tag", t))
            .collect::<Result<Vec<_>, _>>()?;
        let mut tx = begin(self).await?;
        if let Some(existing) = conversation_for_mention_in(&mut tx, new.root_mention).await? {
            let conversation = existing_conversation(&mut tx, existing).await?;
            return Ok((conversation, false));
        }
        let assignee = match &new.assignee {
            Some(name) => Some(
                known_member(&mut tx, name)
                    .await?
                    .ok_or_else(|| InboxError::UnknownMember(name.clone()))?,
            ),
            None => None,
        };
        let at = micros(stamp.at);
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO conversations (state, priority, team, assignee, source, lang, \
                root_mention, mention_count, author_handle, author_name, author_followers, \
                first_mention_at, last_mention_at, routed_by, routing_reason, negative, \
                first_response_due, resolution_due, resolved_at, created_at, updated_at) \
             SELECT ?1, ?2, ?3, ?4, m.source, m.lang, m.id, 1, m.author_handle, m.author_name, \
                m.author_followers, m.published_at, m.published_at, ?5, ?6, ?7, ?8, ?9, ?10, \
                ?11, ?11 \
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
        let id = ConversationId(inserted.ok_or(InboxError::MentionNotFound(new.root_mention))?);
        sqlx::query(
            "INSERT INTO conversation_mentions (mention_id, conversation_id, attached_at) \
             VALUES (?1, ?2, ?3)",
        )
        .bind(new.root_mention.0)
        .bind(id.0)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(db("attaching the root mention"))?;
        let mut events = vec![EventKind::Created {
            root_mention: new.root_mention,
        }];
        if new.routed_by.is_some() || new.routing_reason.is_some() || new.team.is_some() {
            events.push(EventKind::Routed {
                rule: new.routed_by.clone(),
                reason: new.routing_reason.clone(),
                team: new.team.clone(),
            });
        }
        if assignee.is_some() {
            events.push(EventKind::Assigned {
                from: None,
                to: assignee.clone(),
            });
        }
        if new.state != ConversationState::New {
            events.push(EventKind::StateChanged {
                from: ConversationState::New,
                to: new.state,
            });
        }
        for tag in tags.iter().collect::<std::collections::BTreeSet<_>>() {
            sqlx::query("INSERT INTO conversation_tags (conversation_id, tag) VALUES (?1, ?2)")
                .bind(id.0)
                .bind(tag)
                .execute(&mut *tx)
                .await
                .map_err(db("tagging a conversation"))?;
            events.push(EventKind::Tagged { tag: tag.clone() });
        }
        for event in &events {
            insert_event(&mut tx, id, stamp, event).await?;
        }
        let conversation = existing_conversation(&mut tx, id).await?;
        tx.commit()
            .await
            .map_err(db("committing a new conversation"))?;
        Ok((conversation, true))
    }

    async fn conversation_for_mention(
        &self,
        mention: MentionId,
    ) -> StoreResult<Option<ConversationId>> {
        let mut conn = self.pool.acquire().await.map_err(db("connecting"))?;
        conversation_for_mention_in(&mut conn, mention).await
    }

    async fn conversation_for_reference(
        &self,
        source: &str,
        reference: &str,
    ) -> StoreResult<Option<ConversationId>> {
        let reference = reference.trim();
        if reference.is_empty() {
            return Ok(None);
        }
        // Separate statements, so each uses its own index (an OR across them would scan).
        let lookups = [
            "SELECT cm.conversation_id FROM mentions m \
             JOIN conversation_mentions cm ON cm.mention_id = m.id \
             WHERE m.source = ?1 AND m.external_id = ?2",
            "SELECT cm.conversation_id FROM mentions m \
             JOIN conversation_mentions cm ON cm.mention_id = m.id \
             WHERE m.canonical_url = ?2 AND m.source = ?1",
            "SELECT r.conversation_id FROM replies r \
             JOIN conversations c ON c.id = r.conversation_id \
             WHERE r.network_id = ?2 AND c.source = ?1",
            "SELECT r.conversation_id FROM replies r \
             JOIN conversations c ON c.id = r.conversation_id \
             WHERE r.network_url = ?2 AND c.source = ?1",
        ];
        for lookup in lookups {
            let found: Option<i64> = sqlx::query_scalar(&format!("{lookup} LIMIT 1"))
                .bind(source)
                .bind(reference)
                .fetch_optional(&self.pool)
                .await
                .map_err(db("finding the conversation of a reply"))?;
            if let Some(id) = found {
                return Ok(Some(ConversationId(id)));
            }
        }
        Ok(None)
    }

    async fn attach_mention(
        &self,
        id: ConversationId,
        mention: MentionId,
        stamp: &Stamp,
    ) -> StoreResult<Conversation> {
        let mut tx = begin(self).await?;
        let conversation = existing_conversation(&mut tx, id).await?;
        match conversation_for_mention_in(&mut tx, mention).await? {
            Some(current) if current == id => return Ok(conversation),
            Some(other) => {
                return Err(InboxError::MentionInOtherConversation {
                    mention,
                    conversation: other,
                }
                .into())
            }
            None => {}
        }
        let published: Option<i64> =
            sqlx::query_scalar("SELECT published_at FROM mentions WHERE id = ?1")
                .bind(mention.0)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db("loading a mention"))?;
        let published = published.ok_or(InboxError::MentionNotFound(mention))?;
        sqlx::query(
            "INSERT INTO conversation_mentions (mention_id, conversation_id, attached_at) \
             VALUES (?1, ?2, ?3)",
        )
        .bind(mention.0)
        .bind(id.0)
        .bind(micros(stamp.at))
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
        .bind(micros(stamp.at))
        .execute(&mut *tx)
        .await
        .map_err(db("counting a conversation's mentions"))?;
        insert_event(&mut tx, id, stamp, &EventKind::MentionAttached { mention }).await?;
        let conversation = existing_conversation(&mut tx, id).await?;
        tx.commit()
            .await
            .map_err(db("committing an attached mention"))?;
        Ok(conversation)
    }

    async fn conversation(&self, id: ConversationId) -> StoreResult<Option<Conversation>> {
        let mut conn = self.pool.acquire().await.map_err(db("connecting"))?;
        load_conversation(&mut conn, id).await
    }

    async fn conversation_detail(
        &self,
        id: ConversationId,
    ) -> StoreResult<Option<ConversationDetail>> {
        let Some(conversation) = self.conversation(id).await? else {
            return Ok(None);
        };
        let mention_ids: Vec<i64> = sqlx::query_scalar(
            "SELECT cm.mention_id FROM conversation_mentions cm \
             JOIN mentions m ON m.id = cm.mention_id \
             WHERE cm.conversation_id = ?1 ORDER BY m.published_at, m.id",
        )
        .bind(id.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db("loading a conversation's mentions"))?;
        let mut mentions = Vec::with_capacity(mention_ids.len());
        for mention in mention_ids {
            if let Some(found) = Store::get(self, MentionId(mention)).await? {
                mentions.push(found);
            }
        }
        let events = sqlx::query(
            "SELECT id, conversation_id, at, actor, data FROM conversation_events \
             WHERE conversation_id = ?1 ORDER BY id",
        )
        .bind(id.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db("loading a conversation's events"))?
        .iter()
        .map(event_from_row)
        .collect::<StoreResult<Vec<_>>>()?;
        let notes = sqlx::query(
            "SELECT id, conversation_id, author, body, mentions, created_at FROM notes \
             WHERE conversation_id = ?1 ORDER BY id",
        )
        .bind(id.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db("loading a conversation's notes"))?
        .iter()
        .map(note_from_row)
        .collect::<StoreResult<Vec<_>>>()?;
        let replies = sqlx::query(&format!(
            "SELECT {REPLY_COLUMNS} FROM replies WHERE conversation_id = ?1 ORDER BY id"
        ))
        .bind(id.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db("loading a conversation's replies"))?
        .iter()
        .map(reply_from_row)
        .collect::<StoreResult<Vec<_>>>()?;
        Ok(Some(ConversationDetail {
            conversation,
            mentions,
            events,
            notes,
            replies,
        }))
    }

    async fn list_conversations(
        &self,
        filter: &ConversationFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> StoreResult<ConversationPage> {
        let limit = limit.clamp(1, MAX_CONVERSATION_PAGE);
        let cursor = cursor
            .filter(|c| !c.trim().is_empty())
            .map(|c| ListCursor::decode(c, filter.sort))
            .transpose()?;
        // Without statistics SQLite prefers the equality on `state` and sorts every open
        // conversation; for the plain open queue the partial index in the list's order is
        // what makes the first page cheap, so it is named.
        let plain_open_queue = filter.team.is_none()
            && filter.assignee.is_none()
            && !filter.unassigned
            && !filter.overdue
            && filter.priority.is_none()
            && is_open_set(&filter.states);
        let hint = match (plain_open_queue, filter.sort) {
            (false, _) => "",
            (true, ConversationSort::PriorityThenAge) => " INDEXED BY conversations_open_queue",
            (true, ConversationSort::Newest) => " INDEXED BY conversations_open_newest",
        };
        let mut query = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations c{hint} WHERE 1 = 1"
        ));
        push_filter(&mut query, filter);
        match cursor {
            Some(ListCursor::Queue(priority, created, id)) => {
                query
                    .push(" AND (c.priority, c.created_at, c.id) > (")
                    .push_bind(priority)
                    .push(", ")
                    .push_bind(created)
                    .push(", ")
                    .push_bind(id)
                    .push(")");
            }
            Some(ListCursor::Newest(created, id)) => {
                query
                    .push(" AND (c.created_at, c.id) < (")
                    .push_bind(created)
                    .push(", ")
                    .push_bind(id)
                    .push(")");
            }
            None => {}
        }
        query.push(match filter.sort {
            ConversationSort::PriorityThenAge => " ORDER BY c.priority, c.created_at, c.id",
            ConversationSort::Newest => " ORDER BY c.created_at DESC, c.id DESC",
        });
        query.push(" LIMIT ").push_bind((limit + 1) as i64);
        let rows = query
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(db("listing conversations"))?;
        let mut conversations = rows
            .iter()
            .map(conversation_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        let more = conversations.len() > limit;
        conversations.truncate(limit);
        let next_cursor = more.then(|| conversations.last()).flatten().map(|last| {
            let created = micros(last.created_at);
            match filter.sort {
                ConversationSort::PriorityThenAge => {
                    ListCursor::Queue(last.priority.rank(), created, last.id.0)
                }
                ConversationSort::Newest => ListCursor::Newest(created, last.id.0),
            }
            .encode()
        });
        Ok(ConversationPage {
            conversations,
            next_cursor,
        })
    }

    async fn events_since(&self, after: i64, limit: usize) -> StoreResult<Vec<ConversationEvent>> {
        sqlx::query(
            "SELECT id, conversation_id, at, actor, data FROM conversation_events \
             WHERE id > ?1 ORDER BY id LIMIT ?2",
        )
        .bind(after)
        .bind(limit.min(10_000) as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(db("loading events"))?
        .iter()
        .map(event_from_row)
        .collect()
    }

    async fn assign(
        &self,
        id: ConversationId,
        member: Option<&str>,
        stamp: &Stamp,
    ) -> StoreResult<Conversation> {
        let mut tx = begin(self).await?;
        let before = existing_conversation(&mut tx, id).await?;
        let member = match member.map(str::trim).filter(|m| !m.is_empty()) {
            Some(name) => Some(
                known_member(&mut tx, name)
                    .await?
                    .ok_or_else(|| InboxError::UnknownMember(name.to_string()))?,
            ),
            None => None,
        };
        if member == before.assignee {
            return Ok(before);
        }
        let state = before.state.after_assignment(member.is_some());
        sqlx::query(
            "UPDATE conversations SET assignee = ?2, state = ?3, updated_at = ?4 WHERE id = ?1",
        )
        .bind(id.0)
        .bind(&member)
        .bind(state.as_str())
        .bind(micros(stamp.at))
        .execute(&mut *tx)
        .await
        .map_err(db("assigning a conversation"))?;
        insert_event(
            &mut tx,
            id,
            stamp,
            &EventKind::Assigned {
                from: before.assignee.clone(),
                to: member,
            },
        )
        .await?;
        if state != before.state {
            insert_event(
                &mut tx,
                id,
                stamp,
                &EventKind::StateChanged {
                    from: before.state,
                    to: state,
                },
            )
            .await?;
        }
        let after = existing_conversation(&mut tx, id).await?;
        tx.commit().await.map_err(db("committing an assignment"))?;
        Ok(after)
    }

    async fn set_state(
        &self,
        id: ConversationId,
        state: ConversationState,
        stamp: &Stamp,
    ) -> StoreResult<Conversation> {
        let mut tx = begin(self).await?;
        let before = existing_conversation(&mut tx, id).await?;
        before
            .state
            .check_transition(state, before.assignee.is_some())
            .map_err(InboxError::from)?;
        if state == before.state {
            return Ok(before);
        }
        // The overdue flags say "late now": a closed conversation is not, and a reopened one
        // is flagged again by the next SLA check if its deadline has passed.
        let closing = matches!(
            state,
            ConversationState::Resolved | ConversationState::Ignored
        );
        sqlx::query(
            "UPDATE conversations SET state = ?2, updated_at = ?3, \
                resolved_at = CASE WHEN ?2 = 'resolved' THEN ?3 ELSE NULL END, \
                first_response_overdue = CASE WHEN ?4 THEN 0 ELSE first_response_overdue END, \
                resolution_overdue = CASE WHEN ?4 THEN 0 ELSE resolution_overdue END \
             WHERE id = ?1",
        )
        .bind(id.0)
        .bind(state.as_str())
        .bind(micros(stamp.at))
        .bind(closing)
        .execute(&mut *tx)
        .await
        .map_err(db("changing a conversation's state"))?;
        insert_event(
            &mut tx,
            id,
            stamp,
            &EventKind::StateChanged {
                from: before.state,
                to: state,
            },
        )
        .await?;
        let after = existing_conversation(&mut tx, id).await?;
        tx.commit().await.map_err(db("committing a state change"))?;
        Ok(after)
    }

    async fn set_priority(
        &self,
        id: ConversationId,
        priority: Priority,
        stamp: &Stamp,
    ) -> StoreResult<Conversation> {
        let mut tx = begin(self).await?;
        let before = existing_conversation(&mut tx, id).await?;
        if before.priority == priority {
            return Ok(before);
        }
        sqlx::query("UPDATE conversations SET priority = ?2, updated_at = ?3 WHERE id = ?1")
            .bind(id.0)
            .bind(priority.rank())
            .bind(micros(stamp.at))
            .execute(&mut *tx)
            .await
            .map_err(db("changing a conversation's priority"))?;
        insert_event(
            &mut tx,
            id,
            stamp,
            &EventKind::PriorityChanged {
                from: before.priority,
                to: priority,
            },
        )
        .await?;
        let after = existing_conversation(&mut tx, id).await?;
        tx.commit()
            .await
            .map_err(db("committing a priority change"))?;
        Ok(after)
    }

    async fn add_tag(
        &self,
        id: ConversationId,
        tag: &str,
        stamp: &Stamp,
    ) -> StoreResult<Conversation> {
        let tag = clean_name("a tag", tag)?;
        let mut tx = begin(self).await?;
        existing_conversation(&mut tx, id).await?;
        let added = sqlx::query(
            "INSERT INTO conversation_tags (conversation_id, tag) VALUES (?1, ?2) \
             ON CONFLICT DO NOTHING",
        )
        .bind(id.0)
        .bind(&tag)
        .execute(&mut *tx)
        .await
        .map_err(db("tagging a conversation"))?
        .rows_affected();
        if added > 0 {
            insert_event(&mut tx, id, stamp, &EventKind::Tagged { tag }).await?;
            touch(&mut tx, id, stamp.at).await?;
        }
        let after = existing_conversation(&mut tx, id).await?;
        tx.commit().await.map_err(db("committing a tag"))?;
        Ok(after)
    }

    async fn remove_tag(
        &self,
        id: ConversationId,
        tag: &str,
        stamp: &Stamp,
    ) -> StoreResult<Conversation> {
        let tag = clean_name("a tag", tag)?;
        let mut tx = begin(self).await?;
        existing_conversation(&mut tx, id).await?;
        let removed =
            sqlx::query("DELETE FROM conversation_tags WHERE conversation_id = ?1 AND tag = ?2")
                .bind(id.0)
                .bind(&tag)
                .execute(&mut *tx)
                .await
                .map_err(db("untagging a conversation"))?
                .rows_affected();
        if removed > 0 {
            insert_event(&mut tx, id, stamp, &EventKind::Untagged { tag }).await?;
            touch(&mut tx, id, stamp.at).await?;
        }
        let after = existing_conversation(&mut tx, id).await?;
        tx.commit().await.map_err(db("committing an untag"))?;
        Ok(after)
    }

    async fn add_note(&self, id: ConversationId, body: &str, stamp: &Stamp) -> StoreResult<Note> {
        let body = clean_text("the note", body)?;
        let mut tx = begin(self).await?;
        existing_conversation(&mut tx, id).await?;
        let members: Vec<String> = sqlx::query_scalar("SELECT DISTINCT member FROM team_members")
            .fetch_all(&mut *tx)
            .await
            .map_err(db("loading team members"))?;
        // Only colleagues count: "@support" in a pasted customer text mentions nobody.
        let mentions: Vec<String> = parse_note_mentions(&body)
            .iter()
            .filter_map(|name| {
                let wanted = name.to_lowercase();
                members.iter().find(|m| m.to_lowercase() == wanted).cloned()
            })
            .collect();
        let note_id: i64 = sqlx::query_scalar(
            "INSERT INTO notes (conversation_id, author, body, mentions, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
        )
        .bind(id.0)
        .bind(&stamp.actor)
        .bind(&body)
        .bind(serde_json::to_string(&mentions).expect("strings always serialize"))
        .bind(micros(stamp.at))
        .fetch_one(&mut *tx)
        .await
        .map_err(db("adding a note"))?;
        insert_event(
            &mut tx,
            id,
            stamp,
            &EventKind::NoteAdded {
                note: NoteId(note_id),
            },
        )
        .await?;
        touch(&mut tx, id, stamp.at).await?;
        tx.commit().await.map_err(db("committing a note"))?;
        Ok(Note {
            id: NoteId(note_id),
            conversation: id,
            author: stamp.actor.clone(),
            body,
            mentions,
            created_at: stamp.at,
        })
    }

    async fn set_team(
        &self,
        id: ConversationId,
        team: Option<&str>,
        deadlines: Option<SlaDue>,
        stamp: &Stamp,
    ) -> StoreResult<Conversation> {
        let mut tx = begin(self).await?;
        let before = existing_conversation(&mut tx, id).await?;
        let team = match team.map(str::trim).filter(|t| !t.is_empty()) {
            Some(name) => Some(
                sqlx::query_scalar::<_, String>("SELECT name FROM teams WHERE name = ?1")
                    .bind(name)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db("looking up a team"))?
                    .ok_or_else(|| InboxError::UnknownTeam(name.to_string()))?,
            ),
            None => None,
        };
        if team == before.team {
            return Ok(before);
        }
        // A member of another team keeps nothing of this conversation: the new team's queue
        // decides who takes it.
        let keeps_assignee = match (&before.assignee, &team) {
            (Some(member), Some(team)) => {
                sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM team_members WHERE team = ?1 AND member = ?2",
                )
                .bind(team)
                .bind(member)
                .fetch_one(&mut *tx)
                .await
                .map_err(db("checking a team's members"))?
                    > 0
            }
            (Some(_), None) => false,
            (None, _) => true,
        };
        let assignee = if keeps_assignee {
            before.assignee.clone()
        } else {
            None
        };
        let state = before.state.after_assignment(assignee.is_some());
        sqlx::query(
            "UPDATE conversations SET team = ?2, assignee = ?3, state = ?4, updated_at = ?5 \
             WHERE id = ?1",
        )
        .bind(id.0)
        .bind(&team)
        .bind(&assignee)
        .bind(state.as_str())
        .bind(micros(stamp.at))
        .execute(&mut *tx)
        .await
        .map_err(db("moving a conversation to another team"))?;
        if let Some(due) = deadlines {
            let now = micros(stamp.at);
            sqlx::query(
                "UPDATE conversations SET first_response_due = ?2, resolution_due = ?3, \
                 first_response_overdue = CASE WHEN ?2 IS NULL OR ?2 >= ?4 THEN 0 \
                     ELSE first_response_overdue END, \
                 resolution_overdue = CASE WHEN ?3 IS NULL OR ?3 >= ?4 THEN 0 \
                     ELSE resolution_overdue END \
                 WHERE id = ?1",
            )
            .bind(id.0)
            .bind(due.first_response.map(micros))
            .bind(due.resolution.map(micros))
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db("moving a conversation's deadlines"))?;
        }
        insert_event(
            &mut tx,
            id,
            stamp,
            &EventKind::TeamChanged {
                from: before.team.clone(),
                to: team,
            },
        )
        .await?;
        if assignee != before.assignee {
            insert_event(
                &mut tx,
                id,
                stamp,
                &EventKind::Assigned {
                    from: before.assignee.clone(),
                    to: None,
                },
            )
            .await?;
        }
        if state != before.state {
            insert_event(
                &mut tx,
                id,
                stamp,
                &EventKind::StateChanged {
                    from: before.state,
                    to: state,
                },
            )
            .await?;
        }
        let after = existing_conversation(&mut tx, id).await?;
        tx.commit().await.map_err(db("committing a team move"))?;
        Ok(after)
    }

    async fn correct_label(
        &self,
        id: ConversationId,
        label: &str,
        from: Option<&str>,
        to: &str,
        stamp: &Stamp,
    ) -> StoreResult<()> {
        let label = clean_name("the label", label)?;
        let to = clean_name("the corrected value", to)?;
        let mut tx = begin(self).await?;
        existing_conversation(&mut tx, id).await?;
        insert_event(
            &mut tx,
            id,
            stamp,
            &EventKind::LabelCorrected {
                label,
                from: from.map(str::to_string),
                to,
            },
        )
        .await?;
        touch(&mut tx, id, stamp.at).await?;
        tx.commit()
            .await
            .map_err(db("committing a label correction"))?;
        Ok(())
    }

    async fn queue_reply(
        &self,
        id: ConversationId,
        body: &str,
        idempotency_key: &str,
        stamp: &Stamp,
    ) -> StoreResult<Reply> {
        let mut tx = begin(self).await?;
        let (reply, created) = queue_reply_in(&mut tx, id, body, idempotency_key, stamp).await?;
        if created {
            tx.commit().await.map_err(db("committing a reply"))?;
        }
        Ok(reply)
    }

    async fn record_answered_elsewhere(
        &self,
        id: ConversationId,
        body: &str,
        url: Option<&str>,
        idempotency_key: &str,
        stamp: &Stamp,
    ) -> StoreResult<Reply> {
        let mut tx = begin(self).await?;
        let (reply, created) = queue_reply_in(&mut tx, id, body, idempotency_key, stamp).await?;
        if !created {
            return Ok(reply);
        }
        let reply = mark_answered_elsewhere_in(&mut tx, reply, url, stamp).await?;
        tx.commit().await.map_err(db("committing a reply"))?;
        Ok(reply)
    }

    async fn reply(&self, id: ReplyId) -> StoreResult<Option<Reply>> {
        let mut conn = self.pool.acquire().await.map_err(db("connecting"))?;
        load_reply(&mut conn, id).await
    }

    async fn replies_to_send(&self, max_attempts: u32, limit: usize) -> StoreResult<Vec<Reply>> {
        sqlx::query(&format!(
            "SELECT {REPLY_COLUMNS} FROM replies \
             WHERE status IN ('pending', 'failed') AND attempts < ?1 ORDER BY id LIMIT ?2"
        ))
        .bind(i64::from(max_attempts))
        .bind(limit.min(10_000) as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(db("loading replies to send"))?
        .iter()
        .map(reply_from_row)
        .collect()
    }

    async fn mark_reply_sent(
        &self,
        id: ReplyId,
        network_id: Option<&str>,
        network_url: Option<&str>,
        stamp: &Stamp,
    ) -> StoreResult<Reply> {
        let mut tx = begin(self).await?;
        let reply = existing_reply(&mut tx, id).await?;
        match reply.status {
            ReplyStatus::Sent => return Ok(reply),
            ReplyStatus::AnsweredElsewhere => {
                return Err(InboxError::ReplyAlreadyFinal(id, "sent").into())
            }
            ReplyStatus::Pending | ReplyStatus::Failed => {}
        }
        sqlx::query(
            "UPDATE replies SET status = 'sent', network_id = ?2, network_url = ?3, \
                sent_at = ?4, attempts = attempts + 1 WHERE id = ?1",
        )
        .bind(id.0)
        .bind(network_id)
        .bind(network_url)
        .bind(micros(stamp.at))
        .execute(&mut *tx)
        .await
        .map_err(db("marking a reply sent"))?;
        record_first_response(&mut tx, reply.conversation, stamp.at).await?;
        insert_event(
            &mut tx,
            reply.conversation,
            stamp,
            &EventKind::ReplySent { reply: id },
        )
        .await?;
        let reply = existing_reply(&mut tx, id).await?;
        tx.commit().await.map_err(db("committing a sent reply"))?;
        Ok(reply)
    }

    async fn mark_reply_failed(
        &self,
        id: ReplyId,
        error: &str,
        stamp: &Stamp,
    ) -> StoreResult<Reply> {
        let error = match error.trim() {
            "" => "unknown error".to_string(),
            e => e.chars().take(MAX_TEXT_CHARS).collect(),
        };
        let mut tx = begin(self).await?;
        let reply = existing_reply(&mut tx, id).await?;
        if matches!(
            reply.status,
            ReplyStatus::Sent | ReplyStatus::AnsweredElsewhere
        ) {
            return Err(InboxError::ReplyAlreadyFinal(id, "failed").into());
        }
        sqlx::query(
            "UPDATE replies SET status = 'failed', error = ?2, attempts = attempts + 1 \
             WHERE id = ?1",
        )
        .bind(id.0)
        .bind(&error)
        .execute(&mut *tx)
        .await
        .map_err(db("marking a reply failed"))?;
        insert_event(
            &mut tx,
            reply.conversation,
            stamp,
            &EventKind::ReplyFailed { reply: id, error },
        )
        .await?;
        touch(&mut tx, reply.conversation, stamp.at).await?;
        let reply = existing_reply(&mut tx, id).await?;
        tx.commit().await.map_err(db("committing a failed reply"))?;
        Ok(reply)
    }

    async fn mark_reply_answered_elsewhere(
        &self,
        id: ReplyId,
        url: Option<&str>,
        stamp: &Stamp,
    ) -> StoreResult<Reply> {
        let mut tx = begin(self).await?;
        let reply = existing_reply(&mut tx, id).await?;
        let reply = mark_answered_elsewhere_in(&mut tx, reply, url, stamp).await?;
        tx.commit().await.map_err(db("committing a reply"))?;
        Ok(reply)
    }

    async fn sent_reply_count(&self, body: &str) -> StoreResult<u64> {
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM replies WHERE status = 'sent' AND body = ?1")
                .bind(body.trim())
                .fetch_one(&self.pool)
                .await
                .map_err(db("counting sent replies"))?;
        Ok(count.max(0) as u64)
    }

    async fn mark_overdue(&self, now: DateTime<Utc>) -> StoreResult<Vec<SlaBreach>> {
        let mut tx = begin(self).await?;
        let mut breaches = Vec::new();
        // The WHERE terms repeat the partial indexes' conditions so SQLite uses them.
        for (clock, due_column, running, flag) in [
            (
                SlaClock::FirstResponse,
                "first_response_due",
                "c.first_response_due IS NOT NULL AND c.first_response_at IS NULL \
                 AND c.first_response_overdue = 0",
                "first_response_overdue",
            ),
            (
                SlaClock::Resolution,
                "resolution_due",
                "c.resolution_due IS NOT NULL AND c.resolved_at IS NULL \
                 AND c.resolution_overdue = 0",
                "resolution_overdue",
            ),
        ] {
            let rows = sqlx::query(&format!(
                "SELECT c.id, c.{due_column} AS due, c.team, c.assignee, c.priority, t.manager \
                 FROM conversations c LEFT JOIN teams t ON t.name = c.team \
                 WHERE {running} AND c.{due_column} < ?1 AND {OPEN_STATES_SQL} \
                 ORDER BY c.{due_column}, c.id"
            ))
            .bind(micros(now))
            .fetch_all(&mut *tx)
            .await
            .map_err(db("finding overdue conversations"))?;
            for row in &rows {
                let id = ConversationId(read(row, "id")?);
                let due = time(read(row, "due")?, due_column)?;
                let priority: i64 = read(row, "priority")?;
                sqlx::query(&format!(
                    "UPDATE conversations SET {flag} = 1 WHERE id = ?1"
                ))
                .bind(id.0)
                .execute(&mut *tx)
                .await
                .map_err(db("flagging an overdue conversation"))?;
                insert_event(
                    &mut tx,
                    id,
                    &Stamp::system(now),
                    &EventKind::SlaBreached { clock, due },
                )
                .await?;
                breaches.push(SlaBreach {
                    conversation: id,
                    clock,
                    due,
                    team: read(row, "team")?,
                    manager: read(row, "manager")?,
                    assignee: read(row, "assignee")?,
                    priority: Priority::from_rank(priority).unwrap_or_default(),
                });
            }
        }
        tx.commit().await.map_err(db("committing SLA flags"))?;
        Ok(breaches)
    }

    async fn record_escalation(
        &self,
        id: ConversationId,
        to: &str,
        clock: SlaClock,
        stamp: &Stamp,
    ) -> StoreResult<()> {
        let to = clean_name("the escalation target", to)?;
        let mut tx = begin(self).await?;
        existing_conversation(&mut tx, id).await?;
        insert_event(&mut tx, id, stamp, &EventKind::Escalated { to, clock }).await?;
        tx.commit().await.map_err(db("committing an escalation"))?;
        Ok(())
    }

    async fn saved_replies(&self) -> StoreResult<Vec<SavedReply>> {
        sqlx::query(
            "SELECT id, name, body, created_at, updated_at FROM saved_replies ORDER BY name_key",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db("loading saved replies"))?
        .iter()
        .map(saved_reply_from_row)
        .collect()
    }

    async fn saved_reply(&self, id: SavedReplyId) -> StoreResult<Option<SavedReply>> {
        sqlx::query(
            "SELECT id, name, body, created_at, updated_at FROM saved_replies WHERE id = ?1",
        )
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("loading a saved reply"))?
        .as_ref()
        .map(saved_reply_from_row)
        .transpose()
    }

    async fn create_saved_reply(
        &self,
        name: &str,
        body: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<SavedReply> {
        let name = clean_name("the saved reply's name", name)?;
        let body = clean_text("the saved reply", body)?;
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO saved_replies (name, name_key, body, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT (name_key) DO NOTHING RETURNING id",
        )
        .bind(&name)
        .bind(name_key(&name))
        .bind(&body)
        .bind(micros(at))
        .fetch_optional(&self.pool)
        .await
        .map_err(db("saving a reply"))?;
        let id = inserted.ok_or_else(|| InboxError::SavedReplyNameTaken(name.clone()))?;
        Ok(SavedReply {
            id: SavedReplyId(id),
            name,
            body,
            created_at: at,
            updated_at: at,
        })
    }

    async fn update_saved_reply(
        &self,
        id: SavedReplyId,
        name: &str,
        body: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<SavedReply> {
        let name = clean_name("the saved reply's name", name)?;
        let body = clean_text("the saved reply", body)?;
        let mut tx = begin(self).await?;
        let taken: Option<i64> =
            sqlx::query_scalar("SELECT id FROM saved_replies WHERE name_key = ?1 AND id <> ?2")
                .bind(name_key(&name))
                .bind(id.0)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db("checking a saved reply's name"))?;
        if taken.is_some() {
            return Err(InboxError::SavedReplyNameTaken(name).into());
        }
        let updated = sqlx::query(
            "UPDATE saved_replies SET name = ?2, name_key = ?3, body = ?4, updated_at = ?5 \
             WHERE id = ?1",
        )
        .bind(id.0)
        .bind(&name)
        .bind(name_key(&name))
        .bind(&body)
        .bind(micros(at))
        .execute(&mut *tx)
        .await
        .map_err(db("updating a saved reply"))?
        .rows_affected();
        if updated == 0 {
            return Err(InboxError::SavedReplyNotFound(id).into());
        }
        let row = sqlx::query(
            "SELECT id, name, body, created_at, updated_at FROM saved_replies WHERE id = ?1",
        )
        .bind(id.0)
        .fetch_one(&mut *tx)
        .await
        .map_err(db("loading a saved reply"))?;
        let saved = saved_reply_from_row(&row)?;
        tx.commit().await.map_err(db("committing a saved reply"))?;
        Ok(saved)
    }

    async fn delete_saved_reply(&self, id: SavedReplyId) -> StoreResult<()> {
        let deleted = sqlx::query("DELETE FROM saved_replies WHERE id = ?1")
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(db("deleting a saved reply"))?
            .rows_affected();
        if deleted == 0 {
            return Err(InboxError::SavedReplyNotFound(id).into());
        }
        Ok(())
    }

    async fn send_to_product(
        &self,
        id: ConversationId,
        theme: &str,
        summary: &str,
        stamp: &Stamp,
    ) -> StoreResult<FeedbackItem> {
        let theme = clean_name("the theme", theme)?;
        let summary = clean_text("the summary", summary)?;
        let mut tx = begin(self).await?;
        existing_conversation(&mut tx, id).await?;
        sqlx::query(
            "INSERT INTO feedback_themes (name, name_key, created_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (name_key) DO NOTHING",
        )
        .bind(&theme)
        .bind(name_key(&theme))
        .bind(micros(stamp.at))
        .execute(&mut *tx)
        .await
        .map_err(db("creating a feedback theme"))?;
        let (theme_id, theme_name): (i64, String) =
            sqlx::query_as("SELECT id, name FROM feedback_themes WHERE name_key = ?1")
                .bind(name_key(&theme))
                .fetch_one(&mut *tx)
                .await
                .map_err(db("loading a feedback theme"))?;
        let item_id: i64 = sqlx::query_scalar(
            "INSERT INTO feedback_items (theme_id, conversation_id, summary, author, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
        )
        .bind(theme_id)
        .bind(id.0)
        .bind(&summary)
        .bind(&stamp.actor)
        .bind(micros(stamp.at))
        .fetch_one(&mut *tx)
        .await
        .map_err(db("filing feedback"))?;
        let item = FeedbackItemId(item_id);
        insert_event(
            &mut tx,
            id,
            stamp,
            &EventKind::SentToProduct {
                item,
                theme: theme_name.clone(),
            },
        )
        .await?;
        touch(&mut tx, id, stamp.at).await?;
        tx.commit().await.map_err(db("committing feedback"))?;
        Ok(FeedbackItem {
            id: item,
            theme: theme_name,
            summary,
            conversation: id,
            author: stamp.actor.clone(),
            created_at: stamp.at,
        })
    }

    async fn feedback_themes(&self) -> StoreResult<Vec<FeedbackTheme>> {
        let rows = sqlx::query(
            "SELECT t.name, COUNT(*) AS n, MIN(i.created_at) AS first_at, \
                MAX(i.created_at) AS last_at, \
                (SELECT json_group_array(conversation_id) FROM \
                    (SELECT conversation_id, MIN(id) AS first_item FROM feedback_items \
                     WHERE theme_id = t.id GROUP BY conversation_id ORDER BY first_item)) \
                    AS conversations \
             FROM feedback_themes t JOIN feedback_items i ON i.theme_id = t.id \
             GROUP BY t.id ORDER BY n DESC, t.name_key",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db("loading feedback themes"))?;
        rows.iter()
            .map(|row| {
                Ok(FeedbackTheme {
                    name: read(row, "name")?,
                    count: read::<i64>(row, "n")?.max(0) as u64,
                    conversations: json_list::<i64>(
                        &read::<String>(row, "conversations")?,
                        "conversations",
                    )?
                    .into_iter()
                    .map(ConversationId)
                    .collect(),
                    first_at: time(read(row, "first_at")?, "first_at")?,
                    last_at: time(read(row, "last_at")?, "last_at")?,
                })
            })
            .collect()
    }

    async fn feedback_items(&self, theme: Option<&str>) -> StoreResult<Vec<FeedbackItem>> {
        sqlx::query(
            "SELECT i.id, t.name AS theme, i.summary, i.conversation_id, i.author, i.created_at \
             FROM feedback_items i JOIN feedback_themes t ON t.id = i.theme_id \
             WHERE ?1 IS NULL OR t.name_key = ?1 ORDER BY i.id",
        )
        .bind(theme.map(|t| name_key(&t.split_whitespace().collect::<Vec<_>>().join(" "))))
        .fetch_all(&self.pool)
        .await
        .map_err(db("loading feedback items"))?
        .iter()
        .map(feedback_item_from_row)
        .collect()
    }

    async fn inbox_metrics(
        &self,
        window: MetricsWindow,
        now: DateTime<Utc>,
    ) -> StoreResult<InboxMetrics> {
        let rows = sqlx::query(
            "SELECT c.team, c.assignee, c.source, c.created_at, c.first_response_at, \
                c.resolved_at, \
                (SELECT json_group_array(b.brand) FROM mention_brands b \
                    WHERE b.mention_id = c.root_mention) AS brands \
             FROM conversations c \
             WHERE c.created_at >= ?1 AND c.created_at < ?2 AND c.state <> 'ignored'",
        )
        .bind(micros(window.since))
        .bind(micros(window.until))
        .fetch_all(&self.pool)
        .await
        .map_err(db("loading conversations for metrics"))?;
        let mut overall = GroupAccumulator::default();
        let mut by_team: BTreeMap<String, GroupAccumulator> = BTreeMap::new();
        let mut by_member: BTreeMap<String, GroupAccumulator> = BTreeMap::new();
        let mut by_source: BTreeMap<String, GroupAccumulator> = BTreeMap::new();
        let mut by_brand: BTreeMap<String, GroupAccumulator> = BTreeMap::new();
        for row in &rows {
            let row = MetricsRow {
                team: read(row, "team")?,
                assignee: read(row, "assignee")?,
                source: read(row, "source")?,
                brands: json_list(&read::<String>(row, "brands")?, "brands")?,
                created_at: read(row, "created_at")?,
                first_response_at: read(row, "first_response_at")?,
                resolved_at: read(row, "resolved_at")?,
            };
            overall.add(&row);
            if let Some(team) = &row.team {
                by_team.entry(team.clone()).or_default().add(&row);
            }
            if let Some(member) = &row.assignee {
                by_member.entry(member.clone()).or_default().add(&row);
            }
            by_source.entry(row.source.clone()).or_default().add(&row);
            for brand in &row.brands {
                by_brand.entry(brand.clone()).or_default().add(&row);
            }
        }
        let unanswered: Vec<i64> = sqlx::query_scalar(&format!(
            "SELECT c.id FROM conversations c \
             WHERE c.negative = 1 AND {OPEN_STATES_SQL} AND c.first_response_at IS NULL \
                AND c.first_response_due IS NOT NULL AND c.first_response_due < ?1 \
             ORDER BY c.first_response_due, c.id"
        ))
        .bind(micros(now))
        .fetch_all(&self.pool)
        .await
        .map_err(db("finding unanswered negative conversations"))?;
        Ok(InboxMetrics {
            window,
            overall: overall.finish("all".to_string()),
            by_team: finish_groups(by_team),
            by_member: finish_groups(by_member),
            by_source: finish_groups(by_source),
            by_brand: finish_groups(by_brand),
            unanswered_negative_overdue: unanswered.into_iter().map(ConversationId).collect(),
        })
    }
}

pub(crate) async fn conversation_for_mention_in(
    conn: &mut SqliteConnection,
    mention: MentionId,
) -> StoreResult<Option<ConversationId>> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT conversation_id FROM conversation_mentions WHERE mention_id = ?1",
    )
    .bind(mention.0)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db("finding a mention's conversation"))?;
    Ok(found.map(ConversationId))
}
