//! Training and evaluation on the real labelled data in `<workspace root>/../shared/data`.
//! Skipped, with a message, where that folder is absent.

use std::path::PathBuf;

use earshot_analysis::train::{train, train_examples};
use earshot_analysis::{evaluate, read_examples, Analyzer, FeatureConfig, Task, TrainOptions};

fn shared_data() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!(
            "SKIPPED: labelled data not found at {} (see docs/MODELS.md)",
            dir.display()
        );
        None
    }
}

/// Small enough to train in a debug build in seconds.
fn quick_options() -> TrainOptions {
    TrainOptions {
        features: FeatureConfig {
            buckets_log2: 18,
            ..FeatureConfig::default()
        },
        max_epochs: 4,
        ..TrainOptions::default()
    }
}

#[test]
fn sms_spam_model_beats_the_majority_class_by_far_and_survives_a_round_trip() {
    let Some(data) = shared_data() else { return };
    let dir = data.join("spam/en-sms");
    let (model, summary) = train(&Task::Spam, &[dir.join("train.jsonl")], &quick_options())
        .expect("training on en-sms");
    assert!(summary.skipped.is_empty(), "{:?}", summary.skipped);
    assert_eq!(model.lang(), Some("en"));

    let report = evaluate(&model, &dir.join("test.jsonl")).expect("evaluating on en-sms");
    // Always answering "ham" scores a macro-F1 of about 0.46 here; the published SVM is at 0.976
    // accuracy.
    assert!(report.macro_f1 > 0.9, "{}", report.to_text());
    assert!(report.accuracy > 0.95, "{}", report.to_text());
    assert_eq!(report.skipped, 0);

    let models = tempfile::tempdir().unwrap();
    model.save(&models.path().join("spam-en.esm")).unwrap();
    let analyzer = Analyzer::load(models.path()).expect("loading the saved model");
    let spam = analyzer
        .analyze(
            "WINNER!! You have won a £1000 cash prize. Call 09061701461 now to claim",
            Some("en"),
        )
        .spam
        .expect("an English spam model is loaded");
    assert_eq!(spam.label, "spam");
    let ham = analyzer
        .analyze("Sorry, I'll be late for dinner, see you at 8", Some("en"))
        .spam
        .unwrap();
    assert_eq!(ham.label, "ham");
    // No Russian spam model: the Russian rules answer, not the English model.
    let russian = analyzer.analyze("Выиграй миллион прямо сейчас, звони", None);
    assert_eq!(russian.lang, "ru");
    let russian_spam = russian.spam.expect("the Russian spam rules answer");
    assert_eq!(russian_spam.label, "ham");
    let russian = analyzer.analyze("Казино онлайн, выиграй миллион, пиши в лс", None);
    assert_eq!(russian.spam.map(|s| s.label).as_deref(), Some("spam"));
}

#[test]
fn target_sentiment_follows_the_clause_of_each_brand() {
    let Some(data) = shared_data() else { return };
    let dir = data.join("sentiment/en-semeval2017");
    let dataset = read_examples(&dir.join("train.jsonl")).expect("reading en-semeval2017");
    // A fifth of the data, two epochs: enough for clear-cut clauses, quick in a debug build.
    let options = TrainOptions {
        max_epochs: 2,
        validation_fraction: 0.0,
        ..quick_options()
    };
    let (model, _) = train_examples(&Task::Sentiment, &dataset.examples[..10_000], &options)
        .expect("training on en-semeval2017");
    let analyzer = Analyzer::from_models(vec![(model, "sentiment-en".to_owned())]).unwrap();
    let mut scratch = analyzer.scratch();
    let analysis = analyzer.analyze_with(
        &mut scratch,
        "Zeltron dropped my calls again, I hate it. Switched to Acme and love it, best phone ever!",
        Some("en"),
        &["Zeltron", "Acme", "Nobody"],
    );
    let labels: Vec<(&str, &str)> = analysis
        .targets
        .iter()
        .map(|t| (t.target.as_str(), t.label.as_str()))
        .collect();
    assert_eq!(
        labels,
        vec![("Zeltron", "negative"), ("Acme", "positive")],
        "{analysis:?}"
    );
}

#[test]
fn support_queries_of_many_intents_are_learnt_from_their_labels() {
    let Some(data) = shared_data() else { return };
    // BANKING77: 77 intents of customer-support queries; the task takes its labels from the
    // data. The reported model is the exact fit (docs/MODELS.md); three stochastic epochs
    // are already far above chance (1/77) and above fastText's 0.809.
    let dir = data.join("intent/en-banking77");
    let task = Task::from_name("banking77");
    let options = TrainOptions {
        max_epochs: 3,
        validation_fraction: 0.0,
        ..quick_options()
    };
    let (model, summary) =
        train(&task, &[dir.join("train.jsonl")], &options).expect("training on en-banking77");
    assert_eq!(model.labels().len(), 77);
    assert_eq!(summary.examples, 10_003);
    let report = evaluate(&model, &dir.join("test.jsonl")).expect("evaluating on en-banking77");
    assert_eq!(report.examples, 3_080);
    assert!(report.macro_f1 > 0.85, "{}", report.to_text());
}
