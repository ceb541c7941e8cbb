//! Matching every configured brand against a text at once.
//!
//! All brands' queries are compiled into one table of distinct words, phrases and prefixes
//! ("atoms"), indexed by word. A text is scanned once, a hash lookup per word, to see which atoms
//! occur; then each query is evaluated on those answers alone. The cost per text hardly grows with
//! the number of brands.

use std::collections::HashMap;

use earshot_core::BrandConfig;

use crate::analysis::AnalyzedText;
use crate::query::{phrase_matches_at, Query, QueryError, QueryNode};

/// A brand query that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("brand {brand:?}, query {query:?}: {error}")]
pub struct BrandQueryError {
    pub brand: String,
    pub query: String,
    pub error: QueryError,
}

type AtomId = usize;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Atom {
    Term {
        folded: String,
        stem: String,
    },
    Phrase {
        folded: Vec<String>,
        stems: Vec<String>,
    },
    Prefix {
        folded: String,
    },
}

#[derive(Debug, Clone)]
enum Compiled {
    Atom(AtomId),
    And(Vec<Compiled>),
    Or(Vec<Compiled>),
    Not(Box<Compiled>),
}

impl Compiled {
    /// Appends the spelling of every atom not under a `NOT` (an odd number of them) to `out`,
    /// each once.
    fn collect_spellings(&self, atoms: &[Atom], negated: bool, out: &mut Vec<String>) {
        match self {
            Compiled::Atom(id) if !negated => {
                let spelling = match &atoms[*id] {
                    Atom::Term { folded, .. } => folded.clone(),
                    Atom::Phrase { folded, .. } => folded.join(" "),
                    Atom::Prefix { folded } => format!("{folded}*"),
                };
                if !out.contains(&spelling) {
                    out.push(spelling);
                }
            }
            Compiled::Atom(_) => {}
            Compiled::And(children) | Compiled::Or(children) => {
                for child in children {
                    child.collect_spellings(atoms, negated, out);
                }
            }
            Compiled::Not(child) => child.collect_spellings(atoms, !negated, out),
        }
    }

    fn evaluate(&self, present: &[bool]) -> bool {
        match self {
            Compiled::Atom(id) => present[*id],
            Compiled::And(children) => children.iter().all(|child| child.evaluate(present)),
            Compiled::Or(children) => children.iter().any(|child| child.evaluate(present)),
            Compiled::Not(child) => !child.evaluate(present),
        }
    }
}

#[derive(Debug, Clone)]
struct CompiledBrand {
    name: String,
    queries: Vec<Compiled>,
    /// [`BrandMatcher::spellings`].
    spellings: Vec<String>,
}

/// Finds which of the configured brands a text mentions.
#[derive(Debug, Clone, Default)]
pub struct BrandMatcher {
    brands: Vec<CompiledBrand>,
    atoms: Vec<Atom>,
    /// Terms under their stem and folded form; phrases under the stem and folded form of their
    /// first word.
    atoms_by_word: HashMap<String, Vec<AtomId>>,
    prefixes: Vec<(String, AtomId)>,
}

impl BrandMatcher {
    pub fn new(brands: &[BrandConfig]) -> Result<Self, BrandQueryError> {
        let mut builder = Builder::default();
        let mut compiled_brands = Vec::with_capacity(brands.len());
        for brand in brands {
            let mut queries = Vec::with_capacity(brand.queries.len());
            for query in &brand.queries {
                let parsed = Query::parse(query).map_err(|error| BrandQueryError {
                    brand: brand.name.clone(),
                    query: query.clone(),
                    error,
                })?;
                queries.push(builder.compile(parsed.root()));
            }
            let mut spellings = Vec::new();
            for query in &queries {
                query.collect_spellings(&builder.atoms, false, &mut spellings);
            }
            compiled_brands.push(CompiledBrand {
                name: brand.name.clone(),
                queries,
                spellings,
            });
        }
        Ok(builder.finish(compiled_brands))
    }

    /// The words by which `brand`'s queries find it, folded: each term and phrase of its
    /// queries that is not excluded (`-job`, `NOT τράπεζα`), prefixes with their `*`. The
    /// analysis looks for these (and the brand's name) to tell which clauses speak of the brand
    /// ("Билайн" for a brand named Beeline). Empty for an unknown brand.
    pub fn spellings(&self, brand: &str) -> &[String] {
        self.brands
            .iter()
            .find(|compiled| compiled.name == brand)
            .map_or(&[], |compiled| compiled.spellings.as_slice())
    }

