//! The engagement inbox's records: conversations (threads of mentions someone should answer),
//! what happened to them (events), internal notes, replies, saved replies, the product feedback
//! log and the inbox metrics. Routing rules, teams and SLA policies as configured live in
//! [`crate::routing`]; this module is what the store keeps.
//!
//! ## States
//! ```text
//!            assign                 reply sent / "waiting"
//!   New ───────────────► Assigned ─────────────────────► Waiting
//!    ▲  ◄─── unassign ───    │  ◄──── customer answers ────  │
//!    │                       ▼                               ▼
//!    └──── reopen ─────── Resolved ◄─────────────────────────┘
//!   Ignored ◄── from New, Assigned, Waiting or Resolved;  un-ignore → New or Assigned
//! ```
//! Every step can be undone ("always reversible"); [`ConversationState::check_transition`]
//! holds the exact rules and the reason for each refusal.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::mention::MentionId;

/// The actor recorded for changes the system makes on its own (routing, SLA checks).
pub const SYSTEM_ACTOR: &str = "earshot";

/// Who made a change and when. Every inbox change takes one, so that the event log says both,
/// and so that tests and replays can give the time instead of reading the clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    pub actor: String,
    pub at: DateTime<Utc>,
}

impl Stamp {
    pub fn new(actor: impl Into<String>, at: DateTime<Utc>) -> Stamp {
        Stamp {
            actor: actor.into(),
            at,
        }
    }

    /// A change made by Earshot itself (routing, SLA checks, escalations).
    pub fn system(at: DateTime<Utc>) -> Stamp {
        Stamp::new(SYSTEM_ACTOR, at)
    }
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// Store-assigned identifier of a conversation.
    ConversationId
);
id_type!(
    /// Store-assigned identifier of a reply.
    ReplyId
);
id_type!(
    /// Store-assigned identifier of an internal note.
    NoteId
);
id_type!(
    /// Store-assigned identifier of a saved reply.
    SavedReplyId
);
id_type!(
    /// Store-assigned identifier of one "send to product" feedback item.
    FeedbackItemId
);

/// A name that is not one of an enum's values, e.g. `?state=closed`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?}; expected one of: {expected}")]
pub struct UnknownValue {
    pub what: &'static str,
    pub value: String,
    pub expected: &'static str,
}

macro_rules! named_enum {
    ($name:ident, $what:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let wanted = s.trim();
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str().eq_ignore_ascii_case(wanted))
                    .ok_or_else(|| UnknownValue {
                        what: $what,
                        value: s.to_string(),
                        expected: concat!($($text, " "),+).trim_ascii_end(),
                    })
            }
        }
    };
}

/// Where a conversation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationState {
    /// Nobody has taken it yet.
    New,
    /// A member owns it and owes the next step.
    Assigned,
    /// Answered; waiting on the customer.
    Waiting,
    /// Done. A new message from the customer reopens it.
    Resolved,
    /// Spam or irrelevant: out of the queues, but kept and reversible.
    Ignored,
}

named_enum!(ConversationState, "conversation state", {
    New => "new",
    Assigned => "assigned",
    Waiting => "waiting",
    Resolved => "resolved",
    Ignored => "ignored",
});

/// Why a state change was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTransition {
    #[error("a conversation becomes `assigned` by assigning it to a member; it has no assignee")]
    NeedsAssignee,
    #[error("`new` means nobody owns the conversation; unassign it instead")]
    HasAssignee,
    #[error("a {from} conversation cannot become {to} directly; reopen it first")]
    ReopenFirst {
        from: ConversationState,
        to: ConversationState,
    },
}

impl ConversationState {
    /// Whether the conversation still needs someone (counts towards load, SLA clocks run).
    pub fn is_open(self) -> bool {
        matches!(
            self,
            ConversationState::New | ConversationState::Assigned | ConversationState::Waiting
        )
    }

    /// The state a resolved or ignored conversation returns to when it is reopened.
    pub fn reopened(has_assignee: bool) -> ConversationState {
        if has_assignee {
            ConversationState::Assigned
        } else {
            ConversationState::New
        }
    }

    /// The state after the assignee changed: assigning a new conversation makes it `assigned`,
    /// unassigning an assigned one returns it to `new`; other states keep theirs (a waiting
    /// conversation handed to a colleague is still waiting on the customer).
    pub fn after_assignment(self, has_assignee: bool) -> ConversationState {
        match (self, has_assignee) {
            (ConversationState::New, true) => ConversationState::Assigned,
            (ConversationState::Assigned, false) => ConversationState::New,
            (state, _) => state,
        }
    }

