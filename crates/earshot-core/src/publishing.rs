//! Publishing with a plan: the official accounts, posts with per-account variants, the
//! approval workflow and each network's rules. Pure types and rules; storage is
//! `earshot_store::PublishingStore`, the pre-publish checks are `earshot_engine::publishing`.
//! See docs/PUBLISHING.md.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

use crate::auth::Role;

// ---------------------------------------------------------------------------------------------
// Networks and their rules
// ---------------------------------------------------------------------------------------------

/// A network an official account lives on. Adding one (Telegram, VK) takes a variant here, a
/// row in [`NETWORK_RULES`], its credentials shape in [`AccountCredentials`], a credentials
/// check in `earshot-sources::accounts` and a `Publisher` beside its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    Mastodon,
    Bluesky,
}

impl Network {
    pub const ALL: [Network; 2] = [Network::Mastodon, Network::Bluesky];

    pub fn as_str(self) -> &'static str {
        match self {
            Network::Mastodon => "mastodon",
            Network::Bluesky => "bluesky",
        }
    }

    /// The kind of `[[source]]` that reads this network (and whose connector publishes to it).
    pub fn source_kind(self) -> crate::SourceKind {
        match self {
            Network::Mastodon => crate::SourceKind::Mastodon,
            Network::Bluesky => crate::SourceKind::Bluesky,
        }
    }

    pub fn rules(self) -> &'static NetworkRules {
        NETWORK_RULES
            .iter()
            .find(|rules| rules.network == self)
            .expect("every network has a row in NETWORK_RULES")
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown network {0:?}: expected mastodon or bluesky")]
pub struct UnknownNetwork(pub String);

impl FromStr for Network {
    type Err = UnknownNetwork;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "mastodon" => Ok(Network::Mastodon),
            "bluesky" => Ok(Network::Bluesky),
            _ => Err(UnknownNetwork(text.to_string())),
        }
    }
}

/// How a network measures a post's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LengthRule {
    /// Unicode scalar values, every URL counted as `url_weight` characters and a remote
    /// mention `@user@host` as its `@user` part (Mastodon).
    Characters { url_weight: usize },
    /// Extended grapheme clusters as written, links and mentions included (Bluesky).
    Graphemes,
}

/// One network's limits for a post, as its documentation states them (docs/PUBLISHING.md
/// cites the sources).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkRules {
    pub network: Network,
    pub max_length: usize,
    pub length: LengthRule,
    pub max_media: usize,
    /// How a mention is written, for messages.
    pub mention_form: &'static str,
}

pub const NETWORK_RULES: &[NetworkRules] = &[
    NetworkRules {
        network: Network::Mastodon,
        max_length: 500,
        length: LengthRule::Characters { url_weight: 23 },
        max_media: 4,
        mention_form: "@user@host",
    },
    NetworkRules {
        network: Network::Bluesky,
        max_length: 300,
        length: LengthRule::Graphemes,
        max_media: 4,
        mention_form: "@handle.domain",
    },
];

/// A rule a variant breaks, with everything needed to say so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum RuleViolation {
    #[error("the {network} variant for {account} is empty")]
    Empty { network: Network, account: String },
    #[error("the {network} variant for {account} is {length} {unit} long; {network} allows at most {max}")]
    TooLong {
        network: Network,
        account: String,
        length: usize,
        max: usize,
        unit: String,
    },
    #[error("the {network} variant for {account} has {count} media attachments; {network} allows at most {max}")]
    TooManyMedia {
        network: Network,
        account: String,
        count: usize,
        max: usize,
    },
    #[error("the {network} variant for {account} mentions {mention:?}; on {network} a mention is written {form}")]
    BadMention {
        network: Network,
        account: String,
        mention: String,
        form: String,
    },
}

/// The variant's length as `network` counts it.
pub fn measured_length(network: Network, text: &str) -> usize {
    match network.rules().length {
        LengthRule::Graphemes => text.graphemes(true).count(),
        LengthRule::Characters { url_weight } => {
            let mut length = 0;
            for piece in split_keep_whitespace(text) {
                if is_url(piece) {
                    length += url_weight;
                } else if let Some(local) = remote_mention_local_part(piece) {
                    length += local.chars().count();
                } else {
                    length += piece.chars().count();
                }
            }
            length
        }
    }
}

