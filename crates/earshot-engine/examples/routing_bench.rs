//! Routing throughput with 50 rules: `route()` alone, and the whole ingest pipeline with and
//! without the inbox hook on a real SQLite workspace.
//!
//! ```sh
//! cargo run --release -p earshot-engine --example routing_bench -- [ROUTE_COUNT] [INGEST_COUNT]
//! ```
//! Defaults: 200,000 mentions through `route()`, 20,000 through the pipeline.

use std::sync::Arc;
use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use earshot_core::{
    AssignStrategy, Author, BrandConfig, Config, IncomingMention, Priority, RuleActions,
    RuleConditions, RuleConfig, TeamConfig, WorkingRangeConfig,
};
use earshot_engine::inbox::{
    analyze_for_routing, InboxRouter, RouteItem, RoutingInput, RoutingRules, RoutingSignals, Signal,
};
use earshot_engine::Pipeline;
use earshot_store::{SqliteStore, Store};

const TEAMS: [&str; 5] = ["support", "sales", "billing", "product", "marketing"];
const INTENTS: [&str; 5] = [
    "complaint",
    "question",
    "praise",
    "purchase_intent",
    "feedback",
];
const SENTIMENTS: [&str; 3] = ["negative", "neutral", "positive"];
const LANGS: [&str; 3] = ["en", "ru", "el"];
const SOURCES: [&str; 4] = ["mastodon", "bluesky", "blog", "import"];
/// Words for keyword rules and texts, in the three languages.
const WORDS: [&str; 30] = [
    "refund",
    "invoice",
    "broken",
    "crash",
    "price",
    "discount",
    "delivery",
    "support",
    "battery",
    "screen",
    "возврат",
    "счёт",
    "сломался",
    "доставка",
    "скидка",
    "цена",
    "батарея",
    "экран",
    "поддержка",
    "заказ",
    "επιστροφή",
    "τιμολόγιο",
    "χαλασμένο",
    "παράδοση",
    "έκπτωση",
    "τιμή",
    "μπαταρία",
    "οθόνη",
    "υποστήριξη",
    "παραγγελία",
];

/// A small deterministic generator, so every run routes the same mentions.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn unit(&mut self) -> f32 {
        (self.next() % 10_000) as f32 / 10_000.0
    }
}

fn config() -> Config {
    let teams = TEAMS
        .iter()
        .map(|name| TeamConfig {
            members: (1..=4).map(|i| format!("{name}{i}")).collect(),
            manager: Some(format!("{name}-lead")),
            hours: vec![WorkingRangeConfig {
                days: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
                    .map(String::from)
                    .to_vec(),
                start: "00:00".into(),
                end: "24:00".into(),
            }],
            ..TeamConfig::new(*name)
        })
        .collect();
    let mut rules = Vec::new();
    // 30 keyword rules (two words each, some with a language), then rules on the other
    // conditions, then a catch-all: 50 in all.
    for i in 0..30 {
        rules.push(RuleConfig {
            name: format!("keywords {i}"),
            when: RuleConditions {
                keywords: Some(format!("{} {}", WORDS[i], WORDS[(i * 7 + 3) % WORDS.len()])),
                languages: if i % 3 == 0 {
                    vec![LANGS[i % 3].into()]
                } else {
                    Vec::new()
                },
                ..RuleConditions::default()
            },
            then: RuleActions {
                team: (i % 2 == 0).then(|| TEAMS[i % TEAMS.len()].to_string()),
                assign: (i % 2 == 0).then_some(AssignStrategy::RoundRobin),
                tags: vec![format!("kw{i}")],
                ..RuleActions::default()
            },
        });
    }
    for i in 0..19 {
        let when = match i % 5 {
            0 => RuleConditions {
                intents: vec![INTENTS[i % 5].into()],
                sentiment: vec!["negative".into()],
                ..RuleConditions::default()
            },
            1 => RuleConditions {
                spam: Some(true),
                ..RuleConditions::default()
            },
            2 => RuleConditions {
                sources: vec![SOURCES[i % 4].into()],
                min_followers: Some(1000 * i as u64),
                ..RuleConditions::default()
            },
            3 => RuleConditions {
                brands: vec!["Zeltron".into()],
                offensive: Some(true),
                ..RuleConditions::default()
            },
            _ => RuleConditions {
                intents: vec![INTENTS[i % 5].into(), INTENTS[(i + 1) % 5].into()],
                languages: vec![LANGS[i % 3].into()],
                ..RuleConditions::default()
            },
        };
        rules.push(RuleConfig {
            name: format!("signals {i}"),
            when,
            then: RuleActions {
                team: Some(TEAMS[i % TEAMS.len()].into()),
                assign: Some(if i % 2 == 0 {
                    AssignStrategy::LeastLoaded
                } else {
                    AssignStrategy::RoundRobin
                }),
                priority: (i % 4 == 0).then_some(Priority::High),
                ignore: i % 5 == 1,
                ..RuleActions::default()
            },
        });
    }
    rules.push(RuleConfig {
        name: "everything else".into(),
        when: RuleConditions::default(),
        then: RuleActions {
            team: Some("marketing".into()),
            ..RuleActions::default()
        },
    });
    let mut config = Config {
        brands: vec![BrandConfig {
            name: "Zeltron".into(),
            queries: vec!["zeltron OR зелтрон OR ζέλτρον".into()],
            competitor: false,
        }],
        teams,
        ..Config::default()
    };
    config.routing.rules = rules;
    config
}

struct Generated {
    text: String,
    lang: &'static str,
    source: &'static str,
    followers: u64,
    signals: RoutingSignals,
}

