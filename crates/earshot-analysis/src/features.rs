//! Hashed sparse features of a text: folded word unigrams and bigrams, and character 2-5-grams
//! of whitespace-separated chunks with boundary markers (so punctuation and emoji such as `:)` or
//! `!!!` count too). Each block gets linear term frequency and its own L2 normalisation, so
//! long words do not drown out the word features.
//!
//! Hashing is signed: the sign of a feature comes from a hash bit, so collisions cancel out on
//! average instead of piling up.

use earshot_text::fold;

use crate::chunk_cache::{chunk_key, ChunkRef};
use serde::{Deserialize, Serialize};

/// Text beyond this many bytes is not looked at; a 1 MB post costs no more than a 16 KiB one.
pub const MAX_FEATURE_BYTES: usize = 16 * 1024;

/// How features are extracted. Stored in every model so that a model is always fed the
/// features it was trained on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureConfig {
    /// The number of hash buckets is `2^buckets_log2`.
    pub buckets_log2: u8,
    /// 1: word unigrams only; 2: unigrams and bigrams; 0: no word features.
    pub word_ngram_max: u8,
    /// Character n-gram lengths, inclusive; `char_max == 0` turns character features off.
    pub char_min: u8,
    pub char_max: u8,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        // 2^18 buckets: as good as 2^20 and 2^22 (docs/MODELS.md) with tables small enough to
        // stay in the cache. Character 2-5-grams, as the TF-IDF baseline uses: with the exact
        // fit they gained a point on ru-rusentitweet and half a point on en-youtube over 3-5
        // (round 5), for a quarter more features to look up.
        FeatureConfig {
            buckets_log2: 18,
            word_ngram_max: 2,
            char_min: 2,
            char_max: 5,
        }
    }
}

impl FeatureConfig {
    pub fn buckets(&self) -> usize {
        1usize << self.buckets_log2
    }

    /// Whether the values are within what the extractor supports.
    pub fn validate(&self) -> Result<(), String> {
        if !(8..=26).contains(&self.buckets_log2) {
            return Err(format!(
                "buckets_log2 must be within 8..=26, got {}",
                self.buckets_log2
            ));
        }
        if self.word_ngram_max > 2 {
            return Err(format!(
                "word_ngram_max must be 0, 1 or 2, got {}",
                self.word_ngram_max
            ));
        }
        if self.char_max != 0 && (self.char_min == 0 || self.char_min > self.char_max) {
            return Err(format!(
                "char n-gram range {}..={} is empty",
                self.char_min, self.char_max
            ));
        }
        if self.char_max > 8 {
            return Err(format!("char_max must be at most 8, got {}", self.char_max));
        }
        Ok(())
    }
}

/// A sparse feature vector: bucket indices with their values. Indices may repeat (a word and a
/// character n-gram can share a bucket); the dot product does not care.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SparseVector {
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
    /// How many of the first entries are word features; the character features follow them.
    /// A model with IDF weights normalises the two blocks separately.
    pub word_features: usize,
    /// Set by [`FeatureExtractor::extract`]: every value of the word block is `±scales[0]` and
    /// every value of the character block `±scales[1]`. A model then sums its quantised
    /// weights in integers per block and scales once ([`crate::model::Model::predict_into`]),
    /// which gives the same floats in any order of the features; the analyzer relies on that
    /// to add up a text from the cached sums of its chunks. `None` for vectors built any other
    /// way: they are summed value by value.
    pub block_scales: Option<[f32; 2]>,
}

impl SparseVector {
    pub fn clear(&mut self) {
        self.indices.clear();
        self.values.clear();
        self.word_features = 0;
        self.block_scales = None;
    }

    pub fn len(&self) -> usize {
        self.indices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (u32, f32)> + '_ {
        self.indices
            .iter()
            .copied()
            .zip(self.values.iter().copied())
    }
}

/// Where [`FeatureExtractor::extract_words`] and [`FeatureExtractor::chunk_grams`] write the
/// features they hash: a [`SparseVector`] (index and ±1), or [`PackedFeatures`].
pub(crate) trait FeatureSink {
    fn clear(&mut self);
    fn reserve(&mut self, additional: usize);
    /// The feature of hash `h` in a table of `2^(64 - shift)` buckets.
    fn push_hash(&mut self, h: u64, shift: u32);
    /// The features of several hashes (at most eight), in order.
    fn extend_hashes(&mut self, hashes: &[u64], shift: u32);
    /// The features so far are the word block.
    fn end_words(&mut self);
}

impl FeatureSink for SparseVector {
    fn clear(&mut self) {
        SparseVector::clear(self);
    }

    fn reserve(&mut self, additional: usize) {
        self.indices.reserve(additional);
        self.values.reserve(additional);
    }

    #[inline(always)]
    fn push_hash(&mut self, h: u64, shift: u32) {
        push(self, bucket(h, shift));
    }

    #[inline(always)]
    fn extend_hashes(&mut self, hashes: &[u64], shift: u32) {
        let mut indices = [0u32; 8];
        let mut signs = [0f32; 8];
        let count = hashes.len().min(8);
        for (k, &h) in hashes.iter().take(8).enumerate() {
            (indices[k], signs[k]) = bucket(h, shift);
        }
        self.indices.extend_from_slice(&indices[..count]);
        self.values.extend_from_slice(&signs[..count]);
    }

    fn end_words(&mut self) {
        self.word_features = self.indices.len();
    }
}

/// Features as the analyzer's fused sums read them, one `u32` each: the bucket shifted left by
/// one, and in the low bit the sign (1 for −1). That is the hash shifted right by one bit less
/// than for the bucket alone ([`bucket`] takes the sign from the bit below the bucket's), so
/// a feature costs one shift and one store instead of a bucket, a float sign and two stores.
#[derive(Debug, Clone, Default)]
pub(crate) struct PackedFeatures {
    pub entries: Vec<u32>,
}

impl PackedFeatures {
    /// The bucket and the sign mask (0 for +1, all ones for −1) of a packed feature.
    #[inline(always)]
    pub(crate) fn unpack(entry: u32) -> (u32, i32) {
        (entry >> 1, -((entry & 1) as i32))
    }
}

impl FeatureSink for PackedFeatures {
    fn clear(&mut self) {
        self.entries.clear();
    }

    fn reserve(&mut self, additional: usize) {
        self.entries.reserve(additional);
    }

