//! Training a multinomial logistic regression on hashed features: averaged AdaGrad or the exact L-BFGS fit.
//!
//! Deterministic: the same data, options and seed give the same model, byte for byte.

use std::path::PathBuf;

use crate::data::{read_examples, DataError, Example, LineError};
use crate::eval::{argmax, Report};
use crate::features::{FeatureConfig, FeatureExtractor, SparseVector};
use crate::lbfgs;
use crate::model::{quantized_idf, softmax_in_place, Model};

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

/// How the weights are fitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Optimizer {
    /// Averaged stochastic gradient descent with AdaGrad steps and early stopping on the
    /// validation split (`learning_rate`, `l2`, epochs).
    AdaGrad,
    /// The exact minimum of the L2-regularised weighted cross-entropy,
    /// `½‖W‖² + C·Σ weight·loss` (liblinear's form, so `C` means what it means there), found by
    /// L-BFGS over all training examples at once. Deterministic and free of learning rates.
    Lbfgs,
    /// Both searches on the validation split; the exact fit is kept if it scores at least as
    /// high there.
    /// Neither wins everywhere: the exact fit gained 2.6 points on SMS spam and lost 2.8 on
    /// Greek politics (docs/MODELS.md, "Tuning").
    BestOnValidation,
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
    /// When not empty, every one of these penalties is tried (with every learning rate and class
    /// weighting candidate) and the best on validation is kept, instead of `l2`.
    pub l2_candidates: Vec<f32>,
    pub class_weights: ClassWeights,
    /// When not empty, every one of these weightings is tried and the best on validation is
    /// kept, instead of `class_weights`.
    pub class_weight_candidates: Vec<ClassWeights>,
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
    pub optimizer: Optimizer,
    /// For [`Optimizer::Lbfgs`]: the inverse regularisation strength `C`.
    pub c: f32,
    /// For [`Optimizer::Lbfgs`]: when not empty, each `C` (with each class weighting candidate)
    /// is fitted on the training part and the best on validation is kept. Fitted in this order,
    /// each starting from the previous solution, so ascending values converge fastest.
    pub c_candidates: Vec<f32>,
    /// For [`Optimizer::Lbfgs`]: iterations at most per fit.
    pub max_iterations: usize,
    /// For [`Optimizer::Lbfgs`]: with 2 or more, `C` and the class weighting are chosen by
    /// stratified k-fold cross-validation over all training examples (macro-F1 of the pooled
    /// out-of-fold predictions) instead of on the single held-out `validation_fraction`. Every
    /// example is then judged once, which makes the choice far less noisy on small sets (a 10 %
    /// split of en-youtube is 158 comments) at `folds` times the cost of the search.
    pub folds: usize,
    /// Above this many examples the single held-out split is used even when `folds` asks for
    /// cross-validation: a 10 % split of 20,000 examples is already a steady judge, and the
    /// search would cost `folds` times as much on the largest sets.
    pub folds_max_examples: usize,
    /// With `folds`: how many times the cross-validation is run, each time over another
    /// stratified split into folds (the first in file order, the others after a seeded
    /// shuffle within each class); a candidate's score is the mean of its pooled macro-F1s.
    /// On small sets one split's choice of C moves with which texts share a fold.
    pub cv_repeats: usize,
    /// Experiment: with `folds`, judge each candidate by the class-balanced log-loss of its
    /// out-of-fold predictions (negated, so that higher is better; printed in place of the
    /// macro-F1) instead of their macro-F1: a smoother criterion on small sets.
    pub cv_log_loss: bool,
    /// For [`Optimizer::Lbfgs`] and more than two classes: one binary logistic regression per
    /// class (one-vs-rest, as liblinear fits several classes) instead of one softmax over all.
    /// Prediction is the same (the class with the highest score), so it is a training choice
    /// only. With two classes it changes nothing: the softmax is then one binary logistic
    /// regression already (with `C` halved), and it is kept.
    pub one_vs_rest: bool,
    /// Weight each bucket by its inverse document frequency in the training data,
    /// `ln((1 + n) / (1 + df)) + 1` as in scikit-learn, during training. The weights are folded
    /// into the model, so prediction is unchanged in cost; unlike a TF-IDF vectoriser, the
    /// vector is normalised before the weighting (the norm would otherwise need the IDF table
    /// at prediction time).
    pub idf: bool,
    /// With `idf`: normalise each block (words, characters) again after the weighting, as a
    /// TF-IDF vectoriser does. The model then carries its IDF table (one byte per bucket) for
    /// the norm at prediction time.
    pub idf_normalized: bool,
    /// Train once without IDF and once with IDF weights and the TF-IDF norm
    /// (`idf` + `idf_normalized`), and keep the one with the higher validation (or
    /// cross-validation) macro-F1; ties keep the model without, which is cheaper to predict.
    /// Overrides `idf` and `idf_normalized`.
    pub idf_search: bool,
    /// With `idf`: the inverse document frequencies to weight by, from [`corpus_idf`], instead
    /// of those of the training examples. Models of one language given the same table (over
    /// the union of all their training texts) share one IDF lane in the analyzer's fused rows,
    /// which is what makes IDF affordable at prediction (docs/MODELS.md, round 7).
    pub idf_table: Option<std::sync::Arc<Vec<f32>>>,
    /// Experiment: repeated features of a block merged into `1 + ln(tf)`, each block kept at
    /// its norm ([`sublinear_in_place`]). The analyzer does not merge repeats, so such a model
    /// is never shipped; `train_eval` scores its test split with the features merged the same
    /// way (docs/MODELS.md, round 14) and refuses to save it.
    pub sublinear_experiment: bool,
    /// Experiment: the share of each vector's squared norm given to its word block (the rest to
    /// the character block) instead of the extractor's half and half ([`reweight_blocks`]).
    /// The analyzer scales both blocks alike, so such a model is never shipped; `train_eval`
    /// scores its test split with the blocks reweighted the same way.
    pub word_share_experiment: Option<f32>,
    /// For [`Optimizer::Lbfgs`]: after `C` and the class weighting are chosen, move each
    /// class's bias by the offset that maximises macro-F1 on the predictions the chosen fit
    /// made of examples it did not train on (the pooled out-of-fold scores with `folds`, else
    /// the held-out split). Balanced class weights put a boundary where the weighted errors
    /// balance, not where macro-F1 peaks; the offsets are part of the biases, so prediction
    /// costs nothing more.
    pub tune_offsets: bool,
    /// For [`Optimizer::Lbfgs`]: with a positive value, each class's features are multiplied
    /// by NB log-count-ratio factors (NBSVM, Wang & Manning 2012) damped by this β:
    /// `s = κ·(1 + β·|r|)` per bucket and class, where `r = ln((p/‖p‖₁) / (q/‖q‖₁))` compares
    /// how many rows of the class (`p`) and of the other classes (`q`) hold the bucket, each
    /// smoothed by `nb_alpha`, and `κ` keeps the class's mean squared row norm where it was (so
    /// the C grid keeps its meaning). `0` is off; a large β is the classic `|r|` (the sign of
    /// `r` is absorbed by the weight's own sign). The factors are computed from the rows a fit
    /// trains on only (each cross-validation fold its own), applied after every norm, and
    /// folded into the weights, so the model file and prediction are those of a plain model.
    pub nb_beta: f32,
    /// With `nb_beta`: the count added to every bucket of both sides of the ratio.
    pub nb_alpha: f32,
    /// Train without and with the NB factors of `nb_beta` (each with the rest of the search,
    /// `idf_search` included), and keep the one with the higher validation (or
    /// cross-validation) macro-F1; ties keep the fit without.
    pub nb_search: bool,
    /// With `folds`: also consider the average of the `k` best settings of the
    /// cross-validation (by their own score; `k` up to this many), one fit per setting refitted
    /// on all examples and their weights averaged. The cross-validation chooses `k` by the
    /// macro-F1 of the averaged out-of-fold logits; ties keep the smaller `k`. The average of
    /// linear models over the same features is one linear model, so the model file and
    /// prediction are those of a single fit. `0` and `1` are off.
    pub ensemble_top: usize,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            features: FeatureConfig::default(),
            max_epochs: 20,
            learning_rate: 0.05,
            learning_rate_candidates: Vec::new(),
            l2: 1e-5,
            l2_candidates: Vec::new(),
            class_weights: ClassWeights::Balanced,
            class_weight_candidates: Vec::new(),
            validation_fraction: 0.1,
            patience: 2,
            seed: 42,
            refit_on_all: true,
            prune_below: 1,
            average: true,
            lang: None,
            idf: false,
            idf_normalized: false,
            idf_search: false,
            idf_table: None,
            sublinear_experiment: false,
            word_share_experiment: None,
            tune_offsets: false,
            nb_beta: 0.0,
            nb_alpha: 1.0,
            nb_search: false,
            ensemble_top: 0,
            optimizer: Optimizer::AdaGrad,
            c: 8.0,
            c_candidates: Vec::new(),
            max_iterations: 300,
            folds: 0,
            folds_max_examples: usize::MAX,
            cv_repeats: 1,
            cv_log_loss: false,
            one_vs_rest: false,
        }
    }
}

