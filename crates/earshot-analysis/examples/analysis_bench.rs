//! The benchmark of record for the analysis (docs/BENCHMARKS.md): full analysis of generated
//! mentions (ru, el, en in turn, about 150 characters each, made of pieces of the real texts in
//! `../shared/data`) on ONE thread, with the model load time and the peak resident memory.
//!
//! ```text
//! cargo run --release -p earshot-analysis --example analysis_bench -- \
//!     [--texts 1000000] [--models models] [--data ../shared/data] [--detect | --trusted] [--write-texts FILE] [--digest] [--price-idf]
//! ```
//! Texts are generated in chunks outside the timed part, so the memory they take stays small
//! and the figure is the analysis alone. `--detect` leaves the language to the analyzer instead
//! of passing the one the pipeline would have detected; `--trusted` runs the pipeline's
//! `earshot_text::lang::detect` outside the timed part and passes its answer to
//! [`Analyzer::analyze_detected`], as the ingest pipeline does. `--write-texts` also writes the
//! texts as
//! JSON Lines (`text`, `lang`) for the fastText speed script (bench/fasttext_speed.py).
//! `--digest` prints a hash of every analysis (its JSON), so that a speed change can be checked
//! to give the same results on all the texts; it slows the timed loop, so time without it.
//! `--price-idf` gives every loaded model an IDF table (the same made-up one for all, so the
//! labels are meaningless) to price the TF-IDF norm path of models trained with
//! `idf_normalized` against the same models without it.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use earshot_analysis::{read_examples, Analyzer, Model};

const CHUNK: usize = 10_000;
const TARGET_CHARS: usize = 150;

/// Where the pieces of each language come from (train splits; several domains per language).
const SOURCES: &[(&str, &[&str])] = &[
    (
        "ru",
        &["sentiment/ru-rusentitweet", "offensive/ru-2ch-pikabu"],
    ),
    ("el", &["offensive/el-ogtd", "sentiment/el-politics"]),
    (
        "en",
        &[
            "sentiment/en-semeval2017",
            "offensive/en-olid",
            "intent/en-complaints",
            "spam/en-sms",
        ],
    ),
];

struct Options {
    texts: usize,
    models: PathBuf,
    data: PathBuf,
    detect: bool,
    trusted: bool,
    write_texts: Option<PathBuf>,
    digest: bool,
    price_idf: bool,
    no_chunk_memo: bool,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        texts: 1_000_000,
        models: PathBuf::from("models"),
        data: PathBuf::from("../shared/data"),
        detect: false,
        trusted: false,
        write_texts: None,
        digest: false,
        price_idf: false,
        no_chunk_memo: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--texts" => {
                options.texts = value()?
                    .parse()
                    .map_err(|_| "--texts needs a number".to_owned())?
            }
            "--models" => options.models = PathBuf::from(value()?),
            "--data" => options.data = PathBuf::from(value()?),
            "--detect" => options.detect = true,
            "--trusted" => options.trusted = true,
            "--write-texts" => options.write_texts = Some(PathBuf::from(value()?)),
            "--digest" => options.digest = true,
            "--price-idf" => options.price_idf = true,
            "--no-chunk-memo" => options.no_chunk_memo = true,
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(options)
}

/// SplitMix64: deterministic texts on every platform.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) % n as u64) as usize
    }
}

/// One text of `pool`: random pieces joined until about [`TARGET_CHARS`] characters.
fn generate(rng: &mut Rng, pool: &[String], out: &mut String) {
    out.clear();
    let mut chars = 0;
    while chars < TARGET_CHARS - 10 {
        if !out.is_empty() {
            out.push(' ');
            chars += 1;
        }
        let piece = &pool[rng.below(pool.len())];
        for c in piece.chars() {
            if chars >= TARGET_CHARS + 10 {
                break;
            }
            out.push(c);
            chars += 1;
        }
    }
}

fn peak_memory() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .map(|l| l[name.len()..].trim().to_owned())
            .unwrap_or_else(|| "?".to_owned())
    };
    format!(
        "peak RSS (VmHWM) {}, RSS now {}",
        field("VmHWM:"),
        field("VmRSS:")
    )
}

/// CPU time of this thread so far (from /proc/thread-self/schedstat, in ns): on a shared machine
/// the wall clock also counts the time other processes held the core.
fn thread_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

/// The models of `dir`, each with an IDF table of the shape real ones have (most buckets rare).
fn with_made_up_idf(dir: &std::path::Path) -> Result<Analyzer, String> {
    let mut models = Vec::new();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "esm"))
        .collect();
    paths.sort();
    for path in paths {
        let model = Model::load(&path).map_err(|e| e.to_string())?;
        let buckets = model.feature_config().buckets();
        let idf = (0..buckets).map(|b| 1.0 + (b % 80) as f32 / 8.0).collect();
        models.push((model.with_idf(idf), path.display().to_string()));
    }
    Analyzer::from_models(models).map_err(|e| e.to_string())
}

