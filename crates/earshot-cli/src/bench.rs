//! `earshot bench`: the import and search benchmarks of docs/BENCHMARKS.md, run side by side
//! with SQLite FTS5 — the embedded alternative a user would try first — in the same process.

use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use anyhow::{Context, Result};
use chrono::{Duration, TimeZone, Utc};
use clap::Args;
use earshot_core::{Config, MentionFilter, SortOrder};
use earshot_engine::{import_items, Pipeline};
use earshot_sources::files;
use earshot_store::fts5_baseline::Fts5Baseline;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::generate::{demo_brands, Generator};
use crate::workspace::Workspace;

#[derive(Args)]
pub struct BenchArgs {
    /// Mentions to generate and import.
    #[arg(long, default_value_t = 1_000_000)]
    count: usize,
    /// Search queries to time.
    #[arg(long, default_value_t = 100)]
    queries: usize,
    /// Working directory (default: a temporary one, removed afterwards).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Skip the FTS5 side (only Earshot's figures).
    #[arg(long)]
    no_fts5: bool,
    /// Also import the same file into a second workspace with the analysis stage (the
    /// shipped models: sentiment, offensive, spam, intents), to show what it costs.
    #[arg(long)]
    with_analysis: bool,
    /// Keep the generated file and the workspaces (default: removed when done, they are large).
    #[arg(long)]
    keep: bool,
}

struct ImportFigures {
    seconds: f64,
    per_second: f64,
    peak_rss_mib: f64,
    /// User + system CPU seconds of the whole process over the phase: the machine is shared,
    /// so wall-clock time counts other jobs too; CPU time per mention does not.
    cpu_seconds: f64,
}

/// What the process has used of the CPU so far (user + system), in seconds.
fn process_cpu_seconds() -> f64 {
    // Fields 14 and 15 of /proc/self/stat are utime and stime in clock ticks (100 per second
    // on Linux). The command name (field 2) may contain spaces, so count after its ')'.
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            let after_name = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = after_name.split_whitespace().collect();
            let user: f64 = fields.get(11)?.parse().ok()?;
            let system: f64 = fields.get(12)?.parse().ok()?;
            Some((user + system) / 100.0)
        })
        .unwrap_or(0.0)
}

/// Wall clock, CPU and peak memory of one timed phase.
struct Phase {
    started: Instant,
    cpu_at_start: f64,
}

impl Phase {
    fn start() -> Phase {
        reset_peak_rss();
        Phase {
            started: Instant::now(),
            cpu_at_start: process_cpu_seconds(),
        }
    }

    fn finish(self, count: usize) -> ImportFigures {
        let seconds = self.started.elapsed().as_secs_f64();
        ImportFigures {
            seconds,
            per_second: count as f64 / seconds,
            peak_rss_mib: peak_rss_mib(),
            cpu_seconds: process_cpu_seconds() - self.cpu_at_start,
        }
    }
}

/// The earliest generated timestamp; queries filter relative to it.
fn bench_start() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("valid date")
}

