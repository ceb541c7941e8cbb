//! Behaviour tests every [`Store`] implementation must pass. Each function takes a fresh,
//! empty store; [`run_all`] runs them all against stores from a factory. Run it from an
//! integration test of the implementation (see `tests/sqlite_store.rs`), so a PostgreSQL store
//! later proves the same behaviour with the same code.
//!
//! The functions panic on a failed expectation, like any test.

pub mod outbox;

use std::collections::HashSet;
use std::future::Future;
use std::sync::Mutex;

use chrono::{DateTime, Duration, TimeZone, Utc};
use earshot_core::{
    Analysis, Author, CorrectionField, LabelCorrection, MentionFilter, MentionId, NewMention,
    Scored, SortOrder, TargetSentiment,
};

use crate::{SourceProgress, Store, StoreError};

/// A plain mention of `source` with the given external id and text, published at `minute`
/// minutes after 2026-01-01T00:00:00Z.
pub fn mention(source: &str, external_id: &str, text: &str, minute: i64) -> NewMention {
    NewMention {
        source: source.to_string(),
        external_id: Some(external_id.to_string()),
        url: Some(format!("https://{source}.example/{external_id}")),
        canonical_url: None,
        title: None,
        text: text.to_string(),
        links: Vec::new(),
        published_at: at_minute(minute),
        author: Some(Author {
            handle: Some("@someone".into()),
            name: Some("Some <One>".into()),
            url: None,
            followers: Some(12),
        }),
        lang: "en".into(),
        in_reply_to: None,
        brands: Vec::new(),
        fingerprint: 0,
        duplicate_of: None,
        analysis: None,
    }
}

/// An analysis with the given sentiment, spam label and intents, as the pipeline would attach.
pub fn analysis(sentiment: &str, spam: &str, intents: &[&str]) -> Analysis {
    let scored = |label: &str| Scored {
        label: label.into(),
        score: 0.75,
    };
    Analysis {
        lang: "en".into(),
        sentiment: Some(scored(sentiment)),
        offensive: Some(scored("NOT")),
        spam: Some(scored(spam)),
        intents: intents.iter().map(|intent| scored(intent)).collect(),
        targets: vec![TargetSentiment {
            target: "Zeltron".into(),
            label: sentiment.into(),
            score: 0.5,
        }],
    }
}

pub fn at_minute(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::minutes(minute)
}

fn query(text: &str) -> MentionFilter {
    MentionFilter {
        query: Some(text.to_string()),
        ..MentionFilter::default()
    }
}

async fn ids_for<S: Store>(store: &S, filter: &MentionFilter) -> Vec<MentionId> {
    let page = store
        .search(filter, SortOrder::Newest, None, 100)
        .await
        .unwrap_or_else(|e| panic!("search {filter:?} failed: {e}"));
    assert!(
        page.next_cursor.is_none(),
        "expected a single page for {filter:?}"
    );
    page.mentions.iter().map(|m| m.id).collect()
}

/// Runs every behaviour test, each on a fresh store from `make`.
pub async fn run_all<S, F, Fut>(make: F)
where
    S: Store,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    update_by_external_id_keeps_one_row(&make().await).await;
    dedup_by_canonical_url_keeps_one_row(&make().await).await;
    duplicates_within_one_batch_make_one_row(&make().await).await;
    failed_batch_stores_nothing(&make().await).await;
    progress_is_persisted_with_the_batch(&make().await).await;
    source_errors_and_deletion(&make().await).await;
    search_filters(&make().await).await;
    inflected_and_accented_forms_are_found(&make().await).await;
    phrases_prefixes_and_boolean_queries(&make().await).await;
    pagination_walks_every_row_once(&make().await).await;
    bad_cursor_and_bad_query_are_reported(&make().await).await;
    since_id_fingerprints_and_stats(&make().await).await;
    reindex_rebuilds_the_index(&make().await).await;
    analysis_is_stored_with_the_mention_and_read_back(&make().await).await;
    analysis_filters_work_with_and_without_a_query(&make().await).await;
    corrections_override_the_shown_label_and_are_listed_for_training(&make().await).await;
    replaced_analyses_keep_corrections_and_skip_unknown_mentions(&make().await).await;
}

