//! Team moves and thread corrections on a real SQLite file.

use earshot_store::inbox_team_testsuite;
use earshot_store::SqliteStore;
use tempfile::TempDir;

#[tokio::test]
async fn sqlite_moves_conversations_between_teams() {
    let root = TempDir::new().unwrap();
    let store = SqliteStore::open(root.path()).await.unwrap();
    inbox_team_testsuite::moving_to_another_team(&store).await;
}

#[tokio::test]
async fn sqlite_reads_the_corrections_of_a_thread() {
    let root = TempDir::new().unwrap();
    let store = SqliteStore::open(root.path()).await.unwrap();
    inbox_team_testsuite::corrections_of_a_thread(&store).await;
}
