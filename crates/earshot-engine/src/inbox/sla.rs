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
