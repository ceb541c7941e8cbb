//! The [`Analyzer`]: every model and rule behind one `analyze(text, lang)` call.

use std::path::{Path, PathBuf};

use earshot_text::{fold, stem, tokenize};

use crate::chunk_cache::{ChunkCache, ChunkRef};
use crate::eval::argmax;
use crate::features::{
    block_scales, clean_and_fold, same_short, FeatureConfig, FeatureExtractor, PackedFeatures,
    SparseVector,
};
use crate::model::{count_block_factor, idf_scaled_sum, idf_steps, scaled_sum, Model, ModelError};
use crate::rules::{FoundCue, IntentRules, RuleScratch, INTENT_THRESHOLD, SPAM_THRESHOLD};

/// Text beyond this many bytes is not analysed (the cut falls on a character boundary): a 1 MB
/// post is judged by its first 16 KiB.
pub const MAX_ANALYZED_BYTES: usize = crate::features::MAX_FEATURE_BYTES;

/// The extension of model files that [`Analyzer::load`] picks up.
pub const MODEL_EXTENSION: &str = "esm";

// The result types live in earshot-core so the store and the web layer can carry them without
// depending on the classifiers; they are re-exported here unchanged.
pub use earshot_core::analysis::{Analysis, Label, Scored, TargetSentiment};

/// Labels and language codes an analysis gives without allocating: the labels of the shipped
/// models and the rules, and the codes [`earshot_text::lang::detect`] names.
const KNOWN_LABELS: &[&str] = &[
    "negative",
    "neutral",
    "positive",
    "OFF",
    "NOT",
    "spam",
    "ham",
    "complaint",
    "other",
    "question",
    "praise",
    "purchase_intent",
    "feedback",
];
const KNOWN_LANGUAGES: &[&str] = &[
    "en",
    "ru",
    "el",
    "uk",
    "de",
    "fr",
    "es",
    "it",
    "pt",
    "pl",
    "nl",
    "tr",
    "bg",
    "sr",
    "mk",
    "be",
    "eo",
    "zh",
    "bn",
    "ka",
    "ar",
    "hi",
    "ja",
    "he",
    "yi",
    "am",
    "jv",
    "ko",
    "nb",
    "da",
    "sv",
    "fi",
    "hu",
    "cs",
    "mr",
    "kn",
    "ro",
    "sl",
    "hr",
    "lt",
    "lv",
    "et",
    "ta",
    "vi",
    "ur",
    "th",
    "gu",
    "uz",
    "pa",
    "az",
    "id",
    "te",
    "fa",
    "ml",
    "or",
    "my",
    "ne",
    "si",
    "km",
    "tk",
    "ak",
    "zu",
    "sn",
    "af",
    "la",
    "sk",
    "ca",
    "tl",
    "hy",
    earshot_text::lang::UNDETERMINED,
];

#[derive(Debug, thiserror::Error)]
pub enum AnalyzerError {
    #[error("cannot list models in {path}: {source}")]
    ReadDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("{model}: {classes} classes; a model may have at most {MAX_CLASSES}")]
    TooManyClasses { model: String, classes: usize },
    #[error("two models for task {task} and language {lang}: {first} and {second}")]
    Duplicate {
        task: String,
        lang: String,
        first: String,
        second: String,
    },
}

/// Buffers one thread reuses between analyses.
#[derive(Debug, Default)]
pub struct Scratch {
    extractors: Vec<FeatureExtractor>,
    features: Vec<SparseVector>,
    /// Per feature configuration, the word block of the current text where the chunks come
    /// from the memo (`full_features` false).
    words: Vec<PackedFeatures>,
    probabilities: Vec<f32>,
    /// Per fused group: the sums of every lane of its models for the current text.
    group_sums: Vec<Vec<f32>>,
    folded: String,
    rules: RuleScratch,
    /// Whether `features` hold the full vectors of the current text, or only the word blocks
    /// (the chunks then come from `chunk_caches`).
    full_features: bool,
    /// Per fused group, the memo of its chunks' sums ([`crate::chunk_cache`]): left by a
    /// dropped scratch of the same analyzer on this thread, or made when the scratch analyses
    /// its second text (a scratch used once would only pay for it).
    chunk_caches: Vec<Option<ChunkCache>>,
    grams: PackedFeatures,
    texts: u64,
    memoise_chunks: bool,
    /// [`Analyzer::id`] of the analyzer whose tables the memo's sums come from.
    analyzer: u64,
}

thread_local! {
    /// The memos of dropped scratches, per analyzer, for the next scratch of this thread: a
    /// pipeline that makes a scratch per batch (rayon's `map_init` makes one per work split)
    /// keeps the chunks it has seen instead of warming a new memo every time.
    static SPARE_MEMOS: std::cell::RefCell<Vec<(u64, Vec<Option<ChunkCache>>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// How many analyzers' memos a thread keeps (the most recent ones).
const SPARE_MEMOS_PER_THREAD: usize = 2;

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.analyzer == 0 || self.chunk_caches.iter().all(Option::is_none) {
            return;
        }
        let caches = std::mem::take(&mut self.chunk_caches);
        let analyzer = self.analyzer;
        // During thread teardown the spare list may be gone: the memo is then just freed.
        let _ = SPARE_MEMOS.try_with(|spare| {
            let mut spare = spare.borrow_mut();
            spare.retain(|(id, _)| *id != analyzer);
            if spare.len() == SPARE_MEMOS_PER_THREAD {
                spare.remove(0);
            }
            spare.push((analyzer, caches));
        });
    }
}

impl Scratch {
    /// The same buffers without the memo of chunks: every text is added up gram by gram.
    /// The analyses are the same; this is for measuring what the memo saves.
    pub fn without_chunk_memo(mut self) -> Scratch {
        self.memoise_chunks = false;
        self.chunk_caches.iter_mut().for_each(|cache| *cache = None);
        self
    }

    /// How many chunks were found in the memo and how many were added up from their grams
    /// (and memoised), over every text this scratch analysed.
    pub fn chunk_memo_counts(&self) -> (u64, u64) {
        self.chunk_caches
            .iter()
            .flatten()
            .fold((0, 0), |(hits, misses), cache| {
                (hits + cache.hits, misses + cache.misses)
            })
    }
}

struct LoadedModel {
    model: Model,
    /// Index of its feature configuration in [`Analyzer::configs`].
    config: usize,
    /// Index of its fused table in [`Analyzer::groups`], and where its classes start in a row.
    group: usize,
    offset: usize,
    /// A two-class model whose second class always weighs the negative of the first (softmax
    /// training over two classes gives that): one lane in the fused row holds the first class,
    /// and the sum of the second is `0.0 - sum`, exactly the float the second lane would hold.
    /// The buckets where the quantised weights are not exact negatives (a rare rounding tie)
    /// are listed: a text with a feature in one is summed from the model's own weights.
    negated: Option<Vec<u32>>,
    /// The model's labels, shared with every analysis where they are known ones.
    labels: Vec<Label>,
    /// The class whose probability is the model's intent score ([`task_positive_label`]),
    /// found once here instead of by comparing label strings for every text.
    positive_class: Option<usize>,
    source: String,
}

/// A two-class model with more buckets than this whose weights are not exact negatives keeps
/// both lanes: each text would have to be checked against the list.
const MAX_NOT_NEGATED: usize = 8;

/// Whether `weights` (`buckets × 2`) hold `-w` in the second class of every bucket but a few:
/// those few, or `None`.
fn negated_buckets(weights: &[i8]) -> Option<Vec<u32>> {
    let mut exceptions = Vec::new();
    for (bucket, row) in weights.chunks_exact(2).enumerate() {
        if i16::from(row[1]) != -i16::from(row[0]) {
            if exceptions.len() == MAX_NOT_NEGATED {
                return None;
            }
            exceptions.push(bucket as u32);
        }
    }
    Some(exceptions)
}

/// The weights of every model of one language (and one feature configuration) interleaved:
/// row `b` holds bucket `b` of each model, one after another. A text's features are looked up
/// once for all of them (sentiment, offensive, spam, complaint) instead of once per model,
/// which is where the time of prediction goes (a cache miss per feature and table).
struct FusedGroup {
    config: usize,
    lang: Option<String>,
    /// Whether any of its models carries IDF weights. Models with and without share the group
    /// (one lookup per feature for the language): the IDF models' lanes are summed per block
    /// and scaled by their norms, the others' lanes in one running sum, as each model alone.
    idf: bool,
    /// With `idf`: per IDF model, where its lanes start in a row, how many it has (one for a
    /// two-class model of negated weights), and the lane after all the classes that holds its
    /// IDF weight (`round(idf × IDF_STEPS)`), shared by the models of one IDF table.
    idf_models: Vec<(usize, usize, usize)>,
    /// With `idf`: per model without IDF weights, where its lanes start and how many it has.
    plain_models: Vec<(usize, usize)>,
    /// The sum of the models' lanes (their classes, one for a two-class model of negated
    /// weights; with `idf`, one IDF lane per IDF model).
    stride: usize,
    /// The length of a row: `stride` rounded up to a power of two from 4 to
    /// [`MAX_GROUP_WIDTH`], so that a row is a fixed-size array the compiler turns into a few
    /// SIMD operations (the padding weights are zero).
    width: usize,
    table: Vec<i8>,
    /// The distinct IDF lanes (with `idf`).
    idf_lanes: Vec<usize>,
    /// The buckets where a two-class model of the group is not exactly negated
    /// ([`LoadedModel::negated`]), all models together: a text with a feature in one has those
    /// models summed from their own weights.
    exceptions: Vec<u32>,
}

/// The tasks with a classifier, in the order [`Analyzer::analyze_with`] asks for them.
const CLASSIFIED_TASKS: [&str; 4] = ["sentiment", "offensive", "spam", "complaint"];

/// The integer sums of one block of a text (its words or its characters) over the rows of a
/// fused table: per lane `Σ ±weight` and `Σ weight²` (read for the IDF lanes), and the count of
/// entries. Integers, so the same in any order ([`crate::model::BlockSums`] for one model).
struct LaneSums<const W: usize> {
    lanes: [i32; W],
    squares: [i64; W],
    count: i64,
}

impl<const W: usize> LaneSums<W> {
    fn new() -> Self {
        LaneSums {
            lanes: [0; W],
            squares: [0; W],
            count: 0,
        }
    }

    /// Adds the `i32` sums of a piece of `entries` entries (few enough not to overflow).
    #[inline(always)]
    fn add_piece<const SQUARES: bool>(
        &mut self,
        lanes: [i32; W],
        squares: [i32; W],
        entries: usize,
    ) {
        for (total, lane) in self.lanes.iter_mut().zip(lanes) {
            *total += lane;
        }
        if SQUARES {
            for (total, square) in self.squares.iter_mut().zip(squares) {
                *total += i64::from(square);
            }
        }
        self.count += entries as i64;
    }
}

/// The widths a fused row can have (lanes rounded up, so that a row is a fixed-size array the
/// compiler turns into a few SIMD operations; the padding weights are zero).
const MAX_GROUP_WIDTH: usize = 64;

/// The most classes a model may have: with its IDF lane it fits one fused row.
const MAX_CLASSES: usize = MAX_GROUP_WIDTH / 2;

/// How many entries [`FusedGroup::add_rows`] sums in `i32` before moving them to the `i64`
/// totals: `2^16 × 128²` squares still fit.
const ENTRIES_PER_PIECE: usize = 1 << 16;