pub async fn replaced_analyses_keep_corrections_and_skip_unknown_mentions<S: Store>(store: &S) {
    let mut analysed = mention("feed", "1", "Zeltron broke again", 0);
    analysed.analysis = Some(analysis("negative", "ham", &["complaint"]));
    let plain = mention("feed", "2", "Zeltron, no analysis yet", 1);
    let ids = store
        .write_batch(vec![analysed, plain], None)
        .await
        .unwrap()
        .inserted;
    let correction = LabelCorrection::new(CorrectionField::Spam, "spam", true).unwrap();
    assert!(store
        .record_correction(ids[0], &correction, Some("ann"))
        .await
        .unwrap());
    let written = store
        .replace_analyses(&[
            (ids[0], analysis("positive", "ham", &["praise"])),
            (ids[1], analysis("neutral", "ham", &[])),
            (MentionId(999_999), analysis("neutral", "ham", &[])),
        ])
        .await
        .unwrap();
    assert_eq!(written, 2, "the unknown mention is skipped");
    let first = store.get(ids[0]).await.unwrap().unwrap();
    assert_eq!(
        first.analysis,
        Some(analysis("positive", "ham", &["praise"]))
    );
    assert_eq!(first.corrections.spam.as_deref(), Some("spam"));
    let second = store.get(ids[1]).await.unwrap().unwrap();
    assert_eq!(second.analysis, Some(analysis("neutral", "ham", &[])));
    assert!(store.get(MentionId(999_999)).await.unwrap().is_none());
    // The analysis filters read the new labels.
    let positive = store
        .search(
            &MentionFilter {
                sentiment: Some("positive".into()),
                ..MentionFilter::default()
            },
            SortOrder::Newest,
            None,
            10,
        )
        .await
        .unwrap();
    let found: Vec<MentionId> = positive.mentions.iter().map(|m| m.id).collect();
    assert_eq!(found, vec![ids[0]]);
}

pub async fn update_by_external_id_keeps_one_row<S: Store>(store: &S) {
    let mut first = mention("feed", "1", "Zeltron is fine", 0);
    first.brands = vec!["zeltron".into(), "acme".into()];
    let outcome = store.write_batch(vec![first.clone()], None).await.unwrap();
    assert_eq!(outcome.inserted.len(), 1);
    assert!(outcome.updated.is_empty());
    let id = outcome.inserted[0];
    let stored = store
        .get(id)
        .await
        .unwrap()
        .expect("inserted mention is readable");
    assert_eq!(stored.text, "Zeltron is fine");
    assert_eq!(
        stored.brands,
        vec!["acme".to_string(), "zeltron".to_string()]
    );
    assert_eq!(
        stored.author.as_ref().and_then(|a| a.name.as_deref()),
        Some("Some <One>")
    );

    let mut edited = first.clone();
    edited.text = "Zeltron is great, edited".into();
    edited.title = Some("Edited".into());
    edited.brands = vec!["zeltron".into()];
    edited.lang = "fr".into();
    edited.fingerprint = 77;
    let outcome = store.write_batch(vec![edited], None).await.unwrap();
    assert_eq!(outcome.updated, vec![id]);
    assert!(outcome.inserted.is_empty());
    let updated = store.get(id).await.unwrap().unwrap();
    assert_eq!(updated.text, "Zeltron is great, edited");
    assert_eq!(updated.title.as_deref(), Some("Edited"));
    assert_eq!(updated.brands, vec!["zeltron".to_string()]);
    assert_eq!(updated.lang, "fr");
    assert_eq!(updated.fingerprint, 77);
    assert_eq!(updated.fetched_at, stored.fetched_at, "fetched_at is kept");
    assert_eq!(store.stats().await.unwrap().mentions, 1);
    assert_eq!(ids_for(store, &query("edited")).await, vec![id]);
    assert!(
        ids_for(store, &query("fine")).await.is_empty(),
        "old text left the index"
    );
}

