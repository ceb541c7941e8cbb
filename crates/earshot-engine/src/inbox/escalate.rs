//! Sending SLA escalations: each breach [`super::check_sla`] reports becomes outbox messages,
//! a webhook (when `[outbox.webhook]` is set) and an e-mail to the team's manager (when
//! `[outbox.smtp]` is set) or, when the manager has no e-mail address, to
//! `[outbox] escalation_email`. The outbox delivers and retries them; dedup keys make a breach
//! go out once whatever the number of checks that see it.

use chrono::{DateTime, Duration, Utc};
use earshot_core::{
    Config, EmailAddress, EmailPayload, NewOutboxMessage, SlaClock, WebhookPayload,
};
use earshot_store::{Store, StoreResult};

use super::sla::Escalation;

/// What the escalation fan-out needs from earshot.toml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationSettings {
    /// `[outbox.webhook]` is configured.
    pub webhook: bool,
    /// `[outbox.smtp]` is configured (without it no e-mail is queued: it could not be sent).
    pub email: bool,
    /// `[outbox] escalation_email`: where the e-mail goes when the manager has no address.
    pub fallback_email: Option<EmailAddress>,
    /// Links in the e-mail start here ([`earshot_core::ServerConfig::base_url`]).
    pub base_url: String,
}

impl EscalationSettings {
    pub fn from_config(config: &Config) -> EscalationSettings {
        EscalationSettings {
            webhook: config.outbox.webhook.is_some(),
            email: config.outbox.smtp.is_some(),
            fallback_email: config.outbox.escalation_email.clone(),
            base_url: config.server.base_url(),
        }
    }
}

/// Who the escalation e-mail went to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailRecipient {
    /// The team's manager, at their address.
    Manager(EmailAddress),
    /// `[outbox] escalation_email`, because the manager has no address.
    Fallback(EmailAddress),
}

impl EmailRecipient {
    pub fn address(&self) -> &EmailAddress {
        match self {
            EmailRecipient::Manager(address) | EmailRecipient::Fallback(address) => address,
        }
    }
}

/// What [`enqueue_escalation`] queued for one breach.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EscalationFanOut {
    /// The webhook's dedup key, when one was queued (or already queued before).
    pub webhook: Option<String>,
    /// The e-mail's recipient and dedup key, when one was queued (or already queued before).
    pub email: Option<(EmailRecipient, String)>,
    /// Why no e-mail was queued, in words for the log; `None` when one was.
    pub no_email: Option<String>,
}

/// The webhook's dedup key: one per conversation and clock.
pub fn webhook_key(escalation: &Escalation) -> String {
    format!(
        "sla-escalation:{}:{}",
        escalation.conversation, escalation.kind
    )
}

/// The e-mail's dedup key: one per conversation, clock and recipient, so a breach is mailed
/// once to each address it was ever meant for.
pub fn email_key(escalation: &Escalation, to: &EmailAddress) -> String {
    format!(
        "sla-escalation-email:{}:{}:{}",
        escalation.conversation, escalation.kind, to
    )
}