impl TrainOptions {
    /// The options the shipped model of `task` in `lang` was trained with (docs/MODELS.md):
    /// what `earshot model train` should use. Every task shares one feature configuration, so
    /// that the analyzer extracts features once per text for all of its models.
    ///
    /// The exact L-BFGS fit over C (1 to 128, doubling) × balanced or uniform class weights,
    /// chosen by 5-fold cross-validation on sets of up to 20,000 examples and on a held-out
    /// 10 % above that; one-vs-rest where there are more than two classes, as liblinear fits them
    /// (docs/MODELS.md, "Tuning round 5": cross-validation, one-vs-rest and character 2-grams
    /// together took ru-rusentitweet from 0.660 to 0.691 and en-youtube from 0.946 to 0.973).
    /// The fit with IDF weights and the TF-IDF norm competes too (`idf_search`), in every
    /// language: it won the cross-validation on both Greek sets (round 5) and on four of the
    /// six English and Russian ones (round 7). `scripts/train-models.sh` gives the English and
    /// Russian models one IDF table per language (`idf_table`, over all their training
    /// texts), so that their fused rows carry one IDF lane: +5.6 points of test macro-F1
    /// summed for 0.93-1.01x the analysis speed (docs/MODELS.md, "Tuning round 7"; with a
    /// table per model, round 6, it was 0.59-0.72x).
    /// `lang` is recorded in the model even where the data does not say it.
    pub fn for_task(_task: &Task, lang: Option<&str>) -> TrainOptions {
        TrainOptions {
            lang: lang.map(str::to_owned),
            class_weight_candidates: vec![ClassWeights::Balanced, ClassWeights::Uniform],
            optimizer: Optimizer::Lbfgs,
            c_candidates: vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0],
            folds: 5,
            folds_max_examples: 20_000,
            one_vs_rest: true,
            idf_search: true,
            ..TrainOptions::default()
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
    /// The held-out split's size; it judged the candidates unless `cross_validation_folds` is set.
    pub validation_examples: usize,
    /// When cross-validation chose the setting, over how many folds (every example judged once).
    pub cross_validation_folds: Option<usize>,
    /// Epochs of the final fit.
    pub epochs: usize,
    /// Validation macro-F1 of the best epoch (float weights), if there was a validation split.
    pub validation_macro_f1: Option<f64>,
    /// The learning rate of the final fit (the best candidate, when there were several).
    pub learning_rate: f32,
    /// The L2 penalty of the final fit.
    pub l2: f32,
    /// The class weighting of the final fit.
    pub class_weights: ClassWeights,
    /// The `C` of the final fit, for [`Optimizer::Lbfgs`].
    pub c: Option<f32>,
    /// Every setting tried on the validation split, in the order tried.
    pub candidates: Vec<CandidateScore>,
    /// Unreadable lines of the training files.
    pub skipped: Vec<LineError>,
    /// Examples whose label the task leaves out (or does not know).
    pub dropped_labels: usize,
    /// Whether the model carries IDF weights (chosen by `idf_search`, or asked for).
    pub idf: bool,
    /// With `tune_offsets`: what was added to each class's bias, and the macro-F1 the offsets
    /// give on the predictions they were chosen on (an optimistic figure: it is their own
    /// choice; `validation_macro_f1` is the score before them, which chose the setting).
    pub bias_offsets: Option<(Vec<f32>, f64)>,
    /// Whether the features were weighted by NB log-count ratios (`nb_beta`, or chosen by
    /// `nb_search`); the model itself is a plain one either way.
    pub nb: bool,
    /// How many settings' fits the model averages (`ensemble_top`); 1 is the single best. `c`
    /// and `class_weights` are then the best one's.
    pub averaged_settings: usize,
    /// With `ensemble_top`: the cross-validated macro-F1 of averaging the best 1, 2, …
    /// settings (out-of-fold logits of the first split), which chose `averaged_settings`.
    pub averaging_scores: Vec<f64>,
}

impl TrainSummary {
    /// What judged the candidates, for reports: "5-fold cross-validation" or "validation 120".
    pub fn judged_by(&self) -> String {
        match self.cross_validation_folds {
            Some(folds) => format!("{folds}-fold cross-validation"),
            None => format!("validation {}", self.validation_examples),
        }
    }
}

/// One setting tried during the search, with how it did on the validation split.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CandidateScore {
    /// For [`Optimizer::Lbfgs`], its `C` (the learning rate and L2 are then unused).
    pub c: Option<f32>,
    pub learning_rate: f32,
    pub l2: f32,
    pub class_weights: ClassWeights,
    /// The epoch with the best validation macro-F1, and that score.
    pub best_epoch: usize,
    pub validation_macro_f1: f64,
    /// Whether the features were weighted by IDF (see [`TrainOptions::idf_search`]).
    pub idf: bool,
    /// Whether the features were weighted by NB log-count ratios (see
    /// [`TrainOptions::nb_search`]).
    pub nb: bool,
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

/// Trains once with `plain` and once with `weighted` and keeps the fit with the higher
/// validation (or cross-validation) macro-F1, ties to `plain`; the summary lists the candidates
/// of both.
fn better_of(
    task: &Task,
    examples: &[Example],
    plain: &TrainOptions,
    weighted: &TrainOptions,
) -> Result<(Model, TrainSummary), TrainError> {
    let plain = train_examples(task, examples, plain)?;
    let weighted = train_examples(task, examples, weighted)?;
    let candidates: Vec<CandidateScore> = plain
        .1
        .candidates
        .iter()
        .chain(&weighted.1.candidates)
        .copied()
        .collect();
    let (model, mut summary) = if weighted.1.validation_macro_f1 > plain.1.validation_macro_f1 {
        weighted
    } else {
        plain
    };
    summary.candidates = candidates;
    Ok((model, summary))
}

/// Trains `task` on examples in memory.
pub fn train_examples(
    task: &Task,
    examples: &[Example],
    options: &TrainOptions,
) -> Result<(Model, TrainSummary), TrainError> {
    if options.nb_search {
        let with_nb = |nb: bool| TrainOptions {
            nb_search: false,
            nb_beta: if nb { options.nb_beta } else { 0.0 },
            ..options.clone()
        };
        if options.nb_beta.is_nan() || options.nb_beta <= 0.0 {
            return Err(TrainError::Options(
                "nb_search needs a positive nb_beta".to_owned(),
            ));
        }
        return better_of(task, examples, &with_nb(false), &with_nb(true));
    }
    if options.idf_search {
        let with_idf = |idf| TrainOptions {
            idf_search: false,
            idf,
            idf_normalized: idf,
            ..options.clone()
        };
        return better_of(task, examples, &with_idf(false), &with_idf(true));
    }
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
    if !(options.nb_beta >= 0.0 && options.nb_beta.is_finite() && options.nb_alpha > 0.0) {
        return Err(TrainError::Options(format!(
            "nb_beta must be finite and not negative and nb_alpha positive, got {} and {}",
            options.nb_beta, options.nb_alpha
        )));
    }
    if options.nb_beta > 0.0 && options.optimizer != Optimizer::Lbfgs {
        return Err(TrainError::Options(
            "NB weights (nb_beta) are fitted by the exact fit only: use the L-BFGS optimizer"
                .to_owned(),
        ));
    }
    if options.ensemble_top > 1 && (options.cv_repeats > 1 || options.cv_log_loss) {
        return Err(TrainError::Options(
            "averaging the best settings (ensemble_top) is judged on one cross-validation split \
             by macro-F1: leave cv_repeats at 1 and cv_log_loss off"
                .to_owned(),
        ));
    }
    if options.folds >= 2 && options.optimizer != Optimizer::Lbfgs {
        return Err(TrainError::Options(
            "cross-validation (folds) chooses the exact fit's C only: use the L-BFGS optimizer"
                .to_owned(),
        ));
    }
    let rates_positive =
        options.learning_rate > 0.0 && options.learning_rate_candidates.iter().all(|&r| r > 0.0);
    let l2_valid = options.l2 >= 0.0 && options.l2_candidates.iter().all(|&l| l >= 0.0);
    if !(rates_positive && l2_valid) {
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
        if let Some(share) = options.word_share_experiment {
            reweight_blocks(&mut features, share);
        }
        if options.sublinear_experiment {
            sublinear_in_place(&mut features);
        }
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

    let buckets = options.features.buckets();
    let idf = options.idf.then(|| {
        let idf = match &options.idf_table {
            Some(table) if table.len() == buckets => table.as_ref().clone(),
            _ => inverse_document_frequencies(&rows, buckets),
        };
        if options.idf_normalized {
            idf.into_iter().map(quantized_idf).collect::<Vec<_>>()
        } else {
            // Without the norm the weighting would make every vector several times longer
            // (IDF is 1 to ~10), which shifts what each C means; one constant for the whole
            // set keeps the mean squared norm where it was, so the C grid keeps its sense.
            let keep = rows.norm_keeping_factor(&idf);
            idf.into_iter().map(|factor| factor * keep).collect()
        }
    });
    if let Some(idf) = &idf {
        rows.scale(idf, options.idf_normalized);
    }

    let mut rng = SplitMix64(options.seed);
    let mut order: Vec<usize> = (0..classes_of_rows.len()).collect();
    rng.shuffle(&mut order);
    let validation_size = (order.len() as f32 * options.validation_fraction) as usize;
    let (validation, training) = order.split_at(validation_size);
    let mut trained_epochs = options.max_epochs;
    let mut validation_macro_f1 = None;
    let mut chosen = Setting {
        learning_rate: options.learning_rate,
        l2: options.l2,
        class_weights: options.class_weights,
    };
    let mut candidates = Vec::new();
    let mut chosen_c = None;
    let mut cross_validation_folds = None;
    let mut bias_offsets = None;
    let mut averaged_settings = 1;
    let mut averaging_scores = Vec::new();
    let mut exact = if options.optimizer == Optimizer::AdaGrad {
        None
    } else {
        // A bucket no training text uses has gradient `w` alone, so from zero it stays zero:
        // the exact fit runs over the used buckets only (a few % of 2^18 on the small sets),
        // which gives the same solution at a fraction of the vector arithmetic.
        let (compact, used) = rows.compacted(buckets);
        let search = LbfgsSearch {
            rows: &compact,
            labels: &classes_of_rows,
            names: &labels,
            buckets: used.len(),
            used: &used,
            full_buckets: buckets,
            options,
        };
        Some(search.run(&order, training, validation, &mut candidates)?)
    };
    let exact_only = if options.optimizer == Optimizer::Lbfgs {
        exact.take()
    } else {
        None
    };
    let mut fit = if let Some(outcome) = exact_only {
        chosen.class_weights = outcome.class_weights;
        chosen_c = Some(outcome.c);
        validation_macro_f1 = outcome.validation_macro_f1;
        trained_epochs = outcome.iterations;
        cross_validation_folds = outcome.folds;
        bias_offsets = outcome.offsets;
        averaged_settings = outcome.averaged_settings;
        averaging_scores = outcome.averaging_scores;
        outcome.fit
    } else if validation.is_empty() {
        let class_weight = class_weights(chosen.class_weights, labels.len(), &classes_of_rows);
        let mut fit = Fit::new(buckets, labels.len());
        let mut training_order = training.to_vec();
        for _ in 0..options.max_epochs {
            rng.shuffle(&mut training_order);
            fit.epoch(
                &rows,
                &classes_of_rows,
                &training_order,
                &class_weight,
                chosen.learning_rate,
                chosen.l2,
            );
        }
        fit.result(options.average)
    } else {
        // (validation macro-F1, epochs, setting, weights) of the best run so far. Ties keep
        // the setting tried first, so the order of the candidate lists is a preference.
        let mut best: Option<(f64, usize, Setting, Fit)> = None;
        for setting in options.settings() {
            let class_weight = class_weights(setting.class_weights, labels.len(), &classes_of_rows);
            // A candidate's shuffles depend on the seed and its own setting only, so its run is
            // the same whichever other candidates are tried.
            let mut candidate_rng = SplitMix64(options.seed ^ setting.seed_mix());
            let mut training_order = training.to_vec();
            let mut current = Fit::new(buckets, labels.len());
            let mut best_of_setting = (f64::NEG_INFINITY, 0usize);
            for epoch in 1..=options.max_epochs {
                candidate_rng.shuffle(&mut training_order);
                current.epoch(
                    &rows,
                    &classes_of_rows,
                    &training_order,
                    &class_weight,
                    setting.learning_rate,
                    setting.l2,
                );
                let mut result = current.result(options.average);
                let score = result.macro_f1(&rows, &classes_of_rows, validation, &labels);
                if score > best_of_setting.0 {
                    best_of_setting = (score, epoch);
                }
                if best.as_ref().is_none_or(|b| score > b.0) {
                    best = Some((score, epoch, setting, result));
                }
                if epoch - best_of_setting.1 >= options.patience {
                    break;
                }
            }
            candidates.push(CandidateScore {
                c: None,
                learning_rate: setting.learning_rate,
                l2: setting.l2,
                class_weights: setting.class_weights,
                best_epoch: best_of_setting.1,
                validation_macro_f1: best_of_setting.0,
                idf: options.idf,
                nb: false,
            });
        }
        // max_epochs >= 1 was checked above, so at least one epoch was scored.
        let Some((score, best_epoch, best_setting, best_fit)) = best else {
            return Err(TrainError::Options(
                "max_epochs must be at least 1".to_owned(),
            ));
        };
        validation_macro_f1 = Some(score);
        trained_epochs = best_epoch;
        chosen = best_setting;
        if options.refit_on_all {
            let class_weight = class_weights(chosen.class_weights, labels.len(), &classes_of_rows);
            let mut refit = Fit::new(buckets, labels.len());
            let mut all = order.clone();
            for _ in 0..best_epoch {
                rng.shuffle(&mut all);
                refit.epoch(
                    &rows,
                    &classes_of_rows,
                    &all,
                    &class_weight,
                    chosen.learning_rate,
                    chosen.l2,
                );
            }
            refit.result(options.average)
        } else {
            best_fit
        }
    };

    let lang = options.lang.clone().or_else(|| most_common_lang(examples));
    if let Some(outcome) = exact {
        // Both optimisers ran: the exact fit replaces the stochastic one if it did at least as
        // well on validation. Ties go to the exact fit because the stochastic score is the best
        // of up to `max_epochs` looks at the same validation split (early stopping), so it is
        // biased upwards, while each exact candidate is scored once.
        let better = match (outcome.validation_macro_f1, validation_macro_f1) {
            (Some(exact_score), Some(stochastic_score)) => exact_score >= stochastic_score,
            _ => false,
        };
        if better {
            fit = outcome.fit;
            chosen.class_weights = outcome.class_weights;
            chosen_c = Some(outcome.c);
            validation_macro_f1 = outcome.validation_macro_f1;
            trained_epochs = outcome.iterations;
            cross_validation_folds = outcome.folds;
            bias_offsets = outcome.offsets;
            averaged_settings = outcome.averaged_settings;
            averaging_scores = outcome.averaging_scores;
        }
    }

    // The model predicts from unweighted features: each bucket's IDF goes into its weights,
    // which gives the same scores as weighting the features at no cost per text.
    if let Some(idf) = &idf {
        let classes = labels.len();
        for (row, &factor) in fit.weights.chunks_exact_mut(classes).zip(idf) {
            for w in row {
                *w *= factor;
            }
        }
    }
    let mut model = Model::quantize(
        task.name(),
        lang.as_deref(),
        labels,
        options.features,
        &fit.weights,
        fit.bias.clone(),
        options.prune_below,
    );
    if let (Some(idf), true) = (idf, options.idf_normalized) {
        model = model.with_idf(idf);
    }
    let summary = TrainSummary {
        examples: classes_of_rows.len(),
        validation_examples: validation.len(),
        cross_validation_folds,
        epochs: trained_epochs,
        validation_macro_f1,
        learning_rate: chosen.learning_rate,
        l2: chosen.l2,
        class_weights: chosen.class_weights,
        c: chosen_c,
        candidates,
        skipped: Vec::new(),
        dropped_labels,
        idf: options.idf,
        bias_offsets,
        nb: options.nb_beta > 0.0,
        averaged_settings,
        averaging_scores,
    };
    Ok((model, summary))
}

/// The exact fits of [`Optimizer::Lbfgs`] and their search over `C` and class weights.
struct LbfgsSearch<'a> {
    /// The rows with their buckets renumbered densely (`Rows::compacted`).
    rows: &'a Rows,
    labels: &'a [usize],
    names: &'a [String],
    /// Buckets in `rows`: the used ones.
    buckets: usize,
    /// The original bucket of each dense one.
    used: &'a [u32],
    full_buckets: usize,
    options: &'a TrainOptions,
}

struct LbfgsOutcome {
    fit: Fit,
    c: f32,
    class_weights: ClassWeights,
    validation_macro_f1: Option<f64>,
    iterations: usize,
    /// The folds that chose `c`, when cross-validation did (else the held-out split did).
    folds: Option<usize>,
    /// With `tune_offsets`: the offsets added to the biases of `fit`, and their macro-F1.
    offsets: Option<(Vec<f32>, f64)>,
    /// How many settings' refits `fit` averages.
    averaged_settings: usize,
    /// See [`TrainSummary::averaging_scores`].
    averaging_scores: Vec<f64>,
}

/// What the cross-validation chose.
struct CvChoice {
    /// The settings whose refits are averaged, best first, each as (weighting, C, the solution
    /// of its last fold to start the refit from): one unless `ensemble_top` chose more.
    members: Vec<(ClassWeights, f32, Vec<f64>)>,
    /// Their cross-validated macro-F1.
    score: f64,
    /// With `tune_offsets`, their (averaged) out-of-fold logits.
    held_out: Option<HeldOutScores>,
    /// See [`TrainSummary::averaging_scores`].
    averaging_scores: Vec<f64>,
}

/// The mean of the out-of-fold logits of `settings`, `classes` per example of `all` in order.
fn averaged_logits(
    logits: &[Vec<f32>],
    settings: &[usize],
    all: &[usize],
    classes: usize,
) -> Vec<f32> {
    let share = 1.0 / settings.len() as f32;
    let mut averaged = vec![0.0f32; all.len() * classes];
    for &setting in settings {
        for (row, &i) in averaged.chunks_exact_mut(classes).zip(all) {
            for (sum, &v) in row
                .iter_mut()
                .zip(&logits[setting][i * classes..][..classes])
            {
                *sum += share * v;
            }
        }
    }
    averaged
}

/// The logits of held-out examples, `classes` per example, for [`crate::offsets`].
struct HeldOutScores {
    /// The example of each row of `logits`.
    examples: Vec<usize>,
    logits: Vec<f32>,
}

/// The fold of each of `all` (indices into `labels`), stratified: the k-th example of each
/// class goes to fold k mod folds, in file order for the first split (`repeat` 0) and in a
/// shuffle seeded by `seed` and `repeat` for each further one, the same for every candidate.
fn stratified_folds(
    labels: &[usize],
    all: &[usize],
    classes: usize,
    folds: usize,
    seed: u64,
    repeat: usize,
) -> Vec<usize> {
    let mut order: Vec<usize> = (0..all.len()).collect();
    if repeat > 0 {
        SplitMix64(seed ^ (repeat as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)).shuffle(&mut order);
    }
    let mut seen_of_class = vec![0usize; classes];
    let mut fold_of = vec![0usize; all.len()];
    for at in order {
        let seen = &mut seen_of_class[labels[all[at]]];
        fold_of[at] = *seen % folds;
        *seen += 1;
    }
    fold_of
}

/// How many folds cross-validation over `examples` uses when `folds` are asked for.
fn fold_count(folds: usize, examples: usize) -> usize {
    folds.min(examples).max(2)
}

/// A fit stops when an iteration lowers the objective by less than this share of it.
const LBFGS_TOLERANCE: f64 = 1e-6;

impl LbfgsSearch<'_> {
    fn run(
        &self,
        all: &[usize],
        training: &[usize],
        validation: &[usize],
        candidates: &mut Vec<CandidateScore>,
    ) -> Result<LbfgsOutcome, TrainError> {
        let options = self.options;
        if !(options.c > 0.0 && options.c_candidates.iter().all(|&c| c > 0.0)) {
            return Err(TrainError::Options("C must be positive".to_owned()));
        }
        let classes = self.names.len();
        let c_values = if options.c_candidates.is_empty() {
            vec![options.c]
        } else {
            options.c_candidates.clone()
        };
        let weightings = if options.class_weight_candidates.is_empty() {
            vec![options.class_weights]
        } else {
            options.class_weight_candidates.clone()
        };
        let parameters = self.buckets * classes + classes;
        let cross_validated = options.folds >= 2 && all.len() <= options.folds_max_examples;
        let folds = cross_validated.then(|| fold_count(options.folds, all.len()));
        // Each member: (weighting, C, the solution its refit starts from); one unless the
        // cross-validation chose an average.
        let mut averaging_scores = Vec::new();
        let (members, validation_macro_f1, held_out) = if cross_validated {
            let choice = self.cross_validate(all, &c_values, &weightings, candidates)?;
            averaging_scores = choice.averaging_scores;
            (choice.members, Some(choice.score), choice.held_out)
        } else if validation.is_empty() {
            (
                vec![(weightings[0], c_values[0], vec![0.0; parameters])],
                None,
                None,
            )
        } else {
            // (score, C, weighting, solution) of the best candidate; ties keep the earlier one.
            let mut best: Option<(f64, f32, ClassWeights, Vec<f64>)> = None;
            let scale = self.nb_scales(training);
            let scale = scale.as_deref();
            for &weighting in &weightings {
                let class_weight = class_weights(weighting, classes, self.labels);
                let mut x = vec![0.0; parameters];
                for &c in &c_values {
                    let outcome = self.fit(&mut x, training, &class_weight, c, scale);
                    let score = self.to_fit(&x, scale).macro_f1(
                        self.rows,
                        self.labels,
                        validation,
                        self.names,
                    );
                    candidates.push(CandidateScore {
                        c: Some(c),
                        learning_rate: 0.0,
                        l2: 0.0,
                        class_weights: weighting,
                        best_epoch: outcome.iterations,
                        validation_macro_f1: score,
                        idf: options.idf,
                        nb: options.nb_beta > 0.0,
                    });
                    if best.as_ref().is_none_or(|b| score > b.0) {
                        best = Some((score, c, weighting, x.clone()));
                    }
                }
            }
            let Some((score, c, weighting, x)) = best else {
                return Err(TrainError::Options("no C candidate".to_owned()));
            };
            let held_out = options.tune_offsets.then(|| {
                let mut logits = Vec::with_capacity(validation.len() * classes);
                self.to_fit(&x, scale)
                    .logits_into(self.rows, validation, &mut logits);
                HeldOutScores {
                    examples: validation.to_vec(),
                    logits,
                }
            });
            (vec![(weighting, c, x)], Some(score), held_out)
        };
        let offsets = held_out.map(|scores| {
            let gold: Vec<usize> = scores.examples.iter().map(|&i| self.labels[i]).collect();
            crate::offsets::tuned_offsets(&scores.logits, &gold, classes)
        });
        let subset = if options.refit_on_all || validation.is_empty() {
            all
        } else {
            training
        };
        // Each refit starts from its chosen solution: the same minimum, reached sooner. Its NB
        // factors are those of the rows it fits, as in every fold, and so the same for every
        // member: their weights average in the scaled space.
        let scale = self.nb_scales(subset);
        let (weighting, c) = (members[0].0, members[0].1);
        let mut averaged = vec![0.0f64; parameters];
        let mut iterations = 0;
        let averaged_settings = members.len();
        let share = 1.0 / averaged_settings as f64;
        for (member_weighting, member_c, mut x) in members {
            let class_weight = class_weights(member_weighting, classes, self.labels);
            let outcome = self.fit(&mut x, subset, &class_weight, member_c, scale.as_deref());
            iterations += outcome.iterations;
            for (sum, v) in averaged.iter_mut().zip(&x) {
                *sum += share * v;
            }
        }
        let mut fit = self.expanded(&averaged, scale.as_deref());
        if let Some((offsets, _)) = &offsets {
            for (bias, offset) in fit.bias.iter_mut().zip(offsets) {
                *bias += offset;
            }
        }
        Ok(LbfgsOutcome {
            fit,
            c,
            class_weights: weighting,
            validation_macro_f1,
            iterations,
            folds,
            offsets,
            averaged_settings,
            averaging_scores,
        })
    }

