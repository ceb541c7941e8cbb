//! Training a multinomial logistic regression on hashed features with AdaGrad.
//!
//! Deterministic: the same data, options and seed give the same model, byte for byte.

use std::path::PathBuf;

use crate::data::{read_examples, DataError, Example, LineError};
use crate::eval::{argmax, Report};
use crate::features::{FeatureConfig, FeatureExtractor, SparseVector};
use crate::model::{softmax_in_place, Model};

/// What a model predicts, which fixes its labels and how dataset labels map onto them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Task {
    /// `negative`, `neutral`, `positive`. RuSentiment's `speech` (greetings, thanks,
    /// congratulations) counts as `positive`; `skip` (unclear, off-topic) is left out.
    Sentiment,
    /// `OFF`, `NOT`.
    Offensive,
    /// `spam`, `ham`.
    Spam,
    /// `complaint`, `other`.
    Complaint,
    /// Any other task: the labels are those of the data, sorted, unmapped.
    Custom(String),
}

impl Task {
    pub fn from_name(name: &str) -> Task {
        match name {
            "sentiment" => Task::Sentiment,
            "offensive" => Task::Offensive,
            "spam" => Task::Spam,
            "complaint" => Task::Complaint,
            other => Task::Custom(other.to_owned()),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Task::Sentiment => "sentiment",
            Task::Offensive => "offensive",
            Task::Spam => "spam",
            Task::Complaint => "complaint",
            Task::Custom(name) => name,
        }
    }

    /// The fixed labels of a known task, in model order.
    pub fn labels(&self) -> Option<&'static [&'static str]> {
        match self {
            Task::Sentiment => Some(&["negative", "neutral", "positive"]),
            Task::Offensive => Some(&["OFF", "NOT"]),
            Task::Spam => Some(&["spam", "ham"]),
            Task::Complaint => Some(&["complaint", "other"]),
            Task::Custom(_) => None,
        }
    }

    /// The model label for a dataset label, or `None` when the example is left out.
    pub fn map_label<'a>(&self, raw: &'a str) -> Option<&'a str> {
        match (self, raw) {
            (Task::Sentiment, "speech") => Some("positive"),
            (Task::Sentiment, "skip") => None,
            _ => Some(raw),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassWeights {
    /// Every example counts the same.
    Uniform,
    /// Each class weighs `examples / (classes × examples of the class)`, which helps macro-F1 on
    /// skewed data (SMS spam is 13 % spam).
    Balanced,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TrainOptions {
    pub features: FeatureConfig,
    pub max_epochs: usize,
    /// AdaGrad's base step.
    pub learning_rate: f32,
    /// When not empty, each of these rates is trained with early stopping and the one with the
    /// best validation macro-F1 is kept (instead of `learning_rate`). Costs one run per rate.
    pub learning_rate_candidates: Vec<f32>,
    /// L2 penalty, applied to the weights an example touches.
    pub l2: f32,
    pub class_weights: ClassWeights,
    /// Share of the training examples held out to pick the number of epochs.
    pub validation_fraction: f32,
    /// Epochs without improvement of validation macro-F1 before stopping.
    pub patience: usize,
    pub seed: u64,
    /// After early stopping, train again on all examples (validation included) for the best
    /// number of epochs.
    pub refit_on_all: bool,
    /// Buckets whose largest quantised weight is below this are left out of the model.
    pub prune_below: u8,
    /// Predict with the average of the weights over all steps (averaged SGD), which smooths
    /// out the noise of single-example updates and generalises better.
    pub average: bool,
    /// The language recorded in the model; `None` takes the most common `lang` of the data.
    pub lang: Option<String>,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            features: FeatureConfig::default(),
            max_epochs: 20,
            learning_rate: 0.05,
            learning_rate_candidates: Vec::new(),
            l2: 1e-5,
            class_weights: ClassWeights::Balanced,
            validation_fraction: 0.1,
            patience: 2,
            seed: 42,
            refit_on_all: true,
            prune_below: 1,
            average: true,
            lang: None,
        }
    }
}

