//! Routing rules as written in earshot.toml: conditions, order, stop semantics, defaults, the
//! reasons given, and the messages for bad configuration.

use earshot_core::{AssignStrategy, Config, Priority};
use earshot_engine::inbox::{
    analyze_for_routing, RoutingDecision, RoutingInput, RoutingRules, RoutingSignals, Signal,
};

fn config(text: &str) -> Config {
    toml::from_str(text).unwrap_or_else(|e| panic!("test config does not parse: {e}"))
}

fn compile(text: &str) -> RoutingRules {
    RoutingRules::compile(&config(text)).unwrap_or_else(|e| panic!("{e}"))
}

fn problems(text: &str) -> Vec<String> {
    RoutingRules::compile(&config(text))
        .expect_err("the configuration should be refused")
        .problems
}

/// A mention as rules see it.
struct Mention {
    signals: RoutingSignals,
    lang: &'static str,
    source: &'static str,
    brands: Vec<String>,
    text: &'static str,
    followers: Option<u64>,
}

impl Mention {
    fn saying(text: &'static str) -> Self {
        Mention {
            signals: RoutingSignals {
                intents: Vec::new(),
                sentiment: Some(Signal::new("neutral", 0.8)),
                offensive: Some(0.05),
                spam: Some(0.02),
            },
            lang: "en",
            source: "mastodon",
            brands: vec!["Zeltron".into()],
            text,
            followers: Some(120),
        }
    }
    fn intent(mut self, label: &str, score: f32) -> Self {
        self.signals.intents.push(Signal::new(label, score));
        self
    }
    fn sentiment(mut self, label: &str, score: f32) -> Self {
        self.signals.sentiment = Some(Signal::new(label, score));
        self
    }
    fn spam(mut self, score: f32) -> Self {
        self.signals.spam = Some(score);
        self
    }
    fn offensive(mut self, score: f32) -> Self {
        self.signals.offensive = Some(score);
        self
    }
    fn lang(mut self, lang: &'static str) -> Self {
        self.lang = lang;
        self
    }
    fn source(mut self, source: &'static str) -> Self {
        self.source = source;
        self
    }
    fn brands(mut self, brands: &[&str]) -> Self {
        self.brands = brands.iter().map(|b| b.to_string()).collect();
        self
    }
    fn followers(mut self, followers: Option<u64>) -> Self {
        self.followers = followers;
        self
    }

    fn route(&self, rules: &RoutingRules) -> RoutingDecision {
        let text = analyze_for_routing(None, self.text);
        rules.route(&RoutingInput {
            signals: &self.signals,
            lang: self.lang,
            source: self.source,
            brands: &self.brands,
            text: &text,
            author_followers: self.followers,
        })
    }
}

const BRANDS: &str = r#"
[[brand]]
name = "Zeltron"
queries = ["zeltron"]
[[brand]]
name = "Kvantix"
queries = ["kvantix"]
competitor = true
"#;

fn with_brands(rules: &str) -> String {
    format!("{BRANDS}\n{rules}")
}

#[test]
fn default_rules_route_by_intent_billing_words_and_spam() {
    let rules = compile("");
    let team_of = |m: Mention| m.route(&rules).team;
    assert_eq!(
        team_of(Mention::saying("zeltron broke again").intent("complaint", 0.9)),
        Some("support".into())
    );
    assert_eq!(
        team_of(Mention::saying("where can I buy a zeltron").intent("purchase_intent", 0.8)),
        Some("sales".into())
    );
    assert_eq!(
        team_of(Mention::saying("zeltron should add dark mode").intent("feedback", 0.7)),
        Some("product".into())
    );
    assert_eq!(
        team_of(Mention::saying("does zeltron sync?").intent("question", 0.7)),
        Some("support".into())
    );
    assert_eq!(
        team_of(Mention::saying("saw a zeltron ad today")),
        Some("marketing".into())
    );
    // Billing words in three languages and inflections, before the complaint rule.
    for text in [
        "Zeltron never sent my INVOICE and I want a refund",
        "Зелтрон, верните деньги: списали дважды",
        "Оформил возврат, где мой счёт?",
        "Zeltron: θέλω επιστροφή χρημάτων",
        "Το τιμολόγιο δεν ήρθε",
    ] {
        let decision = Mention::saying(text).intent("complaint", 0.9).route(&rules);
        assert_eq!(decision.team.as_deref(), Some("billing"), "{text}");
        assert_eq!(decision.rule.as_deref(), Some("billing words"), "{text}");
    }
    // Spam is ignored whatever else it says.
    let spam = Mention::saying("buy zeltron followers, refund guaranteed")
        .intent("purchase_intent", 0.9)
        .spam(0.97)
        .route(&rules);
    assert!(spam.ignored);
    assert_eq!(spam.team, None);
    assert_eq!(spam.rule.as_deref(), Some("spam"));
    assert_eq!(spam.reason, "rule \"spam\": spam (0.97)");
    // The SMS-trained spam model scored this complaint 0.56: unsure spam is not ignored.
    let complaint = Mention::saying("My Zeltron stopped charging after the update")
        .intent("complaint", 0.9)
        .spam(0.56)
        .route(&rules);
    assert!(!complaint.ignored);
    assert!(complaint.team.is_some(), "{complaint:?}");
}