/// Words and the whitespace between them, in order, so that lengths add up exactly.
fn split_keep_whitespace(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut in_space = None;
    for (index, c) in text.char_indices() {
        let space = c.is_whitespace();
        match in_space {
            Some(previous) if previous != space => {
                pieces.push(&text[start..index]);
                start = index;
            }
            _ => {}
        }
        in_space = Some(space);
    }
    if start < text.len() {
        pieces.push(&text[start..]);
    }
    pieces
}

fn is_url(word: &str) -> bool {
    let lower = word.to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://")) && word.len() > 8
}

/// `@user@host` (possibly followed by punctuation) → `@user`.
fn remote_mention_local_part(word: &str) -> Option<&str> {
    let rest = word.strip_prefix('@')?;
    let at = rest.find('@')?;
    let host = &rest[at + 1..];
    if at == 0 || host.is_empty() || !host.contains('.') {
        return None;
    }
    Some(&word[..at + 1])
}

/// The `@…` words of a text, trailing punctuation trimmed.
pub fn mentions(text: &str) -> Vec<&str> {
    text.split_whitespace()
        .filter(|word| word.starts_with('@') && word.len() > 1)
        .map(|word| word.trim_end_matches(['.', ',', '!', '?', ':', ';', ')']))
        .collect()
}

/// The `http(s)://` links of a text, trailing punctuation trimmed.
pub fn links(text: &str) -> Vec<&str> {
    text.split_whitespace()
        .filter(|word| is_url(word))
        .map(|word| word.trim_end_matches(['.', ',', '!', '?', ':', ';', ')']))
        .collect()
}

/// Every rule of `network` the variant breaks; empty when it may be published.
pub fn check_variant_rules(
    network: Network,
    account_label: &str,
    text: &str,
    media_count: usize,
) -> Vec<RuleViolation> {
    let rules = network.rules();
    let account = account_label.to_string();
    let mut violations = Vec::new();
    if text.trim().is_empty() && media_count == 0 {
        violations.push(RuleViolation::Empty {
            network,
            account: account.clone(),
        });
    }
    let length = measured_length(network, text);
    if length > rules.max_length {
        violations.push(RuleViolation::TooLong {
            network,
            account: account.clone(),
            length,
            max: rules.max_length,
            unit: match rules.length {
                LengthRule::Graphemes => "graphemes".into(),
                LengthRule::Characters { .. } => "characters".into(),
            },
        });
    }
    if media_count > rules.max_media {
        violations.push(RuleViolation::TooManyMedia {
            network,
            account: account.clone(),
            count: media_count,
            max: rules.max_media,
        });
    }
    for mention in mentions(text) {
        let handle = &mention[1..];
        let well_formed = match network {
            // `@user` (same server) or `@user@host`.
            Network::Mastodon => {
                let mut parts = handle.split('@');
                let user = parts.next().unwrap_or("");
                let host = parts.next();
                parts.next().is_none()
                    && !user.is_empty()
                    && user.chars().all(|c| c.is_alphanumeric() || c == '_')
                    && host.is_none_or(|h| h.contains('.') && !h.starts_with('.'))
            }
            // A handle is a domain name: `@name.bsky.social`.
            Network::Bluesky => {
                !handle.contains('@')
                    && handle.contains('.')
                    && !handle.starts_with('.')
                    && !handle.ends_with('.')
                    && handle
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            }
        };
        if !well_formed {
            violations.push(RuleViolation::BadMention {
                network,
                account: account.clone(),
                mention: mention.to_string(),
                form: rules.mention_form.to_string(),
            });
        }
    }
    violations
}

// ---------------------------------------------------------------------------------------------
// Accounts
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AccountId(pub i64);

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    /// Posts may be scheduled.
    Active,
    /// Kept, but nothing is scheduled on it.
    Paused,
    /// Its credentials failed the last check.
    Disconnected,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Paused => "paused",
            AccountStatus::Disconnected => "disconnected",
        }
    }
}

