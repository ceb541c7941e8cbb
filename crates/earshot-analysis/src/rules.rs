//! Transparent cue rules for the intents without labelled data (question, praise, purchase
//! intent, feedback) and for complaints in Russian and Greek.
//!
//! A cue is a phrase of folded words; a word ending in `*` matches any word it begins, which
//! covers Russian and Greek endings (`купи*` matches `купить`, `куплю` does not: cues list the
//! stems they need). Cues are folded like the text, so accents and case never matter. The score
//! of an intent is `1 - Π(1 - weight)` over its matched cues: one strong cue or several weak ones.

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use earshot_text::{fold, tokenize};

use crate::features::folded_words;

/// Intents reported at or above this score.
pub const INTENT_THRESHOLD: f32 = 0.5;

/// The intents, in the order they are reported.
pub const INTENTS: [&str; 5] = [
    "complaint",
    "question",
    "praise",
    "purchase_intent",
    "feedback",
];

type CueList = &'static [(&'static str, f32)];

/// `(intent, lang, cues)`.
const CUES: &[(&str, &str, CueList)] = &[
    (
        "complaint",
        "en",
        &[
            ("worst", 0.6),
            ("terrible", 0.5),
            ("awful", 0.5),
            ("refund", 0.5),
            ("still waiting", 0.6),
            ("never again", 0.6),
            ("disappointed", 0.5),
            ("not working", 0.5),
            ("doesn't work", 0.5),
            ("stopped working", 0.6),
            ("no response", 0.5),
            ("unacceptable", 0.6),
            ("ripped off", 0.6),
            ("scam", 0.5),
            ("dropped my call*", 0.6),
            ("charged me", 0.4),
        ],
    ),
    (
        "complaint",
        "ru",
        &[
            ("ужасн*", 0.5),
            ("отвратительн*", 0.6),
            ("верните деньги", 0.7),
            ("возврат*", 0.4),
            ("жалоб*", 0.6),
            ("до сих пор", 0.4),
            ("обман*", 0.5),
            ("разочарова*", 0.5),
            ("не работает", 0.5),
            ("никто не отвечает", 0.7),
            ("безобрази*", 0.6),
            ("худш*", 0.5),
            ("развод", 0.4),
        ],
    ),
    (
        "complaint",
        "el",
        &[
            ("απαραδεκτ*", 0.6),
            ("χαλια", 0.6),
            ("παραπον*", 0.6),
            ("ακομα περιμεν*", 0.6),
            ("απογοητευ*", 0.5),
            ("δεν λειτουργει", 0.5),
            ("κοροιδι*", 0.5),
            ("απατη", 0.5),
            ("χειροτερ*", 0.5),
            ("επιστροφη χρηματων", 0.7),
        ],
    ),
    (
        "question",
        "en",
        &[
            ("how do", 0.5),
            ("how can", 0.5),
            ("how to", 0.4),
            ("does anyone", 0.6),
            ("anyone know*", 0.6),
            ("can i", 0.3),
            ("can you", 0.3),
            ("is there", 0.3),
            ("where is", 0.4),
            ("why is", 0.4),
            ("why does", 0.4),
            ("what is", 0.3),
            ("any idea*", 0.5),
        ],
    ),
    (
        "question",
        "ru",
        &[
            ("как", 0.3),
            ("почему", 0.4),
            ("зачем", 0.4),
            ("где", 0.3),
            ("когда", 0.3),
            ("сколько", 0.3),
            ("ли", 0.4),
            ("подскажите", 0.6),
            ("кто нибудь", 0.4),
            ("кто знает", 0.6),
            ("можно ли", 0.6),
        ],
    ),
    (
        "question",
        "el",
        &[
            ("πως", 0.3),
            ("γιατι", 0.3),
            ("που", 0.2),
            ("ποτε", 0.3),
            ("ποσο", 0.3),
            ("ξερει κανεις", 0.6),
            ("μπορει καποιος", 0.5),
            ("μηπως", 0.4),
        ],
    ),
    (
        "praise",
        "en",
        &[
            ("love", 0.5),
            ("loving", 0.5),
            ("great", 0.3),
            ("awesome", 0.5),
            ("amazing", 0.5),
            ("excellent", 0.5),
            ("best", 0.3),
            ("thank you", 0.5),
            ("thanks", 0.4),
            ("well done", 0.6),
            ("highly recommend", 0.7),
            ("fantastic", 0.5),
            ("kudos", 0.6),
        ],
    ),
    (
        "praise",
        "ru",
        &[
            ("спасибо", 0.5),
            ("благодар*", 0.5),
            ("отличн*", 0.5),
            ("супер", 0.5),
            ("класс", 0.4),
            ("лучш*", 0.3),
            ("рекомендую", 0.6),
            ("молодцы", 0.6),
            ("обожаю", 0.6),
            ("восторг*", 0.6),
            ("прекрасн*", 0.5),
        ],
    ),
    (
        "praise",
        "el",
        &[
            ("ευχαριστ*", 0.5),
            ("τελει*", 0.5),
            ("υπεροχ*", 0.6),
            ("καταπληκτ*", 0.6),
            ("μπραβο", 0.6),
            ("το καλυτερο", 0.5),
            ("συγχαρητηρια", 0.6),
            ("λατρευ*", 0.6),
            ("συνιστω", 0.5),
        ],
    ),
    (
        "purchase_intent",
        "en",
        &[
            ("want to buy", 0.7),
            ("where can i buy", 0.8),
            ("going to buy", 0.6),
            ("looking to buy", 0.7),
            ("looking for a", 0.3),
            ("how much", 0.4),
            ("price", 0.3),
            ("pre order", 0.6),
            ("preorder", 0.6),
            ("in stock", 0.5),
            ("should i buy", 0.6),
            ("thinking of getting", 0.6),
            ("order one", 0.5),
        ],
    ),
    (
        "purchase_intent",
        "ru",
        &[
            ("хочу купить", 0.7),
            ("где купить", 0.8),
            ("собираюсь купить", 0.7),
            ("куплю", 0.5),
            ("сколько стоит", 0.6),
            ("цена", 0.3),
            ("заказать", 0.5),
            ("в наличии", 0.5),
            ("стоит ли брать", 0.6),
            ("посоветуйте", 0.4),
        ],
    ),
    (
        "purchase_intent",
        "el",
        &[
            ("θελω να αγορασω", 0.7),
            ("που θα βρω", 0.6),
            ("που να αγορασω", 0.8),
            ("ποσο κοστιζει", 0.6),
            ("ποσο κανει", 0.5),
            ("τιμη", 0.3),
            ("παραγγελ*", 0.4),
            ("διαθεσιμ*", 0.3),
            ("να το παρω", 0.5),
        ],
    ),
    (
        "feedback",
        "en",
        &[
            ("please add", 0.7),
            ("would be nice", 0.6),
            ("would be great if", 0.6),
            ("you should add", 0.7),
            ("feature request", 0.8),
            ("bug", 0.6),
            ("crash*", 0.5),
            ("doesn't work", 0.4),
            ("not working", 0.4),
            ("suggest*", 0.5),
            ("i wish", 0.4),
            ("please fix", 0.7),
        ],
    ),
    (
        "feedback",
        "ru",
        &[
            ("добавьте", 0.7),
            ("было бы", 0.4),
            ("предлагаю", 0.6),
            ("баг", 0.6),
            ("ошибк*", 0.4),
            ("не работает", 0.4),
            ("вылета*", 0.5),
            ("хотелось бы", 0.6),
            ("исправьте", 0.7),
            ("почините", 0.7),
        ],
    ),
    (
        "feedback",
        "el",
        &[
            ("προσθεστε", 0.7),
            ("θα ηταν", 0.4),
            ("προτειν*", 0.5),
            ("σφαλμα", 0.5),
            ("bug", 0.6),
            ("δεν λειτουργει", 0.4),
            ("κολλαει", 0.5),
            ("διορθωστε", 0.7),
            ("θα θελαμε", 0.5),
        ],
    ),
];

