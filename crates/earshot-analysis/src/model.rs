//! A trained linear classifier over hashed features, with i8 weights (one scale per class) and
//! the rows of buckets that quantise to zero left out of the file.
//!
//! File format, version 2, little-endian (version 1 had the same layout but hashed features
//! differently, so its models are refused rather than silently misread):
//! ```text
//! "ESHTMODL"                       magic, 8 bytes
//! u16 version                      = 2
//! str task, str lang ("" = any)    str = u16 byte length + UTF-8
//! u16 classes, str label × classes
//! u8 buckets_log2, u8 word_ngram_max, u8 char_min, u8 char_max
//! f32 scale × classes, f32 bias × classes
//! u32 rows, then per row: LEB128 gap to the previous bucket (the first from 0), i8 × classes
//! u32 CRC-32 of everything before it
//! ```

use std::path::{Path, PathBuf};

use crate::features::{FeatureConfig, SparseVector};

const MAGIC: &[u8; 8] = b"ESHTMODL";
/// 2: FxHash buckets from the top bits of the hash (version 1 models were hashed differently).
/// 3: as 2, followed by an optional table of IDF weights (one byte per bucket).
const VERSION: u16 = 3;
/// Version 2 files are read as models without IDF weights.
const OLDEST_READABLE_VERSION: u16 = 2;
/// IDF weights are stored as `round(idf × IDF_STEPS)` in one byte, from 1/8 to 15.9 (the
/// IDF of a bucket seen once in 3 million texts), so that the value also fits the `i8` lanes of
/// the analyzer's fused tables.
pub(crate) const IDF_STEPS: f32 = 8.0;
const MAX_QUANTIZED_IDF: f32 = 127.0;
const MAX_CLASSES: usize = 4096;
/// A file may not make the loader allocate more than this many weights (256 MiB).
const MAX_WEIGHTS: usize = 1 << 28;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("cannot read model {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write model {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not an Earshot model file (bad magic bytes)")]
    NotAModel { path: PathBuf },
    #[error("{path}: model format version {found} is not supported (this build reads {OLDEST_READABLE_VERSION} to {VERSION})")]
    UnsupportedVersion { path: PathBuf, found: u16 },
    #[error("{path}: checksum mismatch, the model file is corrupt or truncated")]
    Checksum { path: PathBuf },
    #[error("{path}: malformed model: {reason}")]
    Malformed { path: PathBuf, reason: String },
}

/// A softmax classifier ready to predict.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    task: String,
    lang: Option<String>,
    labels: Vec<String>,
    features: FeatureConfig,
    scales: Vec<f32>,
    bias: Vec<f32>,
    /// Dense, `buckets × classes`, row-major: one cache line serves every class of a bucket.
    /// With IDF weights, each row already holds `weight × idf` of its bucket.
    weights: Vec<i8>,
    /// Per bucket, its inverse document frequency in the training data, or empty. With it,
    /// each block of features (words, characters) is normalised after weighting, as a TF-IDF
    /// vectoriser does: the norm needs the IDF of every feature, the dot product does not.
    idf: Vec<f32>,
}

/// An IDF weight as the model file stores it: training uses this value too, so that the model
/// predicts with exactly the weights it was fitted with.
pub fn quantized_idf(idf: f32) -> f32 {
    (idf * IDF_STEPS).round().clamp(1.0, MAX_QUANTIZED_IDF) / IDF_STEPS
}

impl Model {
    /// Quantises float weights (`buckets × classes`, row-major) to i8 with one scale per class.
    /// `prune_below` drops buckets whose largest quantised weight (in absolute value) is below
    /// it: 1 keeps every bucket that has any weight at all.
    pub fn quantize(
        task: &str,
        lang: Option<&str>,
        labels: Vec<String>,
        features: FeatureConfig,
        weights: &[f32],
        bias: Vec<f32>,
        prune_below: u8,
    ) -> Model {
        let classes = labels.len();
        let mut scales = vec![0.0f32; classes];
        for row in weights.chunks_exact(classes.max(1)) {
            for (scale, &w) in scales.iter_mut().zip(row) {
                *scale = scale.max(w.abs());
            }
        }
        for scale in &mut scales {
            *scale = if *scale > 0.0 { *scale / 127.0 } else { 1.0 };
        }
        let mut quantized = vec![0i8; weights.len()];
        for (row_in, row_out) in weights
            .chunks_exact(classes.max(1))
            .zip(quantized.chunks_exact_mut(classes.max(1)))
        {
            for ((out, &w), &scale) in row_out.iter_mut().zip(row_in).zip(&scales) {
                *out = (w / scale).round().clamp(-127.0, 127.0) as i8;
            }
            let largest = row_out.iter().map(|q| q.unsigned_abs()).max().unwrap_or(0);
            if largest < prune_below {
                row_out.fill(0);
            }
        }
        Model {
            task: task.to_owned(),
            lang: lang.map(str::to_owned),
            labels,
            features,
            scales,
            bias,
            weights: quantized,
            idf: Vec::new(),
        }
    }