    #[inline(always)]
    fn push_hash(&mut self, h: u64, shift: u32) {
        self.entries.push(packed(h, shift));
    }

    #[inline(always)]
    fn extend_hashes(&mut self, hashes: &[u64], shift: u32) {
        let mut entries = [0u32; 8];
        let count = hashes.len().min(8);
        for (entry, &h) in entries.iter_mut().zip(hashes) {
            *entry = packed(h, shift);
        }
        self.entries.extend_from_slice(&entries[..count]);
    }

    fn end_words(&mut self) {}
}

/// The [`PackedFeatures`] entry of hash `h`: its bucket (top bits) and sign bit together.
#[inline(always)]
fn packed(h: u64, shift: u32) -> u32 {
    // `shift >= 38`: the bucket and the sign take at most 27 bits.
    (h >> (shift - 1)) as u32
}

const WORD_SEED: u64 = 0x9e37_79b9_7f4a_7c15;
const BIGRAM_SEED: u64 = 0xc2b2_ae3d_27d4_eb4f;
const CHAR_SEED: u64 = 0x1656_67b1_9e37_79f9;
/// The multiplier of FxHash: one rotate, one xor and one multiply per step. The high bits of the
/// product depend on every input bit, so buckets and signs are taken from the top.
const FX_MULTIPLIER: u64 = 0x517c_c1b7_2722_0a95;
/// Stand-ins for the start and end of a chunk, outside the range of `char`.
const CHUNK_START: u32 = 0x11_0000;
const CHUNK_END: u32 = 0x11_0001;

#[inline(always)]
fn fx_step(state: u64, value: u64) -> u64 {
    (state.rotate_left(5) ^ value).wrapping_mul(FX_MULTIPLIER)
}

/// FxHash over the bytes, eight at a time, with the length folded in so that `"a"` and `"a\0"`
/// differ.
#[cfg(test)]
fn hash_bytes(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = fx_step(seed, bytes.len() as u64);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        h = fx_step(h, u64::from_le_bytes(word));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut word = [0u8; 8];
        word[..rest.len()].copy_from_slice(rest);
        h = fx_step(h, u64::from_le_bytes(word));
    }
    // One more round so that the last bytes reach the top bits too.
    fx_step(h, 0)
}

/// [`hash_bytes`] of `text[start..end]`, its last bytes read by one load of the eight from
/// `start + 8k` where `text` has them (masked), not copied into a padded buffer: a copy of a
/// length not known in advance is a `memcpy` call, for every word of every text.
#[inline(always)]
fn hash_bytes_in(seed: u64, text: &[u8], start: usize, end: usize) -> u64 {
    let mut h = fx_step(seed, (end - start) as u64);
    let mut at = start;
    let load = |from: usize| {
        text.get(from..from + 8)
            .and_then(|eight| <[u8; 8]>::try_from(eight).ok())
            .map(u64::from_le_bytes)
    };
    while at + 8 <= end {
        h = fx_step(h, load(at).unwrap_or_default());
        at += 8;
    }
    if at < end {
        let len = end - at;
        let last = match load(at) {
            Some(word) => word & ((1u64 << (8 * len)) - 1),
            None => text[at..end]
                .iter()
                .rev()
                .fold(0, |word, &b| (word << 8) | u64::from(b)),
        };
        h = fx_step(h, last);
    }
    fx_step(h, 0)
}

/// Turns texts into [`SparseVector`]s, reusing its buffers between calls.
#[derive(Debug, Clone)]
pub struct FeatureExtractor {
    config: FeatureConfig,
    /// `64 - buckets_log2`: the bucket is the top `buckets_log2` bits of a hash.
    shift: u32,
    folded: String,
    chars: Vec<u32>,
    splitter: Splitter,
    /// The chunks of the last text, with their memo keys.
    chunks: Vec<ChunkRef>,
}

impl FeatureExtractor {
    /// A `buckets_log2` outside what [`FeatureConfig::validate`] accepts is clamped into range.
    pub fn new(config: FeatureConfig) -> Self {
        let buckets_log2 = config.buckets_log2.clamp(8, 26);
        let config = FeatureConfig {
            buckets_log2,
            ..config
        };
        FeatureExtractor {
            config,
            shift: 64 - u32::from(buckets_log2),
            folded: String::new(),
            chars: Vec::new(),
            splitter: Splitter::default(),
            chunks: Vec::new(),
        }
    }

    pub fn config(&self) -> &FeatureConfig {
        &self.config
    }

    /// The cleaned and folded text of the last [`FeatureExtractor::extract`] call, which the
    /// intent rules read instead of folding the text a second time.
    pub fn folded(&self) -> &str {
        &self.folded
    }

    /// The folded text, for a caller that lends it out while it calls
    /// [`FeatureExtractor::chunk_grams`] with pieces of it (and puts it back).
    pub(crate) fn folded_mut(&mut self) -> &mut String {
        &mut self.folded
    }

    /// The words of the last text, as [`folded_words`] splits its folded form: byte ranges of
    /// [`FeatureExtractor::folded`]. The intent rules match their cues on them, so the words
    /// are split once per text.
    pub(crate) fn words(&self) -> &[(u32, u32)] {
        &self.splitter.words
    }

    /// The chunks of the last text: pieces of [`FeatureExtractor::folded`] between ASCII
    /// whitespace, with their memo keys.
    pub(crate) fn chunks(&self) -> &[ChunkRef] {
        &self.chunks
    }

    /// The chunks of the last text, for a caller that lends them out while it calls
    /// [`FeatureExtractor::chunk_grams`] (and puts them back).
    pub(crate) fn chunks_mut(&mut self) -> &mut Vec<ChunkRef> {
        &mut self.chunks
    }

    /// Extracts the features of `text` into `out`, replacing what it held.
    pub fn extract(&mut self, text: &str, out: &mut SparseVector) {
        self.extract_words(text, out);
        let words = out.len();
        if self.config.char_max > 0 {
            let folded = std::mem::take(&mut self.folded);
            let chunks = std::mem::take(&mut self.chunks);
            for chunk in &chunks {
                self.chunk_grams(&folded[chunk.start as usize..chunk.end as usize], out);
            }
            self.folded = folded;
            self.chunks = chunks;
        }
        let characters = out.len() - words;
        let scales = block_scales(words, characters);
        let (word_values, char_values) = out.values.split_at_mut(words);
        for (values, scale) in [(word_values, scales[0]), (char_values, scales[1])] {
            for value in values {
                *value *= scale;
            }
        }
        out.block_scales = Some(scales);
    }