fn generate(count: usize) -> Vec<Generated> {
    let mut random = XorShift(0x5eed_1234_abcd_ef01);
    (0..count)
        .map(|i| {
            let lang_index = random.below(3);
            let words: Vec<&str> = (0..12)
                .map(|_| WORDS[lang_index * 10 + random.below(10)])
                .collect();
            let brand = ["zeltron", "зелтрон", "ζέλτρον"][lang_index];
            let text = format!("{brand} {} #{i}", words.join(" "));
            let mut signals = RoutingSignals {
                intents: Vec::new(),
                sentiment: Some(Signal::new(SENTIMENTS[random.below(3)], random.unit())),
                offensive: Some(random.unit() * 0.6),
                spam: Some(random.unit() * 0.55),
            };
            if random.below(2) == 0 {
                signals.intents.push(Signal::new(
                    INTENTS[random.below(5)],
                    0.5 + random.unit() / 2.0,
                ));
            }
            Generated {
                text,
                lang: LANGS[lang_index],
                source: SOURCES[random.below(4)],
                followers: random.next() % 100_000,
                signals,
            }
        })
        .collect()
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let route_count: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let ingest_count: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let config = config();
    let rules = Arc::new(RoutingRules::compile(&config).expect("the bench config is valid"));
    println!("rules: {}", rules.rule_names().count());

    let mentions = generate(route_count);
    let brands = vec!["Zeltron".to_string()];

    // route() on text that is analyzed (folded, stemmed) as part of each call, as the hook does.
    let started = Instant::now();
    let mut teams_set = 0usize;
    for mention in &mentions {
        let text = analyze_for_routing(None, &mention.text);
        let decision = rules.route(&RoutingInput {
            signals: &mention.signals,
            lang: mention.lang,
            source: mention.source,
            brands: &brands,
            text: &text,
            author_followers: Some(mention.followers),
        });
        teams_set += usize::from(decision.team.is_some());
    }
    let with_analysis = started.elapsed().as_secs_f64();

    // route() alone, on texts analyzed beforehand.
    let analyzed: Vec<_> = mentions
        .iter()
        .map(|m| analyze_for_routing(None, &m.text))
        .collect();
    let started = Instant::now();
    let mut matched = 0usize;
    for (mention, text) in mentions.iter().zip(&analyzed) {
        let decision = rules.route(&RoutingInput {
            signals: &mention.signals,
            lang: mention.lang,
            source: mention.source,
            brands: &brands,
            text,
            author_followers: Some(mention.followers),
        });
        matched += decision.matched.len();
    }
    let alone = started.elapsed().as_secs_f64();
    println!(
        "route() with text analysis: {route_count} mentions in {with_analysis:.2} s = {:.0}/s ({teams_set} got a team)",
        route_count as f64 / with_analysis
    );
    println!(
        "route() alone: {route_count} mentions in {alone:.2} s = {:.0}/s ({:.2} rules matched per mention)",
        route_count as f64 / alone,
        matched as f64 / route_count as f64
    );

    // The pipeline on SQLite, without and with the inbox hook, in batches of 1,000.
    let published = Utc.with_ymd_and_hms(2026, 3, 4, 10, 0, 0).unwrap();
    let incoming = |prefix: &str| -> Vec<IncomingMention> {
        mentions
            .iter()
            .take(ingest_count)
            .enumerate()
            .map(|(i, m)| IncomingMention {
                source: m.source.into(),
                external_id: Some(format!("{prefix}{i}")),
                url: None,
                title: None,
                text: m.text.clone(),
                is_html: false,
                published_at: published + Duration::seconds(i as i64),
                author: Some(Author {
                    followers: Some(m.followers),
                    ..Author::default()
                }),
                lang: Some(m.lang.into()),
                // Every tenth mention answers an earlier one, so threading is exercised.
                in_reply_to: (i % 10 == 9).then(|| format!("{prefix}{}", i - 5)),
            })
            .collect()
    };
    // Without the hook; with it one conversation per transaction (before); batched (now).
    for (with_inbox, one_at_a_time) in [(false, false), (true, true), (true, false)] {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).await.expect("store"));
        let mut pipeline = Pipeline::new(store.clone(), &config.brands)
            .await
            .expect("pipeline");
        if with_inbox {
            let by_text: std::collections::HashMap<String, RoutingSignals> = mentions
                .iter()
                .take(ingest_count)
                .map(|m| (m.text.clone(), m.signals.clone()))
                .collect();
            let router = InboxRouter::new(store.clone(), rules.clone())
                .await
                .expect("router")
                .with_signals(Arc::new(move |item: &RouteItem<'_>| {
                    by_text.get(item.text).cloned().unwrap_or_default()
                }))
                .with_clock(Arc::new(move || published + Duration::hours(1)))
                .one_at_a_time(one_at_a_time);
            pipeline = pipeline.with_inbox(Arc::new(router));
        }
        let items = incoming("m");
        let started = Instant::now();
        for batch in items.chunks(1_000) {
            pipeline.ingest(batch.to_vec(), None).await.expect("ingest");
        }
        store.flush().await.expect("flush");
        let seconds = started.elapsed().as_secs_f64();
        let conversations = store
            .list_conversations(&earshot_core::ConversationFilter::default(), None, 1)
            .await
            .expect("list")
            .conversations
            .len();
        println!(
            "pipeline {} the inbox hook: {ingest_count} mentions in {seconds:.2} s = {:.0}/s{}",
            match (with_inbox, one_at_a_time) {
                (false, _) => "without",
                (true, true) => "with (one conversation per transaction)",
                (true, false) => "with (batched)",
            },
            ingest_count as f64 / seconds,
            if with_inbox && conversations == 0 {
                " (no conversations were opened!)"
            } else {
                ""
            }
        );
    }
}