    /// The same model with IDF weights (one per bucket, see [`quantized_idf`]); `weights`
    /// given to [`Model::quantize`] must then be the fitted weights times the IDF.
    pub fn with_idf(mut self, idf: Vec<f32>) -> Model {
        debug_assert_eq!(idf.len(), self.features.buckets());
        self.idf = idf.into_iter().map(quantized_idf).collect();
        self
    }

    /// The IDF weights per bucket, empty for a model without them.
    pub fn idf(&self) -> &[f32] {
        &self.idf
    }

    pub fn task(&self) -> &str {
        &self.task
    }

    /// The language of the training data, or `None` for a model meant for any language.
    pub fn lang(&self) -> Option<&str> {
        self.lang.as_deref()
    }

    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    pub fn class_of_label(&self, label: &str) -> Option<usize> {
        self.labels.iter().position(|l| l == label)
    }

    pub fn feature_config(&self) -> FeatureConfig {
        self.features
    }

    /// Buckets with at least one non-zero weight: what the file stores.
    pub fn stored_rows(&self) -> usize {
        self.weights
            .chunks_exact(self.labels.len().max(1))
            .filter(|row| row.iter().any(|&q| q != 0))
            .count()
    }

    /// Class probabilities of a feature vector (extracted with [`Model::feature_config`]) into
    /// `probabilities`, in the order of [`Model::labels`].
    pub fn predict_into(&self, features: &SparseVector, probabilities: &mut Vec<f32>) {
        self.raw_sums_into(features, probabilities);
        self.finish_in_place(probabilities);
    }

    /// The sums per class [`Model::predict_into`] starts from, before scale, bias and softmax:
    /// with IDF weights, each block's sum scaled by its norm.
    pub(crate) fn raw_sums_into(&self, features: &SparseVector, sums: &mut Vec<f32>) {
        if self.idf.is_empty() {
            self.sums_into(features, sums);
        } else {
            self.idf_sums_into(features, sums);
        }
    }

    /// `Σ value × quantised weight` per class into `sums`, before scale, bias and softmax, for
    /// a model without IDF weights: the floats [`Model::predict_into`] starts from.
    pub(crate) fn sums_into(&self, features: &SparseVector, sums: &mut Vec<f32>) {
        let classes = self.labels.len();
        sums.clear();
        sums.resize(classes, 0.0);
        if let Some(scales) = features.block_scales {
            let [words, chars] = self.block_sums(features, false);
            for (class, sum) in sums.iter_mut().enumerate() {
                *sum = scaled_sum(words.lanes[class], chars.lanes[class], scales);
            }
            return;
        }
        let rows = self.weights.len() / classes.max(1);
        for (&index, &value) in features.indices.iter().zip(&features.values) {
            let index = index as usize;
            if index >= rows {
                continue;
            }
            let row = &self.weights[index * classes..(index + 1) * classes];
            for (acc, &q) in sums.iter_mut().zip(row) {
                *acc += value * f32::from(q);
            }
        }
    }

