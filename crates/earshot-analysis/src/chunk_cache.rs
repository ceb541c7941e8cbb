//! A per-thread memo of what each chunk of text adds to a fused table's sums.
//!
//! Nine in ten features of a text are the character grams of its chunks (the pieces between
//! spaces), and a chunk's grams depend on the chunk alone. Words repeat (Zipf): in a stream of
//! mentions most chunks were seen a few texts before. So the integer sums of a chunk's grams
//! over the rows of a fused table (per lane `Σ ±weight`, the squares of the IDF lanes, the
//! number of grams) are kept in a two-way set-associative table keyed by the chunk's bytes (the
//! chunk may sit in either slot of its set; a new one replaces the one used less recently),
//! and a chunk seen before costs one lookup instead of hashing its grams and reading a row for
//! each.
//!
//! The sums are integers, so a text added up from memoised chunks gets exactly the floats it
//! gets from its grams one by one (the scale of each block is applied once at the end): the
//! analysis of a text never depends on what the thread analysed before.

/// Chunks of at most this many bytes are memoised (their bytes are the key, compared whole);
/// longer ones, about one in a hundred, are added up gram by gram every time.
pub(crate) const KEY_BYTES: usize = 23;

/// At most this many bytes of slots per table.
const MAX_TABLE_BYTES: usize = 4 << 20;

/// At most this many bytes of memos in the process, all threads together: on a machine with
/// many cores the analysing threads beyond it add their texts up gram by gram (same results)
/// instead of taking 4 MiB per language each.
const MAX_PROCESS_BYTES: usize = 96 << 20;

/// Bytes of the memos alive now.
static LIVE_BYTES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Where a slot's parts start, in `i32`s: the key (three `u64` as six `i32`), then the count of
/// grams with the exception flag, then the lanes, then the squares of the IDF lanes.
const KEY_WORDS: usize = 6;
const COUNT_AT: usize = KEY_WORDS;
const LANES_AT: usize = COUNT_AT + 1;
/// The bit of the count word that says the chunk has a gram in one of the group's exception
/// buckets (two-class models whose weights are not exact negatives there).
const EXCEPTION_FLAG: i32 = 1 << 30;
/// The bit of the first slot's count word of a set that says its second slot was used more
/// recently than the first.
const SECOND_RECENT: i32 = 1 << 29;
/// The bits of a count word that are the count.
const COUNT_BITS: i32 = SECOND_RECENT - 1;

/// Where a chunk's set starts in the memo, and the chunk's key.
pub(crate) type Slot = (usize, [u64; 3]);

/// One chunk of the folded text: where it is, and its key when it is short enough.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChunkRef {
    pub start: u32,
    pub end: u32,
    pub key: Option<[u64; 3]>,
}

/// The bytes zero-padded to 24 with the length in the last byte (never zero: a chunk has a
/// byte, so an empty slot, all zeros, matches no key).
pub(crate) fn chunk_key(bytes: &[u8]) -> Option<[u64; 3]> {
    if bytes.is_empty() || bytes.len() > KEY_BYTES {
        return None;
    }
    let mut padded = [0u8; 24];
    padded[..bytes.len()].copy_from_slice(bytes);
    padded[23] = bytes.len() as u8;
    let mut key = [0u64; 3];
    for (word, eight) in key.iter_mut().zip(padded.chunks_exact(8)) {
        let mut array = [0u8; 8];
        array.copy_from_slice(eight);
        *word = u64::from_le_bytes(array);
    }
    Some(key)
}

/// The memo of one fused table (its lanes and IDF lanes), for one thread.
#[derive(Debug)]
pub(crate) struct ChunkCache {
    data: Vec<i32>,
    /// Where the first slot starts in `data`, so that slots start on 64-byte lines.
    first: usize,
    slot_len: usize,
    /// `2 × slot_len`: where one set starts after the other.
    set_len: usize,
    lanes: usize,
    /// The lanes whose squares are kept (the group's IDF lanes).
    square_lanes: Vec<usize>,
    /// The memo holds `2^set_bits` sets of two slots.
    set_bits: u32,
    pub hits: u64,
    pub misses: u64,
    /// The chunks of the current text not found, with their slots and where their grams end
    /// (a buffer kept between texts).
    pub pending: Vec<(Option<Slot>, usize)>,
}