    /// Chooses `C` and the weighting by stratified k-fold cross-validation over `all`: each
    /// candidate is scored by the macro-F1 of its out-of-fold predictions pooled over the folds.
    /// With `ensemble_top`, the average of the best few competes too.
    fn cross_validate(
        &self,
        all: &[usize],
        c_values: &[f32],
        weightings: &[ClassWeights],
        candidates: &mut Vec<CandidateScore>,
    ) -> Result<CvChoice, TrainError> {
        let classes = self.names.len();
        let parameters = self.buckets * classes + classes;
        let folds = fold_count(self.options.folds, all.len());
        let repeats = self.options.cv_repeats.max(1);
        let settings: Vec<(ClassWeights, f32)> = weightings
            .iter()
            .flat_map(|&w| c_values.iter().map(move |&c| (w, c)))
            .collect();
        // scores[setting]: the sum over repeats of the pooled out-of-fold macro-F1.
        let mut scores = vec![0.0f64; settings.len()];
        let mut iterations = vec![0usize; settings.len()];
        let mut last_solutions: Vec<Vec<f64>> = vec![Vec::new(); settings.len()];
        // logits[setting][example × classes], filled fold by fold (first split only), with
        // `tune_offsets`.
        let ensemble_top = self.options.ensemble_top.min(settings.len());
        let keep_logits = self.options.tune_offsets || ensemble_top > 1;
        let mut logits = vec![Vec::new(); if keep_logits { settings.len() } else { 0 }];
        for setting_logits in &mut logits {
            *setting_logits = vec![0.0f32; self.labels.len() * classes];
        }
        let mut fold_logits = Vec::new();
        // losses[setting][class]: Σ -ln p(gold) of the out-of-fold predictions, per gold class.
        let mut losses = vec![vec![0.0f64; classes]; settings.len()];
        let gold: Vec<usize> = all.iter().map(|&i| self.labels[i]).collect();
        for repeat in 0..repeats {
            let fold_of =
                stratified_folds(self.labels, all, classes, folds, self.options.seed, repeat);
            // predicted[setting][example], filled fold by fold.
            let mut predicted = vec![vec![0usize; self.labels.len()]; settings.len()];
            for fold in 0..folds {
                let (mut held_out, mut fit_part) = (Vec::new(), Vec::new());
                for (&i, &f) in all.iter().zip(&fold_of) {
                    if f == fold {
                        held_out.push(i);
                    } else {
                        fit_part.push(i);
                    }
                }
                if held_out.is_empty() || fit_part.is_empty() {
                    continue;
                }
                // From the fold's training part only: factors that had seen the held-out rows
                // would make the NB candidate's score optimistic.
                let scale = self.nb_scales(&fit_part);
                let scale = scale.as_deref();
                for (w_index, &weighting) in weightings.iter().enumerate() {
                    let class_weight = class_weights(weighting, classes, self.labels);
                    // Ascending C, each fit starting from the previous solution.
                    let mut x = vec![0.0; parameters];
                    for (c_index, &c) in c_values.iter().enumerate() {
                        let setting = w_index * c_values.len() + c_index;
                        let outcome = self.fit(&mut x, &fit_part, &class_weight, c, scale);
                        iterations[setting] += outcome.iterations;
                        let mut fit = self.to_fit(&x, scale);
                        fit.predict_into(self.rows, &held_out, &mut predicted[setting]);
                        if self.options.cv_log_loss {
                            fold_logits.clear();
                            fit.logits_into(self.rows, &held_out, &mut fold_logits);
                            for (&i, row) in
                                held_out.iter().zip(fold_logits.chunks_exact_mut(classes))
                            {
                                softmax_in_place(row);
                                let gold = self.labels[i];
                                losses[setting][gold] -= f64::from(row[gold].max(1e-7)).ln();
                            }
                        }
                        if keep_logits && repeat == 0 {
                            fold_logits.clear();
                            fit.logits_into(self.rows, &held_out, &mut fold_logits);
                            for (&i, row) in held_out.iter().zip(fold_logits.chunks_exact(classes))
                            {
                                logits[setting][i * classes..][..classes].copy_from_slice(row);
                            }
                        }
                        if repeat == 0 && fold + 1 == folds {
                            last_solutions[setting].clone_from(&x);
                        }
                    }
                }
            }
            for (setting, score) in scores.iter_mut().enumerate() {
                if self.options.cv_log_loss {
                    let mut per_class = vec![0usize; classes];
                    for &g in &gold {
                        per_class[g] += 1;
                    }
                    let mean: f64 = losses[setting]
                        .iter()
                        .zip(&per_class)
                        .filter(|(_, &n)| n > 0)
                        .map(|(&loss, &n)| loss / n as f64)
                        .sum::<f64>()
                        / classes as f64;
                    *score -= mean;
                    losses[setting].fill(0.0);
                    continue;
                }
                let pooled: Vec<usize> = all.iter().map(|&i| predicted[setting][i]).collect();
                *score += Report::from_predictions(self.names, &gold, &pooled).macro_f1;
            }
        }
        let mut best: Option<(f64, usize)> = None;
        for (setting, &(weighting, c)) in settings.iter().enumerate() {
            let score = scores[setting] / repeats as f64;
            candidates.push(CandidateScore {
                c: Some(c),
                learning_rate: 0.0,
                l2: 0.0,
                class_weights: weighting,
                best_epoch: iterations[setting] / (folds * repeats),
                validation_macro_f1: score,
                idf: self.options.idf,
                nb: self.options.nb_beta > 0.0,
            });
            // Ties keep the earlier (smaller C, first weighting): the simpler model.
            if best.is_none_or(|(b, _)| score > b) {
                best = Some((score, setting));
            }
        }
        let Some((mut score, setting)) = best else {
            return Err(TrainError::Options("no C candidate".to_owned()));
        };
        // Settings best first (ties keep the earlier, as above), then how many of them to
        // average: the out-of-fold logits of the first split judge each count.
        let mut ranked: Vec<usize> = (0..settings.len()).collect();
        ranked.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
        debug_assert_eq!(ranked[0], setting);
        let mut chosen_count = 1;
        let mut averaging_scores = Vec::new();
        if ensemble_top > 1 {
            let mut best_ensemble: Option<f64> = None;
            for count in 1..=ensemble_top {
                let averaged = averaged_logits(&logits, &ranked[..count], all, classes);
                let predicted: Vec<usize> = averaged.chunks_exact(classes).map(argmax).collect();
                let ensemble_score =
                    Report::from_predictions(self.names, &gold, &predicted).macro_f1;
                averaging_scores.push(ensemble_score);
                if best_ensemble.is_none_or(|b| ensemble_score > b) {
                    best_ensemble = Some(ensemble_score);
                    chosen_count = count;
                }
            }
            if chosen_count > 1 {
                score = best_ensemble.unwrap_or(score);
            }
        }
        let members = ranked[..chosen_count]
            .iter()
            .map(|&member| {
                let (weighting, c) = settings[member];
                let mut start = std::mem::take(&mut last_solutions[member]);
                if start.len() != parameters {
                    start = vec![0.0; parameters];
                }
                (weighting, c, start)
            })
            .collect();
        let held_out = self.options.tune_offsets.then(|| HeldOutScores {
            examples: all.to_vec(),
            logits: averaged_logits(&logits, &ranked[..chosen_count], all, classes),
        });
        Ok(CvChoice {
            members,
            score: if chosen_count == 1 {
                scores[setting] / repeats as f64
            } else {
                score
            },
            held_out,
            averaging_scores,
        })
    }