    /// Whether `self → to` is allowed for a conversation that has (or has no) assignee.
    /// Moving to the same state is allowed and changes nothing.
    ///
    /// The rules, and why:
    /// - `assigned` needs an assignee and `new` needs none, so the state never contradicts
    ///   who owns the conversation (assigning and unassigning move between the two).
    /// - `resolved` and `ignored` are left by reopening (to `new` or `assigned`), never straight
    ///   to `waiting`, and an ignored conversation is not `resolved` directly: "waiting" and
    ///   "resolved" say someone answered, which a closed conversation has to be reopened for,
    ///   so the event log shows the reopening.
    /// - Everything else is allowed, and every allowed step has a way back.
    pub fn check_transition(
        self,
        to: ConversationState,
        has_assignee: bool,
    ) -> Result<(), InvalidTransition> {
        use ConversationState::*;
        if self == to {
            return Ok(());
        }
        match (self, to) {
            (_, Assigned) if !has_assignee => Err(InvalidTransition::NeedsAssignee),
            (_, New) if has_assignee => Err(InvalidTransition::HasAssignee),
            (Resolved, Waiting) | (Ignored, Waiting) | (Ignored, Resolved) => {
                Err(InvalidTransition::ReopenFirst { from: self, to })
            }
            _ => Ok(()),
        }
    }
}

/// How urgently a conversation needs an answer. Ordered: `Urgent < High < Normal < Low`, so
/// sorting ascending puts the most urgent first.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Urgent,
    High,
    #[default]
    Normal,
    Low,
}

named_enum!(Priority, "priority", {
    Urgent => "urgent",
    High => "high",
    Normal => "normal",
    Low => "low",
});

impl Priority {
    /// 0 for urgent up to 3 for low: the store sorts and indexes on this.
    pub fn rank(self) -> i64 {
        self as i64
    }

    pub fn from_rank(rank: i64) -> Option<Priority> {
        Priority::ALL.get(usize::try_from(rank).ok()?).copied()
    }
}

/// Which SLA clock a deadline belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaClock {
    FirstResponse,
    Resolution,
}

named_enum!(SlaClock, "SLA clock", {
    FirstResponse => "first_response",
    Resolution => "resolution",
});

/// A thread of mentions that someone should answer, started by its root mention.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: ConversationId,
    pub state: ConversationState,
    pub priority: Priority,
    pub team: Option<String>,
    pub assignee: Option<String>,
    /// Sorted, each once.
    pub tags: Vec<String>,
    /// The root mention's brands, sorted.
    pub brands: Vec<String>,
    pub source: String,
    pub lang: String,
    pub root_mention: MentionId,
    /// Mentions in the thread, the root included.
    pub mention_count: u32,
    pub author_handle: Option<String>,
    pub author_name: Option<String>,
    pub author_followers: Option<u64>,
    pub first_mention_at: DateTime<Utc>,
    pub last_mention_at: DateTime<Utc>,
    /// Name of the routing rule that routed it, if any matched.
    pub routed_by: Option<String>,
    /// Why, in words ("intent complaint, sentiment negative").
    pub routing_reason: Option<String>,
    /// Negative sentiment of the root mention, as analysis saw it at creation.
    pub negative: bool,
    pub first_response_due: Option<DateTime<Utc>>,
    pub resolution_due: Option<DateTime<Utc>>,
    /// Time of the first reply sent or answered elsewhere.
    pub first_response_at: Option<DateTime<Utc>>,
    /// Time of the last move to `resolved`; cleared when reopened.
    pub resolved_at: Option<DateTime<Utc>>,
    /// Set once the SLA checker found the first-response deadline passed without a response.
    pub first_response_overdue: bool,
    /// Set once the SLA checker found the resolution deadline passed while unresolved.
    pub resolution_overdue: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Conversation {
    pub fn is_overdue(&self) -> bool {
        self.first_response_overdue || self.resolution_overdue
    }
}

/// A conversation with everything shown on its page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationDetail {
    pub conversation: Conversation,
    /// The thread's mentions, oldest first.
    pub mentions: Vec<crate::mention::Mention>,
    /// Oldest first.
    pub events: Vec<ConversationEvent>,
    pub notes: Vec<Note>,
    pub replies: Vec<Reply>,
}

