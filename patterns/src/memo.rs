//! Remembered string lookups: what looking up a field's string value found (the matcher
//! stores the rules it matches outright, and the other conditions it hit), for the
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
//!
//! A field whose values do not repeat (object keys, request ids) would pay for misses
//! only: each field's hits are counted over windows of [`WINDOW`] lookups, and after a
//! window with fewer than [`MIN_HITS`] the field skips the table for [`SKIP`] lookups,
//! then tries again.

use crate::words::three_words;

/// Lookups hitting more conditions than this are not remembered.
pub(crate) const MEMO_HITS: usize = 8;

/// Entries in the table (a power of two): 128 KiB.
const SLOTS: usize = 2048;

/// Lookups per field over which hits are counted.
const WINDOW: u16 = 256;

/// Fewer hits than this in a window: the field's values do not repeat enough to pay.
const MIN_HITS: u16 = WINDOW / 8;

/// Lookups a field then makes without the table, before it tries again.
const SKIP: u16 = 16 * WINDOW;

/// A field's use of the table (see the module's documentation).
#[derive(Clone, Copy, Default)]
struct FieldUse {
    lookups: u16,
    hits: u16,
    skipping: u16,
}

/// What the table says of a value.
pub(crate) enum Recall<'m> {
    /// Remembered: the two lists stored with it.
    Hit(&'m [u32], &'m [u32]),
    /// Not remembered: look it up, then [`LookupMemo::put`] it.
    Miss,
    /// The field skips the table for now: look it up, and do not put it.
    Skip,
}

/// One remembered lookup: one 64-byte cache line.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Entry {
    /// The value's bytes, zero-padded: values of up to 24 bytes are remembered.
    words: [u64; 3],
    field: u16,
    /// The table's stamp when written; any other stamp is an empty slot.
    stamp: u16,
    len: u8,
    hit_count: u8,
    /// How many of `hits` are in the first list.
    first_count: u8,
    hits: [u32; MEMO_HITS],
}

const _: () = assert!(std::mem::size_of::<Entry>() == 64);

