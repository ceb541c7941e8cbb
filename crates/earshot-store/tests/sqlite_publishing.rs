//! The publishing behaviour suite on a real SQLite file.

use earshot_store::{publishing_testsuite, SqliteStore};
use tempfile::TempDir;

#[tokio::test]
async fn sqlite_store_passes_the_publishing_suite() {
    let root = TempDir::new().unwrap();
    let store = SqliteStore::open(root.path()).await.unwrap();
    publishing_testsuite::run_all(&store).await;
    store.close().await;
}

#[tokio::test]
async fn publishing_survives_reopening_the_store() {
    let root = TempDir::new().unwrap();
    let store = SqliteStore::open(root.path()).await.unwrap();
    publishing_testsuite::a_post_goes_through_every_step_in_order(&store).await;
    store.close().await;
    let store = SqliteStore::open(root.path()).await.unwrap();
    let account = earshot_store::PublishingStore::account_by_name(&store, "acc-flow")
        .await
        .unwrap()
        .expect("the account is still there");
    let posts = earshot_store::PublishingStore::list_posts(
        &store,
        &earshot_store::PostFilter {
            account: Some(account.id),
            ..Default::default()
        },
        10,
    )
    .await
    .unwrap();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].state, earshot_core::PostState::Approved);
    store.close().await;
}
