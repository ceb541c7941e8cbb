//! The routing rules a running server uses, replaceable while it runs: the rules editor
//! swaps in a newly compiled set and the next ingested batch routes by it, without a restart.
//!
//! The ingest hook takes the current set once per batch (a read lock and an `Arc` clone), so
//! a swap never waits for routing and routing never sees half of a change.

use std::sync::{Arc, RwLock};

use super::rules::RoutingRules;

#[derive(Debug)]
pub struct LiveRules {
    current: RwLock<Arc<RoutingRules>>,
}

impl LiveRules {
    pub fn new(rules: Arc<RoutingRules>) -> Self {
        LiveRules {
            current: RwLock::new(rules),
        }
    }

    /// The rules in force now.
    pub fn current(&self) -> Arc<RoutingRules> {
        // A writer cannot panic halfway through replacing an `Arc`, so a poisoned lock still
        // holds a complete set.
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Route by `rules` from the next batch on.
    pub fn replace(&self, rules: Arc<RoutingRules>) {
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = rules;
    }
}
