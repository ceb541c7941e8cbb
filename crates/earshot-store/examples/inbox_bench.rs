//! List-query latency of the inbox with many open conversations:
//!
//! ```text
//! cargo run --release -p earshot-store --example inbox_bench -- [COUNT]
//! ```
//!
//! Creates COUNT (default 100,000) open conversations over as many mentions in a temporary
//! workspace (5 teams, 20 members, a tenth overdue), then times each list query 200 times and
//! prints the median and p99, with SQLite's query plan for the first page.

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use earshot_core::{
    Author, ConversationFilter, ConversationSort, ConversationState, NewConversation, NewMention,
    Priority, Stamp, TeamRecord,
};
use earshot_store::{InboxStore, SqliteStore, Store};

const TEAMS: [&str; 5] = ["support", "sales", "billing", "product", "marketing"];
const RUNS: usize = 200;

fn member(team: usize, n: usize) -> String {
    format!("{}-{n}", TEAMS[team])
}

#[tokio::main]
async fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("COUNT must be a number"))
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("creating a temporary workspace");
    let store = SqliteStore::open(dir.path())
        .await
        .expect("opening the store");
    store.skip_index_commits(true);
    let teams: Vec<TeamRecord> = (0..TEAMS.len())
        .map(|t| TeamRecord {
            name: TEAMS[t].into(),
            manager: Some(member(t, 0)),
            capacity: Some(50),
            hours: serde_json::Value::Null,
            members: (0..4).map(|n| member(t, n)).collect(),
        })
        .collect();
    store.upsert_teams(&teams).await.unwrap();

    let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let started = Instant::now();
    for chunk_start in (0..count).step_by(5_000) {
        let chunk_end = (chunk_start + 5_000).min(count);
        let mentions: Vec<NewMention> = (chunk_start..chunk_end)
            .map(|i| NewMention {
                source: ["masto", "bsky", "feed"][i % 3].into(),
                external_id: Some(i.to_string()),
                url: None,
                canonical_url: None,
                title: None,
                text: format!("help with order {i}"),
                links: Vec::new(),
                published_at: start + chrono::Duration::seconds(i as i64),
                author: Some(Author {
                    handle: Some(format!("@user{}", i % 997)),
                    name: None,
                    url: None,
                    followers: Some((i % 5_000) as u64),
                }),
                lang: "en".into(),
                in_reply_to: None,
                brands: vec!["zeltron".into()],
                fingerprint: i as u64,
                duplicate_of: None,
            })
            .collect();
        let ids = store.write_batch(mentions, None).await.unwrap().inserted;
        for (offset, id) in ids.into_iter().enumerate() {
            let i = chunk_start + offset;
            let team = i % TEAMS.len();
            let assigned = i % 3 != 0;
            let mut new = NewConversation::for_mention(id);
            new.team = Some(TEAMS[team].into());
            new.priority = Priority::ALL[i % 4];
            new.assignee = assigned.then(|| member(team, i % 4));
            new.state = if assigned {
                ConversationState::Assigned
            } else {
                ConversationState::New
            };
            // A tenth of them are already late when the SLA check below runs.
            let due_in = if i % 10 == 0 { -60 } else { 2 * count as i64 };
            let created = start + chrono::Duration::seconds(i as i64);
            new.first_response_due = Some(created + chrono::Duration::seconds(due_in));
            store
                .create_conversation(&new, &Stamp::system(created))
                .await
                .unwrap();
        }
    }
    let load_time = started.elapsed();
    let check = Instant::now();
    let breaches = store
        .mark_overdue(start + chrono::Duration::seconds(count as i64))
        .await
        .unwrap();
    println!(
        "created {count} conversations in {:.1} s; SLA check flagged {} in {:.2} s",
        load_time.as_secs_f64(),
        breaches.len(),
        check.elapsed().as_secs_f64()
    );

    let cases: Vec<(&str, ConversationFilter)> = vec![
        ("open queue, first page", ConversationFilter::open()),
        (
            "open queue, newest first",
            ConversationFilter {
                sort: ConversationSort::Newest,
                ..ConversationFilter::open()
            },
        ),
        (
            "team support, open",
            ConversationFilter {
                team: Some("support".into()),
                ..ConversationFilter::open()
            },
        ),
        (
            "assignee support-1, open",
            ConversationFilter {
                assignee: Some(member(0, 1)),
                ..ConversationFilter::open()
            },
        ),
        (
            "overdue, open",
            ConversationFilter {
                overdue: true,
                ..ConversationFilter::open()
            },
        ),
        (
            "unassigned, open",
            ConversationFilter {
                unassigned: true,
                ..ConversationFilter::open()
            },
        ),
    ];
    println!(
        "{:<28} {:>10} {:>10} {:>10}",
        "query (50 rows)", "median", "p99", "page 20"
    );
    for (name, filter) in &cases {
        let mut times = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            let t = Instant::now();
            let page = store.list_conversations(filter, None, 50).await.unwrap();
            times.push(t.elapsed());
            assert_eq!(page.conversations.len(), 50, "{name}");
        }
        // Deep pagination: the 20th page through cursors.
        let t = Instant::now();
        let mut cursor: Option<String> = None;
        for _ in 0..20 {
            let page = store
                .list_conversations(filter, cursor.as_deref(), 50)
                .await
                .unwrap();
            cursor = page.next_cursor;
        }
        let twenty = t.elapsed() / 20;
        times.sort();
        println!(
            "{:<28} {:>10} {:>10} {:>10}",
            name,
            ms(times[RUNS / 2]),
            ms(times[RUNS * 99 / 100]),
            ms(twenty)
        );
    }
    let loads = Instant::now();
    let members = store.member_loads(Some("support")).await.unwrap();
    println!(
        "member_loads(support): {} members in {}",
        members.len(),
        ms(loads.elapsed())
    );
    store.close().await;
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}