    /// The integer sums of each block (words, characters) of an extracted vector: per class
    /// `Σ ±weight`, and with `idf` the `Σ (IDF steps)²` of the block.
    fn block_sums(&self, features: &SparseVector, idf: bool) -> [BlockSums; 2] {
        let classes = self.labels.len();
        let rows = self.weights.len() / classes.max(1);
        let split = features.word_features.min(features.len());
        [0..split, split..features.len()].map(|range| {
            let mut block = BlockSums {
                lanes: vec![0; classes],
                squares: 0,
                count: range.len() as i64,
            };
            for (&index, &value) in features.indices[range.clone()]
                .iter()
                .zip(&features.values[range])
            {
                let index = index as usize;
                if idf {
                    if let Some(&weight) = self.idf.get(index) {
                        let steps = i64::from(idf_steps(weight));
                        block.squares += steps * steps;
                    }
                }
                if index >= rows {
                    continue;
                }
                let negative = value.is_sign_negative();
                let row = &self.weights[index * classes..(index + 1) * classes];
                for (lane, &q) in block.lanes.iter_mut().zip(row) {
                    *lane += signed(q, negative);
                }
            }
            block
        })
    }

    fn idf_sums_into(&self, features: &SparseVector, probabilities: &mut Vec<f32>) {
        let classes = self.labels.len();
        probabilities.clear();
        probabilities.resize(classes, 0.0);
        if let Some(scales) = features.block_scales {
            let [words, chars] = self.block_sums(features, true);
            let factors =
                [&words, &chars].map(|block| count_block_factor(block.count, block.squares));
            for (class, sum) in probabilities.iter_mut().enumerate() {
                *sum = idf_scaled_sum(words.lanes[class], chars.lanes[class], scales, factors);
            }
            return;
        }
        let rows = self.weights.len() / classes.max(1);
        let accumulate = |range: std::ops::Range<usize>, sums: &mut [f32]| {
            for (&index, &value) in features.indices[range.clone()]
                .iter()
                .zip(&features.values[range])
            {
                let index = index as usize;
                if index >= rows {
                    continue;
                }
                let row = &self.weights[index * classes..(index + 1) * classes];
                for (acc, &q) in sums.iter_mut().zip(row) {
                    *acc += value * f32::from(q);
                }
            }
        };
        let split = features.word_features.min(features.len());
        let mut block = vec![0.0f32; classes];
        for range in [0..split, split..features.len()] {
            block.fill(0.0);
            accumulate(range.clone(), &mut block);
            let factor = self.block_factor(features, range);
            for (acc, &sum) in probabilities.iter_mut().zip(&block) {
                *acc += sum * factor;
            }
        }
    }

    /// What a block of features (a range of `features`) is multiplied by once weighted by IDF
    /// so that it keeps the norm it had before: `‖v‖ / ‖v · idf‖`.
    pub(crate) fn block_factor(
        &self,
        features: &SparseVector,
        range: std::ops::Range<usize>,
    ) -> f32 {
        let (mut plain, mut weighted) = (0.0f32, 0.0f32);
        for (&index, &value) in features.indices[range.clone()]
            .iter()
            .zip(&features.values[range])
        {
            plain += value * value;
            if let Some(&idf) = self.idf.get(index as usize) {
                let scaled = value * (idf * IDF_STEPS);
                weighted += scaled * scaled;
            }
        }
        block_factor(plain, weighted)
    }

    /// Turns the sums of `value × quantised weight` per class into probabilities: scale, bias,
    /// softmax. Shared with the fused tables of the analyzer, so both give identical results.
    pub(crate) fn finish_in_place(&self, sums: &mut [f32]) {
        for ((score, &scale), &bias) in sums.iter_mut().zip(&self.scales).zip(&self.bias) {
            *score = *score * scale + bias;
        }
        softmax_in_place(sums);
    }

    /// The quantised weights, `buckets × classes`, row-major.
    pub(crate) fn quantized_weights(&self) -> &[i8] {
        &self.weights
    }

