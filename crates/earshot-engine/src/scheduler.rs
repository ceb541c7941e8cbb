//! Polling sources: one pass (`earshot fetch`) or forever on each source's interval
//! (`earshot serve`). A source's cursor is committed with the items it produced, so a restart
//! neither misses nor repeats items.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use earshot_sources::{Source, SourceError};
use earshot_store::SourceProgress;
use tokio_util::sync::CancellationToken;

use crate::pipeline::{IngestReport, Pipeline, PipelineError};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollReport {
    pub source: String,
    pub ingest: IngestReport,
    /// Problems that did not stop the poll, each naming what and where.
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("{source_name}: {error}")]
    Pipeline {
        source_name: String,
        error: PipelineError,
    },
}

/// Poll one source once and store what it returned, recording success or failure in the
/// source's state.
pub async fn poll_source_once(
    pipeline: &Pipeline,
    source: &dyn Source,
) -> Result<PollReport, PollError> {
    let name = source.name().to_string();
    let store = pipeline.store();
    let pipeline_error = |error: PipelineError| PollError::Pipeline {
        source_name: name.clone(),
        error,
    };
    let state = store
        .source_state(&name)
        .await
        .map_err(|e| pipeline_error(e.into()))?;
    let cursor = state.and_then(|s| s.cursor);
    let outcome = match source.poll(cursor.as_deref()).await {
        Ok(outcome) => outcome,
        Err(error) => {
            let message = error.to_string();
            tracing::warn!(source = %name, "{message}");
            if let Err(store_error) = store.record_source_error(&name, &message, Utc::now()).await {
                tracing::error!(source = %name, "could not record the error: {store_error}");
            }
            return Err(error.into());
        }
    };
    for warning in &outcome.warnings {
        tracing::warn!(source = %name, "{warning}");
    }
    let progress = SourceProgress {
        name: name.clone(),
        cursor: outcome.cursor,
        items_seen: outcome.items.len() as u64,
        success_at: Some(Utc::now()),
    };
    let ingest = pipeline
        .ingest(outcome.items, Some(progress))
        .await
        .map_err(pipeline_error)?;
    tracing::info!(
        source = %name,
        seen = ingest.seen,
        new = ingest.inserted,
        updated = ingest.updated,
        "polled"
    );
    Ok(PollReport {
        source: name,
        ingest,
        warnings: outcome.warnings,
    })
}

/// A source and how often to poll it.
pub struct Scheduled {
    pub source: Arc<dyn Source>,
    pub interval: Duration,
}

/// Polls every source on its own interval until cancelled.
pub struct Scheduler {
    pipeline: Arc<Pipeline>,
    sources: Vec<Scheduled>,
}

/// After a failure the next try comes sooner than the interval, but never hammers a server.
const MIN_RETRY: Duration = Duration::from_secs(30);

impl Scheduler {
    pub fn new(pipeline: Arc<Pipeline>, sources: Vec<Scheduled>) -> Self {
        Scheduler { pipeline, sources }
    }

    /// Run until `shutdown` is cancelled. Each source polls at once, then on its interval; a
    /// 429 waits at least as long as the server's `Retry-After`; other failures back off.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut tasks = tokio::task::JoinSet::new();
        for scheduled in self.sources {
            let pipeline = self.pipeline.clone();
            let shutdown = shutdown.clone();
            tasks.spawn(async move {
                let mut failures = 0u32;
                loop {
                    let result = tokio::select! {
                        result = poll_source_once(&pipeline, scheduled.source.as_ref()) => result,
                        _ = shutdown.cancelled() => return,
                    };
                    let wait = next_wait(&result, scheduled.interval, &mut failures);
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = shutdown.cancelled() => return,
                    }
                }
            });
        }
        while tasks.join_next().await.is_some() {}
    }
}

fn next_wait(
    result: &Result<PollReport, PollError>,
    interval: Duration,
    failures: &mut u32,
) -> Duration {
    match result {
        Ok(_) => {
            *failures = 0;
            interval
        }
        Err(PollError::Source(SourceError::RateLimited { retry_after, .. })) => {
            *failures += 1;
            (*retry_after).max(MIN_RETRY.min(interval))
        }
        Err(_) => {
            *failures += 1;
            let backoff = MIN_RETRY.saturating_mul(1 << (*failures - 1).min(6));
            backoff.min(interval.max(MIN_RETRY))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_follow_success_rate_limits_and_failures() {
        let interval = Duration::from_secs(300);
        let mut failures = 0;
        let ok: Result<PollReport, PollError> = Ok(PollReport::default());
        assert_eq!(next_wait(&ok, interval, &mut failures), interval);
        let limited = Err(PollError::Source(SourceError::RateLimited {
            source_name: "m".into(),
            retry_after: Duration::from_secs(900),
        }));
        assert_eq!(
            next_wait(&limited, interval, &mut failures),
            Duration::from_secs(900)
        );
        let failed = || {
            Err(PollError::Source(SourceError::Http {
                source_name: "m".into(),
                message: "503".into(),
            }))
        };
        assert_eq!(
            next_wait(&failed(), interval, &mut failures),
            Duration::from_secs(60)
        );
        assert_eq!(
            next_wait(&failed(), interval, &mut failures),
            Duration::from_secs(120)
        );
        for _ in 0..10 {
            next_wait(&failed(), interval, &mut failures);
        }
        assert_eq!(next_wait(&failed(), interval, &mut failures), interval);
        assert_eq!(next_wait(&ok, interval, &mut failures), interval);
        assert_eq!(failures, 0);
    }
}