impl FusedGroup {
    /// Asks for the row of every feature to be brought into the cache, without waiting.
    fn prefetch_rows(&self, indices: &[u32]) {
        for &index in indices {
            prefetch(&self.table, index as usize * self.width);
        }
    }

    /// [`FusedGroup::prefetch_rows`] of packed features.
    fn prefetch_packed_rows(&self, entries: &[u32]) {
        for &entry in entries {
            prefetch(&self.table, (entry >> 1) as usize * self.width);
        }
    }

    /// `sums[lane]` of every lane of the group for an extracted vector: each block's integer
    /// sums, scaled once, as [`Model::predict_into`] computes them, so the same floats.
    fn accumulate(&self, features: &SparseVector, sums: &mut Vec<f32>) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above), which is all that calling code
            // compiled for it requires; the function itself is safe Rust.
            return unsafe { self.accumulate_avx2(features, sums) };
        }
        self.accumulate_portable(features, sums);
    }

    /// [`FusedGroup::accumulate_portable`] compiled for AVX2: the build targets plain x86-64,
    /// where widening a row of `i8` takes a dozen SSE2 shuffles, AVX2 one instruction for
    /// eight lanes.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn accumulate_avx2(&self, features: &SparseVector, sums: &mut Vec<f32>) {
        self.accumulate_portable(features, sums);
    }

    #[inline(always)]
    fn accumulate_portable(&self, features: &SparseVector, sums: &mut Vec<f32>) {
        match (self.width, self.idf) {
            (4, false) => self.accumulate_fixed::<4, false>(features, sums),
            (8, false) => self.accumulate_fixed::<8, false>(features, sums),
            (16, false) => self.accumulate_fixed::<16, false>(features, sums),
            (32, false) => self.accumulate_fixed::<32, false>(features, sums),
            (4, true) => self.accumulate_fixed::<4, true>(features, sums),
            (8, true) => self.accumulate_fixed::<8, true>(features, sums),
            (16, true) => self.accumulate_fixed::<16, true>(features, sums),
            (32, true) => self.accumulate_fixed::<32, true>(features, sums),
            (_, false) => self.accumulate_fixed::<MAX_GROUP_WIDTH, false>(features, sums),
            (_, true) => self.accumulate_fixed::<MAX_GROUP_WIDTH, true>(features, sums),
        }
    }

    #[inline(always)]
    fn accumulate_fixed<const W: usize, const IDF: bool>(
        &self,
        features: &SparseVector,
        sums: &mut Vec<f32>,
    ) {
        let split = features.word_features.min(features.len());
        let mut words = LaneSums::<W>::new();
        let mut chars = LaneSums::<W>::new();
        self.add_rows::<W, IDF>(
            &features.indices[..split],
            &features.values[..split],
            &mut words,
        );
        self.add_rows::<W, IDF>(
            &features.indices[split..],
            &features.values[split..],
            &mut chars,
        );
        let scales = features
            .block_scales
            .unwrap_or_else(|| block_scales(split, features.len() - split));
        self.finish(&words, &chars, scales, sums);
    }

    /// Adds `±row` of every entry (the sign of its value) to `into`, and with `SQUARES` the
    /// squares of the rows.
    #[inline(always)]
    fn add_rows<const W: usize, const SQUARES: bool>(
        &self,
        indices: &[u32],
        values: &[f32],
        into: &mut LaneSums<W>,
    ) {
        for (piece, piece_values) in indices
            .chunks(ENTRIES_PER_PIECE)
            .zip(values.chunks(ENTRIES_PER_PIECE))
        {
            let mut lanes = [0i32; W];
            let mut squares = [0i32; W];
            for (at, (&index, &value)) in piece.iter().zip(piece_values).enumerate() {
                // The rows are scattered over megabytes: ask for the row a few features ahead
                // while this one is added, so the cache misses overlap instead of queueing.
                if let Some(&ahead) = piece.get(at + PREFETCH_DISTANCE) {
                    prefetch(&self.table, ahead as usize * W);
                }
                let mask = -i32::from(value.is_sign_negative());
                self.add_row::<W, SQUARES>(index, mask, &mut lanes, &mut squares);
            }
            into.add_piece::<SQUARES>(lanes, squares, piece.len());
        }
    }

    /// [`FusedGroup::add_rows`] of packed features.
    #[inline(always)]
    fn add_packed_rows<const W: usize, const SQUARES: bool>(
        &self,
        entries: &[u32],
        into: &mut LaneSums<W>,
    ) {
        for piece in entries.chunks(ENTRIES_PER_PIECE) {
            let mut lanes = [0i32; W];
            let mut squares = [0i32; W];
            for (at, &entry) in piece.iter().enumerate() {
                if let Some(&ahead) = piece.get(at + PREFETCH_DISTANCE) {
                    prefetch(&self.table, (ahead >> 1) as usize * W);
                }
                let (index, mask) = PackedFeatures::unpack(entry);
                self.add_row::<W, SQUARES>(index, mask, &mut lanes, &mut squares);
            }
            into.add_piece::<SQUARES>(lanes, squares, piece.len());
        }
    }

    /// Adds row `index`, negated where `mask` is all ones, to `lanes`, and with `SQUARES` its
    /// squares to `squares`.
    #[inline(always)]
    fn add_row<const W: usize, const SQUARES: bool>(
        &self,
        index: u32,
        mask: i32,
        lanes: &mut [i32; W],
        squares: &mut [i32; W],
    ) {
        let start = index as usize * W;
        let Some(Ok(row)) = self.table.get(start..start + W).map(<&[i8; W]>::try_from) else {
            return;
        };
        // The row widened once into a fixed array, then the two sums over it: fewer
        // instructions per row than both sums taken from the `i8` row (callgrind,
        // docs/BENCHMARKS.md).
        let widened: [i32; W] = std::array::from_fn(|lane| i32::from(row[lane]));
        for (lane, &q) in lanes.iter_mut().zip(&widened) {
            *lane += (q ^ mask) - mask;
        }
        if SQUARES {
            for (square, &q) in squares.iter_mut().zip(&widened) {
                *square += q * q;
            }
        }
    }

    /// The float sum of every lane from the two blocks' integer sums.
    #[inline(always)]
    fn finish<const W: usize>(
        &self,
        words: &LaneSums<W>,
        chars: &LaneSums<W>,
        scales: [f32; 2],
        sums: &mut Vec<f32>,
    ) {
        sums.clear();
        sums.resize(W, 0.0);
        if !self.idf {
            for (lane, sum) in sums.iter_mut().enumerate().take(self.stride) {
                *sum = scaled_sum(words.lanes[lane], chars.lanes[lane], scales);
            }
            return;
        }
        for &(offset, classes, idf_lane) in &self.idf_models {
            let factors = [words, chars]
                .map(|block| count_block_factor(block.count, block.squares[idf_lane]));
            for (class, sum) in sums.iter_mut().enumerate().skip(offset).take(classes) {
                *sum = idf_scaled_sum(words.lanes[class], chars.lanes[class], scales, factors);
            }
        }
        for &(offset, lanes) in &self.plain_models {
            for (lane, sum) in sums.iter_mut().enumerate().skip(offset).take(lanes) {
                *sum = scaled_sum(words.lanes[lane], chars.lanes[lane], scales);
            }
        }
    }

    /// [`FusedGroup::accumulate`] for a text given as its word block (unscaled, from
    /// [`FeatureExtractor::extract_words`]) and its chunks: each chunk's sums come from
    /// `cache` where it was seen before, else from its grams (then memoised). The same floats
    /// as `accumulate` of the text's full vector. Returns whether a feature of the text falls
    /// in one of [`FusedGroup::exceptions`].
    #[allow(clippy::too_many_arguments)]
    fn accumulate_chunks(
        &self,
        words: &PackedFeatures,
        folded: &str,
        chunks: &[ChunkRef],
        cache: &mut ChunkCache,
        extractor: &mut FeatureExtractor,
        grams: &mut PackedFeatures,
        sums: &mut Vec<f32>,
    ) -> bool {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: as in `accumulate`.
            return unsafe {
                self.accumulate_chunks_avx2(words, folded, chunks, cache, extractor, grams, sums)
            };
        }
        self.accumulate_chunks_portable(words, folded, chunks, cache, extractor, grams, sums)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    #[allow(clippy::too_many_arguments)]
    fn accumulate_chunks_avx2(
        &self,
        words: &PackedFeatures,
        folded: &str,
        chunks: &[ChunkRef],
        cache: &mut ChunkCache,
        extractor: &mut FeatureExtractor,
        grams: &mut PackedFeatures,
        sums: &mut Vec<f32>,
    ) -> bool {
        self.accumulate_chunks_portable(words, folded, chunks, cache, extractor, grams, sums)
    }

    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn accumulate_chunks_portable(
        &self,
        words: &PackedFeatures,
        folded: &str,
        chunks: &[ChunkRef],
        cache: &mut ChunkCache,
        extractor: &mut FeatureExtractor,
        grams: &mut PackedFeatures,
        sums: &mut Vec<f32>,
    ) -> bool {
        let text = Chunks {
            words,
            folded,
            chunks,
        };
        match (self.width, self.idf) {
            (4, false) => self.chunks_fixed::<4, false>(text, cache, extractor, grams, sums),
            (8, false) => self.chunks_fixed::<8, false>(text, cache, extractor, grams, sums),
            (16, false) => self.chunks_fixed::<16, false>(text, cache, extractor, grams, sums),
            (32, false) => self.chunks_fixed::<32, false>(text, cache, extractor, grams, sums),
            (4, true) => self.chunks_fixed::<4, true>(text, cache, extractor, grams, sums),
            (8, true) => self.chunks_fixed::<8, true>(text, cache, extractor, grams, sums),
            (16, true) => self.chunks_fixed::<16, true>(text, cache, extractor, grams, sums),
            (32, true) => self.chunks_fixed::<32, true>(text, cache, extractor, grams, sums),
            (_, false) => {
                self.chunks_fixed::<MAX_GROUP_WIDTH, false>(text, cache, extractor, grams, sums)
            }
            (_, true) => {
                self.chunks_fixed::<MAX_GROUP_WIDTH, true>(text, cache, extractor, grams, sums)
            }
        }
    }

    #[inline(always)]
    fn chunks_fixed<const W: usize, const IDF: bool>(
        &self,
        text: Chunks<'_>,
        cache: &mut ChunkCache,
        extractor: &mut FeatureExtractor,
        grams: &mut PackedFeatures,
        sums: &mut Vec<f32>,
    ) -> bool {
        let mut words = LaneSums::<W>::new();
        self.add_packed_rows::<W, IDF>(&text.words.entries, &mut words);
        let mut exception = hits_any(&text.words.entries, 1, &self.exceptions);
        let mut chars = LaneSums::<W>::new();
        // First the memoised chunks, and the grams of the others with their rows asked for;
        // then the rows of the others are added (they have had time to arrive) and memoised.
        grams.entries.clear();
        let mut pending = std::mem::take(&mut cache.pending);
        pending.clear();
        for chunk in text.chunks {
            let key = chunk.key.map(|key| (cache.set_of(&key), key));
            if let Some((at, key)) = &key {
                if let Some(slot) = cache.find(*at, key) {
                    let (lanes, squares, count, flag) = cache.sums_at(slot);
                    for (total, &lane) in chars.lanes.iter_mut().zip(lanes) {
                        *total += lane;
                    }
                    for (&lane, &square) in cache.square_lanes().iter().zip(squares) {
                        chars.squares[lane] += i64::from(square);
                    }
                    chars.count += i64::from(count);
                    exception |= flag;
                    cache.hits += 1;
                    continue;
                }
            }
            let piece = text
                .folded
                .get(chunk.start as usize..chunk.end as usize)
                .unwrap_or_default();
            let start = grams.entries.len();
            extractor.chunk_grams(piece, grams);
            self.prefetch_packed_rows(&grams.entries[start..]);
            pending.push((key, grams.entries.len()));
        }
        let mut start = 0;
        for &(key, end) in &pending {
            let entries = &grams.entries[start..end];
            start = end;
            let mut of_chunk = LaneSums::<W>::new();
            self.add_packed_rows::<W, IDF>(entries, &mut of_chunk);
            let flag = hits_any(entries, 1, &self.exceptions);
            exception |= flag;
            if let Some((at, key)) = &key {
                cache.put(
                    *at,
                    key,
                    &of_chunk.lanes,
                    &of_chunk.squares,
                    of_chunk.count,
                    flag,
                );
                cache.misses += 1;
            }
            for (total, lane) in chars.lanes.iter_mut().zip(of_chunk.lanes) {
                *total += lane;
            }
            for (total, square) in chars.squares.iter_mut().zip(of_chunk.squares) {
                *total += square;
            }
            chars.count += of_chunk.count;
        }
        cache.pending = pending;
        let scales = block_scales(words.count as usize, chars.count as usize);
        self.finish(&words, &chars, scales, sums);
        exception
    }
}

