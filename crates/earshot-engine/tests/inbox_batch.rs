//! The batched ingest hook gives exactly what the one-at-a-time hook gives: the same mentions
//! ingested into two real SQLite workspaces, one routing each conversation in its own
//! transaction, the other a batch at a time, end with the same conversations (teams,
//! assignees, priorities, deadlines, tags, threads) and the same events.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use earshot_core::{
    Author, Config, ConversationDetail, ConversationFilter, IncomingMention, MentionId,
};
use earshot_engine::inbox::{InboxRouter, RouteItem, RoutingRules, RoutingSignals, Signal};
use earshot_engine::Pipeline;
use earshot_store::{SqliteStore, Store};

fn wednesday_morning() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 4, 10, 0, 0).unwrap()
}

const CONFIG: &str = r#"
[[brand]]
name = "Zeltron"
queries = ["zeltron"]

[[team]]
name = "support"
members = ["anna", "boris", "carl"]
manager = "maria"
capacity = 6

[[team]]
name = "sales"
members = ["sam", "sara"]

[[team]]
name = "billing"
members = ["vera"]

[[routing.rule]]
name = "spam"
when = { spam = true }
then = { ignore = true }

[[routing.rule]]
name = "money"
when = { keywords = "refund OR invoice" }
then = { team = "billing", assign = "round_robin", tags = ["money", "billing words"] }

[[routing.rule]]
name = "complaints"
when = { intents = ["complaint"] }
then = { team = "support", assign = "least_loaded" }

[[routing.rule]]
name = "buyers"
when = { intents = ["purchase_intent"] }
then = { team = "sales", assign = "round_robin", priority = "high", tags = ["lead"] }

[[routing.rule]]
name = "big accounts"
when = { min_followers = 40000 }
then = { tags = ["vip"] }
"#;

fn signals_by_text(item: &RouteItem<'_>) -> RoutingSignals {
    let mut signals = RoutingSignals {
        spam: Some(0.01),
        offensive: Some(0.01),
        sentiment: Some(Signal::new("neutral", 0.6)),
        intents: Vec::new(),
    };
    if item.text.contains("broken") {
        signals.intents.push(Signal::new("complaint", 0.9));
        signals.sentiment = Some(Signal::new("negative", 0.9));
    }
    if item.text.contains("buy") {
        signals.intents.push(Signal::new("purchase_intent", 0.8));
    }
    if item.text.contains("pills") {
        signals.spam = Some(0.99);
    }
    signals
}

/// A deterministic stream of mentions: complaints, purchases, billing words, spam and plain
/// ones; about a third reply to an earlier mention (often in the same batch) by its id, by its
/// URL with a tracking parameter (found through the canonical form), or to something unknown.
fn mentions(count: usize) -> Vec<IncomingMention> {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |below: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % below as u64) as usize
    };
    let phrases = [
        "zeltron is broken",
        "want to buy a zeltron",
        "zeltron refund please",
        "zeltron invoice is wrong",
        "zeltron cheap pills",
        "saw zeltron on tv",
        "zeltron screen broken, want to buy another",
        "hello zeltron",
    ];
    (0..count)
        .map(|i| {
            let reply_to = match next(6) {
                0 | 1 if i > 0 => Some(format!("{}", next(i))),
                2 if i > 0 => Some(format!(
                    "https://social.example/@u{0}/{0}?utm_source=share",
                    next(i)
                )),
                3 if i > 3 => Some("404404".to_string()),
                _ => None,
            };
            IncomingMention {
                source: "mastodon".into(),
                external_id: Some(i.to_string()),
                url: Some(format!("https://social.example/@u{i}/{i}")),
                title: None,
                text: format!("{} #{i} {}", phrases[next(phrases.len())], next(1_000_000)),
                is_html: false,
                // Mostly in order, sometimes a reply published before what it answers.
                published_at: wednesday_morning() - Duration::minutes(600)
                    + Duration::seconds(i as i64 * 60 - next(90) as i64),
                author: Some(Author {
                    handle: Some(format!("@u{}", i % 37)),
                    followers: Some(next(60_000) as u64),
                    ..Author::default()
                }),
                lang: Some("en".into()),
                in_reply_to: reply_to,
            }
        })
        .collect()
}

