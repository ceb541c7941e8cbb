//! The brand and search query language.
//!
//! ```text
//! zeltron                       a word, in any case, accent and inflection (Зелтрон finds Зелтроном)
//! zeltron kvantix               both (adjacency is AND); same as `zeltron AND kvantix`
//! zeltron OR зелтрон            either
//! zeltron NOT job  /  -job      exclusion; NOT binds tighter than AND, AND tighter than OR
//! "zeltron phone"               the words next to each other, in this order
//! zelt*                         any word starting with `zelt`
//! (zeltron OR kvantix) -hiring  grouping
//! ```
//! Only uppercase `AND`, `OR`, `NOT` are operators; `and` is a word to find.

use std::fmt;

use crate::analysis::{fold, stem, tokenize, AnalyzedText};

/// Deeper nesting than this is refused, so that a hostile query cannot exhaust the stack.
const MAX_NESTING: usize = 64;

/// A parsed query, ready to match analyzed texts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    root: QueryNode,
}

/// One node of a parsed query. Words are stored folded (and stemmed where stems are compared),
/// so matching never folds again.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum QueryNode {
    /// Matches a word whose stem equals `stem` or whose folded form equals `folded`.
    Term {
        folded: String,
        stem: String,
    },
    /// Matches a word whose folded form starts with `folded`.
    Prefix {
        folded: String,
    },
    /// Matches consecutive words, each by stem (or folded form).
    Phrase {
        folded: Vec<String>,
        stems: Vec<String>,
    },
    And(Vec<QueryNode>),
    Or(Vec<QueryNode>),
    Not(Box<QueryNode>),
}

/// Why a query could not be parsed, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at column {position}: {message}")]
pub struct QueryError {
    /// 1-based character column in the query text.
    pub position: usize,
    pub message: String,
}

impl QueryError {
    fn new(position: usize, message: impl Into<String>) -> Self {
        QueryError {
            position,
            message: message.into(),
        }
    }
}

impl Query {
    pub fn parse(input: &str) -> Result<Query, QueryError> {
        let tokens = lex(input)?;
        if tokens.is_empty() {
            return Err(QueryError::new(1, "the query is empty"));
        }
        let end_column = input.chars().count() + 1;
        let mut parser = Parser {
            tokens,
            next: 0,
            depth: 0,
            end_column,
            first_exclusion: None,
        };
        let root = parser.parse_or()?;
        if let Some(extra) = parser.tokens.get(parser.next) {
            let message = match extra.lexeme {
                Lexeme::RParen => "')' has no matching '('",
                _ => "unexpected text after the end of the query",
            };
            return Err(QueryError::new(extra.column, message));
        }
        if !root.finds_something() {
            return Err(QueryError::new(
                parser.first_exclusion.unwrap_or(1),
                "a query must have something to find, not only things to exclude",
            ));
        }
        Ok(Query { root })
    }

    pub fn root(&self) -> &QueryNode {
        &self.root
    }

    pub fn matches(&self, text: &AnalyzedText) -> bool {
        self.root.matches(text)
    }
}

impl std::str::FromStr for Query {
    type Err = QueryError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Query::parse(input)
    }
}

impl QueryNode {
    /// Builds a term from a folded word.
    pub fn term(folded: impl Into<String>) -> Self {
        let folded = folded.into();
        QueryNode::Term {
            stem: stem(&folded),
            folded,
        }
    }

    /// Builds a phrase from folded words.
    pub fn phrase(folded: Vec<String>) -> Self {
        let stems = folded.iter().map(|word| stem(word)).collect();
        QueryNode::Phrase { folded, stems }
    }