    /// The word block of `text` alone, unscaled (each entry ±1): what
    /// [`FeatureExtractor::extract`] starts from. Also folds the text (its chunks are
    /// [`FeatureExtractor::folded`] split at ASCII whitespace) and finds its words ([`FeatureExtractor::words`]).
    pub(crate) fn extract_words(&mut self, text: &str, out: &mut impl FeatureSink) {
        out.clear();
        clean_fold_split(text, &mut self.folded, &mut self.splitter);
        let folded = self.folded.as_str();
        let shift = self.shift;
        self.chunks.clear();
        self.chunks
            .extend(self.splitter.chunks.iter().map(|&(start, end)| ChunkRef {
                start,
                end,
                key: chunk_key(&folded.as_bytes()[start as usize..end as usize]),
            }));

        // Each occurrence is its own entry (±1 by the sign hash) and repeats are not merged:
        // the dot product sums them all the same (linear term frequency, as in scikit-learn's
        // default TF-IDF), and merging cost more than every other step of extraction.
        let mut previous: Option<u64> = None;
        for &(start, end) in &self.splitter.words {
            if self.config.word_ngram_max >= 1 {
                let h = hash_bytes_in(WORD_SEED, folded.as_bytes(), start as usize, end as usize);
                out.push_hash(h, shift);
                if self.config.word_ngram_max >= 2 {
                    if let Some(p) = previous {
                        let pair = fx_step(fx_step(BIGRAM_SEED, p), h);
                        out.push_hash(fx_step(pair, 0), shift);
                    }
                }
                previous = Some(h);
            }
        }
        out.end_words();
    }

    /// Appends the character grams of one chunk (a piece of the folded text between ASCII
    /// whitespace), unscaled (each entry ±1), in the order [`FeatureExtractor::extract`] adds
    /// them. Nothing without character features.
    pub(crate) fn chunk_grams(&mut self, chunk: &str, out: &mut impl FeatureSink) {
        if self.config.char_max == 0 {
            return;
        }
        let (min, max) = (
            usize::from(self.config.char_min),
            usize::from(self.config.char_max),
        );
        let shift = self.shift;
        self.chars.clear();
        self.chars.reserve(chunk.len() + 2);
        self.chars.push(CHUNK_START);
        push_chars(chunk, &mut self.chars);
        self.chars.push(CHUNK_END);
        let chars = self.chars.as_slice();
        // The usual ranges with the lengths known to the compiler (the loop unrolled); the
        // same grams in the same order as the general loop.
        match (min, max) {
            (3, 5) => char_grams::<3, 5>(chars, shift, out),
            (2, 5) => char_grams::<2, 5>(chars, shift, out),
            (3, 4) => char_grams::<3, 4>(chars, shift, out),
            (2, 4) => char_grams::<2, 4>(chars, shift, out),
            (3, 6) => char_grams::<3, 6>(chars, shift, out),
            (4, 5) => char_grams::<4, 5>(chars, shift, out),
            _ => char_grams_any(chars, min, max, shift, out),
        }
    }
}

/// What each entry of the word block and of the character block is multiplied by: each block
/// to unit norm as if its entries were distinct, then both by 1/√2 when both have entries, so
/// that long words do not drown out the word features. Zero for an empty block.
pub(crate) fn block_scales(words: usize, characters: usize) -> [f32; 2] {
    let blocks = usize::from(words > 0) + usize::from(characters > 0);
    if blocks == 0 {
        return [0.0; 2];
    }
    let block_scale = 1.0 / (blocks as f32).sqrt();
    [words, characters].map(|count| {
        if count > 0 {
            block_scale / (count as f32).sqrt()
        } else {
            0.0
        }
    })
}

/// The character `min..=max`-grams of one chunk, by start, shortest first.
fn char_grams_any(chars: &[u32], min: usize, max: usize, shift: u32, out: &mut impl FeatureSink) {
    for start in 0..chars.len() {
        let mut h = CHAR_SEED;
        for (n, &c) in chars[start..].iter().take(max).enumerate() {
            h = fx_step(h, u64::from(c));
            if n + 1 >= min {
                out.push_hash(h, shift);
            }
        }
    }
}

/// The character `MIN..=MAX`-grams of one chunk, in the order of the general loop of
/// [`FeatureExtractor::extract`] (by start, shortest first), with the lengths known at compile
/// time so that the inner loop is unrolled and has no length test per character.
#[inline(always)]
fn char_grams<const MIN: usize, const MAX: usize>(
    chars: &[u32],
    shift: u32,
    out: &mut impl FeatureSink,
) {
    let grams = chars.len() * (MAX + 1 - MIN);
    out.reserve(grams);
    let mut start = 0;
    // Starts with MAX characters ahead: a window of fixed size, no test per character, and
    // its grams appended together (one capacity check for all of them, not one per gram).
    let per_start = MAX + 1 - MIN;
    while let Some(Ok(window)) = chars.get(start..start + MAX).map(<&[u32; MAX]>::try_from) {
        let mut h = CHAR_SEED;
        let mut hashes = [0u64; 8];
        for (n, &c) in window.iter().enumerate() {
            h = fx_step(h, u64::from(c));
            if n + 1 >= MIN {
                hashes[n + 1 - MIN] = h;
            }
        }
        out.extend_hashes(&hashes[..per_start], shift);
        start += 1;
    }
    // The last starts, with fewer characters ahead.
    for start in start..chars.len() {
        let mut h = CHAR_SEED;
        for (n, &c) in chars[start..].iter().enumerate() {
            h = fx_step(h, u64::from(c));
            if n + 1 >= MIN {
                out.push_hash(h, shift);
            }
        }
    }
}

/// Appends the characters of `text` as code points: one- and two-byte characters (ASCII,
/// Cyrillic, Greek) decoded by hand, the others by the general decoder.
#[inline(always)]
fn push_chars(text: &str, out: &mut Vec<u32>) {
    let bytes = text.as_bytes();
    let mut at = 0;
    while let Some(&first) = bytes.get(at) {
        if first < 0x80 {
            out.push(u32::from(first));
            at += 1;
        } else if let (0xc0..=0xdf, Some(&second)) = (first, bytes.get(at + 1)) {
            out.push((u32::from(first & 0x1f) << 6) | u32::from(second & 0x3f));
            at += 2;
        } else {
            let Some(c) = text.get(at..).and_then(|rest| rest.chars().next()) else {
                break;
            };
            out.push(u32::from(c));
            at += c.len_utf8();
        }
    }
}