impl TrainOptions {
    /// The options the shipped model of `task` in `lang` was trained with (docs/MODELS.md):
    /// what `earshot model train` should use. Every task shares one feature configuration, so
    /// that the analyzer extracts features once per text for all of its models.
    ///
    /// A grid over learning rates (0.02, 0.05, 0.1), averaging on or off, character n-gram
    /// ranges and bucket counts moved no task consistently beyond ±1 point of macro-F1
    /// (docs/MODELS.md), so every task keeps the defaults for now; this is the one place to
    /// change that. `lang` is recorded in the model even where the data does not say it.
    pub fn for_task(task: &Task, lang: Option<&str>) -> TrainOptions {
        let defaults = TrainOptions {
            lang: lang.map(str::to_owned),
            ..TrainOptions::default()
        };
        match task {
            Task::Sentiment | Task::Offensive | Task::Spam | Task::Complaint | Task::Custom(_) => {
                defaults
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("invalid training options: {0}")]
    Options(String),
    #[error("no usable training examples for task {task}")]
    NoExamples { task: String },
    #[error("task {task} needs examples of at least two labels, found {found:?}")]
    OneLabel { task: String, found: Vec<String> },
}

/// What happened during training.
#[derive(Debug, Clone)]
pub struct TrainSummary {
    pub examples: usize,
    pub validation_examples: usize,
    /// Epochs of the final fit.
    pub epochs: usize,
    /// Validation macro-F1 of the best epoch (float weights), if there was a validation split.
    pub validation_macro_f1: Option<f64>,
    /// The learning rate of the final fit (the best candidate, when there were several).
    pub learning_rate: f32,
    /// Unreadable lines of the training files.
    pub skipped: Vec<LineError>,
    /// Examples whose label the task leaves out (or does not know).
    pub dropped_labels: usize,
}

/// Trains `task` on JSON Lines files of labelled examples.
pub fn train(
    task: &Task,
    train_files: &[PathBuf],
    options: &TrainOptions,
) -> Result<(Model, TrainSummary), TrainError> {
    let mut examples = Vec::new();
    let mut skipped = Vec::new();
    for path in train_files {
        let dataset = read_examples(path)?;
        examples.extend(dataset.examples);
        skipped.extend(dataset.skipped);
    }
    let (model, mut summary) = train_examples(task, &examples, options)?;
    summary.skipped = skipped;
    Ok((model, summary))
}

/// Trains `task` on examples in memory.
pub fn train_examples(
    task: &Task,
    examples: &[Example],
    options: &TrainOptions,
) -> Result<(Model, TrainSummary), TrainError> {
    options.features.validate().map_err(TrainError::Options)?;
    if !(0.0..0.9).contains(&options.validation_fraction) {
        return Err(TrainError::Options(format!(
            "validation_fraction must be within 0..0.9, got {}",
            options.validation_fraction
        )));
    }
    if options.max_epochs == 0 {
        return Err(TrainError::Options(
            "max_epochs must be at least 1".to_owned(),
        ));
    }
    let rates_positive =
        options.learning_rate > 0.0 && options.learning_rate_candidates.iter().all(|&r| r > 0.0);
    if !(rates_positive && options.l2 >= 0.0) {
        return Err(TrainError::Options(
            "learning_rate must be positive and l2 not negative".to_owned(),
        ));
    }
    let labels: Vec<String> = match task.labels() {
        Some(fixed) => fixed.iter().map(|s| s.to_string()).collect(),
        None => {
            let mut seen: Vec<String> = examples.iter().map(|e| e.label.clone()).collect();
            seen.sort();
            seen.dedup();
            seen
        }
    };

    let mut extractor = FeatureExtractor::new(options.features);
    let mut features = SparseVector::default();
    let mut rows = Rows::default();
    let mut classes_of_rows = Vec::new();
    let mut dropped_labels = 0;
    for example in examples {
        let class = task
            .map_label(&example.label)
            .and_then(|label| labels.iter().position(|l| l == label));
        let Some(class) = class else {
            dropped_labels += 1;
            continue;
        };
        extractor.extract(&example.text, &mut features);
        rows.push(&features);
        classes_of_rows.push(class);
    }
    if classes_of_rows.is_empty() {
        return Err(TrainError::NoExamples {
            task: task.name().to_owned(),
        });
    }
    let mut present: Vec<usize> = classes_of_rows.clone();
    present.sort_unstable();
    present.dedup();
    if present.len() < 2 {
        return Err(TrainError::OneLabel {
            task: task.name().to_owned(),
            found: present.iter().map(|&c| labels[c].clone()).collect(),
        });
    }

    let mut rng = SplitMix64(options.seed);
    let mut order: Vec<usize> = (0..classes_of_rows.len()).collect();
    rng.shuffle(&mut order);
    let validation_size = (order.len() as f32 * options.validation_fraction) as usize;
    let (validation, training) = order.split_at(validation_size);
    let class_weight = class_weights(options.class_weights, labels.len(), &classes_of_rows);

    let buckets = options.features.buckets();
    let mut fit;
    let mut trained_epochs = options.max_epochs;
    let mut validation_macro_f1 = None;
    let mut learning_rate = options.learning_rate;
    if validation.is_empty() {
        fit = Fit::new(buckets, labels.len());
        let mut training_order = training.to_vec();
        for _ in 0..options.max_epochs {
            rng.shuffle(&mut training_order);
            fit.epoch(
                &rows,
                &classes_of_rows,
                &training_order,
                &class_weight,
                learning_rate,
                options.l2,
            );
        }
        fit = fit.result(options.average);
    } else {
        let candidates = if options.learning_rate_candidates.is_empty() {
            vec![options.learning_rate]
        } else {
            options.learning_rate_candidates.clone()
        };
        // (validation macro-F1, epochs, learning rate, weights) of the best run so far.
        let mut best: Option<(f64, usize, f32, Fit)> = None;
        for &rate in &candidates {
            // A candidate's shuffles depend on the seed and its rate only, so its run is the
            // same whichever other candidates are tried.
            let mut candidate_rng =
                SplitMix64(options.seed ^ u64::from(rate.to_bits()).wrapping_mul(FNV_MULTIPLIER));
            let mut training_order = training.to_vec();
            let mut current = Fit::new(buckets, labels.len());
            let mut best_of_rate = (f64::NEG_INFINITY, 0usize);
            for epoch in 1..=options.max_epochs {
                candidate_rng.shuffle(&mut training_order);
                current.epoch(
                    &rows,
                    &classes_of_rows,
                    &training_order,
                    &class_weight,
                    rate,
                    options.l2,
                );
                let mut result = current.result(options.average);
                let score = result.macro_f1(&rows, &classes_of_rows, validation, &labels);
                if score > best_of_rate.0 {
                    best_of_rate = (score, epoch);
                }
                if best.as_ref().is_none_or(|b| score > b.0) {
                    best = Some((score, epoch, rate, result));
                }
                if epoch - best_of_rate.1 >= options.patience {
                    break;
                }
            }
        }
        // max_epochs >= 1 was checked above, so at least one epoch was scored.
        let Some((score, best_epoch, best_rate, best_fit)) = best else {
            return Err(TrainError::Options(
                "max_epochs must be at least 1".to_owned(),
            ));
        };
        validation_macro_f1 = Some(score);
        trained_epochs = best_epoch;
        learning_rate = best_rate;
        fit = best_fit;
        if options.refit_on_all {
            let mut refit = Fit::new(buckets, labels.len());
            let mut all = order.clone();
            for _ in 0..best_epoch {
                rng.shuffle(&mut all);
                refit.epoch(
                    &rows,
                    &classes_of_rows,
                    &all,
                    &class_weight,
                    learning_rate,
                    options.l2,
                );
            }
            fit = refit.result(options.average);
        }
    }

    let lang = options.lang.clone().or_else(|| most_common_lang(examples));
    let model = Model::quantize(
        task.name(),
        lang.as_deref(),
        labels,
        options.features,
        &fit.weights,
        fit.bias.clone(),
        options.prune_below,
    );
    let summary = TrainSummary {
        examples: classes_of_rows.len(),
        validation_examples: validation.len(),
        epochs: trained_epochs,
        validation_macro_f1,
        learning_rate,
        skipped: Vec::new(),
        dropped_labels,
    };
    Ok((model, summary))
}

fn most_common_lang(examples: &[Example]) -> Option<String> {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for lang in examples.iter().filter_map(|e| e.lang.as_deref()) {
        match counts.iter_mut().find(|(l, _)| *l == lang) {
            Some((_, n)) => *n += 1,
            None => counts.push((lang, 1)),
        }
    }
    // Ties go to the language seen first, so the result does not depend on hashing.
    let mut best: Option<(&str, usize)> = None;
    for (lang, n) in counts {
        if best.is_none_or(|(_, m)| n > m) {
            best = Some((lang, n));
        }
    }
    best.map(|(lang, _)| lang.to_owned())
}

fn class_weights(kind: ClassWeights, classes: usize, labels: &[usize]) -> Vec<f32> {
    match kind {
        ClassWeights::Uniform => vec![1.0; classes],
        ClassWeights::Balanced => {
            let mut counts = vec![0usize; classes];
            for &c in labels {
                counts[c] += 1;
            }
            counts
                .iter()
                .map(|&n| {
                    if n == 0 {
                        0.0
                    } else {
                        labels.len() as f32 / (classes as f32 * n as f32)
                    }
                })
                .collect()
        }
    }
}

/// Feature vectors of all examples, packed one after another.
#[derive(Debug, Default)]
struct Rows {
    starts: Vec<usize>,
    indices: Vec<u32>,
    values: Vec<f32>,
}

impl Rows {
    fn push(&mut self, features: &SparseVector) {
        self.starts.push(self.indices.len());
        self.indices.extend_from_slice(&features.indices);
        self.values.extend_from_slice(&features.values);
    }

    fn row(&self, i: usize) -> (&[u32], &[f32]) {
        let start = self.starts[i];
        let end = self
            .starts
            .get(i + 1)
            .copied()
            .unwrap_or(self.indices.len());
        (&self.indices[start..end], &self.values[start..end])
    }
}

/// Weights being trained, with AdaGrad's sums of squared gradients and, for averaging, the
/// step-weighted sums of all updates: with `u += t·Δ` for every update `Δ` at step `t`, the
/// average of the weights over steps `1..=t` is `w - u/t`, without touching untouched weights.
#[derive(Debug, Clone)]
struct Fit {
    classes: usize,
    weights: Vec<f32>,
    squared: Vec<f32>,
    bias: Vec<f32>,
    bias_squared: Vec<f32>,
    weighted_updates: Vec<f32>,
    bias_weighted_updates: Vec<f32>,
    step: f32,
    scores: Vec<f32>,
}

const ADAGRAD_EPSILON: f32 = 1e-6;
const FNV_MULTIPLIER: u64 = 0x0000_0100_0000_01b3;

impl Fit {
    fn new(buckets: usize, classes: usize) -> Fit {
        Fit {
            classes,
            weights: vec![0.0; buckets * classes],
            squared: vec![0.0; buckets * classes],
            bias: vec![0.0; classes],
            bias_squared: vec![0.0; classes],
            weighted_updates: vec![0.0; buckets * classes],
            bias_weighted_updates: vec![0.0; classes],
            step: 1.0,
            scores: vec![0.0; classes],
        }
    }

    /// The weights to predict with: averaged, or the last ones. The result can go on training
    /// only as a fresh start, which is all early stopping needs.
    fn result(&self, average: bool) -> Fit {
        let mut out = self.clone();
        if average {
            let step = self.step;
            for (w, u) in out.weights.iter_mut().zip(&self.weighted_updates) {
                *w -= u / step;
            }
            for (b, u) in out.bias.iter_mut().zip(&self.bias_weighted_updates) {
                *b -= u / step;
            }
        }
        out
    }

    fn probabilities(&mut self, indices: &[u32], values: &[f32]) {
        let classes = self.classes;
        self.scores.copy_from_slice(&self.bias);
        for (&index, &value) in indices.iter().zip(values) {
            let row = &self.weights[index as usize * classes..][..classes];
            for (score, &w) in self.scores.iter_mut().zip(row) {
                *score += value * w;
            }
        }
        softmax_in_place(&mut self.scores);
    }

    fn epoch(
        &mut self,
        rows: &Rows,
        labels: &[usize],
        order: &[usize],
        class_weight: &[f32],
        rate: f32,
        l2: f32,
    ) {
        let classes = self.classes;
        for &i in order {
            let (indices, values) = rows.row(i);
            self.probabilities(indices, values);
            let weight = class_weight[labels[i]];
            // The gradient of the weighted cross-entropy with respect to each class score.
            for (c, score) in self.scores.iter_mut().enumerate() {
                let target = if c == labels[i] { 1.0 } else { 0.0 };
                *score = (*score - target) * weight;
            }
            let step = self.step;
            for (c, &g) in self.scores.iter().enumerate() {
                self.bias_squared[c] += g * g;
                let delta = rate * g / (self.bias_squared[c].sqrt() + ADAGRAD_EPSILON);
                self.bias[c] -= delta;
                self.bias_weighted_updates[c] -= step * delta;
            }
            for (&index, &value) in indices.iter().zip(values) {
                let base = index as usize * classes;
                let row = &mut self.weights[base..base + classes];
                let squared = &mut self.squared[base..base + classes];
                let updates = &mut self.weighted_updates[base..base + classes];
                for (((w, s), u), &g) in row
                    .iter_mut()
                    .zip(squared.iter_mut())
                    .zip(updates.iter_mut())
                    .zip(&self.scores)
                {
                    let gradient = g * value + l2 * *w;
                    *s += gradient * gradient;
                    let delta = rate * gradient / (s.sqrt() + ADAGRAD_EPSILON);
                    *w -= delta;
                    *u -= step * delta;
                }
            }
            self.step += 1.0;
        }
    }

    fn macro_f1(
        &mut self,
        rows: &Rows,
        labels: &[usize],
        subset: &[usize],
        names: &[String],
    ) -> f64 {
        let mut gold = Vec::with_capacity(subset.len());
        let mut predicted = Vec::with_capacity(subset.len());
        for &i in subset {
            let (indices, values) = rows.row(i);
            self.probabilities(indices, values);
            gold.push(labels[i]);
            predicted.push(argmax(&self.scores));
        }
        Report::from_predictions(names, &gold, &predicted).macro_f1
    }
}

/// A small seeded generator (SplitMix64): enough for shuffling, and the same on every platform
/// and every version of this crate, which a model's reproducibility depends on.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(text: &str, label: &str) -> Example {
        Example {
            id: String::new(),
            text: text.to_owned(),
            label: label.to_owned(),
            lang: Some("en".to_owned()),
        }
    }

