//! Saved views of the inbox ([`SavedViewStore`], a supertrait of [`crate::Store`]) and their
//! SQLite implementation (`migrations/0006_inbox_views.sql`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use earshot_core::{SavedView, SavedViewId};
use sqlx::Row;

use crate::{SqliteStore, StoreError, StoreResult};

/// Longest name of a saved view.
pub const MAX_VIEW_NAME_CHARS: usize = 100;
/// Longest filter query string a view keeps.
pub const MAX_VIEW_QUERY_CHARS: usize = 2_000;

#[async_trait]
pub trait SavedViewStore: Send + Sync {
    /// The owner's views, by name.
    async fn saved_views(&self, owner: &str) -> StoreResult<Vec<SavedView>>;
    /// Save a view; saving under a name the owner already uses replaces that view's filters.
    async fn create_saved_view(
        &self,
        owner: &str,
        name: &str,
        query: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<SavedView>;
    /// Delete one of the owner's views; `false` when the owner has no such view (another
    /// user's view is never touched).
    async fn delete_saved_view(&self, owner: &str, id: SavedViewId) -> StoreResult<bool>;
}

fn db(context: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| StoreError::Database(format!("{context}: {e}"))
}

fn check(what: &'static str, value: &str, max: usize) -> StoreResult<()> {
    let chars = value.chars().count();
    if chars > max {
        return Err(StoreError::Database(format!(
            "{what} is too long ({chars} characters; at most {max})"
        )));
    }
    Ok(())
}

fn row_to_view(row: &sqlx::sqlite::SqliteRow) -> StoreResult<SavedView> {
    let at: i64 = row.get("created_at");
    Ok(SavedView {
        id: SavedViewId(row.get("id")),
        owner: row.get("owner"),
        name: row.get("name"),
        query: row.get("query"),
        created_at: DateTime::from_timestamp_micros(at).ok_or_else(|| {
            StoreError::Database(format!(
                "inbox_views.created_at holds an impossible time: {at}"
            ))
        })?,
    })
}

#[async_trait]
impl SavedViewStore for SqliteStore {
    async fn saved_views(&self, owner: &str) -> StoreResult<Vec<SavedView>> {
        let rows = sqlx::query(
            "SELECT id, owner, name, query, created_at FROM inbox_views \
             WHERE owner = ? ORDER BY name COLLATE NOCASE, id",
        )
        .bind(owner)
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading saved views"))?;
        rows.iter().map(row_to_view).collect()
    }

    async fn create_saved_view(
        &self,
        owner: &str,
        name: &str,
        query: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<SavedView> {
        let name = name.trim();
        if name.is_empty() {
            return Err(StoreError::Database("a saved view needs a name".into()));
        }
        check("the view's name", name, MAX_VIEW_NAME_CHARS)?;
        check("the view's filters", query, MAX_VIEW_QUERY_CHARS)?;
        let row = sqlx::query(
            "INSERT INTO inbox_views (owner, name, query, created_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (owner, name) DO UPDATE SET query = excluded.query \
             RETURNING id, owner, name, query, created_at",
        )
        .bind(owner)
        .bind(name)
        .bind(query)
        .bind(at.timestamp_micros())
        .fetch_one(&self.pool)
        .await
        .map_err(db("saving a view"))?;
        row_to_view(&row)
    }

    async fn delete_saved_view(&self, owner: &str, id: SavedViewId) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM inbox_views WHERE id = ? AND owner = ?")
            .bind(id.0)
            .bind(owner)
            .execute(&self.pool)
            .await
            .map_err(db("deleting a saved view"))?;
        Ok(done.rows_affected() > 0)
    }
}

/// Behaviour tests of [`SavedViewStore`], runnable against any [`crate::Store`].
pub mod testsuite {
    use chrono::{TimeZone, Utc};
    use earshot_core::SavedViewId;

    use crate::Store;

    pub async fn run_all(store: &dyn Store) {
        views_belong_to_their_owner(store).await;
        saving_a_name_again_replaces_its_filters(store).await;
        bad_views_are_refused(store).await;
    }

    pub async fn views_belong_to_their_owner(store: &dyn Store) {
        let at = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap();
        let mine = store
            .create_saved_view("anna", "Urgent support", "team=support&priority=urgent", at)
            .await
            .unwrap();
        store
            .create_saved_view("anna", "billing", "team=billing", at)
            .await
            .unwrap();
        store
            .create_saved_view("boris", "mine", "mine=1", at)
            .await
            .unwrap();
        let names: Vec<String> = store
            .saved_views("anna")
            .await
            .unwrap()
            .into_iter()
            .map(|v| v.name)
            .collect();
        assert_eq!(names, ["billing", "Urgent support"]);
        assert_eq!(mine.query, "team=support&priority=urgent");
        assert_eq!(mine.created_at, at);
        // Boris cannot delete Anna's view, and an unknown id deletes nothing.
        assert!(!store.delete_saved_view("boris", mine.id).await.unwrap());
        assert!(!store
            .delete_saved_view("anna", SavedViewId(999_999))
            .await
            .unwrap());
        assert!(store.delete_saved_view("anna", mine.id).await.unwrap());
        assert_eq!(store.saved_views("anna").await.unwrap().len(), 1);
        assert_eq!(store.saved_views("boris").await.unwrap().len(), 1);
    }

    pub async fn saving_a_name_again_replaces_its_filters(store: &dyn Store) {
        let at = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap();
        let first = store
            .create_saved_view("clara", "Queue", "team=sales", at)
            .await
            .unwrap();
        let second = store
            .create_saved_view("clara", "Queue", "team=product", at)
            .await
            .unwrap();
        assert_eq!(first.id, second.id);
        let views = store.saved_views("clara").await.unwrap();
        assert_eq!(views.len(), 1);
        assert_eq!(views[0].query, "team=product");
    }

    pub async fn bad_views_are_refused(store: &dyn Store) {
        let at = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap();
        let empty = store.create_saved_view("dan", "  ", "x=1", at).await;
        assert!(empty.unwrap_err().to_string().contains("needs a name"));
        let long = "n".repeat(super::MAX_VIEW_NAME_CHARS + 1);
        let too_long = store.create_saved_view("dan", &long, "x=1", at).await;
        assert!(too_long.unwrap_err().to_string().contains("too long"));
        assert!(store.saved_views("dan").await.unwrap().is_empty());
    }
}
