//! Publications: one scheduled post variant on one account, waiting for the publishing worker
//! to put it on the network at its time — exactly once.
//!
//! The posts side owns posts, variants and accounts and refers to them by plain integer ids;
//! when a post is scheduled, each of its variants becomes one [`NewPublication`]. The
//! idempotency key is derived from post, variant and revision, so scheduling the same revision
//! twice queues it once, and the same key goes to the network on every attempt.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ReplyTarget;

/// A publication's id in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PublicationId(pub i64);

impl std::fmt::Display for PublicationId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PublicationState {
    /// Waiting for `next_attempt_at` (its scheduled time, or the end of a backoff).
    Scheduled,
    /// Claimed by a worker until `lease_until`; after that another worker takes it over.
    Publishing,
    /// On the network: `remote_id` and `url` say where.
    Published,
    /// Given up (a permanent error, or the attempts ran out); `last_error` says why.
    Failed,
    /// Withdrawn before a worker claimed it.
    Cancelled,
}

impl PublicationState {
    pub const ALL: [PublicationState; 5] = [
        PublicationState::Scheduled,
        PublicationState::Publishing,
        PublicationState::Published,
        PublicationState::Failed,
        PublicationState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PublicationState::Scheduled => "scheduled",
            PublicationState::Publishing => "publishing",
            PublicationState::Published => "published",
            PublicationState::Failed => "failed",
            PublicationState::Cancelled => "cancelled",
        }
    }

    /// Published, failed and cancelled publications never change again on their own.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            PublicationState::Published | PublicationState::Failed | PublicationState::Cancelled
        )
    }
}

impl std::fmt::Display for PublicationState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for PublicationState {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        PublicationState::ALL
            .into_iter()
            .find(|s| s.as_str() == value)
            .ok_or_else(|| {
                format!(
                    "unknown publication state {value:?}; expected scheduled, publishing, published, failed or cancelled"
                )
            })
    }
}

/// What the posts side hands over when a variant is scheduled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewPublication {
    pub account_id: i64,
    pub post_id: i64,
    pub variant_id: i64,
    /// The variant's revision: an edit after scheduling is a new revision, hence a new
    /// publication with a new key; re-enqueueing the same revision is a no-op.
    pub revision: i64,
    pub text: String,
    /// ISO 639-1 language of the text.
    pub language: Option<String>,
    /// Set when the post answers someone.
    pub reply_to: Option<ReplyTarget>,
    pub scheduled_at: DateTime<Utc>,
}

impl NewPublication {
    /// `pub:{post}:{variant}:{revision}` — the same for every attempt and every re-enqueue of
    /// this revision; sent as Mastodon's `Idempotency-Key` and turned into Bluesky's record key.
    pub fn idempotency_key(&self) -> String {
        publication_key(self.post_id, self.variant_id, self.revision)
    }
}

/// The idempotency key of a variant's revision.
pub fn publication_key(post_id: i64, variant_id: i64, revision: i64) -> String {
    format!("pub:{post_id}:{variant_id}:{revision}")
}

/// A publication as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publication {
    pub id: PublicationId,
    pub account_id: i64,
    pub post_id: i64,
    pub variant_id: i64,
    pub revision: i64,
    pub text: String,
    pub language: Option<String>,
    pub reply_to: Option<ReplyTarget>,
    pub scheduled_at: DateTime<Utc>,
    /// Unique in the store; see [`NewPublication::idempotency_key`].
    pub idempotency_key: String,
    pub state: PublicationState,
    /// Claims so far (a claim counts as an attempt, so a row that keeps killing its worker
    /// still runs out of attempts).
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    /// While publishing: when the claim ends and another worker may take the row over.
    pub lease_until: Option<DateTime<Utc>>,
    /// Set when a worker is about to call the network and cleared when it records the outcome:
    /// a row claimed with it set was being sent when its worker died, so the network may have
    /// it already.
    pub attempt_started_at: Option<DateTime<Utc>>,
    pub remote_id: Option<String>,
    pub url: Option<String>,
    pub last_error: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    /// Published noticeably after its time (the server was down or busy at the time).
    pub late: bool,
    /// When the posts side was told the outcome (the callback succeeded); `None` while the
    /// outcome is still to be reported.
    pub reported_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Publication {
    /// The request's creation time sent to the network: fixed to the scheduled time, so every
    /// attempt carries the same one (the Bluesky record key is derived from it).
    pub fn created_at_for_network(&self) -> DateTime<Utc> {
        self.scheduled_at
    }
}

/// A worker's hold on a claimed publication; a later claim (after the lease ran out)
/// replaces the number, so a late worker cannot overwrite the decision of the one that
/// took over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicationClaim {
    pub publication: Publication,
    pub claim: i64,
}

/// Which publications the queue and calendar pages list, ordered by scheduled time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicationFilter {
    pub account_id: Option<i64>,
    pub post_id: Option<i64>,
    /// Any of these states (all when empty).
    #[serde(default)]
    pub states: Vec<PublicationState>,
    /// Scheduled at or after.
    pub from: Option<DateTime<Utc>>,
    /// Scheduled before.
    pub until: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_through_their_names() {
        for state in PublicationState::ALL {
            assert_eq!(state.as_str().parse::<PublicationState>(), Ok(state));
        }
        let error = "done".parse::<PublicationState>().unwrap_err();
        assert!(error.contains("\"done\""), "{error}");
        assert!(PublicationState::Cancelled.is_final());
        assert!(!PublicationState::Publishing.is_final());
    }

    #[test]
    fn keys_name_post_variant_and_revision() {
        let new = NewPublication {
            account_id: 3,
            post_id: 17,
            variant_id: 2,
            revision: 4,
            text: "hello".into(),
            language: None,
            reply_to: None,
            scheduled_at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        };
        assert_eq!(new.idempotency_key(), "pub:17:2:4");
        assert_ne!(new.idempotency_key(), publication_key(17, 2, 5));
    }
}