/// A text as [`FusedGroup::accumulate_chunks`] reads it.
#[derive(Clone, Copy)]
struct Chunks<'a> {
    words: &'a PackedFeatures,
    folded: &'a str,
    chunks: &'a [ChunkRef],
}

/// Whether any of `indices`, shifted right by `shift` (1 for [`PackedFeatures`] entries, 0 for
/// plain indices), is one of `buckets` (a handful): a compare the compiler runs on several
/// indices at once, with no branch per index.
fn hits_any(indices: &[u32], shift: u32, buckets: &[u32]) -> bool {
    buckets.iter().any(|&bucket| {
        indices
            .iter()
            .fold(false, |hit, &index| hit | (index >> shift == bucket))
    })
}

/// How many features ahead [`FusedGroup::accumulate`] prefetches.
const PREFETCH_DISTANCE: usize = 12;

/// A hint that `table[at]` will be read soon; nothing happens where the hint is not available.
#[inline(always)]
fn prefetch(table: &[i8], at: usize) {
    #[cfg(target_arch = "x86_64")]
    if at < table.len() {
        // SAFETY: prefetching is only a hint to the cache; it never faults and reads nothing
        // into the program, and the address is inside the table anyway.
        unsafe {
            std::arch::x86_64::_mm_prefetch(
                table.as_ptr().add(at).cast::<i8>(),
                std::arch::x86_64::_MM_HINT_T0,
            );
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (table, at);
}

/// Loaded models and rules. Immutable and shareable between threads; per-thread buffers live in
/// a [`Scratch`].
pub struct Analyzer {
    /// Unique per analyzer made: which memos of chunk sums are this analyzer's.
    id: u64,
    models: Vec<LoadedModel>,
    configs: Vec<FeatureConfig>,
    groups: Vec<FusedGroup>,
    /// Per language a model is for, the model of each of [`CLASSIFIED_TASKS`] (its own or one
    /// for any language); `any_language` for the other languages: what
    /// [`Analyzer::model_for`] finds, looked up once per text instead of once per task.
    by_language: Vec<(String, [Option<usize>; CLASSIFIED_TASKS.len()])>,
    any_language: [Option<usize>; CLASSIFIED_TASKS.len()],
    rules: IntentRules,
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let models: Vec<String> = self
            .models
            .iter()
            .map(|m| format!("{}/{}", m.model.task(), m.model.lang().unwrap_or("any")))
            .collect();
        f.debug_struct("Analyzer").field("models", &models).finish()
    }
}

/// The label a classifier gives a text with nothing to judge (empty, only spaces): the one of
/// nothing to flag.
pub fn default_label(task: &str) -> Option<&'static str> {
    match task {
        "sentiment" => Some("neutral"),
        "offensive" => Some("NOT"),
        "spam" => Some("ham"),
        "complaint" => Some("other"),
        _ => None,
    }
}

impl Analyzer {
    /// Rules only: no classifier, intents from cue rules.
    pub fn rules_only() -> Analyzer {
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Analyzer {
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            models: Vec::new(),
            configs: Vec::new(),
            groups: Vec::new(),
            by_language: Vec::new(),
            any_language: [None; CLASSIFIED_TASKS.len()],
            rules: IntentRules::new(),
        }
    }

    /// Every `*.esm` file in `dir` (not recursing), in name order.
    pub fn load(dir: &Path) -> Result<Analyzer, AnalyzerError> {
        let read_dir_error = |source| AnalyzerError::ReadDir {
            path: dir.to_owned(),
            source,
        };
        let mut paths = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(read_dir_error)? {
            let path = entry.map_err(read_dir_error)?.path();
            if path.extension().is_some_and(|e| e == MODEL_EXTENSION) && path.is_file() {
                paths.push(path);
            }
        }
        paths.sort();
        let mut models = Vec::with_capacity(paths.len());
        for path in paths {
            let model = Model::load(&path)?;
            models.push((model, path.display().to_string()));
        }
        Analyzer::from_models(models)
    }

    /// From models in memory, each with a name for error messages.
    pub fn from_models(models: Vec<(Model, String)>) -> Result<Analyzer, AnalyzerError> {
        let mut analyzer = Analyzer::rules_only();
        for (model, source) in models {
            if let Some(existing) = analyzer
                .models
                .iter()
                .find(|m| m.model.task() == model.task() && m.model.lang() == model.lang())
            {
                return Err(AnalyzerError::Duplicate {
                    task: model.task().to_owned(),
                    lang: model.lang().unwrap_or("any").to_owned(),
                    first: existing.source.clone(),
                    second: source,
                });
            }
            if model.labels().len() > MAX_CLASSES {
                return Err(AnalyzerError::TooManyClasses {
                    classes: model.labels().len(),
                    model: source,
                });
            }
            let config = match analyzer
                .configs
                .iter()
                .position(|c| *c == model.feature_config())
            {
                Some(index) => index,
                None => {
                    analyzer.configs.push(model.feature_config());
                    analyzer.configs.len() - 1
                }
            };
            let labels = model
                .labels()
                .iter()
                .map(|label| Label::interned(label, KNOWN_LABELS))
                .collect();
            let positive_class = model.class_of_label(task_positive_label(model.task()));
            analyzer.models.push(LoadedModel {
                model,
                config,
                group: 0,
                offset: 0,
                negated: None,
                labels,
                positive_class,
                source,
            });
        }
        analyzer.fuse();
        analyzer.index_languages();
        Ok(analyzer)
    }

    /// Groups the models by (feature configuration, language) and interleaves each group's
    /// weights into one table.
    fn fuse(&mut self) {
        self.groups.clear();
        for index in 0..self.models.len() {
            let loaded = &self.models[index];
            let lang = loaded.model.lang().map(str::to_owned);
            let idf = !loaded.model.idf().is_empty();
            let classes = loaded.model.labels().len();
            // A group's row holds at most MAX_GROUP_WIDTH lanes (every class, and an IDF lane
            // per model at most): a language with more models takes a second group.
            let group = match (0..self.groups.len()).find(|&g| {
                let models_before = self.models[..index].iter().filter(|m| m.group == g);
                self.groups[g].config == loaded.config
                    && self.groups[g].lang == lang
                    && self.groups[g].stride + classes + models_before.count() < MAX_GROUP_WIDTH
            }) {
                Some(group) => {
                    self.groups[group].idf |= idf;
                    group
                }
                None => {
                    self.groups.push(FusedGroup {
                        config: loaded.config,
                        lang,
                        idf,
                        idf_models: Vec::new(),
                        plain_models: Vec::new(),
                        stride: 0,
                        width: 0,
                        table: Vec::new(),
                        idf_lanes: Vec::new(),
                        exceptions: Vec::new(),
                    });
                    self.groups.len() - 1
                }
            };
            // With IDF weights too: each block's sum is scaled by one factor for both classes,
            // and negation commutes with that exactly.
            let negated = (classes == 2)
                .then(|| negated_buckets(loaded.model.quantized_weights()))
                .flatten();
            let offset = self.groups[group].stride;
            self.groups[group].stride += if negated.is_some() { 1 } else { classes };
            let loaded = &mut self.models[index];
            loaded.group = group;
            loaded.offset = offset;
            loaded.negated = negated;
        }
        for (group_index, group) in self.groups.iter_mut().enumerate() {
            let buckets = self.configs[group.config].buckets();
            // One IDF lane per distinct IDF table after all the classes: models trained with
            // one table for their language (`TrainOptions::idf_table`) share it.
            let mut tables: Vec<(&[f32], usize)> = Vec::new();
            if group.idf {
                for loaded in self.models.iter().filter(|m| m.group == group_index) {
                    let classes = loaded.model.labels().len();
                    let lanes = if loaded.negated.is_some() { 1 } else { classes };
                    let idf = loaded.model.idf();
                    if idf.is_empty() {
                        group.plain_models.push((loaded.offset, lanes));
                        continue;
                    }
                    let lane = match tables.iter().find(|(table, _)| *table == idf) {
                        Some(&(_, lane)) => lane,
                        None => {
                            tables.push((idf, group.stride));
                            group.stride += 1;
                            group.stride - 1
                        }
                    };
                    group.idf_models.push((loaded.offset, lanes, lane));
                }
            }
            group.idf_lanes = tables.iter().map(|&(_, lane)| lane).collect();
            group.exceptions = self
                .models
                .iter()
                .filter(|m| m.group == group_index)
                .filter_map(|m| m.negated.as_deref())
                .flatten()
                .copied()
                .collect();
            group.width = group.stride.next_power_of_two().max(4);
            let stride = group.width;
            group.table = vec![0i8; buckets * stride];
            for loaded in self.models.iter().filter(|m| m.group == group_index) {
                let classes = loaded.model.labels().len();
                let lanes = if loaded.negated.is_some() { 1 } else { classes };
                let weights = loaded.model.quantized_weights();
                for (bucket, row) in weights.chunks_exact(classes).enumerate().take(buckets) {
                    let start = bucket * stride + loaded.offset;
                    group.table[start..start + lanes].copy_from_slice(&row[..lanes]);
                }
                if let Some(&(_, _, lane)) = group.idf_models.iter().find(|m| m.0 == loaded.offset)
                {
                    for (bucket, &idf) in loaded.model.idf().iter().enumerate().take(buckets) {
                        // In range by construction: model files hold 1..=127 steps.
                        group.table[bucket * stride + lane] = idf_steps(idf) as i8;
                    }
                }
            }
        }
    }

    fn index_languages(&mut self) {
        let index_of = |loaded: Option<&LoadedModel>| {
            loaded.map(|found| {
                self.models
                    .iter()
                    .position(|m| std::ptr::eq(m, found))
                    .unwrap_or_default()
            })
        };
        let mut languages: Vec<&str> = self.models.iter().filter_map(|m| m.model.lang()).collect();
        languages.sort_unstable();
        languages.dedup();
        self.by_language = languages
            .iter()
            .map(|&lang| {
                let tasks = CLASSIFIED_TASKS.map(|task| index_of(self.model_for(task, lang)));
                (lang.to_owned(), tasks)
            })
            .collect();
        // No language is called this: only the models for any language answer.
        self.any_language = CLASSIFIED_TASKS.map(|task| index_of(self.model_for(task, "\0")));
    }

