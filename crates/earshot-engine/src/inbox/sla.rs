//! SLA deadlines and the escalations due when they pass.
//!
//! Both clocks start when the conversation opens and count only the team's working hours
//! (an unrouted conversation counts in the default office week, UTC). The first-response clock
//! stops at the first reply sent or answered elsewhere; the resolution clock at resolution.
//! Waiting on the customer does not stop the resolution clock: the deadline is the promise
//! made to the customer, whoever holds the next step.

use chrono::{DateTime, Duration, Utc};
use earshot_core::{Conversation, ConversationId, Priority, SlaClock};
use serde::Serialize;

use super::hours::WorkingHours;
use super::rules::RoutingRules;

/// Working time allowed for one priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaPolicy {
    pub first_response: Duration,
    pub resolution: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaPolicies {
    pub urgent: SlaPolicy,
    pub high: SlaPolicy,
    pub normal: SlaPolicy,
    pub low: SlaPolicy,
}

impl SlaPolicies {
    pub fn policy(&self, priority: Priority) -> SlaPolicy {
        match priority {
            Priority::Urgent => self.urgent,
            Priority::High => self.high,
            Priority::Normal => self.normal,
            Priority::Low => self.low,
        }
    }
}

/// The two deadlines of a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    pub first_response: DateTime<Utc>,
    pub resolution: DateTime<Utc>,
}

/// The moment `duration` of working time has passed after `start` (see
/// [`WorkingHours::due_at`]).
pub fn due_at(start: DateTime<Utc>, duration: Duration, hours: &WorkingHours) -> DateTime<Utc> {
    hours.due_at(start, duration)
}

/// Whether a deadline has passed at `now` (a deadline is met up to and including its moment).
pub fn is_overdue(due: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now > due
}

impl Deadlines {
    pub fn compute(policy: SlaPolicy, opened_at: DateTime<Utc>, hours: &WorkingHours) -> Deadlines {
        Deadlines {
            first_response: due_at(opened_at, policy.first_response, hours),
            resolution: due_at(opened_at, policy.resolution, hours),
        }
    }

    pub fn is_overdue(&self, clock: SlaClock, now: DateTime<Utc>) -> bool {
        match clock {
            SlaClock::FirstResponse => is_overdue(self.first_response, now),
            SlaClock::Resolution => is_overdue(self.resolution, now),
        }
    }
}

impl RoutingRules {
    /// Deadlines of a conversation of `team` (or unrouted) and `priority` opened at `opened_at`.
    pub fn deadlines(
        &self,
        team: Option<&str>,
        priority: Priority,
        opened_at: DateTime<Utc>,
    ) -> Deadlines {
        Deadlines::compute(self.sla().policy(priority), opened_at, self.hours_for(team))
    }
}

/// A missed deadline to tell the team's manager about. Sending (webhook, e-mail) is the
/// outbox's job; this says what to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Escalation {
    pub conversation: ConversationId,
    pub team: Option<String>,
    /// `None` when the team has no manager (or the conversation no team): the breach is still
    /// flagged on the conversation, there is just nobody to escalate to.
    pub manager: Option<String>,
    pub kind: SlaClock,
    pub due_at: DateTime<Utc>,
    pub priority: Priority,
    pub assignee: Option<String>,
}

impl Escalation {
    /// A one-line message for the manager.
    pub fn message(&self) -> String {
        let what = match self.kind {
            SlaClock::FirstResponse => "has had no first response",
            SlaClock::Resolution => "is not resolved",
        };
        let team = self.team.as_deref().unwrap_or("unrouted");
        let holder = match &self.assignee {
            Some(assignee) => format!("assigned to {assignee}"),
            None => "unassigned".to_string(),
        };
        format!(
            "Conversation #{} ({} priority, team {team}, {holder}) {what}; it was due {}.",
            self.conversation,
            self.priority,
            self.due_at.format("%Y-%m-%d %H:%M UTC")
        )
    }
}

/// The escalations due at `now` among `conversations`: open ones past a deadline whose clock
/// has not stopped and that were not flagged before (each breach escalates once).
pub fn due_escalations(
    conversations: &[Conversation],
    rules: &RoutingRules,
    now: DateTime<Utc>,
) -> Vec<Escalation> {
    let mut due = Vec::new();
    for conversation in conversations {
        if !conversation.state.is_open() {
            continue;
        }
        let mut check =
            |kind: SlaClock, deadline: Option<DateTime<Utc>>, stopped: bool, flagged: bool| {
                let Some(deadline) = deadline else { return };
                if stopped || flagged || !is_overdue(deadline, now) {
                    return;
                }
                let manager = conversation
                    .team
                    .as_deref()
                    .and_then(|team| rules.team(team))
                    .and_then(|team| team.manager.clone());
                due.push(Escalation {
                    conversation: conversation.id,
                    team: conversation.team.clone(),
                    manager,
                    kind,
                    due_at: deadline,
                    priority: conversation.priority,
                    assignee: conversation.assignee.clone(),
                });
            };
        check(
            SlaClock::FirstResponse,
            conversation.first_response_due,
            conversation.first_response_at.is_some(),
            conversation.first_response_overdue,
        );
        check(
            SlaClock::Resolution,
            conversation.resolution_due,
            conversation.resolved_at.is_some(),
            conversation.resolution_overdue,
        );
    }
    due
}

