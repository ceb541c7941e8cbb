//! Routing rules compiled from `earshot.toml`, and the decision they make for one mention.
//!
//! Semantics (also in docs/INBOX.md):
//! - Rules are looked at in order; a rule matches when every condition it sets holds.
//! - A matching rule adds its tags (all matching rules' tags are kept, in order, each once).
//! - The first matching rule that sets a team decides the team and the assignment; the first
//!   that sets a priority decides the priority; any matching rule with `ignore` ignores.
//! - After a matching rule, evaluation stops when the rule stops: `stop` when given, else a rule
//!   that sets a team or ignores stops and a rule that only tags or sets a priority does not.
//! - No matching rule that sets a team: the conversation is unrouted (the shared queue).

use std::collections::HashSet;

use earshot_core::routing::{default_rules, default_teams};
use earshot_core::{
    AssignStrategy, BrandConfig, Config, Mention, NewMention, Priority, RuleConfig, TeamConfig,
    TeamRecord,
};
use earshot_text::{AnalyzedText, BrandMatcher, Query};

use super::hours::{parse_duration, WorkingHours};
use super::sla::{SlaPolicies, SlaPolicy};

/// Intent labels the analysis produces; a rule naming another is a typo.
pub const KNOWN_INTENTS: [&str; 5] = [
    "complaint",
    "question",
    "praise",
    "purchase_intent",
    "feedback",
];
/// Sentiment labels the analysis produces.
pub const KNOWN_SENTIMENTS: [&str; 3] = ["negative", "neutral", "positive"];
/// A score at or above this makes an intent or offensiveness count as present.
pub const SIGNAL_THRESHOLD: f32 = 0.5;
/// Spam must be clearer: a spam rule usually ignores the mention, hiding it from every queue,
/// and the shipped spam model (trained on SMS and YouTube comments) gives customer complaints
/// such as "my phone stopped charging" scores just above 0.5. An unanswered complaint costs
/// more than a spam message left in the queue.
pub const SPAM_THRESHOLD: f32 = 0.8;

/// A label with its score between 0 and 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    pub label: String,
    pub score: f32,
}

impl Signal {
    pub fn new(label: impl Into<String>, score: f32) -> Self {
        Signal {
            label: label.into(),
            score,
        }
    }
}

/// What the analysis said about a mention, as far as routing and priority need it. `None`
/// means no classifier judged it; such a signal satisfies neither `true` nor `false`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoutingSignals {
    pub intents: Vec<Signal>,
    /// The winning sentiment label (`negative`, `neutral`, `positive`) and its probability.
    pub sentiment: Option<Signal>,
    /// Probability that the text is offensive.
    pub offensive: Option<f32>,
    /// Probability that the text is spam.
    pub spam: Option<f32>,
}

impl RoutingSignals {
    /// The analysis stage's labels as routing sees them: offensive and spam as the
    /// probability of the positive class, whatever label the model chose.
    pub fn from_analysis(analysis: &earshot_core::Analysis) -> Self {
        let probability_of = |scored: &Option<earshot_core::Scored>, positive: &str| {
            scored.as_ref().map(|s| {
                if s.label == positive {
                    s.score
                } else {
                    1.0 - s.score
                }
            })
        };
        RoutingSignals {
            intents: analysis
                .intents
                .iter()
                .map(|i| Signal::new(i.label.clone(), i.score))
                .collect(),
            sentiment: analysis
                .sentiment
                .as_ref()
                .map(|s| Signal::new(s.label.clone(), s.score)),
            offensive: probability_of(&analysis.offensive, "OFF"),
            spam: probability_of(&analysis.spam, "spam"),
        }
    }

    fn intent(&self, label: &str) -> Option<f32> {
        self.intents
            .iter()
            .find(|signal| signal.label == label && signal.score >= SIGNAL_THRESHOLD)
            .map(|signal| signal.score)
    }