/// One word of a cue.
#[derive(Debug, Clone, PartialEq, Eq)]
enum CueWord {
    Exact(String),
    Prefix(String),
}

impl CueWord {
    fn matches(&self, word: &str) -> bool {
        match self {
            CueWord::Exact(w) => w == word,
            CueWord::Prefix(p) => word.starts_with(p.as_str()),
        }
    }
}

#[derive(Debug, Clone)]
struct Cue {
    words: Vec<CueWord>,
    weight: f32,
}

/// The compiled cues of every intent and language.
#[derive(Debug, Clone)]
pub struct IntentRules {
    cues: Vec<(&'static str, &'static str, Vec<Cue>)>,
    /// One automaton per language over all its cues, for [`IntentRules::scores_folded`].
    automata: Vec<LanguageAutomaton>,
}

/// Every cue of one language as a pattern over the text's words joined by single spaces, with a
/// space before each word: ` still waiting ` (exact words end in a space), ` купи` (a prefix
/// does not). One pass over the text finds every cue, however many there are.
#[derive(Debug, Clone)]
struct LanguageAutomaton {
    lang: &'static str,
    automaton: AhoCorasick,
    /// Pattern id → `(index into IntentRules::cues, index of the cue in its list)`.
    patterns: Vec<(usize, usize)>,
}

