//! Import and search throughput of the SQLite store (and the FTS5 baseline) on generated
//! mentions:
//!
//! ```text
//! cargo run --release -p earshot-store --example store_bench -- [COUNT] [BATCH]
//! ```
//!
//! Defaults: 100,000 mentions in batches of 5,000, in a temporary workspace.

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use earshot_core::{Author, MentionFilter, NewMention, SortOrder};
use earshot_store::fts5_baseline::Fts5Baseline;
use earshot_store::{SqliteStore, Store};

const EN: &[&str] = &[
    "the", "phone", "battery", "support", "great", "terrible", "delivery", "price", "update",
    "camera", "screen", "works", "broken", "love", "hate", "service", "store", "today", "again",
    "waiting", "refund", "order", "quality", "fast", "slow", "new", "release", "app", "bug",
];
const RU: &[&str] = &[
    "телефон",
    "батарея",
    "поддержка",
    "отлично",
    "ужасно",
    "доставка",
    "цена",
    "обновление",
    "камера",
    "экран",
    "работает",
    "сломался",
    "люблю",
    "сервис",
    "магазин",
    "сегодня",
    "снова",
    "жду",
    "возврат",
    "заказ",
    "качество",
    "быстро",
    "медленно",
    "новый",
    "приложение",
];
const EL: &[&str] = &[
    "τηλέφωνο",
    "μπαταρία",
    "υποστήριξη",
    "τέλειο",
    "χάλια",
    "παράδοση",
    "τιμή",
    "ενημέρωση",
    "κάμερα",
    "οθόνη",
    "δουλεύει",
    "χάλασε",
    "αγαπώ",
    "υπηρεσία",
    "κατάστημα",
    "σήμερα",
    "ξανά",
];
const BRANDS: &[(&str, &str, &str, &str)] = &[
    ("zeltron", "Zeltron", "Зелтрона", "Ζέλτρον"),
    ("kvantix", "Kvantix", "Квантикс", "Κβάντιξ"),
    ("noventa", "Noventa", "Новенту", "Νοβέντα"),
    ("orbis", "Orbis", "Орбисом", "Όρμπις"),
];
const SOURCES: &[&str] = &["feed-news", "mastodon", "bluesky", "vk-import", "blog"];