/// "2 h 30 min", "3 d 4 h", "45 min", "under a minute".
pub fn describe_lateness(late: Duration) -> String {
    let minutes = late.num_minutes();
    if minutes < 1 {
        return "under a minute".into();
    }
    let (days, hours, mins) = (minutes / 1_440, minutes % 1_440 / 60, minutes % 60);
    match (days, hours, mins) {
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

/// The e-mail for one breach: which conversation, which clock ran out and by how long at
/// `now`, the team and its assignee, and the link to the conversation.
pub fn escalation_email(
    escalation: &Escalation,
    recipient: &EmailRecipient,
    base_url: &str,
    now: DateTime<Utc>,
) -> EmailPayload {
    let team = escalation.team.as_deref().unwrap_or("unrouted");
    let late = describe_lateness(now - escalation.due_at);
    let clock = match escalation.kind {
        SlaClock::FirstResponse => "first response",
        SlaClock::Resolution => "resolution",
    };
    let holder = escalation
        .assignee
        .as_deref()
        .unwrap_or("nobody (unassigned)");
    let link = format!(
        "{}/inbox/{}",
        base_url.trim_end_matches('/'),
        escalation.conversation
    );
    let why = match (recipient, &escalation.manager) {
        (EmailRecipient::Manager(_), _) => {
            format!("You receive this because you manage the team {team} in Earshot.")
        }
        (EmailRecipient::Fallback(_), Some(manager)) => format!(
            "Sent to this address ([outbox] escalation_email) because the team's manager \
             {manager} has no e-mail address in Earshot (earshot user set-email {manager} ADDRESS)."
        ),
        (EmailRecipient::Fallback(_), None) => {
            "Sent to this address ([outbox] escalation_email) because the team has no manager."
                .to_string()
        }
    };
    EmailPayload {
        to: vec![recipient.address().to_string()],
        subject: format!(
            "[Earshot] Conversation #{} ({team}): {clock} overdue by {late}",
            escalation.conversation
        ),
        body: format!(
            "{message}\n\n\
             Overdue: {clock}, by {late} (due {due}).\n\
             Team: {team}\n\
             Priority: {priority}\n\
             Assigned to: {holder}\n\n\
             Open the conversation: {link}\n\n\
             {why}\n",
            message = escalation.message(),
            due = escalation.due_at.format("%Y-%m-%d %H:%M UTC"),
            priority = escalation.priority,
        ),
    }
}

/// Queue the outbox messages of one escalation (see the module's description) and say what
/// was queued. Queuing again what is queued already changes nothing (dedup keys). When no
/// e-mail can be sent, the reason is logged (and returned) and the webhook still goes out.
pub async fn enqueue_escalation(
    store: &dyn Store,
    settings: &EscalationSettings,
    escalation: &Escalation,
    now: DateTime<Utc>,
) -> StoreResult<EscalationFanOut> {
    let mut fan_out = EscalationFanOut::default();
    if settings.webhook {
        let key = webhook_key(escalation);
        let payload = WebhookPayload {
            event: "sla.overdue".into(),
            data: serde_json::json!({
                "message": escalation.message(),
                "escalation": escalation,
                "url": format!(
                    "{}/inbox/{}",
                    settings.base_url.trim_end_matches('/'),
                    escalation.conversation
                ),
            }),
        };
        store
            .enqueue(NewOutboxMessage::webhook(key.clone(), &payload), now)
            .await?;
        fan_out.webhook = Some(key);
    }
    let manager_address = match &escalation.manager {
        Some(manager) => store.user_email(manager).await?,
        None => None,
    };
    let recipient = match (manager_address, &settings.fallback_email) {
        (Some(address), _) => Some(EmailRecipient::Manager(address)),
        (None, Some(fallback)) => Some(EmailRecipient::Fallback(fallback.clone())),
        (None, None) => None,
    };
    match (settings.email, recipient) {
        (true, Some(recipient)) => {
            let key = email_key(escalation, recipient.address());
            let payload = escalation_email(escalation, &recipient, &settings.base_url, now);
            store
                .enqueue(NewOutboxMessage::email(key.clone(), &payload), now)
                .await?;
            fan_out.email = Some((recipient, key));
        }
        (false, _) => {
            fan_out.no_email = Some("no [outbox.smtp] server is configured".into());
        }
        (true, None) => {
            let who = match &escalation.manager {
                Some(manager) => format!(
                    "the manager {manager} has no e-mail address (earshot user set-email \
                     {manager} ADDRESS)"
                ),
                None => "the team has no manager".into(),
            };
            fan_out.no_email = Some(format!("{who} and [outbox] escalation_email is not set"));
        }
    }
    if let Some(reason) = &fan_out.no_email {
        tracing::warn!(
            conversation = %escalation.conversation,
            clock = %escalation.kind,
            webhook = fan_out.webhook.is_some(),
            "SLA escalation not e-mailed: {reason}"
        );
    }
    Ok(fan_out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use earshot_core::{ConversationId, Priority};

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn breach() -> Escalation {
        Escalation {
            conversation: ConversationId(12),
            team: Some("support".into()),
            manager: Some("maria".into()),
            kind: SlaClock::FirstResponse,
            due_at: at("2026-03-04T14:00:00Z"),
            priority: Priority::High,
            assignee: Some("anna".into()),
        }
    }

    #[test]
    fn lateness_reads_in_days_hours_and_minutes() {
        assert_eq!(describe_lateness(Duration::seconds(30)), "under a minute");
        assert_eq!(describe_lateness(Duration::minutes(45)), "45 min");
        assert_eq!(describe_lateness(Duration::minutes(120)), "2 h");
        assert_eq!(describe_lateness(Duration::minutes(150)), "2 h 30 min");
        assert_eq!(describe_lateness(Duration::hours(48)), "2 d");
        assert_eq!(
            describe_lateness(Duration::minutes(3 * 1440 + 250)),
            "3 d 4 h"
        );
    }

    #[test]
    fn the_email_names_the_conversation_clock_lateness_team_and_link() {
        let manager = EmailRecipient::Manager(EmailAddress::parse("maria@brand.example").unwrap());
        let email = escalation_email(
            &breach(),
            &manager,
            "https://earshot.brand.example/",
            at("2026-03-04T16:30:00Z"),
        );
        assert_eq!(email.to, ["maria@brand.example"]);
        assert_eq!(
            email.subject,
            "[Earshot] Conversation #12 (support): first response overdue by 2 h 30 min"
        );
        assert!(
            email
                .body
                .contains("Open the conversation: https://earshot.brand.example/inbox/12\n"),
            "{}",
            email.body
        );
        assert!(email.body.contains("Assigned to: anna\n"), "{}", email.body);
        assert!(
            email.body.contains("due 2026-03-04 14:00 UTC"),
            "{}",
            email.body
        );
        assert!(
            email.body.contains("you manage the team support"),
            "{}",
            email.body
        );

        let fallback = EmailRecipient::Fallback(EmailAddress::parse("ops@brand.example").unwrap());
        let email = escalation_email(
            &breach(),
            &fallback,
            "http://127.0.0.1:8080",
            at("2026-03-05T14:00:00Z"),
        );
        assert_eq!(email.to, ["ops@brand.example"]);
        assert!(
            email.subject.ends_with("overdue by 1 d"),
            "{}",
            email.subject
        );
        assert!(
            email.body.contains("manager maria has no e-mail address"),
            "{}",
            email.body
        );
    }

    #[test]
    fn dedup_keys_name_conversation_clock_and_recipient() {
        let to = EmailAddress::parse("maria@brand.example").unwrap();
        assert_eq!(webhook_key(&breach()), "sla-escalation:12:first_response");
        assert_eq!(
            email_key(&breach(), &to),
            "sla-escalation-email:12:first_response:maria@brand.example"
        );
    }
}