/// What the engine hands the store to open a conversation for a root mention. Brands, source,
/// language, author and times are taken from the stored mention itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewConversation {
    pub root_mention: MentionId,
    /// `New` or `Assigned` (with an assignee) or `Ignored` (a rule said so).
    pub state: ConversationState,
    pub priority: Priority,
    pub team: Option<String>,
    pub assignee: Option<String>,
    pub tags: Vec<String>,
    pub routed_by: Option<String>,
    pub routing_reason: Option<String>,
    pub negative: bool,
    pub first_response_due: Option<DateTime<Utc>>,
    pub resolution_due: Option<DateTime<Utc>>,
}

impl NewConversation {
    /// An unrouted conversation: new, normal priority, no team.
    pub fn for_mention(root_mention: MentionId) -> NewConversation {
        NewConversation {
            root_mention,
            state: ConversationState::New,
            priority: Priority::Normal,
            team: None,
            assignee: None,
            tags: Vec::new(),
            routed_by: None,
            routing_reason: None,
            negative: false,
            first_response_due: None,
            resolution_due: None,
        }
    }
}

/// What happened to a conversation. Stored as JSON, one row per event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    Created {
        root_mention: MentionId,
    },
    Routed {
        rule: Option<String>,
        reason: Option<String>,
        team: Option<String>,
    },
    MentionAttached {
        mention: MentionId,
    },
    Assigned {
        from: Option<String>,
        to: Option<String>,
    },
    StateChanged {
        from: ConversationState,
        to: ConversationState,
    },
    PriorityChanged {
        from: Priority,
        to: Priority,
    },
    Tagged {
        tag: String,
    },
    Untagged {
        tag: String,
    },
    NoteAdded {
        note: NoteId,
    },
    ReplyQueued {
        reply: ReplyId,
    },
    ReplySent {
        reply: ReplyId,
    },
    ReplyFailed {
        reply: ReplyId,
        error: String,
    },
    ReplyAnsweredElsewhere {
        reply: ReplyId,
        url: Option<String>,
    },
    SlaBreached {
        clock: SlaClock,
        due: DateTime<Utc>,
    },
    Escalated {
        to: String,
        clock: SlaClock,
    },
    /// A person corrected an analysis label (sentiment, intent, spam) of the root mention.
    LabelCorrected {
        label: String,
        from: Option<String>,
        to: String,
    },
    SentToProduct {
        item: FeedbackItemId,
        theme: String,
    },
    /// Moved to another team (or to the shared queue, `None`) by a person.
    TeamChanged {
        from: Option<String>,
        to: Option<String>,
    },
}

impl EventKind {
    /// The `kind` tag, e.g. `state_changed`.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Created { .. } => "created",
            EventKind::Routed { .. } => "routed",
            EventKind::MentionAttached { .. } => "mention_attached",
            EventKind::Assigned { .. } => "assigned",
            EventKind::StateChanged { .. } => "state_changed",
            EventKind::PriorityChanged { .. } => "priority_changed",
            EventKind::Tagged { .. } => "tagged",
            EventKind::Untagged { .. } => "untagged",
            EventKind::NoteAdded { .. } => "note_added",
            EventKind::ReplyQueued { .. } => "reply_queued",
            EventKind::ReplySent { .. } => "reply_sent",
            EventKind::ReplyFailed { .. } => "reply_failed",
            EventKind::ReplyAnsweredElsewhere { .. } => "reply_answered_elsewhere",
            EventKind::SlaBreached { .. } => "sla_breached",
            EventKind::Escalated { .. } => "escalated",
            EventKind::LabelCorrected { .. } => "label_corrected",
            EventKind::SentToProduct { .. } => "sent_to_product",
            EventKind::TeamChanged { .. } => "team_changed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationEvent {
    pub id: i64,
    pub conversation: ConversationId,
    pub actor: String,
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// An internal note; never sent to the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub id: NoteId,
    pub conversation: ConversationId,
    pub author: String,
    pub body: String,
    /// Colleagues mentioned as `@name` who are members of a team, as spelled in the team list.
    pub mentions: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// The `@name` mentions in a note's body, in order of appearance, each once (compared without
/// case). A name is letters, digits, `_`, `-` and `.` (a trailing `.` is punctuation); an `@`
/// preceded by a letter or digit is part of an e-mail address, not a mention.
pub fn parse_note_mentions(body: &str) -> Vec<String> {
    let is_name_char = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '.');
    let mut found: Vec<String> = Vec::new();
    let mut previous: Option<char> = None;
    let mut chars = body.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let starts_mention = c == '@' && !previous.is_some_and(|p| p.is_alphanumeric());
        previous = Some(c);
        if !starts_mention {
            continue;
        }
        let start = at + c.len_utf8();
        let mut end = start;
        while let Some(&(i, next)) = chars.peek() {
            if !is_name_char(next) {
                break;
            }
            end = i + next.len_utf8();
            previous = Some(next);
            chars.next();
        }
        let name = body[start..end].trim_end_matches(['.', '-']);
        if !name.is_empty()
            && !found
                .iter()
                .any(|f| f.to_lowercase() == name.to_lowercase())
        {
            found.push(name.to_string());
        }
    }
    found
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyStatus {
    /// Queued; the sender has not succeeded yet (it may have failed and be retrying).
    Pending,
    Sent,
    /// The last attempt failed; the error is on the reply. It may still be retried.
    Failed,
    /// Someone answered outside Earshot (the network does not allow posting, or they chose
    /// to); the link points at the answer.
    AnsweredElsewhere,
}