#[test]
fn default_rules_drop_those_for_teams_not_configured() {
    let rules = compile(
        r#"
[[team]]
name = "support"
members = ["anna"]
"#,
    );
    assert_eq!(
        rules.rule_names().collect::<Vec<_>>(),
        ["spam", "complaint", "question"]
    );
    let decision = Mention::saying("zeltron ad").route(&rules);
    assert_eq!(decision.team, None);
    assert_eq!(decision.rule, None);
    assert_eq!(decision.reason, "no rule matched");
    assert_eq!(rules.teams().len(), 1);
}

#[test]
fn every_condition_must_hold() {
    let rules = compile(&with_brands(
        r#"
[[team]]
name = "vip"
[[routing.rule]]
name = "angry russian influencer on mastodon"
when = { intents = ["complaint", "question"], sentiment = ["negative"], offensive = false, spam = false, languages = ["ru"], sources = ["mastodon"], brands = ["Kvantix", "Zeltron"], keywords = "сервис OR поддержка", min_followers = 1000, max_followers = 100000 }
then = { team = "vip" }
"#,
    ));
    let base = || {
        Mention::saying("Поддержкой Зелтрона недоволен")
            .intent("question", 0.7)
            .sentiment("negative", 0.9)
            .lang("ru")
            .followers(Some(5000))
    };
    let decision = base().route(&rules);
    assert_eq!(decision.team.as_deref(), Some("vip"));
    assert_eq!(
        decision.reason,
        "rule \"angry russian influencer on mastodon\": intent question (0.70), sentiment \
         negative (0.90), not offensive (0.05), not spam (0.02), language ru, source mastodon, \
         brand Zeltron, keywords «сервис OR поддержка», author followers 5000 ≥ 1000, author \
         followers 5000 ≤ 100000"
    );
    // Break each condition in turn.
    let broken: Vec<(&str, Mention)> = vec![
        ("intent", {
            let mut m = base();
            m.signals.intents = vec![Signal::new("praise", 0.9)];
            m
        }),
        ("intent below threshold", {
            let mut m = base();
            m.signals.intents = vec![Signal::new("question", 0.4)];
            m
        }),
        ("sentiment", base().sentiment("positive", 0.9)),
        ("offensive", base().offensive(0.8)),
        ("spam", base().spam(0.9)),
        ("language", base().lang("uk")),
        ("source", base().source("bluesky")),
        ("brand", base().brands(&["Acme"])),
        ("keywords", {
            let mut m = base();
            m.text = "Зелтрон недоволен";
            m
        }),
        ("too few followers", base().followers(Some(999))),
        ("too many followers", base().followers(Some(100_001))),
        ("unknown followers", base().followers(None)),
        ("unknown sentiment", {
            let mut m = base();
            m.signals.sentiment = None;
            m
        }),
        ("unknown spam", {
            let mut m = base();
            m.signals.spam = None;
            m
        }),
    ];
    for (what, mention) in broken {
        let decision = mention.route(&rules);
        assert_eq!(decision.team, None, "{what}");
        assert!(decision.matched.is_empty(), "{what}");
    }
}