pub async fn dedup_by_canonical_url_keeps_one_row<S: Store>(store: &S) {
    let mut original = mention("feed-a", "a1", "Kvantix launches", 0);
    original.canonical_url = Some("https://news.example/kvantix".into());
    let original_id = store
        .write_batch(vec![original], None)
        .await
        .unwrap()
        .inserted[0];
    let mut copy = mention("feed-a", "a2", "A copy", 1);
    copy.duplicate_of = Some(original_id);
    let copy_id = store
        .write_batch(vec![copy.clone()], None)
        .await
        .unwrap()
        .inserted[0];

    // The same article seen through another source: same canonical URL, different id.
    let mut again = mention("feed-b", "b9", "Kvantix launches today", 5);
    again.canonical_url = Some("https://news.example/kvantix".into());
    let outcome = store.write_batch(vec![again], None).await.unwrap();
    assert_eq!(outcome.updated, vec![original_id]);
    assert!(outcome.inserted.is_empty());
    let stored = store.get(original_id).await.unwrap().unwrap();
    assert_eq!(stored.text, "Kvantix launches today");
    assert_eq!(stored.source, "feed-a", "the row keeps its identity");

    // An update of the copy keeps its duplicate link even when the new item has none.
    let mut copy_again = copy;
    copy_again.duplicate_of = None;
    copy_again.text = "A copy, edited".into();
    store.write_batch(vec![copy_again], None).await.unwrap();
    assert_eq!(
        store.get(copy_id).await.unwrap().unwrap().duplicate_of,
        Some(original_id)
    );
    assert_eq!(store.stats().await.unwrap().mentions, 2);
    let both = store
        .get_many(&[copy_id, MentionId(999_999), original_id])
        .await
        .unwrap();
    let ids: Vec<MentionId> = both.iter().map(|m| m.id).collect();
    assert_eq!(
        ids,
        vec![copy_id, original_id],
        "in the order asked, unknown ids left out"
    );
}

pub async fn duplicates_within_one_batch_make_one_row<S: Store>(store: &S) {
    let first = mention("feed", "same", "first version", 0);
    let mut second = first.clone();
    second.text = "second version".into();
    let mut by_url_1 = mention("feed", "u1", "by url one", 1);
    by_url_1.canonical_url = Some("https://x.example/one".into());
    let mut by_url_2 = mention("other", "u2", "by url two", 2);
    by_url_2.canonical_url = Some("https://x.example/one".into());
    let outcome = store
        .write_batch(vec![first, by_url_1, second, by_url_2], None)
        .await
        .unwrap();
    assert_eq!(outcome.inserted.len(), 2, "{outcome:?}");
    let all = store.since_id(MentionId(0), 100).await.unwrap();
    assert_eq!(all.len(), 2);
    let texts: HashSet<&str> = all.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, HashSet::from(["second version", "by url two"]));
}

pub async fn failed_batch_stores_nothing<S: Store>(store: &S) {
    let progress = |cursor: &str| SourceProgress {
        name: "feed".into(),
        cursor: Some(cursor.into()),
        items_seen: 2,
        success_at: Some(at_minute(1)),
    };
    store
        .write_batch(vec![mention("feed", "1", "kept", 0)], Some(progress("c1")))
        .await
        .unwrap();
    let mut update_of_kept = mention("feed", "1", "changed", 0);
    update_of_kept.brands = vec!["zeltron".into()];
    // An empty source name violates the schema: the whole batch must roll back.
    let broken = mention("", "2", "broken", 1);
    let result = store
        .write_batch(
            vec![update_of_kept, mention("feed", "3", "new", 2), broken],
            Some(progress("c2")),
        )
        .await;
    assert!(matches!(result, Err(StoreError::Database(_))), "{result:?}");
    let all = store.since_id(MentionId(0), 100).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].text, "kept");
    assert!(all[0].brands.is_empty());
    let state = store.source_state("feed").await.unwrap().unwrap();
    assert_eq!(state.cursor.as_deref(), Some("c1"));
    assert_eq!(state.health.items_seen, 2);
    assert_eq!(state.health.items_stored, 1);
    assert!(ids_for(store, &query("changed")).await.is_empty());
    assert!(ids_for(store, &query("new")).await.is_empty());
}

pub async fn progress_is_persisted_with_the_batch<S: Store>(store: &S) {
    assert!(store.source_state("feed").await.unwrap().is_none());
    let progress = SourceProgress {
        name: "feed".into(),
        cursor: Some("{\"since\":1}".into()),
        items_seen: 5,
        success_at: Some(at_minute(10)),
    };
    store
        .write_batch(
            vec![mention("feed", "1", "a", 0), mention("feed", "2", "b", 1)],
            Some(progress),
        )
        .await
        .unwrap();
    let state = store.source_state("feed").await.unwrap().unwrap();
    assert_eq!(state.cursor.as_deref(), Some("{\"since\":1}"));
    assert_eq!(state.health.items_seen, 5);
    assert_eq!(state.health.items_stored, 2);
    assert_eq!(state.health.last_success_at, Some(at_minute(10)));

    // No cursor keeps the old one; updates are seen but not stored anew.
    let progress = SourceProgress {
        name: "feed".into(),
        cursor: None,
        items_seen: 3,
        success_at: Some(at_minute(20)),
    };
    store
        .write_batch(
            vec![
                mention("feed", "2", "b edited", 1),
                mention("feed", "3", "c", 2),
            ],
            Some(progress),
        )
        .await
        .unwrap();
    let state = store.source_state("feed").await.unwrap().unwrap();
    assert_eq!(state.cursor.as_deref(), Some("{\"since\":1}"));
    assert_eq!(state.health.items_seen, 8);
    assert_eq!(state.health.items_stored, 3);
    assert_eq!(state.health.last_success_at, Some(at_minute(20)));

    // An empty batch still moves the cursor.
    let progress = SourceProgress {
        name: "feed".into(),
        cursor: Some("{\"since\":2}".into()),
        items_seen: 0,
        success_at: Some(at_minute(30)),
    };
    store.write_batch(Vec::new(), Some(progress)).await.unwrap();
    let state = store.source_state("feed").await.unwrap().unwrap();
    assert_eq!(state.cursor.as_deref(), Some("{\"since\":2}"));
}