fn run() -> Result<(), String> {
    let options = parse_options()?;

    let started = Instant::now();
    let mut analyzer = Analyzer::load(&options.models).map_err(|e| e.to_string())?;
    let load = started.elapsed();
    if options.price_idf {
        analyzer = with_made_up_idf(&options.models)?;
    }
    println!(
        "models {} loaded in {:.1} ms: {:?}",
        options.models.display(),
        load.as_secs_f64() * 1e3,
        analyzer.models()
    );
    println!("after load: {}", peak_memory());

    let mut pools: Vec<(&str, Vec<String>)> = Vec::new();
    for &(lang, dirs) in SOURCES {
        let mut pool = Vec::new();
        for dir in dirs {
            let path = options.data.join(dir).join("train.jsonl");
            let dataset = read_examples(&path).map_err(|e| e.to_string())?;
            pool.extend(dataset.examples.into_iter().map(|e| e.text));
        }
        pools.push((lang, pool));
    }

    let mut writer = match &options.write_texts {
        Some(path) => Some(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?,
        )),
        None => None,
    };

    let mut rng = Rng(2026);
    let mut scratch = if options.no_chunk_memo {
        analyzer.scratch().without_chunk_memo()
    } else {
        analyzer.scratch()
    };
    let mut chunk: Vec<(String, &str)> = (0..CHUNK).map(|_| (String::new(), "")).collect();
    let mut detected: Vec<String> = vec![String::new(); CHUNK];
    let mut analysed = 0usize;
    let mut bytes = 0usize;
    let mut busy = Duration::ZERO;
    let mut cpu = Duration::ZERO;
    // Label counts, so that a broken model (one label for everything) shows.
    let mut negative = 0usize;
    let mut offensive = 0usize;
    let mut with_intents = 0usize;
    let mut digest = std::collections::hash_map::DefaultHasher::new();
    while analysed < options.texts {
        let size = CHUNK.min(options.texts - analysed);
        for (i, (text, lang)) in chunk[..size].iter_mut().enumerate() {
            let (code, pool) = &pools[(analysed + i) % pools.len()];
            generate(&mut rng, pool, text);
            *lang = code;
            bytes += text.len();
        }
        if options.trusted {
            for ((text, lang), detected) in chunk[..size].iter().zip(&mut detected) {
                *detected = earshot_text::lang::detect(text, Some(lang));
            }
        }
        if let Some(writer) = writer.as_mut() {
            for (text, lang) in &chunk[..size] {
                let line = serde_json::json!({ "text": text, "lang": lang });
                writeln!(writer, "{line}").map_err(|e| e.to_string())?;
            }
        }
        let cpu_started = thread_cpu_time();
        let started = Instant::now();
        for ((text, lang), detected) in chunk[..size].iter().zip(&detected) {
            let analysis = if options.trusted {
                analyzer.analyze_detected(&mut scratch, text, detected, &[])
            } else {
                let declared = (!options.detect).then_some(*lang);
                analyzer.analyze_with(&mut scratch, text, declared, &[])
            };
            negative += usize::from(
                analysis
                    .sentiment
                    .as_ref()
                    .is_some_and(|s| s.label == "negative"),
            );
            offensive += usize::from(
                analysis
                    .offensive
                    .as_ref()
                    .is_some_and(|s| s.label == "OFF"),
            );
            with_intents += usize::from(!analysis.intents.is_empty());
            if options.digest {
                let json = serde_json::to_string(&analysis).map_err(|e| e.to_string())?;
                json.hash(&mut digest);
            }
            std::hint::black_box(analysis);
        }
        busy += started.elapsed();
        if let (Some(before), Some(after)) = (cpu_started, thread_cpu_time()) {
            cpu += after.saturating_sub(before);
        }
        analysed += size;
    }
    if let Some(mut writer) = writer {
        writer.flush().map_err(|e| e.to_string())?;
    }
    println!(
        "{analysed} texts ({:.0} bytes on average), language {}: {:.2} s of analysis, {:.0} texts/s on one thread",
        bytes as f64 / analysed.max(1) as f64,
        if options.detect {
            "detected"
        } else if options.trusted {
            "trusted"
        } else {
            "given"
        },
        busy.as_secs_f64(),
        analysed as f64 / busy.as_secs_f64()
    );
    if !cpu.is_zero() {
        println!(
            "CPU time of the analysing thread {:.2} s: {:.0} texts per CPU-second",
            cpu.as_secs_f64(),
            analysed as f64 / cpu.as_secs_f64()
        );
    }
    println!(
        "labels: negative {:.1} %, offensive {:.1} %, with an intent {:.1} %",
        100.0 * negative as f64 / analysed.max(1) as f64,
        100.0 * offensive as f64 / analysed.max(1) as f64,
        100.0 * with_intents as f64 / analysed.max(1) as f64
    );
    let (hits, misses) = scratch.chunk_memo_counts();
    if hits + misses > 0 {
        println!(
            "chunk memo: {:.1} % of {} memoisable chunks found",
            100.0 * hits as f64 / (hits + misses) as f64,
            hits + misses
        );
    }
    if options.digest {
        println!("digest of the analyses {:016x}", digest.finish());
    }
    println!("{}", peak_memory());
    Ok(())
}