#[test]
fn first_team_decides_tags_accumulate_and_stop_ends() {
    let rules = compile(
        r#"
[[team]]
name = "support"
members = ["anna", "boris"]
[[team]]
name = "sales"

[[routing.rule]]
name = "tag negative"
when = { sentiment = ["negative"] }
then = { tags = ["negative", "watch"], priority = "high" }

[[routing.rule]]
name = "complaints"
when = { intents = ["complaint"] }
then = { team = "support", assign = "least_loaded", tags = ["complaint"], stop = false }

[[routing.rule]]
name = "purchase"
when = { intents = ["purchase_intent"] }
then = { team = "sales", priority = "urgent", tags = ["lead", "watch"] }

[[routing.rule]]
name = "after a stop"
then = { tags = ["never"] }
"#,
    );
    let decision = Mention::saying("zeltron broke, may buy kvantix instead")
        .intent("complaint", 0.9)
        .intent("purchase_intent", 0.6)
        .sentiment("negative", 0.8)
        .route(&rules);
    assert_eq!(decision.team.as_deref(), Some("support"));
    assert_eq!(decision.assign, Some(AssignStrategy::LeastLoaded));
    assert_eq!(decision.rule.as_deref(), Some("complaints"));
    // The first priority set wins; the purchase rule's urgent does not.
    assert_eq!(decision.priority, Some(Priority::High));
    assert_eq!(decision.tags, ["negative", "watch", "complaint", "lead"]);
    assert_eq!(decision.matched, ["tag negative", "complaints", "purchase"]);
    assert_eq!(
        decision.reason,
        "rule \"tag negative\": sentiment negative (0.80); rule \"complaints\": intent complaint \
         (0.90); rule \"purchase\": intent purchase_intent (0.60)"
    );

    // Without the complaint, the purchase rule decides and stops (it sets a team).
    let decision = Mention::saying("may buy kvantix")
        .intent("purchase_intent", 0.6)
        .route(&rules);
    assert_eq!(decision.team.as_deref(), Some("sales"));
    assert_eq!(decision.priority, Some(Priority::Urgent));
    assert_eq!(decision.assign, None);
    assert!(!decision.tags.contains(&"never".to_string()));

    // A tag-only match continues to the end (catch-all with tags, no stop).
    let decision = Mention::saying("zeltron is slow")
        .sentiment("negative", 0.7)
        .route(&rules);
    assert_eq!(decision.team, None);
    assert_eq!(decision.rule.as_deref(), Some("tag negative"));
    assert_eq!(decision.tags, ["negative", "watch", "never"]);
}

#[test]
fn explicit_stop_on_a_tag_rule_ends_evaluation() {
    let rules = compile(
        r#"
[[routing.rule]]
name = "hold everything in ru"
when = { languages = ["RU"] }
then = { tags = ["ru-hold"], stop = true }

[[routing.rule]]
name = "support"
then = { team = "support" }
"#,
    );
    let held = Mention::saying("Зелтрон").lang("ru").route(&rules);
    assert_eq!(held.team, None);
    assert_eq!(held.tags, ["ru-hold"]);
    let routed = Mention::saying("zeltron").route(&rules);
    assert_eq!(routed.team.as_deref(), Some("support"));
    assert_eq!(routed.reason, "rule \"support\": matches everything");
}

#[test]
fn ignore_with_stop_false_still_lets_a_team_be_set() {
    let rules = compile(
        r#"
[[routing.rule]]
name = "offensive"
when = { offensive = true }
then = { ignore = true, stop = false, tags = ["offensive"] }
[[routing.rule]]
name = "all to support"
then = { team = "support", assign = "round_robin" }
"#,
    );
    let decision = Mention::saying("zeltron sucks")
        .offensive(0.9)
        .route(&rules);
    assert!(decision.ignored);
    assert_eq!(decision.team.as_deref(), Some("support"));
    assert_eq!(decision.rule.as_deref(), Some("all to support"));
    assert_eq!(decision.tags, ["offensive"]);
}

