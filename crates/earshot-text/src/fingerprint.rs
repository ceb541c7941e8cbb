//! Near-duplicate detection for reposts and copies: 64-bit SimHash fingerprints and an index that
//! finds an earlier fingerprint within a small Hamming distance.

use earshot_core::MentionId;

use crate::analysis::{AnalyzedText, TokenKind};

/// Texts with fewer content words than this get fingerprint 0: they are too short for two of
/// them to be copies rather than coincidence ("thanks zeltron").
const MIN_WORDS: usize = 4;

/// FNV-1a followed by a 64-bit finalizer: stable across runs and platforms (fingerprints are
/// stored), and well mixed in every bit (SimHash votes bit by bit).
fn stable_hash(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            hash ^= 0xff;
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        for &byte in part.as_bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    hash ^ (hash >> 33)
}

/// The words that make a post what it is: URLs, @handles and a retweet marker (`RT @x:`) vary
/// between copies of the same text, so they are left out.
fn content_words(text: &AnalyzedText) -> Vec<&str> {
    let folded = text.folded();
    let kinds = text.kinds();
    let mut words = Vec::with_capacity(folded.len());
    for (i, (word, kind)) in folded.iter().zip(kinds).enumerate() {
        match kind {
            TokenKind::Url | TokenKind::Handle => continue,
            TokenKind::Word | TokenKind::Hashtag => {}
        }
        let marks_a_repost = matches!(word.as_str(), "rt" | "via" | "mt")
            && kinds.get(i + 1) == Some(&TokenKind::Handle);
        if !marks_a_repost {
            words.push(word.as_str());
        }
    }
    words
}

/// 64-bit SimHash over two-word shingles of the folded content words. Near-identical texts get
/// fingerprints a few bits apart; texts with fewer than 4 content words get 0, which means "no
/// fingerprint".
pub fn simhash(text: &AnalyzedText) -> u64 {
    let words = content_words(text);
    if words.len() < MIN_WORDS {
        return 0;
    }
    let mut votes = [0i32; 64];
    for shingle in words.windows(2) {
        let hash = stable_hash(shingle);
        for (bit, vote) in votes.iter_mut().enumerate() {
            if hash >> bit & 1 == 1 {
                *vote += 1;
            } else {
                *vote -= 1;
            }
        }
    }
    let fingerprint = votes
        .iter()
        .enumerate()
        .filter(|(_, &vote)| vote > 0)
        .fold(0u64, |acc, (bit, _)| acc | 1 << bit);
    // 0 is reserved for "no fingerprint"; a real text landing on it is one in 2^64.
    fingerprint.max(1)
}