    /// The probability of negative sentiment, 0 when the sentiment is not negative.
    pub fn negativity(&self) -> f32 {
        match &self.sentiment {
            Some(signal) if signal.label == "negative" => signal.score.clamp(0.0, 1.0),
            _ => 0.0,
        }
    }

    pub fn is_negative(&self) -> bool {
        self.sentiment
            .as_ref()
            .is_some_and(|signal| signal.label == "negative")
    }
}

/// Everything a rule may look at.
#[derive(Debug, Clone, Copy)]
pub struct RoutingInput<'a> {
    pub signals: &'a RoutingSignals,
    /// ISO 639-1 code or `und`.
    pub lang: &'a str,
    pub source: &'a str,
    pub brands: &'a [String],
    /// The title and text, analyzed (folded and stemmed) for keyword queries.
    pub text: &'a AnalyzedText,
    pub author_followers: Option<u64>,
}

impl<'a> RoutingInput<'a> {
    pub fn for_new_mention(
        mention: &'a NewMention,
        signals: &'a RoutingSignals,
        text: &'a AnalyzedText,
    ) -> Self {
        RoutingInput {
            signals,
            lang: &mention.lang,
            source: &mention.source,
            brands: &mention.brands,
            text,
            author_followers: mention.author.as_ref().and_then(|a| a.followers),
        }
    }

    pub fn for_mention(
        mention: &'a Mention,
        signals: &'a RoutingSignals,
        text: &'a AnalyzedText,
    ) -> Self {
        RoutingInput {
            signals,
            lang: &mention.lang,
            source: &mention.source,
            brands: &mention.brands,
            text,
            author_followers: mention.author.as_ref().and_then(|a| a.followers),
        }
    }
}

/// The title and text as keyword queries see them.
pub fn analyze_for_routing(title: Option<&str>, text: &str) -> AnalyzedText {
    match title {
        Some(title) => AnalyzedText::new(&format!("{title}\n{text}")),
        None => AnalyzedText::new(text),
    }
}

/// What the rules decided for one mention.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoutingDecision {
    pub team: Option<String>,
    /// How to pick the member, from the rule that set the team.
    pub assign: Option<AssignStrategy>,
    /// A rule's explicit priority; `None` leaves it to the computed score.
    pub priority: Option<Priority>,
    pub tags: Vec<String>,
    pub ignored: bool,
    /// The rule that decided: the one that set the team, else the one that ignored, else the
    /// first that matched.
    pub rule: Option<String>,
    /// Every rule that matched, in order.
    pub matched: Vec<String>,
    /// Why, in words: each matching rule and the conditions that held.
    pub reason: String,
}

/// A team ready for assignment and SLA counting.
#[derive(Debug, Clone, PartialEq)]
pub struct Team {
    pub name: String,
    pub members: Vec<String>,
    pub manager: Option<String>,
    pub capacity: u32,
    pub hours: WorkingHours,
}

#[derive(Debug, Clone)]
struct CompiledRule {
    name: String,
    intents: Vec<String>,
    sentiment: Vec<String>,
    offensive: Option<bool>,
    spam: Option<bool>,
    languages: Vec<String>,
    sources: Vec<String>,
    brands: Vec<String>,
    /// Index into the keyword matcher's results, and the query as written (for the reason).
    keywords: Option<(usize, String)>,
    min_followers: Option<u64>,
    max_followers: Option<u64>,
    team: Option<String>,
    assign: Option<AssignStrategy>,
    priority: Option<Priority>,
    tags: Vec<String>,
    ignore: bool,
    stops: bool,
}

/// The inbox configuration, checked and compiled: teams, rules and SLA policies.
#[derive(Debug, Clone)]
pub struct RoutingRules {
    teams: Vec<Team>,
    team_configs: Vec<TeamConfig>,
    rules: Vec<CompiledRule>,
    /// Every rule's keyword query as one "brand" per rule (named by its index), so a text is
    /// scanned once for all rules.
    keywords: BrandMatcher,
    keyword_rules: usize,
    sla: SlaPolicies,
    /// Hours of the unrouted queue: the default office week in UTC.
    unrouted_hours: WorkingHours,
}