#[test]
fn keywords_ignore_case_accents_and_inflection() {
    let rules = compile(
        r#"
[[routing.rule]]
name = "outage"
when = { keywords = "\"not working\" OR outage OR сбой OR σφάλμα" }
then = { team = "support" }
"#,
    );
    for text in [
        "Zeltron is NOT WORKING",
        "zeltron outages everywhere",
        "Сбои у Зелтрона",
        "ΣΦΑΛΜΑ στο zeltron",
    ] {
        assert_eq!(
            Mention::saying(text).route(&rules).team.as_deref(),
            Some("support"),
            "{text}"
        );
    }
    assert_eq!(
        Mention::saying("zeltron is working fine")
            .route(&rules)
            .team,
        None
    );
}

#[test]
fn bad_configuration_is_reported_with_places() {
    let found = problems(&with_brands(
        r#"
[[team]]
name = "support"
timezone = "Europe/Atlantis"
members = ["anna", "anna"]
[[team]]
name = "support"
[[team]]
name = "night"
capacity = 0
hours = [{ days = ["mon", "someday"], start = "22:00", end = "24:00" }]

[[routing.rule]]
name = "a"
when = { keywords = "refund AND (charge" }
then = { team = "support" }

[[routing.rule]]
name = "a"
when = { intents = ["complain"], sentiment = ["angry"], brands = ["Acme"], min_followers = 10, max_followers = 5 }
then = { team = "billing" }

[[routing.rule]]
name = "b"
then = { assign = "round_robin" }

[[routing.rule]]
name = "c"
then = { team = "night", assign = "boris", tags = [" "] }

[sla.high]
first_response = "4 hours"
resolution = "24h"
"#,
    ));
    assert_eq!(
        found,
        [
            "[[team]] \"support\": member \"anna\" is listed twice",
            "[[team]] \"support\": unknown time zone \"Europe/Atlantis\" (use an IANA name such as \"Europe/Athens\" or \"UTC\")",
            "[[team]] \"support\": a team with this name is configured twice",
            "[[team]] \"night\": capacity must be at least 1 (open conversations per member)",
            "[[team]] \"night\": unknown day \"someday\" (use mon, tue, wed, thu, fri, sat, sun)",
            "[[routing.rule]] \"a\" (rule 1): keywords \"refund AND (charge\": at column 12: this '(' is never closed",
            "[[routing.rule]] \"a\" (rule 2): another rule has the same name",
            "[[routing.rule]] \"a\" (rule 2): unknown intent \"complain\" (known: complaint, question, praise, purchase_intent, feedback)",
            "[[routing.rule]] \"a\" (rule 2): unknown sentiment \"angry\" (known: negative, neutral, positive)",
            "[[routing.rule]] \"a\" (rule 2): brand \"Acme\" is not configured",
            "[[routing.rule]] \"a\" (rule 2): min_followers 10 is greater than max_followers 5",
            "[[routing.rule]] \"a\" (rule 2): team \"billing\" is not configured (teams: support, night)",
            "[[routing.rule]] \"b\" (rule 3): `assign` needs a `team` in the same rule to pick the member from",
            "[[routing.rule]] \"c\" (rule 4): assign: \"boris\" is not a member of team \"night\" (use round_robin, least_loaded or a member's name)",
            "[[routing.rule]] \"c\" (rule 4): an empty tag",
            "[sla.high] first_response: duration \"4 hours\" is not like \"1h\", \"30m\" or \"1h30m\"",
        ]
    );
    let message = RoutingRules::compile(&config("[[team]]\nname = \"x\"\ntimezone = \"Nowhere\""))
        .unwrap_err()
        .to_string();
    assert!(
        message.starts_with("earshot.toml: the inbox configuration has 1 problem(s):\n  [[team]] \"x\": unknown time zone \"Nowhere\""),
        "{message}"
    );
}