    /// The model of each of [`CLASSIFIED_TASKS`] for `lang`.
    fn task_models(&self, lang: &str) -> [Option<&LoadedModel>; CLASSIFIED_TASKS.len()] {
        let tasks = self
            .by_language
            .iter()
            .find(|(l, _)| same_short(l, lang))
            .map_or(&self.any_language, |(_, tasks)| tasks);
        tasks.map(|index| index.map(|i| &self.models[i]))
    }

    /// `(task, lang)` of every loaded model; `None` is a model for any language.
    pub fn models(&self) -> Vec<(&str, Option<&str>)> {
        self.models
            .iter()
            .map(|m| (m.model.task(), m.model.lang()))
            .collect()
    }

    /// A memo for every group, or none (and `false`) where the process's budget for memos is
    /// spent: a text is memoised in every group or in none.
    fn make_memos(&self, caches: &mut [Option<ChunkCache>]) -> bool {
        for (cache, group) in caches.iter_mut().zip(&self.groups) {
            *cache = ChunkCache::new(group.stride, &group.idf_lanes);
            if cache.is_none() {
                caches.iter_mut().for_each(|cache| *cache = None);
                return false;
            }
        }
        true
    }

    /// The memos a dropped scratch of this analyzer left on this thread, or empty ones.
    fn spare_memos(&self) -> Vec<Option<ChunkCache>> {
        let spare = SPARE_MEMOS
            .try_with(|spare| {
                let mut spare = spare.borrow_mut();
                let at = spare.iter().position(|(id, _)| *id == self.id)?;
                Some(spare.swap_remove(at).1)
            })
            .ok()
            .flatten();
        match spare {
            Some(caches) if caches.len() == self.groups.len() => caches,
            _ => (0..self.groups.len()).map(|_| None).collect(),
        }
    }

    /// A fresh set of buffers for [`Analyzer::analyze_with`].
    pub fn scratch(&self) -> Scratch {
        Scratch {
            extractors: self
                .configs
                .iter()
                .map(|&c| FeatureExtractor::new(c))
                .collect(),
            features: vec![SparseVector::default(); self.configs.len()],
            words: vec![PackedFeatures::default(); self.configs.len()],
            probabilities: Vec::new(),
            group_sums: vec![Vec::new(); self.groups.len()],
            folded: String::new(),
            rules: RuleScratch::default(),
            full_features: true,
            chunk_caches: self.spare_memos(),
            grams: PackedFeatures::default(),
            texts: 0,
            memoise_chunks: true,
            analyzer: self.id,
        }
    }

    /// Analyses one text. `lang` is what the source declared, if anything.
    pub fn analyze(&self, text: &str, lang: Option<&str>) -> Analysis {
        self.analyze_with(&mut self.scratch(), text, lang, &[])
    }

    /// Analyses one text, with the sentiment toward each of `targets` it names, reusing
    /// `scratch` (from [`Analyzer::scratch`] of this analyzer).
    pub fn analyze_with(
        &self,
        scratch: &mut Scratch,
        text: &str,
        lang: Option<&str>,
        targets: &[&str],
    ) -> Analysis {
        let targets: Vec<Target> = targets.iter().map(|&name| Target::named(name)).collect();
        let targets: Vec<&Target> = targets.iter().collect();
        self.analyze_with_targets(scratch, text, lang, &targets)
    }

    /// Why `text` gets the analysis [`Analyzer::analyze`] gives it: the language whose models
    /// and rules read it, each model's probability for every label, and the cues the rules
    /// found (`earshot analyze --explain`). A text without content has no verdicts.
    pub fn explain(&self, text: &str, lang: Option<&str>) -> Explanation {
        let text = cut(text, MAX_ANALYZED_BYTES);
        let detected = checked_language(text, lang);
        let read_as = if detected == earshot_text::lang::UNDETERMINED && has_content(text) {
            earshot_text::lang::script_language(text).to_owned()
        } else {
            detected.as_str().to_owned()
        };
        let mut explanation = Explanation {
            read_as,
            models: Vec::new(),
            cues: Vec::new(),
            sentiment_from_cues: false,
        };
        if !has_content(text) {
            return explanation;
        }
        let mut probabilities = Vec::new();
        let mut features = SparseVector::default();
        let mut model_tone = None;
        for (task, loaded) in CLASSIFIED_TASKS
            .iter()
            .zip(self.task_models(&explanation.read_as))
        {
            let Some(loaded) = loaded else { continue };
            FeatureExtractor::new(self.configs[loaded.config]).extract(text, &mut features);
            loaded.model.predict_into(&features, &mut probabilities);
            if *task == "sentiment" {
                let best = argmax(&probabilities);
                model_tone = Some(Scored {
                    label: loaded.labels.get(best).cloned().unwrap_or_default(),
                    score: probabilities.get(best).copied().unwrap_or(0.0),
                });
            }
            explanation.models.push(ModelVerdict {
                task,
                probabilities: loaded
                    .model
                    .labels()
                    .iter()
                    .cloned()
                    .zip(probabilities.iter().copied())
                    .collect(),
            });
        }
        let mut folded = String::new();
        crate::features::fold_into(text, &mut folded);
        let words: Vec<&str> = tokenize(&folded).map(|token| token.text).collect();
        explanation.cues = self.rules.found_cues(&words, text, &explanation.read_as);
        if let Some(model) = model_tone {
            let rule_scores = self.rules.scores(&words, text, &explanation.read_as);
            explanation.sentiment_from_cues =
                cue_led_sentiment(&explanation.read_as, model.clone(), &rule_scores) != model;
        }
        explanation
    }

    /// [`Analyzer::analyze_with`] for targets with other spellings than their names.
    pub fn analyze_with_targets(
        &self,
        scratch: &mut Scratch,
        text: &str,
        lang: Option<&str>,
        targets: &[&Target],
    ) -> Analysis {
        let text = cut(text, MAX_ANALYZED_BYTES);
        self.analyze_cut(scratch, text, checked_language(text, lang), targets)
    }

    /// [`Analyzer::analyze_with`] for a caller that has already run
    /// [`earshot_text::lang::detect`] on this text (the ingest pipeline does, for the mention):
    /// `lang` is taken as it is instead of being checked against the text again, which costs
    /// about a tenth of an analysis. Pass what `detect` returned; a source's declared language
    /// belongs in [`Analyzer::analyze_with`].
    pub fn analyze_detected(
        &self,
        scratch: &mut Scratch,
        text: &str,
        lang: &str,
        targets: &[&str],
    ) -> Analysis {
        let targets: Vec<Target> = targets.iter().map(|&name| Target::named(name)).collect();
        let targets: Vec<&Target> = targets.iter().collect();
        self.analyze_detected_targets(scratch, text, lang, &targets)
    }

    /// [`Analyzer::analyze_detected`] for targets with other spellings than their names (the
    /// ingest pipeline's brands, found by their queries).
    pub fn analyze_detected_targets(
        &self,
        scratch: &mut Scratch,
        text: &str,
        lang: &str,
        targets: &[&Target],
    ) -> Analysis {
        let text = cut(text, MAX_ANALYZED_BYTES);
        self.analyze_cut(
            scratch,
            text,
            Label::interned(lang, KNOWN_LANGUAGES),
            targets,
        )
    }

    fn analyze_cut(
        &self,
        scratch: &mut Scratch,
        text: &str,
        lang: Label,
        targets: &[&Target],
    ) -> Analysis {
        // A scratch of another analyzer: its memo holds sums of other tables.
        if scratch.analyzer != self.id
            || scratch.extractors.len() != self.configs.len()
            || scratch.group_sums.len() != self.groups.len()
            || scratch.words.len() != self.configs.len()
        {
            *scratch = self.scratch();
        }

        // From the second text of a scratch on (from the first where a dropped scratch of this
        // thread left its memo), the chunks' sums come from the memo: only the word blocks are
        // extracted here, the chunks are split once for every group.
        if scratch.memoise_chunks
            && scratch.texts > 0
            && scratch.chunk_caches.iter().all(Option::is_none)
        {
            scratch.memoise_chunks = self.make_memos(&mut scratch.chunk_caches);
        }
        let memoise = scratch.memoise_chunks
            && !scratch.chunk_caches.is_empty()
            && scratch.chunk_caches.iter().all(Option::is_some);
        scratch.texts += 1;
        scratch.full_features = !memoise;
        for ((extractor, features), words) in scratch
            .extractors
            .iter_mut()
            .zip(&mut scratch.features)
            .zip(&mut scratch.words)
        {
            if memoise {
                extractor.extract_words(text, words);
            } else {
                extractor.extract(text, features);
            }
        }

        // A text whose language cannot be named (a link alone, emoji, numbers, a word or two)
        // is read by the models and rules of its script's language, so that a link-only
        // comment can still be spam and "❤️❤️❤️" praise; its `lang` stays undetermined.
        let script_fallback;
        let lang_of_models = if lang == earshot_text::lang::UNDETERMINED && has_content(text) {
            script_fallback = Label::from_static(earshot_text::lang::script_language(text));
            &script_fallback
        } else {
            &lang
        };

        // The weight rows of this text are scattered over megabytes: ask for all of them now
        // (or for the memo's slots of its chunks) and run the rules while they arrive, instead
        // of waiting for each when it is added.
        let task_models = self.task_models(lang_of_models);
        let mut requested = [usize::MAX; CLASSIFIED_TASKS.len()];
        for (i, loaded) in task_models.iter().enumerate() {
            if let Some(loaded) = loaded {
                if !requested[..i].contains(&loaded.group) {
                    requested[i] = loaded.group;
                    let group = &self.groups[loaded.group];
                    if memoise {
                        group.prefetch_packed_rows(&scratch.words[loaded.config].entries);
                    } else {
                        group.prefetch_rows(&scratch.features[loaded.config].indices);
                    }
                    if let Some(cache) = scratch.chunk_caches[loaded.group]
                        .as_ref()
                        .filter(|_| memoise)
                    {
                        let chunks = scratch.extractors[loaded.config].chunks();
                        for key in chunks.iter().filter_map(|chunk| chunk.key.as_ref()) {
                            cache.prefetch(cache.set_of(key));
                        }
                    }
                }
            }
        }

        // Every extractor split the same words; without one, fold the text here.
        let rule_scores = match scratch.extractors.first() {
            Some(extractor) => self.rules.all_scores_placed(
                extractor.folded(),
                extractor.words(),
                text,
                lang_of_models,
                &mut scratch.rules,
            ),
            None => {
                clean_and_fold(text, &mut scratch.folded);
                self.rules.all_scores_folded(
                    &scratch.folded,
                    text,
                    lang_of_models,
                    &mut scratch.rules,
                )
            }
        };

        // The sums of every group a task needs; a text with a feature in an exception bucket
        // of a group gets its full vectors, for the models summed alone.
        let mut exception = false;
        for &group in requested.iter().filter(|&&g| g != usize::MAX) {
            let fused = &self.groups[group];
            let config = fused.config;
            let sums = &mut scratch.group_sums[group];
            if scratch.full_features {
                fused.accumulate(&scratch.features[config], sums);
            } else if let Some(cache) = scratch.chunk_caches[group].as_mut() {
                let extractor = &mut scratch.extractors[config];
                let folded = std::mem::take(extractor.folded_mut());
                let chunks = std::mem::take(extractor.chunks_mut());
                exception |= fused.accumulate_chunks(
                    &scratch.words[config],
                    &folded,
                    &chunks,
                    cache,
                    extractor,
                    &mut scratch.grams,
                    sums,
                );
                *extractor.folded_mut() = folded;
                *extractor.chunks_mut() = chunks;
            }
        }
        if exception && !scratch.full_features {
            for (extractor, features) in scratch.extractors.iter_mut().zip(&mut scratch.features) {
                extractor.extract(text, features);
            }
            scratch.full_features = true;
        }

        let mut probabilities = std::mem::take(&mut scratch.probabilities);
        let scratch_now = &*scratch;
        let mut classify = |task_index: usize| -> Option<(Scored, f32)> {
            let scratch = scratch_now;
            let task = CLASSIFIED_TASKS[task_index];
            let loaded = task_models[task_index]?;
            let features = &scratch.features[loaded.config];
            let model = &loaded.model;
            let no_words = if scratch.full_features {
                features.is_empty()
            } else {
                scratch.words[loaded.config].entries.is_empty()
            };
            let no_features = no_words
                && (scratch.full_features
                    || scratch.extractors[loaded.config].chunks().is_empty()
                    || self.configs[loaded.config].char_max == 0);
            if no_features {
                if let Some(label) = default_label(task) {
                    return Some((
                        Scored {
                            label: Label::from_static(label),
                            score: 1.0,
                        },
                        0.0,
                    ));
                }
            }
            let sums = &scratch.group_sums[loaded.group];
            let classes = model.labels().len();
            probabilities.clear();
            match &loaded.negated {
                None => {
                    probabilities.extend_from_slice(&sums[loaded.offset..loaded.offset + classes])
                }
                // The full vectors are there whenever a feature may hit an exception.
                Some(exceptions)
                    if scratch.full_features && hits_any(&features.indices, 0, exceptions) =>
                {
                    model.raw_sums_into(features, &mut probabilities)
                }
                Some(_) => {
                    let sum = sums[loaded.offset];
                    probabilities.extend_from_slice(&[sum, 0.0 - sum]);
                }
            }
            model.finish_in_place(&mut probabilities);
            let best = argmax(&probabilities);
            let positive_class = loaded.positive_class.map_or(0.0, |c| probabilities[c]);
            Some((
                Scored {
                    label: loaded.labels.get(best).cloned().unwrap_or_default(),
                    score: probabilities.get(best).copied().unwrap_or(0.0),
                },
                positive_class,
            ))
        };

        let sentiment =
            classify(0).map(|(s, _)| cue_led_sentiment(lang_of_models, s, &rule_scores.intents));
        let offensive = classify(1).map(|(s, _)| s);
        let spam_model = classify(2);
        let complaint_model = classify(3).map(|(_, p)| p);
        scratch.probabilities = probabilities;

        let spam = combine_spam(spam_model, rule_scores.spam);
        let mut intents = Vec::new();
        for (intent, rule_score) in rule_scores.intents {
            // Where a complaint model exists (English) it decides alone: letting a cue at the
            // threshold override it cost 0.004 macro-F1 on en-complaints (five of the seven
            // texts it flipped were not complaints; docs/MODELS.md, round 13). The cues decide
            // where no labelled data exists (Russian, Greek) or no model is loaded.
            let score = match (intent, complaint_model) {
                ("complaint", Some(model_score)) => model_score,
                _ => rule_score,
            };
            if score >= INTENT_THRESHOLD {
                intents.push(Scored {
                    label: Label::from_static(intent),
                    score,
                });
            }
        }

        let targets =
            self.target_sentiments(scratch, text, lang_of_models, task_models[0], targets);
        Analysis {
            lang,
            sentiment,
            offensive,
            spam,
            intents,
            targets,
        }
    }

