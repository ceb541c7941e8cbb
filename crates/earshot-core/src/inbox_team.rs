//! Moving a conversation to another team: the SLA deadlines that go with the move.
//!
//! Who decides the new deadlines is the engine (it knows the teams' working hours); the store
//! only writes them with the move, in one transaction.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// New SLA deadlines for a conversation that changes team. `None` for a clock means the clock
/// does not run (already stopped, or an ignored conversation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaDue {
    pub first_response: Option<DateTime<Utc>>,
    pub resolution: Option<DateTime<Utc>>,
}