/// Everything wrong with the inbox configuration, each problem naming where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("earshot.toml: the inbox configuration has {} problem(s):\n  {}", problems.len(), problems.join("\n  "))]
pub struct InboxConfigError {
    pub problems: Vec<String>,
}

/// The rules a configuration routes by, in order: its `[[routing.rule]]`s, or the default
/// rules when it has none. Default rules that route to a team the workspace does not have are
/// left out, so configuring only some teams keeps the rest of the defaults working.
pub fn rules_in_force(config: &Config) -> Vec<RuleConfig> {
    if !config.routing.rules.is_empty() {
        return config.routing.rules.clone();
    }
    let team_names: Vec<String> = if config.teams.is_empty() {
        default_teams().into_iter().map(|t| t.name).collect()
    } else {
        config.teams.iter().map(|t| t.name.clone()).collect()
    };
    default_rules()
        .into_iter()
        .filter(|rule| {
            rule.then
                .team
                .as_deref()
                .is_none_or(|team| team_names.iter().any(|t| t == team))
        })
        .collect()
}

impl RoutingRules {
    /// Check and compile the `[[team]]`, `[[routing.rule]]` and `[sla]` sections, or their
    /// defaults. Every problem is reported, not only the first.
    pub fn compile(config: &Config) -> Result<RoutingRules, InboxConfigError> {
        let mut problems = Vec::new();
        let configured_teams = !config.teams.is_empty();
        let team_configs = if configured_teams {
            config.teams.clone()
        } else {
            default_teams()
        };
        let teams = compile_teams(&team_configs, &mut problems);
        let rule_configs = rules_in_force(config);
        let (rules, keyword_brands) =
            compile_rules(&rule_configs, &team_configs, config, &mut problems);
        let keywords = match BrandMatcher::new(&keyword_brands) {
            Ok(matcher) => matcher,
            Err(error) => {
                // Each query was parsed on its own above, so this is unreachable in practice;
                // reporting it keeps a surprise from becoming a panic.
                problems.push(error.to_string());
                BrandMatcher::default()
            }
        };
        let sla = compile_sla(config, &mut problems);
        if !problems.is_empty() {
            return Err(InboxConfigError { problems });
        }
        Ok(RoutingRules {
            teams,
            team_configs,
            keyword_rules: keyword_brands.len(),
            rules,
            keywords,
            sla,
            unrouted_hours: WorkingHours::office_week_utc(),
        })
    }

    pub fn teams(&self) -> &[Team] {
        &self.teams
    }

    /// The teams as the store keeps them (`InboxStore::upsert_teams`).
    pub fn team_records(&self) -> Vec<TeamRecord> {
        self.team_configs
            .iter()
            .map(|team| TeamRecord {
                name: team.name.clone(),
                manager: team.manager.clone(),
                capacity: Some(team.capacity),
                hours: serde_json::json!({
                    "timezone": team.timezone,
                    "hours": team.effective_hours(),
                }),
                members: team.members.clone(),
            })
            .collect()
    }

    pub fn team(&self, name: &str) -> Option<&Team> {
        self.teams.iter().find(|team| team.name == name)
    }

    /// The working hours SLA clocks count in for a conversation of this team (or unrouted).
    pub fn hours_for(&self, team: Option<&str>) -> &WorkingHours {
        team.and_then(|name| self.team(name))
            .map(|team| &team.hours)
            .unwrap_or(&self.unrouted_hours)
    }

    pub fn sla(&self) -> &SlaPolicies {
        &self.sla
    }

