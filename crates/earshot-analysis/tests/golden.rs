//! Speed work on the extractor and the analyzer must not change a single result: generated texts
//! (every script, case, accent, link, escape, emoji and cue the rules know) against a golden file
//! made by the code before that work. Each line holds a digest of the features of one text
//! (independent of the models) and its full analysis with the models in `models/`.
//!
//! When the shipped models are retrained on purpose, only the analyses change; regenerate with
//! `EARSHOT_BLESS_GOLDEN=1 cargo test -p earshot-analysis --test golden` and check that the
//! feature digests in the diff did not move.

use std::hash::{Hash, Hasher};
use std::path::PathBuf;

use earshot_analysis::{Analyzer, FeatureConfig, FeatureExtractor, SparseVector};

const TEXTS: usize = 1000;

/// Pieces the texts are made of. Cue words and phrases of every language, words that fold
/// (case, `ё`, Greek accents, final sigma), apostrophes, links, literal escapes, controls,
/// digits, emoji and scripts without a fast path.
const PIECES: &[&str] = &[
    "the",
    "and",
    "I",
    "it's",
    "don't",
    "Zeltron",
    "ACME",
    "phone",
    "Where can I buy",
    "how much",
    "love",
    "LOVE",
    "thank you",
    "worst",
    "still waiting",
    "doesn't work",
    "please add",
    "bug",
    "crashes",
    "check out my",
    "channel",
    "subscribe",
    "FREE",
    "win",
    "prize",
    "txt",
    "call now",
    "0800123456",
    "12345",
    "http://t.co/x7Kq2",
    "https://example.com/a?b=c",
    "www.Example.org",
    "nothttp://x",
    "is there",
    "anyone know",
    "dropped my calls",
    "really",
    "very",
    "not good",
    "спасибо",
    "Спасибо",
    "ужасно",
    "ЁЖИК",
    "ёлка",
    "где купить",
    "сколько стоит",
    "не работает",
    "подпишись",
    "на мой канал",
    "по ссылке",
    "заработок в интернете",
    "Йошкар-Ола",
    "как",
    "ли",
    "отлично",
    "худший",
    "верните деньги",
    "до сих пор",
    "добавьте",
    "почините",
    "Τέλειο",
    "ΚΙΝΗΤΟ",
    "ευχαριστώ",
    "πώς",
    "γιατί",
    "ξέρει κανείς",
    "πόσο κοστίζει",
    "χάλια",
    "απαράδεκτο",
    "το κανάλι μου",
    "κερδίστε",
    "δωρεάν",
    "ΐ",
    "ΰ",
    "Ϊ",
    "ς",
    "λογος",
    "δεν λειτουργεί",
    "Ça",
    "déjà vu",
    "Straße",
    "½",
    "ﬁne",
    "😀",
    "😡😡",
    ":)",
    "!!!",
    "?",
    ";",
    "\u{037E}",
    "？",
    "¿",
    "#tag",
    "@user",
    "'quoted'",
    "rock'n'roll",
    "I\\u2019m",
    "\\u000a",
    "\\uZZZZ",
    "\\",
    "\u{1}",
    "\t",
    "\n",
    "\u{a0}",
    "ab\u{200b}cd",
    "日本語のテキスト",
    "مرحبا",
    "שלום",
    "हिन्दी",
    "3g",
    "x",
    "a-b",
    "--",
    "...",
    "€5",
    "100%",
    "e-mail",
    "'",
    "O'Neil",
];

const LANGS: &[Option<&str>] = &[
    Some("en"),
    Some("ru"),
    Some("el"),
    None,
    Some("de"),
    Some("EN"),
];

/// SplitMix64, so the texts are the same on every platform.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) % n as u64) as usize
    }
}

fn texts() -> Vec<(String, Option<&'static str>)> {
    let mut rng = Rng(3);
    (0..TEXTS)
        .map(|i| {
            let pieces = match i % 10 {
                0 => rng.below(3),
                1..=6 => 3 + rng.below(25),
                _ => 20 + rng.below(120),
            };
            let mut text = String::new();
            for _ in 0..pieces {
                // Mostly a space between pieces; sometimes nothing or punctuation, so that
                // pieces run into each other.
                match rng.below(8) {
                    0 => {}
                    1 => text.push(','),
                    2 => text.push_str(". "),
                    _ => text.push(' '),
                }
                text.push_str(PIECES[rng.below(PIECES.len())]);
            }
            (text, LANGS[rng.below(LANGS.len())])
        })
        .collect()
}

fn feature_digest(features: &SparseVector) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    features.indices.hash(&mut hasher);
    for value in &features.values {
        value.to_bits().hash(&mut hasher);
    }
    format!("{:016x}", hasher.finish())
}

fn golden_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden.jsonl")
}

fn current_lines() -> Vec<String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models");
    let analyzer = Analyzer::load(&root).unwrap();
    let mut scratch = analyzer.scratch();
    let mut extractor = FeatureExtractor::new(FeatureConfig::default());
    let mut features = SparseVector::default();
    texts()
        .iter()
        .enumerate()
        .map(|(i, (text, lang))| {
            extractor.extract(text, &mut features);
            let targets: &[&str] = if i % 3 == 0 {
                &["Zeltron", "acme", "Спасибо"]
            } else {
                &[]
            };
            let analysis = analyzer.analyze_with(&mut scratch, text, *lang, targets);
            // What the pipeline passes: the language it detected, taken as it is. Where checking
            // that language again would keep it, the analysis must be the same.
            let detected = earshot_text::lang::detect(text, *lang);
            if earshot_text::lang::detect(text, Some(&detected)) == detected {
                let trusted = analyzer.analyze_detected(&mut scratch, text, &detected, targets);
                assert_eq!(trusted, analysis, "{text:?}");
            }
            serde_json::json!({
                "features": feature_digest(&features),
                "analysis": analysis,
            })
            .to_string()
        })
        .collect()
}

#[test]
fn analyses_equal_the_golden_file() {
    let lines = current_lines();
    if std::env::var_os("EARSHOT_BLESS_GOLDEN").is_some() {
        std::fs::write(golden_path(), lines.join("\n") + "\n").unwrap();
        return;
    }
    let golden = std::fs::read_to_string(golden_path()).expect("tests/golden.jsonl is committed");
    let golden: Vec<&str> = golden.lines().collect();
    assert_eq!(golden.len(), lines.len());
    let texts = texts();
    for (i, (got, expected)) in lines.iter().zip(&golden).enumerate() {
        assert_eq!(got, expected, "text {i}: {:?}", texts[i]);
    }
}
