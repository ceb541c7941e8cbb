//! The analysis labels of each mention on the conversation page, with who corrected them,
//! and the choices of the correction forms.

use earshot_core::analysis::{INTENT_LABELS, OFFENSIVE_LABELS, SENTIMENT_LABELS, SPAM_LABELS};
use earshot_core::{CorrectionField, CorrectionRecord, Mention};

use crate::view::{analysis_badges, analysis_label_key, AnalysisBadge};

/// One label as shown: the model's, or a person's correction with their name.
#[derive(Debug, Clone)]
pub struct LabelBadge {
    pub badge: AnalysisBadge,
    /// `sentiment`, `offensive`, `spam` or `intent` (a data attribute for tests and scripts).
    pub field: &'static str,
    pub by: Option<String>,
}

/// A label a correction form offers.
#[derive(Debug, Clone)]
pub struct LabelChoice {
    pub value: &'static str,
    pub label_key: &'static str,
    /// The label shown now.
    pub selected: bool,
}

#[derive(Debug, Clone, Default)]
pub struct MentionLabels {
    pub badges: Vec<LabelBadge>,
    pub sentiment: Vec<LabelChoice>,
    pub offensive: Vec<LabelChoice>,
    pub spam: Vec<LabelChoice>,
    /// Each intent; `selected` when the mention has it now (its button removes it).
    pub intents: Vec<LabelChoice>,
}

fn field_of(field_key: &str) -> Option<CorrectionField> {
    Some(match field_key {
        "analysis.sentiment" => CorrectionField::Sentiment,
        "analysis.offensive" => CorrectionField::Offensive,
        "analysis.spam" => CorrectionField::Spam,
        "analysis.intent" => CorrectionField::Intent,
        _ => return None,
    })
}

fn choices(labels: &[&'static str], shown: Option<&str>) -> Vec<LabelChoice> {
    labels
        .iter()
        .map(|&value| LabelChoice {
            value,
            label_key: analysis_label_key(value).unwrap_or("analysis.title"),
            selected: shown == Some(value),
        })
        .collect()
}

impl MentionLabels {
    pub fn new(m: &Mention) -> Self {
        let shown = m.shown_labels();
        let badges = analysis_badges(m)
            .into_iter()
            .map(|badge| LabelBadge {
                field: field_of(badge.field_key).map_or("", CorrectionField::as_str),
                badge,
                by: None,
            })
            .collect();
        let label = |l: &Option<earshot_core::ShownLabel>| l.as_ref().map(|l| l.label.clone());
        let present: Vec<&str> = shown.intents.iter().map(|i| i.label.as_str()).collect();
        MentionLabels {
            badges,
            sentiment: choices(&SENTIMENT_LABELS, label(&shown.sentiment).as_deref()),
            offensive: choices(&OFFENSIVE_LABELS, label(&shown.offensive).as_deref()),
            spam: choices(&SPAM_LABELS, label(&shown.spam).as_deref()),
            intents: INTENT_LABELS
                .iter()
                .map(|&value| LabelChoice {
                    value,
                    label_key: analysis_label_key(value).unwrap_or("analysis.title"),
                    selected: present.contains(&value),
                })
                .collect(),
        }
    }

    /// Name who made each correction shown, from the corrections in force of this mention.
    pub fn credit(&mut self, mention: earshot_core::MentionId, records: &[CorrectionRecord]) {
        for shown in self.badges.iter_mut().filter(|b| b.badge.corrected) {
            let Some(field) = field_of(shown.badge.field_key) else {
                continue;
            };
            shown.by = records
                .iter()
                .rev()
                .find(|r| {
                    r.mention_id == mention
                        && r.field == field
                        && (field != CorrectionField::Intent || r.label == shown.badge.raw_label)
                })
                .and_then(|r| r.by.clone());
        }
    }
}