    /// A toy spam set with an obvious signal, repeated with variations.
    fn toy_spam() -> Vec<Example> {
        let spam = [
            "WIN a free prize now, click the link",
            "free money!!! claim your prize today",
            "Congratulations you won a free cruise, call now",
            "cheap pills, click here for a free offer",
        ];
        let ham = [
            "are we still meeting for lunch tomorrow?",
            "I'll call you when I get home",
            "the meeting moved to three, see you there",
            "can you pick up milk on the way home",
        ];
        let mut examples = Vec::new();
        for round in 0..10 {
            for text in spam {
                examples.push(example(&format!("{text} {round}"), "spam"));
            }
            for text in ham {
                examples.push(example(&format!("{text} {round}"), "ham"));
            }
        }
        examples
    }

    fn small_options() -> TrainOptions {
        TrainOptions {
            features: FeatureConfig {
                buckets_log2: 14,
                ..FeatureConfig::default()
            },
            max_epochs: 5,
            ..TrainOptions::default()
        }
    }

    #[test]
    fn learns_an_obvious_signal() {
        let (model, summary) = train_examples(&Task::Spam, &toy_spam(), &small_options()).unwrap();
        assert_eq!(summary.examples, 80);
        assert_eq!(summary.validation_examples, 8);
        assert_eq!(model.lang(), Some("en"));
        let mut extractor = FeatureExtractor::new(model.feature_config());
        let mut features = SparseVector::default();
        extractor.extract("claim your free prize, click now", &mut features);
        assert_eq!(model.predict(&features).0, "spam");
        extractor.extract("see you at lunch when I get home", &mut features);
        assert_eq!(model.predict(&features).0, "ham");
    }

