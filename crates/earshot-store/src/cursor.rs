//! Page cursors: opaque to callers, hex-encoded JSON inside.

use serde::{Deserialize, Serialize};

use crate::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) enum PageCursor {
    /// Newest order: the last row shown, as (published_at in microseconds, id).
    #[serde(rename = "n")]
    Newest(i64, i64),
    /// Relevance order: how many hits the pages so far have shown.
    #[serde(rename = "r")]
    Relevance(usize),
}

impl PageCursor {
    pub fn encode(&self) -> String {
        hex::encode(serde_json::to_vec(self).expect("a cursor always serializes"))
    }

    pub fn decode(raw: &str) -> Result<PageCursor, StoreError> {
        let bytes = hex::decode(raw.trim()).map_err(|_| StoreError::BadCursor)?;
        serde_json::from_slice(&bytes).map_err(|_| StoreError::BadCursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        for cursor in [PageCursor::Newest(-5, 42), PageCursor::Relevance(300)] {
            assert_eq!(PageCursor::decode(&cursor.encode()).unwrap(), cursor);
        }
        for garbage in [
            "",
            "zz",
            "7b7d",
            &hex::encode("{\"x\":1}"),
            &hex::encode("[1,2]"),
        ] {
            assert!(
                matches!(PageCursor::decode(garbage), Err(StoreError::BadCursor)),
                "{garbage:?} was accepted"
            );
        }
    }
}