pub async fn source_errors_and_deletion<S: Store>(store: &S) {
    let progress = SourceProgress {
        name: "masto".into(),
        cursor: Some("c".into()),
        items_seen: 1,
        success_at: Some(at_minute(1)),
    };
    store.write_batch(Vec::new(), Some(progress)).await.unwrap();
    store
        .record_source_error("masto", "HTTP 429 from https://m.example", at_minute(2))
        .await
        .unwrap();
    store
        .record_source_error("never-succeeded", "DNS failure", at_minute(3))
        .await
        .unwrap();
    let state = store.source_state("masto").await.unwrap().unwrap();
    assert_eq!(
        state.cursor.as_deref(),
        Some("c"),
        "an error leaves the cursor"
    );
    assert_eq!(
        state.health.last_error.as_deref(),
        Some("HTTP 429 from https://m.example")
    );
    assert_eq!(state.health.last_error_at, Some(at_minute(2)));
    assert_eq!(state.health.last_success_at, Some(at_minute(1)));
    let names: Vec<String> = store
        .source_states()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(
        names,
        vec!["masto".to_string(), "never-succeeded".to_string()]
    );
    store.delete_source_state("masto").await.unwrap();
    assert!(store.source_state("masto").await.unwrap().is_none());
    assert_eq!(store.source_states().await.unwrap().len(), 1);
}

pub async fn search_filters<S: Store>(store: &S) {
    let mut ru = mention("vk", "1", "Зелтрон работает отлично", 0);
    ru.lang = "ru".into();
    ru.brands = vec!["zeltron".into()];
    let mut en = mention("feed", "2", "Zeltron works well", 10);
    en.brands = vec!["zeltron".into()];
    let mut rival = mention("feed", "3", "Kvantix works too", 20);
    rival.brands = vec!["kvantix".into()];
    let outcome = store.write_batch(vec![ru, en, rival], None).await.unwrap();
    let [ru_id, en_id, rival_id] = outcome.inserted[..] else {
        panic!("expected three inserts, got {outcome:?}")
    };
    let mut copy = mention("feed", "4", "Zeltron works well", 30);
    copy.brands = vec!["zeltron".into()];
    copy.duplicate_of = Some(en_id);
    let copy_id = store.write_batch(vec![copy], None).await.unwrap().inserted[0];

    for text_query in [None, Some("works OR работает")] {
        let base = MentionFilter {
            query: text_query.map(str::to_string),
            ..MentionFilter::default()
        };
        let with = |change: &dyn Fn(&mut MentionFilter)| {
            let mut filter = base.clone();
            change(&mut filter);
            filter
        };
        assert_eq!(
            ids_for(store, &base).await,
            vec![copy_id, rival_id, en_id, ru_id]
        );
        assert_eq!(
            ids_for(store, &with(&|f| f.brand = Some("zeltron".into()))).await,
            vec![copy_id, en_id, ru_id]
        );
        assert_eq!(
            ids_for(store, &with(&|f| f.lang = Some("ru".into()))).await,
            vec![ru_id]
        );
        assert_eq!(
            ids_for(store, &with(&|f| f.source = Some("feed".into()))).await,
            vec![copy_id, rival_id, en_id]
        );
        assert_eq!(
            ids_for(store, &with(&|f| f.since = Some(at_minute(10)))).await,
            vec![copy_id, rival_id, en_id],
            "since is inclusive"
        );
        assert_eq!(
            ids_for(store, &with(&|f| f.until = Some(at_minute(20)))).await,
            vec![en_id, ru_id],
            "until is exclusive"
        );
        assert_eq!(
            ids_for(store, &with(&|f| f.hide_duplicates = true)).await,
            vec![rival_id, en_id, ru_id]
        );
        assert_eq!(
            ids_for(
                store,
                &with(&|f| {
                    f.brand = Some("zeltron".into());
                    f.source = Some("feed".into());
                    f.hide_duplicates = true;
                })
            )
            .await,
            vec![en_id]
        );
        assert!(ids_for(store, &with(&|f| f.brand = Some("nobody".into())))
            .await
            .is_empty());
    }
}

