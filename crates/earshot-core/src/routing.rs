//! The inbox's configuration in `earshot.toml`: teams (`[[team]]`), routing rules
//! (`[[routing.rule]]`) and SLA policies (`[sla]`).
//!
//! These are the file's shapes only; `earshot_engine::inbox::RoutingRules::compile` checks them
//! (time zones, times, durations, keyword queries, team and member names) and turns them into
//! what routing runs on. Every section is optional: a workspace without them gets the defaults
//! below (see docs/INBOX.md).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::inbox::Priority;

/// Open conversations one member may hold before round-robin and least-loaded pass them by.
pub const DEFAULT_CAPACITY: u32 = 25;

/// The teams a workspace has when it configures none.
pub const DEFAULT_TEAMS: [&str; 5] = ["support", "sales", "billing", "product", "marketing"];

/// A team: who is in it, who is escalated to, and when it works.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamConfig {
    pub name: String,
    /// User names of the members who take conversations.
    #[serde(default)]
    pub members: Vec<String>,
    /// User name that overdue conversations are escalated to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager: Option<String>,
    /// Open conversations per member.
    #[serde(default = "default_capacity")]
    pub capacity: u32,
    /// IANA time zone name (`Europe/Athens`) that `hours` are in.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// When the team works; empty means Monday to Friday, 09:00 to 18:00.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hours: Vec<WorkingRangeConfig>,
}

impl TeamConfig {
    /// A team with no members, working the default hours in UTC.
    pub fn new(name: impl Into<String>) -> Self {
        TeamConfig {
            name: name.into(),
            members: Vec::new(),
            manager: None,
            capacity: DEFAULT_CAPACITY,
            timezone: default_timezone(),
            hours: Vec::new(),
        }
    }

    /// The configured hours, or the default working week when none are given.
    pub fn effective_hours(&self) -> Vec<WorkingRangeConfig> {
        if self.hours.is_empty() {
            vec![WorkingRangeConfig::office_week()]
        } else {
            self.hours.clone()
        }
    }
}

fn default_capacity() -> u32 {
    DEFAULT_CAPACITY
}

fn default_timezone() -> String {
    "UTC".into()
}

/// Some days of the week, each from `start` to `end` (local `HH:MM`, `end` may be `24:00`).
/// A shift past midnight is written as two ranges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkingRangeConfig {
    /// `mon`, `tue`, `wed`, `thu`, `fri`, `sat`, `sun`.
    pub days: Vec<String>,
    pub start: String,
    pub end: String,
}

impl WorkingRangeConfig {
    /// Monday to Friday, 09:00 to 18:00.
    pub fn office_week() -> Self {
        WorkingRangeConfig {
            days: ["mon", "tue", "wed", "thu", "fri"]
                .map(String::from)
                .to_vec(),
            start: "09:00".into(),
            end: "18:00".into(),
        }
    }
}

/// `[routing]`: the ordered rules. No rules configured means the default rules.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingConfig {
    #[serde(default, rename = "rule", skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RuleConfig>,
}

/// One routing rule: when every condition in `when` holds, `then` applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleConfig {
    pub name: String,
    #[serde(default)]
    pub when: RuleConditions,
    #[serde(default)]
    pub then: RuleActions,
}

/// Conditions of a rule; every one that is set must hold (an empty `when` matches everything).
/// Lists match when the mention has any of their values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleConditions {
    /// Intent labels (`complaint`, `purchase_intent`, `question`, `feedback`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub intents: Vec<String>,
    /// Sentiment labels (`negative`, `neutral`, `positive`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sentiment: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offensive: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spam: Option<bool>,
    /// ISO 639-1 codes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub languages: Vec<String>,
    /// Configured source names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
    /// Brand names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub brands: Vec<String>,
    /// A query in Earshot's query language, matched against the title and text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keywords: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_followers: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_followers: Option<u64>,
}

/// What a matching rule does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleActions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// `round_robin`, `least_loaded`, or a member's user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assign: Option<AssignStrategy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    /// Tags added to the conversation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Open the conversation in state `ignored`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ignore: bool,
    /// Whether later rules are still looked at once this one matched. Unset: a rule that sets
    /// a team or ignores stops, a rule that only tags or sets a priority lets later rules run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<bool>,
}

impl RuleActions {
    /// Whether matching this rule ends the evaluation (see [`RuleActions::stop`]).
    pub fn stops(&self) -> bool {
        self.stop.unwrap_or(self.team.is_some() || self.ignore)
    }
}

/// How a rule picks the member within its team.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AssignStrategy {
    /// The next member on shift and under capacity, in turn.
    RoundRobin,
    /// The member on shift with the fewest open conversations.
    LeastLoaded,
    /// This member, whether on shift or not.
    Member(String),
}