/// A small deterministic generator, so runs are comparable.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn generate(count: usize) -> Vec<NewMention> {
    let mut rng = Lcg(42);
    let start = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
    (0..count)
        .map(|i| {
            let (lang, words) = match rng.below(10) {
                0..=4 => ("en", EN),
                5..=7 => ("ru", RU),
                _ => ("el", EL),
            };
            let brand = BRANDS[rng.below(BRANDS.len())];
            let brand_word = match lang {
                "en" => brand.1,
                "ru" => brand.2,
                _ => brand.3,
            };
            let length = 12 + rng.below(30);
            let mut text = String::new();
            for position in 0..length {
                if position > 0 {
                    text.push(' ');
                }
                if position == length / 3 {
                    text.push_str(brand_word);
                } else {
                    text.push_str(words[rng.below(words.len())]);
                }
            }
            let source = SOURCES[rng.below(SOURCES.len())];
            NewMention {
                source: source.to_string(),
                external_id: Some(format!("{i}")),
                url: Some(format!("https://{source}.example/posts/{i}")),
                canonical_url: (i % 2 == 0).then(|| format!("https://{source}.example/posts/{i}")),
                title: (i % 5 == 0).then(|| format!("{brand_word} news {i}")),
                text,
                links: vec![format!("https://{}.example", brand.0)],
                published_at: start + chrono::Duration::seconds((i as i64) * 13 % 31_536_000),
                author: Some(Author {
                    handle: Some(format!("@user{}", rng.below(5_000))),
                    name: Some(format!("User {}", rng.below(5_000))),
                    url: None,
                    followers: Some(rng.below(100_000) as u64),
                }),
                lang: lang.to_string(),
                in_reply_to: None,
                brands: vec![brand.0.to_string()],
                fingerprint: rng.next() << 20 | rng.next(),
                duplicate_of: None,
                analysis: None,
            }
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn queries() -> Vec<MentionFilter> {
    let mut filters = Vec::new();
    let texts = [
        "zeltron",
        "зелтрон",
        "ζέλτρον",
        "kvantix battery",
        "\"battery support\"",
        "refund OR возврат",
        "zelt*",
        "noventa -broken",
        "(orbis OR kvantix) delivery",
        "телефон сломался",
    ];
    for (i, text) in texts.iter().enumerate() {
        let mut filter = MentionFilter {
            query: Some(text.to_string()),
            ..MentionFilter::default()
        };
        match i % 4 {
            0 => {}
            1 => filter.lang = Some("ru".into()),
            2 => filter.source = Some("mastodon".into()),
            _ => {
                filter.brand = Some("kvantix".into());
                filter.since = Some(Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).unwrap());
            }
        }
        filters.push(filter);
    }
    filters
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let count: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100_000);
    let batch: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5_000);
    let mentions = generate(count);
    let workspace = tempfile::TempDir::new()?;

    let db_only = SqliteStore::open(&workspace.path().join("db-only")).await?;
    db_only.skip_index_commits(true);
    let batches: Vec<Vec<NewMention>> = mentions.chunks(batch).map(<[_]>::to_vec).collect();
    let started = Instant::now();
    for owned in batches {
        db_only.write_batch(owned, None).await?;
    }
    let elapsed = started.elapsed();
    println!(
        "database only (index skipped): {:.0} mentions/s",
        count as f64 / elapsed.as_secs_f64()
    );
    db_only.close().await;

    let store = SqliteStore::open(workspace.path()).await?;
    // Callers hand over owned batches; cloning them is not the store's time.
    let batches: Vec<Vec<NewMention>> = mentions.chunks(batch).map(<[_]>::to_vec).collect();
    let started = Instant::now();
    for owned in batches {
        store.write_batch(owned, None).await?;
    }
    store.flush_index().await;
    let elapsed = started.elapsed();
    println!(
        "store import: {count} mentions in {:.2} s = {:.0} mentions/s (batches of {batch}, database + index)",
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64()
    );

    let batches: Vec<Vec<NewMention>> = mentions[..count.min(20_000)]
        .chunks(batch)
        .map(<[_]>::to_vec)
        .collect();
    let started = Instant::now();
    for owned in batches {
        store.write_batch(owned, None).await?;
    }
    store.flush_index().await;
    let elapsed = started.elapsed();
    println!(
        "store re-import (updates): {} mentions at {:.0} mentions/s",
        count.min(20_000),
        count.min(20_000) as f64 / elapsed.as_secs_f64()
    );

    for sort in [SortOrder::Newest, SortOrder::Relevance] {
        let mut times = Vec::new();
        for _ in 0..20 {
            for filter in queries() {
                let started = Instant::now();
                let page = store.search(&filter, sort, None, 50).await?;
                times.push(started.elapsed());
                std::hint::black_box(page);
            }
        }
        times.sort();
        println!(
            "store search ({sort:?}, limit 50, {} queries): p50 {:.2} ms, p95 {:.2} ms",
            times.len(),
            percentile(&times, 0.5).as_secs_f64() * 1000.0,
            percentile(&times, 0.95).as_secs_f64() * 1000.0
        );
    }
    let mut times = Vec::new();
    for filter in [
        MentionFilter::default(),
        MentionFilter {
            lang: Some("el".into()),
            ..MentionFilter::default()
        },
        MentionFilter {
            brand: Some("orbis".into()),
            hide_duplicates: true,
            ..MentionFilter::default()
        },
    ] {
        for _ in 0..50 {
            let started = Instant::now();
            std::hint::black_box(store.search(&filter, SortOrder::Newest, None, 50).await?);
            times.push(started.elapsed());
        }
    }
    times.sort();
    println!(
        "store filter-only listing (SQL, limit 50): p50 {:.2} ms, p95 {:.2} ms",
        percentile(&times, 0.5).as_secs_f64() * 1000.0,
        percentile(&times, 0.95).as_secs_f64() * 1000.0
    );
    store.close().await;

    let baseline = Fts5Baseline::open(&workspace.path().join("fts5.db")).await?;
    let started = Instant::now();
    for chunk in mentions.chunks(batch) {
        baseline.import(chunk).await?;
    }
    let elapsed = started.elapsed();
    println!(
        "fts5 baseline import: {:.0} mentions/s",
        count as f64 / elapsed.as_secs_f64()
    );
    let mut times = Vec::new();
    for _ in 0..20 {
        for filter in queries() {
            let started = Instant::now();
            std::hint::black_box(baseline.search(&filter, 50).await?);
            times.push(started.elapsed());
        }
    }
    times.sort();
    println!(
        "fts5 baseline search (newest, limit 50): p50 {:.2} ms, p95 {:.2} ms",
        percentile(&times, 0.5).as_secs_f64() * 1000.0,
        percentile(&times, 0.95).as_secs_f64() * 1000.0
    );
    Ok(())
}
