//! The inbox's logic: routing rules, priority, working hours and SLA deadlines, assignment,
//! threading, the ingest hook that opens conversations, and the SLA checker.
//! docs/INBOX.md describes the semantics.

pub mod assign;
pub mod escalate;
pub mod hours;
pub mod live;
pub mod priority;
pub mod router;
pub mod rules;
pub mod sla;
pub mod team_move;

pub use assign::Assigner;
pub use escalate::{
    enqueue_escalation, escalation_email, EmailRecipient, EscalationFanOut, EscalationSettings,
};
pub use hours::{parse_duration, HoursError, WorkingHours};
pub use live::LiveRules;
pub use priority::{decide_priority, score_priority, PriorityScore};
pub use router::{
    check_sla, run_sla_checker, Clock, InboxReport, InboxRouter, RouteItem, SignalSource,
};
pub use rules::{
    analyze_for_routing, rules_in_force, InboxConfigError, RoutingDecision, RoutingInput,
    RoutingRules, RoutingSignals, Signal, Team,
};
pub use sla::{due_at, due_escalations, is_overdue, Deadlines, Escalation, SlaPolicies, SlaPolicy};
pub use team_move::deadlines_after_move;