    #[test]
    fn training_is_deterministic_for_a_seed() {
        let (first, _) = train_examples(&Task::Spam, &toy_spam(), &small_options()).unwrap();
        let (second, _) = train_examples(&Task::Spam, &toy_spam(), &small_options()).unwrap();
        assert_eq!(first.to_bytes(), second.to_bytes());
        let other_seed = TrainOptions {
            seed: 7,
            ..small_options()
        };
        let (third, _) = train_examples(&Task::Spam, &toy_spam(), &other_seed).unwrap();
        assert_ne!(first.to_bytes(), third.to_bytes());
    }

    #[test]
    fn sentiment_maps_speech_and_drops_skip() {
        let examples = vec![
            example("awful", "negative"),
            example("fine", "neutral"),
            example("thanks, happy birthday", "speech"),
            example("???", "skip"),
            example("wonderful", "positive"),
        ];
        let options = TrainOptions {
            validation_fraction: 0.0,
            ..small_options()
        };
        let (model, summary) = train_examples(&Task::Sentiment, &examples, &options).unwrap();
        assert_eq!(summary.examples, 4);
        assert_eq!(summary.dropped_labels, 1);
        assert_eq!(model.labels(), ["negative", "neutral", "positive"]);
    }

    #[test]
    fn one_label_and_no_examples_are_errors() {
        let only_spam: Vec<Example> = toy_spam()
            .into_iter()
            .filter(|e| e.label == "spam")
            .collect();
        let error = train_examples(&Task::Spam, &only_spam, &small_options()).unwrap_err();
        assert!(error.to_string().contains("at least two labels"), "{error}");
        let unknown = vec![example("x", "maybe")];
        assert!(matches!(
            train_examples(&Task::Spam, &unknown, &small_options()),
            Err(TrainError::NoExamples { .. })
        ));
    }

