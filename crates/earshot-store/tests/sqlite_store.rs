//! The store behaviour suite and the SQLite-specific behaviours, on real files in a tempdir.

use earshot_core::{MentionFilter, MentionId, SortOrder};
use earshot_store::fts5_baseline::Fts5Baseline;
use earshot_store::testsuite::{self, mention};
use earshot_store::{SqliteStore, Store};
use tempfile::TempDir;

fn query(text: &str) -> MentionFilter {
    MentionFilter {
        query: Some(text.to_string()),
        ..MentionFilter::default()
    }
}

async fn found<S: Store>(store: &S, text: &str) -> Vec<MentionId> {
    store
        .search(&query(text), SortOrder::Newest, None, 100)
        .await
        .unwrap()
        .mentions
        .iter()
        .map(|m| m.id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_passes_the_behaviour_suite() {
    let root = TempDir::new().unwrap();
    let counter = std::sync::atomic::AtomicUsize::new(0);
    testsuite::run_all(|| {
        let dir = root.path().join(format!(
            "ws{}",
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        async move { SqliteStore::open(&dir).await.unwrap() }
    })
    .await;
}

#[tokio::test]
async fn sqlite_store_passes_the_outbox_behaviour_suite() {
    let root = TempDir::new().unwrap();
    let counter = std::sync::atomic::AtomicUsize::new(0);
    testsuite::outbox::run_all(|| {
        let dir = root.path().join(format!(
            "ws{}",
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        async move { SqliteStore::open(&dir).await.unwrap() }
    })
    .await;
}

#[tokio::test]
async fn open_creates_the_database_and_index() {
    let root = TempDir::new().unwrap();
    let workspace = root.path().join("nested/workspace");
    let store = SqliteStore::open(&workspace).await.unwrap();
    assert!(workspace.join("earshot.db").is_file());
    assert!(workspace.join("index/meta.json").is_file());
    assert!(store.index_is_writable());
    store.close().await;
}

#[tokio::test]
async fn data_and_index_persist_across_reopening() {
    let root = TempDir::new().unwrap();
    let store = SqliteStore::open(root.path()).await.unwrap();
    let id = store
        .write_batch(vec![mention("feed", "1", "Доволен Зелтроном", 0)], None)
        .await
        .unwrap()
        .inserted[0];
    store.close().await;

    let reopened = SqliteStore::open(root.path()).await.unwrap();
    assert_eq!(
        reopened.get(id).await.unwrap().unwrap().text,
        "Доволен Зелтроном"
    );
    assert_eq!(found(&reopened, "зелтрон").await, vec![id]);
    // Ids keep growing after a reopen.
    let next = reopened
        .write_batch(vec![mention("feed", "2", "another", 1)], None)
        .await
        .unwrap()
        .inserted[0];
    assert!(next > id);
    reopened.close().await;
}

#[tokio::test]
async fn index_catches_up_after_a_crash_between_the_two_commits() {
    let root = TempDir::new().unwrap();
    let store = SqliteStore::open(root.path()).await.unwrap();
    let indexed = store
        .write_batch(vec![mention("feed", "1", "kvantix indexed", 0)], None)
        .await
        .unwrap()
        .inserted[0];
    store.skip_index_commits(true);
    let lost = store
        .write_batch(vec![mention("feed", "2", "kvantix lost", 1)], None)
        .await
        .unwrap()
        .inserted[0];
    let edited = store
        .write_batch(vec![mention("feed", "1", "kvantix edited", 2)], None)
        .await
        .unwrap()
        .updated;
    assert_eq!(edited, vec![indexed]);
    assert_eq!(
        found(&store, "lost").await,
        Vec::<MentionId>::new(),
        "the index missed it"
    );
    store.close().await;

    let reopened = SqliteStore::open(root.path()).await.unwrap();
    assert_eq!(found(&reopened, "lost").await, vec![lost]);
    assert_eq!(found(&reopened, "edited").await, vec![indexed]);
    assert!(
        found(&reopened, "indexed").await.is_empty(),
        "the old version is gone"
    );
    assert_eq!(found(&reopened, "kvantix").await, vec![lost, indexed]);
    reopened.close().await;
}

#[tokio::test]
async fn a_second_store_on_the_workspace_searches_read_only() {
    let root = TempDir::new().unwrap();
    let holder = SqliteStore::open(root.path()).await.unwrap();
    let second = SqliteStore::open(root.path()).await.unwrap();
    assert!(holder.index_is_writable());
    assert!(
        !second.index_is_writable(),
        "tantivy's writer lock is taken"
    );

    // The second store writes the database; the holder indexes the rows when it next looks.
    let id = second
        .write_batch(vec![mention("cli", "1", "written by fetch", 0)], None)
        .await
        .unwrap()
        .inserted[0];
    assert_eq!(
        holder.get(id).await.unwrap().unwrap().text,
        "written by fetch"
    );
    assert_eq!(found(&holder, "fetch").await, vec![id]);
    let by_holder = holder
        .write_batch(vec![mention("serve", "2", "written by serve", 1)], None)
        .await
        .unwrap()
        .inserted[0];
    assert_eq!(found(&holder, "written").await, vec![by_holder, id]);

    // Once the holder is gone, the second store takes the writer over.
    holder.close().await;
    assert_eq!(found(&second, "written").await, vec![by_holder, id]);
    assert!(second.index_is_writable());
    second.close().await;
}

#[tokio::test]
async fn fts5_baseline_searches_but_misses_inflected_forms() {
    let root = TempDir::new().unwrap();
    let baseline = Fts5Baseline::open(&root.path().join("fts5.db"))
        .await
        .unwrap();
    let mut ru = mention("vk", "1", "Доволен Зелтроном, спасибо", 0);
    ru.lang = "ru".into();
    ru.brands = vec!["zeltron".into()];
    let mut en = mention("feed", "2", "The zeltron phone, café edition", 1);
    en.brands = vec!["zeltron".into()];
    let other = mention("feed", "3", "kvantix phone", 2);
    let ids = baseline
        .import(&[ru.clone(), en.clone(), other.clone()])
        .await
        .unwrap();
    let search = |text: &str| {
        let filter = query(text);
        let baseline = &baseline;
        async move { baseline.search(&filter, 10).await.unwrap() }
    };
    assert_eq!(search("zeltron").await, vec![ids[1]]);
    assert_eq!(search("\"zeltron phone\"").await, vec![ids[1]]);
    assert_eq!(search("phone -zeltron").await, vec![ids[2]]);
    assert_eq!(search("zelt* OR kvantix").await, vec![ids[2], ids[1]]);
    assert_eq!(search("cafe").await, vec![ids[1]]);
    assert_eq!(search("Зелтроном").await, vec![ids[0]]);
    let mut filtered = query("phone");
    filtered.brand = Some("zeltron".into());
    assert_eq!(baseline.search(&filtered, 10).await.unwrap(), vec![ids[1]]);

    // The difference that matters: without stemming FTS5 does not find the inflected form,
    // while the store's index does.
    assert!(search("Зелтрон").await.is_empty());
    let store = SqliteStore::open(&root.path().join("ws")).await.unwrap();
    let stored = store
        .write_batch(vec![ru, en, other], None)
        .await
        .unwrap()
        .inserted;
    assert_eq!(found(&store, "Зелтрон").await, vec![stored[0]]);
    store.close().await;
}

#[tokio::test]
async fn write_batch_reports_where_each_item_went_in_order() {
    let root = TempDir::new().unwrap();
    let store = SqliteStore::open(root.path()).await.unwrap();
    let first = store
        .write_batch(
            vec![
                mention("vk", "1", "Zeltron one", 1),
                mention("vk", "2", "Zeltron two", 2),
                // The same mention again within the batch: one row, reported new only once.
                mention("vk", "1", "Zeltron one, edited", 3),
            ],
            None,
        )
        .await
        .unwrap();
    assert_eq!(first.per_item.len(), 3);
    assert_eq!(first.per_item[0], (first.per_item[2].0, true));
    assert!(first.per_item[1].1);
    assert!(!first.per_item[2].1);
    assert_ne!(first.per_item[0].0, first.per_item[1].0);
    let second = store
        .write_batch(
            vec![
                mention("vk", "3", "Zeltron three", 4),
                mention("vk", "2", "Zeltron two again", 5),
            ],
            None,
        )
        .await
        .unwrap();
    assert!(second.per_item[0].1);
    assert_eq!(second.per_item[1], (first.per_item[1].0, false));
    assert_eq!(second.inserted.len(), 1);
    assert_eq!(second.updated, vec![first.per_item[1].0]);
}

#[tokio::test]
async fn batches_waiting_for_a_grouped_index_commit_are_searchable_and_kept_at_exit() {
    let root = TempDir::new().unwrap();
    {
        let store = SqliteStore::open(root.path()).await.unwrap();
        store
            .write_batch(vec![mention("vk", "1", "Zeltron first batch", 1)], None)
            .await
            .unwrap();
        // Written right after the first: its index commit is grouped with later ones.
        store
            .write_batch(vec![mention("vk", "2", "Zeltron second batch", 2)], None)
            .await
            .unwrap();
        assert_eq!(
            found(&store, "second").await.len(),
            1,
            "a search commits what waits"
        );
        store
            .write_batch(vec![mention("vk", "3", "Zeltron third batch", 3)], None)
            .await
            .unwrap();
        // A clean exit commits what waits; a crash instead is caught up on open (see the
        // simulated-crash test).
        store.close().await;
    }
    let store = SqliteStore::open(root.path()).await.unwrap();
    assert_eq!(found(&store, "third").await.len(), 1);
    assert_eq!(
        found(&store, "Zeltron").await.len(),
        3,
        "no document indexed twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_workers_never_claim_one_outbox_message_twice() {
    use earshot_core::{NewOutboxMessage, OutboxId};
    use earshot_store::OutboxStore;
    use std::collections::HashSet;
    use std::sync::Arc;
    use std::time::Duration;

    let root = TempDir::new().unwrap();
    let store = Arc::new(SqliteStore::open(root.path()).await.unwrap());
    let now = testsuite::at_minute(0);
    for i in 0..200 {
        let message = NewOutboxMessage {
            kind: earshot_core::OutboxKind::Webhook,
            dedup_key: format!("m{i}"),
            payload: serde_json::json!({"i": i}),
            deliver_after: None,
        };
        store.enqueue(message, now).await.unwrap();
    }
    let workers = (0..4).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            let mut mine: Vec<OutboxId> = Vec::new();
            loop {
                let claimed = store
                    .claim_due(now, 7, Duration::from_secs(60))
                    .await
                    .unwrap();
                if claimed.is_empty() {
                    return mine;
                }
                mine.extend(claimed.iter().map(|c| c.message.id));
            }
        })
    });
    let mut seen = HashSet::new();
    let mut total = 0;
    for worker in workers {
        for id in worker.await.unwrap() {
            total += 1;
            assert!(seen.insert(id), "message {id} was claimed twice");
        }
    }
    assert_eq!(total, 200);
}

/// A batch this large makes the store keep its dedup keys in memory (`KNOWN_KEYS_MIN_BATCH`).
const LARGE_BATCH: usize = 1_500;

fn numbered(source: &str, from: usize, count: usize) -> Vec<earshot_core::NewMention> {
    (from..from + count)
        .map(|n| {
            let mut m = mention(source, &format!("{n}"), &format!("item {n}"), n as i64);
            m.canonical_url = Some(format!("https://{source}.example/post/{n}"));
            m
        })
        .collect()
}

#[tokio::test]
async fn large_batches_still_find_keys_written_by_another_process() {
    let root = TempDir::new().unwrap();
    let importer = SqliteStore::open(root.path()).await.unwrap();
    let other = SqliteStore::open(root.path()).await.unwrap();

    // The first large batch loads the keys; the rows written before it must be found.
    let early = other
        .write_batch(numbered("feed", 0, 10), None)
        .await
        .unwrap();
    assert_eq!(early.inserted.len(), 10);
    let first = importer
        .write_batch(numbered("feed", 5, LARGE_BATCH), None)
        .await
        .unwrap();
    assert_eq!(first.updated.len(), 5, "items 5..10 existed");
    assert_eq!(first.inserted.len(), LARGE_BATCH - 5);

    // Another process writes after the keys were loaded: by external id, and a mention of
    // another source under a canonical URL the importer will meet again.
    let later = numbered("feed", 10_000, 3);
    other.write_batch(later.clone(), None).await.unwrap();
    let mut by_url = mention("elsewhere", "x", "same post", 0);
    by_url.canonical_url = Some("https://feed.example/post/20000".into());
    let url_owner = other
        .write_batch(vec![by_url], None)
        .await
        .unwrap()
        .inserted[0];

    let mut second_batch = numbered("feed", 20_000, LARGE_BATCH);
    second_batch.extend(later);
    let second = importer.write_batch(second_batch, None).await.unwrap();
    assert_eq!(
        second.updated.len(),
        4,
        "3 by external id and 1 by canonical URL"
    );
    assert!(second.updated.contains(&url_owner));
    assert_eq!(second.inserted.len(), LARGE_BATCH - 1);

    // Importing everything again stores nothing new.
    let mut again = numbered("feed", 5, LARGE_BATCH);
    again.extend(numbered("feed", 20_000, LARGE_BATCH));
    let repeated = importer.write_batch(again, None).await.unwrap();
    assert!(repeated.inserted.is_empty());
    assert_eq!(repeated.updated.len(), 2 * LARGE_BATCH);
    assert_eq!(
        importer.stats().await.unwrap().mentions as usize,
        10 + (LARGE_BATCH - 5) + 3 + 1 + (LARGE_BATCH - 1)
    );
    other.close().await;
    importer.close().await;
}