    fn model_for(&self, task: &str, lang: &str) -> Option<&LoadedModel> {
        let of_task = || self.models.iter().filter(|m| m.model.task() == task);
        of_task()
            .find(|m| m.model.lang() == Some(lang))
            .or_else(|| of_task().find(|m| m.model.lang().is_none()))
    }

    /// The sentiment of the clauses naming each target: "X dropped my calls again, switched to Y
    /// and love it" is negative toward X and positive toward Y.
    fn target_sentiments(
        &self,
        scratch: &mut Scratch,
        text: &str,
        lang: &str,
        sentiment: Option<&LoadedModel>,
        targets: &[&Target],
    ) -> Vec<TargetSentiment> {
        let Some(loaded) = sentiment else {
            return Vec::new();
        };
        if targets.is_empty() {
            return Vec::new();
        }
        let clauses: Vec<(&str, Vec<String>)> = split_clauses(text)
            .map(|clause| {
                let words = tokenize(&fold(clause)).map(|t| t.text.to_owned()).collect();
                (clause, words)
            })
            .collect();
        let mut out = Vec::new();
        for target in targets {
            let naming: Vec<&str> = clauses
                .iter()
                .filter(|(_, words)| target.named_in(words))
                .map(|(clause, _)| *clause)
                .collect();
            if naming.is_empty() {
                continue;
            }
            let joined = naming.join(" ");
            let extractor = &mut scratch.extractors[loaded.config];
            let features = &mut scratch.features[loaded.config];
            extractor.extract(&joined, features);
            loaded
                .model
                .predict_into(features, &mut scratch.probabilities);
            let best = argmax(&scratch.probabilities);
            let mut tone = Scored {
                label: loaded.labels.get(best).cloned().unwrap_or_default(),
                score: scratch.probabilities.get(best).copied().unwrap_or(0.0),
            };
            if cue_led(lang) && tone.score < MODEL_SURE_AGAINST_CUES {
                clean_and_fold(&joined, &mut scratch.folded);
                let cues =
                    self.rules
                        .scores_folded(&scratch.folded, &joined, lang, &mut scratch.rules);
                tone = cue_led_sentiment(lang, tone, &cues);
            }
            out.push(TargetSentiment {
                target: target.name.clone(),
                label: tone.label,
                score: tone.score,
            });
        }
        out
    }
}

/// The language of `text`: the declared one if the text bears it out, else the detected one
/// (`earshot_text::lang::detect`), as one of the analyzer's known labels where it is one.
fn checked_language(text: &str, declared: Option<&str>) -> Label {
    let lang = earshot_text::lang::detect(text, declared);
    match KNOWN_LANGUAGES
        .iter()
        .find(|&&known| same_short(known, &lang))
    {
        Some(&known) => Label::from_static(known),
        None => Label::from(lang),
    }
}

/// Why a text got its analysis ([`Analyzer::explain`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Explanation {
    /// The language whose models and rules read the text: the detected one, or for a text
    /// whose language cannot be named, its script's.
    pub read_as: String,
    /// Each model that read the text, with its probability for every label.
    pub models: Vec<ModelVerdict>,
    /// The rules' cues found in the text.
    pub cues: Vec<FoundCue>,
    /// Whether the reported sentiment is the cues' rather than the model's
    /// ([`CUE_LED_SENTIMENT`]).
    pub sentiment_from_cues: bool,
}

/// One model's verdict on a text.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ModelVerdict {
    pub task: &'static str,
    /// Each label with its probability.
    pub probabilities: std::collections::BTreeMap<String, f32>,
}

/// Languages where a praise or complaint cue gives the tone over a sentiment model that is not
/// sure. The Greek model learnt from 799 politicians' tweets and reads product praise as
/// negative ("η Vodafone είναι υπέροχη"); the Russian one reads product complaints as neutral
/// ("Верните деньги, товар пришёл сломанный"), and on its own test splits the cues were right
/// as often as it where the two disagreed. The English model was right clearly more often than
/// the cues there and gained nothing from them on product mentions, so it keeps its say
/// (docs/MODELS.md, round 16).
const CUE_LED_SENTIMENT: [&str; 2] = ["el", "ru"];

fn cue_led(lang: &str) -> bool {
    CUE_LED_SENTIMENT
        .iter()
        .any(|&cue_led| same_short(cue_led, lang))
}

/// At this probability or above, a cue-led language's model keeps its label against a cue.
const MODEL_SURE_AGAINST_CUES: f32 = 0.8;

/// The tone of a text in `lang` from its sentiment model's verdict and its intent cue scores:
/// in a [`CUE_LED_SENTIMENT`] language a praise cue alone (no complaint cue) makes it
/// `positive` and a complaint cue alone `negative`, with the cue's score, unless the model is
/// [`MODEL_SURE_AGAINST_CUES`] of its own label. Negated praise ("δεν το συνιστώ") is no cue.
fn cue_led_sentiment(lang: &str, model: Scored, cues: &[(&str, f32)]) -> Scored {
    if !cue_led(lang) || model.score >= MODEL_SURE_AGAINST_CUES {
        return model;
    }
    let score_of = |intent: &str| {
        cues.iter()
            .find(|(name, _)| *name == intent)
            .map_or(0.0, |&(_, score)| score)
    };
    let (praise, complaint) = (score_of("praise"), score_of("complaint"));
    let cue = match (praise >= INTENT_THRESHOLD, complaint >= INTENT_THRESHOLD) {
        (true, false) => Some(("positive", praise)),
        (false, true) => Some(("negative", complaint)),
        _ => None,
    };
    match cue {
        Some((tone, score)) if model.label.as_str() != tone => Scored {
            label: Label::from_static(tone),
            score,
        },
        _ => model,
    }
}

/// The label whose probability is the intent score of a classifier used as an intent.
/// The spam verdict from the model (its label, and the probability of `spam`) and the rules:
/// a rule score at the threshold overrides a model that says `ham` (the SMS and YouTube data
/// miss much comment spam the cues know); without a model (Russian, Greek) the rules decide
/// alone.
pub fn combine_spam(model: Option<(Scored, f32)>, rules: Option<f32>) -> Option<Scored> {
    let verdict = |spam_score: f32| {
        if spam_score >= SPAM_THRESHOLD {
            Scored {
                label: Label::from_static("spam"),
                score: spam_score,
            }
        } else {
            Scored {
                label: Label::from_static("ham"),
                score: 1.0 - spam_score,
            }
        }
    };
    match (model, rules) {
        (Some((scored, model_spam)), Some(rule_spam)) => {
            if rule_spam >= SPAM_THRESHOLD && rule_spam > model_spam {
                Some(verdict(rule_spam))
            } else {
                Some(scored)
            }
        }
        (Some((scored, _)), None) => Some(scored),
        (None, Some(rule_spam)) => Some(verdict(rule_spam)),
        (None, None) => None,
    }
}

fn task_positive_label(task: &str) -> &str {
    match task {
        "complaint" => "complaint",
        "spam" => "spam",
        _ => "",
    }
}

/// Whether `text` holds anything but spaces and control characters (emoji, digits and
/// punctuation count: they are what a text without a language is made of).
fn has_content(text: &str) -> bool {
    text.chars()
        .any(|c| !c.is_whitespace() && !c.is_control() && c != '\u{200b}' && c != '\u{feff}')
}

