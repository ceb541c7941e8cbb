//! Earshot's sources: one module per network or format. A source knows how to fetch items
//! and how to continue from a cursor; it knows nothing of storage, matching or analysis.

use async_trait::async_trait;
use earshot_core::IncomingMention;
use std::time::Duration;

/// What one poll returned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PollOutcome {
    pub items: Vec<IncomingMention>,
    /// The cursor to persist once `items` are stored. Polling again with it returns only
    /// items not returned before.
    pub cursor: Option<String>,
    /// Problems that did not stop the poll (a broken entry, an unreachable comment feed),
    /// each naming what and where.
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{source_name}: rate limited by the server; retry after {retry_after:?}")]
    RateLimited {
        source_name: String,
        retry_after: Duration,
    },
    #[error("{source_name}: {message}")]
    Http { source_name: String, message: String },
    #[error("{source_name}: malformed response: {message}")]
    Malformed { source_name: String, message: String },
    #[error("{source_name}: authentication failed: {message}")]
    Auth { source_name: String, message: String },
    #[error("{source_name}: bad configuration: {message}")]
    Config { source_name: String, message: String },
}

#[async_trait]
pub trait Source: Send + Sync {
    fn name(&self) -> &str;
    /// Fetch what is new since `cursor` (everything available when `None`).
    async fn poll(&self, cursor: Option<&str>) -> Result<PollOutcome, SourceError>;
}
