//! Classification metrics as pure functions of gold and predicted class indices.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::data::{read_examples, DataError};
use crate::features::{FeatureExtractor, SparseVector};
use crate::model::Model;
use crate::train::Task;

/// `confusion[gold][predicted]` counts; indices outside `0..classes` are ignored.
pub fn confusion_matrix(classes: usize, gold: &[usize], predicted: &[usize]) -> Vec<Vec<u64>> {
    let mut matrix = vec![vec![0u64; classes]; classes];
    for (&g, &p) in gold.iter().zip(predicted) {
        if g < classes && p < classes {
            matrix[g][p] += 1;
        }
    }
    matrix
}

/// Precision, recall, F1 and support of one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    pub label: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: u64,
}

fn ratio(numerator: u64, denominator: u64) -> f64 {
    if denominator == 0 {
        0.0
    } else {
        numerator as f64 / denominator as f64
    }
}

/// Per-class metrics from a confusion matrix. A class never predicted has precision 0, a class
/// absent from the gold labels has recall 0 (the convention of scikit-learn's `zero_division=0`).
pub fn class_metrics(labels: &[String], confusion: &[Vec<u64>]) -> Vec<ClassMetrics> {
    (0..confusion.len())
        .map(|c| {
            let true_positive = confusion[c][c];
            let support: u64 = confusion[c].iter().sum();
            let predicted: u64 = confusion.iter().map(|row| row[c]).sum();
            let precision = ratio(true_positive, predicted);
            let recall = ratio(true_positive, support);
            let f1 = if precision + recall == 0.0 {
                0.0
            } else {
                2.0 * precision * recall / (precision + recall)
            };
            ClassMetrics {
                label: labels.get(c).cloned().unwrap_or_else(|| c.to_string()),
                precision,
                recall,
                f1,
                support,
            }
        })
        .collect()
}

pub fn accuracy(confusion: &[Vec<u64>]) -> f64 {
    let correct: u64 = (0..confusion.len()).map(|c| confusion[c][c]).sum();
    let total: u64 = confusion.iter().flatten().sum();
    ratio(correct, total)
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, count) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if count == 0 {
        0.0
    } else {
        sum / count as f64
    }
}

pub fn macro_f1(metrics: &[ClassMetrics]) -> f64 {
    mean(metrics.iter().map(|m| m.f1))
}

pub fn macro_recall(metrics: &[ClassMetrics]) -> f64 {
    mean(metrics.iter().map(|m| m.recall))
}

pub fn weighted_f1(metrics: &[ClassMetrics]) -> f64 {
    let total: u64 = metrics.iter().map(|m| m.support).sum();
    if total == 0 {
        return 0.0;
    }
    metrics.iter().map(|m| m.f1 * m.support as f64).sum::<f64>() / total as f64
}

/// Everything `earshot model eval` prints for one test set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub labels: Vec<String>,
    pub examples: u64,
    pub accuracy: f64,
    pub macro_f1: f64,
    pub macro_recall: f64,
    pub weighted_f1: f64,
    pub per_class: Vec<ClassMetrics>,
    /// `confusion[gold][predicted]`, in the order of `labels`.
    pub confusion: Vec<Vec<u64>>,
    /// Test lines left out: unreadable, or with a label the model does not know.
    pub skipped: u64,
}

impl Report {
    pub fn from_predictions(labels: &[String], gold: &[usize], predicted: &[usize]) -> Report {
        let confusion = confusion_matrix(labels.len(), gold, predicted);
        let per_class = class_metrics(labels, &confusion);
        Report {
            labels: labels.to_vec(),
            examples: confusion.iter().flatten().sum(),
            accuracy: accuracy(&confusion),
            macro_f1: macro_f1(&per_class),
            macro_recall: macro_recall(&per_class),
            weighted_f1: weighted_f1(&per_class),
            per_class,
            confusion,
            skipped: 0,
        }
    }

    /// A plain-text table: the summary figures, then the confusion matrix.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "examples {}  accuracy {:.4}  macro-F1 {:.4}  macro-recall {:.4}  weighted-F1 {:.4}\n",
            self.examples, self.accuracy, self.macro_f1, self.macro_recall, self.weighted_f1
        );
        if self.skipped > 0 {
            out.push_str(&format!("skipped lines {}\n", self.skipped));
        }
        out.push_str("gold \\ predicted");
        for label in &self.labels {
            out.push_str(&format!("\t{label}"));
        }
        out.push('\n');
        for (label, row) in self.labels.iter().zip(&self.confusion) {
            out.push_str(label);
            for count in row {
                out.push_str(&format!("\t{count}"));
            }
            out.push('\n');
        }
        out
    }
}

