//! Properties that must hold for any input, checked on generated text.

use earshot_text::{
    fold, hamming, html_to_text, lang, plain_text, simhash, tokenize, AnalyzedText, Query,
};
use proptest::prelude::*;

/// Words in the scripts we care about, with case, accents and inflection.
fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z]{1,10}",
        "[а-яА-ЯёЁйЙіїєґ]{1,10}",
        "[α-ωΑ-Ωάέήίόύώϊϋΐΰς]{1,10}",
        "[0-9]{1,4}",
        "[a-zé'çßÆ]{1,8}",
        "\\PC{1,6}",
    ]
}

/// Query-shaped strings: words mixed with operators, quotes, parentheses and stars.
fn query_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => word(),
        1 => Just("AND".to_owned()),
        1 => Just("OR".to_owned()),
        1 => Just("NOT".to_owned()),
        1 => Just("(".to_owned()),
        1 => Just(")".to_owned()),
        1 => Just("\"".to_owned()),
        1 => Just("-".to_owned()),
        1 => Just("*".to_owned()),
        1 => word().prop_map(|w| format!("{w}*")),
        1 => word().prop_map(|w| format!("-{w}")),
    ];
    prop::collection::vec(piece, 0..12).prop_map(|pieces| pieces.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn parse_never_panics(input in "\\PC{0,40}") {
        let _ = Query::parse(&input);
    }

    #[test]
    fn parse_of_query_like_input_never_panics_and_errors_point_inside(input in query_like()) {
        if let Err(error) = Query::parse(&input) {
            prop_assert!(error.position >= 1);
            prop_assert!(error.position <= input.chars().count() + 1, "{error} for {input:?}");
        }
    }

    #[test]
    fn display_round_trips(input in query_like()) {
        if let Ok(query) = Query::parse(&input) {
            let shown = query.to_string();
            let reparsed = Query::parse(&shown);
            prop_assert!(reparsed.is_ok(), "{input:?} shown as {shown:?}: {reparsed:?}");
            let reparsed = reparsed.unwrap();
            prop_assert_eq!(reparsed.to_string(), shown.clone());
            prop_assert_eq!(reparsed, query);
        }
    }

    #[test]
    fn folding_is_idempotent(text in "\\PC{0,40}") {
        let once = fold(&text);
        prop_assert_eq!(fold(&once), once);
    }

    #[test]
    fn folding_is_idempotent_on_words(words in prop::collection::vec(word(), 0..6)) {
        let once = fold(&words.join(" "));
        prop_assert_eq!(fold(&once), once);
    }

    #[test]
    fn a_term_from_any_word_of_a_text_matches_it(words in prop::collection::vec(word(), 1..8), pick in any::<prop::sample::Index>()) {
        let text = words.join(" ");
        let tokens: Vec<_> = tokenize(&text).collect();
        prop_assume!(!tokens.is_empty());
        let token = tokens[pick.index(tokens.len())];
        let query = Query::parse(&format!("\"{}\"", token.text));
        prop_assert!(query.is_ok(), "{:?}: {:?}", token.text, query);
        prop_assert!(query.unwrap().matches(&AnalyzedText::new(&text)), "{:?} in {:?}", token.text, text);
    }

    #[test]
    fn tokens_are_slices_of_the_text(text in "\\PC{0,60}") {
        for (i, token) in tokenize(&text).enumerate() {
            prop_assert_eq!(token.position, i);
            prop_assert_eq!(&text[token.offset..token.offset + token.text.len()], token.text);
            prop_assert!(!token.text.is_empty());
        }
    }

    #[test]
    fn analysis_normalization_and_detection_never_panic(text in "\\PC{0,80}", declared in proptest::option::of("[a-zA-Z_-]{0,6}")) {
        let analyzed = AnalyzedText::new(&text);
        prop_assert_eq!(analyzed.folded().len(), analyzed.stems().len());
        let _ = simhash(&analyzed);
        let _ = html_to_text(&text);
        let _ = plain_text(&text);
        let detected = lang::detect(&text, declared.as_deref());
        prop_assert!(detected == "und" || (2..=3).contains(&detected.len()));
    }

    #[test]
    fn html_output_has_no_markup(words in prop::collection::vec(word(), 0..8)) {
        // Text that itself looks like markup is markup; keep the generated words plain.
        let words: Vec<String> = words.iter().map(|w| w.replace(['<', '>', '&'], " ")).collect();
        let html = words.iter().map(|w| format!("<p><b>{w}</b><script>var x='<i>';</script></p>")).collect::<String>();
        let text = html_to_text(&html).text;
        prop_assert!(!text.contains('<') && !text.contains("var x"), "{text:?}");
    }

    #[test]
    fn identical_texts_have_identical_fingerprints(words in prop::collection::vec("[a-z]{2,8}", 4..30)) {
        let text = words.join(" ");
        let original = simhash(&AnalyzedText::new(&text));
        let repost = simhash(&AnalyzedText::new(&format!("RT @someone: {text} https://t.co/xyz")));
        prop_assert_ne!(original, 0);
        prop_assert_eq!(hamming(original, repost), 0);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// The brand matcher's one-pass evaluation must find exactly what each query finds alone.
    #[test]
    fn brand_matcher_agrees_with_queries(queries in prop::collection::vec(query_like(), 1..6), words in prop::collection::vec(word(), 0..12)) {
        let valid: Vec<String> = queries.into_iter().filter(|q| Query::parse(q).is_ok()).collect();
        let brands: Vec<earshot_core::BrandConfig> = valid
            .iter()
            .enumerate()
            .map(|(i, q)| earshot_core::BrandConfig { name: format!("b{i}"), queries: vec![q.clone()], competitor: false })
            .collect();
        let matcher = earshot_text::BrandMatcher::new(&brands).unwrap();
        let text = AnalyzedText::new(&words.join(" "));
        let expected: Vec<String> = valid
            .iter()
            .enumerate()
            .filter(|(_, q)| Query::parse(q).unwrap().matches(&text))
            .map(|(i, _)| format!("b{i}"))
            .collect();
        prop_assert_eq!(matcher.matching(&text), expected);
    }
}