    /// The label with the highest probability, and that probability.
    pub fn predict(&self, features: &SparseVector) -> (&str, f32) {
        let mut probabilities = Vec::with_capacity(self.labels.len());
        self.predict_into(features, &mut probabilities);
        let best = crate::eval::argmax(&probabilities);
        match (self.labels.get(best), probabilities.get(best)) {
            (Some(label), Some(&p)) => (label, p),
            _ => ("", 0.0),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let classes = self.labels.len();
        let mut out = Vec::with_capacity(1024 + self.weights.len() / 4);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        put_str(&mut out, &self.task);
        put_str(&mut out, self.lang.as_deref().unwrap_or(""));
        out.extend_from_slice(&(classes as u16).to_le_bytes());
        for label in &self.labels {
            put_str(&mut out, label);
        }
        out.extend_from_slice(&[
            self.features.buckets_log2,
            self.features.word_ngram_max,
            self.features.char_min,
            self.features.char_max,
        ]);
        for value in self.scales.iter().chain(&self.bias) {
            out.extend_from_slice(&value.to_le_bytes());
        }
        out.extend_from_slice(&(self.stored_rows() as u32).to_le_bytes());
        let mut previous = 0usize;
        for (bucket, row) in self.weights.chunks_exact(classes.max(1)).enumerate() {
            if row.iter().all(|&q| q == 0) {
                continue;
            }
            put_varint(&mut out, (bucket - previous) as u64);
            previous = bucket;
            out.extend(row.iter().map(|&q| q as u8));
        }
        out.push(u8::from(!self.idf.is_empty()));
        out.extend(self.idf.iter().map(|&idf| (idf * IDF_STEPS).round() as u8));
        let checksum = crc32fast::hash(&out);
        out.extend_from_slice(&checksum.to_le_bytes());
        out
    }

    /// Reads a model from bytes; `path` only names the source in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Model, ModelError> {
        let malformed = |reason: String| ModelError::Malformed {
            path: path.to_owned(),
            reason,
        };
        if bytes.len() < MAGIC.len() + 2 || &bytes[..MAGIC.len()] != MAGIC {
            return Err(ModelError::NotAModel {
                path: path.to_owned(),
            });
        }
        let version = u16::from_le_bytes([bytes[8], bytes[9]]);
        if !(OLDEST_READABLE_VERSION..=VERSION).contains(&version) {
            return Err(ModelError::UnsupportedVersion {
                path: path.to_owned(),
                found: version,
            });
        }
        if bytes.len() < 14 {
            return Err(ModelError::Checksum {
                path: path.to_owned(),
            });
        }
        let (body, trailer) = bytes.split_at(bytes.len() - 4);
        let stored = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
        if crc32fast::hash(body) != stored {
            return Err(ModelError::Checksum {
                path: path.to_owned(),
            });
        }
        let mut reader = Reader {
            bytes: body,
            at: 10,
        };
        let task = reader.string().map_err(malformed)?;
        let lang = reader.string().map_err(malformed)?;
        let classes = usize::from(reader.u16().map_err(malformed)?);
        if !(2..=MAX_CLASSES).contains(&classes) {
            return Err(malformed(format!("{classes} classes")));
        }
        let labels = (0..classes)
            .map(|_| reader.string())
            .collect::<Result<Vec<_>, _>>()
            .map_err(malformed)?;
        let config = reader.take(4).map_err(malformed)?;
        let features = FeatureConfig {
            buckets_log2: config[0],
            word_ngram_max: config[1],
            char_min: config[2],
            char_max: config[3],
        };
        features.validate().map_err(malformed)?;
        let mut floats = Vec::with_capacity(2 * classes);
        for _ in 0..2 * classes {
            let value = reader.f32().map_err(malformed)?;
            if !value.is_finite() {
                return Err(malformed("a scale or bias is not finite".to_owned()));
            }
            floats.push(value);
        }
        let bias = floats.split_off(classes);
        let scales = floats;
        let rows = reader.u32().map_err(malformed)? as usize;
        let buckets = features.buckets();
        if buckets.saturating_mul(classes) > MAX_WEIGHTS {
            return Err(malformed(format!(
                "{buckets} buckets × {classes} classes is more weights than a model may hold"
            )));
        }
        if rows > buckets {
            return Err(malformed(format!("{rows} rows for {buckets} buckets")));
        }
        let mut weights = vec![0i8; buckets * classes];
        let mut bucket = 0usize;
        for row in 0..rows {
            let gap = reader.varint().map_err(malformed)? as usize;
            if row > 0 && gap == 0 {
                return Err(malformed(format!("row {row} repeats bucket {bucket}")));
            }
            bucket = bucket.saturating_add(gap);
            if bucket >= buckets {
                return Err(malformed(format!("bucket {bucket} beyond {buckets}")));
            }
            let values = reader.take(classes).map_err(malformed)?;
            for (out, &q) in weights[bucket * classes..].iter_mut().zip(values) {
                *out = q as i8;
            }
        }
        let mut idf = Vec::new();
        if version >= 3 && reader.take(1).map_err(malformed)?[0] == 1 {
            let bytes = reader.take(buckets).map_err(malformed)?;
            if bytes
                .iter()
                .any(|&q| q == 0 || f32::from(q) > MAX_QUANTIZED_IDF)
            {
                return Err(malformed("an IDF weight out of range".to_owned()));
            }
            idf = bytes.iter().map(|&q| f32::from(q) / IDF_STEPS).collect();
        }
        if reader.at != body.len() {
            return Err(malformed(format!(
                "{} bytes after the last row",
                body.len() - reader.at
            )));
        }
        Ok(Model {
            task,
            lang: (!lang.is_empty()).then_some(lang),
            labels,
            features,
            scales,
            bias,
            weights,
            idf,
        })
    }