pub async fn inflected_and_accented_forms_are_found<S: Store>(store: &S) {
    let mut ru = mention("vk", "1", "Доволен Зелтроном, спасибо", 0);
    ru.lang = "ru".into();
    let mut el = mention("feed", "2", "ΖΕΛΤΡΟΝ ΕΙΝΑΙ ΚΑΛΟ", 1);
    el.lang = "el".into();
    let mut fr = mention("feed", "3", "Le café Zeltron à Paris", 2);
    fr.lang = "fr".into();
    let mut title_only = mention("feed", "4", "nothing to see here", 3);
    title_only.title = Some("Новента в заголовке".into());
    let outcome = store
        .write_batch(vec![ru, el, fr, title_only], None)
        .await
        .unwrap();
    let [ru_id, el_id, fr_id, title_id] = outcome.inserted[..] else {
        panic!("expected four inserts, got {outcome:?}")
    };
    assert_eq!(ids_for(store, &query("Зелтрон")).await, vec![ru_id]);
    assert_eq!(ids_for(store, &query("зелтрона")).await, vec![ru_id]);
    assert_eq!(ids_for(store, &query("Ζέλτρον")).await, vec![el_id]);
    assert_eq!(ids_for(store, &query("cafe")).await, vec![fr_id]);
    assert_eq!(ids_for(store, &query("CAFÉ")).await, vec![fr_id]);
    assert_eq!(ids_for(store, &query("новенту")).await, vec![title_id]);
}

pub async fn phrases_prefixes_and_boolean_queries<S: Store>(store: &S) {
    let outcome = store
        .write_batch(
            vec![
                mention("feed", "1", "The zeltron phone is out", 0),
                mention("feed", "2", "A phone by Zeltron, hiring now", 1),
                mention("feed", "3", "Zeltronix and kvantix", 2),
            ],
            None,
        )
        .await
        .unwrap();
    let [phone_id, hiring_id, prefix_id] = outcome.inserted[..] else {
        panic!("expected three inserts, got {outcome:?}")
    };
    assert_eq!(
        ids_for(store, &query("\"zeltron phone\"")).await,
        vec![phone_id]
    );
    assert_eq!(
        ids_for(store, &query("\"zeltron phones\"")).await,
        vec![phone_id]
    );
    assert_eq!(
        ids_for(store, &query("zelt*")).await,
        vec![prefix_id, hiring_id, phone_id]
    );
    assert_eq!(ids_for(store, &query("zeltroni*")).await, vec![prefix_id]);
    assert_eq!(
        ids_for(store, &query("zeltron -hiring")).await,
        vec![phone_id]
    );
    assert_eq!(
        ids_for(store, &query("zeltron NOT hiring")).await,
        vec![phone_id]
    );
    assert_eq!(
        ids_for(store, &query("phone AND hiring")).await,
        vec![hiring_id]
    );
    assert_eq!(
        ids_for(store, &query("kvantix OR hiring")).await,
        vec![prefix_id, hiring_id]
    );
    assert_eq!(
        ids_for(store, &query("(kvantix OR phone) -\"zeltron phone\"")).await,
        vec![prefix_id, hiring_id]
    );
}

async fn walk_pages<S: Store>(
    store: &S,
    filter: &MentionFilter,
    sort: SortOrder,
    page_size: usize,
) -> Vec<MentionId> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1_000 {
        let page = store
            .search(filter, sort, cursor.as_deref(), page_size)
            .await
            .unwrap();
        assert!(page.mentions.len() <= page_size);
        seen.extend(page.mentions.iter().map(|m| m.id));
        match page.next_cursor {
            Some(next) => {
                assert_eq!(
                    page.mentions.len(),
                    page_size,
                    "only the last page is short"
                );
                cursor = Some(next);
            }
            None => return seen,
        }
    }
    panic!("pagination did not end");
}

