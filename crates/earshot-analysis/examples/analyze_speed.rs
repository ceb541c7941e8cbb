//! Single-thread throughput of each analysis step over the texts of a JSON Lines file, for
//! orientation while optimising (the benchmark of record lives in docs/BENCHMARKS.md).
//!
//! ```text
//! cargo run --release -p earshot-analysis --example analyze_speed -- TEXTS.jsonl [MODELS_DIR]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use earshot_analysis::{read_examples, Analyzer, FeatureConfig, FeatureExtractor, SparseVector};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(texts) = args.next().map(PathBuf::from) else {
        eprintln!("usage: analyze_speed TEXTS.jsonl [MODELS_DIR]");
        return ExitCode::FAILURE;
    };
    let dataset = match read_examples(&texts) {
        Ok(dataset) => dataset,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let texts: Vec<&str> = dataset.examples.iter().map(|e| e.text.as_str()).collect();
    let bytes: usize = texts.iter().map(|t| t.len()).sum();
    println!(
        "{} texts, {:.0} bytes on average",
        texts.len(),
        bytes as f64 / texts.len().max(1) as f64
    );

    let measure = |name: &str, step: &mut dyn FnMut(&str)| {
        let started = Instant::now();
        for text in &texts {
            step(text);
        }
        let per_second = texts.len() as f64 / started.elapsed().as_secs_f64();
        println!("{name:<28} {per_second:>10.0} texts/s");
    };

    measure("fold", &mut |text| {
        std::hint::black_box(earshot_text::fold(text));
    });
    measure("tokenize", &mut |text| {
        std::hint::black_box(earshot_text::tokenize(text).count());
    });
    measure("lang::detect", &mut |text| {
        std::hint::black_box(earshot_text::lang::detect(text, None));
    });
    let mut extractor = FeatureExtractor::new(FeatureConfig::default());
    let mut features = SparseVector::default();
    measure("features", &mut |text| {
        extractor.extract(text, &mut features);
    });

    let analyzer = match args.next() {
        Some(dir) => match Analyzer::load(&PathBuf::from(&dir)) {
            Ok(analyzer) => analyzer,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        },
        None => Analyzer::rules_only(),
    };
    println!("models: {:?}", analyzer.models());
    let mut scratch = analyzer.scratch();
    measure("full analysis, lang detected", &mut |text| {
        std::hint::black_box(analyzer.analyze_with(&mut scratch, text, None, &[]));
    });
    // The pipeline has detected the language before the analysis stage runs.
    let lang = dataset.examples.first().and_then(|e| e.lang.clone());
    measure("full analysis, lang given", &mut |text| {
        std::hint::black_box(analyzer.analyze_with(&mut scratch, text, lang.as_deref(), &[]));
    });
    ExitCode::SUCCESS
}
