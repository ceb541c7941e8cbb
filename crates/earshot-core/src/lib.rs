//! Earshot's domain types. Every other crate speaks in these; none of them does I/O.
//!
//! The flow of a mention: a source produces an [`IncomingMention`] (raw text, maybe HTML),
//! the pipeline normalizes it into a [`NewMention`] (plain text, links, canonical URL,
//! language, matched brands, fingerprint), and the store keeps it as a [`Mention`].

pub mod analysis;
pub mod auth;
pub mod campaigns;
pub mod config;
pub mod contact;
pub mod inbox;
pub mod inbox_batch;
pub mod inbox_team;
pub mod inbox_views;
pub mod links;
pub mod mention;
pub mod outbox;
pub mod publication;
pub mod publishing;
pub mod routing;
pub mod source;

pub use analysis::{
    Analysis, CorrectionError, CorrectionField, CorrectionRecord, Corrections, Label,
    LabelCorrection, Scored, ShownLabel, ShownLabels, TargetSentiment,
};
pub use auth::{
    throttle_wait, validate_user_name, ApiToken, AuthConfig, Role, TokenId, UnknownRole, User,
    UserId, UserNameError, THROTTLE_WINDOW,
};
pub use campaigns::{
    format_basis_points, Campaign, CampaignFigures, CampaignId, CampaignReport, ConversionTotal,
    Currency, CurrencyRow, Goal, Money, MoneyError, NewCampaign, NewSpend, SpendEntry,
};
pub use config::{BrandConfig, Config, ConfigError, ServerConfig, SourceConfig, SourceKind};
pub use contact::{EmailAddress, EmailError, MAX_EMAIL_CHARS};
pub use inbox::{
    Conversation, ConversationDetail, ConversationEvent, ConversationFilter, ConversationId,
    ConversationSort, ConversationState, EventKind, FeedbackItem, FeedbackItemId, FeedbackTheme,
    InboxMetrics, InvalidTransition, MemberLoad, NewConversation, Note, NoteId, Priority, Reply,
    ReplyId, ReplyStatus, SavedReply, SavedReplyId, SlaBreach, SlaClock, Stamp, TeamRecord,
};
pub use inbox_batch::{ConversationTarget, InboxStep, InboxStepOutcome};
pub use inbox_team::SlaDue;
pub use inbox_views::{SavedView, SavedViewId};
pub use links::{
    is_bot, is_valid_short_code, short_code_from_random, ClickCount, ClickCounting, ClickDay,
    Conversion, ConversionOutcome, LinkError, LinksConfig, NewConversion, NewTrackedLink,
    TrackedLink, TrackingSettings, UtmParams, KNOWN_BOT_AGENTS,
};
pub use mention::{
    Author, IncomingMention, InterchangeError, InterchangeMention, Mention, MentionFilter,
    MentionId, NewMention, SortOrder,
};
pub use outbox::{
    EmailPayload, NewOutboxMessage, OutboxClaim, OutboxConfig, OutboxFilter, OutboxId, OutboxKind,
    OutboxMessage, OutboxState, PublishPayload, ReplyTarget, SmtpConfig, SmtpSecurity,
    WebhookConfig, WebhookPayload,
};
pub use publication::{
    publication_key, NewPublication, Publication, PublicationClaim, PublicationFilter,
    PublicationId, PublicationState,
};
pub use publishing::{
    Account, AccountCredentials, AccountId, AccountStatus, Actor, CheckMode, ChecksPolicy, Network,
    NetworkRules, NewAccount, Post, PostAction, PostApproval, PostDetail, PostEvent, PostEventKind,
    PostId, PostState, PublishingConfig, RuleViolation, Variant, VariantDraft, VariantId,
    VariantState, WorkflowError, WorkflowState,
};
pub use routing::{
    AssignStrategy, RoutingConfig, RuleActions, RuleConditions, RuleConfig, SlaConfig,
    SlaPolicyConfig, TeamConfig, WorkingRangeConfig,
};
pub use source::{SourceHealth, SourceState};
