//! The running Earshot system: the ingest pipeline every item passes through, the import
//! driver that feeds files into it, the scheduler that polls sources inside `earshot serve`, and
//! the inbox's logic ([`inbox`]: routing, priority, SLA, assignment, threading).

pub mod import;
pub mod inbox;
pub mod outbox;
pub mod pipeline;
pub mod publishing;
pub mod replies;
pub mod scheduler;

pub use import::{import_items, ImportProgress, ImportReport};
pub use outbox::{
    Clock, Delivery, ManualClock, OutboxError, OutboxReport, OutboxWorker, RetryPolicy, SystemClock,
};
pub use pipeline::{IngestReport, Pipeline, PipelineError};
pub use publishing::{
    link_reply_to_publication, Attempt, NoOutcomeListener, PublicationOutcomes, PublicationWorker,
    PublicationWorkerError, PublisherDirectory, PublisherMap, PublishingReport,
};
pub use scheduler::{poll_source_once, PollError, PollReport, Scheduled, Scheduler};
