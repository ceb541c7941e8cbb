//! Progress for long commands: a bar with rate and ETA on a terminal, plain log lines
//! (at most one every few seconds) when stderr is a file or a pipe.

use std::io::{IsTerminal, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use earshot_engine::{ImportProgress, IngestReport};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("EARSHOT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

/// Mention text shown on a terminal must not carry escape sequences that rewrite the screen.
pub fn terminal_safe(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() && c != '\n' { ' ' } else { c })
        .collect::<String>()
        .replace('\n', " ")
}

const LOG_EVERY: Duration = Duration::from_secs(5);

struct Plain {
    last: Instant,
    started: Instant,
}

/// A progress display; cheap to clone, shared with the worker it measures.
#[derive(Clone)]
pub struct Progress {
    what: &'static str,
    bar: Option<ProgressBar>,
    plain: Arc<Mutex<Plain>>,
    bytes_read: Arc<AtomicU64>,
    total: Arc<AtomicU64>,
    by_bytes: bool,
    stored: Arc<AtomicU64>,
}

impl Progress {
    fn new(what: &'static str, total: Option<u64>, by_bytes: bool) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let template = if by_bytes {
                "{prefix} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta} {msg}"
            } else {
                "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} {per_sec} ETA {eta} {msg}"
            };
            let bar = match total {
                Some(total) => ProgressBar::new(total),
                None => ProgressBar::new_spinner(),
            };
            bar.set_draw_target(ProgressDrawTarget::stderr_with_hz(4));
            bar.set_style(ProgressStyle::with_template(template).expect("valid template"));
            bar.set_prefix(what);
            bar
        });
        let now = Instant::now();
        Progress {
            what,
            bar,
            plain: Arc::new(Mutex::new(Plain {
                last: now,
                started: now,
            })),
            bytes_read: Arc::new(AtomicU64::new(0)),
            total: Arc::new(AtomicU64::new(total.unwrap_or(0))),
            by_bytes,
            stored: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn bytes(what: &'static str, total: Option<u64>) -> Progress {
        Progress::new(what, total, true)
    }

    pub fn items(what: &'static str, total: Option<u64>) -> Progress {
        Progress::new(what, total, false)
    }

    /// Count the bytes a reader hands out, so a file's size gives the bar its ETA.
    pub fn wrap_read(&self, inner: Box<dyn Read + Send>) -> CountingReader {
        CountingReader {
            inner,
            progress: self.clone(),
        }
    }

    pub fn set_length(&self, total: u64) {
        self.total.store(total, Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.set_length(total);
        }
    }

    pub fn set_position(&self, position: u64) {
        match &self.bar {
            Some(bar) => bar.set_position(position),
            None => self.log_plain(position, false),
        }
    }

    fn log_plain(&self, position: u64, force: bool) {
        let mut plain = self.plain.lock().expect("progress lock");
        if !force && plain.last.elapsed() < LOG_EVERY {
            return;
        }
        plain.last = Instant::now();
        let seconds = plain.started.elapsed().as_secs_f64().max(1e-9);
        let total = self.total.load(Ordering::Relaxed);
        let unit = if self.by_bytes { " bytes" } else { "" };
        let of_total = if total > 0 {
            format!(
                " of {total}{unit} ({:.0}%)",
                position as f64 * 100.0 / total as f64
            )
        } else {
            unit.to_string()
        };
        let stored = self.stored.load(Ordering::Relaxed);
        let stored = if self.by_bytes {
            format!(", {stored} mentions stored")
        } else {
            String::new()
        };
        eprintln!(
            "{}: {position}{of_total}{stored}, {:.0}{unit}/s, {:.1}s elapsed",
            self.what,
            position as f64 / seconds,
            seconds
        );
    }

    pub fn finish(&self) {
        match &self.bar {
            Some(bar) => bar.finish(),
            None => {
                let position = if self.by_bytes {
                    self.bytes_read.load(Ordering::Relaxed)
                } else {
                    0
                };
                if self.by_bytes {
                    self.log_plain(position, true);
                }
            }
        }
    }
}

impl ImportProgress for Progress {
    fn batch_written(&self, so_far: &IngestReport) {
        self.stored.store(so_far.inserted, Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{} new mentions", so_far.inserted));
        }
        self.set_position(self.bytes_read.load(Ordering::Relaxed));
    }

    fn bad_line(&self, message: &str) {
        match &self.bar {
            Some(bar) => bar.println(format!("skipped: {message}")),
            None => eprintln!("skipped: {message}"),
        }
    }
}

pub struct CountingReader {
    inner: Box<dyn Read + Send>,
    progress: Progress,
}

impl Read for CountingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let total = self
            .progress
            .bytes_read
            .fetch_add(n as u64, Ordering::Relaxed)
            + n as u64;
        if let Some(bar) = &self.progress.bar {
            bar.set_position(total);
        }
        Ok(n)
    }
}
