//! The inbox behaviour suite on real SQLite files in a tempdir, and what only SQLite can show
//! (the list queries use the indexes meant for them).

use earshot_core::{ConversationFilter, NewConversation, Stamp};
use earshot_store::inbox_testsuite;
use earshot_store::testsuite::{at_minute, mention};
use earshot_store::{InboxStore, SqliteStore, Store};
use tempfile::TempDir;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_passes_the_inbox_behaviour_suite() {
    let root = TempDir::new().unwrap();
    let counter = std::sync::atomic::AtomicUsize::new(0);
    inbox_testsuite::run_all(|| {
        let dir = root.path().join(format!(
            "ws{}",
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        async move { SqliteStore::open(&dir).await.unwrap() }
    })
    .await;
}

#[tokio::test]
async fn conversations_survive_reopening() {
    let root = TempDir::new().unwrap();
    let store = SqliteStore::open(root.path()).await.unwrap();
    let root_mention = store
        .write_batch(vec![mention("masto", "1", "help", 0)], None)
        .await
        .unwrap()
        .inserted[0];
    let (created, _) = store
        .create_conversation(
            &NewConversation::for_mention(root_mention),
            &Stamp::system(at_minute(1)),
        )
        .await
        .unwrap();
    store.close().await;
    let store = SqliteStore::open(root.path()).await.unwrap();
    assert_eq!(store.conversation(created.id).await.unwrap(), Some(created));
    let page = store
        .list_conversations(&ConversationFilter::open(), None, 10)
        .await
        .unwrap();
    assert_eq!(page.conversations.len(), 1);
}
