//! A per-extractor memo of the words of each chunk of text: where they are in the chunk and
//! their hashes.
//!
//! Splitting the folded text into words (a Unicode letter test per character) and hashing
//! them was a quarter of the instructions of an analysis (docs/BENCHMARKS.md, "Analysis").
//! A chunk (a piece of the folded text between spaces) always splits into the same words,
//! and most chunks of a stream were seen a few texts before, so a chunk found here costs one
//! slot read instead. The words and hashes come out exactly as splitting gives them: the
//! features of a text do not depend on what the extractor saw before.

use crate::chunk_cache::KEY_BYTES;

/// A chunk with more words than this (`a,b,c,d`) is split every time.
pub(crate) const MAX_WORDS: usize = 3;

/// Slots of a memo: 65,536 of 64 bytes, 4 MiB.
const SLOTS: usize = 1 << 16;

/// The words of one chunk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(align(64))]
pub(crate) struct ChunkWords {
    /// The chunk's key ([`crate::chunk_cache::ChunkRef::key`]); all zeros in an empty slot,
    /// which no chunk has.
    key: [u64; 3],
    pub hashes: [u64; MAX_WORDS],
    /// Each word's start and end in the chunk (bytes; a key's chunk has at most
    /// [`KEY_BYTES`] of them).
    pub ranges: [(u8, u8); MAX_WORDS],
    pub words: u8,
}

impl ChunkWords {
    /// No words yet, for the chunk of `key`.
    pub(crate) fn new(key: [u64; 3]) -> ChunkWords {
        ChunkWords {
            key,
            ..ChunkWords::default()
        }
    }

    /// Adds a word; `false` (and nothing added) where the chunk has too many to memoise.
    pub(crate) fn push(&mut self, hash: u64, start: usize, end: usize) -> bool {
        let at = usize::from(self.words);
        if at == MAX_WORDS || end > KEY_BYTES {
            return false;
        }
        self.hashes[at] = hash;
        self.ranges[at] = (start as u8, end as u8);
        self.words += 1;
        true
    }
}

/// Direct-mapped: a chunk's slot is fixed by its key, and a new chunk replaces the old one.
#[derive(Debug, Clone)]
pub(crate) struct WordMemo {
    slots: Vec<ChunkWords>,
}

impl WordMemo {
    pub(crate) fn new() -> WordMemo {
        WordMemo {
            slots: vec![ChunkWords::default(); SLOTS],
        }
    }

    fn slot_of(key: &[u64; 3]) -> usize {
        let mixed = (key[0] ^ key[1].rotate_left(23) ^ key[2].rotate_left(46))
            .wrapping_mul(0xd6e8_feb8_6659_fd93);
        (mixed >> (64 - SLOTS.trailing_zeros())) as usize
    }

    /// The words of the chunk of `key`, where it was seen before.
    #[inline]
    pub(crate) fn get(&self, key: &[u64; 3]) -> Option<&ChunkWords> {
        self.slots
            .get(Self::slot_of(key))
            .filter(|slot| slot.key == *key)
    }

    pub(crate) fn put(&mut self, words: ChunkWords) {
        if let Some(slot) = self.slots.get_mut(Self::slot_of(&words.key)) {
            *slot = words;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_gives_back_its_words_and_only_for_its_key() {
        let mut memo = WordMemo::new();
        let key = [1, 2, 3 << 56];
        let other = [1, 2, 4 << 56];
        assert!(memo.get(&key).is_none());
        let mut words = ChunkWords::new(key);
        assert!(words.push(11, 0, 3));
        assert!(words.push(22, 4, 9));
        memo.put(words);
        assert_eq!(memo.get(&key), Some(&words));
        assert!(memo.get(&other).is_none());
    }

    #[test]
    fn chunks_of_too_many_words_are_not_memoised() {
        let mut words = ChunkWords::new([5, 0, 1 << 56]);
        for i in 0..MAX_WORDS {
            assert!(words.push(i as u64, 2 * i, 2 * i + 1));
        }
        assert!(!words.push(9, 7, 8));
        assert_eq!(usize::from(words.words), MAX_WORDS);
        assert!(!ChunkWords::new([5, 0, 1 << 56]).push(1, 0, KEY_BYTES + 1));
    }
}