    /// Names of the brands `text` matches, in configuration order. A brand matches when any of
    /// its queries does.
    pub fn matching(&self, text: &AnalyzedText) -> Vec<String> {
        let present = self.atoms_present(text);
        if !present.iter().any(|&found| found) {
            // Every query needs at least one atom to be present (the parser refuses queries made
            // only of exclusions), so nothing can match.
            return Vec::new();
        }
        self.brands
            .iter()
            .filter(|brand| brand.queries.iter().any(|query| query.evaluate(&present)))
            .map(|brand| brand.name.clone())
            .collect()
    }

    /// Whether there are no brands to find.
    pub fn is_empty(&self) -> bool {
        self.brands.is_empty()
    }

    fn atoms_present(&self, text: &AnalyzedText) -> Vec<bool> {
        let mut present = vec![false; self.atoms.len()];
        for (position, (token_folded, token_stem)) in
            text.folded().iter().zip(text.stems()).enumerate()
        {
            let stem_hits = self.atoms_by_word.get(token_stem.as_str());
            let folded_hits = if token_folded == token_stem {
                None
            } else {
                self.atoms_by_word.get(token_folded.as_str())
            };
            for &id in stem_hits.into_iter().chain(folded_hits).flatten() {
                if present[id] {
                    continue;
                }
                present[id] = match &self.atoms[id] {
                    Atom::Term { folded, stem } => token_stem == stem || token_folded == folded,
                    Atom::Phrase { folded, stems } => {
                        phrase_matches_at(folded, stems, text, position)
                    }
                    Atom::Prefix { .. } => false,
                };
            }
            for (prefix, id) in &self.prefixes {
                if !present[*id] && token_folded.starts_with(prefix.as_str()) {
                    present[*id] = true;
                }
            }
        }
        present
    }
}

#[derive(Default)]
struct Builder {
    atoms: Vec<Atom>,
    ids: HashMap<Atom, AtomId>,
}

impl Builder {
    fn atom(&mut self, atom: Atom) -> Compiled {
        let next_id = self.atoms.len();
        let id = *self.ids.entry(atom.clone()).or_insert_with(|| next_id);
        if id == next_id {
            self.atoms.push(atom);
        }
        Compiled::Atom(id)
    }

    fn compile(&mut self, node: &QueryNode) -> Compiled {
        match node {
            QueryNode::Term { folded, stem } => self.atom(Atom::Term {
                folded: folded.clone(),
                stem: stem.clone(),
            }),
            QueryNode::Prefix { folded } => self.atom(Atom::Prefix {
                folded: folded.clone(),
            }),
            QueryNode::Phrase { folded, stems } => self.atom(Atom::Phrase {
                folded: folded.clone(),
                stems: stems.clone(),
            }),
            QueryNode::And(children) => {
                Compiled::And(children.iter().map(|child| self.compile(child)).collect())
            }
            QueryNode::Or(children) => {
                Compiled::Or(children.iter().map(|child| self.compile(child)).collect())
            }
            QueryNode::Not(child) => Compiled::Not(Box::new(self.compile(child))),
        }
    }

