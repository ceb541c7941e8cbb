//! What the analysis stage says about a mention, and the corrections people make to it.
//!
//! The analysis itself is computed by `earshot-analysis`; these are only its results, so the
//! store, the web layer and the interchange format can carry them without depending on the
//! classifiers.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::MentionId;

/// A label of an analysis or a language code. Nearly all are one of a few constants, which
/// are shared instead of allocated for every analysis (a million analyses a second on one core
/// made those allocations a noticeable part of the time); any other (a label from a model
/// file, one read back from the store) is owned. Reads, compares, prints and serialises as the
/// string it holds.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Label(std::borrow::Cow<'static, str>);

impl Label {
    /// A label from a constant: no allocation.
    pub const fn from_static(label: &'static str) -> Label {
        Label(std::borrow::Cow::Borrowed(label))
    }

    /// The constant among `known` that equals `label` (shared), else an owned copy.
    pub fn interned(label: &str, known: &[&'static str]) -> Label {
        // Labels and language codes are a few bytes, and this runs for every analysis: a byte
        // loop the compiler inlines instead of a call to memcmp per candidate.
        let same =
            |k: &str| k.len() == label.len() && k.bytes().zip(label.bytes()).all(|(a, b)| a == b);
        match known.iter().find(|&&k| same(k)) {
            Some(&k) => Label::from_static(k),
            None => Label(std::borrow::Cow::Owned(label.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Label {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Label {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Label {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<String> for Label {
    fn from(label: String) -> Label {
        Label(std::borrow::Cow::Owned(label))
    }
}

impl From<&str> for Label {
    fn from(label: &str) -> Label {
        Label(std::borrow::Cow::Owned(label.to_owned()))
    }
}

impl From<Label> for String {
    fn from(label: Label) -> String {
        label.0.into_owned()
    }
}

impl PartialEq<str> for Label {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Label {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Label {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<Label> for str {
    fn eq(&self, other: &Label) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<Label> for &str {
    fn eq(&self, other: &Label) -> bool {
        *self == other.as_str()
    }
}

impl PartialEq<Label> for String {
    fn eq(&self, other: &Label) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Serialize for Label {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Label {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Label, D::Error> {
        String::deserialize(deserializer).map(Label::from)
    }
}

/// A label with its probability (or rule score), between 0 and 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scored {
    pub label: Label,
    pub score: f32,
}

/// The sentiment of the clauses that name one target (a brand).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetSentiment {
    pub target: String,
    pub label: Label,
    pub score: f32,
}

/// Everything known about one text. A classifier with no model for the language is `None`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// ISO 639-1 code, or `und` when undetermined.
    pub lang: Label,
    pub sentiment: Option<Scored>,
    pub offensive: Option<Scored>,
    pub spam: Option<Scored>,
    /// Intents scoring at least the reporting threshold, in the order of [`INTENT_LABELS`].
    pub intents: Vec<Scored>,
    /// Only the targets the text names.
    pub targets: Vec<TargetSentiment>,
}

impl Analysis {
    /// Whether the model (not a correction) found `intent`.
    pub fn has_intent(&self, intent: &str) -> bool {
        self.intents.iter().any(|scored| scored.label == intent)
    }
}

pub const SENTIMENT_LABELS: [&str; 3] = ["negative", "neutral", "positive"];
pub const OFFENSIVE_LABELS: [&str; 2] = ["OFF", "NOT"];
pub const SPAM_LABELS: [&str; 2] = ["spam", "ham"];
pub const INTENT_LABELS: [&str; 5] = [
    "complaint",
    "question",
    "praise",
    "purchase_intent",
    "feedback",
];

/// Which label of a mention a person corrects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CorrectionField {
    Sentiment,
    Offensive,
    Spam,
    /// One intent: its label names the intent, and the correction says whether it is present.
    Intent,
}

impl CorrectionField {
    pub const ALL: [CorrectionField; 4] = [
        CorrectionField::Sentiment,
        CorrectionField::Offensive,
        CorrectionField::Spam,
        CorrectionField::Intent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CorrectionField::Sentiment => "sentiment",
            CorrectionField::Offensive => "offensive",
            CorrectionField::Spam => "spam",
            CorrectionField::Intent => "intent",
        }
    }

    pub fn parse(name: &str) -> Result<CorrectionField, CorrectionError> {
        CorrectionField::ALL
            .into_iter()
            .find(|field| field.as_str() == name)
            .ok_or_else(|| CorrectionError::UnknownField(name.to_owned()))
    }

    /// The labels a correction of this field may give.
    pub fn labels(self) -> &'static [&'static str] {
        match self {
            CorrectionField::Sentiment => &SENTIMENT_LABELS,
            CorrectionField::Offensive => &OFFENSIVE_LABELS,
            CorrectionField::Spam => &SPAM_LABELS,
            CorrectionField::Intent => &INTENT_LABELS,
        }
    }
}

impl std::fmt::Display for CorrectionField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CorrectionError {
    #[error("unknown field {0:?}: expected one of sentiment, offensive, spam, intent")]
    UnknownField(String),
    #[error("{label:?} is not a {field} label: expected one of {expected}")]
    UnknownLabel {
        field: CorrectionField,
        label: String,
        expected: String,
    },
    #[error(
        "only an intent correction can say a label is absent; {0} takes the right label instead"
    )]
    AbsentOnlyForIntents(CorrectionField),
}

/// A validated correction of one label of one mention.
///
/// For sentiment, offensive and spam the label replaces the model's. For intents the label names
/// one intent and `present` says whether the mention has it, so "this is not a complaint" and
/// "this is also a question" are both expressible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelCorrection {
    pub field: CorrectionField,
    pub label: String,
    pub present: bool,
}

impl LabelCorrection {
    pub fn new(
        field: CorrectionField,
        label: &str,
        present: bool,
    ) -> Result<LabelCorrection, CorrectionError> {
        if !present && field != CorrectionField::Intent {
            return Err(CorrectionError::AbsentOnlyForIntents(field));
        }
        let labels = field.labels();
        if !labels.contains(&label) {
            return Err(CorrectionError::UnknownLabel {
                field,
                label: label.to_owned(),
                expected: labels.join(", "),
            });
        }
        Ok(LabelCorrection {
            field,
            label: label.to_owned(),
            present,
        })
    }
}

/// The corrections in force for one mention (the latest per field, and per intent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Corrections {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentiment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offensive: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spam: Option<String>,
    /// Intent → present (`true`) or absent (`false`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub intents: BTreeMap<String, bool>,
}

impl Corrections {
    pub fn is_empty(&self) -> bool {
        self.sentiment.is_none()
            && self.offensive.is_none()
            && self.spam.is_none()
            && self.intents.is_empty()
    }

    /// Folds one more (later) correction in.
    pub fn apply(&mut self, correction: &LabelCorrection) {
        let label = Some(correction.label.clone());
        match correction.field {
            CorrectionField::Sentiment => self.sentiment = label,
            CorrectionField::Offensive => self.offensive = label,
            CorrectionField::Spam => self.spam = label,
            CorrectionField::Intent => {
                self.intents
                    .insert(correction.label.clone(), correction.present);
            }
        }
    }
}

/// The labels to show for a mention: a person's correction wins over the model.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShownLabels {
    pub sentiment: Option<ShownLabel>,
    pub offensive: Option<ShownLabel>,
    pub spam: Option<ShownLabel>,
    pub intents: Vec<ShownLabel>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShownLabel {
    pub label: String,
    /// Set by a person rather than the model.
    pub corrected: bool,
}

impl ShownLabels {
    pub fn new(analysis: Option<&Analysis>, corrections: &Corrections) -> ShownLabels {
        let pick = |corrected: &Option<String>, model: Option<&Scored>| match corrected {
            Some(label) => Some(ShownLabel {
                label: label.clone(),
                corrected: true,
            }),
            None => model.map(|scored| ShownLabel {
                label: scored.label.to_string(),
                corrected: false,
            }),
        };
        let intents = INTENT_LABELS
            .iter()
            .filter_map(|&intent| match corrections.intents.get(intent) {
                Some(true) => Some(ShownLabel {
                    label: intent.to_owned(),
                    corrected: true,
                }),
                Some(false) => None,
                None => analysis
                    .is_some_and(|a| a.has_intent(intent))
                    .then(|| ShownLabel {
                        label: intent.to_owned(),
                        corrected: false,
                    }),
            })
            .collect();
        ShownLabels {
            sentiment: pick(
                &corrections.sentiment,
                analysis.and_then(|a| a.sentiment.as_ref()),
            ),
            offensive: pick(
                &corrections.offensive,
                analysis.and_then(|a| a.offensive.as_ref()),
            ),
            spam: pick(&corrections.spam, analysis.and_then(|a| a.spam.as_ref())),
            intents,
        }
    }
}

/// A stored correction with what training needs to learn from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CorrectionRecord {
    pub mention_id: MentionId,
    pub text: String,
    /// The language of the mention.
    pub lang: String,
    pub field: CorrectionField,
    pub label: String,
    /// Always `true` except for an intent said to be absent.
    pub present: bool,
    pub at: DateTime<Utc>,
    pub by: Option<String>,
}

impl CorrectionRecord {
    /// The training task and label this correction teaches, when a trainable task covers it:
    /// sentiment, offensive and spam directly; the complaint intent as the `complaint` task
    /// (`complaint` or `other`). Other intents are rules, which do not learn.
    pub fn training_label(&self) -> Option<(&'static str, &str)> {
        match self.field {
            CorrectionField::Sentiment => Some(("sentiment", &self.label)),
            CorrectionField::Offensive => Some(("offensive", &self.label)),
            CorrectionField::Spam => Some(("spam", &self.label)),
            CorrectionField::Intent if self.label == "complaint" => Some((
                "complaint",
                if self.present { "complaint" } else { "other" },
            )),
            CorrectionField::Intent => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scored(label: &str) -> Scored {
        Scored {
            label: label.into(),
            score: 0.9,
        }
    }

    #[test]
    fn labels_read_compare_and_serialise_as_their_strings() {
        let shared = Label::interned("negative", &SENTIMENT_LABELS);
        assert!(matches!(shared.0, std::borrow::Cow::Borrowed(_)));
        let owned = Label::interned("grumpy", &SENTIMENT_LABELS);
        assert!(matches!(owned.0, std::borrow::Cow::Owned(_)));
        assert_eq!(shared, "negative");
        assert_eq!(shared, Label::from("negative".to_owned()));
        assert_eq!(format!("{shared} {shared:?}"), "negative \"negative\"");
        let scored = Scored {
            label: shared,
            score: 0.5,
        };
        let json = serde_json::to_string(&scored).unwrap();
        assert_eq!(json, r#"{"label":"negative","score":0.5}"#);
        assert_eq!(serde_json::from_str::<Scored>(&json).unwrap(), scored);
    }

    #[test]
    fn corrections_are_validated_with_clear_messages() {
        assert!(LabelCorrection::new(CorrectionField::Sentiment, "positive", true).is_ok());
        let error = LabelCorrection::new(CorrectionField::Sentiment, "happy", true).unwrap_err();
        assert_eq!(
            error.to_string(),
            "\"happy\" is not a sentiment label: expected one of negative, neutral, positive"
        );
        let error = LabelCorrection::new(CorrectionField::Spam, "spam", false).unwrap_err();
        assert!(error.to_string().contains("only an intent"), "{error}");
        assert!(LabelCorrection::new(CorrectionField::Intent, "complaint", false).is_ok());
        assert_eq!(
            CorrectionField::parse("mood").unwrap_err().to_string(),
            "unknown field \"mood\": expected one of sentiment, offensive, spam, intent"
        );
    }

    #[test]
    fn a_correction_wins_over_the_model_and_says_so() {
        let analysis = Analysis {
            lang: "en".into(),
            sentiment: Some(scored("negative")),
            offensive: Some(scored("NOT")),
            spam: None,
            intents: vec![scored("complaint"), scored("question")],
            targets: vec![],
        };
        let mut corrections = Corrections::default();
        corrections
            .apply(&LabelCorrection::new(CorrectionField::Sentiment, "neutral", true).unwrap());
        corrections
            .apply(&LabelCorrection::new(CorrectionField::Intent, "complaint", false).unwrap());
        corrections.apply(&LabelCorrection::new(CorrectionField::Intent, "praise", true).unwrap());
        let shown = ShownLabels::new(Some(&analysis), &corrections);
        assert_eq!(
            shown.sentiment,
            Some(ShownLabel {
                label: "neutral".into(),
                corrected: true
            })
        );
        assert!(!shown.offensive.unwrap().corrected);
        assert_eq!(shown.spam, None);
        let intents: Vec<(&str, bool)> = shown
            .intents
            .iter()
            .map(|s| (s.label.as_str(), s.corrected))
            .collect();
        assert_eq!(intents, vec![("question", false), ("praise", true)]);
    }
}
