//! Saved views of the inbox: a person's named filter sets, listed in the inbox's sidebar.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Store-assigned identifier of a saved view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SavedViewId(pub i64);

impl std::fmt::Display for SavedViewId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A named filter set of one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedView {
    pub id: SavedViewId,
    /// The user it belongs to; nobody else sees it.
    pub owner: String,
    pub name: String,
    /// The inbox list's filters as a query string (`state=new&team=support`).
    pub query: String,
    pub created_at: DateTime<Utc>,
}