    pub fn save(&self, path: &Path) -> Result<(), ModelError> {
        std::fs::write(path, self.to_bytes()).map_err(|source| ModelError::Write {
            path: path.to_owned(),
            source,
        })
    }

    pub fn load(path: &Path) -> Result<Model, ModelError> {
        let bytes = std::fs::read(path).map_err(|source| ModelError::Read {
            path: path.to_owned(),
            source,
        })?;
        Model::from_bytes(&bytes, path)
    }
}

/// The integer sums of one block of an extracted vector ([`SparseVector::block_scales`]):
/// exact, so the same in any order of the features.
pub(crate) struct BlockSums {
    /// Per class (or lane), `Σ ±weight` over the block's entries.
    pub lanes: Vec<i32>,
    /// `Σ (IDF steps)²` over the block's entries.
    pub squares: i64,
    /// How many entries the block has.
    pub count: i64,
}

/// `q` with the sign of an entry: `-q` for a negative one. Branch-free, so the compiler
/// vectorises the loops that call it.
#[inline(always)]
pub(crate) fn signed(q: i8, negative: bool) -> i32 {
    let mask = -i32::from(negative);
    (i32::from(q) ^ mask) - mask
}

/// An IDF weight in steps, as the fused tables of the analyzer store it.
pub(crate) fn idf_steps(idf: f32) -> i32 {
    (idf * IDF_STEPS).round() as i32
}

/// A class's sum from the integer sums of its two blocks and the blocks' scales: what a
/// model without IDF weights starts from (the analyzer's fused tables compute the same).
#[inline(always)]
pub(crate) fn scaled_sum(words: i32, chars: i32, scales: [f32; 2]) -> f32 {
    words as f32 * scales[0] + chars as f32 * scales[1]
}

/// [`scaled_sum`] with each block also multiplied by its IDF factor ([`count_block_factor`]).
#[inline(always)]
pub(crate) fn idf_scaled_sum(words: i32, chars: i32, scales: [f32; 2], factors: [f32; 2]) -> f32 {
    (words as f32 * scales[0]) * factors[0] + (chars as f32 * scales[1]) * factors[1]
}

/// `‖v‖ / ‖v · idf‖` of a block whose entries are all `±s`: `s` cancels, leaving the count of
/// entries and `Σ (IDF steps)²`.
#[inline(always)]
pub(crate) fn count_block_factor(count: i64, squares: i64) -> f32 {
    block_factor(count as f32, squares as f32)
}

/// `‖v‖ / ‖v · idf‖` from `Σ v²` and `Σ (v · idf · IDF_STEPS)²`, the sums the fused tables of
/// the analyzer compute too (the same operations, so the same floats).
pub(crate) fn block_factor(plain: f32, weighted_in_steps: f32) -> f32 {
    if weighted_in_steps > 0.0 {
        (plain / (weighted_in_steps / (IDF_STEPS * IDF_STEPS))).sqrt()
    } else {
        0.0
    }
}

