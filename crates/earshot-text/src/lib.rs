//! Text handling for Earshot: folding, stemming and tokenization ([`analysis`]), the brand query
//! language ([`query`], [`brands`]), HTML and URL normalization ([`normalize`]), language
//! identification ([`lang`]) and near-duplicate fingerprints ([`fingerprint`]).
//!
//! Everything here is pure computation: no I/O, no global mutable state, and no input can make
//! it panic.

pub mod analysis;
pub mod brands;
pub mod fingerprint;
pub mod fold;
pub mod lang;
pub mod normalize;
pub mod query;
pub mod tracking;
mod urls;

pub use analysis::{fold, stem, tokenize, AnalyzedText, Token, TokenKind};
pub use brands::{BrandMatcher, BrandQueryError};
pub use fingerprint::{hamming, simhash, NearDupIndex};
pub use normalize::{canonical_url, html_to_text, plain_text, Normalized};
pub use query::{Query, QueryError, QueryNode};
pub use tracking::{add_utm, track_links};