    /// With `nb_beta`, the NB factors of [`nb_factors`] over the rows of `subset`.
    fn nb_scales(&self, subset: &[usize]) -> Option<Vec<f32>> {
        (self.options.nb_beta > 0.0).then(|| {
            nb_factors(
                self.rows,
                self.labels,
                subset,
                self.buckets,
                self.names.len(),
                self.options.nb_beta,
                self.options.nb_alpha,
            )
        })
    }

    /// Fits `x` on `subset`, the features of class `k` multiplied by `scale[bucket × classes +
    /// k]` where a scale is given (`x` then holds the weights of the scaled features).
    fn fit(
        &self,
        x: &mut Vec<f64>,
        subset: &[usize],
        class_weight: &[f32],
        c: f32,
        scale: Option<&[f32]>,
    ) -> lbfgs::Outcome {
        let classes = self.names.len();
        let mut scores = vec![0.0f64; classes];
        let mut scaled = Vec::new();
        let objective = |x: &[f64], gradient: &mut [f64]| {
            softmax_objective(
                self.rows,
                self.labels,
                subset,
                class_weight,
                f64::from(c),
                classes,
                self.options.one_vs_rest && classes > 2,
                &mut scores,
                Scaling {
                    scale,
                    scaled: &mut scaled,
                },
                x,
                gradient,
            )
        };
        lbfgs::minimize(x, objective, self.options.max_iterations, LBFGS_TOLERANCE)
    }

    /// The weights of `x` for unscaled rows: each multiplied by its `scale`, if any, which
    /// predicts what `x` predicts from the scaled rows.
    fn to_fit(&self, x: &[f64], scale: Option<&[f32]>) -> Fit {
        let classes = self.names.len();
        let mut fit = Fit::new(self.buckets, classes);
        let (weights, bias) = x.split_at(self.buckets * classes);
        for (w, &v) in fit.weights.iter_mut().zip(weights) {
            *w = v as f32;
        }
        if let Some(scale) = scale {
            for (w, &s) in fit.weights.iter_mut().zip(scale) {
                *w = (f64::from(*w) * f64::from(s)) as f32;
            }
        }
        for (b, &v) in fit.bias.iter_mut().zip(bias) {
            *b = v as f32;
        }
        fit
    }
}

impl LbfgsSearch<'_> {
    /// The solution over all buckets of the feature configuration, unused ones zero, with
    /// `scale` folded into the weights as in [`Self::to_fit`].
    fn expanded(&self, x: &[f64], scale: Option<&[f32]>) -> Fit {
        let classes = self.names.len();
        let mut fit = Fit::new(self.full_buckets, classes);
        let (weights, bias) = x.split_at(self.buckets * classes);
        for (dense, (&bucket, row)) in self
            .used
            .iter()
            .zip(weights.chunks_exact(classes))
            .enumerate()
        {
            let target = &mut fit.weights[bucket as usize * classes..][..classes];
            for (k, (w, &v)) in target.iter_mut().zip(row).enumerate() {
                *w = match scale {
                    Some(scale) => (v * f64::from(scale[dense * classes + k])) as f32,
                    None => v as f32,
                };
            }
        }
        for (b, &v) in fit.bias.iter_mut().zip(bias) {
            *b = v as f32;
        }
        fit
    }
}

/// `½‖W‖² + C·Σ weight·cross-entropy` over `subset` and its gradient; `x` holds the weights
/// (`buckets × classes`, row-major) and then the biases, which are not regularised.
#[allow(clippy::too_many_arguments)]
fn softmax_objective(
    rows: &Rows,
    labels: &[usize],
    subset: &[usize],
    class_weight: &[f32],
    c: f64,
    classes: usize,
    one_vs_rest: bool,
    scores: &mut [f64],
    scaling: Scaling,
    x: &[f64],
    gradient: &mut [f64],
) -> f64 {
    gradient.fill(0.0);
    let split = x.len() - classes;
    let (parameters, bias) = x.split_at(split);
    let (weight_gradient, bias_gradient) = gradient.split_at_mut(split);
    // Scaled features times `w` are the unscaled ones times `s ⊙ w`: the rows are read as
    // they are, against the weights scaled once per evaluation, and the gradient of `w` is
    // then `s ⊙` that of `s ⊙ w`.
    let weights: &[f64] = match scaling.scale {
        Some(scale) => {
            scaling.scaled.clear();
            scaling.scaled.extend(
                parameters
                    .iter()
                    .zip(scale)
                    .map(|(&w, &s)| w * f64::from(s)),
            );
            &scaling.scaled[..]
        }
        None => parameters,
    };
    let mut loss = 0.0;
    for &i in subset {
        let (indices, values) = rows.row(i);
        scores.copy_from_slice(bias);
        for (&index, &value) in indices.iter().zip(values) {
            let row = &weights[index as usize * classes..][..classes];
            for (score, &w) in scores.iter_mut().zip(row) {
                *score += f64::from(value) * w;
            }
        }
        let label = labels[i];
        let example_weight = c * f64::from(class_weight[label]);
        if one_vs_rest {
            // Per class, the binary loss ln(1 + e^(-y·z)) with y = ±1, and its slope
            // σ(z) - [k == label].
            for (k, score) in scores.iter_mut().enumerate() {
                let margin = if k == label { *score } else { -*score };
                loss += example_weight * (f64::max(-margin, 0.0) + (-margin.abs()).exp().ln_1p());
                let target = if k == label { 1.0 } else { 0.0 };
                *score = example_weight * (sigmoid(*score) - target);
            }
        } else {
            let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let log_sum = max + scores.iter().map(|s| (s - max).exp()).sum::<f64>().ln();
            loss += example_weight * (log_sum - scores[label]);
            for (k, score) in scores.iter_mut().enumerate() {
                let target = if k == label { 1.0 } else { 0.0 };
                *score = example_weight * ((*score - log_sum).exp() - target);
            }
        }
        for (g, &s) in bias_gradient.iter_mut().zip(scores.iter()) {
            *g += s;
        }
        for (&index, &value) in indices.iter().zip(values) {
            let row = &mut weight_gradient[index as usize * classes..][..classes];
            for (g, &s) in row.iter_mut().zip(scores.iter()) {
                *g += f64::from(value) * s;
            }
        }
    }
    if let Some(scale) = scaling.scale {
        for (g, &s) in weight_gradient.iter_mut().zip(scale) {
            *g *= f64::from(s);
        }
    }
    let mut penalty = 0.0;
    for (g, &w) in weight_gradient.iter_mut().zip(parameters) {
        penalty += w * w;
        *g += w;
    }
    loss + 0.5 * penalty
}

/// Per-feature factors of [`softmax_objective`]: the features of class `k` in bucket `b`
/// multiplied by `scale[b × classes + k]`, with a buffer for the scaled weights.
struct Scaling<'a> {
    scale: Option<&'a [f32]>,
    scaled: &'a mut Vec<f64>,
}

/// The NB factors of [`TrainOptions::nb_beta`] (`buckets × classes`, row-major) from the rows
/// of `subset` only: for each class `k` against the rest, `r = ln((p/‖p‖₁) / (q/‖q‖₁))` with
/// `p` (`q`) the smoothed count of rows of class `k` (of the other classes) holding each bucket
/// (binarised, as NBSVM's best variant: our values are signed and normed), the norms over the
/// buckets `subset` uses; then `s = κ_k·(1 + β·|r|)`, `κ_k` keeping the mean squared norm of
/// the rows of `subset` as it was. Buckets `subset` does not use get `κ_k` (their weights stay
/// zero anyway: no row of the fit has them).
fn nb_factors(
    rows: &Rows,
    labels: &[usize],
    subset: &[usize],
    buckets: usize,
    classes: usize,
    beta: f32,
    alpha: f32,
) -> Vec<f32> {
    let mut counts = vec![0u32; buckets * classes];
    // The last row that counted each bucket, so that a bucket repeated in a row counts once.
    let mut last = vec![usize::MAX; buckets];
    for &i in subset {
        let label = labels[i];
        for &index in rows.row(i).0 {
            let index = index as usize;
            if last[index] != i {
                last[index] = i;
                counts[index * classes + label] += 1;
            }
        }
    }
    let alpha = f64::from(alpha);
    let used: Vec<bool> = (0..buckets).map(|b| last[b] != usize::MAX).collect();
    let used_count = used.iter().filter(|&&u| u).count() as f64;
    let mut class_totals = vec![0.0f64; classes];
    let mut all_total = 0.0f64;
    for row in counts.chunks_exact(classes) {
        for (total, &count) in class_totals.iter_mut().zip(row) {
            *total += f64::from(count);
            all_total += f64::from(count);
        }
    }
    let mut factors = vec![1.0f32; buckets * classes];
    for (bucket, row) in counts.chunks_exact(classes).enumerate() {
        if !used[bucket] {
            continue;
        }
        let all: u32 = row.iter().sum();
        for (k, &count) in row.iter().enumerate() {
            let p = (alpha + f64::from(count)) / (alpha * used_count + class_totals[k]);
            let rest = all_total - class_totals[k];
            let q = (alpha + f64::from(all - count)) / (alpha * used_count + rest);
            let r = (p / q).ln();
            factors[bucket * classes + k] = (1.0 + f64::from(beta) * r.abs()) as f32;
        }
    }
    // κ per class: Σ v² / Σ (v·s)² over the entries of the rows of `subset`.
    let mut before = 0.0f64;
    let mut after = vec![0.0f64; classes];
    for &i in subset {
        let (indices, values) = rows.row(i);
        for (&index, &value) in indices.iter().zip(values) {
            let squared = f64::from(value) * f64::from(value);
            before += squared;
            for (sum, &s) in after
                .iter_mut()
                .zip(&factors[index as usize * classes..][..classes])
            {
                *sum += squared * f64::from(s) * f64::from(s);
            }
        }
    }
    let keep: Vec<f64> = after
        .iter()
        .map(|&a| if a > 0.0 { (before / a).sqrt() } else { 1.0 })
        .collect();
    for row in factors.chunks_exact_mut(classes) {
        for (s, &k) in row.iter_mut().zip(&keep) {
            *s = (f64::from(*s) * k) as f32;
        }
    }
    factors
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// One combination of the searched options.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Setting {
    learning_rate: f32,
    l2: f32,
    class_weights: ClassWeights,
}

