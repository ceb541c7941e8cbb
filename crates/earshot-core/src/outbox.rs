//! The outbox: messages Earshot must deliver to the outside world (webhooks, e-mails, posts
//! on a network), kept in the store until delivered so none is lost to a crash, and each
//! carrying a dedup key so enqueueing the same thing twice delivers it once.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An outbox message's id in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OutboxId(pub i64);

impl std::fmt::Display for OutboxId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutboxKind {
    /// POST JSON to the configured webhook URL ([`WebhookPayload`]).
    Webhook,
    /// An e-mail through the configured SMTP server ([`EmailPayload`]).
    Email,
    /// A post or reply on a network through one of its accounts ([`PublishPayload`]).
    Publish,
}

impl OutboxKind {
    pub const ALL: [OutboxKind; 3] = [OutboxKind::Webhook, OutboxKind::Email, OutboxKind::Publish];

    pub fn as_str(self) -> &'static str {
        match self {
            OutboxKind::Webhook => "webhook",
            OutboxKind::Email => "email",
            OutboxKind::Publish => "publish",
        }
    }
}

impl std::fmt::Display for OutboxKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for OutboxKind {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        OutboxKind::ALL
            .into_iter()
            .find(|k| k.as_str() == value)
            .ok_or_else(|| {
                format!("unknown outbox kind {value:?}; expected webhook, email or publish")
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    /// Waiting for `next_attempt_at`.
    Pending,
    /// Claimed by a worker until `lease_until`; after that another worker may claim it.
    InFlight,
    Delivered,
    /// Given up: a permanent error, or the attempts ran out. Kept, visible, never retried
    /// on its own.
    Failed,
}

impl OutboxState {
    pub const ALL: [OutboxState; 4] = [
        OutboxState::Pending,
        OutboxState::InFlight,
        OutboxState::Delivered,
        OutboxState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::InFlight => "in_flight",
            OutboxState::Delivered => "delivered",
            OutboxState::Failed => "failed",
        }
    }
}

impl std::fmt::Display for OutboxState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for OutboxState {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        OutboxState::ALL
            .into_iter()
            .find(|s| s.as_str() == value)
            .ok_or_else(|| {
                format!(
                    "unknown outbox state {value:?}; expected pending, in_flight, delivered or failed"
                )
            })
    }
}

/// What a caller hands to the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewOutboxMessage {
    pub kind: OutboxKind,
    /// Unique per thing to deliver (for example `reply:{conversation}:{n}` or
    /// `sla-escalation:{conversation}:{policy}`): enqueueing a key again is a no-op. It is
    /// also the idempotency key sent to the remote side.
    pub dedup_key: String,
    /// The kind's payload as JSON ([`WebhookPayload`], [`EmailPayload`], [`PublishPayload`]).
    pub payload: serde_json::Value,
    /// Not before this time (now when `None`).
    pub deliver_after: Option<DateTime<Utc>>,
}

impl NewOutboxMessage {
    pub fn webhook(dedup_key: impl Into<String>, payload: &WebhookPayload) -> Self {
        Self::of(OutboxKind::Webhook, dedup_key, payload)
    }

    pub fn email(dedup_key: impl Into<String>, payload: &EmailPayload) -> Self {
        Self::of(OutboxKind::Email, dedup_key, payload)
    }

    pub fn publish(dedup_key: impl Into<String>, payload: &PublishPayload) -> Self {
        Self::of(OutboxKind::Publish, dedup_key, payload)
    }

    fn of<T: Serialize>(kind: OutboxKind, dedup_key: impl Into<String>, payload: &T) -> Self {
        NewOutboxMessage {
            kind,
            dedup_key: dedup_key.into(),
            payload: serde_json::to_value(payload)
                .expect("outbox payloads are plain structs of strings and lists"),
            deliver_after: None,
        }
    }
}

/// A message as the store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxMessage {
    pub id: OutboxId,
    pub kind: OutboxKind,
    pub dedup_key: String,
    pub payload: serde_json::Value,
    pub state: OutboxState,
    /// Delivery attempts started (a claim counts as one, so a message that keeps killing its
    /// worker still runs out of attempts).
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    /// While in flight: when the claim ends and another worker may take the message.
    pub lease_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// What the remote side answered on delivery (for a post: its id and URL).
    pub result: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A worker's hold on a claimed message: the message and the claim number that a later
/// claim (after the lease ran out) replaces, so a late worker cannot overwrite the outcome of
/// the one that took over.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxClaim {
    pub message: OutboxMessage,
    pub claim: i64,
}

/// Which messages the outbox page and API list, newest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OutboxFilter {
    pub state: Option<OutboxState>,
    pub kind: Option<OutboxKind>,
    /// Only ids below this (the next page).
    pub before: Option<OutboxId>,
}

/// A webhook call: `event` names what happened (`sla.overdue`, `reply.failed`, ...);
/// `data` is the event's details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookPayload {
    pub event: String,
    #[serde(default)]
    pub data: serde_json::Value,
}