fn cut(text: &str, max_bytes: usize) -> &str {
    let mut end = text.len().min(max_bytes);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A target of the analysis (a brand): its name, which the result reports, and the words that
/// name it in a text, parsed once: the name and its other spellings (the terms of its brand
/// queries; a trailing `*` is a prefix). A clause names the target when it holds one of them,
/// word for word, each word equal or of the same stem ("Мегафона" names "Мегафон").
#[derive(Debug, Clone)]
pub struct Target {
    name: String,
    spellings: Vec<Vec<SpellingWord>>,
}

impl Target {
    /// A target found by its name alone.
    pub fn named(name: &str) -> Target {
        Target::new(name, &[])
    }

    /// A target found by its name or any of `other_spellings`.
    pub fn new(name: &str, other_spellings: &[String]) -> Target {
        Target {
            name: name.to_owned(),
            spellings: std::iter::once(name)
                .chain(other_spellings.iter().map(String::as_str))
                .filter_map(spelling_words)
                .collect(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the folded `words` of a clause name the target.
    fn named_in(&self, words: &[String]) -> bool {
        self.spellings.iter().any(|spelling| {
            words.windows(spelling.len()).any(|window| {
                window
                    .iter()
                    .zip(spelling)
                    .all(|(folded, word)| word.matches(folded))
            })
        })
    }
}

/// One word of a target's spelling.
#[derive(Debug, Clone)]
struct SpellingWord {
    folded: String,
    stem: String,
    /// The stem's first three characters: a word that does not start with them cannot have
    /// the same stem (the Snowball stemmers cut endings), so most words are never stemmed.
    stem_head: String,
    prefix: bool,
}

impl SpellingWord {
    fn matches(&self, folded: &str) -> bool {
        if self.prefix {
            folded.starts_with(self.folded.as_str())
        } else {
            folded == self.folded
                || (folded.starts_with(self.stem_head.as_str()) && stem(folded) == self.stem)
        }
    }
}

/// The words of one spelling of a target, or `None` when it has none.
fn spelling_words(spelling: &str) -> Option<Vec<SpellingWord>> {
    let spelling = spelling.trim();
    let (spelling, prefix) = match spelling.strip_suffix('*') {
        Some(stripped) => (stripped, true),
        None => (spelling, false),
    };
    let mut words: Vec<SpellingWord> = tokenize(&fold(spelling))
        .map(|token| {
            let stem = stem(token.text);
            SpellingWord {
                stem_head: stem.chars().take(3).collect(),
                stem,
                folded: token.text.to_owned(),
                prefix: false,
            }
        })
        .collect();
    words.last_mut()?.prefix = prefix;
    Some(words)
}

/// Clauses: split at sentence punctuation, commas, semicolons, line breaks and contrastive
/// conjunctions ("but", "но", "αλλά"), where the tone toward different things tends to change.
fn split_clauses(text: &str) -> impl Iterator<Item = &str> {
    text.split(['.', '!', '?', ';', ',', '\n', '\u{037E}'])
        .flat_map(|part| {
            let mut pieces = Vec::new();
            let mut start = 0;
            for token in tokenize(part) {
                let lowered = token.text.to_lowercase();
                // Greek `όμως` mostly follows the subject of its clause ("η Vodafone όμως
                // δουλεύει"), so a cut before it would leave the brand behind; the comma
                // before such a clause cuts it already.
                if matches!(
                    lowered.as_str(),
                    "but" | "however" | "но" | "однако" | "αλλά" | "αλλα"
                ) {
                    pieces.push(&part[start..token.offset]);
                    start = token.offset;
                }
            }
            pieces.push(&part[start..]);
            pieces
        })
        .filter(|clause| !clause.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_two_class_models_take_one_negated_lane() {
        // A two-class model whose weights are not negated takes a second lane in its
        // language's fused rows (slower); NB factors (docs/MODELS.md, round 10) are the same in
        // both lanes of a two-class model so that this holds for the models trained with them.
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models");
        let analyzer = Analyzer::load(&dir).unwrap();
        let two_class: Vec<&LoadedModel> = analyzer
            .models
            .iter()
            .filter(|m| m.model.labels().len() == 2)
            .collect();
        assert!(two_class.len() >= 4);
        for loaded in two_class {
            assert!(loaded.negated.is_some(), "{}", loaded.source);
        }
    }

    #[test]
    fn rules_only_analysis_has_no_classifiers_but_intents() {
        let analyzer = Analyzer::rules_only();
        let analysis = analyzer.analyze("Where can I buy the new Zeltron phone?", Some("en"));
        assert_eq!(analysis.lang, "en");
        assert_eq!(analysis.sentiment, None);
        let labels: Vec<&str> = analysis.intents.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels, vec!["question", "purchase_intent"]);
    }

    #[test]
    fn strange_inputs_give_defined_results() {
        let analyzer = Analyzer::rules_only();
        for text in ["", "😀😀😀", "\u{0}\u{1b}[31m\u{7}", "ab\u{200b}cd"] {
            let analysis = analyzer.analyze(text, None);
            assert!(analysis.intents.is_empty(), "{text:?}: {analysis:?}");
            assert!(analysis.targets.is_empty());
        }
        let huge = "спасибо ".repeat(1 << 17);
        assert!(huge.len() > 1 << 20);
        let analysis = analyzer.analyze(&huge, None);
        assert_eq!(analysis.lang, "ru");
    }

    /// An analyzer of one small English model of `task`, trained on `(text, label)` pairs.
    fn toy_analyzer(task: &str, labelled: &[(String, &str)]) -> Analyzer {
        use crate::data::Example;
        use crate::train::{train_examples, Task, TrainOptions};
        let examples: Vec<Example> = labelled
            .iter()
            .map(|(text, label)| Example {
                id: String::new(),
                text: text.clone(),
                label: (*label).to_owned(),
                lang: Some("en".to_owned()),
            })
            .collect();
        let options = TrainOptions {
            features: FeatureConfig {
                buckets_log2: 12,
                ..FeatureConfig::default()
            },
            validation_fraction: 0.0,
            max_epochs: 10,
            learning_rate: 0.5,
            ..TrainOptions::default()
        };
        let (model, _) = train_examples(&Task::from_name(task), &examples, &options).unwrap();
        Analyzer::from_models(vec![(model, "toy".to_owned())]).unwrap()
    }

    fn toy_sentiment_analyzer() -> Analyzer {
        let mut examples = Vec::new();
        for round in 0..5 {
            examples.push((format!("I love it, wonderful {round}"), "positive"));
            examples.push((format!("awful, I hate it {round}"), "negative"));
            examples.push((format!("it is on the table {round}"), "neutral"));
        }
        toy_analyzer("sentiment", &examples)
    }

    #[test]
    fn a_text_of_no_language_is_read_by_the_models_of_its_script() {
        let mut examples = Vec::new();
        for round in 0..5 {
            examples.push((
                format!("https://win{round}.example/prize?ref={round}"),
                "spam",
            ));
            examples.push((
                format!("what a lovely song, listening again {round}"),
                "ham",
            ));
        }
        let analyzer = toy_analyzer("spam", &examples);
        let link_only = analyzer.analyze("http://hackfbaccountlive.com/?ref=4604617", None);
        assert_eq!(link_only.lang, "und");
        assert_eq!(
            link_only.spam.map(|s| s.label),
            Some(Label::from_static("spam"))
        );
        // Greek letters too few to name the language: Greek's spam rules answer, as for any
        // Greek text (the English model is not asked).
        let greek = analyzer.analyze("ωω 123", None);
        assert_eq!(greek.lang, "und");
        assert_eq!(
            greek.spam,
            Some(Scored {
                label: "ham".into(),
                score: 1.0
            })
        );
        // Spaces, control characters and invisible marks are no content.
        assert_eq!(analyzer.analyze(" \u{0}\u{feff}\u{200b} ", None).spam, None);
    }

    #[test]
    fn cues_lead_an_unsure_greek_or_russian_sentiment_model_and_english_keeps_its_own() {
        let model = |label: &'static str, score: f32| Scored {
            label: Label::from_static(label),
            score,
        };
        let cues = |praise: f32, complaint: f32| {
            [
                ("complaint", complaint),
                ("question", 0.0),
                ("praise", praise),
                ("purchase_intent", 0.0),
                ("feedback", 0.0),
            ]
        };
        let led = |lang, verdict, cues: [(&str, f32); 5]| {
            let tone = cue_led_sentiment(lang, verdict, &cues);
            (tone.label.as_str().to_owned(), tone.score)
        };
        // Praise alone turns an unsure negative positive, with the cue's score.
        assert_eq!(
            led("el", model("negative", 0.6), cues(0.6, 0.0)),
            ("positive".to_owned(), 0.6)
        );
        // A complaint alone turns an unsure neutral negative.
        assert_eq!(
            led("el", model("neutral", 0.58), cues(0.0, 0.75)),
            ("negative".to_owned(), 0.75)
        );
        // A sure model keeps its label ("Τέλεια, πάλι χωρίς ίντερνετ": sarcasm).
        assert_eq!(
            led("el", model("negative", 0.86), cues(0.5, 0.0)),
            ("negative".to_owned(), 0.86)
        );
        // Both cues, a cue below the threshold, or a model that agrees: the model's verdict.
        assert_eq!(
            led("el", model("neutral", 0.5), cues(0.6, 0.6)),
            ("neutral".to_owned(), 0.5)
        );
        assert_eq!(
            led("el", model("neutral", 0.5), cues(0.4, 0.0)),
            ("neutral".to_owned(), 0.5)
        );
        assert_eq!(
            led("el", model("positive", 0.55), cues(0.9, 0.0)),
            ("positive".to_owned(), 0.55)
        );
        // Russian too: its model reads product complaints as neutral.
        assert_eq!(
            led("ru", model("neutral", 0.78), cues(0.0, 0.7)),
            ("negative".to_owned(), 0.7)
        );
        // English models keep their say.
        for lang in ["en", "de", "und"] {
            assert_eq!(
                led(lang, model("negative", 0.4), cues(0.9, 0.0)),
                ("negative".to_owned(), 0.4),
                "{lang}"
            );
        }
    }

    #[test]
    fn a_complaint_model_decides_alone_and_the_rules_where_there_is_none() {
        // A toy English complaint model that never saw the cue "worst": it calls the text
        // below "other", which the cue alone (0.6) would have overridden before round 13.
        let mut examples = Vec::new();
        for round in 0..5 {
            examples.push((format!("my order is broken again {round}"), "complaint"));
            examples.push((format!("see you at the game tonight {round}"), "other"));
        }
        let analyzer = toy_analyzer("complaint", &examples);
        let complaint = |analysis: &Analysis| {
            analysis
                .intents
                .iter()
                .find(|intent| intent.label == "complaint")
                .map(|intent| intent.score)
        };
        let text = "see you at the game tonight, the worst";
        let rules = Analyzer::rules_only();
        assert!(complaint(&rules.analyze(text, Some("en"))).is_some_and(|s| s >= 0.6));
        assert_eq!(complaint(&analyzer.analyze(text, Some("en"))), None);
        let broken = analyzer.analyze("my order is broken again", Some("en"));
        assert!(complaint(&broken).is_some(), "{broken:?}");
        // No Russian complaint model: the Russian cues decide.
        let russian = analyzer.analyze("Ужасный сервис, верните деньги", Some("ru"));
        assert!(complaint(&russian).is_some(), "{russian:?}");
    }

    #[test]
    fn the_simd_build_of_the_sums_equals_the_portable_one() {
        let analyzer = toy_sentiment_analyzer();
        let mut extractor = FeatureExtractor::new(analyzer.configs[0]);
        let mut features = SparseVector::default();
        for text in ["I love it", "awful, I hate it, never again", "", "table 3"] {
            extractor.extract(text, &mut features);
            for group in &analyzer.groups {
                let (mut dispatched, mut portable) = (Vec::new(), Vec::new());
                group.accumulate(&features, &mut dispatched);
                group.accumulate_portable(&features, &mut portable);
                let bits = |sums: &[f32]| sums.iter().map(|s| s.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&dispatched), bits(&portable), "{text}");
            }
        }
    }

    #[test]
    fn empty_text_gets_the_neutral_label_and_undetermined_language() {
        let analyzer = toy_sentiment_analyzer();
        let analysis = analyzer.analyze("  \u{0} ", None);
        assert_eq!(analysis.lang, "und");
        // No model for "und": nothing is guessed.
        assert_eq!(analysis.sentiment, None);
        let analysis = analyzer.analyze("", Some("en"));
        assert_eq!(
            analysis.sentiment,
            Some(Scored {
                label: "neutral".into(),
                score: 1.0
            })
        );
    }

    #[test]
    fn targets_get_the_tone_of_their_own_clause() {
        let analyzer = toy_sentiment_analyzer();
        let mut scratch = analyzer.scratch();
        let analysis = analyzer.analyze_with(
            &mut scratch,
            "Zeltron is awful, I hate it but I love Acme, wonderful",
            Some("en"),
            &["Zeltron", "acme", "Missing"],
        );
        let targets: Vec<(&str, &str)> = analysis
            .targets
            .iter()
            .map(|t| (t.target.as_str(), t.label.as_str()))
            .collect();
        assert_eq!(targets, vec![("Zeltron", "negative"), ("acme", "positive")]);
    }

    #[test]
    fn targets_are_found_inflected_and_by_their_other_spellings() {
        let analyzer = toy_sentiment_analyzer();
        let mut scratch = analyzer.scratch();
        let mut spellings = |text: &str, target: &Target| -> Vec<String> {
            analyzer
                .analyze_detected_targets(&mut scratch, text, "en", &[target])
                .targets
                .into_iter()
                .map(|t| t.target)
                .collect()
        };
        // Another case of the name: the same stem.
        assert_eq!(
            spellings("Ушёл из Мегафона, связь ужасная", &Target::named("Мегафон")),
            ["Мегафон"]
        );
        // The brand's query terms name it too, reported under its name; a prefix spelling
        // matches longer words; words that only start alike do not.
        let beeline = Target::new("Beeline", &["билайн".to_owned(), "beel*".to_owned()]);
        assert_eq!(
            spellings("Билайну опять не дозвониться", &beeline),
            ["Beeline"]
        );
        assert_eq!(spellings("#beelineru is down", &beeline), ["Beeline"]);
        assert!(spellings("Билет на концерт", &beeline).is_empty());
        // Several words: all of them, in order.
        let bank = ["noventa bank".to_owned()];
        assert_eq!(
            spellings("the noventa banks are slow", &Target::new("Noventa", &bank)),
            ["Noventa"]
        );
        assert!(spellings("a bank in noventa", &Target::new("N", &bank)).is_empty());
    }

    #[test]
    fn load_reads_model_files_and_names_a_corrupt_one() {
        let model = toy_sentiment_analyzer().models.remove(0).model;
        let dir = tempfile::tempdir().unwrap();
        model.save(&dir.path().join("sentiment-en.esm")).unwrap();
        std::fs::write(dir.path().join("README.txt"), "not a model").unwrap();
        let loaded = Analyzer::load(dir.path()).unwrap();
        assert_eq!(loaded.models(), vec![("sentiment", Some("en"))]);

        let mut bytes = model.to_bytes();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(dir.path().join("broken.esm"), bytes).unwrap();
        let error = Analyzer::load(dir.path()).unwrap_err();
        assert!(error.to_string().contains("broken.esm"), "{error}");
        assert!(error.to_string().contains("checksum"), "{error}");
    }

    #[test]
    fn two_models_for_the_same_task_and_language_are_refused() {
        let first = toy_sentiment_analyzer().models.remove(0).model;
        let error = Analyzer::from_models(vec![
            (first.clone(), "a.esm".to_owned()),
            (first, "b.esm".to_owned()),
        ])
        .unwrap_err();
        assert!(error.to_string().contains("a.esm and b.esm"), "{error}");
    }

    /// A model of `task` with random weights (a fixed seed), for checking arithmetic.
    fn random_model(task: &str, labels: &[&str], lang: Option<&str>, seed: u64) -> Model {
        let config = FeatureConfig {
            buckets_log2: 12,
            ..FeatureConfig::default()
        };
        let mut state = seed;
        let weights: Vec<f32> = (0..config.buckets() * labels.len())
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                ((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5
            })
            .collect();
        let bias = (0..labels.len()).map(|c| c as f32 * 0.1).collect();
        Model::quantize(
            task,
            lang,
            labels.iter().map(|l| l.to_string()).collect(),
            config,
            &weights,
            bias,
            1,
        )
    }

    /// The same model with IDF weights from 1/8 to 15.9 (a fixed pattern), which the fused
    /// tables must combine with the per-block norms exactly as the model does alone.
    fn with_random_idf(model: Model, seed: u64) -> Model {
        let buckets = model.feature_config().buckets();
        let idf = (0..buckets as u64)
            .map(|b| 1.0 + ((b * 7 + seed * 13) % 120) as f32 / 8.0)
            .collect();
        model.with_idf(idf)
    }

    /// A two-class model whose weights are exact negatives but in `odd_bucket`.
    fn negated_model_but_one(config: FeatureConfig, odd_bucket: usize, seed: u64) -> Model {
        let mut state = seed;
        let mut weights = vec![0.0f32; config.buckets() * 2];
        for bucket in 0..config.buckets() {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let w = ((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5;
            weights[2 * bucket] = w;
            weights[2 * bucket + 1] = -w;
        }
        weights[2 * odd_bucket + 1] += 0.3;
        Model::quantize(
            "offensive",
            Some("en"),
            vec!["OFF".to_owned(), "NOT".to_owned()],
            config,
            &weights,
            vec![0.2, -0.2],
            1,
        )
    }

    #[test]
    fn the_chunk_memo_gives_exactly_the_analyses_without_it() {
        let config = FeatureConfig {
            buckets_log2: 12,
            ..FeatureConfig::default()
        };
        // A character gram of one chunk is the odd bucket of the offensive model, so texts with
        // that chunk take the models' own sums, memoised or not.
        let odd_text = "zzyzx";
        let mut features = SparseVector::default();
        FeatureExtractor::new(config).extract(odd_text, &mut features);
        let odd_bucket = features.indices[features.word_features + 3] as usize;
        let long_chunk = "supercalifragilisticexpialidocious!!!";
        assert!(long_chunk.len() > crate::chunk_cache::KEY_BYTES);
        let texts = [
            "Zeltron dropped my calls again, awful!!! 😡",
            "zzyzx road is long",
            "the calls, the calls again",
            long_chunk,
            "",
            "😡😡",
            "Спасибо, всё работает отлично",
            "Η εξυπηρέτηση ήταν άψογη, ευχαριστώ",
            "win a free prize now http://t.co/x zzyzx",
            // English (every third text is), with the odd chunk among others.
            "again again zzyzx again",
        ];
        for idf in [false, true] {
            let maybe_idf = |model: Model, seed: u64| {
                if idf {
                    with_random_idf(model, seed)
                } else {
                    model
                }
            };
            let models = vec![
                (
                    maybe_idf(
                        random_model(
                            "sentiment",
                            &["negative", "neutral", "positive"],
                            Some("en"),
                            1,
                        ),
                        3,
                    ),
                    "sentiment-en".to_owned(),
                ),
                (
                    maybe_idf(negated_model_but_one(config, odd_bucket, 11), 3),
                    "offensive-en".to_owned(),
                ),
                // Without IDF beside the IDF models: the mixed group.
                (
                    random_model("spam", &["spam", "ham"], Some("en"), 3),
                    "spam-en".to_owned(),
                ),
                (
                    maybe_idf(
                        random_model(
                            "sentiment",
                            &["negative", "neutral", "positive"],
                            Some("ru"),
                            4,
                        ),
                        5,
                    ),
                    "sentiment-ru".to_owned(),
                ),
                (
                    random_model("offensive", &["OFF", "NOT"], None, 5),
                    "offensive-any".to_owned(),
                ),
            ];
            let analyzer = Analyzer::from_models(models).unwrap();
            let mut memo = analyzer.scratch();
            let mut without = analyzer.scratch().without_chunk_memo();
            for round in 0..3 {
                for (i, text) in texts.iter().enumerate() {
                    let lang = ["en", "ru", "el"][i % 3];
                    let targets: &[&str] = if i % 2 == 0 { &["Zeltron"] } else { &[] };
                    let memoised = analyzer.analyze_with(&mut memo, text, Some(lang), targets);
                    let summed = analyzer.analyze_with(&mut without, text, Some(lang), targets);
                    // A fresh scratch adds its first text up from the full vector.
                    let fresh =
                        analyzer.analyze_with(&mut analyzer.scratch(), text, Some(lang), targets);
                    assert_eq!(memoised, summed, "round {round}, idf {idf}: {text:?}");
                    assert_eq!(memoised, fresh, "round {round}, idf {idf}: {text:?}");
                }
            }
            let (hits, misses) = memo.chunk_memo_counts();
            assert!(hits > 2 * misses, "{hits} found, {misses} added up");
            assert_eq!(without.chunk_memo_counts(), (0, 0));
            // A scratch of another analyzer with tables of the same shape: its memo is not used.
            let other = Analyzer::from_models(
                analyzer
                    .models
                    .iter()
                    .enumerate()
                    .map(|(i, loaded)| {
                        let m = &loaded.model;
                        let labels: Vec<&str> = m.labels().iter().map(String::as_str).collect();
                        let fresh = random_model(m.task(), &labels, m.lang(), 100 + i as u64);
                        let fresh = if m.idf().is_empty() {
                            fresh
                        } else {
                            fresh.with_idf(m.idf().to_vec())
                        };
                        (fresh, format!("other{i}"))
                    })
                    .collect(),
            )
            .unwrap();
            assert_eq!(other.groups.len(), analyzer.groups.len());
            let mut foreign = other.scratch();
            for text in texts {
                other.analyze_with(&mut foreign, text, Some("en"), &[]);
            }
            assert_eq!(
                analyzer.analyze_with(&mut foreign, texts[0], Some("en"), &[]),
                analyzer.analyze_with(&mut without, texts[0], Some("en"), &[])
            );
            // A dropped scratch leaves its memo to the next one of this thread and analyser.
            drop(memo);
            let mut next = analyzer.scratch();
            assert_eq!(next.chunk_memo_counts(), (hits, misses));
            let first = analyzer.analyze_with(&mut next, texts[0], Some("en"), &[]);
            assert_eq!(
                next.chunk_memo_counts().1,
                misses,
                "every chunk was memoised"
            );
            let summed = analyzer.analyze_with(&mut without, texts[0], Some("en"), &[]);
            assert_eq!(first, summed);
            // The odd bucket matters: summed as negated, the odd text would differ.
            let offensive = &analyzer.model_for("offensive", "en").unwrap().model;
            extractor_of(config).extract(odd_text, &mut features);
            let mut alone = Vec::new();
            offensive.raw_sums_into(&features, &mut alone);
            assert_ne!(alone[1], 0.0 - alone[0]);
        }
    }

    fn extractor_of(config: FeatureConfig) -> FeatureExtractor {
        FeatureExtractor::new(config)
    }

    #[test]
    fn fused_tables_predict_exactly_what_each_model_predicts_alone() {
        for idf in [false, true] {
            fused_tables_agree_with_the_models(idf);
        }
    }

    #[test]
    fn models_with_and_without_idf_share_one_group_and_each_predicts_exactly() {
        let plain = random_model(
            "sentiment",
            &["negative", "neutral", "positive"],
            Some("en"),
            1,
        );
        let weighted =
            with_random_idf(random_model("offensive", &["OFF", "NOT"], Some("en"), 2), 2);
        // Two classes without IDF: the one-lane (negated) form inside a group with IDF lanes.
        let plain_binary = random_model("spam", &["spam", "ham"], Some("en"), 3);
        let analyzer = Analyzer::from_models(vec![
            (plain.clone(), "plain".to_owned()),
            (weighted.clone(), "weighted".to_owned()),
            (plain_binary.clone(), "plain binary".to_owned()),
        ])
        .unwrap();
        assert_eq!(
            analyzer.groups.len(),
            1,
            "one lookup per feature for English"
        );
        assert!(analyzer.groups[0].idf);
        assert_eq!(analyzer.groups[0].plain_models.len(), 2);
        let mut features = SparseVector::default();
        for text in [
            "Zeltron dropped my calls again, awful!!! 😡 you idiots",
            "the weather in Athens is fine today, thanks",
            "ok",
            "😡😡",
        ] {
            let analysis = analyzer.analyze(text, Some("en"));
            FeatureExtractor::new(plain.feature_config()).extract(text, &mut features);
            for (model, got) in [
                (&plain, analysis.sentiment),
                (&weighted, analysis.offensive),
                (&plain_binary, analysis.spam),
            ] {
                let (label, score) = model.predict(&features);
                assert_eq!(
                    got,
                    Some(Scored {
                        label: label.into(),
                        score
                    }),
                    "{} on {text:?}",
                    model.task()
                );
            }
        }
        let text = "Zeltron dropped my calls again, awful!!! 😡 you idiots";
        FeatureExtractor::new(plain.feature_config()).extract(text, &mut features);
        // The IDF weights change the prediction: the model without them scores differently.
        let without = random_model("offensive", &["OFF", "NOT"], Some("en"), 2);
        let mut a = Vec::new();
        let mut b = Vec::new();
        without.predict_into(&features, &mut a);
        weighted.predict_into(&features, &mut b);
        assert_ne!(a, b);
    }

    fn fused_tables_agree_with_the_models(idf: bool) {
        let models = [
            random_model(
                "sentiment",
                &["negative", "neutral", "positive"],
                Some("en"),
                1,
            ),
            random_model("offensive", &["OFF", "NOT"], Some("en"), 2),
            random_model("spam", &["spam", "ham"], Some("en"), 3),
            random_model(
                "sentiment",
                &["negative", "neutral", "positive"],
                Some("ru"),
                4,
            ),
            random_model("offensive", &["OFF", "NOT"], None, 5),
        ];
        let models = models.map(|m| {
            if idf {
                let seed = m.labels().len() as u64;
                with_random_idf(m, seed)
            } else {
                m
            }
        });
        let analyzer = Analyzer::from_models(
            models
                .iter()
                .cloned()
                .enumerate()
                .map(|(i, m)| (m, format!("m{i}")))
                .collect(),
        )
        .unwrap();
        // en, ru and the language-less model: three tables.
        assert_eq!(analyzer.groups.len(), 3);
        let mut scratch = analyzer.scratch();
        let mut extractor = FeatureExtractor::new(models[0].feature_config());
        let mut features = SparseVector::default();
        let mut alone = Vec::new();
        for (text, lang) in [
            ("Zeltron dropped my calls again, awful!!! 😡", "en"),
            ("Спасибо, всё работает отлично", "ru"),
            ("win a free prize now http://t.co/x", "en"),
        ] {
            let analysis = analyzer.analyze_with(&mut scratch, text, Some(lang), &[]);
            extractor.extract(text, &mut features);
            for (task, got) in [
                ("sentiment", &analysis.sentiment),
                ("offensive", &analysis.offensive),
                ("spam", &analysis.spam),
            ] {
                // Spam: the model's verdict combined with the spam rules of the language.
                let rule_spam = (task == "spam")
                    .then(|| {
                        let mut folded = String::new();
                        clean_and_fold(text, &mut folded);
                        IntentRules::new()
                            .all_scores_folded(&folded, text, lang, &mut RuleScratch::default())
                            .spam
                    })
                    .flatten();
                let Some(model) = models
                    .iter()
                    .find(|m| m.task() == task && m.lang() == Some(lang))
                    .or_else(|| {
                        models
                            .iter()
                            .find(|m| m.task() == task && m.lang().is_none())
                    })
                else {
                    assert_eq!(got, &combine_spam(None, rule_spam), "{task} {lang}");
                    continue;
                };
                model.predict_into(&features, &mut alone);
                let best = argmax(&alone);
                let expected = Scored {
                    label: model.labels()[best].clone().into(),
                    score: alone[best],
                };
                let expected = if task == "spam" {
                    let spam = alone[model.class_of_label("spam").unwrap()];
                    combine_spam(Some((expected, spam)), rule_spam)
                } else {
                    Some(expected)
                };
                // Bit for bit: the same sums in the same order.
                assert_eq!(got, &expected, "{task} on {text:?}");
            }
        }
        // The third text is spam by the rules whatever the random model says.
        let spam = analyzer.analyze("win a free prize now http://t.co/x", Some("en"));
        assert_eq!(spam.spam.map(|s| s.label).as_deref(), Some("spam"));
    }

    #[test]
    fn two_class_models_of_negated_weights_take_one_lane_and_predict_exactly() {
        let config = FeatureConfig {
            buckets_log2: 12,
            ..FeatureConfig::default()
        };
        let hit = "you idiots dropped my calls again";
        let mut features = SparseVector::default();
        FeatureExtractor::new(config).extract(hit, &mut features);
        let odd_bucket = features.indices[3] as usize;
        // One bucket that is not an exact negative: texts with that feature are summed apart.
        let offensive = negated_model_but_one(config, odd_bucket, 7);
        let sentiment = random_model(
            "sentiment",
            &["negative", "neutral", "positive"],
            Some("en"),
            9,
        );
        let analyzer = Analyzer::from_models(vec![
            (offensive.clone(), "offensive".to_owned()),
            (sentiment.clone(), "sentiment".to_owned()),
        ])
        .unwrap();
        let loaded = analyzer.model_for("offensive", "en").unwrap();
        assert_eq!(loaded.negated.as_deref(), Some(&[odd_bucket as u32][..]));
        assert_eq!(analyzer.groups[0].stride, 4);
        let mut scratch = analyzer.scratch();
        let mut extractor = FeatureExtractor::new(config);
        let mut alone = Vec::new();
        for text in [hit, "nothing to see here, a plain text", "win win win"] {
            let analysis = analyzer.analyze_with(&mut scratch, text, Some("en"), &[]);
            extractor.extract(text, &mut features);
            for (model, got) in [
                (&offensive, &analysis.offensive),
                (&sentiment, &analysis.sentiment),
            ] {
                model.predict_into(&features, &mut alone);
                let best = argmax(&alone);
                let expected = Scored {
                    label: model.labels()[best].clone().into(),
                    score: alone[best],
                };
                assert_eq!(got.as_ref(), Some(&expected), "{text:?}");
            }
        }
        // The odd bucket matters: the hit text's second sum is not the negative of the first.
        extractor.extract(hit, &mut features);
        offensive.sums_into(&features, &mut alone);
        assert_ne!(alone[1], 0.0 - alone[0]);
    }

    #[test]
    fn idf_models_of_one_table_share_its_lane_and_negated_ones_take_one_lane() {
        let config = FeatureConfig {
            buckets_log2: 12,
            ..FeatureConfig::default()
        };
        let hit = "you idiots dropped my calls again";
        let mut features = SparseVector::default();
        FeatureExtractor::new(config).extract(hit, &mut features);
        let odd_bucket = features.indices[2] as usize;
        let offensive = negated_model_but_one(config, odd_bucket, 11);
        // Sentiment and offensive with one IDF table (seed 3), spam with another (seed 4).
        let offensive = with_random_idf(offensive, 3);
        let sentiment = with_random_idf(
            random_model(
                "sentiment",
                &["negative", "neutral", "positive"],
                Some("en"),
                9,
            ),
            3,
        );
        let spam = with_random_idf(random_model("spam", &["spam", "ham"], Some("en"), 10), 4);
        let analyzer = Analyzer::from_models(vec![
            (sentiment.clone(), "sentiment".to_owned()),
            (offensive.clone(), "offensive".to_owned()),
            (spam.clone(), "spam".to_owned()),
        ])
        .unwrap();
        let group = &analyzer.groups[0];
        assert_eq!(analyzer.groups.len(), 1);
        // 3 sentiment lanes, 1 offensive (negated), 2 spam, then 2 IDF lanes (one per table).
        assert_eq!(group.stride, 8);
        let lanes: Vec<usize> = group.idf_models.iter().map(|m| m.2).collect();
        assert_eq!(lanes, [6, 6, 7]);
        let loaded = analyzer.model_for("offensive", "en").unwrap();
        assert_eq!(loaded.negated.as_deref(), Some(&[odd_bucket as u32][..]));
        let mut scratch = analyzer.scratch();
        let mut extractor = FeatureExtractor::new(config);
        let mut alone = Vec::new();
        for text in [hit, "nothing to see here, a plain text", "ok", "😡😡"] {
            let analysis = analyzer.analyze_with(&mut scratch, text, Some("en"), &[]);
            extractor.extract(text, &mut features);
            for (model, got) in [
                (&offensive, &analysis.offensive),
                (&sentiment, &analysis.sentiment),
            ] {
                model.predict_into(&features, &mut alone);
                let best = argmax(&alone);
                let expected = Scored {
                    label: model.labels()[best].clone().into(),
                    score: alone[best],
                };
                assert_eq!(
                    got.as_ref(),
                    Some(&expected),
                    "{} on {text:?}",
                    model.task()
                );
            }
            let mut sums = Vec::new();
            FusedGroup::accumulate(group, &features, &mut sums);
            spam.raw_sums_into(&features, &mut alone);
            assert_eq!(&sums[4..6], &alone[..], "spam sums on {text:?}");
        }
        // The odd bucket matters: with IDF too, the second sum of the hit text is not the
        // negative of the first, and the analysis above still matched the model alone.
        extractor.extract(hit, &mut features);
        offensive.raw_sums_into(&features, &mut alone);
        assert_ne!(alone[1], 0.0 - alone[0]);
    }

    #[test]
    fn clauses_split_at_punctuation_and_contrast() {
        let clauses: Vec<&str> =
            split_clauses("X dropped my calls again, switched to Y but love it").collect();
        assert_eq!(
            clauses,
            vec!["X dropped my calls again", " switched to Y ", "but love it"]
        );
        let clauses: Vec<&str> =
            split_clauses("Η Cosmote δεν έχει σήμα, η Vodafone όμως δουλεύει τέλεια").collect();
        assert_eq!(
            clauses,
            vec![
                "Η Cosmote δεν έχει σήμα",
                " η Vodafone όμως δουλεύει τέλεια"
            ]
        );
    }

    #[test]
    fn loading_a_missing_directory_names_it() {
        let error = Analyzer::load(Path::new("/nonexistent/earshot-models")).unwrap_err();
        assert!(error.to_string().contains("/nonexistent/earshot-models"));
    }

    #[test]
    fn analysis_serialises_with_the_issue_field_names() {
        let analysis = Analyzer::rules_only().analyze("thank you so much!", Some("en"));
        let json = serde_json::to_value(&analysis).unwrap();
        for field in [
            "lang",
            "sentiment",
            "offensive",
            "spam",
            "intents",
            "targets",
        ] {
            assert!(json.get(field).is_some(), "{field} missing in {json}");
        }
        assert_eq!(json["intents"][0]["label"], "praise");
    }
}