named_enum!(ReplyStatus, "reply status", {
    Pending => "pending",
    Sent => "sent",
    Failed => "failed",
    AnsweredElsewhere => "answered_elsewhere",
});

/// An answer to a conversation, sent exactly once through the network's API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    pub id: ReplyId,
    pub conversation: ConversationId,
    pub body: String,
    pub author: String,
    /// Chosen by the client (one per "send" click); the same key never makes a second reply.
    pub idempotency_key: String,
    pub status: ReplyStatus,
    /// The network's id of the posted reply, once sent.
    pub network_id: Option<String>,
    pub network_url: Option<String>,
    /// The last failure, kept after a later success for the record.
    pub error: Option<String>,
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// A reusable answer with `{author}` and `{brand}` placeholders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedReply {
    pub id: SavedReplyId,
    pub name: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl SavedReply {
    /// See [`render_saved_reply`].
    pub fn render(&self, author: &str, brand: &str) -> String {
        render_saved_reply(&self.body, author, brand)
    }
}

/// Fill `{author}` and `{brand}` in a saved reply's body. The result is plain text, as the
/// networks take it: nothing is escaped here (pages escape when they show it), and the values
/// are inserted verbatim and never scanned again, so an author called `{brand}` stays that.
/// Other braces are left as they are.
pub fn render_saved_reply(body: &str, author: &str, brand: &str) -> String {
    let mut out = String::with_capacity(body.len() + author.len() + brand.len());
    let mut rest = body;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open..];
        if let Some(tail) = after.strip_prefix("{author}") {
            out.push_str(author);
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("{brand}") {
            out.push_str(brand);
            rest = tail;
        } else {
            out.push('{');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    out
}

/// One "send to product": a conversation filed under a theme of the product feedback log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedbackItem {
    pub id: FeedbackItemId,
    /// The theme's name as first written.
    pub theme: String,
    pub summary: String,
    pub conversation: ConversationId,
    pub author: String,
    pub created_at: DateTime<Utc>,
}

/// A theme of the feedback log with how often customers raised it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedbackTheme {
    pub name: String,
    /// Feedback items filed under it.
    pub count: u64,
    /// Distinct conversations linked, oldest first.
    pub conversations: Vec<ConversationId>,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
}

/// A team as the store keeps it, synced from `earshot.toml` by the engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamRecord {
    pub name: String,
    pub manager: Option<String>,
    /// Most open conversations per member; `None` for no limit.
    pub capacity: Option<u32>,
    /// Working hours, in whatever shape the routing configuration gives them.
    pub hours: serde_json::Value,
    pub members: Vec<String>,
}

/// A member's open conversations, for least-loaded assignment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberLoad {
    pub member: String,
    pub team: String,
    /// Conversations in state `assigned` held by the member.
    pub assigned: u64,
    /// Conversations in state `waiting` held by the member.
    pub waiting: u64,
}

impl MemberLoad {
    pub fn open(&self) -> u64 {
        self.assigned + self.waiting
    }
}

/// A conversation the SLA checker just found past a deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaBreach {
    pub conversation: ConversationId,
    pub clock: SlaClock,
    pub due: DateTime<Utc>,
    pub team: Option<String>,
    /// The team's manager, to escalate to.
    pub manager: Option<String>,
    pub assignee: Option<String>,
    pub priority: Priority,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationSort {
    /// Most urgent first, then oldest first: the work queue.
    #[default]
    PriorityThenAge,
    /// Most recently created first.
    Newest,
}