impl FromStr for AccountStatus {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "active" => Ok(AccountStatus::Active),
            "paused" => Ok(AccountStatus::Paused),
            "disconnected" => Ok(AccountStatus::Disconnected),
            other => Err(format!(
                "unknown account status {other:?}: expected active, paused or disconnected"
            )),
        }
    }
}

/// An official account of the company on a network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: AccountId,
    pub network: Network,
    /// A short name people use for it ("shop-en").
    pub name: String,
    /// `@shop@social.example` on Mastodon, `shop.bsky.social` on Bluesky.
    pub handle: String,
    /// Mastodon server or Bluesky PDS, e.g. `https://social.example`.
    pub server_url: String,
    /// The user name of the person who answers for it.
    pub owner: String,
    pub purpose: String,
    /// ISO 639-1 codes of the audience.
    pub languages: Vec<String>,
    pub status: AccountStatus,
    pub last_check_at: Option<DateTime<Utc>>,
    /// The last check's error; `None` after a successful check.
    pub last_error: Option<String>,
    pub posts_per_day: u32,
    /// Teams that approve its posts, in order; empty means one review by anyone (agent or
    /// above) other than the author.
    pub approval_steps: Vec<String>,
    pub created_at: DateTime<Utc>,
}

impl Account {
    /// The associated data its credentials are sealed under (see `earshot-vault`): the
    /// network identity, which never changes for an account.
    pub fn identity(&self) -> String {
        account_identity(self.network, &self.handle, &self.server_url)
    }

    /// The approval steps the account's posts go through (see [`Account::approval_steps`]).
    pub fn effective_steps(&self) -> Vec<String> {
        if self.approval_steps.is_empty() {
            vec![ANY_REVIEWER_STEP.to_string()]
        } else {
            self.approval_steps.clone()
        }
    }

    /// `name (@handle)` for messages.
    pub fn label(&self) -> String {
        format!("{} ({})", self.name, self.handle)
    }
}

/// The step an account without configured steps needs: one approval by anyone but the author.
pub const ANY_REVIEWER_STEP: &str = "review";

/// See [`Account::identity`].
pub fn account_identity(network: Network, handle: &str, server_url: &str) -> String {
    format!(
        "account {network}:{handle}@{}",
        server_url.trim_end_matches('/')
    )
}

/// What `PublishingStore::create_account` takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccount {
    pub network: Network,
    pub name: String,
    pub handle: String,
    pub server_url: String,
    pub owner: String,
    pub purpose: String,
    pub languages: Vec<String>,
    pub posts_per_day: u32,
    pub approval_steps: Vec<String>,
    /// Sealed with `earshot_vault::Vault::seal(&identity, ...)`.
    pub sealed_credentials: Vec<u8>,
}

impl NewAccount {
    pub fn identity(&self) -> String {
        account_identity(self.network, &self.handle, &self.server_url)
    }
}

/// The secrets that let Earshot act as an account; only ever stored sealed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "network", rename_all = "lowercase")]
pub enum AccountCredentials {
    /// An access token with `read:accounts` and `write:statuses`.
    Mastodon { access_token: String },
    /// A handle or DID and an app password.
    Bluesky {
        identifier: String,
        app_password: String,
    },
}

impl fmt::Debug for AccountCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccountCredentials::Mastodon { .. } => f.write_str("Mastodon { access_token: .. }"),
            AccountCredentials::Bluesky { identifier, .. } => {
                write!(
                    f,
                    "Bluesky {{ identifier: {identifier:?}, app_password: .. }}"
                )
            }
        }
    }
}