impl std::fmt::Display for AssignStrategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AssignStrategy::RoundRobin => f.write_str("round_robin"),
            AssignStrategy::LeastLoaded => f.write_str("least_loaded"),
            AssignStrategy::Member(name) => f.write_str(name),
        }
    }
}

impl Serialize for AssignStrategy {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AssignStrategy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(match text.as_str() {
            "round_robin" => AssignStrategy::RoundRobin,
            "least_loaded" => AssignStrategy::LeastLoaded,
            _ => AssignStrategy::Member(text),
        })
    }
}

/// `[sla]`: response and resolution times per priority, counted in the team's working hours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaConfig {
    #[serde(default = "SlaPolicyConfig::urgent")]
    pub urgent: SlaPolicyConfig,
    #[serde(default = "SlaPolicyConfig::high")]
    pub high: SlaPolicyConfig,
    #[serde(default = "SlaPolicyConfig::normal")]
    pub normal: SlaPolicyConfig,
    #[serde(default = "SlaPolicyConfig::low")]
    pub low: SlaPolicyConfig,
}

impl Default for SlaConfig {
    fn default() -> Self {
        SlaConfig {
            urgent: SlaPolicyConfig::urgent(),
            high: SlaPolicyConfig::high(),
            normal: SlaPolicyConfig::normal(),
            low: SlaPolicyConfig::low(),
        }
    }
}

impl SlaConfig {
    pub fn policy(&self, priority: Priority) -> &SlaPolicyConfig {
        match priority {
            Priority::Urgent => &self.urgent,
            Priority::High => &self.high,
            Priority::Normal => &self.normal,
            Priority::Low => &self.low,
        }
    }
}

/// Durations of working time such as `"1h"`, `"30m"`, `"1h30m"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaPolicyConfig {
    pub first_response: String,
    pub resolution: String,
}

impl SlaPolicyConfig {
    fn hours(first_response: u32, resolution: u32) -> Self {
        SlaPolicyConfig {
            first_response: format!("{first_response}h"),
            resolution: format!("{resolution}h"),
        }
    }
    fn urgent() -> Self {
        Self::hours(1, 8)
    }
    fn high() -> Self {
        Self::hours(4, 24)
    }
    fn normal() -> Self {
        Self::hours(8, 72)
    }
    fn low() -> Self {
        Self::hours(24, 120)
    }
}

/// The words that send a mention to billing when no rules are configured (English, Russian,
/// Greek; stems and prefixes catch the inflections).
pub const DEFAULT_BILLING_KEYWORDS: &str = "invoice OR refund* OR charged OR overcharged OR \
     \"double charge\" OR billing OR bill OR payment OR \
     счёт OR счета OR возврат* OR списали OR списание OR оплата OR \
     τιμολόγιο OR τιμολογιο OR \"επιστροφή χρημάτων\" OR χρέωση";

/// The rules a workspace has when it configures none, in order. A rule whose team is not
/// configured is left out (see docs/INBOX.md).
pub fn default_rules() -> Vec<RuleConfig> {
    fn rule(name: &str, when: RuleConditions, team: Option<&str>, ignore: bool) -> RuleConfig {
        RuleConfig {
            name: name.into(),
            when,
            then: RuleActions {
                team: team.map(String::from),
                ignore,
                ..RuleActions::default()
            },
        }
    }
    fn intent(name: &str) -> RuleConditions {
        RuleConditions {
            intents: vec![name.into()],
            ..RuleConditions::default()
        }
    }
    vec![
        rule(
            "spam",
            RuleConditions {
                spam: Some(true),
                ..RuleConditions::default()
            },
            None,
            true,
        ),
        // Before complaints: "you charged me twice" is a complaint that billing can fix.
        rule(
            "billing words",
            RuleConditions {
                keywords: Some(DEFAULT_BILLING_KEYWORDS.into()),
                ..RuleConditions::default()
            },
            Some("billing"),
            false,
        ),
        rule("complaint", intent("complaint"), Some("support"), false),
        rule(
            "purchase intent",
            intent("purchase_intent"),
            Some("sales"),
            false,
        ),
        rule("feedback", intent("feedback"), Some("product"), false),
        rule("question", intent("question"), Some("support"), false),
        rule(
            "everything else",
            RuleConditions::default(),
            Some("marketing"),
            false,
        ),
    ]
}

/// The default teams, each with no members.
pub fn default_teams() -> Vec<TeamConfig> {
    DEFAULT_TEAMS
        .iter()
        .map(|name| TeamConfig::new(*name))
        .collect()
}