/// Filters of the inbox list (`/inbox`, `/api/conversations`). Unset fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConversationFilter {
    /// Any of these states; empty means every state.
    pub states: Vec<ConversationState>,
    pub team: Option<String>,
    pub assignee: Option<String>,
    /// Only conversations nobody is assigned to.
    pub unassigned: bool,
    pub priority: Option<Priority>,
    /// Only conversations past a deadline (either flag set).
    pub overdue: bool,
    pub brand: Option<String>,
    pub source: Option<String>,
    pub lang: Option<String>,
    pub tag: Option<String>,
    pub sort: ConversationSort,
}

impl ConversationFilter {
    /// The open queues: new, assigned and waiting.
    pub fn open() -> ConversationFilter {
        ConversationFilter {
            states: vec![
                ConversationState::New,
                ConversationState::Assigned,
                ConversationState::Waiting,
            ],
            ..ConversationFilter::default()
        }
    }
}

/// The time window of the inbox metrics: conversations created in `[since, until)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricsWindow {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

/// Median and 90th percentile of a set of durations, in seconds.
///
/// The median of an even count is the mean of the two middle values; p90 is the nearest-rank
/// percentile (the value at 1-based rank ⌈0.9·n⌉ of the sorted durations).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct DurationStats {
    pub count: u64,
    pub median_secs: Option<f64>,
    pub p90_secs: Option<f64>,
}

impl DurationStats {
    pub fn from_secs(mut values: Vec<f64>) -> DurationStats {
        values.retain(|v| v.is_finite());
        values.sort_by(f64::total_cmp);
        let n = values.len();
        if n == 0 {
            return DurationStats::default();
        }
        let median = if n % 2 == 1 {
            values[n / 2]
        } else {
            (values[n / 2 - 1] + values[n / 2]) / 2.0
        };
        let rank = (n * 9).div_ceil(10).max(1);
        DurationStats {
            count: n as u64,
            median_secs: Some(median),
            p90_secs: Some(values[rank - 1]),
        }
    }
}