const EMPTY: Entry = Entry {
    words: [0; 3],
    field: 0,
    stamp: 0,
    len: 0,
    hit_count: 0,
    first_count: 0,
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
    stamp: u16,
    /// Per field, how it uses the table.
    uses: Vec<FieldUse>,
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
        // Entries keep the field in 16 bits; fields past that are not remembered.
        u16::try_from(field).ok()?;
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
        self.uses.clear();
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            // Stamps wrapped: entries written 2^16 states ago would look current.
            self.entries.iter_mut().for_each(|e| *e = EMPTY);
            self.stamp = 1;
        }
    }

    /// What the table says of `key`'s value, counting the lookup for its field.
    #[inline(always)]
    pub(crate) fn recall(&mut self, key: &MemoKey) -> Recall<'_> {
        let field = key.field as usize;
        if field >= self.uses.len() {
            self.uses.resize(field + 1, FieldUse::default());
        }
        let usage = &mut self.uses[field];
        if usage.skipping > 0 {
            usage.skipping -= 1;
            return Recall::Skip;
        }
        // (Not `Option::filter`, which stayed a call.)
        let found = match self.entries.get(key.slot()) {
            Some(entry)
                if entry.stamp == self.stamp
                    && entry.words == key.words
                    && entry.len == key.len
                    && u32::from(entry.field) == key.field =>
            {
                Some(entry)
            }
            _ => None,
        };
        usage.lookups += 1;
        usage.hits += u16::from(found.is_some());
        if usage.lookups == WINDOW {
            if usage.hits < MIN_HITS {
                usage.skipping = SKIP;
            }
            (usage.lookups, usage.hits) = (0, 0);
        }
        match found {
            Some(entry) => {
                let (first, second) = entry.hits[..usize::from(entry.hit_count)]
                    .split_at(usize::from(entry.first_count));
                Recall::Hit(first, second)
            }
            None => Recall::Miss,
        }
    }

    /// Remembers two lists for `key` (at most [`MEMO_HITS`] numbers in all), replacing
    /// the value that had its slot.
    pub(crate) fn put(&mut self, key: &MemoKey, first: &[u32], second: &[u32]) {
        if first.len() + second.len() > MEMO_HITS {
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
        entry.field = key.field as u16;
        entry.stamp = self.stamp;
        entry.len = key.len;
        entry.first_count = first.len() as u8;
        entry.hit_count = (first.len() + second.len()) as u8;
        entry.hits[..first.len()].copy_from_slice(first);
        entry.hits[first.len()..first.len() + second.len()].copy_from_slice(second);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(field: u32, text: &str) -> MemoKey {
        MemoKey::new(field, text.as_bytes()).expect("short")
    }

    /// The lists remembered for `key`, or `None` on a miss (a skip fails the test).
    fn get(memo: &mut LookupMemo, key: &MemoKey) -> Option<(Vec<u32>, Vec<u32>)> {
        match memo.recall(key) {
            Recall::Hit(first, second) => Some((first.to_vec(), second.to_vec())),
            Recall::Miss => None,
            Recall::Skip => panic!("the field skips the table"),
        }
    }

    fn lists(first: &[u32], second: &[u32]) -> Option<(Vec<u32>, Vec<u32>)> {
        Some((first.to_vec(), second.to_vec()))
    }

    #[test]
    fn remembers_per_field_and_value_until_forgotten() {
        let mut memo = LookupMemo::default();
        memo.begin(7);
        assert_eq!(get(&mut memo, &key(1, "FULTON")), None);
        memo.put(&key(1, "FULTON"), &[9], &[3, 5]);
        assert_eq!(get(&mut memo, &key(1, "FULTON")), lists(&[9], &[3, 5]));
        // Another field, a prefix of the value, the value with a trailing NUL (same
        // padded words, another length), and the empty string are other keys.
        assert_eq!(get(&mut memo, &key(2, "FULTON")), None);
        assert_eq!(get(&mut memo, &key(1, "FULTO")), None);
        assert_eq!(get(&mut memo, &key(1, "FULTON\0")), None);
        assert_eq!(get(&mut memo, &key(1, "")), None);
        memo.put(&key(1, ""), &[], &[]);
        assert_eq!(get(&mut memo, &key(1, "")), lists(&[], &[]));
        // The same state keeps it; another forgets it.
        memo.begin(7);
        assert_eq!(get(&mut memo, &key(1, "FULTON")), lists(&[9], &[3, 5]));
        memo.begin(8);
        assert_eq!(get(&mut memo, &key(1, "FULTON")), None);
        assert_eq!(get(&mut memo, &key(1, "")), None);
    }

    #[test]
    fn long_values_late_fields_and_many_hits_are_not_remembered() {
        assert!(MemoKey::new(0, &[b'a'; 24]).is_some());
        assert!(MemoKey::new(0, &[b'a'; 25]).is_none());
        // Entries keep fields in 16 bits.
        assert!(MemoKey::new(u32::from(u16::MAX), b"x").is_some());
        assert!(MemoKey::new(1 << 16, b"x").is_none());
        let mut memo = LookupMemo::default();
        let many: Vec<u32> = (0..=MEMO_HITS as u32).collect();
        memo.put(&key(0, "x"), &many[..2], &many[2..]);
        assert_eq!(get(&mut memo, &key(0, "x")), None);
        memo.put(&key(0, "x"), &many[..2], &many[2..MEMO_HITS]);
        assert_eq!(
            get(&mut memo, &key(0, "x")),
            lists(&many[..2], &many[2..MEMO_HITS])
        );
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
        memo.put(&first, &[], &[1]);
        memo.put(&other, &[2], &[]);
        assert_eq!(get(&mut memo, &first), None);
        assert_eq!(get(&mut memo, &other), lists(&[2], &[]));
    }

    /// A field whose values never repeat skips the table after one window, for `SKIP`
    /// lookups, then tries again; a field whose values repeat keeps using it.
    #[test]
    fn fields_whose_values_do_not_repeat_skip_the_table() {
        let mut memo = LookupMemo::default();
        memo.begin(1);
        memo.put(&key(1, "same"), &[1], &[]);
        for i in 0..WINDOW {
            assert_eq!(get(&mut memo, &key(0, &format!("v{i}"))), None);
            assert_eq!(get(&mut memo, &key(1, "same")), lists(&[1], &[]));
        }
        for _ in 0..SKIP {
            assert!(matches!(memo.recall(&key(0, "v0")), Recall::Skip));
        }
        assert!(matches!(memo.recall(&key(0, "v0")), Recall::Miss));
        assert_eq!(get(&mut memo, &key(1, "same")), lists(&[1], &[]));
        // Just enough hits in a window keep a field on.
        memo.put(&key(2, "hit"), &[], &[]);
        for i in 0..WINDOW {
            let text = if i < MIN_HITS {
                "hit".to_string()
            } else {
                format!("v{i}")
            };
            let _ = get(&mut memo, &key(2, &text));
        }
        assert!(matches!(memo.recall(&key(2, "v1")), Recall::Miss));
        // A new matcher state starts every field afresh.
        for i in 0..WINDOW {
            let _ = get(&mut memo, &key(3, &format!("v{i}")));
        }
        assert!(matches!(memo.recall(&key(3, "v0")), Recall::Skip));
        memo.begin(2);
        assert!(matches!(memo.recall(&key(3, "v0")), Recall::Miss));
    }
}
