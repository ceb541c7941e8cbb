//! Every change the inbox pages and API can make, in one place: checks, then the store call
//! (which writes the event in the same transaction). Handlers only translate their input
//! (a form, a JSON body) and their output (a redirect, JSON).

use earshot_core::{
    Conversation, ConversationId, ConversationState, FeedbackItem, Note, Priority, Reply,
    SourceKind, Stamp,
};
use earshot_store::{InboxError, StoreError};

use super::{now, Actor};
use crate::error::WebError;
use crate::AppState;

/// From this many identical sent replies on, sending the same text again needs a
/// confirmation: a canned answer repeated unchanged reads as a bot.
pub const REPEAT_WARNING_AT: u64 = 3;

fn stamp(app: &AppState, actor: &Actor) -> Stamp {
    Stamp::new(actor.name.clone(), now(app))
}

/// Store errors as the caller should see them: what they asked for does not exist (404),
/// what they sent is not acceptable (400), or the server failed (500).
pub(crate) fn inbox_error(error: StoreError) -> WebError {
    match error {
        StoreError::Inbox(inbox) => match inbox {
            InboxError::ConversationNotFound(_)
            | InboxError::MentionNotFound(_)
            | InboxError::ReplyNotFound(_)
            | InboxError::SavedReplyNotFound(_) => WebError::NotFound(inbox.to_string()),
            InboxError::IdempotencyKeyReused { .. }
            | InboxError::ReplyAlreadyFinal(..)
            | InboxError::MentionInOtherConversation { .. }
            | InboxError::SavedReplyNameTaken(_) => WebError::Conflict(inbox.to_string()),
            other => WebError::BadRequest(other.to_string()),
        },
        other => other.into(),
    }
}

pub(crate) async fn conversation(
    app: &AppState,
    id: ConversationId,
) -> Result<Conversation, WebError> {
    app.web
        .store
        .conversation(id)
        .await
        .map_err(inbox_error)?
        .ok_or_else(|| WebError::NotFound(format!("conversation {id} does not exist")))
}

/// `member`: a member's name, `me` for the actor, or nothing to unassign.
pub async fn assign(
    app: &AppState,
    actor: &Actor,
    id: ConversationId,
    member: Option<&str>,
) -> Result<Conversation, WebError> {
    let member = match member.map(str::trim).filter(|m| !m.is_empty()) {
        Some("me") => Some(actor.name.as_str()),
        other => other,
    };
    if !actor.may_assign(member) {
        return Err(WebError::Forbidden(
            "assigning a conversation to someone else needs the manager role; agents assign to themselves"
                .into(),
        ));
    }
    app.web
        .store
        .assign(id, member, &stamp(app, actor))
        .await
        .map_err(inbox_error)
}

pub fn parse_state(raw: &str) -> Result<ConversationState, WebError> {
    raw.parse::<ConversationState>()
        .map_err(|e| super::params::bad("state", e.to_string()))
}

pub fn parse_priority(raw: &str) -> Result<Priority, WebError> {
    raw.parse::<Priority>()
        .map_err(|e| super::params::bad("priority", e.to_string()))
}

/// Move to `state`. Reopening (`reopen`) goes to `assigned` or `new` depending on whether
/// someone owns the conversation, so "unignore" needs no knowledge of the assignee.
pub async fn set_state(
    app: &AppState,
    actor: &Actor,
    id: ConversationId,
    state: &str,
) -> Result<Conversation, WebError> {
    let target = if state.trim().eq_ignore_ascii_case("reopen") {
        let current = conversation(app, id).await?;
        ConversationState::reopened(current.assignee.is_some())
    } else {
        parse_state(state)?
    };
    app.web
        .store
        .set_state(id, target, &stamp(app, actor))
        .await
        .map_err(inbox_error)
}

pub async fn set_priority(
    app: &AppState,
    actor: &Actor,
    id: ConversationId,
    priority: &str,
) -> Result<Conversation, WebError> {
    let priority = parse_priority(priority)?;
    app.web
        .store
        .set_priority(id, priority, &stamp(app, actor))
        .await
        .map_err(inbox_error)
}

/// Add and remove tags; the conversation as it ends up.
pub async fn change_tags(
    app: &AppState,
    actor: &Actor,
    id: ConversationId,
    add: &[String],
    remove: &[String],
) -> Result<Conversation, WebError> {
    let stamp = stamp(app, actor);
    let mut current = conversation(app, id).await?;
    for tag in add.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
        current = app
            .web
            .store
            .add_tag(id, tag, &stamp)
            .await
            .map_err(inbox_error)?;
    }
    for tag in remove.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
        current = app
            .web
            .store
            .remove_tag(id, tag, &stamp)
            .await
            .map_err(inbox_error)?;
    }
    Ok(current)
}

