//! Feeding a file (or any iterator of items) through the pipeline in batches.
//!
//! Reading, parsing and preparing run on a blocking thread (preparing uses every core) while
//! the previous batch is written, so the store's single writer is never idle waiting for CPU.

use std::fmt::Display;
use std::sync::Arc;

use earshot_core::IncomingMention;
use tokio::sync::mpsc;

use crate::pipeline::{IngestReport, Pipeline, PipelineError, Prepared};

/// Items per transaction: large enough to amortise the commit, small enough to bound memory.
pub const IMPORT_BATCH: usize = 20_000;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub ingest: IngestReport,
    /// Lines that could not be read, each with its line number and what was wrong.
    pub errors: Vec<String>,
    pub error_count: u64,
}

/// Called after each committed batch, and for each bad line.
pub trait ImportProgress: Send + Sync {
    fn batch_written(&self, report_so_far: &IngestReport);
    fn bad_line(&self, message: &str);
}

impl ImportProgress for () {
    fn batch_written(&self, _: &IngestReport) {}
    fn bad_line(&self, _: &str) {}
}

/// Errors kept in the report; past this only the count grows (the full list goes to `bad_line`).
const KEPT_ERRORS: usize = 1_000;

/// Run every item of `items` through the pipeline; a bad item is reported and skipped, the
/// rest go on. Each batch is stored in one transaction: a failure of the store stops the import
/// with the batches before it committed and nothing of the failing one.
pub async fn import_items<I, E>(
    pipeline: Arc<Pipeline>,
    items: I,
    progress: Arc<dyn ImportProgress>,
) -> Result<ImportReport, PipelineError>
where
    I: Iterator<Item = Result<IncomingMention, E>> + Send + 'static,
    E: Display,
{
    let (sender, mut receiver) = mpsc::channel::<Prepared>(2);
    let preparer = pipeline.clone();
    let reader_progress = progress.clone();
    let reader = tokio::task::spawn_blocking(move || {
        let mut errors = Vec::new();
        let mut error_count = 0u64;
        let mut batch = Vec::with_capacity(IMPORT_BATCH);
        let mut items = items;
        loop {
            let next = items.next();
            let done = next.is_none();
            match next {
                Some(Ok(item)) => batch.push(item),
                Some(Err(error)) => {
                    let message = error.to_string();
                    reader_progress.bad_line(&message);
                    error_count += 1;
                    if errors.len() < KEPT_ERRORS {
                        errors.push(message);
                    }
                }
                None => {}
            }
            if batch.len() >= IMPORT_BATCH || (done && !batch.is_empty()) {
                let prepared = preparer.prepare(std::mem::take(&mut batch));
                if sender.blocking_send(prepared).is_err() {
                    break; // the writer stopped on an error; it reports it
                }
            }
            if done {
                break;
            }
        }
        (errors, error_count)
    });

    let mut report = ImportReport::default();
    let mut failure = None;
    while let Some(prepared) = receiver.recv().await {
        match pipeline.store_prepared(prepared, None).await {
            Ok(batch) => {
                report.ingest.add(&batch);
                progress.batch_written(&report.ingest);
            }
            Err(error) => {
                failure = Some(error);
                break;
            }
        }
    }
    drop(receiver);
    let (errors, error_count) = reader.await.expect("import reader thread panicked");
    report.errors = errors;
    report.error_count = error_count;
    match failure {
        Some(error) => Err(error),
        None => {
            pipeline.store().flush().await?;
            Ok(report)
        }
    }
}