/// Whether two short strings (language codes, labels) are equal, by a byte loop the compiler
/// inlines: `==` calls memcmp, which cost more than the compare itself where it runs per text.
#[inline(always)]
pub(crate) fn same_short(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| x == y)
}

#[inline(always)]
fn push(out: &mut SparseVector, (index, sign): (u32, f32)) {
    out.indices.push(index);
    out.values.push(sign);
}

/// The bucket (top bits) and sign (the bit below them) of a hash.
#[inline(always)]
fn bucket(h: u64, shift: u32) -> (u32, f32) {
    let sign = if (h >> (shift - 1)) & 1 == 0 {
        1.0
    } else {
        -1.0
    };
    // `shift >= 38`, so the index is below 2^26 and fits.
    ((h >> shift) as u32, sign)
}

/// Lower-cases and strips diacritics like [`earshot_text::fold`], with fast paths for ASCII,
/// Cyrillic and Greek (a general Unicode decomposition per letter costs more than everything
/// else here). Other characters go through `fold` itself.
pub fn fold_into(text: &str, out: &mut String) {
    out.clear();
    for c in text.chars() {
        push_folded(c, out);
    }
}

#[inline(always)]
fn push_folded(c: char, out: &mut String) {
    match fold_one(c) {
        Some(folded) => out.push(folded),
        None => out.push_str(&fold(c.encode_utf8(&mut [0u8; 4]))),
    }
}

/// [`push_folded`] into UTF-8 bytes.
fn push_folded_bytes(c: char, out: &mut Vec<u8>) {
    match fold_one(c) {
        Some(folded) => out.extend_from_slice(folded.encode_utf8(&mut [0u8; 4]).as_bytes()),
        None => out.extend_from_slice(fold(c.encode_utf8(&mut [0u8; 4])).as_bytes()),
    }
}

/// The fold of the characters of the scripts we analyse, one character each; `None` for the
/// others, which go through [`fold`] itself.
#[inline(always)]
fn fold_one(c: char) -> Option<char> {
    Some(match c {
        'A'..='Z' => c.to_ascii_lowercase(),
        'ς' => 'σ',
        '\0'..='\u{7f}' | 'а'..='я' | 'α'..='ω' => c,
        'А'..='Я' => char::from_u32(u32::from(c) + 32).unwrap_or(c),
        'ё' | 'Ё' => 'е',
        'Α'..='Ω' => char::from_u32(u32::from(c) + 32).unwrap_or(c),
        'ά' | 'Ά' => 'α',
        'έ' | 'Έ' => 'ε',
        'ή' | 'Ή' => 'η',
        'ί' | 'Ί' | 'ϊ' | 'Ϊ' | 'ΐ' => 'ι',
        'ό' | 'Ό' => 'ο',
        'ύ' | 'Ύ' | 'ϋ' | 'Ϋ' | 'ΰ' => 'υ',
        'ώ' | 'Ώ' => 'ω',
        _ => return None,
    })
}

fn is_word_char(c: char) -> bool {
    match c {
        'a'..='z' | '0'..='9' | 'а'..='я' | 'α'..='ω' => true,
        '\0'..='\u{7f}' => false,
        _ => c.is_alphanumeric(),
    }
}

/// The words of folded text, as [`earshot_text::tokenize`] splits them (runs of letters and
/// digits, with apostrophes between letters), with a fast path for the scripts we analyse:
/// the general Unicode letter lookup dominated the cost of feature extraction, and decoding
/// one- and two-byte characters by hand beats the general decoder on every character.
pub fn folded_words(folded: &str) -> impl Iterator<Item = &str> {
    let mut at = 0;
    std::iter::from_fn(move || {
        loop {
            let (c, len) = char_at(folded, at)?;
            if is_word_char(c) {
                break;
            }
            at += len;
        }
        let start = at;
        while let Some((c, len)) = char_at(folded, at) {
            let inner_apostrophe =
                c == '\'' && char_at(folded, at + len).is_some_and(|(next, _)| is_word_char(next));
            if !(is_word_char(c) || inner_apostrophe) {
                break;
            }
            at += len;
        }
        Some(&folded[start..at])
    })
}

/// The character starting at byte `at` of `s` (a character boundary) and its length in bytes.
#[inline(always)]
fn char_at(s: &str, at: usize) -> Option<(char, usize)> {
    let bytes = s.as_bytes();
    let first = *bytes.get(at)?;
    if first < 0x80 {
        return Some((char::from(first), 1));
    }
    if first & 0xe0 == 0xc0 {
        if let Some(&second) = bytes.get(at + 1) {
            let code = (u32::from(first & 0x1f) << 6) | u32::from(second & 0x3f);
            if let Some(c) = char::from_u32(code) {
                return Some((c, 2));
            }
        }
    }
    let c = s.get(at..)?.chars().next()?;
    Some((c, c.len_utf8()))
}

/// Prepares text for folding: cuts it at [`MAX_FEATURE_BYTES`] (on a character boundary), turns
/// control characters into spaces, and decodes literal `\uXXXX` escapes, which some tweet corpora
/// (SemEval) carry instead of the characters themselves.
pub fn clean_text(text: &str, out: &mut String) {
    clean::<false, false>(text, out, &mut Splitter::default());
}

/// [`clean_text`] and [`fold_into`] in one pass: the same result as folding the cleaned text,
/// since folding works character by character.
pub fn clean_and_fold(text: &str, out: &mut String) {
    clean::<true, false>(text, out, &mut Splitter::default());
}

/// [`clean_and_fold`], and where the words ([`folded_words`]) and the chunks (pieces between
/// ASCII whitespace) of the folded text are, into `splitter`: each character is classified
/// where it is written, instead of in two more walks over the folded text.
pub(crate) fn clean_fold_split(text: &str, out: &mut String, splitter: &mut Splitter) {
    clean::<true, true>(text, out, splitter);
}

