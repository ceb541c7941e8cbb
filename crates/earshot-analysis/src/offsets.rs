//! Per-class offsets to a model's biases that maximise macro-F1 on held-out scores.
//!
//! A logistic regression trained with balanced class weights puts its boundaries where the
//! weighted errors balance, which is not where macro-F1 peaks: a rare class is then usually
//! predicted a little too often. Moving each class's bias by an offset chosen on predictions
//! the model did not train on (the pooled out-of-fold scores of cross-validation, or the
//! held-out split) recovers that, and costs nothing at prediction: the offsets are part of the
//! biases.

use crate::eval::argmax;

/// Offsets to add to the logits of each class (`scores` holds `classes` logits per example,
/// example after example), found by coordinate ascent on the macro-F1 of the argmax
/// predictions against `gold`, and that macro-F1. Each step sets one class's offset to the
/// best of all the values where a prediction changes (exactly, by a sweep over the examples
/// in the order they would switch); a step is taken only when it raises macro-F1, and a flat
/// best is left at the middle of its range, away from the examples on either side.
pub(crate) fn tuned_offsets(scores: &[f32], gold: &[usize], classes: usize) -> (Vec<f32>, f64) {
    let mut offsets = vec![0.0f32; classes];
    let examples = gold.len();
    if classes < 2 || examples == 0 || scores.len() != examples * classes {
        return (offsets, 0.0);
    }
    let mut best = macro_f1_with(scores, gold, &offsets);
    // Three rounds over the classes: each step can only raise the score, and later rounds
    // rarely move anything.
    for _ in 0..3 {
        let mut moved = false;
        for class in 0..classes {
            if let Some((offset, score)) = best_offset_of(scores, gold, &offsets, class) {
                if score > best + 1e-12 {
                    offsets[class] = offset;
                    best = score;
                    moved = true;
                }
            }
        }
        if !moved {
            break;
        }
    }
    (offsets, best)
}

/// The macro-F1 of the argmax of `scores + offsets` (classes with neither gold nor predicted
/// examples count as 0, as [`crate::Report`] counts them).
pub(crate) fn macro_f1_with(scores: &[f32], gold: &[usize], offsets: &[f32]) -> f64 {
    let classes = offsets.len();
    let mut counts = Counts::new(classes);
    let mut shifted = vec![0.0f32; classes];
    for (row, &g) in scores.chunks_exact(classes).zip(gold) {
        for ((s, &v), &o) in shifted.iter_mut().zip(row).zip(offsets) {
            *s = v + o;
        }
        counts.add(g, argmax(&shifted));
    }
    counts.macro_f1()
}

/// The offset of `class` (the others held) with the highest macro-F1, and that score.
fn best_offset_of(
    scores: &[f32],
    gold: &[usize],
    offsets: &[f32],
    class: usize,
) -> Option<(f32, f64)> {
    let classes = offsets.len();
    // Each example's best other class, and the offset of `class` above which `class` wins.
    let mut switches: Vec<(f32, usize, usize)> = Vec::with_capacity(gold.len());
    let mut counts = Counts::new(classes);
    for (row, &g) in scores.chunks_exact(classes).zip(gold) {
        let mut other = usize::MAX;
        let mut other_score = f32::NEG_INFINITY;
        for (c, (&v, &o)) in row.iter().zip(offsets).enumerate() {
            if c != class && (other == usize::MAX || v + o > other_score) {
                other = c;
                other_score = v + o;
            }
        }
        // `class` wins from this offset on (argmax keeps the first of equals, so at the
        // threshold itself the earlier class wins; the sweep places offsets between thresholds).
        switches.push((other_score - row[class], other, g));
        counts.add(g, other);
    }
    switches.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Below every threshold `class` is never predicted; each threshold passed hands one more
    // example to it. Each state holds over a range of offsets: its middle is the candidate, and
    // of equal scores the one nearest the present offset is kept.
    let middle = |low: f32, high: Option<f32>| match (low.is_finite(), high) {
        (true, Some(high)) => low + (high - low) / 2.0,
        (true, None) => low + 1.0,
        (false, Some(high)) => high - 1.0,
        (false, None) => 0.0,
    };
    let present = offsets[class];
    let first = switches.first()?.0;
    let mut best = (counts.macro_f1(), middle(f32::NEG_INFINITY, Some(first)));
    for (i, &(threshold, other, g)) in switches.iter().enumerate() {
        counts.remove(g, other);
        counts.add(g, class);
        let next = switches.get(i + 1).map(|s| s.0);
        if next == Some(threshold) {
            continue;
        }
        let score = counts.macro_f1();
        let offset = middle(threshold, next);
        let nearer = (offset - present).abs() < (best.1 - present).abs();
        if score > best.0 + 1e-12 || (score > best.0 - 1e-12 && nearer) {
            best = (score, offset);
        }
    }
    let (best_score, offset) = best;
    Some((offset, best_score))
}

