//! The publication queue behaviour suite on real SQLite files in a tempdir.

use earshot_store::publications_testsuite;
use earshot_store::SqliteStore;
use tempfile::TempDir;

#[tokio::test]
async fn sqlite_store_passes_the_publication_behaviour_suite() {
    let root = TempDir::new().unwrap();
    let counter = std::sync::atomic::AtomicUsize::new(0);
    publications_testsuite::run_all(|| {
        let dir = root.path().join(format!(
            "ws{}",
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        async move { SqliteStore::open(&dir).await.unwrap() }
    })
    .await;
}