fn clean<const FOLD: bool, const SPLIT: bool>(
    text: &str,
    out: &mut String,
    splitter: &mut Splitter,
) {
    // Written as bytes and made a `String` again at the end: pushing a `char` into a `String`
    // encodes it, which cost more per letter than everything else, and checking the bytes
    // again at the end cost as much (callgrind, docs/BENCHMARKS.md).
    let mut written = std::mem::take(out).into_bytes();
    written.clear();
    splitter.clear();
    clean_bytes::<FOLD, SPLIT>(text, &mut written, splitter);
    debug_assert!(std::str::from_utf8(&written).is_ok());
    // SAFETY: `clean_bytes` appends only whole characters: ASCII bytes, the UTF-8 of a `char`
    // (`encode_utf8`, or its two bytes in `TwoByteFold`, made by `encode_utf8`), and the bytes
    // of `str`s.
    *out = unsafe { String::from_utf8_unchecked(written) };
}

#[inline(always)]
fn clean_bytes<const FOLD: bool, const SPLIT: bool>(
    text: &str,
    out: &mut Vec<u8>,
    splitter: &mut Splitter,
) {
    let push = |c: char, out: &mut Vec<u8>| {
        if FOLD {
            push_folded_bytes(c, out);
        } else {
            out.extend_from_slice(c.encode_utf8(&mut [0u8; 4]).as_bytes());
        }
    };
    // What was written from `from` on, told to the splitter (the rare characters whose fold
    // is several characters, escapes).
    let split_from = |splitter: &mut Splitter, out: &[u8], from: usize| {
        if SPLIT {
            let Ok(piece) = std::str::from_utf8(&out[from..]) else {
                return;
            };
            for (i, c) in piece.char_indices() {
                splitter.char(c, (from + i) as u32);
            }
        }
    };
    let mut end = text.len().min(MAX_FEATURE_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let text = &text[..end];
    let bytes = text.as_bytes();
    let two_byte = FOLD.then(two_byte_folds);
    let lowered = if FOLD {
        &ASCII_WORD_FOLDED
    } else {
        &ASCII_WORD
    };
    let mut at = 0;
    let mut at_word_start = true;
    while let Some(&byte) = bytes.get(at) {
        if byte.is_ascii_alphanumeric() {
            // A link says little by its letters (`t.co/x7Kq2`) and much by being there: one
            // token. It starts with `h` or `w` at a word start.
            if at_word_start && matches!(byte | 0x20, b'h' | b'w') && starts_with_link(&text[at..])
            {
                if SPLIT {
                    // Letters only: one word, starting here.
                    splitter.word_char(out.len() as u32);
                }
                out.extend_from_slice(LINK_TOKEN.as_bytes());
                at += text[at..]
                    .find(char::is_whitespace)
                    .unwrap_or(text.len() - at);
                at_word_start = false;
                continue;
            }
            // A run of ASCII letters and digits is one word piece, told to the splitter once
            // (what it does for the run's later characters changes nothing).
            if SPLIT {
                splitter.word_char(out.len() as u32);
            }
            let run_start = at;
            for &letter in &bytes[run_start..] {
                let folded = lowered[usize::from(letter)];
                if folded == 0 {
                    break;
                }
                out.push(folded);
                at += 1;
            }
            at_word_start = false;
            continue;
        }
        // The other ASCII characters but the escape: no decoding.
        if byte < 0x80 && byte != b'\\' {
            // The ASCII characters that are whitespace or control: 0x00-0x20 and DEL.
            let blank = byte <= 0x20 || byte == 0x7f;
            at_word_start = blank;
            if SPLIT {
                let written = out.len() as u32;
                if blank {
                    splitter.blank(written);
                } else {
                    splitter.other(written, byte == b'\'');
                }
            }
            out.push(if blank { b' ' } else { byte });
            at += 1;
            continue;
        }
        // Cyrillic and Greek are two bytes a letter: what they fold to is in a table.
        if let (Some(table), 0xc2..=0xdf, Some(&next)) = (two_byte, byte, bytes.get(at + 1)) {
            if let Some(fold) = table[two_byte_code(byte, next)] {
                if fold.word {
                    // A run of such letters is one word piece: the splitter is told once.
                    if SPLIT {
                        splitter.word_char(out.len() as u32);
                    }
                    at += 2;
                    // No letter's fold is longer than the letter, so the rest of the text is
                    // room enough for the run: both bytes of every fold are written into the
                    // spare capacity and the length moved by the fold's own, with no capacity
                    // check per letter.
                    out.reserve(bytes.len() - at + 2);
                    let start = out.len();
                    let spare = out.spare_capacity_mut();
                    spare[0].write(fold.utf8[0]);
                    spare[1].write(fold.utf8[1]);
                    let mut written = 1 + usize::from(fold.two_bytes);
                    for pair in bytes[at..].chunks_exact(2) {
                        let (lead, next) = (pair[0], pair[1]);
                        if !(0xc2..=0xdf).contains(&lead) {
                            break;
                        }
                        let Some(fold) = table[two_byte_code(lead, next)].filter(|f| f.word) else {
                            break;
                        };
                        spare[written].write(fold.utf8[0]);
                        spare[written + 1].write(fold.utf8[1]);
                        written += 1 + usize::from(fold.two_bytes);
                        at += 2;
                    }
                    // SAFETY: the first `written` bytes of the spare capacity were written
                    // above (each fold's bytes, the second of a one-byte fold overwritten by
                    // the next fold or left beyond the new length).
                    unsafe { out.set_len(start + written) };
                    at_word_start = false;
                    continue;
                }
                at_word_start = fold.folded == ' ';
                if SPLIT {
                    splitter.char(fold.folded, out.len() as u32);
                }
                fold.push_to(out);
                at += 2;
                continue;
            }
        }
        let rest = &text[at..];
        let Some(c) = rest.chars().next() else {
            break;
        };
        // Every space becomes an ASCII space, so chunks split on ASCII whitespace alone.
        let blank = c.is_whitespace() || c.is_control();
        at_word_start = blank;
        if c == '\\' {
            if let Some(decoded) = literal_unicode_escape(rest) {
                let blank = decoded.is_control() || decoded.is_whitespace();
                let from = out.len();
                push(if blank { ' ' } else { decoded }, out);
                split_from(splitter, out, from);
                at += 6;
                continue;
            }
        }
        let from = out.len();
        push(if blank { ' ' } else { c }, out);
        split_from(splitter, out, from);
        at += c.len_utf8();
    }
    if SPLIT {
        splitter.blank(out.len() as u32);
    }
}

/// For each byte, itself where it is an ASCII letter or digit, else 0.
static ASCII_WORD: [u8; 256] = ascii_word_table(false);
/// For each byte, its lower case where it is an ASCII letter or digit, else 0.
static ASCII_WORD_FOLDED: [u8; 256] = ascii_word_table(true);

const fn ascii_word_table(lower: bool) -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut byte = 0;
    while byte < 128 {
        let b = byte as u8;
        if b.is_ascii_alphanumeric() {
            table[byte] = if lower { b.to_ascii_lowercase() } else { b };
        }
        byte += 1;
    }
    table
}