/// Runs `model` over a JSON Lines test file and measures it. Lines that cannot be read, and
/// labels the model does not know (after the task's label mapping), are counted in `skipped`.
pub fn evaluate(model: &Model, test_file: &Path) -> Result<Report, DataError> {
    let dataset = read_examples(test_file)?;
    let mut extractor = FeatureExtractor::new(model.feature_config());
    let mut features = SparseVector::default();
    let mut probabilities = Vec::new();
    let mut gold = Vec::new();
    let mut predicted = Vec::new();
    let mut skipped = dataset.skipped.len() as u64;
    let task = Task::from_name(model.task());
    for example in &dataset.examples {
        let class = task
            .map_label(&example.label)
            .and_then(|label| model.class_of_label(label));
        let Some(class) = class else {
            skipped += 1;
            continue;
        };
        extractor.extract(&example.text, &mut features);
        model.predict_into(&features, &mut probabilities);
        gold.push(class);
        predicted.push(argmax(&probabilities));
    }
    let mut report = Report::from_predictions(model.labels(), &gold, &predicted);
    report.skipped = skipped;
    Ok(report)
}

/// The index of the largest value; the first one on ties, 0 for an empty slice.
pub fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn hand_computed_three_class_example() {
        // gold:      0 0 0 1 1 2
        // predicted: 0 0 1 1 2 2
        let gold = [0, 0, 0, 1, 1, 2];
        let predicted = [0, 0, 1, 1, 2, 2];
        let report = Report::from_predictions(&labels(&["neg", "neu", "pos"]), &gold, &predicted);
        assert_eq!(
            report.confusion,
            vec![vec![2, 1, 0], vec![0, 1, 1], vec![0, 0, 1]]
        );
        assert!(close(report.accuracy, 4.0 / 6.0));
        // neg: P 2/2 R 2/3 F1 0.8; neu: P 1/2 R 1/2 F1 0.5; pos: P 1/2 R 1 F1 2/3.
        let f1: Vec<f64> = report.per_class.iter().map(|m| m.f1).collect();
        assert!(close(f1[0], 0.8) && close(f1[1], 0.5) && close(f1[2], 2.0 / 3.0));
        assert!(close(report.macro_f1, (0.8 + 0.5 + 2.0 / 3.0) / 3.0));
        assert!(close(report.macro_recall, (2.0 / 3.0 + 0.5 + 1.0) / 3.0));
        assert!(close(
            report.weighted_f1,
            (0.8 * 3.0 + 0.5 * 2.0 + 2.0 / 3.0) / 6.0
        ));
        assert_eq!(report.examples, 6);
    }

    #[test]
    fn a_class_never_predicted_scores_zero_not_nan() {
        let report = Report::from_predictions(&labels(&["a", "b"]), &[0, 1, 1], &[0, 0, 0]);
        assert_eq!(report.per_class[1].precision, 0.0);
        assert_eq!(report.per_class[1].f1, 0.0);
        // a: P 1/3, R 1, F1 0.5.
        assert!(close(report.per_class[0].f1, 0.5));
        assert!(close(report.macro_f1, 0.25));
        assert!(close(report.accuracy, 1.0 / 3.0));
    }

    #[test]
    fn empty_input_gives_zeros() {
        let report = Report::from_predictions(&labels(&["a", "b"]), &[], &[]);
        assert_eq!(report.accuracy, 0.0);
        assert_eq!(report.macro_f1, 0.0);
        assert_eq!(report.weighted_f1, 0.0);
    }

    #[test]
    fn text_report_shows_the_matrix() {
        let report = Report::from_predictions(&labels(&["OFF", "NOT"]), &[0, 1], &[1, 1]);
        let text = report.to_text();
        assert!(text.contains("OFF\t0\t1"), "{text}");
        assert!(text.contains("NOT\t0\t1"), "{text}");
        assert!(text.contains("accuracy 0.5000"), "{text}");
    }

    #[test]
    fn argmax_takes_the_first_maximum() {
        assert_eq!(argmax(&[0.1, 0.7, 0.7]), 1);
        assert_eq!(argmax(&[]), 0);
    }
}
