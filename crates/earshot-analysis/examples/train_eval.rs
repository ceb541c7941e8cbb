//! Trains one task on one dataset folder and measures it on its test split.
//!
//! ```text
//! cargo run --release -p earshot-analysis --example train_eval -- \
//!     sentiment ../shared/data/sentiment/en-semeval2017 [--buckets 20] [--lr 0.2] [--l2 1e-5] \
//!     [--epochs 20] [--uniform] [--prune 1] [--word-only] [--save models/sentiment-en.esm]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use earshot_analysis::{
    evaluate, read_examples, ClassWeights, FeatureExtractor, Model, SparseVector, Task,
    TrainOptions,
};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: train_eval TASK DATA_DIR [--buckets N] [--lr X] [--tune-lr X,Y,..] [--l2 X] [--epochs N] \
                 [--uniform] [--no-average] [--prune N] [--word-only] [--chars MIN-MAX] [--task-defaults LANG] [--eval-also DIR].. [--save PATH]";
    let task = Task::from_name(&args.next().ok_or(usage)?);
    let dir = PathBuf::from(args.next().ok_or(usage)?);
    let mut options = TrainOptions::default();
    let mut save = None;
    let mut also = Vec::new();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--buckets" => options.features.buckets_log2 = parse(&value()?)?,
            "--lr" => options.learning_rate = parse(&value()?)?,
            "--tune-lr" => {
                options.learning_rate_candidates =
                    value()?.split(',').map(parse).collect::<Result<_, _>>()?
            }
            "--l2" => options.l2 = parse(&value()?)?,
            "--epochs" => options.max_epochs = parse(&value()?)?,
            "--prune" => options.prune_below = parse(&value()?)?,
            "--uniform" => options.class_weights = ClassWeights::Uniform,
            "--no-average" => options.average = false,
            "--word-only" => options.features.char_max = 0,
            "--chars" => {
                let range = value()?;
                let (min, max) = range
                    .split_once('-')
                    .ok_or(format!("--chars wants MIN-MAX, got {range}"))?;
                options.features.char_min = parse(min)?;
                options.features.char_max = parse(max)?;
            }
            "--save" => save = Some(PathBuf::from(value()?)),
            "--eval-also" => also.push(PathBuf::from(value()?)),
            "--task-defaults" => {
                let lang = value()?;
                options = TrainOptions::for_task(&task, Some(&lang));
            }
            other => return Err(format!("unknown option {other}\n{usage}")),
        }
    }

    let started = Instant::now();
    let (model, summary) =
        earshot_analysis::train::train(&task, &[dir.join("train.jsonl")], &options)
            .map_err(|e| e.to_string())?;
    let train_seconds = started.elapsed().as_secs_f64();
    for skipped in &summary.skipped {
        eprintln!("skipped {skipped}");
    }
    let bytes = model.to_bytes();
    let started = Instant::now();
    let reloaded = Model::from_bytes(&bytes, &dir).map_err(|e| e.to_string())?;
    let load_ms = started.elapsed().as_secs_f64() * 1000.0;

    let report = evaluate(&reloaded, &dir.join("test.jsonl")).map_err(|e| e.to_string())?;
    println!(
        "task {} lang {} data {}",
        task.name(),
        model.lang().unwrap_or("any"),
        dir.display()
    );
    println!(
        "train examples {} (validation {}, dropped labels {}), epochs {}, learning rate {}, validation macro-F1 {}",
        summary.examples,
        summary.validation_examples,
        summary.dropped_labels,
        summary.epochs,
        summary.learning_rate,
        summary
            .validation_macro_f1
            .map_or("-".to_owned(), |f| format!("{f:.4}"))
    );
    println!(
        "train time {train_seconds:.1} s, model {} bytes ({:.2} MB, {} of {} buckets), load {load_ms:.1} ms",
        bytes.len(),
        bytes.len() as f64 / 1e6,
        model.stored_rows(),
        model.feature_config().buckets()
    );
    print!("test: {}", report.to_text());
    for other in &also {
        let report = evaluate(&reloaded, &other.join("test.jsonl")).map_err(|e| e.to_string())?;
        println!(
            "cross-domain {}: {}",
            other.display(),
            report.to_text().lines().next().unwrap_or("")
        );
    }

    // Single-thread speed of features + prediction over the test texts, for orientation only.
    let test = read_examples(&dir.join("test.jsonl")).map_err(|e| e.to_string())?;
    let mut extractor = FeatureExtractor::new(model.feature_config());
    let mut features = SparseVector::default();
    let mut probabilities = Vec::new();
    let started = Instant::now();
    let rounds = 3;
    for _ in 0..rounds {
        for example in &test.examples {
            extractor.extract(&example.text, &mut features);
            reloaded.predict_into(&features, &mut probabilities);
        }
    }
    let per_second = (rounds * test.examples.len()) as f64 / started.elapsed().as_secs_f64();
    println!("features + prediction: {per_second:.0} texts/s on one thread");

    if let Some(path) = save {
        reloaded.save(&path).map_err(|e| e.to_string())?;
        println!("saved {}", path.display());
    }
    Ok(())
}

fn parse<T: std::str::FromStr>(value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("cannot read {value:?} as a number"))
}