    fn finish(self, brands: Vec<CompiledBrand>) -> BrandMatcher {
        let mut atoms_by_word: HashMap<String, Vec<AtomId>> = HashMap::new();
        let mut prefixes = Vec::new();
        for (id, atom) in self.atoms.iter().enumerate() {
            let keys: Vec<&String> = match atom {
                Atom::Term { folded, stem } => vec![folded, stem],
                Atom::Phrase { folded, stems } => match (folded.first(), stems.first()) {
                    (Some(folded), Some(stem)) => vec![folded, stem],
                    _ => Vec::new(),
                },
                Atom::Prefix { folded } => {
                    prefixes.push((folded.clone(), id));
                    Vec::new()
                }
            };
            for key in keys {
                let ids = atoms_by_word.entry(key.clone()).or_default();
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        BrandMatcher {
            brands,
            atoms: self.atoms,
            atoms_by_word,
            prefixes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brand(name: &str, queries: &[&str]) -> BrandConfig {
        BrandConfig {
            name: name.to_owned(),
            queries: queries.iter().map(|q| (*q).to_owned()).collect(),
            competitor: false,
        }
    }

    fn fixture() -> BrandMatcher {
        BrandMatcher::new(&[
            brand(
                "Zeltron",
                &["zeltron -job", "Зелтрон", "Ζέλτρον", "\"zel tron\""],
            ),
            brand("Kvantix", &["kvantix OR Квантикс OR Κβάντιξ", "kvant*"]),
            brand(
                "Noventa",
                &[
                    "\"noventa bank\" OR \"банк Новента\"",
                    "Νοβέντα NOT τράπεζα",
                ],
            ),
        ])
        .unwrap()
    }

    fn matching(matcher: &BrandMatcher, text: &str) -> Vec<String> {
        matcher.matching(&AnalyzedText::new(text))
    }

    #[test]
    fn spellings_are_the_terms_that_find_a_brand_not_those_that_exclude() {
        let matcher = fixture();
        assert_eq!(
            matcher.spellings("Zeltron"),
            ["zeltron", "зелтрон", "ζελτρον", "zel tron"]
        );
        assert_eq!(
            matcher.spellings("Kvantix"),
            ["kvantix", "квантикс", "κβαντιξ", "kvant*"]
        );
        assert_eq!(
            matcher.spellings("Noventa"),
            ["noventa bank", "банк новента", "νοβεντα"]
        );
        assert!(matcher.spellings("Unknown").is_empty());
    }

    #[test]
    fn finds_brands_in_config_order() {
        let matcher = fixture();
        assert_eq!(
            matching(&matcher, "Квантикс против Зелтрона"),
            ["Zeltron", "Kvantix"]
        );
        assert_eq!(
            matching(&matcher, "Το Ζέλτρον και το ΚΒΆΝΤΙΞ"),
            ["Zeltron", "Kvantix"]
        );
        assert_eq!(
            matching(&matcher, "I opened a Noventa Bank account"),
            ["Noventa"]
        );
        assert_eq!(
            matching(&matcher, "Открыл счёт в банке Новента"),
            ["Noventa"]
        );
        assert_eq!(matching(&matcher, "kvantum computing"), ["Kvantix"]);
        assert!(matching(&matcher, "nothing to see here").is_empty());
        assert!(matching(&matcher, "").is_empty());
    }

    #[test]
    fn any_query_of_a_brand_suffices_and_exclusions_apply() {
        let matcher = fixture();
        // The first Zeltron query excludes jobs, but the phrase query still finds it.
        assert!(matching(&matcher, "zeltron job fair").is_empty());
        assert_eq!(matching(&matcher, "zeltron job at zel-tron"), ["Zeltron"]);
        assert!(matching(&matcher, "Η τράπεζα Νοβέντα").is_empty());
        assert_eq!(matching(&matcher, "Η Νοβέντα"), ["Noventa"]);
    }

    #[test]
    fn agrees_with_query_matching() {
        let queries = [
            "zeltron -job",
            "\"zel tron\" OR kvant*",
            "(a OR b) NOT c",
            "running phones",
        ];
        let matcher =
            BrandMatcher::new(&queries.iter().map(|q| brand(q, &[q])).collect::<Vec<_>>()).unwrap();
        let texts = [
            "zeltron",
            "zeltron job",
            "zel tron job",
            "kvantum",
            "a c",
            "b",
            "Run, phone!",
            "phones running",
            "tron zel",
        ];
        for text in texts {
            let analyzed = AnalyzedText::new(text);
            let expected: Vec<String> = queries
                .iter()
                .filter(|q| Query::parse(q).unwrap().matches(&analyzed))
                .map(|q| (*q).to_owned())
                .collect();
            assert_eq!(matcher.matching(&analyzed), expected, "{text:?}");
        }
    }

    #[test]
    fn reports_the_broken_brand_and_query() {
        let error = BrandMatcher::new(&[
            brand("Zeltron", &["zeltron"]),
            brand("Kvantix", &["kvantix", "(kvantix"]),
        ])
        .unwrap_err();
        assert_eq!(error.brand, "Kvantix");
        assert_eq!(error.query, "(kvantix");
        assert_eq!(error.error.position, 1);
        assert_eq!(
            error.to_string(),
            "brand \"Kvantix\", query \"(kvantix\": at column 1: this '(' is never closed"
        );
    }

    #[test]
    fn empty_matcher() {
        let matcher = BrandMatcher::new(&[]).unwrap();
        assert!(matcher.is_empty());
        assert!(matching(&matcher, "zeltron").is_empty());
        assert!(!fixture().is_empty());
    }
}
