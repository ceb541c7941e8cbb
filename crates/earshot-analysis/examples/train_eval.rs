//! Trains one task on one dataset folder and measures it on its test split.
//!
//! ```text
//! cargo run --release -p earshot-analysis --example train_eval -- \
//!     sentiment ../shared/data/sentiment/en-semeval2017 [--buckets 20] [--lr 0.2] [--l2 1e-5] \
//!     [--epochs 20] [--uniform] [--prune 1] [--word-only] [--save models/sentiment-en.esm]
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use earshot_analysis::analyzer::combine_spam;
use earshot_analysis::eval::argmax;
use earshot_analysis::rules::{IntentRules, RuleScratch};
use earshot_analysis::{
    evaluate, read_examples, ClassWeights, FeatureExtractor, Model, Report, Scored, SparseVector,
    Task, TrainOptions,
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
    let usage = "usage: train_eval TASK DATA_DIR [--buckets N] [--lr X] [--tune-lr X,Y,..] [--l2 X] [--tune-l2 X,Y,..] [--tune-weights] [--epochs N] \
                 [--uniform] [--no-average] [--idf|--idf-fold|--idf-norm|--idf-search|--no-idf-search|--no-idf] [--lbfgs|--adagrad|--both] [--c X] [--tune-c X,Y,..] [--iterations N] [--folds K] [--cv-repeats N] [--ensemble-top K] [--cv-log-loss] [--sublinear-experiment] [--word-share-experiment X] [--one-vs-rest|--softmax] [--tune-offsets|--no-tune-offsets] [--nb-beta X] [--nb-alpha X] [--nb-search] [--prune N] [--word-only] [--chars MIN-MAX] [--task-defaults LANG] [--eval-also DIR].. [--train-also DIR].. [--idf-corpus DIR].. [--save PATH]";
    let task = Task::from_name(&args.next().ok_or(usage)?);
    let dir = PathBuf::from(args.next().ok_or(usage)?);
    let mut options = TrainOptions::default();
    let mut save = None;
    let mut also = Vec::new();
    let mut train_also = Vec::new();
    let mut idf_corpus: Vec<PathBuf> = Vec::new();
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
            "--tune-l2" => {
                options.l2_candidates = value()?.split(',').map(parse).collect::<Result<_, _>>()?
            }
            "--tune-weights" => {
                options.class_weight_candidates =
                    vec![ClassWeights::Balanced, ClassWeights::Uniform]
            }
            "--epochs" => options.max_epochs = parse(&value()?)?,
            "--prune" => options.prune_below = parse(&value()?)?,
            "--uniform" => options.class_weights = ClassWeights::Uniform,
            "--no-average" => options.average = false,
            "--idf" => options.idf = true,
            // IDF folded into the weights, no TF-IDF norm, and no search against the plain fit
            // (which `--task-defaults el` turns on).
            "--idf-fold" => {
                options.idf = true;
                options.idf_normalized = false;
                options.idf_search = false;
            }
            "--sublinear-experiment" => options.sublinear_experiment = true,
            "--word-share-experiment" => options.word_share_experiment = Some(parse(&value()?)?),
            "--idf-search" => options.idf_search = true,
            // One kind of fit only (with --idf-norm: the IDF one), e.g. to probe another C grid.
            "--no-idf-search" => options.idf_search = false,
            "--idf-norm" => {
                options.idf = true;
                options.idf_normalized = true;
            }
            "--lbfgs" => options.optimizer = earshot_analysis::Optimizer::Lbfgs,
            "--adagrad" => options.optimizer = earshot_analysis::Optimizer::AdaGrad,
            "--both" => options.optimizer = earshot_analysis::Optimizer::BestOnValidation,
            "--c" => options.c = parse(&value()?)?,
            "--tune-c" => {
                options.c_candidates = value()?.split(',').map(parse).collect::<Result<_, _>>()?
            }
            "--iterations" => options.max_iterations = parse(&value()?)?,
            "--folds" => options.folds = parse(&value()?)?,
            "--cv-repeats" => options.cv_repeats = parse(&value()?)?,
            "--ensemble-top" => options.ensemble_top = parse(&value()?)?,
            "--cv-log-loss" => options.cv_log_loss = true,
            "--one-vs-rest" => options.one_vs_rest = true,
            "--softmax" => options.one_vs_rest = false,
            "--tune-offsets" => options.tune_offsets = true,
            // NB log-count-ratio factors (docs/MODELS.md, round 10): one fit with them...
            "--nb-beta" => options.nb_beta = parse(&value()?)?,
            "--nb-alpha" => options.nb_alpha = parse(&value()?)?,
            // ...or the search with and without them (β 1 unless --nb-beta says otherwise).
            "--nb-search" => {
                options.nb_search = true;
                if options.nb_beta == 0.0 {
                    options.nb_beta = 1.0;
                }
            }
            "--no-tune-offsets" => options.tune_offsets = false,
            "--no-idf" => options.idf = false,
            "--word-only" => options.features.char_max = 0,
            "--chars" => {
                let range = value()?;
                let (min, max) = range
                    .split_once('-')
                    .ok_or(format!("--chars wants MIN-MAX, got {range}"))?;
                options.features.char_min = parse(min)?;
                options.features.char_max = parse(max)?;
            }
            "--idf-corpus" => idf_corpus.push(PathBuf::from(value()?).join("train.jsonl")),
            "--save" => save = Some(PathBuf::from(value()?)),
            "--eval-also" => also.push(PathBuf::from(value()?)),
            "--train-also" => train_also.push(PathBuf::from(value()?).join("train.jsonl")),
            "--task-defaults" => {
                let lang = value()?;
                options = TrainOptions::for_task(&task, Some(&lang));
            }
            other => return Err(format!("unknown option {other}\n{usage}")),
        }
    }

    if options.word_share_experiment.is_some() && save.is_some() {
        return Err(
            "--word-share-experiment models are not saved: the analyzer scales both blocks alike"
                .to_owned(),
        );
    }
    if options.sublinear_experiment && save.is_some() {
        return Err(
            "--sublinear-experiment models are not saved: the analyzer does not merge repeated \
             features, so it would predict from other features than the model learned"
                .to_owned(),
        );
    }
    if !idf_corpus.is_empty() {
        let mut texts = Vec::new();
        for file in &idf_corpus {
            let dataset = read_examples(file).map_err(|e| e.to_string())?;
            texts.extend(dataset.examples.into_iter().map(|e| e.text));
        }
        eprintln!(
            "IDF over {} texts of {} training sets",
            texts.len(),
            idf_corpus.len()
        );
        options.idf_table = Some(std::sync::Arc::new(earshot_analysis::corpus_idf(
            texts.iter().map(String::as_str),
            options.features,
        )));
    }
    let mut train_files = vec![dir.join("train.jsonl")];
    train_files.extend(train_also);
    let started = Instant::now();
    let (model, summary) =
        earshot_analysis::train::train(&task, &train_files, &options).map_err(|e| e.to_string())?;
    let train_seconds = started.elapsed().as_secs_f64();
    for skipped in &summary.skipped {
        eprintln!("skipped {skipped}");
    }
    let bytes = model.to_bytes();
    let started = Instant::now();
    let reloaded = Model::from_bytes(&bytes, &dir).map_err(|e| e.to_string())?;
    let load_ms = started.elapsed().as_secs_f64() * 1000.0;

    let report = evaluate(&reloaded, &dir.join("test.jsonl")).map_err(|e| e.to_string())?;
    if let Some(share) = options.word_share_experiment {
        let reweighted = evaluate_transformed(&reloaded, &dir.join("test.jsonl"), |features| {
            earshot_analysis::train::reweight_blocks(features, share)
        })?;
        println!(
            "test with the word block at {share} of the norm (as trained): macro-F1 {:.4}",
            reweighted.macro_f1
        );
    }
    if options.sublinear_experiment {
        let merged = evaluate_transformed(
            &reloaded,
            &dir.join("test.jsonl"),
            earshot_analysis::train::sublinear_in_place,
        )?;
        println!(
            "test with repeats merged (as trained): macro-F1 {:.4}",
            merged.macro_f1
        );
    }
    println!(
        "task {} lang {} data {}",
        task.name(),
        model.lang().unwrap_or("any"),
        dir.display()
    );
    println!(
        "train examples {} ({}, dropped labels {}), epochs {}, learning rate {}, validation macro-F1 {}",
        summary.examples,
        summary.judged_by(),
        summary.dropped_labels,
        summary.epochs,
        summary.learning_rate,
        summary
            .validation_macro_f1
            .map_or("-".to_owned(), |f| format!("{f:.4}"))
    );
    println!(
        "chosen: learning rate {}, l2 {}, C {:?}, class weights {:?}, idf {}, nb {}, settings averaged {}",
        summary.learning_rate,
        summary.l2,
        summary.c,
        summary.class_weights,
        summary.idf,
        summary.nb,
        summary.averaged_settings
    );
    if !summary.averaging_scores.is_empty() {
        let scores: Vec<String> = summary
            .averaging_scores
            .iter()
            .map(|f| format!("{f:.4}"))
            .collect();
        println!(
            "averaging the best 1.. settings, cross-validated macro-F1: {}",
            scores.join(" ")
        );
    }
    if let Some((offsets, score)) = &summary.bias_offsets {
        println!(
            "bias offsets {offsets:?}: macro-F1 on the predictions they were chosen on {score:.4}"
        );
    }
    for candidate in &summary.candidates {
        println!(
            "  candidate C {:?} lr {} l2 {} {:?} idf {} nb {}: validation macro-F1 {:.4} at epoch/iteration {}",
            candidate.c,
            candidate.learning_rate,
            candidate.l2,
            candidate.class_weights,
            candidate.idf,
            candidate.nb,
            candidate.validation_macro_f1,
            candidate.best_epoch
        );
    }
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
    if task == Task::Spam {
        // What the analyzer reports: the model together with the spam rules of its language.
        for test_dir in std::iter::once(&dir).chain(&also) {
            let report = evaluate_with_spam_rules(&reloaded, &test_dir.join("test.jsonl"))?;
            println!(
                "model + spam rules on {}: {}",
                test_dir.display(),
                report.to_text().lines().next().unwrap_or("")
            );
        }
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

fn evaluate_with_spam_rules(model: &Model, test_file: &Path) -> Result<Report, String> {
    let test = read_examples(test_file).map_err(|e| e.to_string())?;
    let rules = IntentRules::new();
    let mut scratch = RuleScratch::default();
    let mut extractor = FeatureExtractor::new(model.feature_config());
    let mut features = SparseVector::default();
    let mut probabilities = Vec::new();
    let lang = model.lang().unwrap_or("en");
    let spam_class = model
        .class_of_label("spam")
        .ok_or("the model has no spam label")?;
    let (mut gold, mut predicted) = (Vec::new(), Vec::new());
    for example in &test.examples {
        let Some(gold_class) = model.class_of_label(&example.label) else {
            continue;
        };
        extractor.extract(&example.text, &mut features);
        model.predict_into(&features, &mut probabilities);
        let best = argmax(&probabilities);
        let scored = Scored {
            label: model.labels()[best].clone().into(),
            score: probabilities[best],
        };
        let rule_scores =
            rules.all_scores_folded(extractor.folded(), &example.text, lang, &mut scratch);
        let verdict = combine_spam(Some((scored, probabilities[spam_class])), rule_scores.spam)
            .ok_or("no spam verdict")?;
        gold.push(gold_class);
        predicted.push(model.class_of_label(&verdict.label).unwrap_or(best));
    }
    Ok(Report::from_predictions(model.labels(), &gold, &predicted))
}

fn parse<T: std::str::FromStr>(value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("cannot read {value:?} as a number"))
}

/// The test report of a model trained with `--sublinear-experiment` or
/// `--word-share-experiment`, its test features changed the same way by `transform` (the
/// analyzer does not, so such a model is never shipped).
fn evaluate_transformed(
    model: &Model,
    test_file: &Path,
    transform: impl Fn(&mut SparseVector),
) -> Result<Report, String> {
    let dataset = read_examples(test_file).map_err(|e| e.to_string())?;
    let task = earshot_analysis::Task::from_name(model.task());
    let mut extractor = FeatureExtractor::new(model.feature_config());
    let mut features = SparseVector::default();
    let mut probabilities = Vec::new();
    let (mut gold, mut predicted) = (Vec::new(), Vec::new());
    for example in &dataset.examples {
        let Some(class) = task
            .map_label(&example.label)
            .and_then(|label| model.class_of_label(label))
        else {
            continue;
        };
        extractor.extract(&example.text, &mut features);
        transform(&mut features);
        model.predict_into(&features, &mut probabilities);
        gold.push(class);
        predicted.push(earshot_analysis::eval::argmax(&probabilities));
    }
    Ok(Report::from_predictions(model.labels(), &gold, &predicted))
}
