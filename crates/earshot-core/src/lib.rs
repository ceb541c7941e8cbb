//! Earshot's domain types. Every other crate speaks in these; none of them does I/O.
//!
//! The flow of a mention: a source produces an [`IncomingMention`] (raw text, maybe HTML),
//! the pipeline normalizes it into a [`NewMention`] (plain text, links, canonical URL,
//! language, matched brands, fingerprint), and the store keeps it as a [`Mention`].

pub mod config;
pub mod mention;
pub mod outbox;
pub mod source;

pub use config::{BrandConfig, Config, ConfigError, ServerConfig, SourceConfig, SourceKind};
pub use mention::{
    Author, IncomingMention, InterchangeError, InterchangeMention, Mention, MentionFilter,
    MentionId, NewMention, SortOrder,
};
pub use outbox::{
    EmailPayload, NewOutboxMessage, OutboxClaim, OutboxConfig, OutboxFilter, OutboxId, OutboxKind,
    OutboxMessage, OutboxState, PublishPayload, ReplyTarget, SmtpConfig, SmtpSecurity,
    WebhookConfig, WebhookPayload,
};
pub use source::{SourceHealth, SourceState};