#[cfg(test)]
mod tests {
    use super::*;
    use earshot_core::{Config, ConversationState, MentionId, TeamConfig};

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn rules() -> RoutingRules {
        let mut support = TeamConfig::new("support");
        support.manager = Some("maria".into());
        let config = Config {
            teams: vec![support, TeamConfig::new("sales")],
            ..Config::default()
        };
        RoutingRules::compile(&config).unwrap()
    }

    fn conversation(
        id: i64,
        team: &str,
        opened: DateTime<Utc>,
        rules: &RoutingRules,
    ) -> Conversation {
        let deadlines = rules.deadlines(Some(team), Priority::High, opened);
        Conversation {
            id: ConversationId(id),
            state: ConversationState::New,
            priority: Priority::High,
            team: Some(team.into()),
            assignee: None,
            tags: Vec::new(),
            brands: Vec::new(),
            source: "mastodon".into(),
            lang: "en".into(),
            root_mention: MentionId(id),
            mention_count: 1,
            author_handle: None,
            author_name: None,
            author_followers: None,
            first_mention_at: opened,
            last_mention_at: opened,
            routed_by: None,
            routing_reason: None,
            negative: false,
            first_response_due: Some(deadlines.first_response),
            resolution_due: Some(deadlines.resolution),
            first_response_at: None,
            resolved_at: None,
            first_response_overdue: false,
            resolution_overdue: false,
            created_at: opened,
            updated_at: opened,
        }
    }

    #[test]
    fn deadlines_follow_priority_and_team_hours() {
        let rules = rules();
        // High: 4h / 24h of working time. Friday 16:00 UTC → Monday 11:00; 24h → 3 days on.
        let deadlines =
            rules.deadlines(Some("support"), Priority::High, at("2026-03-06T16:00:00Z"));
        assert_eq!(deadlines.first_response, at("2026-03-09T11:00:00Z"));
        assert_eq!(deadlines.resolution, at("2026-03-11T13:00:00Z"));
        assert!(!deadlines.is_overdue(SlaClock::FirstResponse, at("2026-03-09T11:00:00Z")));
        assert!(deadlines.is_overdue(SlaClock::FirstResponse, at("2026-03-09T11:00:01Z")));
        assert!(!deadlines.is_overdue(SlaClock::Resolution, at("2026-03-09T11:00:01Z")));
    }

    #[test]
    fn escalations_are_due_for_running_clocks_past_their_deadline() {
        let rules = rules();
        let opened = at("2026-03-04T10:00:00Z");
        let now = at("2026-03-04T14:30:00Z");
        let late = conversation(1, "support", opened, &rules);
        let mut answered = conversation(2, "support", opened, &rules);
        answered.first_response_at = Some(at("2026-03-04T11:00:00Z"));
        let mut flagged = conversation(3, "support", opened, &rules);
        flagged.first_response_overdue = true;
        let mut resolved = conversation(4, "support", opened, &rules);
        resolved.state = ConversationState::Resolved;
        let mut ignored = conversation(5, "support", opened, &rules);
        ignored.state = ConversationState::Ignored;
        let no_manager = conversation(6, "sales", opened, &rules);
        let on_time = conversation(7, "support", at("2026-03-04T11:00:00Z"), &rules);
        let due = due_escalations(
            &[
                late, answered, flagged, resolved, ignored, no_manager, on_time,
            ],
            &rules,
            now,
        );
        assert_eq!(
            due.iter()
                .map(|e| (e.conversation.0, e.kind, e.manager.as_deref()))
                .collect::<Vec<_>>(),
            [
                (1, SlaClock::FirstResponse, Some("maria")),
                (6, SlaClock::FirstResponse, None),
            ]
        );
        assert_eq!(due[0].due_at, at("2026-03-04T14:00:00Z"));
        assert_eq!(
            due[0].message(),
            "Conversation #1 (high priority, team support, unassigned) has had no first \
             response; it was due 2026-03-04 14:00 UTC."
        );
        // Two working days later the resolution clock has run out too.
        let due = due_escalations(
            &[conversation(1, "support", opened, &rules)],
            &rules,
            at("2026-03-06T16:30:00Z"),
        );
        assert_eq!(due.len(), 2);
        assert_eq!(due[1].kind, SlaClock::Resolution);
        assert_eq!(due[1].due_at, at("2026-03-06T16:00:00Z"));
    }
}
