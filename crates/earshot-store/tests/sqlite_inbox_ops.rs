//! The inbox-operations behaviour suite (user e-mail addresses, batched conversations) on
//! real SQLite files in a tempdir.

use earshot_store::testsuite_inbox_ops;
use earshot_store::SqliteStore;
use tempfile::TempDir;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_passes_the_inbox_ops_suite() {
    let root = TempDir::new().unwrap();
    let counter = std::sync::atomic::AtomicUsize::new(0);
    testsuite_inbox_ops::run_all(|| {
        let dir = root.path().join(format!(
            "ws{}",
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        async move { SqliteStore::open(&dir).await.unwrap() }
    })
    .await;
}