/// The words and chunks of folded text, found character by character as it is written
/// ([`clean_fold_split`]): the words as [`folded_words`] gives them (runs of word characters,
/// with an apostrophe between two of them inside), the chunks as `split_ascii_whitespace`
/// gives them. Byte ranges of the folded text.
#[derive(Debug, Clone, Default)]
pub(crate) struct Splitter {
    pub words: Vec<(u32, u32)>,
    pub chunks: Vec<(u32, u32)>,
    chunk_start: Option<u32>,
    word_start: Option<u32>,
    /// In a word: an apostrophe just written, which is inside the word if a word character
    /// follows it and its end if anything else does.
    apostrophe: Option<u32>,
}

impl Splitter {
    fn clear(&mut self) {
        self.words.clear();
        self.chunks.clear();
        self.chunk_start = None;
        self.word_start = None;
        self.apostrophe = None;
    }

    /// A character written at `at`.
    #[inline(always)]
    fn char(&mut self, c: char, at: u32) {
        if c.is_ascii_whitespace() {
            self.blank(at);
        } else if is_word_char(c) {
            self.word_char(at);
        } else {
            self.other(at, c == '\'');
        }
    }

    /// ASCII whitespace at `at` (or the end of the text): it ends the word and the chunk.
    #[inline(always)]
    fn blank(&mut self, at: u32) {
        self.end_word(at);
        if let Some(start) = self.chunk_start.take() {
            self.chunks.push((start, at));
        }
    }

    #[inline(always)]
    fn word_char(&mut self, at: u32) {
        self.chunk_start.get_or_insert(at);
        self.word_start.get_or_insert(at);
        self.apostrophe = None;
    }

    /// Neither whitespace nor a word character: it ends a word, unless it is the first
    /// apostrophe after one (decided by what follows).
    #[inline(always)]
    fn other(&mut self, at: u32, apostrophe: bool) {
        self.chunk_start.get_or_insert(at);
        if apostrophe && self.word_start.is_some() && self.apostrophe.is_none() {
            self.apostrophe = Some(at);
        } else {
            self.end_word(at);
        }
    }

    #[inline(always)]
    fn end_word(&mut self, at: u32) {
        if let Some(start) = self.word_start.take() {
            let end = self.apostrophe.take().unwrap_or(at);
            self.words.push((start, end));
        }
    }
}

/// Characters of two UTF-8 bytes (U+0080 to U+07FF: Latin accents, Greek, Cyrillic).
const TWO_BYTE_CHARS: usize = 0x800 - 0x80;

/// What cleaning and folding make of a character of two UTF-8 bytes, when that is one
/// character.
#[derive(Debug, Clone, Copy)]
struct TwoByteFold {
    /// `' '` for a blank (whitespace, control), else the fold.
    folded: char,
    /// Whether `folded` is a word character ([`is_word_char`]).
    word: bool,
    /// `folded` in UTF-8 (one or two bytes: the fold of a character below U+0800 is).
    utf8: [u8; 2],
    two_bytes: bool,
}

impl TwoByteFold {
    fn new(folded: char) -> Option<TwoByteFold> {
        let mut utf8 = [0u8; 2];
        let length = folded.encode_utf8(&mut [0u8; 4]).len();
        if length > 2 {
            return None;
        }
        folded.encode_utf8(&mut utf8);
        Some(TwoByteFold {
            folded,
            word: is_word_char(folded),
            utf8,
            two_bytes: length == 2,
        })
    }

    #[inline(always)]
    fn push_to(self, out: &mut Vec<u8>) {
        // Two bytes in one copy of a length known to the compiler: one capacity check.
        if self.two_bytes {
            out.extend_from_slice(&self.utf8);
        } else {
            out.push(self.utf8[0]);
        }
    }
}

/// Where the character of two UTF-8 bytes `lead`, `next` is in [`two_byte_folds`].
#[inline(always)]
fn two_byte_code(lead: u8, next: u8) -> usize {
    ((usize::from(lead & 0x1f) << 6) | usize::from(next & 0x3f)) - 0x80
}

/// For each character of two UTF-8 bytes, its [`TwoByteFold`]; `None` where the fold is
/// several characters (or none), left to the general path. Made once, from the general path
/// itself, so the two cannot disagree.
fn two_byte_folds() -> &'static [Option<TwoByteFold>; TWO_BYTE_CHARS] {
    static TABLE: std::sync::LazyLock<Box<[Option<TwoByteFold>; TWO_BYTE_CHARS]>> =
        std::sync::LazyLock::new(|| {
            let mut table = Box::new([None; TWO_BYTE_CHARS]);
            let mut folded = String::new();
            for (slot, code) in table.iter_mut().zip(0x80u32..) {
                let Some(c) = char::from_u32(code) else {
                    continue;
                };
                if c.is_whitespace() || c.is_control() {
                    *slot = TwoByteFold::new(' ');
                    continue;
                }
                folded.clear();
                push_folded(c, &mut folded);
                let mut chars = folded.chars();
                if let (Some(only), None) = (chars.next(), chars.next()) {
                    // A space would read as a blank (the start of a word): leave it to the
                    // general path.
                    *slot = (only != ' ').then(|| TwoByteFold::new(only)).flatten();
                }
            }
            table
        });
    &TABLE
}

/// What every link becomes in the features.
const LINK_TOKEN: &str = "httplink";

fn starts_with_link(s: &str) -> bool {
    let head = s.get(..8).unwrap_or(s).as_bytes();
    let starts = |prefix: &[u8]| {
        head.len() >= prefix.len() && head[..prefix.len()].eq_ignore_ascii_case(prefix)
    };
    starts(b"https://") || starts(b"http://") || starts(b"www.")
}

