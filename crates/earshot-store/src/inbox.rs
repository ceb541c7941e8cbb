//! The inbox's storage: [`InboxStore`], a supertrait of [`crate::Store`]. Every change to a
//! conversation writes its event in the same transaction, so the log never misses a change
//! and never shows one that did not happen.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use earshot_core::inbox::{InvalidTransition, MetricsWindow, SlaClock};
use earshot_core::{
    Conversation, ConversationDetail, ConversationEvent, ConversationFilter, ConversationId,
    FeedbackItem, FeedbackTheme, InboxMetrics, MemberLoad, MentionId, NewConversation, Note,
    Priority, Reply, ReplyId, SavedReply, SavedReplyId, SlaBreach, SlaDue, Stamp, TeamRecord,
};
use serde::{Deserialize, Serialize};

use crate::StoreResult;

/// The most conversations one list page returns, whatever `limit` asks for.
pub const MAX_CONVERSATION_PAGE: usize = 500;

/// Inbox errors a caller can act on (shown to the user as they are).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboxError {
    #[error("conversation {0} does not exist")]
    ConversationNotFound(ConversationId),
    #[error("mention {0} does not exist")]
    MentionNotFound(MentionId),
    #[error("mention {mention} already belongs to conversation {conversation}")]
    MentionInOtherConversation {
        mention: MentionId,
        conversation: ConversationId,
    },
    #[error("reply {0} does not exist")]
    ReplyNotFound(ReplyId),
    #[error("saved reply {0} does not exist")]
    SavedReplyNotFound(SavedReplyId),
    #[error("a saved reply named {0:?} already exists")]
    SavedReplyNameTaken(String),
    #[error("{0:?} is not a member of any team; add them to a team in earshot.toml first")]
    UnknownMember(String),
    #[error("there is no team {0:?}; teams are configured in earshot.toml ([[team]])")]
    UnknownTeam(String),
    #[error("cannot change the state: {0}")]
    Transition(#[from] InvalidTransition),
    #[error("idempotency key {key:?} was already used for conversation {conversation}")]
    IdempotencyKeyReused {
        key: String,
        conversation: ConversationId,
    },
    #[error("reply {0} was already sent; it cannot be marked {1}")]
    ReplyAlreadyFinal(ReplyId, &'static str),
    #[error("{0} must not be empty")]
    Empty(&'static str),
    #[error("{what} is too long ({len} characters; at most {max})")]
    TooLong {
        what: &'static str,
        len: usize,
        max: usize,
    },
}

/// Longest tag, theme or saved-reply name accepted.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest note, reply or summary accepted (well above any network's post limit).
pub const MAX_TEXT_CHARS: usize = 20_000;

/// A page of conversations and the cursor that fetches the next one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConversationPage {
    pub conversations: Vec<Conversation>,
    /// Opaque; pass back as `cursor` to continue. `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Inbox storage. Methods that change a conversation take a [`Stamp`] (who and when) and
/// write the matching [`earshot_core::EventKind`] in the same transaction; a change that
/// changes nothing (assigning the current assignee, adding a tag it has) writes no event.
#[async_trait]
pub trait InboxStore: Send + Sync {
    // ---- Teams ----

    /// Replace the stored teams and their members with these (the engine syncs them from
    /// `earshot.toml`). Conversations keep the names of removed teams.
    async fn upsert_teams(&self, teams: &[TeamRecord]) -> StoreResult<()>;
    /// The teams in configured order, members sorted.
    async fn teams(&self) -> StoreResult<Vec<TeamRecord>>;
    /// Open conversations per member of `team` (every team when `None`), members without
    /// any included with zero; sorted by open count, then name.
    async fn member_loads(&self, team: Option<&str>) -> StoreResult<Vec<MemberLoad>>;

    // ---- Conversations ----

    /// Open a conversation for a root mention. When the mention already belongs to a
    /// conversation, that one is returned with `false` and nothing changes.
    async fn create_conversation(
        &self,
        new: &NewConversation,
        stamp: &Stamp,
    ) -> StoreResult<(Conversation, bool)>;
    /// The conversation a mention belongs to.
    async fn conversation_for_mention(
        &self,
        mention: MentionId,
    ) -> StoreResult<Option<ConversationId>>;
    /// The conversation holding what `reference` (a mention's `in_reply_to`: an external id or
    /// URL on `source`) points at: one of its mentions, or one of its sent replies.
    async fn conversation_for_reference(
        &self,
        source: &str,
        reference: &str,
    ) -> StoreResult<Option<ConversationId>>;
    /// Add a further mention of the thread. Attaching a mention twice to the same conversation
    /// changes nothing; a mention of another conversation is refused.
    async fn attach_mention(
        &self,
        conversation: ConversationId,
        mention: MentionId,
        stamp: &Stamp,
    ) -> StoreResult<Conversation>;
    async fn conversation(&self, id: ConversationId) -> StoreResult<Option<Conversation>>;
    /// The conversation with its mentions, events, notes and replies.
    async fn conversation_detail(
        &self,
        id: ConversationId,
    ) -> StoreResult<Option<ConversationDetail>>;
    /// One page of the list; `limit` is capped at [`MAX_CONVERSATION_PAGE`].
    async fn list_conversations(
        &self,
        filter: &ConversationFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> StoreResult<ConversationPage>;
    /// Events with an id above `after`, oldest first, across conversations (live updates).
    async fn events_since(&self, after: i64, limit: usize) -> StoreResult<Vec<ConversationEvent>>;

    /// Give the conversation to a member (who must be in a team) or to nobody. A new
    /// conversation becomes assigned, an assigned one unassigned becomes new
    /// ([`earshot_core::ConversationState::after_assignment`]).
    async fn assign(
        &self,
        id: ConversationId,
        member: Option<&str>,
        stamp: &Stamp,
    ) -> StoreResult<Conversation>;
    /// Move to `state` when [`earshot_core::ConversationState::check_transition`] allows it.
    /// Resolving sets `resolved_at`; leaving `resolved` clears it.
    async fn set_state(
        &self,
        id: ConversationId,
        state: earshot_core::ConversationState,
        stamp: &Stamp,
    ) -> StoreResult<Conversation>;
    async fn set_priority(
        &self,
        id: ConversationId,
        priority: Priority,
        stamp: &Stamp,
    ) -> StoreResult<Conversation>;
    async fn add_tag(
        &self,
        id: ConversationId,
        tag: &str,
        stamp: &Stamp,
    ) -> StoreResult<Conversation>;
    async fn remove_tag(
        &self,
        id: ConversationId,
        tag: &str,
        stamp: &Stamp,
    ) -> StoreResult<Conversation>;
    /// Add an internal note; `@name` mentions of team members are recorded.
    async fn add_note(&self, id: ConversationId, body: &str, stamp: &Stamp) -> StoreResult<Note>;
    /// Move the conversation to `team` (a stored team) or to the shared queue (`None`). An
    /// assignee who is not a member of the new team is unassigned (an assigned conversation
    /// becomes new). `deadlines`, when given, replace the SLA deadlines (the caller decides:
    /// the new team works other hours) and clear the overdue flags of deadlines that moved
    /// past `stamp.at`, so the checker reports a breach of the new deadline once. Moving to
    /// the current team changes nothing and writes no event.
    async fn set_team(
        &self,
        id: ConversationId,
        team: Option<&str>,
        deadlines: Option<SlaDue>,
        stamp: &Stamp,
    ) -> StoreResult<Conversation>;
    /// Record a person's correction of an analysis label of the root mention.
    async fn correct_label(
        &self,
        id: ConversationId,
        label: &str,
        from: Option<&str>,
        to: &str,
        stamp: &Stamp,
    ) -> StoreResult<()>;

    // ---- Replies ----

    /// Queue a reply. Idempotent by key: a second call with the same key returns the first
    /// reply (even when both race), never a second row.
    async fn queue_reply(
        &self,
        id: ConversationId,
        body: &str,
        idempotency_key: &str,
        stamp: &Stamp,
    ) -> StoreResult<Reply>;
    /// Record "answered elsewhere" (with a link to the answer) as a reply, in one step.
    /// Idempotent by key like [`InboxStore::queue_reply`].
    async fn record_answered_elsewhere(
        &self,
        id: ConversationId,
        body: &str,
        url: Option<&str>,
        idempotency_key: &str,
        stamp: &Stamp,
    ) -> StoreResult<Reply>;
    async fn reply(&self, id: ReplyId) -> StoreResult<Option<Reply>>;
    /// Pending replies and failed ones with fewer than `max_attempts` attempts, oldest first.
    async fn replies_to_send(&self, max_attempts: u32, limit: usize) -> StoreResult<Vec<Reply>>;
    /// The network accepted the reply. The conversation's first response is set by its
    /// first sent (or answered-elsewhere) reply. Marking a sent reply again changes nothing.
    async fn mark_reply_sent(
        &self,
        id: ReplyId,
        network_id: Option<&str>,
        network_url: Option<&str>,
        stamp: &Stamp,
    ) -> StoreResult<Reply>;
    /// An attempt failed: the error is kept and shown, the attempt counted.
    async fn mark_reply_failed(
        &self,
        id: ReplyId,
        error: &str,
        stamp: &Stamp,
    ) -> StoreResult<Reply>;
    /// A queued (or failed) reply was answered outside Earshot instead.
    async fn mark_reply_answered_elsewhere(
        &self,
        id: ReplyId,
        url: Option<&str>,
        stamp: &Stamp,
    ) -> StoreResult<Reply>;
    /// How many sent replies had exactly this text (so the UI can warn about canned answers).
    async fn sent_reply_count(&self, body: &str) -> StoreResult<u64>;

    // ---- SLA ----

    /// Flag conversations whose running deadline passed before `now` (open, no response yet /
    /// not resolved), write an `sla_breached` event for each, and return them for escalation.
    /// A deadline is reported once.
    async fn mark_overdue(&self, now: DateTime<Utc>) -> StoreResult<Vec<SlaBreach>>;
    /// Record that an overdue conversation was escalated to `to`.
    async fn record_escalation(
        &self,
        id: ConversationId,
        to: &str,
        clock: SlaClock,
        stamp: &Stamp,
    ) -> StoreResult<()>;

    // ---- Saved replies ----

    async fn saved_replies(&self) -> StoreResult<Vec<SavedReply>>;
    async fn saved_reply(&self, id: SavedReplyId) -> StoreResult<Option<SavedReply>>;
    async fn create_saved_reply(
        &self,
        name: &str,
        body: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<SavedReply>;
    async fn update_saved_reply(
        &self,
        id: SavedReplyId,
        name: &str,
        body: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<SavedReply>;
    async fn delete_saved_reply(&self, id: SavedReplyId) -> StoreResult<()>;

    // ---- Product feedback log ----

    /// File the conversation under `theme` (created, or reused ignoring case) in the product
    /// feedback log.
    async fn send_to_product(
        &self,
        id: ConversationId,
        theme: &str,
        summary: &str,
        stamp: &Stamp,
    ) -> StoreResult<FeedbackItem>;
    /// Themes, most items first, then by name.
    async fn feedback_themes(&self) -> StoreResult<Vec<FeedbackTheme>>;
    /// Every feedback item (of one theme, ignoring case, when given), oldest first: the rows
    /// of the CSV export.
    async fn feedback_items(&self, theme: Option<&str>) -> StoreResult<Vec<FeedbackItem>>;

    // ---- Metrics ----

    /// Response rate, first-response and resolution times for conversations created in the
    /// window, overall and per team, member, source and brand, and the open negative
    /// conversations unanswered past their first-response deadline as of `now`.
    async fn inbox_metrics(
        &self,
        window: MetricsWindow,
        now: DateTime<Utc>,
    ) -> StoreResult<InboxMetrics>;
}