pub async fn pagination_walks_every_row_once<S: Store>(store: &S) {
    // Several mentions share a timestamp, so the order needs the id as a tie-breaker.
    let batch: Vec<NewMention> = (0..23)
        .map(|i| {
            mention(
                "feed",
                &i.to_string(),
                &format!("zeltron number {i}"),
                i / 3,
            )
        })
        .collect();
    let outcome = store.write_batch(batch, None).await.unwrap();
    let mut expected: Vec<(DateTime<Utc>, MentionId)> = Vec::new();
    for id in &outcome.inserted {
        let m = store.get(*id).await.unwrap().unwrap();
        expected.push((m.published_at, m.id));
    }
    expected.sort_by(|a, b| b.cmp(a));
    let expected: Vec<MentionId> = expected.into_iter().map(|(_, id)| id).collect();
    for filter in [MentionFilter::default(), query("zeltron")] {
        for page_size in [1, 5, 23, 50] {
            assert_eq!(
                walk_pages(store, &filter, SortOrder::Newest, page_size).await,
                expected,
                "newest order, page size {page_size}, {filter:?}"
            );
        }
    }
    let by_relevance = walk_pages(store, &query("zeltron"), SortOrder::Relevance, 4).await;
    let unique: HashSet<MentionId> = by_relevance.iter().copied().collect();
    assert_eq!(by_relevance.len(), 23, "no repeats");
    assert_eq!(
        unique,
        expected.iter().copied().collect::<HashSet<_>>(),
        "no gaps"
    );
}

pub async fn bad_cursor_and_bad_query_are_reported<S: Store>(store: &S) {
    store
        .write_batch(vec![mention("feed", "1", "zeltron", 0)], None)
        .await
        .unwrap();
    for filter in [MentionFilter::default(), query("zeltron")] {
        for garbage in ["not a cursor", "7b7d", "", "ffff"] {
            let result = store
                .search(&filter, SortOrder::Newest, Some(garbage), 10)
                .await;
            assert!(
                matches!(result, Err(StoreError::BadCursor)),
                "{garbage:?}: {result:?}"
            );
        }
    }
    let result = store
        .search(&query("zeltron AND (kvantix"), SortOrder::Newest, None, 10)
        .await;
    match result {
        Err(StoreError::Query(message)) => {
            assert!(
                message.contains("column"),
                "message names no column: {message}"
            )
        }
        other => panic!("expected a query error, got {other:?}"),
    }
}

pub async fn since_id_fingerprints_and_stats<S: Store>(store: &S) {
    let mut a = mention("feed", "1", "one", 0);
    a.fingerprint = u64::MAX - 1;
    a.brands = vec!["zeltron".into()];
    let mut b = mention("vk", "2", "two", 1);
    b.fingerprint = 0;
    b.lang = "ru".into();
    b.brands = vec!["zeltron".into(), "kvantix".into()];
    let ids = store.write_batch(vec![a, b], None).await.unwrap().inserted;
    let mut c = mention("feed", "3", "one again", 2);
    c.fingerprint = 5;
    c.duplicate_of = Some(ids[0]);
    let c_id = store.write_batch(vec![c], None).await.unwrap().inserted[0];

    let after_first: Vec<MentionId> = store
        .since_id(ids[0], 10)
        .await
        .unwrap()
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(after_first, vec![ids[1], c_id]);
    assert_eq!(store.since_id(ids[0], 1).await.unwrap().len(), 1);

    let fingerprints = store.fingerprints().await.unwrap();
    assert_eq!(fingerprints.len(), 1, "{fingerprints:?}");
    assert_eq!(fingerprints[0].id, ids[0]);
    assert_eq!(
        fingerprints[0].fingerprint,
        u64::MAX - 1,
        "u64 survives storage"
    );

    let stats = store.stats().await.unwrap();
    assert_eq!(stats.mentions, 3);
    assert_eq!(stats.duplicates, 1);
    assert_eq!(
        stats.per_brand,
        vec![("zeltron".to_string(), 2), ("kvantix".to_string(), 1)]
    );
    assert_eq!(
        stats.per_lang,
        vec![("en".to_string(), 2), ("ru".to_string(), 1)]
    );
    assert_eq!(
        stats.per_source,
        vec![("feed".to_string(), 2), ("vk".to_string(), 1)]
    );
}

pub async fn reindex_rebuilds_the_index<S: Store>(store: &S) {
    let batch: Vec<NewMention> = (0..30)
        .map(|i| mention("feed", &i.to_string(), &format!("kvantix item {i}"), i))
        .collect();
    store.write_batch(batch, None).await.unwrap();
    let calls = Mutex::new(Vec::new());
    let indexed = store
        .reindex(&|done, total| {
            calls.lock().unwrap().push((done, total));
        })
        .await
        .unwrap();
    assert_eq!(indexed, 30);
    let calls = calls.into_inner().unwrap();
    assert_eq!(calls.last(), Some(&(30, 30)), "{calls:?}");
    assert_eq!(
        store
            .search(&query("kvantix"), SortOrder::Newest, None, 100)
            .await
            .unwrap()
            .mentions
            .len(),
        30
    );
    assert_eq!(ids_for(store, &query("\"item 7\"")).await.len(), 1);
}

