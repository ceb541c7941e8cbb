//! Tracked links, clicks, conversions and campaigns on a real SQLite file.

use earshot_store::{links, SqliteStore};
use tempfile::TempDir;

#[tokio::test]
async fn sqlite_store_passes_the_links_and_campaigns_suite() {
    let root = TempDir::new().unwrap();
    let store = SqliteStore::open(root.path()).await.unwrap();
    links::testsuite::run_all(&store).await;
    store.close().await;
}