impl Setting {
    fn seed_mix(&self) -> u64 {
        let weights = match self.class_weights {
            ClassWeights::Uniform => 0u64,
            ClassWeights::Balanced => 1,
        };
        // The rate alone gives the value of earlier versions, so their models stay reproducible
        // when only the rate is searched.
        let mut mix = u64::from(self.learning_rate.to_bits()).wrapping_mul(FNV_MULTIPLIER);
        if self.l2 != 1e-5 || self.class_weights != ClassWeights::Balanced {
            mix ^= (u64::from(self.l2.to_bits()) << 1 | weights).wrapping_mul(SPLITMIX_GAMMA);
        }
        mix
    }
}

impl TrainOptions {
    /// Every combination of the candidate lists (each falling back to its single value), class
    /// weights outermost, then L2, then the learning rate.
    fn settings(&self) -> Vec<Setting> {
        let or_single = |list: &[f32], single: f32| {
            if list.is_empty() {
                vec![single]
            } else {
                list.to_vec()
            }
        };
        let rates = or_single(&self.learning_rate_candidates, self.learning_rate);
        let penalties = or_single(&self.l2_candidates, self.l2);
        let weightings = if self.class_weight_candidates.is_empty() {
            vec![self.class_weights]
        } else {
            self.class_weight_candidates.clone()
        };
        let mut settings = Vec::new();
        for &class_weights in &weightings {
            for &l2 in &penalties {
                for &learning_rate in &rates {
                    settings.push(Setting {
                        learning_rate,
                        l2,
                        class_weights,
                    });
                }
            }
        }
        settings
    }
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

/// Merges the repeats of each (bucket, sign) within each block into one entry of `1 + ln(tf)`
/// and scales each block back to the norm it had (the `sublinear_experiment` of training and
/// of `train_eval`'s test report).
pub fn sublinear_in_place(features: &mut SparseVector) {
    let split = features.word_features.min(features.len());
    let mut merged = SparseVector::default();
    for block in [0..split, split..features.len()] {
        let norm: f32 = features.values[block.clone()]
            .iter()
            .map(|v| v * v)
            .sum::<f32>()
            .sqrt();
        let mut entries: Vec<(u32, bool)> = block
            .clone()
            .map(|at| (features.indices[at], features.values[at] > 0.0))
            .collect();
        entries.sort_unstable();
        let start = merged.len();
        let mut at = 0;
        while at < entries.len() {
            let mut end = at;
            while end < entries.len() && entries[end] == entries[at] {
                end += 1;
            }
            let weight = 1.0 + ((end - at) as f32).ln();
            merged.indices.push(entries[at].0);
            merged
                .values
                .push(if entries[at].1 { weight } else { -weight });
            at = end;
        }
        let after: f32 = merged.values[start..]
            .iter()
            .map(|v| v * v)
            .sum::<f32>()
            .sqrt();
        if after > 0.0 {
            for value in &mut merged.values[start..] {
                *value *= norm / after;
            }
        }
        if block.start == 0 {
            merged.word_features = merged.len();
        }
    }
    *features = merged;
}

/// Scales the word block of an extracted vector by `√(2·share)` and the character block by
/// `√(2·(1 - share))`: with both blocks present, `share` of the squared norm is the words'
/// (the extractor gives each half). Keeps `block_scales` in step with the values.
pub fn reweight_blocks(features: &mut SparseVector, word_share: f32) {
    let factors = [(2.0 * word_share).sqrt(), (2.0 * (1.0 - word_share)).sqrt()];
    let split = features.word_features.min(features.len());
    for (at, value) in features.values.iter_mut().enumerate() {
        *value *= factors[usize::from(at >= split)];
    }
    if let Some(scales) = &mut features.block_scales {
        scales[0] *= factors[0];
        scales[1] *= factors[1];
    }
}

/// `ln((1 + n) / (1 + df)) + 1` per bucket, where `df` counts the rows that have the bucket.
fn inverse_document_frequencies(rows: &Rows, buckets: usize) -> Vec<f32> {
    let mut counts = DocumentFrequencies::new(buckets);
    for row in 0..rows.starts.len() {
        counts.add(rows.row(row).0);
    }
    counts.idf()
}

/// The inverse document frequency of every bucket over `texts` (`ln((1 + n) / (1 + df)) + 1`,
/// as for the training examples), for [`TrainOptions::idf_table`]: one table for all of a
/// language's models, computed over all their training texts.
pub fn corpus_idf<'a>(
    texts: impl IntoIterator<Item = &'a str>,
    features: FeatureConfig,
) -> Vec<f32> {
    let mut extractor = FeatureExtractor::new(features);
    let mut vector = SparseVector::default();
    let mut counts = DocumentFrequencies::new(extractor.config().buckets());
    for text in texts {
        extractor.extract(text, &mut vector);
        counts.add(&vector.indices);
    }
    counts.idf()
}

/// In how many documents each bucket occurs.
struct DocumentFrequencies {
    counts: Vec<u32>,
    /// The last document that counted each bucket, so a bucket repeated in one counts once.
    last: Vec<u32>,
    documents: u32,
}

impl DocumentFrequencies {
    fn new(buckets: usize) -> Self {
        DocumentFrequencies {
            counts: vec![0; buckets],
            last: vec![u32::MAX; buckets],
            documents: 0,
        }
    }

    fn add(&mut self, indices: &[u32]) {
        for &index in indices {
            let index = index as usize;
            if self.last[index] != self.documents {
                self.last[index] = self.documents;
                self.counts[index] += 1;
            }
        }
        self.documents += 1;
    }

    fn idf(&self) -> Vec<f32> {
        let n = self.documents as f32;
        self.counts
            .iter()
            .map(|&df| ((1.0 + n) / (1.0 + df as f32)).ln() + 1.0)
            .collect()
    }
}

/// Feature vectors of all examples, packed one after another.
#[derive(Debug, Default)]
struct Rows {
    starts: Vec<usize>,
    /// Per row, how many of its entries are word features (the rest are characters).
    word_features: Vec<usize>,
    indices: Vec<u32>,
    values: Vec<f32>,
}

impl Rows {
    fn push(&mut self, features: &SparseVector) {
        self.starts.push(self.indices.len());
        self.word_features.push(features.word_features);
        self.indices.extend_from_slice(&features.indices);
        self.values.extend_from_slice(&features.values);
    }

    /// Multiplies every value by the factor of its bucket; with `keep_block_norms`, each block
    /// of a row (words, characters) is then scaled back to the norm it had, as
    /// [`Model::predict_into`] does for a model with IDF weights.
    fn scale(&mut self, factors: &[f32], keep_block_norms: bool) {
        for row in 0..self.starts.len() {
            let (start, end) = self.bounds(row);
            let split = (start + self.word_features[row]).min(end);
            for block in [start..split, split..end] {
                let (mut before, mut after) = (0.0f32, 0.0f32);
                for at in block.clone() {
                    let value = self.values[at];
                    let scaled = value * factors[self.indices[at] as usize];
                    before += value * value;
                    after += scaled * scaled;
                    self.values[at] = scaled;
                }
                if keep_block_norms && after > 0.0 {
                    let factor = (before / after).sqrt();
                    for value in &mut self.values[block] {
                        *value *= factor;
                    }
                }
            }
        }
    }

    /// `√(Σ v² / Σ (v × factor)²)` over every entry of every row: the constant that, applied
    /// to all the factors, leaves the mean squared norm of the rows as it was.
    fn norm_keeping_factor(&self, factors: &[f32]) -> f32 {
        let (mut before, mut after) = (0.0f64, 0.0f64);
        for (&index, &value) in self.indices.iter().zip(&self.values) {
            let value = f64::from(value);
            let scaled = value * f64::from(factors[index as usize]);
            before += value * value;
            after += scaled * scaled;
        }
        if after > 0.0 {
            (before / after).sqrt() as f32
        } else {
            1.0
        }
    }

    /// The same rows with the buckets that occur renumbered `0..used.len()` in ascending
    /// order, and `used`, the original bucket of each.
    fn compacted(&self, buckets: usize) -> (Rows, Vec<u32>) {
        let mut dense = vec![u32::MAX; buckets];
        for &index in &self.indices {
            dense[index as usize] = 0;
        }
        let mut used = Vec::new();
        for (bucket, slot) in dense.iter_mut().enumerate() {
            if *slot == 0 {
                *slot = used.len() as u32;
                used.push(bucket as u32);
            }
        }
        let rows = Rows {
            starts: self.starts.clone(),
            word_features: self.word_features.clone(),
            indices: self.indices.iter().map(|&i| dense[i as usize]).collect(),
            values: self.values.clone(),
        };
        (rows, used)
    }

    /// Where row `i` starts and ends in `indices` and `values`.
    fn bounds(&self, i: usize) -> (usize, usize) {
        let end = self
            .starts
            .get(i + 1)
            .copied()
            .unwrap_or(self.indices.len());
        (self.starts[i], end)
    }

    fn row(&self, i: usize) -> (&[u32], &[f32]) {
        let (start, end) = self.bounds(i);
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
const SPLITMIX_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

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
        self.logits(indices, values);
        softmax_in_place(&mut self.scores);
    }

    /// The class scores before the softmax, into `self.scores`.
    fn logits(&mut self, indices: &[u32], values: &[f32]) {
        let classes = self.classes;
        self.scores.copy_from_slice(&self.bias);
        for (&index, &value) in indices.iter().zip(values) {
            let row = &self.weights[index as usize * classes..][..classes];
            for (score, &w) in self.scores.iter_mut().zip(row) {
                *score += value * w;
            }
        }
    }