pub async fn analysis_is_stored_with_the_mention_and_read_back<S: Store>(store: &S) {
    let mut analysed = mention("feed", "1", "Zeltron broke again, awful", 0);
    analysed.analysis = Some(analysis("negative", "ham", &["complaint"]));
    let plain = mention("feed", "2", "Zeltron without analysis", 1);
    let outcome = store
        .write_batch(vec![analysed, plain], None)
        .await
        .unwrap();
    let [analysed_id, plain_id] = outcome.inserted[..] else {
        panic!("expected two inserts, got {outcome:?}")
    };
    let stored = store.get(analysed_id).await.unwrap().unwrap();
    assert_eq!(
        stored.analysis,
        Some(analysis("negative", "ham", &["complaint"]))
    );
    assert!(stored.corrections.is_empty());
    assert_eq!(store.get(plain_id).await.unwrap().unwrap().analysis, None);
    let since = store.since_id(MentionId(0), 10).await.unwrap();
    assert_eq!(
        since[0].analysis,
        Some(analysis("negative", "ham", &["complaint"]))
    );

    // Stored again (an update): the new analysis replaces the old one.
    let mut again = mention("feed", "1", "Zeltron works now, great", 0);
    again.analysis = Some(analysis("positive", "ham", &["praise"]));
    let outcome = store.write_batch(vec![again], None).await.unwrap();
    assert_eq!(outcome.updated, vec![analysed_id]);
    let stored = store.get(analysed_id).await.unwrap().unwrap();
    assert_eq!(
        stored.analysis.unwrap().sentiment.unwrap().label,
        "positive"
    );
}

pub async fn analysis_filters_work_with_and_without_a_query<S: Store>(store: &S) {
    let mut items = Vec::new();
    for (n, (sentiment, spam, intents)) in [
        ("negative", "ham", &["complaint", "question"][..]),
        ("positive", "ham", &["praise"][..]),
        ("negative", "spam", &[][..]),
        ("neutral", "ham", &["question"][..]),
    ]
    .into_iter()
    .enumerate()
    {
        let mut item = mention(
            "feed",
            &n.to_string(),
            &format!("Zeltron item {n}"),
            n as i64,
        );
        item.analysis = Some(analysis(sentiment, spam, intents));
        items.push(item);
    }
    items.push(mention(
        "feed",
        "plain",
        "Zeltron item without analysis",
        10,
    ));
    let ids = store.write_batch(items, None).await.unwrap().inserted;
    for query in [None, Some("zeltron")] {
        let filter =
            |sentiment: Option<&str>, intent: Option<&str>, hide_spam: bool| MentionFilter {
                query: query.map(str::to_string),
                sentiment: sentiment.map(str::to_string),
                intent: intent.map(str::to_string),
                hide_spam,
                ..MentionFilter::default()
            };
        assert_eq!(
            ids_for(store, &filter(Some("negative"), None, false)).await,
            vec![ids[2], ids[0]],
            "query {query:?}"
        );
        assert_eq!(
            ids_for(store, &filter(Some("negative"), None, true)).await,
            vec![ids[0]],
            "query {query:?}"
        );
        assert_eq!(
            ids_for(store, &filter(None, Some("question"), false)).await,
            vec![ids[3], ids[0]],
            "query {query:?}"
        );
        assert_eq!(
            ids_for(store, &filter(None, None, true)).await,
            vec![ids[4], ids[3], ids[1], ids[0]],
            "query {query:?}: a mention without analysis is not spam"
        );
        assert!(
            ids_for(store, &filter(Some("positive"), Some("complaint"), false))
                .await
                .is_empty()
        );
        assert!(ids_for(store, &filter(None, Some("\"$.x'"), false))
            .await
            .is_empty());
    }

    // Pages of a filtered full-text search walk every match once.
    for sort in [SortOrder::Newest, SortOrder::Relevance] {
        let filter = MentionFilter {
            query: Some("zeltron".into()),
            hide_spam: true,
            ..MentionFilter::default()
        };
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = store
                .search(&filter, sort, cursor.as_deref(), 1)
                .await
                .unwrap();
            seen.extend(page.mentions.iter().map(|m| m.id));
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        seen.sort();
        assert_eq!(seen, vec![ids[0], ids[1], ids[3], ids[4]], "{sort:?}");
    }
}

