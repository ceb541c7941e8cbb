//! What the ingest hook hands the store for a whole pipeline batch at once: conversations to
//! open and mentions to thread into conversations, in order, written in one transaction.

use serde::{Deserialize, Serialize};

use crate::inbox::{ConversationId, NewConversation};
use crate::mention::MentionId;

/// The conversation a threaded mention joins: one already stored, or one opened by an
/// earlier step of the same batch (its index in the batch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ConversationTarget {
    Stored(ConversationId),
    OpenedInBatch(usize),
}

/// One step of an inbox batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum InboxStep {
    /// Open a conversation for a root mention (as `InboxStore::create_conversation`).
    Open(NewConversation),
    /// Add a mention to a thread (as `InboxStore::attach_mention`).
    Attach {
        to: ConversationTarget,
        mention: MentionId,
    },
}

/// What one step did, in the order of the steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum InboxStepOutcome {
    /// A conversation was opened.
    Opened(ConversationId),
    /// The root mention already had this conversation; nothing changed.
    AlreadyOpen(ConversationId),
    /// The mention joined this conversation.
    Attached(ConversationId),
    /// The mention was already in this conversation; nothing changed.
    AlreadyAttached(ConversationId),
}

impl InboxStepOutcome {
    pub fn conversation(self) -> ConversationId {
        match self {
            InboxStepOutcome::Opened(id)
            | InboxStepOutcome::AlreadyOpen(id)
            | InboxStepOutcome::Attached(id)
            | InboxStepOutcome::AlreadyAttached(id) => id,
        }
    }
}
