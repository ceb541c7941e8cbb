//! A conversation's priority from what is known when it opens.
//!
//! The score (points, documented in docs/INBOX.md):
//! - intent: complaint +30, purchase intent +20, question +10 (the highest one present counts);
//! - negative sentiment: +20 × its probability;
//! - offensive: +15;
//! - author reach: +8 × log10(followers + 1), at most +40 (100,000 followers);
//! - age: a mention older than a day loses up to 30 points, linearly over the following six
//!   days, since an answer to a week-old post rarely reaches anyone.
//!
//! Mapped: 60 and more urgent, 35 high, 10 normal, below that low. A rule's explicit priority
//! wins over the score.

use chrono::Duration;
use earshot_core::Priority;

use super::rules::{RoutingSignals, SIGNAL_THRESHOLD};

pub const URGENT_FROM: f32 = 60.0;
pub const HIGH_FROM: f32 = 35.0;
pub const NORMAL_FROM: f32 = 10.0;

const INTENT_POINTS: [(&str, f32); 3] = [
    ("complaint", 30.0),
    ("purchase_intent", 20.0),
    ("question", 10.0),
];
const NEGATIVE_POINTS: f32 = 20.0;
const OFFENSIVE_POINTS: f32 = 15.0;
const REACH_POINTS_PER_DECADE: f32 = 8.0;
const REACH_MAX_POINTS: f32 = 40.0;
const AGE_MAX_PENALTY: f32 = 30.0;

/// The score and the priority it maps to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PriorityScore {
    pub score: f32,
    pub priority: Priority,
}

/// Score a mention. `age` is how long before the conversation opened it was published.
pub fn score_priority(
    signals: &RoutingSignals,
    author_followers: Option<u64>,
    age: Duration,
) -> PriorityScore {
    let intent = INTENT_POINTS
        .iter()
        .filter(|(label, _)| {
            signals
                .intents
                .iter()
                .any(|s| s.label == *label && s.score >= SIGNAL_THRESHOLD)
        })
        .map(|&(_, points)| points)
        .fold(0.0, f32::max);
    let negative = NEGATIVE_POINTS * signals.negativity();
    let offensive = if signals.offensive.is_some_and(|s| s >= SIGNAL_THRESHOLD) {
        OFFENSIVE_POINTS
    } else {
        0.0
    };
    let reach = author_followers.map_or(0.0, |followers| {
        (REACH_POINTS_PER_DECADE * ((followers as f64 + 1.0).log10() as f32)).min(REACH_MAX_POINTS)
    });
    let age_hours = age.num_minutes() as f32 / 60.0;
    let age_penalty = ((age_hours - 24.0) / (6.0 * 24.0)).clamp(0.0, 1.0) * AGE_MAX_PENALTY;
    let score = intent + negative + offensive + reach - age_penalty;
    PriorityScore {
        score,
        priority: priority_for(score),
    }
}

pub fn priority_for(score: f32) -> Priority {
    if score >= URGENT_FROM {
        Priority::Urgent
    } else if score >= HIGH_FROM {
        Priority::High
    } else if score >= NORMAL_FROM {
        Priority::Normal
    } else {
        Priority::Low
    }
}

/// The rule's priority when it set one, else the score's.
pub fn decide_priority(
    rule_priority: Option<Priority>,
    signals: &RoutingSignals,
    author_followers: Option<u64>,
    age: Duration,
) -> Priority {
    rule_priority.unwrap_or_else(|| score_priority(signals, author_followers, age).priority)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbox::rules::Signal;

    fn signals(
        intent: Option<&str>,
        sentiment: Option<(&str, f32)>,
        offensive: f32,
    ) -> RoutingSignals {
        RoutingSignals {
            intents: intent
                .map(|i| vec![Signal::new(i, 0.9)])
                .unwrap_or_default(),
            sentiment: sentiment.map(|(label, score)| Signal::new(label, score)),
            offensive: Some(offensive),
            spam: Some(0.0),
        }
    }

    #[test]
    fn each_part_of_the_formula_counts() {
        let fresh = Duration::minutes(5);
        // Nothing at all: low.
        let quiet = score_priority(&signals(None, None, 0.0), None, fresh);
        assert_eq!((quiet.score, quiet.priority), (0.0, Priority::Low));
        // A question from someone with 99 followers: 10 + 16 = 26, normal.
        let question = score_priority(&signals(Some("question"), None, 0.0), Some(99), fresh);
        assert!((question.score - 26.0).abs() < 1e-4, "{}", question.score);
        assert_eq!(question.priority, Priority::Normal);
        // A negative complaint: 30 + 20 × 0.75 = 45, high.
        let complaint = score_priority(
            &signals(Some("complaint"), Some(("negative", 0.75)), 0.0),
            None,
            fresh,
        );
        assert!((complaint.score - 45.0).abs() < 1e-4);
        assert_eq!(complaint.priority, Priority::High);
        // The same from an account with 9,999 followers: + 32 = 77, urgent.
        let loud = score_priority(
            &signals(Some("complaint"), Some(("negative", 0.75)), 0.0),
            Some(9_999),
            fresh,
        );
        assert!((loud.score - 77.0).abs() < 1e-3, "{}", loud.score);
        assert_eq!(loud.priority, Priority::Urgent);
        // Offensive adds 15; positive sentiment adds nothing.
        let offensive = score_priority(&signals(None, Some(("positive", 0.9)), 0.8), None, fresh);
        assert_eq!(offensive.score, 15.0);
    }

    #[test]
    fn reach_is_capped_and_age_lowers() {
        let none = RoutingSignals::default();
        let huge = score_priority(&none, Some(50_000_000), Duration::zero());
        assert_eq!(huge.score, 40.0);
        // A day old: no penalty yet; four days: half of it; two weeks: all of it.
        let complaint = signals(Some("complaint"), Some(("negative", 1.0)), 0.0);
        assert_eq!(
            score_priority(&complaint, None, Duration::hours(24)).score,
            50.0
        );
        assert_eq!(
            score_priority(&complaint, None, Duration::hours(96)).score,
            35.0
        );
        let old = score_priority(&complaint, None, Duration::days(14));
        assert_eq!((old.score, old.priority), (20.0, Priority::Normal));
    }

    #[test]
    fn a_rule_priority_wins() {
        let complaint = signals(Some("complaint"), Some(("negative", 1.0)), 1.0);
        assert_eq!(
            decide_priority(
                Some(Priority::Low),
                &complaint,
                Some(1_000_000),
                Duration::zero()
            ),
            Priority::Low
        );
        assert_eq!(
            decide_priority(None, &complaint, Some(1_000_000), Duration::zero()),
            Priority::Urgent
        );
    }

    #[test]
    fn thresholds_map_in_order() {
        assert_eq!(priority_for(60.0), Priority::Urgent);
        assert_eq!(priority_for(59.9), Priority::High);
        assert_eq!(priority_for(35.0), Priority::High);
        assert_eq!(priority_for(34.9), Priority::Normal);
        assert_eq!(priority_for(10.0), Priority::Normal);
        assert_eq!(priority_for(9.9), Priority::Low);
        assert_eq!(priority_for(-30.0), Priority::Low);
    }
}