impl AccountCredentials {
    pub fn network(&self) -> Network {
        match self {
            AccountCredentials::Mastodon { .. } => Network::Mastodon,
            AccountCredentials::Bluesky { .. } => Network::Bluesky,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Posts
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PostId(pub i64);

impl fmt::Display for PostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct VariantId(pub i64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostState {
    Draft,
    InReview,
    Approved,
    Scheduled,
    Published,
    Failed,
}

impl PostState {
    pub const ALL: [PostState; 6] = [
        PostState::Draft,
        PostState::InReview,
        PostState::Approved,
        PostState::Scheduled,
        PostState::Published,
        PostState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PostState::Draft => "draft",
            PostState::InReview => "in_review",
            PostState::Approved => "approved",
            PostState::Scheduled => "scheduled",
            PostState::Published => "published",
            PostState::Failed => "failed",
        }
    }
}

impl fmt::Display for PostState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PostState {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        PostState::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| {
                format!("unknown post state {text:?}: expected draft, in_review, approved, scheduled, published or failed")
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VariantState {
    Pending,
    Published,
    Failed,
}

impl VariantState {
    pub fn as_str(self) -> &'static str {
        match self {
            VariantState::Pending => "pending",
            VariantState::Published => "published",
            VariantState::Failed => "failed",
        }
    }
}

/// The text of a post for one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    pub id: VariantId,
    pub post: PostId,
    pub account: AccountId,
    pub text: String,
    /// Media by URL or file name (metadata only; the worker uploads them).
    pub media: Vec<String>,
    pub state: VariantState,
    /// The network's id and link once published.
    pub remote_id: Option<String>,
    pub url: Option<String>,
    pub error: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
}

/// A variant as written in the editor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariantDraft {
    pub account: AccountId,
    pub text: String,
    #[serde(default)]
    pub media: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Post {
    pub id: PostId,
    /// An internal title for lists and the calendar.
    pub title: String,
    pub author: String,
    pub state: PostState,
    pub scheduled_at: Option<DateTime<Utc>>,
    /// Counts edits; an approval is valid for the revision it was given on.
    pub revision: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub variants: Vec<Variant>,
}

/// One approval of one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostApproval {
    pub step: String,
    pub approver: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostEventKind {
    Created,
    Edited,
    Submitted,
    Approved,
    Rejected,
    Withdrawn,
    Scheduled,
    Unscheduled,
    VariantPublished,
    VariantFailed,
    Published,
    Failed,
}

impl PostEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PostEventKind::Created => "created",
            PostEventKind::Edited => "edited",
            PostEventKind::Submitted => "submitted",
            PostEventKind::Approved => "approved",
            PostEventKind::Rejected => "rejected",
            PostEventKind::Withdrawn => "withdrawn",
            PostEventKind::Scheduled => "scheduled",
            PostEventKind::Unscheduled => "unscheduled",
            PostEventKind::VariantPublished => "variant_published",
            PostEventKind::VariantFailed => "variant_failed",
            PostEventKind::Published => "published",
            PostEventKind::Failed => "failed",
        }
    }
}

impl FromStr for PostEventKind {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        use PostEventKind::*;
        [
            Created,
            Edited,
            Submitted,
            Approved,
            Rejected,
            Withdrawn,
            Scheduled,
            Unscheduled,
            VariantPublished,
            VariantFailed,
            Published,
            Failed,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
        .ok_or_else(|| format!("unknown post event {text:?}"))
    }
}

/// One line of a post's history: who did what, when, from which state to which.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostEvent {
    pub id: i64,
    pub post: PostId,
    pub actor: String,
    pub at: DateTime<Utc>,
    pub kind: PostEventKind,
    pub from: PostState,
    pub to: PostState,
    pub comment: Option<String>,
}

/// A post with its approvals (of the current revision) and full history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostDetail {
    pub post: Post,
    /// The steps its accounts require, in order.
    pub steps: Vec<String>,
    pub approvals: Vec<PostApproval>,
    pub history: Vec<PostEvent>,
}

impl PostDetail {
    /// The step waiting for an approval, if any.
    pub fn next_step(&self) -> Option<&str> {
        self.steps.get(self.approvals.len()).map(String::as_str)
    }
}

/// The approval steps of a post: its accounts' steps, in order, each step once.
pub fn required_steps<'a>(accounts: impl IntoIterator<Item = &'a Account>) -> Vec<String> {
    let mut steps: Vec<String> = Vec::new();
    for account in accounts {
        for step in account.effective_steps() {
            if !steps.contains(&step) {
                steps.push(step);
            }
        }
    }
    steps
}