pub async fn corrections_override_the_shown_label_and_are_listed_for_training<S: Store>(store: &S) {
    let mut analysed = mention("feed", "1", "Zeltron broke again", 0);
    analysed.analysis = Some(analysis("negative", "ham", &["complaint"]));
    let plain = mention("feed", "2", "Zeltron, no analysis", 1);
    let ids = store
        .write_batch(vec![analysed, plain], None)
        .await
        .unwrap()
        .inserted;
    let correct =
        |field, label: &str, present| LabelCorrection::new(field, label, present).unwrap();

    assert!(!store
        .record_correction(
            MentionId(999_999),
            &correct(CorrectionField::Sentiment, "neutral", true),
            None
        )
        .await
        .unwrap());

    for (id, correction, by) in [
        (
            ids[0],
            correct(CorrectionField::Sentiment, "positive", true),
            None,
        ),
        (
            ids[0],
            correct(CorrectionField::Sentiment, "neutral", true),
            Some("ann"),
        ),
        (
            ids[0],
            correct(CorrectionField::Intent, "complaint", false),
            Some("ann"),
        ),
        (
            ids[0],
            correct(CorrectionField::Intent, "praise", true),
            None,
        ),
        (
            ids[1],
            correct(CorrectionField::Spam, "spam", true),
            Some("bob"),
        ),
    ] {
        assert!(store.record_correction(id, &correction, by).await.unwrap());
    }

    let corrected = store.get(ids[0]).await.unwrap().unwrap();
    // The model's labels stay as they were; the corrections are beside them.
    assert_eq!(
        corrected
            .analysis
            .as_ref()
            .unwrap()
            .sentiment
            .as_ref()
            .unwrap()
            .label,
        "negative"
    );
    assert_eq!(corrected.corrections.sentiment.as_deref(), Some("neutral"));
    let shown = corrected.shown_labels();
    assert_eq!(shown.sentiment.as_ref().unwrap().label, "neutral");
    assert!(shown.sentiment.as_ref().unwrap().corrected);
    let intents: Vec<&str> = shown.intents.iter().map(|s| s.label.as_str()).collect();
    assert_eq!(intents, vec!["praise"]);

    let plain = store.get(ids[1]).await.unwrap().unwrap();
    assert_eq!(
        plain.analysis, None,
        "a correction does not invent an analysis"
    );
    assert_eq!(plain.corrections.spam.as_deref(), Some("spam"));

    // The filters follow the corrections.
    let by_filter = |sentiment: Option<&str>, intent: Option<&str>, hide_spam| MentionFilter {
        sentiment: sentiment.map(str::to_string),
        intent: intent.map(str::to_string),
        hide_spam,
        ..MentionFilter::default()
    };
    assert!(ids_for(store, &by_filter(Some("negative"), None, false))
        .await
        .is_empty());
    assert_eq!(
        ids_for(store, &by_filter(Some("neutral"), None, false)).await,
        vec![ids[0]]
    );
    assert!(ids_for(store, &by_filter(None, Some("complaint"), false))
        .await
        .is_empty());
    assert_eq!(
        ids_for(store, &by_filter(None, Some("praise"), false)).await,
        vec![ids[0]]
    );
    assert_eq!(
        ids_for(store, &by_filter(None, None, true)).await,
        vec![ids[0]]
    );

    // Only the latest correction per field (and per intent) is in force for training.
    let records = store.corrections().await.unwrap();
    let summary: Vec<(MentionId, CorrectionField, &str, bool, Option<&str>)> = records
        .iter()
        .map(|r| {
            (
                r.mention_id,
                r.field,
                r.label.as_str(),
                r.present,
                r.by.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                ids[0],
                CorrectionField::Sentiment,
                "neutral",
                true,
                Some("ann")
            ),
            (
                ids[0],
                CorrectionField::Intent,
                "complaint",
                false,
                Some("ann")
            ),
            (ids[0], CorrectionField::Intent, "praise", true, None),
            (ids[1], CorrectionField::Spam, "spam", true, Some("bob")),
        ]
    );
    assert_eq!(records[0].text, "Zeltron broke again");
    assert_eq!(records[0].lang, "en");
    assert_eq!(records[1].training_label(), Some(("complaint", "other")));
    assert_eq!(records[2].training_label(), None);
}