impl ChunkCache {
    /// A memo for a table of `lanes` lanes, or `None` where the memos alive would pass
    /// [`MAX_PROCESS_BYTES`].
    pub(crate) fn new(lanes: usize, square_lanes: &[usize]) -> Option<ChunkCache> {
        let used = LANES_AT + lanes + square_lanes.len();
        let slot_len = used.div_ceil(16) * 16;
        let fit = (MAX_TABLE_BYTES / (slot_len * 4)).max(2);
        let slots = if fit.is_power_of_two() {
            fit
        } else {
            fit.next_power_of_two() / 2
        };
        let words = slots * slot_len + 16;
        let bytes = words * 4;
        if !reserve(&LIVE_BYTES, bytes, MAX_PROCESS_BYTES) {
            return None;
        }
        let data = vec![0i32; words];
        let skew = (data.as_ptr() as usize / 4) % 16;
        Some(ChunkCache {
            data,
            first: (16 - skew) % 16,
            slot_len,
            set_len: 2 * slot_len,
            lanes,
            square_lanes: square_lanes.to_vec(),
            set_bits: slots.trailing_zeros() - 1,
            hits: 0,
            misses: 0,
            pending: Vec::new(),
        })
    }

    /// Where the set of `key` (its two slots, one after the other) starts in `data`.
    #[inline(always)]
    pub(crate) fn set_of(&self, key: &[u64; 3]) -> usize {
        let mixed = (key[0] ^ key[1].rotate_left(21) ^ key[2].rotate_left(42))
            .wrapping_mul(0x9e37_79b9_7f4a_7c15);
        // The top `set_bits` bits (none where there is one set), without a branch.
        let set = ((mixed >> 1) >> (63 - self.set_bits)) as usize;
        self.first + set * self.set_len
    }

    /// Asks for both slots of the set at `at` to be brought into the cache, without waiting.
    #[inline(always)]
    pub(crate) fn prefetch(&self, at: usize) {
        self.prefetch_line(at);
        self.prefetch_line(at + self.slot_len);
    }