// ---------------------------------------------------------------------------------------------
// The workflow: every transition validated here, by the store inside its transaction.
// ---------------------------------------------------------------------------------------------

/// Who acts, with the facts the rules need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub name: String,
    pub role: Role,
    /// Teams in which the actor is a member or the manager.
    pub teams: Vec<String>,
}

impl Actor {
    pub fn new(name: impl Into<String>, role: Role, teams: Vec<String>) -> Actor {
        Actor {
            name: name.into(),
            role,
            teams,
        }
    }

    /// The actor as configured in `[[team]]`: teams they are a member or the manager of.
    pub fn from_teams(
        name: impl Into<String>,
        role: Role,
        teams: &[crate::routing::TeamConfig],
    ) -> Actor {
        let name = name.into();
        let member_of = teams
            .iter()
            .filter(|t| t.members.contains(&name) || t.manager.as_deref() == Some(name.as_str()))
            .map(|t| t.name.clone())
            .collect();
        Actor {
            name,
            role,
            teams: member_of,
        }
    }

    fn may_act_for_author(&self, author: &str) -> bool {
        self.name == author || self.role >= Role::Manager
    }
}

/// A change asked of a post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostAction {
    /// The text, media or accounts changed.
    Edit,
    Submit,
    Approve,
    Reject {
        comment: String,
    },
    /// Back to draft by the author (or a manager).
    Withdraw,
    Schedule {
        at: DateTime<Utc>,
    },
    Unschedule,
}

/// Why a transition was refused; the message says what would make it possible.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum WorkflowError {
    #[error("a {state} post cannot be {action}")]
    WrongState { state: PostState, action: String },
    #[error("{actor} wrote this post and cannot approve it; another reviewer must")]
    OwnPost { actor: String },
    #[error("the next step is {step:?}; {actor} is not a member or the manager of that team")]
    NotInStep { actor: String, step: String },
    #[error("{actor} needs the agent role or above to review posts")]
    RoleTooLow { actor: String },
    #[error("only the author or a manager may {action} this post")]
    NotAuthor { action: String },
    #[error("a rejection needs a comment saying what to change")]
    NoComment,
    #[error("not every approval step is done: waiting for {missing:?}")]
    StepsMissing { missing: Vec<String> },
    #[error("the post has no variants: add at least one account's text")]
    NoVariants,
}

/// What a transition does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub kind: PostEventKind,
    pub to: PostState,
    /// The step this action approves.
    pub approves: Option<String>,
    /// Approvals given so far no longer count (an edit).
    pub clears_approvals: bool,
}

/// The facts of a post the workflow looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowState<'a> {
    pub state: PostState,
    pub author: &'a str,
    pub steps: &'a [String],
    /// Approved steps of the current revision, in order.
    pub approved: &'a [String],
    pub variant_count: usize,
}