    pub fn matches(&self, text: &AnalyzedText) -> bool {
        match self {
            QueryNode::Term { folded, stem } => text
                .stems()
                .iter()
                .zip(text.folded())
                .any(|(token_stem, token_folded)| token_stem == stem || token_folded == folded),
            QueryNode::Prefix { folded } => text
                .folded()
                .iter()
                .any(|word| word.starts_with(folded.as_str())),
            QueryNode::Phrase { folded, stems } => {
                (0..text.len()).any(|start| phrase_matches_at(folded, stems, text, start))
            }
            QueryNode::And(children) => children.iter().all(|child| child.matches(text)),
            QueryNode::Or(children) => children.iter().any(|child| child.matches(text)),
            QueryNode::Not(child) => !child.matches(text),
        }
    }

    /// Whether every text this node matches must contain something positive, as opposed to
    /// matching merely by the absence of words (which would match nearly every mention).
    fn finds_something(&self) -> bool {
        match self {
            QueryNode::Term { .. } | QueryNode::Prefix { .. } | QueryNode::Phrase { .. } => true,
            QueryNode::And(children) => children.iter().any(QueryNode::finds_something),
            QueryNode::Or(children) => children.iter().all(QueryNode::finds_something),
            QueryNode::Not(_) => false,
        }
    }
}

/// Whether the phrase words match the text words starting at token `start`, word for word by
/// stem or folded form.
pub(crate) fn phrase_matches_at(
    folded: &[String],
    stems: &[String],
    text: &AnalyzedText,
    start: usize,
) -> bool {
    let text_folded = text.folded();
    let text_stems = text.stems();
    if start + folded.len() > text_folded.len() {
        return false;
    }
    folded
        .iter()
        .zip(stems)
        .enumerate()
        .all(|(i, (word_folded, word_stem))| {
            text_stems[start + i] == *word_stem || text_folded[start + i] == *word_folded
        })
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.root.fmt(f)
    }
}

/// Writes the query back in the query language, so that parsing the output gives the same query.
impl fmt::Display for QueryNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryNode::Term { folded, .. } => f.write_str(folded),
            QueryNode::Prefix { folded } => write!(f, "{folded}*"),
            QueryNode::Phrase { folded, .. } => write!(f, "\"{}\"", folded.join(" ")),
            QueryNode::And(children) => write_joined(f, children, " AND ", |child| {
                matches!(child, QueryNode::Or(_))
            }),
            QueryNode::Or(children) => write_joined(f, children, " OR ", |_| false),
            QueryNode::Not(child) => {
                if matches!(**child, QueryNode::And(_) | QueryNode::Or(_)) {
                    write!(f, "NOT ({child})")
                } else {
                    write!(f, "NOT {child}")
                }
            }
        }
    }
}

