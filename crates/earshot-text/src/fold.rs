//! Case and accent folding: the first step of turning text into searchable terms.

use unicode_normalization::char::{decompose_canonical, decompose_compatible, is_combining_mark};

const COMBINING_BREVE: char = '\u{0306}';

/// Lowercases `text` and strips accents and diacritics, so that `Zéltron`, `ZELTRON` and
/// `zeltron` fold alike, as do `Ζέλτρον`/`ΖΕΛΤΡΟΝ` and `Зелтрон`/`ЗЕЛТРОН`.
///
/// Compatibility forms are unfolded too (`ﬁ` → `fi`, full-width letters → ASCII), `ß` → `ss`,
/// `æ` → `ae`, `ё` → `е`, final `ς` → `σ`, typographic apostrophes → `'`. Russian `й` is kept:
/// it is a letter of its own, and the Russian stemmer relies on it for adjective endings.
/// Folding is idempotent: `fold(&fold(x)) == fold(x)`.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        fold_char_into(c, &mut out);
    }
    out
}

fn fold_char_into(c: char, out: &mut String) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
        return;
    }
    match c {
        'й' | 'Й' => out.push('й'),
        // Text in decomposed form spells `й` as `и` + breve; keep it the same letter as the
        // precomposed one instead of dropping the breve like other marks.
        COMBINING_BREVE if out.ends_with('и') => {
            out.pop();
            out.push('й');
        }
        _ => {
            let start = out.len();
            decompose_compatible(c, |d| push_lowercased_base(d, true, out));
            // A few letters and digits decompose into something that is not a word character
            // (`½` → `1⁄2`); keeping them whole stops folding from splitting one word into two.
            if is_alphanumeric_fast(c) && !out[start..].chars().all(is_word_char) {
                out.truncate(start);
                decompose_canonical(c, |d| push_lowercased_base(d, false, out));
            }
        }
    }
}

fn push_lowercased_base(c: char, compatible: bool, out: &mut String) {
    if is_combining_mark(c) {
        return;
    }
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
        return;
    }
    for lower in c.to_lowercase() {
        // Lowercasing can itself yield a decomposable letter or a mark (`İ` → `i̇`).
        let push = |d: char| {
            if !is_combining_mark(d) {
                push_special(d, out);
            }
        };
        if compatible {
            decompose_compatible(lower, push);
        } else {
            decompose_canonical(lower, push);
        }
    }
}

fn push_special(c: char, out: &mut String) {
    match c {
        'ß' | 'ẞ' => out.push_str("ss"),
        'æ' | 'Æ' => out.push_str("ae"),
        'œ' | 'Œ' => out.push_str("oe"),
        'ø' | 'Ø' => out.push('o'),
        'đ' | 'Đ' | 'ð' | 'Ð' => out.push('d'),
        'ł' | 'Ł' => out.push('l'),
        'þ' | 'Þ' => out.push_str("th"),
        'ı' => out.push('i'),
        'ς' => out.push('σ'),
        'ϐ' => out.push('β'),
        'ё' => out.push('е'),
        '\u{2019}' | '\u{2018}' | '\u{02BC}' | '\u{FF07}' => out.push('\''),
        _ => out.push(c),
    }
}

/// Characters a word (token) is made of; apostrophes are allowed only inside words, which the
/// tokenizer handles separately.
pub(crate) fn is_word_char(c: char) -> bool {
    is_alphanumeric_fast(c) || c == '\'' || is_combining_mark(c)
}

/// `char::is_alphanumeric` with the scripts Earshot reads most answered without the Unicode
/// table search, which otherwise dominates tokenizing Russian and Greek text.
#[inline]
pub(crate) fn is_alphanumeric_fast(c: char) -> bool {
    match c {
        'a'..='z' | 'A'..='Z' | '0'..='9' => true,
        c if c.is_ascii() => false,
        // Basic Russian alphabet, Ё and ё.
        '\u{0410}'..='\u{044F}' | '\u{0401}' | '\u{0451}' => true,
        // Greek letters with and without tonos; U+0387 (ano teleia) is punctuation and
        // U+038B, U+038D, U+03A2 are unassigned.
        '\u{0386}' | '\u{0388}'..='\u{038A}' | '\u{038C}' | '\u{038E}'..='\u{03A1}' => true,
        '\u{03A3}'..='\u{03CE}' => true,
        c => c.is_alphanumeric(),
    }
}

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn lowercases_and_strips_latin_accents() {
        assert_eq!(
            fold("Zéltron CAFÉ Ångström naïve"),
            "zeltron cafe angstrom naive"
        );
        assert_eq!(fold("Straße Æsir Œuvre Łódź"), "strasse aesir oeuvre lodz");
    }

    #[test]
    fn folds_cyrillic_keeping_short_i() {
        assert_eq!(fold("ЗЕЛТРОН Ёлка"), "зелтрон елка");
        assert_eq!(fold("Новый Їжак"), "новый іжак");
        // Decomposed `й` (и + combining breve) folds like the precomposed letter.
        assert_eq!(fold("новыи\u{0306}"), "новый");
        assert_eq!(fold("ёж"), fold("е\u{0308}ж"));
    }

    #[test]
    fn folds_greek_accents_and_final_sigma() {
        assert_eq!(fold("Ζέλτρον"), "ζελτρον");
        assert_eq!(fold("ΖΕΛΤΡΟΝ"), "ζελτρον");
        assert_eq!(
            fold("Κβάντιξ ΝΟΒΈΝΤΑΣ νοβέντας"),
            "κβαντιξ νοβεντασ νοβεντασ"
        );
        assert_eq!(fold("ϊ ΐ"), "ι ι");
    }

    #[test]
    fn unfolds_compatibility_forms_and_apostrophes() {
        assert_eq!(fold("ﬁnance ＺＥＬＴＲＯＮ"), "finance zeltron");
        assert_eq!(fold("Zeltron’s"), "zeltron's");
        assert_eq!(fold("İstanbul"), "istanbul");
    }

    #[test]
    fn keeps_letters_whose_decomposition_is_not_a_word() {
        assert_eq!(fold("½"), "½");
        assert_eq!(fold(&fold("½")), fold("½"));
    }

    #[test]
    fn leaves_punctuation_emoji_and_control_characters_alone() {
        assert_eq!(fold("#Zeltron! 🚀\u{0}\n"), "#zeltron! 🚀\u{0}\n");
        assert_eq!(fold(""), "");
    }
}