async fn ingest_all(one_at_a_time: bool, batches: &[Vec<IncomingMention>]) -> Vec<Thread> {
    let dir = tempfile::tempdir().unwrap();
    let config: Config = toml::from_str(CONFIG).unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
    let rules = Arc::new(RoutingRules::compile(&config).unwrap());
    let router = InboxRouter::new(store.clone(), rules)
        .await
        .unwrap()
        .with_signals(Arc::new(signals_by_text))
        .with_clock(Arc::new(wednesday_morning))
        .one_at_a_time(one_at_a_time);
    let pipeline = Pipeline::new(store.clone(), &config.brands)
        .await
        .unwrap()
        .with_inbox(Arc::new(router));
    for batch in batches {
        pipeline.ingest(batch.clone(), None).await.unwrap();
    }
    let mut threads = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_conversations(&ConversationFilter::default(), cursor.as_deref(), 100)
            .await
            .unwrap();
        for conversation in &page.conversations {
            let detail = store
                .conversation_detail(conversation.id)
                .await
                .unwrap()
                .unwrap();
            threads.push(Thread::of(detail));
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    threads.sort_by_key(|t| t.detail.conversation.id);
    threads
}

/// A conversation with its events and its mentions' ids (a mention's own timestamps are the
/// moment each workspace stored it, so they are left out of the comparison).
#[derive(Debug, PartialEq)]
struct Thread {
    detail: ConversationDetail,
    mention_ids: Vec<MentionId>,
}

impl Thread {
    fn of(mut detail: ConversationDetail) -> Thread {
        let mention_ids = detail.mentions.iter().map(|m| m.id).collect();
        detail.mentions.clear();
        Thread {
            detail,
            mention_ids,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_route_exactly_as_one_mention_at_a_time() {
    let all = mentions(400);
    // Uneven batches, and the last items again (re-ingested: updated, never routed twice).
    let mut batches: Vec<Vec<IncomingMention>> = Vec::new();
    let mut start = 0;
    for size in [1, 7, 60, 150, 2, 180] {
        batches.push(all[start..start + size].to_vec());
        start += size;
    }
    batches.push(all[390..].to_vec());

    let each = ingest_all(true, &batches).await;
    let batched = ingest_all(false, &batches).await;
    assert_eq!(each.len(), batched.len());
    for (one, other) in each.iter().zip(&batched) {
        assert_eq!(one, other);
    }

    // The data exercised what it should: threads, every team, both strategies, ignores, tags,
    // capacity reached in support (some complaints wait unassigned).
    let conversations: Vec<_> = batched.iter().map(|t| &t.detail.conversation).collect();
    let threaded = batched.iter().filter(|t| t.mention_ids.len() > 1).count();
    assert!(threaded > 20, "{threaded} threads");
    for team in ["support", "sales", "billing"] {
        assert!(
            conversations
                .iter()
                .any(|c| c.team.as_deref() == Some(team)),
            "{team}"
        );
    }
    assert!(conversations
        .iter()
        .any(|c| c.state == earshot_core::ConversationState::Ignored));
    assert!(conversations
        .iter()
        .any(|c| c.team.as_deref() == Some("support") && c.assignee.is_none()));
    assert!(conversations
        .iter()
        .any(|c| c.tags.contains(&"vip".to_string())));
    let assigned: std::collections::BTreeSet<_> = conversations
        .iter()
        .filter_map(|c| c.assignee.as_deref())
        .collect();
    assert!(assigned.len() >= 5, "{assigned:?}");
}

#[tokio::test]
async fn an_empty_batch_and_a_batch_of_known_mentions_change_nothing() {
    let batches = vec![mentions(30)];
    let first = ingest_all(false, &batches).await;
    let again = ingest_all(false, &[mentions(30), mentions(30), Vec::new()]).await;
    assert_eq!(first, again);
}