fn write_joined(
    f: &mut fmt::Formatter<'_>,
    children: &[QueryNode],
    separator: &str,
    needs_parentheses: impl Fn(&QueryNode) -> bool,
) -> fmt::Result {
    for (i, child) in children.iter().enumerate() {
        if i > 0 {
            f.write_str(separator)?;
        }
        if needs_parentheses(child) {
            write!(f, "({child})")?;
        } else {
            write!(f, "{child}")?;
        }
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Lexeme {
    LParen,
    RParen,
    And,
    Or,
    Not,
    /// `-` glued to the start of what it excludes.
    Minus,
    Phrase(String),
    Word(String),
}

#[derive(Debug, Clone)]
struct Located {
    lexeme: Lexeme,
    /// 1-based character column where the lexeme starts.
    column: usize,
}

fn is_quote(c: char) -> bool {
    matches!(c, '"' | '“' | '”' | '«' | '»' | '„')
}

fn lex(input: &str) -> Result<Vec<Located>, QueryError> {
    let mut tokens = Vec::new();
    let mut chars = input.chars().enumerate().peekable();
    while let Some((index, c)) = chars.next() {
        let column = index + 1;
        let lexeme = match c {
            c if c.is_whitespace() => continue,
            '(' => Lexeme::LParen,
            ')' => Lexeme::RParen,
            c if is_quote(c) => {
                let mut phrase = String::new();
                let mut closed = false;
                for (_, inner) in chars.by_ref() {
                    if is_quote(inner) {
                        closed = true;
                        break;
                    }
                    phrase.push(inner);
                }
                if !closed {
                    return Err(QueryError::new(column, "this quote is never closed"));
                }
                Lexeme::Phrase(phrase)
            }
            '-' if chars
                .peek()
                .is_some_and(|&(_, next)| !next.is_whitespace() && next != ')' && next != '-') =>
            {
                Lexeme::Minus
            }
            _ => {
                let mut word = String::from(c);
                while let Some(&(_, next)) = chars.peek() {
                    if next.is_whitespace() || next == '(' || next == ')' || is_quote(next) {
                        break;
                    }
                    word.push(next);
                    chars.next();
                }
                match word.as_str() {
                    "AND" => Lexeme::And,
                    "OR" => Lexeme::Or,
                    "NOT" => Lexeme::Not,
                    _ => Lexeme::Word(word),
                }
            }
        };
        tokens.push(Located { lexeme, column });
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Located>,
    next: usize,
    depth: usize,
    end_column: usize,
    first_exclusion: Option<usize>,
}

impl Parser {
    fn peek(&self) -> Option<&Located> {
        self.tokens.get(self.next)
    }

    fn peek_lexeme(&self) -> Option<&Lexeme> {
        self.peek().map(|located| &located.lexeme)
    }

    fn advance(&mut self) -> Option<Located> {
        let token = self.tokens.get(self.next).cloned();
        self.next += 1;
        token
    }

    fn starts_operand(lexeme: Option<&Lexeme>) -> bool {
        matches!(
            lexeme,
            Some(
                Lexeme::LParen | Lexeme::Not | Lexeme::Minus | Lexeme::Phrase(_) | Lexeme::Word(_)
            )
        )
    }

    fn parse_or(&mut self) -> Result<QueryNode, QueryError> {
        let mut alternatives = vec![self.parse_and()?];
        while let Some(Lexeme::Or) = self.peek_lexeme() {
            let or = self.advance().expect("peeked");
            if !Self::starts_operand(self.peek_lexeme()) {
                return Err(QueryError::new(
                    or.column,
                    "OR needs something to find after it",
                ));
            }
            alternatives.push(self.parse_and()?);
        }
        Ok(flatten(alternatives, Connective::Or))
    }

    fn parse_and(&mut self) -> Result<QueryNode, QueryError> {
        let mut required = vec![self.parse_unary()?];
        loop {
            match self.peek_lexeme() {
                Some(Lexeme::And) => {
                    let and = self.advance().expect("peeked");
                    if !Self::starts_operand(self.peek_lexeme()) {
                        return Err(QueryError::new(
                            and.column,
                            "AND needs something to find after it",
                        ));
                    }
                }
                lexeme if Self::starts_operand(lexeme) => {}
                _ => break,
            }
            required.push(self.parse_unary()?);
        }
        Ok(flatten(required, Connective::And))
    }

    fn parse_unary(&mut self) -> Result<QueryNode, QueryError> {
        let Some(operator) = self.peek().cloned() else {
            return Err(QueryError::new(
                self.end_column,
                "the query ends where something to find was expected",
            ));
        };
        let name = match operator.lexeme {
            Lexeme::Not => "NOT",
            Lexeme::Minus => "'-'",
            _ => return self.parse_primary(),
        };
        self.advance();
        self.first_exclusion.get_or_insert(operator.column);
        if !Self::starts_operand(self.peek_lexeme()) {
            return Err(QueryError::new(
                operator.column,
                format!("{name} needs something to exclude after it"),
            ));
        }
        self.enter(operator.column)?;
        let operand = self.parse_unary();
        self.depth -= 1;
        Ok(match operand? {
            QueryNode::Not(inner) => *inner,
            other => QueryNode::Not(Box::new(other)),
        })
    }

    fn enter(&mut self, column: usize) -> Result<(), QueryError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(QueryError::new(
                column,
                format!("the query is nested more than {MAX_NESTING} levels deep"),
            ));
        }
        Ok(())
    }

    fn parse_primary(&mut self) -> Result<QueryNode, QueryError> {
        let Some(token) = self.advance() else {
            return Err(QueryError::new(
                self.end_column,
                "the query ends where something to find was expected",
            ));
        };
        match token.lexeme {
            Lexeme::LParen => {
                if let Some(Lexeme::RParen) = self.peek_lexeme() {
                    return Err(QueryError::new(token.column, "the parentheses are empty"));
                }
                self.enter(token.column)?;
                let inner = self.parse_or();
                self.depth -= 1;
                let inner = inner?;
                match self.advance() {
                    Some(Located {
                        lexeme: Lexeme::RParen,
                        ..
                    }) => Ok(inner),
                    _ => Err(QueryError::new(token.column, "this '(' is never closed")),
                }
            }
            Lexeme::RParen => Err(QueryError::new(token.column, "')' has no matching '('")),
            Lexeme::And => Err(QueryError::new(
                token.column,
                "AND needs something to find before it",
            )),
            Lexeme::Or => Err(QueryError::new(
                token.column,
                "OR needs something to find before it",
            )),
            Lexeme::Phrase(phrase) => phrase_node(&phrase, token.column),
            Lexeme::Word(word) => word_node(&word, token.column),
            Lexeme::Not | Lexeme::Minus => unreachable!("handled by parse_unary"),
        }
    }
}

#[derive(Clone, Copy)]
enum Connective {
    And,
    Or,
}

/// Combines nodes with one connective, merging nested uses of the same connective so that
/// `a AND (b AND c)` is stored (and displayed) as `a AND b AND c`.
fn flatten(mut nodes: Vec<QueryNode>, connective: Connective) -> QueryNode {
    if nodes.len() == 1 {
        return nodes.pop().expect("one node");
    }
    let mut flat = Vec::with_capacity(nodes.len());
    for node in nodes {
        match (connective, node) {
            (Connective::And, QueryNode::And(children))
            | (Connective::Or, QueryNode::Or(children)) => flat.extend(children),
            (_, node) => flat.push(node),
        }
    }
    match connective {
        Connective::And => QueryNode::And(flat),
        Connective::Or => QueryNode::Or(flat),
    }
}

fn folded_words(text: &str) -> Vec<String> {
    tokenize(text)
        .map(|token| fold(token.text))
        .filter(|folded| !folded.is_empty())
        .collect()
}

fn words_node(mut words: Vec<String>) -> QueryNode {
    if words.len() == 1 {
        QueryNode::term(words.pop().expect("one word"))
    } else {
        QueryNode::phrase(words)
    }
}

fn phrase_node(phrase: &str, column: usize) -> Result<QueryNode, QueryError> {
    let words = folded_words(phrase);
    if words.is_empty() {
        return Err(QueryError::new(
            column,
            "the quoted phrase has no letters or digits to find",
        ));
    }
    Ok(words_node(words))
}

fn word_node(word: &str, column: usize) -> Result<QueryNode, QueryError> {
    if let Some(star_index) = word.chars().position(|c| c == '*') {
        let stem_part = match word.strip_suffix('*') {
            Some(stem_part) if star_index + 1 == word.chars().count() => stem_part,
            _ => {
                return Err(QueryError::new(
                    column + star_index,
                    "'*' may only end a word, as in zelt*",
                ))
            }
        };
        let words = folded_words(stem_part);
        return match words.len() {
            0 => Err(QueryError::new(
                column,
                "'*' needs the beginning of a word before it, as in zelt*",
            )),
            1 => Ok(QueryNode::Prefix {
                folded: words.into_iter().next().expect("one word"),
            }),
            _ => Err(QueryError::new(
                column,
                format!("a prefix must be a single word, but {stem_part:?} has several"),
            )),
        };
    }
    let words = folded_words(word);
    if words.is_empty() {
        return Err(QueryError::new(
            column,
            format!("{word:?} has no letters or digits to find"),
        ));
    }
    Ok(words_node(words))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(query: &str, text: &str) -> bool {
        Query::parse(query)
            .unwrap_or_else(|e| panic!("{query:?}: {e}"))
            .matches(&AnalyzedText::new(text))
    }

    fn error(query: &str) -> QueryError {
        match Query::parse(query) {
            Ok(parsed) => panic!("{query:?} parsed as {parsed}"),
            Err(error) => error,
        }
    }

    #[test]
    fn terms_ignore_case_and_accents() {
        assert!(matches("Zeltron", "I love ZELTRON phones"));
        assert!(matches("zeltron", "Zéltron is great"));
        assert!(!matches("zeltron", "Kvantix is great"));
    }

    #[test]
    fn terms_find_russian_inflections() {
        assert!(matches("Зелтрон", "Доволен Зелтроном, спасибо"));
        assert!(matches("Зелтрон", "Купил телефон Зелтрона вчера"));
        assert!(matches("Новента", "В Новенте опять очередь"));
        assert!(!matches("Зелтрон", "Квантикс лучше"));
    }

    #[test]
    fn terms_find_greek_inflections_and_uppercase() {
        assert!(matches("Ζέλτρον", "ΖΕΛΤΡΟΝ ΠΑΝΤΟΥ"));
        assert!(matches("Ζέλτρον", "Αγόρασα ένα Ζέλτρονα χθες"));
        assert!(matches("Κβάντιξ", "το κβαντιξ είναι καλό"));
    }

    #[test]
    fn terms_find_english_inflections_and_possessives() {
        assert!(matches("Zeltron", "Zeltron's new phone"));
        assert!(matches("phone", "two phones"));
    }

    #[test]
    fn terms_inside_punctuated_words() {
        assert!(matches("zeltron", "visit zeltron.com today"));
        assert!(matches("zeltron", "thanks @zeltron!"));
        assert!(matches("зелтрон", "#зелтрон #топ"));
        assert!(matches("zeltron.com", "see ZELTRON.COM/shop"));
        assert!(!matches("zeltron.com", "zeltron is not a com"));
    }

    #[test]
    fn boolean_operators_and_precedence() {
        assert!(matches("zeltron kvantix", "kvantix vs zeltron"));
        assert!(!matches("zeltron AND kvantix", "zeltron alone"));
        assert!(matches("zeltron OR kvantix", "kvantix alone"));
        // NOT > AND > OR: a OR (b AND (NOT c))
        let query = Query::parse("noventa OR zeltron NOT job").unwrap();
        assert!(query.matches(&AnalyzedText::new("noventa job")));
        assert!(query.matches(&AnalyzedText::new("zeltron phone")));
        assert!(!query.matches(&AnalyzedText::new("zeltron job offer")));
        assert!(matches("(zeltron OR kvantix) -hiring", "kvantix rocks"));
        assert!(!matches(
            "(zeltron OR kvantix) -hiring",
            "kvantix is hiring"
        ));
        assert!(!matches("zeltron -(job OR hiring)", "zeltron job"));
    }

    #[test]
    fn lowercase_operators_are_words() {
        let query = Query::parse("zeltron and kvantix").unwrap();
        assert_eq!(
            query.root(),
            &QueryNode::And(vec![
                QueryNode::term("zeltron"),
                QueryNode::term("and"),
                QueryNode::term("kvantix")
            ])
        );
        assert!(!matches("zeltron or kvantix", "zeltron alone"));
    }

    #[test]
    fn phrases_match_consecutive_words_by_stem() {
        assert!(matches("\"zeltron phone\"", "my Zeltron phones broke"));
        assert!(!matches("\"zeltron phone\"", "phone by zeltron"));
        assert!(matches("«телефон Зелтрон»", "Сломался телефон Зелтрона"));
        assert!(matches("\"zeltron\"", "ZELTRON!"));
        assert_eq!(
            Query::parse("\"zeltron\"").unwrap().root(),
            &QueryNode::term("zeltron")
        );
    }

    #[test]
    fn prefixes_match_word_beginnings() {
        assert!(matches("zelt*", "Zeltronic devices"));
        assert!(matches("зелт*", "ЗЕЛТРОНОВСКИЙ магазин"));
        assert!(!matches("zelt*", "a zel and a tron"));
        assert_eq!(
            Query::parse("Zélt*").unwrap().root(),
            &QueryNode::Prefix {
                folded: "zelt".into()
            }
        );
    }

    #[test]
    fn structure_is_flattened() {
        let query = Query::parse("a AND (b AND c) OR (d OR e)").unwrap();
        assert_eq!(
            query.root(),
            &QueryNode::Or(vec![
                QueryNode::And(vec![
                    QueryNode::term("a"),
                    QueryNode::term("b"),
                    QueryNode::term("c")
                ]),
                QueryNode::term("d"),
                QueryNode::term("e"),
            ])
        );
        assert_eq!(
            Query::parse("zeltron NOT NOT kvantix").unwrap().root(),
            Query::parse("zeltron kvantix").unwrap().root()
        );
    }

    #[test]
    fn display_round_trips() {
        for input in [
            "zeltron",
            "(zeltron OR Зелтрон) -job \"new phone\" zelt*",
            "NOT (a OR b) c",
            "a OR b c OR NOT d e",
            "NOT (a b) x",
        ] {
            let query = Query::parse(input).unwrap();
            let shown = query.to_string();
            let reparsed = Query::parse(&shown).unwrap_or_else(|e| panic!("{shown:?}: {e}"));
            assert_eq!(reparsed, query, "{input:?} shown as {shown:?}");
        }
        assert_eq!(
            Query::parse("(Zeltron OR Зелтрон) -job \"new phone\"")
                .unwrap()
                .to_string(),
            "(zeltron OR зелтрон) AND NOT job AND \"new phone\""
        );
    }

    #[test]
    fn errors_name_the_column() {
        let cases = [
            ("", 1, "empty"),
            ("   ", 1, "empty"),
            ("(zeltron", 1, "never closed"),
            ("zeltron)", 8, "no matching"),
            ("zeltron \"new phone", 9, "never closed"),
            ("zeltron AND", 9, "AND needs something to find after"),
            ("OR zeltron", 1, "OR needs something to find before"),
            ("zeltron OR", 9, "OR needs"),
            ("zeltron AND OR kvantix", 9, "AND needs"),
            ("zeltron NOT", 9, "NOT needs"),
            ("*", 1, "'*' needs"),
            ("ze*ron", 3, "'*' may only end"),
            ("zeltron.c*", 1, "single word"),
            ("()", 1, "empty"),
            ("zeltron \"!!\"", 9, "no letters"),
            ("🚀", 1, "no letters"),
            ("NOT zeltron", 1, "something to find"),
            ("-zeltron -kvantix", 1, "something to find"),
            ("zeltron OR -kvantix", 12, "something to find"),
        ];
        for (input, position, message) in cases {
            let error = error(input);
            assert_eq!(error.position, position, "{input:?}: {error}");
            assert!(error.message.contains(message), "{input:?}: {error}");
        }
    }

    #[test]
    fn error_columns_count_characters_not_bytes() {
        let error = error("Зелтрон (Квантикс");
        assert_eq!(error.position, 9);
        assert_eq!(error.to_string(), "at column 9: this '(' is never closed");
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = format!("{}zeltron{}", "(".repeat(100_000), ")".repeat(100_000));
        assert!(error(&deep).message.contains("nested"));
        let nots = format!("{}zeltron", "NOT ".repeat(100_000));
        assert!(error(&nots).message.contains("nested"));
        let shallow = format!("{}zeltron{}", "(".repeat(20), ")".repeat(20));
        assert!(Query::parse(&shallow).is_ok());
    }

    #[test]
    fn from_str_parses() {
        let query: Query = "zeltron".parse().unwrap();
        assert_eq!(query.root(), &QueryNode::term("zeltron"));
    }
}