    #[inline(always)]
    fn prefetch_line(&self, at: usize) {
        #[cfg(target_arch = "x86_64")]
        if at < self.data.len() {
            // SAFETY: prefetching is only a hint to the cache; it never faults and reads
            // nothing into the program, and the address is inside `data` anyway.
            unsafe {
                std::arch::x86_64::_mm_prefetch(
                    self.data.as_ptr().add(at).cast::<i8>(),
                    std::arch::x86_64::_MM_HINT_T0,
                );
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = at;
    }

    /// Which slot of the set at `at` holds `key`, if one does.
    #[inline(always)]
    fn way_of(&self, at: usize, key: &[u64; 3]) -> Option<usize> {
        (0..2).find(|&way| {
            let start = at + way * self.slot_len;
            self.data
                .get(start..start + KEY_WORDS)
                .is_some_and(|words| holds_key(words, key))
        })
    }

    /// Where the slot that holds `key` in the set at `at` starts, for [`ChunkCache::sums_at`].
    /// A hit marks its slot as the more recently used of the two.
    #[inline(always)]
    pub(crate) fn find(&mut self, at: usize, key: &[u64; 3]) -> Option<usize> {
        let way = self.way_of(at, key)?;
        let first_count = self.data.get_mut(at + COUNT_AT)?;
        let recent = if way == 1 { SECOND_RECENT } else { 0 };
        if *first_count & SECOND_RECENT != recent {
            *first_count ^= SECOND_RECENT;
        }
        Some(at + way * self.slot_len)
    }

    /// The memoised sums in the slot at `start` (from [`ChunkCache::find`]): the lanes, the
    /// squares of the IDF lanes (in the order given to [`ChunkCache::new`]), the count of grams
    /// and the exception flag.
    #[inline(always)]
    pub(crate) fn sums_at(&self, start: usize) -> (&[i32], &[i32], i32, bool) {
        let slot = &self.data[start..start + self.slot_len];
        let count = slot[COUNT_AT];
        let lanes = &slot[LANES_AT..LANES_AT + self.lanes];
        let squares = &slot[LANES_AT + self.lanes..LANES_AT + self.lanes + self.square_lanes.len()];
        (
            lanes,
            squares,
            count & COUNT_BITS,
            count & EXCEPTION_FLAG != 0,
        )
    }

    /// The memoised sums of `key` in the set at `at` ([`ChunkCache::find`], then
    /// [`ChunkCache::sums_at`]).
    #[cfg(test)]
    fn get(&mut self, at: usize, key: &[u64; 3]) -> Option<(&[i32], &[i32], i32, bool)> {
        let start = self.find(at, key)?;
        Some(self.sums_at(start))
    }

    /// Memoises the sums of `key` in the set at `at`: in the slot that holds `key` already,
    /// else in the one used less recently. `squares` holds every lane's; only the IDF lanes'
    /// are kept.
    pub(crate) fn put(
        &mut self,
        at: usize,
        key: &[u64; 3],
        lanes: &[i32],
        squares: &[i64],
        count: i64,
        exception: bool,
    ) {
        // A memoised chunk has at most KEY_BYTES + 2 positions, so a handful of grams per
        // position: far below the flag bits, and its squares (≤ 128² each) fit an i32.
        let Ok(count) = i32::try_from(count) else {
            return;
        };
        if count > COUNT_BITS {
            return;
        }
        let Some(&first_count) = self.data.get(at + COUNT_AT) else {
            return;
        };
        let way = self
            .way_of(at, key)
            .unwrap_or(if first_count & SECOND_RECENT != 0 {
                0
            } else {
                1
            });
        let (lanes_len, square_lanes) = (self.lanes, &self.square_lanes);
        let start = at + way * self.slot_len;
        let Some(slot) = self.data.get_mut(start..start + self.slot_len) else {
            return;
        };
        for (i, &word) in key.iter().enumerate() {
            slot[2 * i] = word as u32 as i32;
            slot[2 * i + 1] = (word >> 32) as u32 as i32;
        }
        slot[COUNT_AT] = count | if exception { EXCEPTION_FLAG } else { 0 };
        slot[LANES_AT..LANES_AT + lanes_len].copy_from_slice(&lanes[..lanes_len]);
        for (out, &lane) in slot[LANES_AT + lanes_len..].iter_mut().zip(square_lanes) {
            *out = i32::try_from(squares[lane]).unwrap_or(i32::MAX);
        }
        // The slot just written is the more recent (writing the first slot's count cleared
        // the bit already).
        if way == 1 {
            self.data[at + COUNT_AT] |= SECOND_RECENT;
        }
    }

    /// The lanes whose squares [`ChunkCache::get`] returns, in its order.
    pub(crate) fn square_lanes(&self) -> &[usize] {
        &self.square_lanes
    }
}

/// Whether the key words of a slot are `key`.
#[inline(always)]
fn holds_key(words: &[i32], key: &[u64; 3]) -> bool {
    key.iter().enumerate().all(|(i, &word)| {
        let low = words[2 * i] as u32;
        let high = words[2 * i + 1] as u32;
        (u64::from(high) << 32 | u64::from(low)) == word
    })
}

/// Adds `bytes` to `live` where the sum stays within `max`; whether it did.
fn reserve(live: &std::sync::atomic::AtomicUsize, bytes: usize, max: usize) -> bool {
    use std::sync::atomic::Ordering;
    live.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |now| {
        (now + bytes <= max).then_some(now + bytes)
    })
    .is_ok()
}

impl Drop for ChunkCache {
    fn drop(&mut self) {
        LIVE_BYTES.fetch_sub(self.data.len() * 4, std::sync::atomic::Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_tell_chunks_apart_and_long_ones_have_none() {
        assert!(chunk_key(&[b'y'; KEY_BYTES + 1]).is_none());
        assert!(chunk_key(b"").is_none());
        // Keys tell chunks apart by every byte and by length.
        assert_ne!(chunk_key(b"ab"), chunk_key(b"ab\0"));
        assert_ne!(chunk_key(b"abc"), chunk_key(b"abd"));
        assert_eq!(chunk_key(&[b'z'; KEY_BYTES]).map(|k| k[2] >> 56), Some(23));
    }

    #[test]
    fn a_slot_gives_back_what_was_put_and_only_for_its_key() {
        let mut cache = ChunkCache::new(8, &[6]).unwrap();
        let key = chunk_key("привет".as_bytes()).unwrap();
        let other = chunk_key("привед".as_bytes()).unwrap();
        let at = cache.set_of(&key);
        // Slots start on 64-byte lines.
        assert_eq!((cache.data.as_ptr() as usize + at * 4) % 64, 0);
        assert!(cache.get(at, &key).is_none());
        let lanes = [1, -2, 3, -4, 5, -6, 7, 0];
        let squares = [9i64, 9, 9, 9, 9, 9, 70_000, 0];
        cache.put(at, &key, &lanes, &squares, 17, true);
        let (got_lanes, got_squares, count, flag) = cache.get(at, &key).unwrap();
        assert_eq!(got_lanes, &lanes);
        assert_eq!(got_squares, &[70_000]);
        assert_eq!((count, flag), (17, true));
        assert!(cache.get(at, &other).is_none());
    }

    #[test]
    fn a_set_keeps_two_chunks_and_a_third_replaces_the_less_recent() {
        let mut cache = ChunkCache::new(4, &[]).unwrap();
        // Three chunks of one set.
        let first = chunk_key(b"w0").unwrap();
        let at = cache.set_of(&first);
        let same_set: Vec<[u64; 3]> = (1..100_000)
            .map(|i| chunk_key(format!("w{i}").as_bytes()).unwrap())
            .filter(|key| cache.set_of(key) == at)
            .take(2)
            .collect();
        let (second, third) = (same_set[0], same_set[1]);
        let put = |cache: &mut ChunkCache, key: &[u64; 3], value: i32| {
            cache.put(at, key, &[value, 0, 0, 0], &[0; 4], 1, false);
        };
        let value = |cache: &mut ChunkCache, key: &[u64; 3]| cache.get(at, key).map(|g| g.0[0]);
        put(&mut cache, &first, 1);
        put(&mut cache, &second, 2);
        assert_eq!(value(&mut cache, &first), Some(1));
        assert_eq!(value(&mut cache, &second), Some(2));
        // The first was used less recently than the second: the third replaces it.
        put(&mut cache, &third, 3);
        assert_eq!(value(&mut cache, &first), None);
        assert_eq!(value(&mut cache, &second), Some(2));
        assert_eq!(value(&mut cache, &third), Some(3));
        // Now the second is the less recent; putting a key again rewrites its own slot.
        put(&mut cache, &third, 30);
        assert_eq!(value(&mut cache, &second), Some(2));
        assert_eq!(value(&mut cache, &third), Some(30));
        put(&mut cache, &first, 10);
        assert_eq!(value(&mut cache, &first), Some(10));
        assert_eq!(value(&mut cache, &second), None);
        assert_eq!(value(&mut cache, &third), Some(30));
        // Counts come back without the bookkeeping bits.
        assert_eq!(cache.get(at, &first).map(|g| (g.2, g.3)), Some((1, false)));
    }

    #[test]
    fn memos_beyond_the_budget_are_refused() {
        let live = std::sync::atomic::AtomicUsize::new(0);
        assert!(reserve(&live, 40, 100));
        assert!(reserve(&live, 60, 100));
        assert!(!reserve(&live, 1, 100));
        assert_eq!(live.load(std::sync::atomic::Ordering::Relaxed), 100);
        // What a memo holds is what it gives back when dropped.
        let before = LIVE_BYTES.load(std::sync::atomic::Ordering::Relaxed);
        let memo = ChunkCache::new(8, &[]);
        assert!(memo.is_some() || before + MAX_TABLE_BYTES > MAX_PROCESS_BYTES);
    }
}
