use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What the store keeps per source between polls: the cursor that makes a restart neither
/// miss nor repeat items, and the figures shown on the sources page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceState {
    pub name: String,
    /// Opaque to everyone but the source that wrote it (JSON in practice).
    pub cursor: Option<String>,
    pub health: SourceHealth,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceHealth {
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// Items the source has handed over, in total.
    pub items_seen: u64,
    /// Items that matched a brand and were stored as new mentions, in total.
    pub items_stored: u64,
}