/// A plain-text e-mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailPayload {
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
}

/// A post on a network, or a reply to a mention there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishPayload {
    /// The configured account (a `[[source]]` of kind mastodon or bluesky) to post as.
    pub account: String,
    pub text: String,
    #[serde(default)]
    pub reply_to: Option<ReplyTarget>,
    /// ISO 639-1 language of the text.
    #[serde(default)]
    pub language: Option<String>,
    /// When the post was written; stays the same across retries (Bluesky's `createdAt`
    /// and record key come from it).
    pub created_at: DateTime<Utc>,
}

/// The mention a reply answers, as its source stored it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyTarget {
    /// The mention's `external_id`: a Mastodon status id on `server`, a Bluesky `at://` URI.
    #[serde(default)]
    pub external_id: Option<String>,
    /// The mention's public URL (how a Mastodon status is found from another server).
    #[serde(default)]
    pub url: Option<String>,
    /// Base URL of the server `external_id` belongs to (a Mastodon source's `url`).
    #[serde(default)]
    pub server: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_states_round_trip_through_their_names() {
        for kind in OutboxKind::ALL {
            assert_eq!(kind.as_str().parse::<OutboxKind>().unwrap(), kind);
        }
        for state in OutboxState::ALL {
            assert_eq!(state.as_str().parse::<OutboxState>().unwrap(), state);
        }
        assert!("sms".parse::<OutboxKind>().unwrap_err().contains("sms"));
        assert!("done".parse::<OutboxState>().unwrap_err().contains("done"));
        assert_eq!(
            serde_json::to_string(&OutboxState::InFlight).unwrap(),
            "\"in_flight\""
        );
    }

    #[test]
    fn payload_constructors_set_the_kind() {
        let message = NewOutboxMessage::email(
            "k1",
            &EmailPayload {
                to: vec!["lead@example.org".into()],
                subject: "Overdue".into(),
                body: "Conversation 7 is overdue".into(),
            },
        );
        assert_eq!(message.kind, OutboxKind::Email);
        assert_eq!(message.payload["to"][0], "lead@example.org");
    }
}

/// `[outbox]` in earshot.toml: where webhooks and e-mails go and how hard to try.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxConfig {
    /// Attempts before a message is marked failed.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Wait before the second attempt; doubles per attempt (with jitter) up to `max_backoff_secs`.
    #[serde(default = "default_base_backoff_secs")]
    pub base_backoff_secs: u64,
    #[serde(default = "default_max_backoff_secs")]
    pub max_backoff_secs: u64,
    /// How long a worker holds a claimed message before another may take it over.
    #[serde(default = "default_lease_secs")]
    pub lease_secs: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp: Option<SmtpConfig>,
    /// Where SLA escalation e-mails go when the team's manager has no e-mail address (or the
    /// team no manager). Checked when earshot.toml is read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation_email: Option<crate::contact::EmailAddress>,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            max_attempts: default_max_attempts(),
            base_backoff_secs: default_base_backoff_secs(),
            max_backoff_secs: default_max_backoff_secs(),
            lease_secs: default_lease_secs(),
            webhook: None,
            smtp: None,
            escalation_email: None,
        }
    }
}

impl OutboxConfig {
    /// Left out of earshot.toml when nothing was set.
    pub fn is_default(&self) -> bool {
        *self == OutboxConfig::default()
    }
}

fn default_max_attempts() -> u32 {
    8
}
fn default_base_backoff_secs() -> u64 {
    30
}
fn default_max_backoff_secs() -> u64 {
    3_600
}
fn default_lease_secs() -> u64 {
    120
}

/// `[outbox.webhook]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookConfig {
    pub url: String,
    /// HMAC-SHA256 key for `X-Earshot-Signature`, literal or `env:NAME`.
    pub secret: String,
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (port 587); refused if the server cannot.
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a server on this machine (localhost).
    Plain,
}

/// `[outbox.smtp]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmtpConfig {
    pub host: String,
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    #[serde(default)]
    pub security: SmtpSecurity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Literal or `env:NAME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// The From address, e.g. `Earshot <earshot@example.org>`.
    pub from: String,
}

fn default_smtp_port() -> u16 {
    587
}

#[cfg(test)]
mod config_tests {
    use super::*;

    #[test]
    fn an_outbox_section_reads_with_defaults() {
        let config: OutboxConfig = toml_like(
            r#"{"webhook": {"url": "https://hooks.example/earshot", "secret": "env:HOOK"},
                "smtp": {"host": "localhost", "security": "plain", "from": "earshot@example.org"}}"#,
        );
        assert_eq!(config.max_attempts, 8);
        assert_eq!(config.smtp.as_ref().unwrap().port, 587);
        assert_eq!(config.smtp.unwrap().security, SmtpSecurity::Plain);
        assert_eq!(config.webhook.unwrap().secret, "env:HOOK");
    }

    fn toml_like(json: &str) -> OutboxConfig {
        serde_json::from_str(json).unwrap()
    }
}