pub async fn run(args: BenchArgs) -> Result<()> {
    let (dir, _temp) = match &args.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            (dir.clone(), None)
        }
        None => {
            let temp = tempfile::Builder::new()
                .prefix("earshot-bench-")
                .tempdir()?;
            (temp.path().to_path_buf(), Some(temp))
        }
    };
    let input = dir.join("mentions.jsonl");
    eprintln!(
        "generating {} mentions into {}",
        args.count,
        input.display()
    );
    let bytes = generate_file(&input, args.count)?;
    println!(
        "# earshot bench — {}",
        Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    println!();
    println!("machine: {}", machine_description());
    println!(
        "input: {} generated mentions (ru/el/en), {:.0} bytes each on average",
        args.count,
        bytes as f64 / args.count as f64
    );
    println!();

    let workspace = Workspace {
        dir: dir.join("earshot"),
    };
    let config = Config {
        brands: demo_brands(),
        ..Config::default()
    };
    workspace.init(&config).await?;
    let store = workspace.open_store().await?;
    let pipeline = Arc::new(Pipeline::new(store.clone(), &config.brands).await?);

    // The CPU-bound stages alone (parse, normalize, match, language, fingerprint), to show
    // where the end-to-end time goes.
    let phase = Phase::start();
    let reader = BufReader::with_capacity(1 << 20, std::fs::File::open(&input)?);
    let mut lines = files::read_jsonl(reader, "bench");
    let mut prepared_count = 0usize;
    loop {
        let batch: Vec<_> = lines.by_ref().take(5_000).filter_map(Result::ok).collect();
        if batch.is_empty() {
            break;
        }
        prepared_count += pipeline.prepare_mentions(batch).len();
    }
    let prepare_only = phase.finish(args.count);
    anyhow::ensure!(prepared_count > 0, "no generated mention matched a brand");

    let phase = Phase::start();
    let reader = BufReader::with_capacity(1 << 20, std::fs::File::open(&input)?);
    let report = import_items(
        pipeline.clone(),
        files::read_jsonl(reader, "bench"),
        Arc::new(()),
    )
    .await?;
    let earshot_import = phase.finish(args.count);
    anyhow::ensure!(
        report.error_count == 0,
        "the generated file had bad lines: {:?}",
        report.errors.first()
    );

    let fts5 = if args.no_fts5 {
        None
    } else {
        let phase = Phase::start();
        let baseline = Fts5Baseline::open(&dir.join("fts5.db")).await?;
        let reader = BufReader::with_capacity(1 << 20, std::fs::File::open(&input)?);
        let mut batch = Vec::with_capacity(5_000);
        let mut lines = files::read_jsonl(reader, "bench");
        loop {
            let next = lines.next();
            let done = next.is_none();
            if let Some(Ok(item)) = next {
                batch.push(item);
            }
            if batch.len() >= 5_000 || (done && !batch.is_empty()) {
                let mentions = pipeline.prepare_mentions(std::mem::take(&mut batch));
                baseline.import(&mentions).await?;
            }
            if done {
                break;
            }
        }
        Some((baseline, phase.finish(args.count)))
    };

    let with_analysis = if args.with_analysis {
        let analysed_workspace = Workspace {
            dir: dir.join("earshot-analysis"),
        };
        analysed_workspace.init(&config).await?;
        let analysed_store = analysed_workspace.open_store().await?;
        let analyzer = crate::models::load_for_analysis(None)?;
        let analysed_pipeline = Arc::new(
            Pipeline::new(analysed_store.clone(), &config.brands)
                .await?
                .with_analyzer(Some(Arc::new(analyzer))),
        );
        let phase = Phase::start();
        let reader = BufReader::with_capacity(1 << 20, std::fs::File::open(&input)?);
        import_items(
            analysed_pipeline,
            files::read_jsonl(reader, "bench"),
            Arc::new(()),
        )
        .await?;
        let figures = phase.finish(args.count);
        analysed_store.flush().await?;
        Some(figures)
    } else {
        None
    };

    println!("## Import (parse, normalize, match, language, dedup, store, index)");
    println!();
    println!(
        "| engine | seconds | mentions/s | CPU s (user+sys) | CPU µs per mention | peak RSS MiB |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    print_import(
        "(stages before the store only: parse, normalize, match, language, fingerprint)",
        &prepare_only,
        args.count,
    );
    print_import("Earshot (SQLite + tantivy)", &earshot_import, args.count);
    if let Some((_, figures)) = &fts5 {
        print_import("SQLite FTS5", figures, args.count);
    }
    if let Some(figures) = &with_analysis {
        print_import(
            "Earshot with the analysis stage (not part of issue 2's pipeline)",
            figures,
            args.count,
        );
    }
    if let Some((_, figures)) = &fts5 {
        println!();
        println!(
            "Earshot/FTS5 import speed ratio: {:.2} (wall clock), {:.2} (CPU per mention, FTS5/Earshot)",
            earshot_import.per_second / figures.per_second,
            figures.cpu_seconds / earshot_import.cpu_seconds
        );
    }
    println!();

    let queries = bench_queries(args.queries, args.count);
    // One untimed pass warms both engines' caches the same way.
    for filter in &queries {
        store.search(filter, SortOrder::Newest, None, 20).await?;
        if let Some((baseline, _)) = &fts5 {
            baseline.search(filter, 20).await?;
        }
    }
    let mut earshot_times = Vec::new();
    let mut fts5_times = Vec::new();
    let mut earshot_hits = 0usize;
    let mut fts5_hits = 0usize;
    for filter in &queries {
        let started = Instant::now();
        let page = store.search(filter, SortOrder::Newest, None, 20).await?;
        earshot_times.push(started.elapsed());
        earshot_hits += page.mentions.len();
        if let Some((baseline, _)) = &fts5 {
            let started = Instant::now();
            let found = baseline.search(filter, 20).await?;
            fts5_times.push(started.elapsed());
            fts5_hits += found.len();
        }
    }
    println!(
        "## Search ({} queries with filters, first page of 20, newest first)",
        queries.len()
    );
    println!();
    println!("| engine | p50 ms | p95 ms | max ms | results returned |");
    println!("|---|---:|---:|---:|---:|");
    print_search("Earshot (tantivy)", &mut earshot_times, earshot_hits);
    if !fts5_times.is_empty() {
        print_search("SQLite FTS5", &mut fts5_times, fts5_hits);
        println!();
        println!(
            "FTS5/Earshot p95 latency ratio: {:.2}",
            percentile(&fts5_times, 0.95).as_secs_f64()
                / percentile(&earshot_times, 0.95).as_secs_f64()
        );
    }
    if args.dir.is_some() && !args.keep {
        // A million mentions take gigabytes across the file, the two databases and the index.
        drop(fts5);
        store.flush().await?;
        for name in ["mentions.jsonl", "fts5.db", "fts5.db-wal", "fts5.db-shm"] {
            let _ = std::fs::remove_file(dir.join(name));
        }
        for name in ["earshot", "earshot-analysis"] {
            let _ = std::fs::remove_dir_all(dir.join(name));
        }
    }
    Ok(())
}