#[test]
fn sla_policies_and_team_hours_come_from_the_config() {
    let rules = compile(
        r#"
[[team]]
name = "support"
manager = "maria"
timezone = "Europe/Athens"
hours = [{ days = ["mon", "tue", "wed", "thu", "fri"], start = "08:00", end = "16:00" }, { days = ["sat"], start = "10:00", end = "14:00" }]

[sla.urgent]
first_response = "30m"
resolution = "4h"
"#,
    );
    let urgent = rules.sla().policy(Priority::Urgent);
    assert_eq!(urgent.first_response, chrono::Duration::minutes(30));
    assert_eq!(urgent.resolution, chrono::Duration::hours(4));
    // Unconfigured priorities keep their defaults.
    assert_eq!(
        rules.sla().policy(Priority::Low).first_response,
        chrono::Duration::hours(24)
    );
    // Friday 15:30 Athens (UTC+2 in winter) + 30m → 16:00 local; + 4h → 30m on Friday, then
    // 3h30 into Saturday's 10:00-14:00: 13:30 local.
    let opened = chrono::DateTime::parse_from_rfc3339("2026-01-16T13:30:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let deadlines = rules.deadlines(Some("support"), Priority::Urgent, opened);
    assert_eq!(
        deadlines.first_response.to_rfc3339(),
        "2026-01-16T14:00:00+00:00"
    );
    assert_eq!(
        deadlines.resolution.to_rfc3339(),
        "2026-01-17T11:30:00+00:00"
    );
    assert_eq!(
        rules.team("support").unwrap().manager.as_deref(),
        Some("maria")
    );
}

#[test]
fn inbox_sections_survive_a_save_and_load() {
    let original = config(&with_brands(
        r#"
[[team]]
name = "support"
members = ["anna"]
manager = "maria"
timezone = "Europe/Athens"
hours = [{ days = ["mon"], start = "08:00", end = "12:00" }]

[[routing.rule]]
name = "vip"
when = { min_followers = 1000, keywords = "\"double charge\" OR refund*" }
then = { team = "support", assign = "anna", priority = "urgent", tags = ["vip"], stop = false }

[sla.low]
first_response = "2h30m"
resolution = "100h"
"#,
    ));
    let saved = toml::to_string(&original).unwrap();
    let loaded: Config = toml::from_str(&saved).unwrap();
    assert_eq!(loaded, original, "{saved}");
    assert_eq!(
        loaded.routing.rules[0].then.assign,
        Some(AssignStrategy::Member("anna".into()))
    );
    // A file without inbox sections saves without them.
    let plain = toml::to_string(&config(BRANDS)).unwrap();
    assert!(!plain.contains("sla") && !plain.contains("routing") && !plain.contains("team"));
}

mod arbitrary_input {
    use super::*;
    use proptest::prelude::*;

    fn score() -> impl Strategy<Value = f32> {
        prop_oneof![0.0f32..=1.0, Just(f32::NAN), Just(-1.0), Just(2.0)]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Whatever the text and the scores (NaN included), routing decides without panicking
        /// and its decision is consistent with the rules.
        #[test]
        fn any_mention_gets_a_consistent_decision(
            text in "\\PC{0,80}",
            intent in prop::sample::select(vec!["complaint", "question", "praise", "purchase_intent", "feedback", "nonsense"]),
            intent_score in score(),
            sentiment in prop::sample::select(vec!["negative", "neutral", "positive", "?"]),
            sentiment_score in score(),
            spam in score(),
            offensive in score(),
            followers in prop::option::of(any::<u64>()),
        ) {
            let rules = compile("");
            let signals = RoutingSignals {
                intents: vec![Signal::new(intent, intent_score)],
                sentiment: Some(Signal::new(sentiment, sentiment_score)),
                offensive: Some(offensive),
                spam: Some(spam),
            };
            let analyzed = analyze_for_routing(Some("title"), &text);
            let brands = vec!["Zeltron".to_string()];
            let decision = rules.route(&RoutingInput {
                signals: &signals,
                lang: "en",
                source: "mastodon",
                brands: &brands,
                text: &analyzed,
                author_followers: followers,
            });
            // The default rules end with a catch-all, so a non-spam mention always gets a team.
            prop_assert_eq!(decision.ignored, spam >= earshot_engine::inbox::rules::SPAM_THRESHOLD);
            prop_assert_eq!(decision.team.is_some(), !decision.ignored);
            prop_assert!(decision.rule.is_some());
            prop_assert!(decision.reason.starts_with("rule \""));
            let priority = earshot_engine::inbox::score_priority(&signals, followers, chrono::Duration::zero());
            prop_assert!(Priority::ALL.contains(&priority.priority));
        }
    }
}
