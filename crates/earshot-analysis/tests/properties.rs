//! Properties of the analysis that must hold for any mention, checked on generated text with the
//! shipped models: a defined, bounded result; the same result whether chunks come from the memo
//! or are added up gram by gram; the rules' word matcher scoring exactly as the scan of every cue.

use std::path::PathBuf;

use earshot_analysis::features::fold_into;
use earshot_analysis::rules::{IntentRules, RuleScratch, INTENTS, INTENT_THRESHOLD};
use earshot_analysis::{Analysis, Analyzer, Target};
use earshot_text::tokenize;
use proptest::prelude::*;

fn models_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models")
}

/// Words the rules look for (cues, negators, the words that may stand between a negator and its
/// cue, verbs of saying), so that generated mentions meet the matchers' hard cases often.
const RULE_WORDS: &[&str] = &[
    "not",
    "don't",
    "isn't",
    "never",
    "really",
    "that",
    "at",
    "all",
    "the",
    "so",
    "great",
    "love",
    "amazing",
    "best",
    "worst",
    "say",
    "think",
    "i",
    "it's",
    "would",
    "want",
    "to",
    "buy",
    "where",
    "can",
    "how",
    "much",
    "please",
    "add",
    "bug",
    "crash",
    "refund",
    "still",
    "waiting",
    "check",
    "out",
    "my",
    "channel",
    "subscribe",
    "free",
    "не",
    "очень",
    "совсем",
    "так",
    "рекомендую",
    "отлично",
    "спасибо",
    "куплю",
    "хочу",
    "купить",
    "думаю",
    "что",
    "сказать",
    "могу",
    "вылетает",
    "глючит",
    "ужасно",
    "подпишись",
    "где",
    "δεν",
    "είναι",
    "καθόλου",
    "τέλειο",
    "υπέροχη",
    "το",
    "συνιστώ",
    "νομίζω",
    "ότι",
    "θα",
    "έλεγα",
    "χάλια",
    "κολλάει",
    "θέλω",
    "να",
    "αγοράσω",
    "ευχαριστώ",
    "μπράβο",
    "απαράδεκτη",
    "ακόμα",
    "περιμένω",
    "Vodafone",
    "Мегафон",
    "Cosmote",
];

/// Marks, emoji, links, handles, control and invisible characters, and SemEval's literal escapes.
const ODD_PIECES: &[&str] = &[
    "!",
    "?",
    ";",
    ",",
    ".",
    "...",
    ":)",
    "❤️",
    "😡",
    "👍🏽",
    "https://t.co/x1",
    "@brand",
    "#tag",
    "\n",
    "\t",
    "\r\n",
    "\u{0}",
    "\u{7}",
    "\u{200b}",
    "\u{feff}",
    "\\u0434",
    "\u{301}",
    "—",
];

fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-zA-Z']{1,10}",
        2 => "[а-яА-ЯёЁ]{1,10}",
        2 => "[α-ωΑ-Ωάέήίόύώς]{1,10}",
        4 => prop::sample::select(RULE_WORDS).prop_map(str::to_owned),
        1 => "[0-9]{1,9}",
        2 => prop::sample::select(ODD_PIECES).prop_map(str::to_owned),
        1 => "\\PC{1,4}",
        1 => any::<String>(),
    ]
}

/// Mentions of up to 40 pieces, joined by a space or by nothing.
fn mention() -> impl Strategy<Value = String> {
    prop::collection::vec((piece(), any::<bool>()), 0..40).prop_map(|pieces| {
        let mut text = String::new();
        for (piece, spaced) in pieces {
            if spaced {
                text.push(' ');
            }
            text.push_str(&piece);
        }
        text
    })
}

fn declared_language() -> impl Strategy<Value = Option<&'static str>> {
    prop::sample::select(vec![
        None,
        Some("en"),
        Some("ru"),
        Some("el"),
        Some("de"),
        Some("und"),
    ])
}

fn check_bounded(analysis: &Analysis) -> Result<(), TestCaseError> {
    let classified = [
        (
            &analysis.sentiment,
            &["negative", "neutral", "positive"][..],
        ),
        (&analysis.offensive, &["OFF", "NOT"][..]),
        (&analysis.spam, &["spam", "ham"][..]),
    ];
    for (scored, labels) in classified {
        if let Some(scored) = scored {
            prop_assert!(labels.contains(&scored.label.as_str()), "{scored:?}");
            prop_assert!((0.0..=1.0).contains(&scored.score), "{scored:?}");
        }
    }
    for intent in &analysis.intents {
        prop_assert!(INTENTS.contains(&intent.label.as_str()), "{intent:?}");
        prop_assert!(
            (INTENT_THRESHOLD..=1.0).contains(&intent.score),
            "{intent:?}"
        );
    }
    for target in &analysis.targets {
        prop_assert!(["negative", "neutral", "positive"].contains(&target.label.as_str()));
        prop_assert!((0.0..=1.0).contains(&target.score), "{target:?}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn any_mention_gets_a_bounded_analysis_the_same_with_or_without_the_chunk_memo(
        texts in prop::collection::vec(mention(), 1..6),
        lang in declared_language(),
    ) {
        let analyzer = shared_analyzer();
        let targets = [Target::new("Vodafone", &[]), Target::new("Мегафон", &[])];
        let targets: Vec<&Target> = targets.iter().collect();
        let mut memoised = analyzer.scratch();
        let mut gram_by_gram = analyzer.scratch().without_chunk_memo();
        // Several texts through one scratch, so later ones meet chunks memoised by earlier ones.
        for text in &texts {
            let analysis = analyzer.analyze_with_targets(&mut memoised, text, lang, &targets);
            check_bounded(&analysis)?;
            let plain = analyzer.analyze_with_targets(&mut gram_by_gram, text, lang, &targets);
            prop_assert_eq!(&analysis, &plain, "{:?}", text);
            // Its explanation is defined too: each model's probabilities sum to one.
            for verdict in analyzer.explain(text, lang).models {
                let total: f32 = verdict.probabilities.values().sum();
                prop_assert!((total - 1.0).abs() < 1e-3, "{:?}: {:?}", text, verdict);
            }
        }
    }

    #[test]
    fn the_word_matcher_scores_any_mention_as_the_scan_of_every_cue(
        text in mention(),
        lang in prop::sample::select(vec!["en", "ru", "el"]),
    ) {
        let rules = IntentRules::new();
        let mut folded = String::new();
        fold_into(&text, &mut folded);
        let words: Vec<&str> = tokenize(&folded).map(|token| token.text).collect();
        let scan = rules.all_scores(&words, &text, lang);
        let matched = rules.all_scores_folded(&folded, &text, lang, &mut RuleScratch::default());
        prop_assert_eq!(scan, matched, "{:?}", text);
    }
}

/// Loading the shipped models once for all cases keeps the test fast.
fn shared_analyzer() -> &'static Analyzer {
    static ANALYZER: std::sync::OnceLock<Analyzer> = std::sync::OnceLock::new();
    ANALYZER.get_or_init(|| Analyzer::load(&models_dir()).expect("the shipped models load"))
}