    /// Names of the rules in evaluation order.
    pub fn rule_names(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|rule| rule.name.as_str())
    }

    /// Run the rules over one mention.
    pub fn route(&self, input: &RoutingInput<'_>) -> RoutingDecision {
        let keyword_hits = self.keyword_hits(input.text);
        let mut decision = RoutingDecision::default();
        let mut reasons = Vec::new();
        let mut ignored_by = None;
        for rule in &self.rules {
            let Some(held) = rule.conditions_held(input, &keyword_hits) else {
                continue;
            };
            decision.matched.push(rule.name.clone());
            let conditions = if held.is_empty() {
                "matches everything".to_string()
            } else {
                held.join(", ")
            };
            reasons.push(format!("rule {:?}: {conditions}", rule.name));
            for tag in &rule.tags {
                if !decision.tags.contains(tag) {
                    decision.tags.push(tag.clone());
                }
            }
            if decision.team.is_none() && rule.team.is_some() {
                decision.team = rule.team.clone();
                decision.assign = rule.assign.clone();
                decision.rule = Some(rule.name.clone());
            }
            if decision.priority.is_none() {
                decision.priority = rule.priority;
            }
            if rule.ignore {
                decision.ignored = true;
                ignored_by.get_or_insert_with(|| rule.name.clone());
            }
            if rule.stops {
                break;
            }
        }
        if decision.rule.is_none() {
            decision.rule = ignored_by.or_else(|| decision.matched.first().cloned());
        }
        decision.reason = if reasons.is_empty() {
            "no rule matched".to_string()
        } else {
            reasons.join("; ")
        };
        decision
    }

    fn keyword_hits(&self, text: &AnalyzedText) -> Vec<bool> {
        let mut hits = vec![false; self.keyword_rules];
        if self.keyword_rules == 0 {
            return hits;
        }
        for name in self.keywords.matching(text) {
            if let Some(hit) = name.parse::<usize>().ok().and_then(|i| hits.get_mut(i)) {
                *hit = true;
            }
        }
        hits
    }
}

impl CompiledRule {
    /// The conditions that held, in words, or `None` when one did not.
    fn conditions_held(
        &self,
        input: &RoutingInput<'_>,
        keyword_hits: &[bool],
    ) -> Option<Vec<String>> {
        let mut held = Vec::new();
        let signals = input.signals;
        if !self.intents.is_empty() {
            let (label, score) = self
                .intents
                .iter()
                .find_map(|label| signals.intent(label).map(|score| (label, score)))?;
            held.push(format!("intent {label} ({score:.2})"));
        }
        if !self.sentiment.is_empty() {
            let sentiment = signals.sentiment.as_ref()?;
            if !self.sentiment.contains(&sentiment.label) {
                return None;
            }
            held.push(format!(
                "sentiment {} ({:.2})",
                sentiment.label, sentiment.score
            ));
        }
        if let Some(wanted) = self.offensive {
            let score = signals.offensive?;
            if (score >= SIGNAL_THRESHOLD) != wanted {
                return None;
            }
            held.push(flag_reason("offensive", wanted, score));
        }
        if let Some(wanted) = self.spam {
            let score = signals.spam?;
            if (score >= SPAM_THRESHOLD) != wanted {
                return None;
            }
            held.push(flag_reason("spam", wanted, score));
        }
        if !self.languages.is_empty() {
            if !self
                .languages
                .iter()
                .any(|l| l.eq_ignore_ascii_case(input.lang))
            {
                return None;
            }
            held.push(format!("language {}", input.lang));
        }
        if !self.sources.is_empty() {
            if !self.sources.iter().any(|s| s == input.source) {
                return None;
            }
            held.push(format!("source {}", input.source));
        }
        if !self.brands.is_empty() {
            let brand = self
                .brands
                .iter()
                .find(|brand| input.brands.iter().any(|b| b == *brand))?;
            held.push(format!("brand {brand}"));
        }
        if let Some((index, query)) = &self.keywords {
            if !keyword_hits.get(*index).copied().unwrap_or(false) {
                return None;
            }
            held.push(format!("keywords {}", shorten(query, 60)));
        }
        if self.min_followers.is_some() || self.max_followers.is_some() {
            let followers = input.author_followers?;
            if let Some(min) = self.min_followers {
                if followers < min {
                    return None;
                }
                held.push(format!("author followers {followers} ≥ {min}"));
            }
            if let Some(max) = self.max_followers {
                if followers > max {
                    return None;
                }
                held.push(format!("author followers {followers} ≤ {max}"));
            }
        }
        Some(held)
    }
}