pub async fn add_note(
    app: &AppState,
    actor: &Actor,
    id: ConversationId,
    body: &str,
) -> Result<Note, WebError> {
    app.web
        .store
        .add_note(id, body, &stamp(app, actor))
        .await
        .map_err(inbox_error)
}

/// The network a conversation's replies go out on, when Earshot can post there.
pub fn publishing_kind(app: &AppState, conversation: &Conversation) -> Option<SourceKind> {
    let config = app.web.config();
    config
        .sources
        .iter()
        .find(|s| s.name == conversation.source)
        .map(|s| s.kind)
        .filter(|kind| matches!(kind, SourceKind::Mastodon | SourceKind::Bluesky))
}

/// What became of a reply request.
#[derive(Debug)]
pub enum ReplyOutcome {
    Queued(Reply),
    /// Not queued: this exact text already went out `count` times; send again with
    /// `confirm_repeat` to go ahead.
    RepeatWarning {
        count: u64,
    },
}

/// Queue a reply for sending through the conversation's network. The key makes a double
/// submit one reply; the outbox message carries the same key to the network.
pub async fn reply(
    app: &AppState,
    actor: &Actor,
    id: ConversationId,
    body: &str,
    key: &str,
    confirm_repeat: bool,
) -> Result<ReplyOutcome, WebError> {
    let current = conversation(app, id).await?;
    if key.trim().is_empty() {
        return Err(WebError::BadRequest(
            "field `key`: the reply needs an idempotency key (reload the page to get one)".into(),
        ));
    }
    if body.trim().is_empty() {
        return Err(WebError::BadRequest(
            "field `body`: the reply is empty".into(),
        ));
    }
    if publishing_kind(app, &current).is_none() {
        return Err(WebError::BadRequest(format!(
            "source {:?} has no network Earshot can post to; answer there and record it as answered elsewhere",
            current.source
        )));
    }
    // A double submit of a confirmed form carries `confirm_repeat` both times, and an
    // unconfirmed one is refused both times, so the warning never splits one reply in two.
    if !confirm_repeat {
        let count = app
            .web
            .store
            .sent_reply_count(body)
            .await
            .map_err(inbox_error)?;
        if count >= REPEAT_WARNING_AT {
            return Ok(ReplyOutcome::RepeatWarning { count });
        }
    }
    let reply = app
        .web
        .store
        .queue_reply(id, body, key.trim(), &stamp(app, actor))
        .await
        .map_err(inbox_error)?;
    Ok(ReplyOutcome::Queued(reply))
}

/// Record that someone answered outside Earshot, with a link to the answer.
pub async fn answered_elsewhere(
    app: &AppState,
    actor: &Actor,
    id: ConversationId,
    body: &str,
    url: Option<&str>,
    key: &str,
) -> Result<Reply, WebError> {
    let url = url.map(str::trim).filter(|u| !u.is_empty());
    if let Some(url) = url {
        if crate::view::safe_href(url).is_none() {
            return Err(WebError::BadRequest(format!(
                "field `url`: {url:?} is not an http(s) address"
            )));
        }
    }
    if key.trim().is_empty() {
        return Err(WebError::BadRequest(
            "field `key`: missing idempotency key (reload the page to get one)".into(),
        ));
    }
    app.web
        .store
        .record_answered_elsewhere(id, body, url, key.trim(), &stamp(app, actor))
        .await
        .map_err(inbox_error)
}

pub async fn send_to_product(
    app: &AppState,
    actor: &Actor,
    id: ConversationId,
    theme: &str,
    summary: &str,
) -> Result<FeedbackItem, WebError> {
    app.web
        .store
        .send_to_product(id, theme, summary, &stamp(app, actor))
        .await
        .map_err(inbox_error)
}

/// Send a failed reply again: its outbox message goes back to pending, and the reply shows
/// as sent once the worker delivers it.
pub async fn retry_reply(
    app: &AppState,
    id: ConversationId,
    reply: earshot_core::ReplyId,
) -> Result<(), WebError> {
    let found = app
        .web
        .store
        .reply(reply)
        .await
        .map_err(inbox_error)?
        .filter(|r| r.conversation == id)
        .ok_or_else(|| {
            WebError::NotFound(format!("reply {reply} of conversation {id} does not exist"))
        })?;
    let message = app
        .web
        .store
        .outbox_by_dedup_key(&found.idempotency_key)
        .await?
        .ok_or_else(|| {
            WebError::Conflict(format!(
                "reply {reply} has not reached the outbox yet; it is sent on its own shortly"
            ))
        })?;
    if !app.web.store.requeue_failed(message.id, now(app)).await? {
        return Err(WebError::Conflict(format!(
            "reply {reply} is not failed in the outbox (it is {}); nothing to retry",
            message.state
        )));
    }
    Ok(())
}

