//! Understanding mentions: sentiment, offensive language, spam and intents for Russian, Greek
//! and English text.
//!
//! The pieces, from the bottom up:
//! - [`features`]: hashed, signed, linear-TF, L2-normalised word 1-2-grams and character
//!   3-5-grams, extracted into reusable buffers;
//! - [`train`]: a multinomial logistic regression trained with AdaGrad, L2 regularisation, class
//!   weights and early stopping on a held-out split, deterministic for a given seed;
//! - [`model`]: the trained classifier, quantised to i8 and pruned, in a small versioned binary
//!   format with a checksum;
//! - [`eval`]: accuracy, macro-F1, macro recall, weighted F1 and the confusion matrix;
//! - [`rules`]: transparent cue rules for intents without labelled data;
//! - [`analyzer`]: the [`Analyzer`] that puts them together behind `analyze(text, lang)`.
//!
//! Nothing here touches the network, and no input text can make it panic.

pub mod analyzer;
mod chunk_cache;
pub mod data;
pub mod eval;
pub mod features;
mod lbfgs;
pub mod model;
pub(crate) mod offsets;
pub mod rules;
pub mod train;

pub use analyzer::{
    Analysis, Analyzer, AnalyzerError, Explanation, ModelVerdict, Scored, Scratch, Target,
    TargetSentiment, MAX_ANALYZED_BYTES,
};
pub use data::{read_examples, DataError, Dataset, Example, LineError};
pub use eval::{evaluate, ClassMetrics, Report};
pub use features::{FeatureConfig, FeatureExtractor, SparseVector};
pub use model::{Model, ModelError};
pub use train::{
    corpus_idf, train, train_examples, CandidateScore, ClassWeights, Optimizer, Task, TrainError,
    TrainOptions, TrainSummary,
};