fn flag_reason(name: &str, wanted: bool, score: f32) -> String {
    if wanted {
        format!("{name} ({score:.2})")
    } else {
        format!("not {name} ({score:.2})")
    }
}

/// The query in quotes, cut at a character boundary with an ellipsis when long.
fn shorten(text: &str, max_chars: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max_chars {
        format!("«{flat}»")
    } else {
        let cut: String = flat.chars().take(max_chars).collect();
        format!("«{cut}…»")
    }
}

fn compile_teams(configs: &[TeamConfig], problems: &mut Vec<String>) -> Vec<Team> {
    let mut seen = HashSet::new();
    let mut teams = Vec::with_capacity(configs.len());
    for config in configs {
        let at = format!("[[team]] {:?}", config.name);
        if config.name.trim().is_empty() {
            problems.push("[[team]]: a team needs a name".into());
            continue;
        }
        if !seen.insert(config.name.as_str()) {
            problems.push(format!("{at}: a team with this name is configured twice"));
            continue;
        }
        if config.capacity == 0 {
            problems.push(format!(
                "{at}: capacity must be at least 1 (open conversations per member)"
            ));
        }
        let mut members = HashSet::new();
        for member in &config.members {
            if !members.insert(member.as_str()) {
                problems.push(format!("{at}: member {member:?} is listed twice"));
            }
        }
        match WorkingHours::parse(&config.timezone, &config.effective_hours()) {
            Ok(hours) => teams.push(Team {
                name: config.name.clone(),
                members: config.members.clone(),
                manager: config.manager.clone(),
                capacity: config.capacity.max(1),
                hours,
            }),
            Err(error) => problems.push(format!("{at}: {error}")),
        }
    }
    teams
}

fn compile_rules(
    configs: &[RuleConfig],
    teams: &[TeamConfig],
    config: &Config,
    problems: &mut Vec<String>,
) -> (Vec<CompiledRule>, Vec<BrandConfig>) {
    let mut seen = HashSet::new();
    let mut rules = Vec::with_capacity(configs.len());
    let mut keyword_brands = Vec::new();
    let mut team_names: Vec<&str> = Vec::new();
    for team in teams {
        if !team_names.contains(&team.name.as_str()) {
            team_names.push(&team.name);
        }
    }
    let team_list = team_names.join(", ");
    for (position, rule) in configs.iter().enumerate() {
        let at = format!("[[routing.rule]] {:?} (rule {})", rule.name, position + 1);
        let before = problems.len();
        if rule.name.trim().is_empty() {
            problems.push(format!(
                "[[routing.rule]] number {}: a rule needs a name",
                position + 1
            ));
        } else if !seen.insert(rule.name.as_str()) {
            problems.push(format!("{at}: another rule has the same name"));
        }
        let when = &rule.when;
        let then = &rule.then;
        for intent in &when.intents {
            if !KNOWN_INTENTS.contains(&intent.as_str()) {
                problems.push(format!(
                    "{at}: unknown intent {intent:?} (known: {})",
                    KNOWN_INTENTS.join(", ")
                ));
            }
        }
        for sentiment in &when.sentiment {
            if !KNOWN_SENTIMENTS.contains(&sentiment.as_str()) {
                problems.push(format!(
                    "{at}: unknown sentiment {sentiment:?} (known: {})",
                    KNOWN_SENTIMENTS.join(", ")
                ));
            }
        }
        for brand in &when.brands {
            if !config.brands.iter().any(|b| &b.name == brand) {
                problems.push(format!("{at}: brand {brand:?} is not configured"));
            }
        }
        if let (Some(min), Some(max)) = (when.min_followers, when.max_followers) {
            if min > max {
                problems.push(format!(
                    "{at}: min_followers {min} is greater than max_followers {max}"
                ));
            }
        }
        let mut keywords = None;
        if let Some(query) = &when.keywords {
            match Query::parse(query) {
                Ok(_) => {
                    keywords = Some((keyword_brands.len(), query.clone()));
                    keyword_brands.push(BrandConfig {
                        name: keyword_brands.len().to_string(),
                        queries: vec![query.clone()],
                        competitor: false,
                    });
                }
                Err(error) => problems.push(format!("{at}: keywords {query:?}: {error}")),
            }
        }
        let team_config = match &then.team {
            Some(team) => {
                let found = teams.iter().find(|t| &t.name == team);
                if found.is_none() {
                    problems.push(format!(
                        "{at}: team {team:?} is not configured (teams: {team_list})"
                    ));
                }
                found
            }
            None => None,
        };
        if let Some(assign) = &then.assign {
            match (&then.team, team_config, assign) {
                (None, _, _) => problems.push(format!(
                    "{at}: `assign` needs a `team` in the same rule to pick the member from"
                )),
                (Some(team), Some(team_config), AssignStrategy::Member(member))
                    if !team_config.members.contains(member) =>
                {
                    problems.push(format!(
                        "{at}: assign: {member:?} is not a member of team {team:?} \
                         (use round_robin, least_loaded or a member's name)"
                    ))
                }
                _ => {}
            }
        }
        for tag in &then.tags {
            if tag.trim().is_empty() {
                problems.push(format!("{at}: an empty tag"));
            }
        }
        if problems.len() > before {
            continue;
        }
        rules.push(CompiledRule {
            name: rule.name.clone(),
            intents: when.intents.clone(),
            sentiment: when.sentiment.clone(),
            offensive: when.offensive,
            spam: when.spam,
            languages: when.languages.clone(),
            sources: when.sources.clone(),
            brands: when.brands.clone(),
            keywords,
            min_followers: when.min_followers,
            max_followers: when.max_followers,
            team: then.team.clone(),
            assign: then.assign.clone(),
            priority: then.priority,
            tags: then.tags.iter().map(|t| t.trim().to_string()).collect(),
            ignore: then.ignore,
            stops: then.stops(),
        });
    }
    (rules, keyword_brands)
}