impl WorkflowState<'_> {
    fn next_step(&self) -> Option<&str> {
        self.steps.get(self.approved.len()).map(String::as_str)
    }

    fn reviewer_check(&self, actor: &Actor) -> Result<String, WorkflowError> {
        if actor.name == self.author {
            return Err(WorkflowError::OwnPost {
                actor: actor.name.clone(),
            });
        }
        if actor.role < Role::Agent {
            return Err(WorkflowError::RoleTooLow {
                actor: actor.name.clone(),
            });
        }
        let step = self.next_step().ok_or_else(|| WorkflowError::WrongState {
            state: self.state,
            action: "approved again (every step is approved)".into(),
        })?;
        if step != ANY_REVIEWER_STEP && !actor.teams.iter().any(|t| t == step) {
            return Err(WorkflowError::NotInStep {
                actor: actor.name.clone(),
                step: step.to_string(),
            });
        }
        Ok(step.to_string())
    }

    /// Whether `actor` may do `action` now, and what it does.
    pub fn apply(&self, actor: &Actor, action: &PostAction) -> Result<Transition, WorkflowError> {
        use PostState::*;
        let wrong = |action: &str| WorkflowError::WrongState {
            state: self.state,
            action: action.to_string(),
        };
        match action {
            PostAction::Edit => {
                if !actor.may_act_for_author(self.author) {
                    return Err(WorkflowError::NotAuthor {
                        action: "edit".into(),
                    });
                }
                let to = match self.state {
                    Draft => Draft,
                    // Whatever was approved was another text: review starts over.
                    InReview | Approved | Scheduled => InReview,
                    Published | Failed => return Err(wrong("edited")),
                };
                Ok(Transition {
                    kind: PostEventKind::Edited,
                    to,
                    approves: None,
                    clears_approvals: true,
                })
            }
            PostAction::Submit => {
                if self.state != Draft {
                    return Err(wrong("submitted"));
                }
                if !actor.may_act_for_author(self.author) {
                    return Err(WorkflowError::NotAuthor {
                        action: "submit".into(),
                    });
                }
                if self.variant_count == 0 {
                    return Err(WorkflowError::NoVariants);
                }
                Ok(Transition {
                    kind: PostEventKind::Submitted,
                    to: InReview,
                    approves: None,
                    clears_approvals: true,
                })
            }
            PostAction::Approve => {
                if self.state != InReview {
                    return Err(wrong("approved"));
                }
                let step = self.reviewer_check(actor)?;
                let last = self.approved.len() + 1 == self.steps.len();
                Ok(Transition {
                    kind: PostEventKind::Approved,
                    to: if last { Approved } else { InReview },
                    approves: Some(step),
                    clears_approvals: false,
                })
            }
            PostAction::Reject { comment } => {
                if self.state != InReview {
                    return Err(wrong("rejected"));
                }
                if comment.trim().is_empty() {
                    return Err(WorkflowError::NoComment);
                }
                // The reviewer of the step at hand, or a manager (not the author: they withdraw).
                if actor.role < Role::Manager || actor.name == self.author {
                    self.reviewer_check(actor)?;
                }
                Ok(Transition {
                    kind: PostEventKind::Rejected,
                    to: Draft,
                    approves: None,
                    clears_approvals: true,
                })
            }
            PostAction::Withdraw => {
                if !matches!(self.state, InReview | Approved | Scheduled | Failed) {
                    return Err(wrong("withdrawn to draft"));
                }
                if !actor.may_act_for_author(self.author) {
                    return Err(WorkflowError::NotAuthor {
                        action: "withdraw".into(),
                    });
                }
                Ok(Transition {
                    kind: PostEventKind::Withdrawn,
                    to: Draft,
                    approves: None,
                    clears_approvals: true,
                })
            }
            PostAction::Schedule { .. } => {
                if self.state != Approved {
                    return Err(wrong("scheduled"));
                }
                if !actor.may_act_for_author(self.author) {
                    return Err(WorkflowError::NotAuthor {
                        action: "schedule".into(),
                    });
                }
                if self.approved.len() < self.steps.len() || self.steps.is_empty() {
                    return Err(WorkflowError::StepsMissing {
                        missing: self.steps[self.approved.len().min(self.steps.len())..].to_vec(),
                    });
                }
                Ok(Transition {
                    kind: PostEventKind::Scheduled,
                    to: Scheduled,
                    approves: None,
                    clears_approvals: false,
                })
            }
            PostAction::Unschedule => {
                if self.state != Scheduled {
                    return Err(wrong("unscheduled"));
                }
                if !actor.may_act_for_author(self.author) {
                    return Err(WorkflowError::NotAuthor {
                        action: "unschedule".into(),
                    });
                }
                Ok(Transition {
                    kind: PostEventKind::Unscheduled,
                    to: Approved,
                    approves: None,
                    clears_approvals: false,
                })
            }
        }
    }
}

/// `[publishing]` in earshot.toml.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PublishingConfig {
    /// Words and phrases no post may contain (matched folded: case and accents ignored).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub banned_terms: Vec<String>,
    /// Cue words of promotional text (`sale`, `discount`, ...); the defaults when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub promo_words: Vec<String>,
    /// The company's own domains (links to them are "our links").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub own_domains: Vec<String>,
    /// IANA time zone the pages show and take publishing times in (default UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(default)]
    pub checks: ChecksPolicy,
}