fn print_import(name: &str, figures: &ImportFigures, count: usize) {
    println!(
        "| {name} | {:.1} | {:.0} | {:.1} | {:.1} | {:.0} |",
        figures.seconds,
        figures.per_second,
        figures.cpu_seconds,
        figures.cpu_seconds * 1e6 / count.max(1) as f64,
        figures.peak_rss_mib
    );
}

fn print_search(name: &str, times: &mut [StdDuration], hits: usize) {
    times.sort();
    let ms = |d: StdDuration| d.as_secs_f64() * 1000.0;
    println!(
        "| {name} | {:.2} | {:.2} | {:.2} | {hits} |",
        ms(percentile(times, 0.5)),
        ms(percentile(times, 0.95)),
        ms(*times.last().unwrap_or(&StdDuration::ZERO)),
    );
}

fn percentile(sorted: &[StdDuration], p: f64) -> StdDuration {
    let mut sorted = sorted.to_vec();
    sorted.sort();
    if sorted.is_empty() {
        return StdDuration::ZERO;
    }
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// ~150-character mentions, one a minute from 2026-01-01, with copies sprinkled in.
fn generate_file(path: &Path, count: usize) -> Result<u64> {
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut generator = Generator::new(42, bench_start(), Duration::minutes(1), 6..=12);
    let mut bytes = 0u64;
    let mut last = None;
    for n in 0..count {
        let line = match (&last, n % 25) {
            (Some(original), 24) => generator.repost_of(original),
            _ => generator.next_mention(),
        };
        let json = serde_json::to_string(&line)?;
        bytes += json.len() as u64 + 1;
        out.write_all(json.as_bytes())?;
        out.write_all(b"\n")?;
        last = Some(line);
    }
    out.flush()?;
    Ok(bytes)
}

/// Varied queries: single words, inflected forms, phrases, prefixes, OR, NOT, in three
/// languages, each with a filter on brand, language, source or time.
fn bench_queries(count: usize, mentions: usize) -> Vec<MentionFilter> {
    const QUERIES: &[&str] = &[
        "Zeltron",
        "Зелтроном",
        "Ζέλτρον",
        "internet OR интернет OR ίντερνετ",
        "\"customer service\"",
        "\"горячей линии\"",
        "router AND price",
        "тариф NOT офис",
        "instal*",
        "оплат*",
        "Kvantix OR Noventa",
        "Новенту",
        "support NOT chat",
        "(eSIM OR app) AND Zeltron",
        "υποστήριξη",
        "coverage countryside",
        "скорость отличная",
        "bill doubled",
        "Κβάντιξ OR Νοβέντα",
        "hotline",
    ];
    let mut rng = StdRng::seed_from_u64(11);
    let span_minutes = mentions.max(1) as i64;
    (0..count)
        .map(|n| {
            let mut filter = MentionFilter {
                query: Some(QUERIES[n % QUERIES.len()].to_string()),
                ..MentionFilter::default()
            };
            match rng.gen_range(0..4) {
                0 => {
                    filter.brand = Some(
                        ["Zeltron", "Kvantix", "Noventa"]
                            .choose(&mut rng)
                            .expect("brands")
                            .to_string(),
                    )
                }
                1 => {
                    filter.lang = Some(
                        ["ru", "el", "en"]
                            .choose(&mut rng)
                            .expect("langs")
                            .to_string(),
                    )
                }
                2 => {
                    filter.source = Some(
                        ["mastodon-demo", "bluesky-demo", "blog-comments", "forum"]
                            .choose(&mut rng)
                            .expect("sources")
                            .to_string(),
                    )
                }
                _ => {
                    let from = rng.gen_range(0..span_minutes);
                    filter.since = Some(bench_start() + Duration::minutes(from));
                    filter.until =
                        Some(bench_start() + Duration::minutes(from + span_minutes / 10));
                }
            }
            filter
        })
        .collect()
}

fn machine_description() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|kb| kb.parse::<f64>().ok())
                })
        })
        .map_or("unknown memory".to_string(), |kb| {
            format!("{:.1} GiB memory", kb / 1024.0 / 1024.0)
        });
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1).map(|s| s.trim().to_string()))
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cores} cores ({cpu}), {memory}")
}

/// Linux resets the peak-RSS mark when 5 is written to clear_refs; elsewhere this is a no-op
/// and the figure covers the whole run.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|kb| kb.parse::<f64>().ok())
                })
        })
        .map_or(0.0, |kb| kb / 1024.0)
}