fn compile_sla(config: &Config, problems: &mut Vec<String>) -> SlaPolicies {
    let mut policy = |priority: Priority| {
        let configured = config.sla.policy(priority);
        let mut read = |field: &str, text: &str| match parse_duration(text) {
            Ok(duration) => duration,
            Err(error) => {
                problems.push(format!("[sla.{priority}] {field}: {error}"));
                chrono::Duration::zero()
            }
        };
        SlaPolicy {
            first_response: read("first_response", &configured.first_response),
            resolution: read("resolution", &configured.resolution),
        }
    };
    SlaPolicies {
        urgent: policy(Priority::Urgent),
        high: policy(Priority::High),
        normal: policy(Priority::Normal),
        low: policy(Priority::Low),
    }
}

#[cfg(test)]
mod analysis_signal_tests {
    use super::*;
    use earshot_core::{Analysis, Scored};

    fn scored(label: &str, score: f32) -> Option<Scored> {
        Some(Scored {
            label: label.into(),
            score,
        })
    }

    #[test]
    fn analysis_becomes_probabilities_of_the_flagged_class() {
        let analysis = Analysis {
            lang: "en".into(),
            sentiment: scored("negative", 0.8),
            offensive: scored("NOT", 0.9),
            spam: scored("spam", 0.7),
            intents: vec![Scored {
                label: "complaint".into(),
                score: 0.6,
            }],
            targets: Vec::new(),
        };
        let signals = RoutingSignals::from_analysis(&analysis);
        assert_eq!(signals.sentiment, Some(Signal::new("negative", 0.8)));
        assert!((signals.offensive.unwrap() - 0.1).abs() < 1e-6);
        assert!((signals.spam.unwrap() - 0.7).abs() < 1e-6);
        assert_eq!(signals.intents, vec![Signal::new("complaint", 0.6)]);
        assert!(signals.is_negative());
    }
}
