//! Saved inbox views on a real SQLite file.

use earshot_store::{inbox_views, SqliteStore};
use tempfile::TempDir;

#[tokio::test]
async fn sqlite_store_passes_the_saved_view_suite() {
    let root = TempDir::new().unwrap();
    let store = SqliteStore::open(root.path()).await.unwrap();
    inbox_views::testsuite::run_all(&store).await;
    store.close().await;
}