fn literal_unicode_escape(s: &str) -> Option<char> {
    let bytes = s.as_bytes();
    if bytes.len() < 6 || bytes[1] != b'u' {
        return None;
    }
    let hex = s.get(2..6)?;
    let code = u32::from_str_radix(hex, 16).ok()?;
    char::from_u32(code)
}

/// For tests: `per_length` texts of every length below `lengths` pieces, each piece drawn from
/// `pieces` by a seeded xorshift (the same texts on every run).
#[cfg(test)]
pub(crate) fn texts_of_pieces(
    pieces: &[&str],
    lengths: usize,
    per_length: usize,
    seed: u64,
) -> Vec<String> {
    let mut state = seed;
    let mut texts = Vec::new();
    for length in 0..lengths {
        for _ in 0..per_length {
            let mut text = String::new();
            for _ in 0..length {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                text.push_str(pieces[(state % pieces.len() as u64) as usize]);
            }
            texts.push(text);
        }
    }
    texts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extract(text: &str) -> SparseVector {
        let mut extractor = FeatureExtractor::new(FeatureConfig::default());
        let mut out = SparseVector::default();
        extractor.extract(text, &mut out);
        out
    }

    fn norm(v: &SparseVector) -> f32 {
        v.values.iter().map(|x| x * x).sum::<f32>().sqrt()
    }

    #[test]
    fn vectors_have_unit_norm_and_indices_in_range() {
        for text in ["Great phone!", "Ужасный сервис :(", "Τέλειο κινητό", "a"]
        {
            let v = extract(text);
            assert!(!v.is_empty(), "{text}");
            assert!((norm(&v) - 1.0).abs() < 1e-4, "{text}: {}", norm(&v));
            assert!(v.indices.iter().all(|&i| (i as usize) < (1 << 18)));
        }
    }

    #[test]
    fn empty_and_whitespace_give_no_features() {
        assert!(extract("").is_empty());
        assert!(extract(" \t\n\u{0}\u{7}").is_empty());
    }

    #[test]
    fn emoji_only_text_has_character_features() {
        let v = extract("😡😡");
        assert!(!v.is_empty());
        assert_ne!(v, extract("😍😍"));
    }

    #[test]
    fn case_and_diacritics_do_not_change_features() {
        assert_eq!(extract("GREAT Phone"), extract("great phone"));
        assert_eq!(extract("Τέλειο"), extract("τελειο"));
    }

    #[test]
    fn fast_folding_agrees_with_earshot_text() {
        for text in [
            "GREAT Phone, ёлка ЁЖИК Йошкар-Ола",
            "Κβάντιξ ΝΟΒΈΝΤΑΣ νοβέντας ΐ ΰ Ϊ",
            "Ça déjà vu, Straße ½ ﬁne 😀",
        ] {
            let mut fast = String::new();
            fold_into(text, &mut fast);
            assert_eq!(fast, fold(text), "{text}");
        }
    }

    #[test]
    fn fast_word_split_agrees_with_earshot_text() {
        for text in [
            "don't stop, 'quoted' words - #tag @user zeltron.com 3g",
            "ёлка-палка, ну и ну!!! йод",
            "τι κανεισ; καλα 😀 ab\u{200b}cd",
        ] {
            let mut folded = String::new();
            fold_into(text, &mut folded);
            let fast: Vec<&str> = folded_words(&folded).collect();
            let reference: Vec<&str> = earshot_text::tokenize(&folded).map(|t| t.text).collect();
            assert_eq!(fast, reference, "{text}");
        }
    }

    #[test]
    fn unrolled_character_grams_equal_the_general_loop() {
        fn both<const MIN: usize, const MAX: usize>(chars: &[u32]) {
            let (mut fixed, mut any) = (SparseVector::default(), SparseVector::default());
            char_grams::<MIN, MAX>(chars, 46, &mut fixed);
            char_grams_any(chars, MIN, MAX, 46, &mut any);
            assert_eq!(fixed, any, "{MIN}..={MAX} over {} characters", chars.len());
        }
        let text: Vec<u32> = "xабвгдεζηθ😀q".chars().map(u32::from).collect();
        for len in 0..=text.len() {
            let chars = &text[..len];
            both::<3, 5>(chars);
            both::<2, 5>(chars);
            both::<3, 4>(chars);
            both::<2, 4>(chars);
            both::<3, 6>(chars);
            both::<4, 5>(chars);
        }
    }

    #[test]
    fn characters_are_decoded_as_the_standard_decoder_does() {
        let text = "aé жΩ😀ﬁ\u{7ff}\u{800}";
        let mut decoded = Vec::new();
        push_chars(text, &mut decoded);
        let expected: Vec<u32> = text.chars().map(u32::from).collect();
        assert_eq!(decoded, expected);
    }

    #[test]
    fn word_order_matters_through_bigrams() {
        assert_ne!(extract("not good"), extract("good not"));
    }

    #[test]
    fn extraction_is_the_same_with_reused_buffers() {
        let mut extractor = FeatureExtractor::new(FeatureConfig::default());
        let mut first = SparseVector::default();
        let mut again = SparseVector::default();
        extractor.extract("the first text, fairly long", &mut first);
        extractor.extract("something else", &mut again);
        extractor.extract("the first text, fairly long", &mut again);
        assert_eq!(first, again);
    }

    #[test]
    fn huge_text_is_cut_at_the_limit() {
        let huge = "ж".repeat(1 << 20);
        let mut cleaned = String::new();
        clean_text(&huge, &mut cleaned);
        assert!(cleaned.len() <= MAX_FEATURE_BYTES);
        assert!(cleaned.len() >= MAX_FEATURE_BYTES - 4);
        assert!(!extract(&huge).is_empty());
    }

    #[test]
    fn literal_escapes_are_decoded_and_controls_become_spaces() {
        let mut cleaned = String::new();
        clean_text("I\\u2019m\u{1}ok \\uZZZZ \\u000a", &mut cleaned);
        assert_eq!(cleaned, "I\u{2019}m ok \\uZZZZ  ");
    }

    #[test]
    fn cleaning_and_folding_in_one_pass_equals_the_two_steps() {
        for text in [
            "I\\u2019M\u{1}OK \\uZZZZ \\u000a Ёжик",
            "see HTTPS://t.co/x7Kq2 and Τέλειο\u{a0}ΚΙΝΗΤΟ 😀 Ça",
            "",
        ] {
            let (mut cleaned, mut two_steps, mut one_pass) =
                (String::new(), String::new(), String::new());
            clean_text(text, &mut cleaned);
            fold_into(&cleaned, &mut two_steps);
            clean_and_fold(text, &mut one_pass);
            assert_eq!(one_pass, two_steps, "{text:?}");
        }
    }

    #[test]
    fn the_two_byte_table_folds_every_character_as_the_general_path() {
        let mut text = String::new();
        for code in 0x80u32..0x800 {
            let c = char::from_u32(code).unwrap();
            text.clear();
            // Where a word starts (after a blank) decides whether a link may start there.
            text.extend([c, 'a', c, ' ', c, 'w', 'x', c, '\u{85}', c]);
            text.push(c);
            text.push_str("http://t.co/x ");
            text.push(c);
            text.push_str("www.example.com");
            let (mut cleaned, mut two_steps, mut one_pass) =
                (String::new(), String::new(), String::new());
            clean_text(&text, &mut cleaned);
            fold_into(&cleaned, &mut two_steps);
            clean_and_fold(&text, &mut one_pass);
            assert_eq!(one_pass, two_steps, "U+{code:04X}");
        }
    }

    #[test]
    fn words_and_chunks_found_while_folding_are_those_of_the_walks_after_it() {
        // Every kind of character the splitter tells apart, in every order: apostrophes
        // inside, after and between words, links, escapes, blanks of every kind, letters that
        // fold to several (`ß`) or to a space (`¨`), digits, marks, emoji.
        let pieces = [
            "a",
            "Z",
            "9",
            "Hello",
            "w",
            "Hw",
            "Привет",
            "Ωμέγα",
            "ÉÀ",
            "'",
            "''",
            " ",
            "\t",
            "\n",
            "\u{a0}",
            "\u{2028}",
            "\u{1}",
            "\u{b}",
            "http://x.io/a'b",
            "www.q.gr",
            "\\u0041",
            "\\u0020",
            "-",
            ".",
            "ж",
            "Ё",
            "ς",
            "ά",
            "ß",
            "¨",
            "ﬁ",
            "é",
            "😀",
            "٣",
            "中",
            "\u{301}",
        ];
        let mut splitter = Splitter::default();
        let mut folded = String::new();
        for text in texts_of_pieces(&pieces, 24, 300, 0x2545_f491_4f6c_dd1d) {
            clean_fold_split(&text, &mut folded, &mut splitter);
            let mut plain = String::new();
            clean_and_fold(&text, &mut plain);
            assert_eq!(folded, plain, "{text:?}");
            let range = |(start, end): (u32, u32)| &folded[start as usize..end as usize];
            let words: Vec<&str> = splitter.words.iter().map(|&r| range(r)).collect();
            let expected: Vec<&str> = folded_words(&folded).collect();
            assert_eq!(words, expected, "{text:?} folded {folded:?}");
            let chunks: Vec<&str> = splitter.chunks.iter().map(|&r| range(r)).collect();
            let expected: Vec<&str> = folded.split_ascii_whitespace().collect();
            assert_eq!(chunks, expected, "{text:?} folded {folded:?}");
        }
    }

    #[test]
    fn packed_features_are_the_buckets_and_signs_of_the_sparse_ones() {
        let mut extractor = FeatureExtractor::new(FeatureConfig::default());
        let (mut sparse, mut packed) = (SparseVector::default(), PackedFeatures::default());
        for text in [
            "Где купить? Ωραίο!",
            "dropped my calls again 😡 http://x.io",
            "a",
            "",
        ] {
            let mut expected = SparseVector::default();
            extractor.extract_words(text, &mut expected);
            extractor.extract_words(text, &mut packed);
            let chunks = extractor.chunks().to_vec();
            let folded = extractor.folded().to_owned();
            for chunk in &chunks {
                let piece = &folded[chunk.start as usize..chunk.end as usize];
                extractor.chunk_grams(piece, &mut expected);
                extractor.chunk_grams(piece, &mut packed);
            }
            sparse.clear();
            for &entry in &packed.entries {
                let (index, mask) = PackedFeatures::unpack(entry);
                sparse.indices.push(index);
                sparse.values.push(if mask == 0 { 1.0 } else { -1.0 });
            }
            assert_eq!(sparse.indices, expected.indices, "{text:?}");
            assert_eq!(sparse.values, expected.values, "{text:?}");
            assert_eq!(text.is_empty(), packed.entries.is_empty());
        }
    }

    #[test]
    fn words_hashed_in_place_hash_as_copies() {
        let text = "a ab abcdefg abcdefgh abcdefghi abcdefghijklmnopq яблоко 😀x";
        for start in 0..text.len() {
            for end in start..=text.len() {
                assert_eq!(
                    hash_bytes_in(WORD_SEED, text.as_bytes(), start, end),
                    hash_bytes(WORD_SEED, &text.as_bytes()[start..end]),
                    "{start}..{end}"
                );
            }
        }
    }

    #[test]
    fn links_become_one_token() {
        let mut cleaned = String::new();
        clean_text(
            "see https://t.co/x7Kq2 and WWW.example.com/a?b now",
            &mut cleaned,
        );
        assert_eq!(cleaned, "see httplink and httplink now");
        clean_text("nothttp://x", &mut cleaned);
        assert_eq!(cleaned, "nothttp://x");
        assert_eq!(extract("a https://t.co/1"), extract("a http://b.c/d/e"));
    }

    #[test]
    fn word_features_alone_can_be_turned_on() {
        let config = FeatureConfig {
            char_max: 0,
            ..FeatureConfig::default()
        };
        let mut extractor = FeatureExtractor::new(config);
        let mut out = SparseVector::default();
        extractor.extract("one two", &mut out);
        // Two unigrams and one bigram, unless two of them collide.
        assert!(out.len() <= 3 && out.len() >= 2, "{}", out.len());
    }

    #[test]
    fn invalid_configs_are_reported() {
        let bad = FeatureConfig {
            char_min: 4,
            char_max: 2,
            ..FeatureConfig::default()
        };
        assert!(bad.validate().unwrap_err().contains("4..=2"));
        assert!(FeatureConfig::default().validate().is_ok());
    }
}