/// Block or warn, per check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckMode {
    Block,
    Warn,
    Off,
}

/// `[publishing.checks]`: what each failed check does, and its thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChecksPolicy {
    #[serde(default = "block")]
    pub policy: CheckMode,
    #[serde(default = "warn")]
    pub language: CheckMode,
    #[serde(default = "warn")]
    pub self_promotion: CheckMode,
    #[serde(default = "warn")]
    pub automation: CheckMode,
    #[serde(default = "warn")]
    pub tracking: CheckMode,
    /// Offensive model score at or above which the policy check fails.
    #[serde(default = "default_offensive_threshold")]
    pub offensive_threshold: f32,
    /// Share (0..1) of promotional posts among the recent ones above which self-promotion fails.
    #[serde(default = "default_promo_share")]
    pub self_promotion_share: f32,
    /// How many recent posts of the account the share is taken over.
    #[serde(default = "default_recent_posts")]
    pub recent_posts: u32,
}

fn block() -> CheckMode {
    CheckMode::Block
}
fn warn() -> CheckMode {
    CheckMode::Warn
}
fn default_offensive_threshold() -> f32 {
    0.8
}
fn default_promo_share() -> f32 {
    0.5
}
fn default_recent_posts() -> u32 {
    10
}

impl Default for ChecksPolicy {
    fn default() -> Self {
        ChecksPolicy {
            policy: CheckMode::Block,
            language: CheckMode::Warn,
            self_promotion: CheckMode::Warn,
            automation: CheckMode::Warn,
            tracking: CheckMode::Warn,
            offensive_threshold: default_offensive_threshold(),
            self_promotion_share: default_promo_share(),
            recent_posts: default_recent_posts(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mastodon_counts_links_as_23_and_remote_mentions_by_their_user() {
        let url = format!("https://example.com/{}", "a".repeat(100));
        assert_eq!(measured_length(Network::Mastodon, &url), 23);
        assert_eq!(
            measured_length(Network::Mastodon, "hi @anna@social.example"),
            8
        );
        assert_eq!(measured_length(Network::Mastodon, "héllo wörld"), 11);
    }

    #[test]
    fn bluesky_counts_graphemes_as_written() {
        // A family emoji is one grapheme of several scalar values.
        assert_eq!(measured_length(Network::Bluesky, "👨‍👩‍👧 ok"), 4);
        let url = "https://example.com/abc";
        assert_eq!(measured_length(Network::Bluesky, url), url.len());
    }

    #[test]
    fn limits_name_the_variant_and_the_limit() {
        let long = "a".repeat(501);
        let violations = check_variant_rules(Network::Mastodon, "shop", &long, 5);
        let messages: Vec<String> = violations.iter().map(|v| v.to_string()).collect();
        assert!(messages[0].contains("501 characters") && messages[0].contains("500"));
        assert!(messages[1].contains("5 media") && messages[1].contains("at most 4"));
        assert!(check_variant_rules(Network::Mastodon, "shop", &"a".repeat(500), 4).is_empty());
        assert!(check_variant_rules(Network::Bluesky, "shop", &"é".repeat(300), 0).is_empty());
        let over = check_variant_rules(Network::Bluesky, "shop", &"é".repeat(301), 0);
        assert!(over[0].to_string().contains("301 graphemes"));
    }

    #[test]
    fn mentions_follow_each_network_form() {
        assert!(
            check_variant_rules(Network::Mastodon, "a", "hi @anna@social.example!", 0).is_empty()
        );
        assert!(check_variant_rules(Network::Bluesky, "a", "hi @anna.bsky.social.", 0).is_empty());
        let wrong = check_variant_rules(Network::Bluesky, "a", "hi @anna@social.example", 0);
        assert!(matches!(wrong[0], RuleViolation::BadMention { .. }));
        assert!(wrong[0].to_string().contains("@handle.domain"));
    }
}
