//! The inbox's logic: routing rules, priority, working hours and SLA deadlines, assignment,
//! threading, the ingest hook that opens conversations, and the SLA checker.

pub mod hours;

pub use hours::{parse_duration, HoursError, WorkingHours};
