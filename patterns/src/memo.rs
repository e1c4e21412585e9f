//! Remembered string lookups: which conditions a field's string value hit, for the
//! values seen recently.
//!
//! Why: event streams repeat their string values (bucket names, event names, street
//! names, `detail-type`s) far more than their numbers, and a field that many rules test
//! with prefixes, suffixes, wildcards, case folding and `anything-but` costs dozens of
//! probes per value. A hit costs one hash and one comparison, however many rules test the
//! field; a miss costs that on top of the lookup.
//!
//! The table is per thread (part of the matcher's scratch space), direct-mapped, of fixed
//! size whatever the number of fields or rules, and belongs to one matcher state: any
//! change to the matcher (see `Matcher::generation`) forgets it all.

use crate::words::three_words;

/// Lookups hitting more conditions than this are not remembered.
pub(crate) const MEMO_HITS: usize = 23;

/// Entries in the table (a power of two): 256 KiB.
const SLOTS: usize = 2048;

/// One remembered lookup: 128 bytes, two cache lines.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Entry {
    /// The value's bytes, zero-padded: values of up to 24 bytes are remembered.
    words: [u64; 3],
    field: u32,
    /// The table's stamp when written; any other stamp is an empty slot.
    stamp: u32,
    len: u8,
    hit_count: u8,
    hits: [u32; MEMO_HITS],
}

const EMPTY: Entry = Entry {
    words: [0; 3],
    field: 0,
    stamp: 0,
    len: 0,
    hit_count: 0,
    hits: [0; MEMO_HITS],
};

#[derive(Default)]
pub(crate) struct LookupMemo {
    /// Allocated on the first value remembered.
    entries: Vec<Entry>,
    /// The matcher state the entries belong to.
    generation: u64,
    /// Entries written under another stamp are empty: forgetting everything is one
    /// increment, not a sweep over the table.
    stamp: u32,
}

/// A value as the table keys it: its padded words and length, or `None` when too long.
#[derive(Clone, Copy)]
pub(crate) struct MemoKey {
    words: [u64; 3],
    len: u8,
    field: u32,
}

impl MemoKey {
    #[inline(always)]
    pub(crate) fn new(field: u32, text: &[u8]) -> Option<MemoKey> {
        Some(MemoKey {
            words: three_words(text)?,
            len: text.len() as u8,
            field,
        })
    }

    #[inline(always)]
    fn slot(&self) -> usize {
        const K: u64 = 0x9E37_79B9_7F4A_7C15;
        let [a, b, c] = self.words;
        let mixed = (a.wrapping_mul(K) ^ b).wrapping_mul(K) ^ c;
        let mixed = (mixed ^ (u64::from(self.field) << 8 | u64::from(self.len))).wrapping_mul(K);
        (mixed >> (64 - SLOTS.trailing_zeros())) as usize
    }
}

impl LookupMemo {
    /// Starts matching with the matcher state `generation`: entries of any other state
    /// are forgotten.
    pub(crate) fn begin(&mut self, generation: u64) {
        if self.generation != generation {
            self.generation = generation;
            self.forget();
        }
    }

    fn forget(&mut self) {
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            // Stamps wrapped: entries written 2^32 states ago would look current.
            self.entries.iter_mut().for_each(|e| *e = EMPTY);
            self.stamp = 1;
        }
    }

    /// The conditions remembered for `key`, if it is remembered.
    #[inline(always)]
    pub(crate) fn get(&self, key: &MemoKey) -> Option<&[u32]> {
        let entry = self.entries.get(key.slot())?;
        (entry.stamp == self.stamp
            && entry.words == key.words
            && entry.len == key.len
            && entry.field == key.field)
            .then(|| &entry.hits[..usize::from(entry.hit_count)])
    }

    /// Remembers that `key` hit `hits` (at most [`MEMO_HITS`] of them), replacing the
    /// value that had its slot.
    pub(crate) fn put(&mut self, key: &MemoKey, hits: &[u32]) {
        if hits.len() > MEMO_HITS {
            return;
        }
        if self.entries.is_empty() {
            self.entries = vec![EMPTY; SLOTS];
            if self.stamp == 0 {
                self.stamp = 1;
            }
        }
        let entry = &mut self.entries[key.slot()];
        entry.words = key.words;
        entry.field = key.field;
        entry.stamp = self.stamp;
        entry.len = key.len;
        entry.hit_count = hits.len() as u8;
        entry.hits[..hits.len()].copy_from_slice(hits);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(field: u32, text: &str) -> MemoKey {
        MemoKey::new(field, text.as_bytes()).expect("short")
    }

    #[test]
    fn remembers_per_field_and_value_until_forgotten() {
        let mut memo = LookupMemo::default();
        memo.begin(7);
        assert!(memo.get(&key(1, "FULTON")).is_none());
        memo.put(&key(1, "FULTON"), &[3, 5]);
        assert_eq!(memo.get(&key(1, "FULTON")), Some(&[3, 5][..]));
        // Another field, a prefix of the value, the value with a trailing NUL (same
        // padded words, another length), and the empty string are other keys.
        assert!(memo.get(&key(2, "FULTON")).is_none());
        assert!(memo.get(&key(1, "FULTO")).is_none());
        assert!(memo.get(&key(1, "FULTON\0")).is_none());
        assert!(memo.get(&key(1, "")).is_none());
        memo.put(&key(1, ""), &[]);
        assert_eq!(memo.get(&key(1, "")), Some(&[][..]));
        // The same state keeps it; another forgets it.
        memo.begin(7);
        assert_eq!(memo.get(&key(1, "FULTON")), Some(&[3, 5][..]));
        memo.begin(8);
        assert!(memo.get(&key(1, "FULTON")).is_none());
        assert!(memo.get(&key(1, "")).is_none());
    }

    #[test]
    fn long_values_and_many_hits_are_not_remembered() {
        assert!(MemoKey::new(0, &[b'a'; 24]).is_some());
        assert!(MemoKey::new(0, &[b'a'; 25]).is_none());
        let mut memo = LookupMemo::default();
        let many: Vec<u32> = (0..=MEMO_HITS as u32).collect();
        memo.put(&key(0, "x"), &many);
        assert!(memo.get(&key(0, "x")).is_none());
        memo.put(&key(0, "x"), &many[..MEMO_HITS]);
        assert_eq!(memo.get(&key(0, "x")), Some(&many[..MEMO_HITS]));
    }

    #[test]
    fn a_colliding_value_replaces_the_one_before() {
        let mut memo = LookupMemo::default();
        memo.begin(1);
        let first = key(0, "a");
        let other = (0..100_000)
            .map(|i| key(0, &format!("v{i}")))
            .find(|k| k.slot() == first.slot())
            .expect("some value shares the slot");
        memo.put(&first, &[1]);
        memo.put(&other, &[2]);
        assert!(memo.get(&first).is_none());
        assert_eq!(memo.get(&other), Some(&[2][..]));
    }
}