    /// Appends the logits of each example of `subset`, `classes` per example.
    fn logits_into(&mut self, rows: &Rows, subset: &[usize], out: &mut Vec<f32>) {
        for &i in subset {
            let (indices, values) = rows.row(i);
            self.logits(indices, values);
            out.extend_from_slice(&self.scores);
        }
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

    /// Writes the predicted class of each example of `subset` to `out[example]`.
    fn predict_into(&mut self, rows: &Rows, subset: &[usize], out: &mut [usize]) {
        for &i in subset {
            let (indices, values) = rows.row(i);
            self.probabilities(indices, values);
            out[i] = argmax(&self.scores);
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

    /// Label noise, so that settings reach different validation scores.
    fn noisy_spam() -> Vec<Example> {
        let mut examples = toy_spam();
        for (i, e) in examples.iter_mut().enumerate() {
            if i % 7 == 0 {
                e.label = if e.label == "spam" { "ham" } else { "spam" }.to_owned();
            }
        }
        examples
    }

    #[test]
    fn tuned_offsets_move_only_the_biases_and_never_lower_the_held_out_score() {
        let texts = [
            "claim your free prize, click now",
            "see you at lunch tomorrow",
        ];
        // Noisy labels and four hams to a spam: balanced class weights then call spam more
        // often than macro-F1 would have them.
        let mut examples = noisy_spam();
        let hams: Vec<Example> = examples
            .iter()
            .filter(|e| e.label == "ham")
            .cloned()
            .collect();
        for _ in 0..3 {
            examples.extend(hams.iter().cloned());
        }
        let mut moved_any = false;
        for folds in [0, 4] {
            let options = TrainOptions {
                optimizer: Optimizer::Lbfgs,
                c_candidates: vec![0.5, 8.0],
                folds,
                ..small_options()
            };
            let tuned_options = TrainOptions {
                tune_offsets: true,
                ..options.clone()
            };
            let (plain, plain_summary) = train_examples(&Task::Spam, &examples, &options).unwrap();
            let (tuned, summary) = train_examples(&Task::Spam, &examples, &tuned_options).unwrap();
            assert_eq!(plain_summary.bias_offsets, None);
            let (offsets, score) = summary.bias_offsets.clone().unwrap();
            assert!(
                score >= summary.validation_macro_f1.unwrap(),
                "{folds} folds"
            );
            moved_any |= offsets.iter().any(|&o| o != 0.0);
            // The same fit, so the log-odds of every text move by the offsets' difference.
            let spam = plain.class_of_label("spam").unwrap();
            let ham = plain.class_of_label("ham").unwrap();
            let mut extractor = FeatureExtractor::new(plain.feature_config());
            let mut features = SparseVector::default();
            let (mut p, mut q) = (Vec::new(), Vec::new());
            for text in texts {
                extractor.extract(text, &mut features);
                plain.predict_into(&features, &mut p);
                tuned.predict_into(&features, &mut q);
                let moved = (q[spam] / q[ham]).ln() - (p[spam] / p[ham]).ln();
                let expected = offsets[spam] - offsets[ham];
                assert!((moved - expected).abs() < 1e-3, "{moved} vs {expected}");
            }
        }
        assert!(
            moved_any,
            "no offset was chosen: the test data no longer needs one"
        );
    }

    #[test]
    fn l2_and_class_weights_are_chosen_on_validation() {
        let examples = noisy_spam();
        let run = |l2s: Vec<f32>, weightings: Vec<ClassWeights>| {
            let options = TrainOptions {
                l2_candidates: l2s,
                class_weight_candidates: weightings,
                validation_fraction: 0.3,
                ..small_options()
            };
            train_examples(&Task::Spam, &examples, &options).unwrap().1
        };
        let all = run(
            vec![1e-5, 0.05],
            vec![ClassWeights::Balanced, ClassWeights::Uniform],
        );
        assert_eq!(all.candidates.len(), 4);
        let best = all
            .candidates
            .iter()
            .map(|c| c.validation_macro_f1)
            .fold(f64::NEG_INFINITY, f64::max);
        assert_eq!(all.validation_macro_f1, Some(best));
        let winner = all
            .candidates
            .iter()
            .find(|c| c.validation_macro_f1 == best)
            .unwrap();
        assert_eq!(
            (all.l2, all.class_weights),
            (winner.l2, winner.class_weights)
        );
        // Each candidate's run is the one it has when tried alone.
        for candidate in &all.candidates {
            let alone = run(vec![candidate.l2], vec![candidate.class_weights]);
            assert_eq!(
                alone.validation_macro_f1,
                Some(candidate.validation_macro_f1)
            );
        }
    }

    #[test]
    fn compacted_rows_number_the_used_buckets_densely_in_order() {
        let mut rows = Rows::default();
        for (indices, values) in [
            (vec![9u32, 3], vec![0.5f32, 1.0]),
            (vec![3, 7], vec![2.0, 3.0]),
        ] {
            rows.push(&SparseVector {
                indices,
                values,
                word_features: 0,
                block_scales: None,
            });
        }
        let (compact, used) = rows.compacted(16);
        assert_eq!(used, vec![3, 7, 9]);
        assert_eq!(compact.row(0), (&[2u32, 0][..], &[0.5f32, 1.0][..]));
        assert_eq!(compact.row(1), (&[0u32, 1][..], &[2.0f32, 3.0][..]));
    }

    #[test]
    fn the_exact_fit_learns_and_is_deterministic() {
        let options = TrainOptions {
            optimizer: Optimizer::Lbfgs,
            c_candidates: vec![0.5, 8.0],
            ..small_options()
        };
        let (model, summary) = train_examples(&Task::Spam, &toy_spam(), &options).unwrap();
        assert!(summary.c.is_some());
        assert_eq!(summary.candidates.len(), 2);
        let mut extractor = FeatureExtractor::new(model.feature_config());
        let mut features = SparseVector::default();
        extractor.extract("claim your free prize, click now", &mut features);
        assert_eq!(model.predict(&features).0, "spam");
        extractor.extract("see you at lunch when I get home", &mut features);
        assert_eq!(model.predict(&features).0, "ham");
        let (again, _) = train_examples(&Task::Spam, &toy_spam(), &options).unwrap();
        assert_eq!(model.to_bytes(), again.to_bytes());
        let refused = TrainOptions { c: 0.0, ..options };
        let error = train_examples(&Task::Spam, &toy_spam(), &refused).unwrap_err();
        assert!(error.to_string().contains("C must be positive"), "{error}");
    }

    #[test]
    fn repeated_splits_keep_each_class_even_across_folds_and_differ_from_the_first() {
        // 3 classes of 23, 11 and 6 examples, interleaved; `all` skips every tenth example.
        let labels: Vec<usize> = (0..45)
            .map(|i| [0, 0, 1, 0, 2, 1, 0, 0, 1][i % 9])
            .collect();
        let all: Vec<usize> = (0..45).filter(|i| i % 10 != 9).collect();
        let folds = 5;
        let first = stratified_folds(&labels, &all, 3, folds, 42, 0);
        // The first split is the file order's: the k-th of each class in fold k mod 5.
        let mut seen = [0usize; 3];
        for (at, &i) in all.iter().enumerate() {
            assert_eq!(first[at], seen[labels[i]] % folds);
            seen[labels[i]] += 1;
        }
        for repeat in 0..4 {
            let split = stratified_folds(&labels, &all, 3, folds, 42, repeat);
            assert_eq!(split, stratified_folds(&labels, &all, 3, folds, 42, repeat));
            for class in 0..3 {
                let mut per_fold = vec![0usize; folds];
                for (at, &i) in all.iter().enumerate() {
                    if labels[i] == class {
                        per_fold[split[at]] += 1;
                    }
                }
                let (low, high) = (per_fold.iter().min(), per_fold.iter().max());
                assert!(
                    high.unwrap() - low.unwrap() <= 1,
                    "repeat {repeat}: {per_fold:?}"
                );
            }
            if repeat > 0 {
                assert_ne!(split, first, "repeat {repeat} split as the first");
            }
        }
    }

    #[test]
    fn the_log_loss_criterion_prefers_the_sure_fit_over_repeated_splits() {
        let options = TrainOptions {
            optimizer: Optimizer::Lbfgs,
            c_candidates: vec![0.001, 8.0],
            folds: 4,
            cv_repeats: 2,
            cv_log_loss: true,
            ..small_options()
        };
        let (_, summary) = train_examples(&Task::Spam, &toy_spam(), &options).unwrap();
        let score = |c: f32| {
            summary
                .candidates
                .iter()
                .find(|candidate| candidate.c == Some(c))
                .unwrap()
                .validation_macro_f1
        };
        // A fit that hardly moves from zero weights says one half for each class: ln 2.
        assert!(
            (score(0.001) + std::f64::consts::LN_2).abs() < 0.02,
            "{}",
            score(0.001)
        );
        assert!(
            score(0.001) < score(8.0) && score(8.0) < 0.0,
            "{}",
            score(8.0)
        );
        assert_eq!(summary.c, Some(8.0));
        assert_eq!(summary.validation_macro_f1, Some(score(8.0)));
    }

    #[test]
    fn cross_validation_judges_every_example_once_and_refuses_the_stochastic_fit() {
        let options = TrainOptions {
            optimizer: Optimizer::Lbfgs,
            c_candidates: vec![0.01, 8.0],
            class_weight_candidates: vec![ClassWeights::Balanced, ClassWeights::Uniform],
            folds: 4,
            ..small_options()
        };
        let (model, summary) = train_examples(&Task::Spam, &toy_spam(), &options).unwrap();
        assert_eq!(summary.candidates.len(), 4);
        assert_eq!(summary.cross_validation_folds, Some(4));
        assert_eq!(summary.judged_by(), "4-fold cross-validation");
        let best = summary
            .candidates
            .iter()
            .map(|c| c.validation_macro_f1)
            .fold(f64::NEG_INFINITY, f64::max);
        assert_eq!(summary.validation_macro_f1, Some(best));
        // The toy set is separable: some C gets every out-of-fold prediction right.
        assert_eq!(best, 1.0);
        let winner = summary
            .candidates
            .iter()
            .find(|c| c.validation_macro_f1 == best)
            .unwrap();
        assert_eq!(summary.c, winner.c);
        let mut extractor = FeatureExtractor::new(model.feature_config());
        let mut features = SparseVector::default();
        extractor.extract("claim your free prize, click now", &mut features);
        assert_eq!(model.predict(&features).0, "spam");
        let (again, _) = train_examples(&Task::Spam, &toy_spam(), &options).unwrap();
        assert_eq!(model.to_bytes(), again.to_bytes());
        // Above the size limit the held-out split decides, as without folds.
        let limited = TrainOptions {
            folds_max_examples: 10,
            ..options.clone()
        };
        let holdout = TrainOptions {
            folds: 0,
            ..options.clone()
        };
        let (limited_model, limited_summary) =
            train_examples(&Task::Spam, &toy_spam(), &limited).unwrap();
        assert_eq!(limited_summary.cross_validation_folds, None);
        assert_eq!(
            limited_summary.judged_by(),
            format!("validation {}", limited_summary.validation_examples)
        );
        assert_eq!(
            limited_model.to_bytes(),
            train_examples(&Task::Spam, &toy_spam(), &holdout)
                .unwrap()
                .0
                .to_bytes()
        );
        let refused = TrainOptions {
            optimizer: Optimizer::BestOnValidation,
            ..options
        };
        let error = train_examples(&Task::Spam, &toy_spam(), &refused).unwrap_err();
        assert!(error.to_string().contains("L-BFGS"), "{error}");
    }

    #[test]
    fn idf_search_keeps_the_better_of_both_fits() {
        let options = TrainOptions {
            optimizer: Optimizer::Lbfgs,
            c_candidates: vec![0.01, 8.0],
            folds: 4,
            idf_search: true,
            ..small_options()
        };
        let (model, summary) = train_examples(&Task::Spam, &toy_spam(), &options).unwrap();
        assert_eq!(summary.candidates.len(), 4);
        assert_eq!(summary.candidates.iter().filter(|c| c.idf).count(), 2);
        let best_of = |idf: bool| {
            summary
                .candidates
                .iter()
                .filter(|c| c.idf == idf)
                .map(|c| c.validation_macro_f1)
                .fold(f64::NEG_INFINITY, f64::max)
        };
        // Ties keep the model without IDF.
        assert_eq!(summary.idf, best_of(true) > best_of(false));
        assert_eq!(summary.idf, !model.idf().is_empty());
        let chosen = TrainOptions {
            idf_search: false,
            idf: summary.idf,
            idf_normalized: summary.idf,
            ..options
        };
        assert_eq!(
            model.to_bytes(),
            train_examples(&Task::Spam, &toy_spam(), &chosen)
                .unwrap()
                .0
                .to_bytes()
        );
    }

    #[test]
    fn one_vs_rest_learns_three_classes() {
        let texts = [
            ("i love it, wonderful, great", "positive"),
            ("awful, terrible, i hate it", "negative"),
            ("the store opens at nine on monday", "neutral"),
        ];
        let mut examples = Vec::new();
        for round in 0..8 {
            for (text, label) in texts {
                examples.push(Example {
                    id: String::new(),
                    text: format!("{text} {round}"),
                    label: label.to_owned(),
                    lang: None,
                });
            }
        }
        let options = TrainOptions {
            optimizer: Optimizer::Lbfgs,
            one_vs_rest: true,
            ..small_options()
        };
        let (model, _) = train_examples(&Task::Sentiment, &examples, &options).unwrap();
        let mut extractor = FeatureExtractor::new(model.feature_config());
        let mut features = SparseVector::default();
        for (text, label) in [
            ("wonderful, i love it", "positive"),
            ("terrible, i hate it", "negative"),
            ("opens at nine", "neutral"),
        ] {
            extractor.extract(text, &mut features);
            assert_eq!(model.predict(&features).0, label, "{text}");
        }
        let softmax = TrainOptions {
            one_vs_rest: false,
            ..options
        };
        let (other, _) = train_examples(&Task::Sentiment, &examples, &softmax).unwrap();
        assert_ne!(model.to_bytes(), other.to_bytes());
    }

    #[test]
    fn both_optimisers_compete_on_validation() {
        let examples = noisy_spam();
        let mut exact_wins = 0;
        // As set up for the shipped models, and with a stochastic search crippled to one tiny
        // step, so that both outcomes of the comparison are exercised.
        for (learning_rate, max_epochs) in [(0.05, 5), (1e-4, 1)] {
            let run = |optimizer| {
                let options = TrainOptions {
                    optimizer,
                    validation_fraction: 0.3,
                    learning_rate,
                    max_epochs,
                    ..small_options()
                };
                train_examples(&Task::Spam, &examples, &options).unwrap().1
            };
            let stochastic = run(Optimizer::AdaGrad).validation_macro_f1.unwrap();
            let exact = run(Optimizer::Lbfgs).validation_macro_f1.unwrap();
            let both = run(Optimizer::BestOnValidation);
            assert_eq!(both.validation_macro_f1, Some(stochastic.max(exact)));
            assert_eq!(both.c.is_some(), exact >= stochastic);
            exact_wins += usize::from(exact > stochastic);
        }
        assert!(exact_wins >= 1);
    }

    #[test]
    fn the_objective_gradient_matches_finite_differences() {
        let mut extractor = FeatureExtractor::new(small_options().features);
        let mut features = SparseVector::default();
        let mut rows = Rows::default();
        let texts = [
            "free prize now",
            "lunch at home",
            "call now for cash",
            "see you",
        ];
        for text in texts {
            extractor.extract(text, &mut features);
            rows.push(&features);
        }
        let labels = [0, 1, 0, 2];
        let classes = 3;
        let buckets = small_options().features.buckets();
        let parameters = buckets * classes + classes;
        // Weights on the buckets the rows use, deterministic but not symmetric.
        let mut x = vec![0.0f64; parameters];
        let mut used: Vec<usize> = rows.indices.iter().map(|&i| i as usize).collect();
        used.sort_unstable();
        used.dedup();
        for (k, &b) in used.iter().enumerate() {
            for c in 0..classes {
                x[b * classes + c] = ((k * 7 + c * 3) % 11) as f64 / 10.0 - 0.5;
            }
        }
        x[buckets * classes + 1] = 0.3;
        let subset = [0, 1, 2, 3];
        let weights = [1.5f32, 1.0, 0.5];
        // NB factors scale the features per bucket and class: the gradient must follow them.
        let factors: Vec<f32> = (0..buckets * classes)
            .map(|i| 0.5 + (i % 7) as f32 / 4.0)
            .collect();
        for (one_vs_rest, scale) in [
            (false, None),
            (true, None),
            (false, Some(&factors[..])),
            (true, Some(&factors[..])),
        ] {
            let mut scores = vec![0.0; classes];
            let mut gradient = vec![0.0; parameters];
            let mut scaled = Vec::new();
            let mut objective = |x: &[f64], g: &mut [f64]| {
                softmax_objective(
                    &rows,
                    &labels,
                    &subset,
                    &weights,
                    2.0,
                    classes,
                    one_vs_rest,
                    &mut scores,
                    Scaling {
                        scale,
                        scaled: &mut scaled,
                    },
                    x,
                    g,
                )
            };
            objective(&x, &mut gradient);
            let mut scratch = vec![0.0; parameters];
            let probes = [
                used[0] * classes,
                used[1] * classes + 2,
                buckets * classes + 1,
            ];
            for &p in &probes {
                let h = 1e-5;
                let mut plus = x.clone();
                plus[p] += h;
                let mut minus = x.clone();
                minus[p] -= h;
                let numeric =
                    (objective(&plus, &mut scratch) - objective(&minus, &mut scratch)) / (2.0 * h);
                assert!(
                    (numeric - gradient[p]).abs() < 1e-5,
                    "one-vs-rest {one_vs_rest}, scaled {}, {p}: {numeric} vs {}",
                    scale.is_some(),
                    gradient[p]
                );
            }
        }
    }

    fn rows_of(entries: &[&[(u32, f32)]]) -> Rows {
        let mut rows = Rows::default();
        for row in entries {
            rows.push(&SparseVector {
                indices: row.iter().map(|e| e.0).collect(),
                values: row.iter().map(|e| e.1).collect(),
                word_features: 0,
                block_scales: None,
            });
        }
        rows
    }

    #[test]
    fn nb_factors_come_from_the_given_rows_only() {
        // Bucket 0 marks class 0, bucket 1 class 1, bucket 2 both; row 2 (class 1, repeating
        // bucket 0) and row 4 (class 0, holding bucket 1) are outside the subset.
        let rows = rows_of(&[
            &[(0, 0.5), (2, 0.5)],
            &[(1, 0.5), (2, 0.5)],
            &[(0, 1.0), (0, 1.0), (1, 0.1)],
            &[(0, 0.5), (3, -0.5)],
            &[(1, 1.0)],
        ]);
        let labels = [0, 1, 1, 0, 0];
        let subset = [0, 1, 3];
        let (buckets, classes, beta, alpha) = (5, 2, 2.0, 1.0);
        let factors = nb_factors(&rows, &labels, &subset, buckets, classes, beta, alpha);
        // By hand: 4 used buckets (0-3); class 0 holds 0, 2, 0, 3 (4 counts), class 1 holds 1, 2.
        let (p_norm, q_norm) = (4.0 + 4.0, 4.0 + 2.0);
        let ratio = |p: f64, q: f64| ((p / p_norm) / (q / q_norm)).ln().abs();
        let raw = [
            1.0 + 2.0 * ratio(1.0 + 2.0, 1.0),
            1.0 + 2.0 * ratio(1.0, 1.0 + 1.0),
            1.0 + 2.0 * ratio(1.0 + 1.0, 1.0 + 1.0),
            1.0 + 2.0 * ratio(1.0 + 1.0, 1.0),
        ];
        // κ keeps Σ v² of the subset's rows (every entry 0.25).
        let kappa = (6.0 * 0.25
            / (0.25
                * (2.0 * raw[0] * raw[0]
                    + raw[1] * raw[1]
                    + 2.0 * raw[2] * raw[2]
                    + raw[3] * raw[3])))
            .sqrt();
        for bucket in 0..4 {
            for k in 0..classes {
                let expected = raw[bucket] * kappa;
                let got = f64::from(factors[bucket * classes + k]);
                assert!(
                    (got - expected).abs() < 1e-5,
                    "{bucket} {k}: {got} vs {expected}"
                );
            }
        }
        // Two classes: both lanes get the same factor, so the weights stay negated.
        assert_eq!(factors[0], factors[1]);
        // An unused bucket gets κ alone.
        assert!((f64::from(factors[8]) - kappa).abs() < 1e-6);
        // Rows outside the subset change nothing, whatever they hold.
        let other = rows_of(&[
            &[(0, 0.5), (2, 0.5)],
            &[(1, 0.5), (2, 0.5)],
            &[(4, 3.0)],
            &[(0, 0.5), (3, -0.5)],
            &[(0, 2.0), (2, 1.0)],
        ]);
        let other_labels = [0, 1, 0, 0, 1];
        assert_eq!(
            nb_factors(
                &other,
                &other_labels,
                &subset,
                buckets,
                classes,
                beta,
                alpha
            ),
            factors
        );
        // ...while the same rows in the subset do.
        let all = [0, 1, 2, 3, 4];
        assert_ne!(
            nb_factors(&rows, &labels, &all, buckets, classes, beta, alpha),
            factors
        );
    }

    #[test]
    fn folded_nb_factors_predict_what_the_scaled_features_predict() {
        let examples = three_classes();
        let mut extractor = FeatureExtractor::new(small_options().features);
        let mut features = SparseVector::default();
        let mut rows = Rows::default();
        let labels: Vec<usize> = examples
            .iter()
            .map(|e| {
                extractor.extract(&e.text, &mut features);
                rows.push(&features);
                ["positive", "negative", "neutral"]
                    .iter()
                    .position(|&l| l == e.label)
                    .unwrap()
            })
            .collect();
        let names: Vec<String> = ["positive", "negative", "neutral"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let buckets = small_options().features.buckets();
        let (compact, used) = rows.compacted(buckets);
        let options = TrainOptions {
            optimizer: Optimizer::Lbfgs,
            one_vs_rest: true,
            nb_beta: 1.0,
            ..small_options()
        };
        let search = LbfgsSearch {
            rows: &compact,
            labels: &labels,
            names: &names,
            buckets: used.len(),
            used: &used,
            full_buckets: buckets,
            options: &options,
        };
        let classes = names.len();
        let training: Vec<usize> = (0..labels.len()).filter(|i| i % 4 != 0).collect();
        let scale = search.nb_scales(&training).unwrap();
        // Different classes get different factors in one-vs-rest.
        assert!(scale.chunks_exact(classes).any(|row| row[0] != row[1]));
        let mut x = vec![0.0; used.len() * classes + classes];
        let weights = class_weights(ClassWeights::Balanced, classes, &labels);
        search.fit(&mut x, &training, &weights, 4.0, Some(&scale));
        let mut folded = search.to_fit(&x, Some(&scale));
        let full = search.expanded(&x, Some(&scale));
        for i in 0..labels.len() {
            // The scores of the scaled features against the fitted weights...
            let (indices, values) = compact.row(i);
            let mut scaled = x[used.len() * classes..].to_vec();
            for (&index, &value) in indices.iter().zip(values) {
                for (k, score) in scaled.iter_mut().enumerate() {
                    let at = index as usize * classes + k;
                    *score += f64::from(value) * f64::from(scale[at]) * x[at];
                }
            }
            // ...are those of the unscaled features against the folded weights, in the dense
            // buckets and in the full ones that the model is quantised from.
            folded.logits(indices, values);
            for (k, &score) in scaled.iter().enumerate() {
                let full_score = indices.iter().zip(values).fold(
                    f64::from(full.bias[k]),
                    |sum, (&index, &value)| {
                        sum + f64::from(value)
                            * f64::from(full.weights[used[index as usize] as usize * classes + k])
                    },
                );
                assert!(
                    (f64::from(folded.scores[k]) - score).abs() < 1e-4,
                    "{i} {k}"
                );
                assert!((full_score - score).abs() < 1e-4, "{i} {k}");
            }
        }
    }

    #[test]
    fn averaging_the_best_settings_is_judged_by_its_out_of_fold_logits() {
        let options = TrainOptions {
            optimizer: Optimizer::Lbfgs,
            c_candidates: vec![0.01, 0.1, 1.0, 8.0],
            class_weight_candidates: vec![ClassWeights::Balanced, ClassWeights::Uniform],
            folds: 4,
            one_vs_rest: true,
            ..small_options()
        };
        for examples in [three_classes(), noisy_spam()] {
            let task = if examples.iter().any(|e| e.label == "spam") {
                Task::Spam
            } else {
                Task::Sentiment
            };
            let (single_model, single) = train_examples(&task, &examples, &options).unwrap();
            assert_eq!(single.averaged_settings, 1);
            assert!(single.averaging_scores.is_empty());
            let averaging = TrainOptions {
                ensemble_top: 8,
                ..options.clone()
            };
            let (model, summary) = train_examples(&task, &examples, &averaging).unwrap();
            // Averaging the best one is the single best.
            assert_eq!(summary.averaging_scores.len(), 8);
            assert_eq!(
                Some(summary.averaging_scores[0]),
                single.validation_macro_f1
            );
            let best = summary
                .averaging_scores
                .iter()
                .copied()
                .fold(f64::NEG_INFINITY, f64::max);
            let first_best = 1 + summary
                .averaging_scores
                .iter()
                .position(|&score| score == best)
                .unwrap();
            assert_eq!(summary.averaged_settings, first_best);
            assert_eq!(summary.validation_macro_f1, Some(best));
            assert_eq!(
                model.to_bytes() == single_model.to_bytes(),
                first_best == 1,
                "an average of several fits is another model"
            );
        }
        let refused = TrainOptions {
            ensemble_top: 2,
            cv_repeats: 2,
            ..options
        };
        assert!(train_examples(&Task::Spam, &noisy_spam(), &refused).is_err());
    }

    /// 160 texts of six words drawn from 30, each word leaning to one class; the label follows
    /// the words' sum plus noise, so that the settings of the search disagree.
    fn noisy_words(seed: u64) -> Vec<Example> {
        let mut random = SplitMix64(seed);
        (0..160)
            .map(|_| {
                let mut lean = 0i64;
                let words: Vec<String> = (0..6)
                    .map(|_| {
                        let word = random.next() % 30;
                        lean += word as i64 % 5 - 2;
                        format!("w{word}")
                    })
                    .collect();
                lean += (random.next() % 7) as i64 - 3;
                let label = if lean > 0 { "spam" } else { "ham" };
                example(&words.join(" "), label)
            })
            .collect()
    }

    #[test]
    fn an_averaged_model_scores_what_its_settings_score_on_average() {
        let options = TrainOptions {
            optimizer: Optimizer::Lbfgs,
            c_candidates: vec![0.05, 0.2, 1.0, 8.0],
            class_weight_candidates: vec![ClassWeights::Balanced, ClassWeights::Uniform],
            folds: 4,
            ensemble_top: 8,
            ..small_options()
        };
        // The first data set (in seed order) on which the cross-validation takes an average.
        let (examples, model, summary) = (0..40)
            .find_map(|seed| {
                let examples = noisy_words(seed);
                let (model, summary) = train_examples(&Task::Spam, &examples, &options).unwrap();
                (summary.averaged_settings > 1).then_some((examples, model, summary))
            })
            .expect("some data set where averaging wins the cross-validation");
        // The members: the best settings by cross-validated score, ties to the earlier.
        let mut ranked = summary.candidates.clone();
        ranked.sort_by(|a, b| b.validation_macro_f1.total_cmp(&a.validation_macro_f1));
        let members: Vec<Model> = ranked[..summary.averaged_settings]
            .iter()
            .map(|candidate| TrainOptions {
                c: candidate.c.unwrap(),
                c_candidates: Vec::new(),
                class_weights: candidate.class_weights,
                class_weight_candidates: Vec::new(),
                folds: 0,
                validation_fraction: 0.0,
                ensemble_top: 0,
                ..options.clone()
            })
            .map(|member| train_examples(&Task::Spam, &examples, &member).unwrap().0)
            .collect();
        let log_odds = |model: &Model, text: &str| {
            let mut extractor = FeatureExtractor::new(model.feature_config());
            let mut features = SparseVector::default();
            extractor.extract(text, &mut features);
            let mut probabilities = Vec::new();
            model.predict_into(&features, &mut probabilities);
            f64::from(probabilities[0]).ln() - f64::from(probabilities[1]).ln()
        };
        for example in examples.iter().take(40) {
            let averaged = log_odds(&model, &example.text);
            let mean = members
                .iter()
                .map(|member| log_odds(member, &example.text))
                .sum::<f64>()
                / members.len() as f64;
            // The 8-bit weights of each model round a little differently.
            assert!(
                (averaged - mean).abs() < 0.05 + 0.05 * mean.abs(),
                "{}: {averaged} against {mean}",
                example.text
            );
        }
    }

    #[test]
    fn averaged_logits_are_the_mean_of_the_chosen_settings_per_example() {
        // Two classes; three settings over examples 0..3, of which `all` takes 2 and 0.
        let logits = vec![
            vec![1.0, 0.0, 2.0, 2.0, 3.0, -1.0],
            vec![9.0, 9.0, 9.0, 9.0, 9.0, 9.0],
            vec![3.0, 2.0, 0.0, 0.0, -1.0, 1.0],
        ];
        assert_eq!(
            averaged_logits(&logits, &[0, 2], &[2, 0], 2),
            vec![1.0, 0.0, 2.0, 1.0]
        );
        assert_eq!(averaged_logits(&logits, &[1], &[0], 2), vec![9.0, 9.0]);
    }

    #[test]
    fn nb_search_keeps_the_better_fit_and_a_plain_model_file() {
        let options = TrainOptions {
            optimizer: Optimizer::Lbfgs,
            c_candidates: vec![0.01, 8.0],
            folds: 4,
            one_vs_rest: true,
            nb_beta: 2.0,
            nb_search: true,
            ..small_options()
        };
        let examples = three_classes();
        let (model, summary) = train_examples(&Task::Sentiment, &examples, &options).unwrap();
        assert_eq!(summary.candidates.len(), 4);
        assert_eq!(summary.candidates.iter().filter(|c| c.nb).count(), 2);
        let best_of = |nb: bool| {
            summary
                .candidates
                .iter()
                .filter(|c| c.nb == nb)
                .map(|c| c.validation_macro_f1)
                .fold(f64::NEG_INFINITY, f64::max)
        };
        // Ties keep the model without.
        assert_eq!(summary.nb, best_of(true) > best_of(false));
        let weighted = TrainOptions {
            nb_search: false,
            ..options.clone()
        };
        let (nb_model, nb_summary) =
            train_examples(&Task::Sentiment, &examples, &weighted).unwrap();
        assert!(nb_summary.nb);
        // A plain model: no IDF table, the same feature configuration, and it learns.
        assert!(nb_model.idf().is_empty());
        let mut extractor = FeatureExtractor::new(nb_model.feature_config());
        let mut features = SparseVector::default();
        extractor.extract("terrible, i hate it", &mut features);
        assert_eq!(nb_model.predict(&features).0, "negative");
        let chosen = TrainOptions {
            nb_beta: if summary.nb { 2.0 } else { 0.0 },
            ..weighted
        };
        assert_eq!(
            model.to_bytes(),
            train_examples(&Task::Sentiment, &examples, &chosen)
                .unwrap()
                .0
                .to_bytes()
        );
        for refused in [
            TrainOptions {
                nb_beta: 0.0,
                ..options.clone()
            },
            TrainOptions {
                nb_search: false,
                optimizer: Optimizer::AdaGrad,
                folds: 0,
                ..options.clone()
            },
            TrainOptions {
                nb_search: false,
                nb_beta: -1.0,
                ..options
            },
        ] {
            assert!(train_examples(&Task::Sentiment, &examples, &refused).is_err());
        }
    }

    /// Three classes with a signal each and shared noise words, so that the folds disagree.
    fn three_classes() -> Vec<Example> {
        let texts = [
            ("i love it, wonderful, great day", "positive"),
            ("great, love the store, nice", "positive"),
            ("awful, terrible, i hate it", "negative"),
            ("hate the store, awful day", "negative"),
            ("the store opens at nine on monday", "neutral"),
            ("it opens at nine, the day after", "neutral"),
        ];
        let mut examples = Vec::new();
        for round in 0..6 {
            for (text, label) in texts {
                examples.push(example(&format!("{text} {round}"), label));
            }
        }
        examples
    }

    #[test]
    fn idf_counts_each_row_once() {
        let mut rows = Rows::default();
        rows.push(&SparseVector {
            indices: vec![1, 1, 2],
            values: vec![1.0, 1.0, 1.0],
            word_features: 0,
            block_scales: None,
        });
        rows.push(&SparseVector {
            indices: vec![2],
            values: vec![1.0],
            word_features: 0,
            block_scales: None,
        });
        let idf = inverse_document_frequencies(&rows, 4);
        // n = 2: bucket 1 in one row, bucket 2 in both, 0 and 3 in none.
        let expected = |df: f32| (3.0f32 / (1.0 + df)).ln() + 1.0;
        assert_eq!(
            idf,
            vec![expected(0.0), expected(1.0), expected(2.0), expected(0.0)]
        );
        assert_eq!(idf[2], 1.0);
    }

    #[test]
    fn idf_training_still_learns() {
        let options = TrainOptions {
            idf: true,
            ..small_options()
        };
        let (model, _) = train_examples(&Task::Spam, &toy_spam(), &options).unwrap();
        let (plain, _) = train_examples(&Task::Spam, &toy_spam(), &small_options()).unwrap();
        assert_ne!(model.to_bytes(), plain.to_bytes());
        let mut extractor = FeatureExtractor::new(model.feature_config());
        let mut features = SparseVector::default();
        extractor.extract("claim your free prize, click now", &mut features);
        assert_eq!(model.predict(&features).0, "spam");
    }

    #[test]
    fn normalised_idf_training_ships_its_idf_table_in_the_model() {
        let options = TrainOptions {
            idf: true,
            idf_normalized: true,
            optimizer: Optimizer::Lbfgs,
            validation_fraction: 0.3,
            ..small_options()
        };
        let (model, summary) = train_examples(&Task::Spam, &toy_spam(), &options).unwrap();
        assert_eq!(model.idf().len(), model.feature_config().buckets());
        // A bucket no text used has the largest IDF, one used by every text the smallest.
        let largest = model.idf().iter().copied().fold(0.0, f32::max);
        assert!(model.idf().iter().all(|&idf| idf >= 1.0 && idf <= largest));
        let mut extractor = FeatureExtractor::new(model.feature_config());
        let mut features = SparseVector::default();
        extractor.extract("claim your free prize, click now", &mut features);
        assert_eq!(model.predict(&features).0, "spam");
        let reloaded = Model::from_bytes(&model.to_bytes(), std::path::Path::new("m.esm")).unwrap();
        assert_eq!(reloaded.predict(&features), model.predict(&features));
        assert!(summary.validation_macro_f1.is_some());
    }

    #[test]
    fn models_given_one_corpus_idf_carry_the_same_table() {
        let spam = toy_spam();
        let options = TrainOptions {
            idf: true,
            idf_normalized: true,
            optimizer: Optimizer::Lbfgs,
            validation_fraction: 0.3,
            ..small_options()
        };
        // The corpus of the training texts alone gives the table the training computes itself.
        let own = corpus_idf(spam.iter().map(|e| e.text.as_str()), options.features);
        let (model, _) = train_examples(&Task::Spam, &spam, &options).unwrap();
        let quantized: Vec<f32> = own.iter().copied().map(quantized_idf).collect();
        assert_eq!(model.idf(), &quantized[..]);
        // Two models on different halves, one shared table over both: the same IDF in each,
        // unlike the tables each half would give alone.
        let (first, second) = spam.split_at(spam.len() / 2);
        let shared = std::sync::Arc::new(own);
        let with_shared = TrainOptions {
            idf_table: Some(shared),
            ..options.clone()
        };
        let (a, _) = train_examples(&Task::Spam, first, &with_shared).unwrap();
        let (b, _) = train_examples(&Task::Spam, second, &with_shared).unwrap();
        assert_eq!(a.idf(), b.idf());
        let (alone, _) = train_examples(&Task::Spam, first, &options).unwrap();
        assert_ne!(alone.idf(), a.idf());
    }

    #[test]
    fn sublinear_merging_counts_repeats_per_bucket_and_sign_and_keeps_block_norms() {
        let mut features = SparseVector {
            indices: vec![5, 5, 5, 2, 9, 9, 9, 9, 9],
            values: vec![0.5, 0.5, 0.5, -0.5, 0.4, 0.4, -0.4, 0.4, 0.4],
            word_features: 4,
            block_scales: None,
        };
        let norms = |f: &SparseVector| {
            let split = f.word_features;
            let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
            (norm(&f.values[..split]), norm(&f.values[split..]))
        };
        let before = norms(&features);
        sublinear_in_place(&mut features);
        assert_eq!(features.indices, vec![2, 5, 9, 9]);
        assert_eq!(features.word_features, 2);
        // Bucket 5 three times against 2 once: 1 + ln 3 to 1; bucket 9: + four times, − once.
        let ratio = features.values[1] / -features.values[0];
        assert!((ratio - (1.0 + 3f32.ln())).abs() < 1e-5, "{ratio}");
        let ratio = features.values[3] / -features.values[2];
        assert!((ratio - (1.0 + 4f32.ln())).abs() < 1e-5, "{ratio}");
        let after = norms(&features);
        assert!((before.0 - after.0).abs() < 1e-5 && (before.1 - after.1).abs() < 1e-5);
    }

    #[test]
    fn reweighted_blocks_give_the_words_their_share_and_predict_as_their_values() {
        let mut extractor = FeatureExtractor::new(FeatureConfig::default());
        let mut features = SparseVector::default();
        extractor.extract("the router keeps dropping the line", &mut features);
        let squared = |f: &SparseVector, words: bool| {
            let split = f.word_features;
            let block = if words {
                &f.values[..split]
            } else {
                &f.values[split..]
            };
            block.iter().map(|x| x * x).sum::<f32>()
        };
        let halves = (squared(&features, true), squared(&features, false));
        assert!((halves.0 - 0.5).abs() < 1e-4 && (halves.1 - 0.5).abs() < 1e-4);
        let mut same = features.clone();
        reweight_blocks(&mut same, 0.5);
        assert_eq!(same.values, features.values);
        reweight_blocks(&mut features, 0.3);
        assert!((squared(&features, true) - 0.3).abs() < 1e-4);
        assert!((squared(&features, false) - 0.7).abs() < 1e-4);
        // `block_scales` follows the values, so a model's integer sums give what the values give.
        let scales = features
            .block_scales
            .expect("extracted vectors carry their scales");
        let split = features.word_features;
        assert!(features.values[..split]
            .iter()
            .all(|v| (v.abs() - scales[0]).abs() < 1e-6));
        assert!(features.values[split..]
            .iter()
            .all(|v| (v.abs() - scales[1]).abs() < 1e-6));
        let (model, _) = train_examples(&Task::Spam, &toy_spam(), &small_options()).unwrap();
        let mut by_block = Vec::new();
        model.predict_into(&features, &mut by_block);
        let mut by_value = Vec::new();
        let unscaled = SparseVector {
            block_scales: None,
            ..features.clone()
        };
        model.predict_into(&unscaled, &mut by_value);
        for (a, b) in by_block.iter().zip(&by_value) {
            assert!((a - b).abs() < 1e-5, "{by_block:?} against {by_value:?}");
        }
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