/// Figures of one group (a team, a member, a source, a brand, or everything).
///
/// Counted: conversations created in the window, ignored ones left out (they were decided
/// not to need an answer). A conversation is responded when a reply was sent or it was
/// answered elsewhere. Times run from the conversation's creation (when Earshot saw it) to
/// the first response and to the resolution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupMetrics {
    pub key: String,
    pub conversations: u64,
    pub responded: u64,
    /// `responded / conversations`; `None` without conversations.
    pub response_rate: Option<f64>,
    pub first_response: DurationStats,
    pub resolution: DurationStats,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboxMetrics {
    pub window: MetricsWindow,
    pub overall: GroupMetrics,
    pub by_team: Vec<GroupMetrics>,
    pub by_member: Vec<GroupMetrics>,
    pub by_source: Vec<GroupMetrics>,
    pub by_brand: Vec<GroupMetrics>,
    /// Open, negative conversations nobody has answered whose first-response deadline passed
    /// (as of the `now` given), most overdue first. Not limited to the window.
    pub unanswered_negative_overdue: Vec<ConversationId>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConversationState::*;

    #[test]
    fn transitions_follow_the_documented_rules() {
        // Allowed without an assignee.
        for (from, to) in [
            (New, Waiting),
            (New, Resolved),
            (New, Ignored),
            (Waiting, New),
            (Waiting, Resolved),
            (Resolved, New),
            (Resolved, Ignored),
            (Ignored, New),
        ] {
            assert_eq!(from.check_transition(to, false), Ok(()), "{from} → {to}");
        }
        // Allowed with an assignee.
        for (from, to) in [
            (Assigned, Waiting),
            (Waiting, Assigned),
            (Resolved, Assigned),
            (Ignored, Assigned),
            (Assigned, Ignored),
        ] {
            assert_eq!(from.check_transition(to, true), Ok(()), "{from} → {to}");
        }
        assert_eq!(
            New.check_transition(Assigned, false),
            Err(InvalidTransition::NeedsAssignee)
        );
        assert_eq!(
            Assigned.check_transition(New, true),
            Err(InvalidTransition::HasAssignee)
        );
        for (from, to) in [(Resolved, Waiting), (Ignored, Waiting), (Ignored, Resolved)] {
            assert_eq!(
                from.check_transition(to, true),
                Err(InvalidTransition::ReopenFirst { from, to })
            );
        }
    }

    /// The states a conversation may be in with (or without) an assignee.
    fn consistent(state: ConversationState, has_assignee: bool) -> bool {
        !(state == Assigned && !has_assignee || state == New && has_assignee)
    }

    /// Every (state, has assignee) reachable in one step: a state change or an (un)assignment.
    fn steps(state: ConversationState, has_assignee: bool) -> Vec<(ConversationState, bool)> {
        let mut next: Vec<_> = ConversationState::ALL
            .iter()
            .filter(|&&to| state.check_transition(to, has_assignee).is_ok())
            .map(|&to| (to, has_assignee))
            .collect();
        for assignee_now in [false, true] {
            next.push((state.after_assignment(assignee_now), assignee_now));
        }
        next
    }

    #[test]
    fn every_step_can_be_undone_and_keeps_state_and_assignee_consistent() {
        for &from in ConversationState::ALL {
            for has_assignee in [false, true] {
                if !consistent(from, has_assignee) {
                    continue;
                }
                for (to, to_assignee) in steps(from, has_assignee) {
                    assert!(
                        consistent(to, to_assignee),
                        "{from}/{has_assignee} → {to}/{to_assignee} is inconsistent"
                    );
                    // Back within three steps (e.g. ignored → reopened → waiting).
                    let mut frontier = vec![(to, to_assignee)];
                    let mut back = false;
                    for _ in 0..3 {
                        frontier = frontier.iter().flat_map(|&(s, a)| steps(s, a)).collect();
                        if frontier.contains(&(from, has_assignee)) {
                            back = true;
                            break;
                        }
                    }
                    assert!(
                        back,
                        "{from}/{has_assignee} → {to}/{to_assignee} is one-way"
                    );
                }
            }
        }
    }

    #[test]
    fn names_parse_back_and_unknown_names_are_named() {
        for &state in ConversationState::ALL {
            assert_eq!(state.as_str().parse::<ConversationState>(), Ok(state));
        }
        assert_eq!("URGENT".parse::<Priority>(), Ok(Priority::Urgent));
        let err = "closed".parse::<ConversationState>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown conversation state \"closed\"; expected one of: new assigned waiting resolved ignored"
        );
        for &p in Priority::ALL {
            assert_eq!(Priority::from_rank(p.rank()), Some(p));
        }
        assert_eq!(Priority::from_rank(4), None);
        assert!(Priority::Urgent < Priority::Low);
    }

    #[test]
    fn note_mentions_skip_emails_and_repeat_names() {
        assert_eq!(
            parse_note_mentions("@anna can you check? cc @Boris_K, @anna. mail x@y.com @ @ivan-."),
            vec!["anna", "Boris_K", "ivan"]
        );
        assert_eq!(parse_note_mentions("@Мария см."), vec!["Мария"]);
        assert!(parse_note_mentions("no one here").is_empty());
    }

    #[test]
    fn saved_replies_fill_placeholders_once() {
        assert_eq!(
            render_saved_reply(
                "Hi {author}, {brand} here. {unknown} {",
                "{brand}",
                "<Acme>"
            ),
            "Hi {brand}, <Acme> here. {unknown} {"
        );
        assert_eq!(render_saved_reply("{author}{author}", "a", "b"), "aa");
    }

    #[test]
    fn percentiles_match_hand_computation() {
        let stats = DurationStats::from_secs(vec![50.0, 10.0, 40.0, 20.0, 30.0]);
        assert_eq!(stats.median_secs, Some(30.0));
        // ⌈0.9·5⌉ = 5 → the largest.
        assert_eq!(stats.p90_secs, Some(50.0));
        let even = DurationStats::from_secs((1..=10).map(f64::from).collect());
        assert_eq!(even.median_secs, Some(5.5));
        assert_eq!(even.p90_secs, Some(9.0));
        assert_eq!(DurationStats::from_secs(vec![]).median_secs, None);
    }

    #[test]
    fn events_serialize_with_their_kind_tag() {
        let kind = EventKind::StateChanged {
            from: New,
            to: Ignored,
        };
        let json = serde_json::to_value(&kind).unwrap();
        assert_eq!(json["kind"], kind.name());
        assert_eq!(json["to"], "ignored");
        assert_eq!(serde_json::from_value::<EventKind>(json).unwrap(), kind);
    }
}