/// Number of differing bits.
pub fn hamming(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

/// The default greatest Hamming distance between fingerprints of near-duplicates.
pub const DEFAULT_MAX_DISTANCE: u32 = 3;

/// Fingerprints of seen mentions, answering "which earlier mention is a near-duplicate of this
/// one?" in microseconds.
///
/// Fingerprints are split into `max_distance + 1` bands (at least 4): two fingerprints within the
/// distance agree exactly on at least one band (pigeonhole), so only the entries that share a
/// band value are compared. Each bucket keeps its entries' fingerprints next to their numbers, so
/// a lookup scans contiguous memory instead of jumping to each candidate's entry (at a million
/// entries those jumps were cache misses and made lookups several times slower). Each entry
/// costs its fingerprint and id plus 12 bytes per band — about 64 bytes plus bucket slack, so a
/// million entries take some 80 MB.
#[derive(Debug, Clone)]
pub struct NearDupIndex {
    max_distance: u32,
    /// (first bit, width) of each band.
    bands: Vec<(u32, u32)>,
    /// For each band, for each band value, the entries having it, in insertion order.
    buckets: Vec<Vec<Bucket>>,
    entries: Vec<(u64, MentionId)>,
}

/// The entries sharing one band value: `fingerprints[i]` is the fingerprint of entry `entries[i]`.
#[derive(Debug, Clone, Default)]
struct Bucket {
    fingerprints: Vec<u64>,
    entries: Vec<u32>,
}

impl NearDupIndex {
    pub fn new(max_distance: u32) -> Self {
        let band_count = (max_distance.saturating_add(1)).clamp(4, 64);
        let base_width = 64 / band_count;
        let wider = 64 % band_count;
        let mut bands = Vec::with_capacity(band_count as usize);
        let mut first_bit = 0;
        for band in 0..band_count {
            let width = base_width + u32::from(band < wider);
            bands.push((first_bit, width));
            first_bit += width;
        }
        // Bucket tables are allocated on first insert, so an unused index costs nothing.
        let buckets = vec![Vec::new(); bands.len()];
        NearDupIndex {
            max_distance,
            bands,
            buckets,
            entries: Vec::new(),
        }
    }

    fn band_value(fingerprint: u64, (first_bit, width): (u32, u32)) -> usize {
        ((fingerprint >> first_bit) & ((1u64 << width) - 1)) as usize
    }

    /// Remembers a fingerprint. Fingerprint 0 (a text too short to fingerprint) is ignored.
    pub fn insert(&mut self, id: MentionId, fingerprint: u64) {
        if fingerprint == 0 {
            return;
        }
        let Ok(entry) = u32::try_from(self.entries.len()) else {
            // Four billion entries: the index is full; later mentions are simply not deduplicated.
            return;
        };
        self.entries.push((fingerprint, id));
        for (&band, table) in self.bands.iter().zip(&mut self.buckets) {
            if table.is_empty() {
                *table = vec![Bucket::default(); 1 << band.1];
            }
            let bucket = &mut table[Self::band_value(fingerprint, band)];
            bucket.fingerprints.push(fingerprint);
            bucket.entries.push(entry);
        }
    }

    /// The earliest inserted mention whose fingerprint is within the distance of `fingerprint`.
    pub fn find(&self, fingerprint: u64) -> Option<MentionId> {
        self.find_from(fingerprint, 0)
    }

    /// Like [`find`](Self::find), among the entries inserted from the `first`-th on (as counted
    /// by [`len`](Self::len)). A lookup made when the index had `n` entries that found nothing
    /// is brought up to date by `find_from(fingerprint, n)`, which only reads the tails of the
    /// buckets: so the costly lookups can run ahead, in parallel, of the writes that add entries.
    pub fn find_from(&self, fingerprint: u64, first: usize) -> Option<MentionId> {
        if fingerprint == 0 || self.entries.len() <= first {
            return None;
        }
        // `first` is below the entry count, which fits in u32.
        let first = first as u32;
        let mut earliest: Option<u32> = None;
        for (&band, table) in self.bands.iter().zip(&self.buckets) {
            let bucket = &table[Self::band_value(fingerprint, band)];
            // Buckets are in insertion order, so the first hit in a bucket is its earliest.
            let start = if first == 0 {
                0
            } else {
                bucket.entries.partition_point(|&entry| entry < first)
            };
            let hit = bucket.fingerprints[start..]
                .iter()
                .position(|&candidate| hamming(candidate, fingerprint) <= self.max_distance);
            if let Some(position) = hit {
                let entry = bucket.entries[start + position];
                if earliest.is_none_or(|best| entry < best) {
                    earliest = Some(entry);
                }
            }
        }
        earliest.map(|entry| self.entries[entry as usize].1)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Default for NearDupIndex {
    fn default() -> Self {
        NearDupIndex::new(DEFAULT_MAX_DISTANCE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A lookup made early and brought up to date with `find_from` answers what one lookup
        /// in the whole index answers.
        #[test]
        fn an_early_lookup_brought_up_to_date_is_a_late_lookup(
            // Few base values with a few flipped bits, so that near matches are common.
            stored in prop::collection::vec((0usize..4, any::<u64>(), 0u32..6), 0..200),
            probes in prop::collection::vec((0usize..4, any::<u64>(), 0u32..6), 1..50),
            split in 0usize..200,
        ) {
            let bases = [0x0123_4567_89ab_cdef_u64, 0xfedc_ba98_7654_3210, 0x0f0f_0f0f_0f0f_0f0f, 1];
            let make = |(base, noise, flips): (usize, u64, u32)| {
                let mut value = bases[base];
                for bit in 0..flips {
                    value ^= 1 << ((noise >> (bit * 6)) & 63);
                }
                value
            };
            let split = split.min(stored.len());
            let mut early = NearDupIndex::new(3);
            let mut full = NearDupIndex::new(3);
            for (n, &item) in stored.iter().enumerate() {
                if n < split {
                    early.insert(MentionId(n as i64), make(item));
                }
                full.insert(MentionId(n as i64), make(item));
            }
            for &probe in &probes {
                let fingerprint = make(probe);
                let ahead = early.find(fingerprint);
                let caught_up = ahead.or_else(|| full.find_from(fingerprint, early.len()));
                prop_assert_eq!(caught_up, full.find(fingerprint));
            }
        }
    }

    fn fingerprint(text: &str) -> u64 {
        simhash(&AnalyzedText::new(text))
    }

    const ORIGINAL: &str =
        "Zeltron just announced the new Z5 phone with a two day battery, a brighter screen and \
        a much better camera for night photos. Preorders open on Monday in all stores.";

    #[test]
    fn reposts_and_small_edits_stay_close() {
        let original = fingerprint(ORIGINAL);
        let repost = fingerprint(&format!("RT @techfan: {ORIGINAL} https://t.co/abc123"));
        assert!(
            hamming(original, repost) <= 3,
            "{}",
            hamming(original, repost)
        );
        let recased = fingerprint(&ORIGINAL.to_uppercase().replace('.', "!"));
        assert_eq!(original, recased);
        let edited = fingerprint(&ORIGINAL.replace("Monday", "Tuesday"));
        assert!(
            hamming(original, edited) <= 12,
            "{}",
            hamming(original, edited)
        );
    }

    #[test]
    fn different_texts_are_far_apart() {
        let other = fingerprint(
            "Kvantix support never answered my ticket about the broken charger, three weeks and counting, \
             really disappointed with the service this time.",
        );
        assert!(hamming(fingerprint(ORIGINAL), other) > 10);
    }

    #[test]
    fn short_texts_get_no_fingerprint() {
        assert_eq!(fingerprint("thanks zeltron"), 0);
        assert_eq!(fingerprint("RT @a: love zeltron https://t.co/x"), 0);
        assert_eq!(fingerprint(""), 0);
        assert_ne!(fingerprint("love my new zeltron phone"), 0);
    }

    #[test]
    fn fingerprints_are_stable_across_runs() {
        // Stored fingerprints must keep meaning the same thing after an upgrade.
        assert_eq!(
            fingerprint("one two three four"),
            fingerprint("One, two; three — four!")
        );
        assert_eq!(
            stable_hash(&["zeltron", "phone"]),
            stable_hash(&["zeltron", "phone"])
        );
        assert_ne!(stable_hash(&["ab", "c"]), stable_hash(&["a", "bc"]));
    }

    #[test]
    fn hamming_counts_bits() {
        assert_eq!(hamming(0, 0), 0);
        assert_eq!(hamming(0b1011, 0b0001), 2);
        assert_eq!(hamming(u64::MAX, 0), 64);
    }

    #[test]
    fn index_finds_earliest_within_distance() {
        let mut index = NearDupIndex::new(3);
        assert!(index.is_empty());
        let base = 0xDEAD_BEEF_0123_4567u64;
        index.insert(MentionId(1), base ^ 0b111 << 60);
        index.insert(MentionId(2), base);
        index.insert(MentionId(3), base ^ 1);
        assert_eq!(index.len(), 3);
        // Within 3 bits of entry 1 (bits 60-62 differ) and of entries 2 and 3: earliest is 1.
        assert_eq!(index.find(base ^ 0b11 << 60), Some(MentionId(1)));
        // Flipped bits spread across all four bands: entry 1 is 4 bits away, entry 2 is 3.
        assert_eq!(
            index.find(base ^ (1 << 3 | 1 << 20 | 1 << 40)),
            Some(MentionId(2))
        );
        assert_eq!(
            index.find(base ^ (1 << 3 | 1 << 20 | 1 << 40 | 1 << 50) ^ 1),
            None
        );
        assert_eq!(index.find(!base), None);
    }

    #[test]
    fn zero_is_never_a_duplicate() {
        let mut index = NearDupIndex::default();
        index.insert(MentionId(1), 0);
        assert!(index.is_empty());
        index.insert(MentionId(2), 1);
        assert_eq!(index.find(0), None);
        assert_eq!(index.find(1), Some(MentionId(2)));
    }

    #[test]
    fn larger_distances_use_more_bands() {
        let mut index = NearDupIndex::new(7);
        let base = 0x0123_4567_89AB_CDEFu64;
        index.insert(MentionId(9), base);
        let seven_bits_off =
            base ^ (1 << 1 | 1 << 10 | 1 << 19 | 1 << 28 | 1 << 37 | 1 << 46 | 1 << 55);
        assert_eq!(index.find(seven_bits_off), Some(MentionId(9)));
        assert_eq!(index.find(seven_bits_off ^ 1 << 63), None);
    }

    #[test]
    fn agrees_with_a_linear_scan() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut index = NearDupIndex::new(3);
        let mut all = Vec::new();
        for id in 0..2000 {
            // Cluster fingerprints so that near-duplicates actually occur.
            let fingerprint = if id % 3 == 0 || all.is_empty() {
                next()
            } else {
                let (base, _) = all[(next() % all.len() as u64) as usize];
                base ^ (1 << (next() % 64)) ^ (1 << (next() % 64))
            };
            let expected = all
                .iter()
                .find(|(seen, _)| hamming(*seen, fingerprint) <= 3)
                .map(|&(_, id)| id);
            assert_eq!(index.find(fingerprint), expected, "entry {id}");
            index.insert(MentionId(id), fingerprint);
            all.push((fingerprint, MentionId(id)));
        }
    }
}