    #[test]
    fn custom_tasks_take_their_labels_from_the_data() {
        let examples = vec![
            example("card fee", "card_fee"),
            example("lost card", "lost_card"),
            example("card fee again", "card_fee"),
        ];
        let options = TrainOptions {
            validation_fraction: 0.0,
            ..small_options()
        };
        let task = Task::from_name("banking");
        let (model, _) = train_examples(&task, &examples, &options).unwrap();
        assert_eq!(model.labels(), ["card_fee", "lost_card"]);
        assert_eq!(model.task(), "banking");
    }

    #[test]
    fn balanced_weights_favour_the_rare_class() {
        let weights = class_weights(ClassWeights::Balanced, 2, &[0, 1, 1, 1]);
        assert_eq!(weights, vec![2.0, 2.0 / 3.0]);
    }

    #[test]
    fn the_best_learning_rate_is_chosen_on_validation() {
        // Label noise, so that the rates reach different validation scores.
        let mut examples = toy_spam();
        for (i, e) in examples.iter_mut().enumerate() {
            if i % 7 == 0 {
                e.label = if e.label == "spam" { "ham" } else { "spam" }.to_owned();
            }
        }
        let run = |rates: Vec<f32>| {
            let options = TrainOptions {
                learning_rate_candidates: rates,
                validation_fraction: 0.3,
                ..small_options()
            };
            train_examples(&Task::Spam, &examples, &options).unwrap().1
        };
        let slow = run(vec![0.001]);
        let fast = run(vec![1.0]);
        let both = run(vec![0.001, 1.0]);
        let (slow_f1, fast_f1) = (
            slow.validation_macro_f1.unwrap(),
            fast.validation_macro_f1.unwrap(),
        );
        assert_eq!(both.validation_macro_f1, Some(slow_f1.max(fast_f1)));
        let expected = if fast_f1 > slow_f1 { 1.0 } else { 0.001 };
        assert_eq!(both.learning_rate, expected);
        assert_eq!(slow.learning_rate, 0.001);
    }

    #[test]
    fn zero_epochs_are_refused() {
        let options = TrainOptions {
            max_epochs: 0,
            ..small_options()
        };
        let error = train_examples(&Task::Spam, &toy_spam(), &options).unwrap_err();
        assert!(error.to_string().contains("max_epochs"), "{error}");
    }

    #[test]
    fn bad_options_are_refused() {
        let options = TrainOptions {
            validation_fraction: 1.5,
            ..small_options()
        };
        let error = train_examples(&Task::Spam, &toy_spam(), &options).unwrap_err();
        assert!(error.to_string().contains("validation_fraction"), "{error}");
    }
}