/// Softmax over `scores`, stable for large scores.
pub fn softmax_in_place(scores: &mut [f32]) {
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for s in scores.iter_mut() {
        *s = (*s - max).exp();
        sum += *s;
    }
    if sum > 0.0 && sum.is_finite() {
        for s in scores.iter_mut() {
            *s /= sum;
        }
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    // Labels, tasks and languages are short; a longer one is cut at a character boundary.
    let mut end = s.len().min(usize::from(u16::MAX));
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    out.extend_from_slice(&(end as u16).to_le_bytes());
    out.extend_from_slice(&s.as_bytes()[..end]);
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| format!("ends early at byte {}", self.at))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn u16(&mut self) -> Result<u16, String> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn f32(&mut self) -> Result<f32, String> {
        Ok(f32::from_bits(self.u32()?))
    }

    fn string(&mut self) -> Result<String, String> {
        let len = usize::from(self.u16()?);
        let at = self.at;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| format!("text at byte {at} is not UTF-8"))
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.take(1)?[0];
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(format!("overlong number before byte {}", self.at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::FeatureExtractor;

    fn small_config() -> FeatureConfig {
        FeatureConfig {
            buckets_log2: 8,
            ..FeatureConfig::default()
        }
    }

    fn model_with_weights() -> Model {
        let config = small_config();
        let mut weights = vec![0.0f32; config.buckets() * 2];
        weights[10] = 0.5;
        weights[11] = -0.25;
        weights[100] = -1.0;
        weights[301] = 0.0005; // quantises to zero: pruned
        Model::quantize(
            "spam",
            Some("en"),
            vec!["spam".into(), "ham".into()],
            config,
            &weights,
            vec![0.1, -0.1],
            1,
        )
    }

    #[test]
    fn round_trip_keeps_the_model_and_stores_only_nonzero_rows() {
        let model = model_with_weights();
        assert_eq!(model.stored_rows(), 2);
        let bytes = model.to_bytes();
        let back = Model::from_bytes(&bytes, Path::new("m.esm")).unwrap();
        assert_eq!(back, model);
        assert_eq!(back.lang(), Some("en"));
        assert_eq!(back.task(), "spam");
    }

    fn idf_of(config: FeatureConfig) -> Vec<f32> {
        (0..config.buckets())
            .map(|b| 1.0 + (b % 50) as f32 / 5.0)
            .collect()
    }

    #[test]
    fn idf_weights_round_trip_and_version_2_files_still_load() {
        let model = model_with_weights().with_idf(idf_of(small_config()));
        assert_eq!(model.idf().len(), 256);
        let back = Model::from_bytes(&model.to_bytes(), Path::new("m.esm")).unwrap();
        assert_eq!(back, model);

        // A version 2 file: the same body without the IDF flag byte.
        let plain = model_with_weights();
        let mut bytes = plain.to_bytes();
        bytes.truncate(bytes.len() - 5);
        bytes[8..10].copy_from_slice(&2u16.to_le_bytes());
        let checksum = crc32fast::hash(&bytes);
        bytes.extend_from_slice(&checksum.to_le_bytes());
        let old = Model::from_bytes(&bytes, Path::new("old.esm")).unwrap();
        assert_eq!(old, plain);
        assert!(old.idf().is_empty());
    }

    #[test]
    fn an_idf_weight_of_zero_is_malformed() {
        let mut bytes = model_with_weights()
            .with_idf(idf_of(small_config()))
            .to_bytes();
        let last_idf = bytes.len() - 5;
        bytes[last_idf] = 0;
        bytes.truncate(bytes.len() - 4);
        let checksum = crc32fast::hash(&bytes);
        bytes.extend_from_slice(&checksum.to_le_bytes());
        let error = Model::from_bytes(&bytes, Path::new("x.esm")).unwrap_err();
        assert!(
            error.to_string().contains("IDF weight out of range"),
            "{error}"
        );
    }

    #[test]
    fn the_same_idf_everywhere_predicts_as_no_idf_and_varied_idf_reweighs_blocks() {
        // With one IDF for every bucket the weighting cancels in each block's norm: the same
        // probabilities as the model without it (the weights folded with the IDF quantise to
        // the same steps, with a scale that many times larger).
        let config = small_config();
        let mut extractor = FeatureExtractor::new(config);
        let mut features = SparseVector::default();
        extractor.extract("win money now, win big!", &mut features);
        assert!(features.word_features > 0 && features.word_features < features.len());
        let mut weights = vec![0.0f32; config.buckets() * 2];
        for (i, (index, value)) in features.iter().enumerate() {
            weights[index as usize * 2 + i % 2] += value;
        }
        let build = |weights: &[f32]| {
            Model::quantize(
                "spam",
                None,
                vec!["spam".into(), "ham".into()],
                config,
                weights,
                vec![0.0, 0.0],
                1,
            )
        };
        let plain = build(&weights);
        let tripled: Vec<f32> = weights.iter().map(|w| w * 3.0).collect();
        let constant = build(&tripled).with_idf(vec![3.0; config.buckets()]);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        plain.predict_into(&features, &mut a);
        constant.predict_into(&features, &mut b);
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-5, "{a:?} vs {b:?}");
        }
        let varied = build(&tripled).with_idf(idf_of(config));
        varied.predict_into(&features, &mut b);
        assert!(
            a.iter().zip(&b).any(|(x, y)| (x - y).abs() > 1e-3),
            "{a:?} vs {b:?}"
        );
    }

    #[test]
    fn quantisation_keeps_weights_within_one_step() {
        let model = model_with_weights();
        // Class 0 (even indices) has scale 1.0/127: 0.5 is 63.5 steps, rounded away from zero.
        assert_eq!(model.weights[10], 64);
        assert_eq!(model.weights[100], -127);
        // Class 1 has scale 0.25/127: 0.0005 is 0.254 steps, which rounds to zero.
        assert_eq!(model.weights[11], -127);
        assert_eq!(model.weights[301], 0);
    }

    #[test]
    fn every_corruption_is_a_clear_error() {
        let bytes = model_with_weights().to_bytes();
        let path = Path::new("models/spam.esm");

        let mut flipped = bytes.clone();
        let middle = flipped.len() / 2;
        flipped[middle] ^= 0x40;
        let error = Model::from_bytes(&flipped, path).unwrap_err();
        assert!(matches!(error, ModelError::Checksum { .. }), "{error}");
        assert!(error.to_string().contains("models/spam.esm"));

        let truncated = &bytes[..bytes.len() - 3];
        assert!(matches!(
            Model::from_bytes(truncated, path),
            Err(ModelError::Checksum { .. })
        ));

        assert!(matches!(
            Model::from_bytes(b"PK\x03\x04 not a model", path),
            Err(ModelError::NotAModel { .. })
        ));
        assert!(matches!(
            Model::from_bytes(&[], path),
            Err(ModelError::NotAModel { .. })
        ));

        let mut future = bytes.clone();
        future[8] = 9;
        assert!(matches!(
            Model::from_bytes(&future, path),
            Err(ModelError::UnsupportedVersion { found: 9, .. })
        ));
    }

    #[test]
    fn a_well_checksummed_but_inconsistent_body_is_malformed() {
        let mut bytes = model_with_weights().to_bytes();
        bytes.truncate(bytes.len() - 4);
        bytes.push(0); // a stray byte after the rows
        let checksum = crc32fast::hash(&bytes);
        bytes.extend_from_slice(&checksum.to_le_bytes());
        let error = Model::from_bytes(&bytes, Path::new("x.esm")).unwrap_err();
        assert!(error.to_string().contains("after the last row"), "{error}");
    }

    #[test]
    fn probabilities_sum_to_one_and_follow_the_weights() {
        let config = small_config();
        let mut extractor = FeatureExtractor::new(config);
        let mut features = SparseVector::default();
        extractor.extract("win money", &mut features);
        let mut weights = vec![0.0f32; config.buckets() * 2];
        for (index, value) in features.iter() {
            weights[index as usize * 2] += value;
        }
        let model = Model::quantize(
            "spam",
            None,
            vec!["spam".into(), "ham".into()],
            config,
            &weights,
            vec![0.0, 0.0],
            1,
        );
        let mut probabilities = Vec::new();
        model.predict_into(&features, &mut probabilities);
        assert!((probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert_eq!(model.predict(&features).0, "spam");
        model.predict_into(&SparseVector::default(), &mut probabilities);
        assert_eq!(probabilities, vec![0.5, 0.5]);
    }

    #[test]
    fn softmax_survives_huge_scores() {
        let mut scores = [1e30f32, 0.0, -1e30];
        softmax_in_place(&mut scores);
        assert_eq!(scores, [1.0, 0.0, 0.0]);
    }
}