/// Per class: true positives, predictions and gold examples.
struct Counts {
    true_positives: Vec<i64>,
    predicted: Vec<i64>,
    gold: Vec<i64>,
}

impl Counts {
    fn new(classes: usize) -> Counts {
        Counts {
            true_positives: vec![0; classes],
            predicted: vec![0; classes],
            gold: vec![0; classes],
        }
    }

    fn add(&mut self, gold: usize, predicted: usize) {
        self.step(gold, predicted, 1);
    }

    fn remove(&mut self, gold: usize, predicted: usize) {
        self.step(gold, predicted, -1);
    }

    fn step(&mut self, gold: usize, predicted: usize, by: i64) {
        self.gold[gold] += by;
        self.predicted[predicted] += by;
        if gold == predicted {
            self.true_positives[gold] += by;
        }
    }

    fn macro_f1(&self) -> f64 {
        let classes = self.gold.len();
        let sum: f64 = (0..classes)
            .map(|c| {
                let denominator = self.predicted[c] + self.gold[c];
                if denominator == 0 {
                    0.0
                } else {
                    2.0 * self.true_positives[c] as f64 / denominator as f64
                }
            })
            .sum();
        sum / classes as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Report;

    fn names(classes: usize) -> Vec<String> {
        (0..classes).map(|c| format!("c{c}")).collect()
    }

    fn report_f1(scores: &[f32], gold: &[usize], offsets: &[f32]) -> f64 {
        let classes = offsets.len();
        let predicted: Vec<usize> = scores
            .chunks_exact(classes)
            .map(|row| {
                let shifted: Vec<f32> = row.iter().zip(offsets).map(|(s, o)| s + o).collect();
                argmax(&shifted)
            })
            .collect();
        Report::from_predictions(&names(classes), gold, &predicted).macro_f1
    }

    /// Scores from a seeded generator: a class signal, noise, and a bias toward class 0.
    fn noisy_scores(examples: usize, classes: usize, seed: u64) -> (Vec<f32>, Vec<usize>) {
        let mut state = seed;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f32 / (1u64 << 53) as f32
        };
        let mut scores = Vec::new();
        let mut gold = Vec::new();
        for i in 0..examples {
            // A rare last class: one example in five.
            let g = if i % 5 == 4 {
                classes - 1
            } else {
                i % (classes - 1)
            };
            for c in 0..classes {
                let signal = if c == g { 1.0 } else { 0.0 };
                let lean = if c == 0 { 0.8 } else { 0.0 };
                scores.push(signal + lean + 2.0 * next());
            }
            gold.push(g);
        }
        (scores, gold)
    }

    #[test]
    fn the_counted_macro_f1_is_the_reports() {
        for classes in [2, 3, 5] {
            let (scores, gold) = noisy_scores(400, classes, 7 + classes as u64);
            let offsets: Vec<f32> = (0..classes).map(|c| 0.3 * c as f32 - 0.2).collect();
            let ours = macro_f1_with(&scores, &gold, &offsets);
            assert!((ours - report_f1(&scores, &gold, &offsets)).abs() < 1e-12);
        }
    }

    #[test]
    fn offsets_raise_macro_f1_and_the_score_is_what_they_give() {
        for classes in [2, 3, 5] {
            let (scores, gold) = noisy_scores(600, classes, 11 * classes as u64);
            let before = macro_f1_with(&scores, &gold, &vec![0.0; classes]);
            let (offsets, after) = tuned_offsets(&scores, &gold, classes);
            assert!(
                after > before + 0.01,
                "{classes} classes: {before} -> {after}"
            );
            assert!((after - report_f1(&scores, &gold, &offsets)).abs() < 1e-12);
            // The lean toward class 0 is taken back.
            assert!(offsets[0] < offsets[classes - 1], "{offsets:?}");
        }
    }

    #[test]
    fn no_single_offset_does_better_than_the_tuned_ones() {
        let (scores, gold) = noisy_scores(300, 2, 99);
        let (offsets, best) = tuned_offsets(&scores, &gold, 2);
        for step in -60..=60 {
            let mut tried = offsets.clone();
            tried[1] += step as f32 * 0.05;
            assert!(macro_f1_with(&scores, &gold, &tried) <= best + 1e-12);
        }
    }

    #[test]
    fn separable_scores_keep_their_offsets_and_odd_input_gives_zeros() {
        let scores = [2.0, 0.0, 0.0, 2.0, 3.0, 1.0, -1.0, 1.0];
        let gold = [0, 1, 0, 1];
        let (offsets, score) = tuned_offsets(&scores, &gold, 2);
        assert_eq!(offsets, vec![0.0, 0.0]);
        assert!((score - 1.0).abs() < 1e-12);
        assert_eq!(tuned_offsets(&[], &[], 3).0, vec![0.0; 3]);
        assert_eq!(tuned_offsets(&[1.0, 2.0], &[0, 1], 2).0, vec![0.0; 2]);
    }
}