/// Reusable buffers for [`IntentRules::scores_folded`].
#[derive(Debug, Clone, Default)]
pub struct RuleScratch {
    joined: String,
    /// Per pattern of the language: whether it matched.
    seen: Vec<bool>,
}

impl Default for IntentRules {
    fn default() -> Self {
        IntentRules::new()
    }
}

impl IntentRules {
    pub fn new() -> IntentRules {
        let cues = CUES
            .iter()
            .map(|&(intent, lang, list)| {
                let compiled = list
                    .iter()
                    .map(|&(phrase, weight)| Cue {
                        words: compile_phrase(phrase),
                        weight,
                    })
                    .filter(|cue| !cue.words.is_empty())
                    .collect();
                (intent, lang, compiled)
            })
            .collect::<Vec<_>>();
        let automata = build_automata(&cues);
        IntentRules { cues, automata }
    }

    /// The same scores as [`IntentRules::scores`], from the folded text (as
    /// [`crate::features::fold_into`] makes it) in one Aho-Corasick pass instead of a scan per
    /// cue.
    pub fn scores_folded(
        &self,
        folded: &str,
        text: &str,
        lang: &str,
        scratch: &mut RuleScratch,
    ) -> [(&'static str, f32); 5] {
        let mut joined = std::mem::take(&mut scratch.joined);
        joined.clear();
        for word in folded_words(folded) {
            joined.push(' ');
            joined.push_str(word);
        }
        joined.push(' ');
        let scores = self.scores_joined(&joined, text, lang, scratch);
        scratch.joined = joined;
        scores
    }

    /// [`IntentRules::scores_folded`] from the words already joined as
    /// [`crate::FeatureExtractor::joined_words`] gives them (` word word `).
    pub fn scores_joined(
        &self,
        joined: &str,
        text: &str,
        lang: &str,
        scratch: &mut RuleScratch,
    ) -> [(&'static str, f32); 5] {
        let mut scores = INTENTS.map(|intent| (intent, 0.0f32));
        let Some(language) = self.automata.iter().find(|a| a.lang == lang) else {
            return scores;
        };
        scratch.seen.clear();
        scratch.seen.resize(language.patterns.len(), false);
        for found in language.automaton.find_overlapping_iter(joined) {
            scratch.seen[found.pattern().as_usize()] = true;
        }
        // Products in the order of the cue lists, so the scores equal those of `scores` exactly.
        let mut pattern = 0;
        while pattern < language.patterns.len() {
            let list = language.patterns[pattern].0;
            let (intent, _, cues) = &self.cues[list];
            let mut miss = 1.0f32;
            for cue in cues {
                if scratch.seen[pattern] {
                    miss *= 1.0 - cue.weight;
                }
                pattern += 1;
            }
            if *intent == "question" {
                miss *= 1.0 - question_mark_weight(text, lang);
            }
            if let Some(slot) = scores.iter_mut().find(|(name, _)| name == intent) {
                slot.1 = 1.0 - miss;
            }
        }
        scores
    }

    /// Rule scores of every intent with cues in `lang`, from the folded words of the text and the
    /// text itself (for question marks). Intents without cues for `lang` score 0.
    pub fn scores(&self, words: &[&str], text: &str, lang: &str) -> [(&'static str, f32); 5] {
        let mut scores = INTENTS.map(|intent| (intent, 0.0f32));
        for (intent, cue_lang, cues) in &self.cues {
            if *cue_lang != lang {
                continue;
            }
            let mut miss = 1.0f32;
            for cue in cues {
                if matches_somewhere(&cue.words, words) {
                    miss *= 1.0 - cue.weight;
                }
            }
            if *intent == "question" {
                miss *= 1.0 - question_mark_weight(text, lang);
            }
            if let Some(slot) = scores.iter_mut().find(|(name, _)| name == intent) {
                slot.1 = 1.0 - miss;
            }
        }
        scores
    }
}

/// A question mark is the strongest sign of a question; Greek writes it as `;` (or U+037E).
fn question_mark_weight(text: &str, lang: &str) -> f32 {
    let question_marks: &[char] = if lang == "el" {
        &['?', ';', '\u{037E}', '？']
    } else {
        &['?', '？', '¿']
    };
    if text.contains(question_marks) {
        0.7
    } else {
        0.0
    }
}

fn build_automata(cues: &[(&'static str, &'static str, Vec<Cue>)]) -> Vec<LanguageAutomaton> {
    let mut languages: Vec<&'static str> = cues.iter().map(|(_, lang, _)| *lang).collect();
    languages.dedup();
    languages.sort_unstable();
    languages.dedup();
    languages
        .into_iter()
        .filter_map(|lang| {
            let mut texts = Vec::new();
            let mut patterns = Vec::new();
            for (list, (_, cue_lang, compiled)) in cues.iter().enumerate() {
                if *cue_lang != lang {
                    continue;
                }
                for (index, cue) in compiled.iter().enumerate() {
                    let mut pattern = String::new();
                    for word in &cue.words {
                        pattern.push(' ');
                        match word {
                            CueWord::Exact(w) => pattern.push_str(w),
                            CueWord::Prefix(p) => pattern.push_str(p),
                        }
                    }
                    if matches!(cue.words.last(), Some(CueWord::Exact(_))) {
                        pattern.push(' ');
                    }
                    texts.push(pattern);
                    patterns.push((list, index));
                }
            }
            // The cue lists are constants of this file, and a few hundred short patterns are far
            // below the automaton's limits; should building fail anyway, the language falls back
            // to no cues rather than a panic.
            let automaton = AhoCorasick::builder()
                .match_kind(MatchKind::Standard)
                // A few hundred patterns: the full DFA is small and the fastest to run.
                .kind(Some(AhoCorasickKind::DFA))
                .build(&texts)
                .ok()?;
            Some(LanguageAutomaton {
                lang,
                automaton,
                patterns,
            })
        })
        .collect()
}

fn compile_phrase(phrase: &str) -> Vec<CueWord> {
    let folded = fold(phrase);
    let prefix_at_end = folded.ends_with('*');
    let words: Vec<&str> = tokenize(&folded).map(|t| t.text).collect();
    let last = words.len().saturating_sub(1);
    words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if i == last && prefix_at_end {
                CueWord::Prefix((*w).to_owned())
            } else {
                CueWord::Exact((*w).to_owned())
            }
        })
        .collect()
}

fn matches_somewhere(cue: &[CueWord], words: &[&str]) -> bool {
    if cue.is_empty() || cue.len() > words.len() {
        return false;
    }
    words
        .windows(cue.len())
        .any(|window| cue.iter().zip(window).all(|(c, w)| c.matches(w)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(text: &str, lang: &str, intent: &str) -> f32 {
        let folded = fold(text);
        let words: Vec<&str> = tokenize(&folded).map(|t| t.text).collect();
        let rules = IntentRules::new();
        let scores = rules.scores(&words, text, lang);
        scores.iter().find(|(n, _)| *n == intent).unwrap().1
    }

    fn fires(text: &str, lang: &str, intent: &str) -> bool {
        score(text, lang, intent) >= INTENT_THRESHOLD
    }

    #[test]
    fn english_examples() {
        assert!(fires(
            "Does anyone know how to reset the router?",
            "en",
            "question"
        ));
        assert!(fires(
            "Where can I buy the new Zeltron phone",
            "en",
            "purchase_intent"
        ));
        assert!(fires("Love the new update, thank you!", "en", "praise"));
        assert!(fires(
            "Please add a dark mode, the app crashes at night",
            "en",
            "feedback"
        ));
        assert!(fires(
            "Worst service ever, still waiting for my refund",
            "en",
            "complaint"
        ));
        assert!(!fires("The weather is grey today.", "en", "question"));
        assert!(!fires("The weather is grey today.", "en", "praise"));
        assert!(!fires("Going to the beach", "en", "purchase_intent"));
    }

    #[test]
    fn russian_examples() {
        assert!(fires("Подскажите, где купить зарядку?", "ru", "question"));
        assert!(fires(
            "Хочу купить новый телефон, сколько стоит?",
            "ru",
            "purchase_intent"
        ));
        assert!(fires("Спасибо, ребята, вы молодцы!", "ru", "praise"));
        assert!(fires("Добавьте тёмную тему, пожалуйста", "ru", "feedback"));
        assert!(fires("Приложение вылетает, почините", "ru", "feedback"));
        assert!(fires("Ужасный сервис, верните деньги", "ru", "complaint"));
        assert!(!fires("Сегодня идёт дождь.", "ru", "question"));
        assert!(!fires("Сегодня идёт дождь.", "ru", "complaint"));
    }

    #[test]
    fn greek_examples() {
        assert!(fires(
            "Ξέρει κανείς πότε ανοίγει το κατάστημα;",
            "el",
            "question"
        ));
        assert!(fires(
            "Θέλω να αγοράσω το νέο κινητό, πόσο κοστίζει;",
            "el",
            "purchase_intent"
        ));
        assert!(fires(
            "Ευχαριστώ πολύ, υπέροχη εξυπηρέτηση!",
            "el",
            "praise"
        ));
        assert!(fires("Διορθώστε το σφάλμα στην εφαρμογή", "el", "feedback"));
        assert!(fires(
            "Απαράδεκτη εξυπηρέτηση, ακόμα περιμένω",
            "el",
            "complaint"
        ));
        assert!(!fires("Σήμερα βρέχει.", "el", "question"));
    }

    #[test]
    fn cues_of_another_language_do_not_fire() {
        assert_eq!(score("спасибо", "en", "praise"), 0.0);
        assert_eq!(score("thank you", "ru", "praise"), 0.0);
    }

    #[test]
    fn several_weak_cues_add_up() {
        // "great" (0.3) alone stays below the threshold; with "best" (0.3): 1 - 0.7 × 0.7 = 0.51.
        assert!(!fires("great", "en", "praise"));
        assert!((score("great, the best", "en", "praise") - 0.51).abs() < 1e-5);
    }

    /// Every written example of this file and some harder ones, in every language.
    const EXAMPLES: &[&str] = &[
        "Does anyone know how to reset the router?",
        "Where can I buy the new Zeltron phone",
        "Love the new update, thank you!",
        "Please add a dark mode, the app crashes at night",
        "Worst service ever, still waiting for my refund",
        "The weather is grey today.",
        "Going to the beach",
        "great, the best",
        "it doesn't work, doesn't work at all; not  working!!",
        "how do how do i i can i can you",
        "Подскажите, где купить зарядку?",
        "Хочу купить новый телефон, сколько стоит?",
        "Спасибо, ребята, вы молодцы!",
        "Добавьте тёмную тему, пожалуйста",
        "Приложение вылетает, почините",
        "Ужасный сервис, верните деньги",
        "Сегодня идёт дождь.",
        "очень разочарован, очарован, кто-нибудь знает? кто нибудь",
        "Ξέρει κανείς πότε ανοίγει το κατάστημα;",
        "Θέλω να αγοράσω το νέο κινητό, πόσο κοστίζει;",
        "Ευχαριστώ πολύ, υπέροχη εξυπηρέτηση!",
        "Διορθώστε το σφάλμα στην εφαρμογή",
        "Απαράδεκτη εξυπηρέτηση, ακόμα περιμένω",
        "Σήμερα βρέχει.",
        "",
        "😀😀 ???",
    ];

    #[test]
    fn the_automaton_scores_exactly_like_the_cue_scan() {
        let rules = IntentRules::new();
        let mut scratch = RuleScratch::default();
        let mut folded = String::new();
        let mut extractor = crate::features::FeatureExtractor::new(Default::default());
        let mut features = crate::features::SparseVector::default();
        let mut fired = 0;
        for text in EXAMPLES {
            crate::features::fold_into(text, &mut folded);
            let words: Vec<&str> = tokenize(&folded).map(|t| t.text).collect();
            for lang in ["en", "ru", "el", "de"] {
                let scan = rules.scores(&words, text, lang);
                let automaton = rules.scores_folded(&folded, text, lang, &mut scratch);
                assert_eq!(scan, automaton, "{text:?} in {lang}");
                extractor.extract(text, &mut features);
                let joined = extractor.joined_words().to_owned();
                let shared = rules.scores_joined(&joined, text, lang, &mut scratch);
                assert_eq!(scan, shared, "{text:?} in {lang}, words from the extractor");
                fired += scan.iter().filter(|(_, s)| *s >= INTENT_THRESHOLD).count();
            }
        }
        // The comparison covers texts where cues fire, not only zeros.
        assert!(fired >= 20, "{fired}");
    }

    #[test]
    fn prefix_cues_match_word_beginnings_only() {
        assert!(fires("очень разочарован", "ru", "complaint"));
        assert!(!fires("очарован", "ru", "complaint"));
    }
}