/// The compiled inbox configuration: the server's live rules when it routes, else compiled
/// from the configuration it loaded.
pub(crate) fn routing_rules(
    app: &AppState,
) -> Result<std::sync::Arc<earshot_engine::inbox::RoutingRules>, WebError> {
    if let Some(live) = &app.web.live_rules {
        return Ok(live.current());
    }
    let config = app.web.config().clone();
    earshot_engine::inbox::RoutingRules::compile(&config)
        .map(std::sync::Arc::new)
        .map_err(|error| WebError::Internal(error.to_string()))
}

/// Move a conversation to `team` (empty or `None`: the shared queue). The deadlines follow
/// `earshot_engine::inbox::deadlines_after_move`: recomputed only when the new team works
/// other hours.
pub async fn set_team(
    app: &AppState,
    actor: &Actor,
    id: ConversationId,
    team: Option<&str>,
) -> Result<Conversation, WebError> {
    let team = team.map(str::trim).filter(|t| !t.is_empty());
    let rules = routing_rules(app)?;
    if let Some(name) = team {
        if rules.team(name).is_none() {
            let known: Vec<&str> = rules.teams().iter().map(|t| t.name.as_str()).collect();
            return Err(super::params::bad(
                "team",
                format!(
                    "there is no team {name:?}; the teams are {}",
                    known.join(", ")
                ),
            ));
        }
    }
    let current = conversation(app, id).await?;
    let deadlines = earshot_engine::inbox::deadlines_after_move(&rules, &current, team);
    app.web
        .store
        .set_team(id, team, deadlines, &stamp(app, actor))
        .await
        .map_err(inbox_error)
}

/// A person's correction of one label of one mention of the conversation: stored for
/// retraining and shown instead of the model's label (with who), and written to the
/// conversation's history.
pub async fn correct_label(
    app: &AppState,
    actor: &Actor,
    id: ConversationId,
    mention: earshot_core::MentionId,
    field: &str,
    label: &str,
    present: bool,
) -> Result<(), WebError> {
    use earshot_core::{CorrectionField, LabelCorrection};
    let current = conversation(app, id).await?;
    let belongs = app
        .web
        .store
        .conversation_for_mention(mention)
        .await
        .map_err(inbox_error)?;
    if belongs != Some(id) {
        return Err(WebError::NotFound(format!(
            "mention {mention} is not part of conversation {id}"
        )));
    }
    let field = CorrectionField::parse(field.trim())
        .map_err(|e| super::params::bad("field", e.to_string()))?;
    let correction = LabelCorrection::new(field, label.trim(), present)
        .map_err(|e| super::params::bad("label", e.to_string()))?;
    let before = app
        .web
        .store
        .get(mention)
        .await?
        .ok_or_else(|| WebError::NotFound(format!("mention {mention} does not exist")))?
        .shown_labels();
    let presence = |present: bool| if present { "present" } else { "absent" }.to_string();
    let (what, from, to) = match field {
        CorrectionField::Sentiment => (
            "sentiment".to_string(),
            before.sentiment,
            correction.label.clone(),
        ),
        CorrectionField::Offensive => (
            "offensive".to_string(),
            before.offensive,
            correction.label.clone(),
        ),
        CorrectionField::Spam => ("spam".to_string(), before.spam, correction.label.clone()),
        CorrectionField::Intent => {
            let had = before.intents.iter().any(|i| i.label == correction.label);
            (
                format!("intent {}", correction.label),
                Some(earshot_core::ShownLabel {
                    label: presence(had),
                    corrected: false,
                }),
                presence(present),
            )
        }
    };
    // The correction itself first: it is what retraining and every page read. The history
    // line follows; should it fail, the label is still corrected and the error is shown.
    if !app
        .web
        .store
        .record_correction(mention, &correction, Some(&actor.name))
        .await?
    {
        return Err(WebError::NotFound(format!(
            "mention {mention} does not exist"
        )));
    }
    let what = if mention == current.root_mention {
        what
    } else {
        format!("{what} (mention {mention})")
    };
    app.web
        .store
        .correct_label(
            id,
            &what,
            from.as_ref().map(|l| l.label.as_str()),
            &to,
            &stamp(app, actor),
        )
        .await
        .map_err(inbox_error)
}
