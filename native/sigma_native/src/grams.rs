//! Finding which of many literals occur in a short text: one 4-byte gram per literal, looked up at
//! every position of the text, each hit verified against its literal.
//!
//! An Aho-Corasick automaton over thousands of literals (the command-line anchors of the
//! process-creation rules are ~10,000) is megabytes: scanning a short field then costs a cache
//! miss per byte. Here each literal of 4 bytes or more registers one of its 4-byte grams (the one
//! fewest other literals share); a scan reads the gram at each position, tests a bitmap (16 bits
//! per literal, 16 KiB at most), and only on a set bit looks the gram up and compares the
//! literals registered under it. Literals of two or three bytes are looked up by their whole value
//! at each position; one-byte literals by the set of bytes the text holds. Every literal the text
//! holds is reported (the longer ones at each occurrence, as the overlapping automaton reports
//! them); the result is exact, not approximate.

use crate::fxhash::FxMap;

/// Most literals one gram may hold (the SigmaHQ corpus needs 75).
const MAX_SHARED: usize = 128;

/// Bloom sizes: about 16 bits per key (few false positives), between 64 bytes and 16 KiB; the
/// bitmaps of all fields of a route are read for every event, so small ones stay in cache.
const BLOOM_MIN_BITS: u32 = 9;
const BLOOM_MAX_BITS: u32 = 17;

/// The bloom word of `key` and its two bits in it (one word read per test, a false positive
/// about 1 in 60 at 16 bits per key instead of 1 in 16 with one bit).
#[inline]
fn bloom_probe(key: u32, bits: u32) -> (usize, u64) {
    let hash = u64::from(key).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let word = (hash >> (64 - (bits - 6))) as usize;
    let mask = (1u64 << ((hash >> 20) & 63)) | (1u64 << ((hash >> 26) & 63));
    (word, mask)
}

/// The slot of `key` in a table of `2^bits` slots.
#[inline]
fn table_slot(key: u32, bits: u32) -> usize {
    (u64::from(key).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)) as usize
}

/// The key of up to 4 bytes: the bytes read as a big-endian number.
#[inline]
fn key_of(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0u32, |key, &b| (key << 8) | u32::from(b))
}

/// A literal filed under a key: where its bytes are and where the key lies inside it.
#[derive(Clone, Copy)]
struct Entry {
    id: u32,
    offset: u32,
    start: u32, // in `GramIndex::arena`
    len: u32,
}

/// Literals keyed by the bytes of one window length (4 for long literals, 2 or 3 for short ones).
struct Window {
    len: usize,
    bloom_bits: u32,
    bloom: Vec<u64>,
    /// open addressing by the key's hash: (key, range of `entries`); an empty slot has `to == 0`
    table_bits: u32,
    table: Vec<(u32, u32, u32)>,
    entries: Vec<Entry>,
}

impl Window {
    fn build(len: usize, mut keyed: Vec<(u32, Entry)>) -> Window {
        keyed.sort_unstable_by_key(|(key, e)| (*key, e.id));
        let wanted = (keyed.len() * 16).next_power_of_two().trailing_zeros();
        let bloom_bits = wanted.clamp(BLOOM_MIN_BITS, BLOOM_MAX_BITS);
        let mut bloom = vec![0u64; 1 << (bloom_bits - 6)];
        let mut keys: Vec<(u32, u32, u32)> = Vec::new();
        let mut entries = Vec::with_capacity(keyed.len());
        let mut i = 0;
        while i < keyed.len() {
            let key = keyed[i].0;
            let start = entries.len() as u32;
            while i < keyed.len() && keyed[i].0 == key {
                entries.push(keyed[i].1);
                i += 1;
            }
            keys.push((key, start, entries.len() as u32));
            let (word, mask) = bloom_probe(key, bloom_bits);
            bloom[word] |= mask;
        }
        // at most half full: a probe ends within a slot or two
        let table_bits = (keys.len() * 2).next_power_of_two().trailing_zeros().max(1);
        let mut table = vec![(0u32, 0u32, 0u32); 1 << table_bits];
        let mask = table.len() - 1;
        for (key, from, to) in keys {
            let mut at = table_slot(key, table_bits);
            while table[at].2 != 0 {
                at = (at + 1) & mask;
            }
            table[at] = (key, from, to);
        }
        Window {
            len,
            bloom_bits,
            bloom,
            table_bits,
            table,
            entries,
        }
    }

    /// The literals filed under `key` (empty when none).
    #[inline]
    fn lookup(&self, key: u32) -> &[Entry] {
        let mask = self.table.len() - 1;
        let mut at = table_slot(key, self.table_bits);
        loop {
            let (k, from, to) = self.table[at];
            if to == 0 {
                return &[];
            }
            if k == key {
                return &self.entries[from as usize..to as usize];
            }
            at = (at + 1) & mask;
        }
    }
}

/// Windows of at most this many literals are not scanned position by position: each literal is
/// searched for on its own (SIMD `memmem`), a few calls instead of a pass over the text.
const FEW: usize = 6;

/// The literals of two bytes or more that one kind of text can hold, by window length.
#[derive(Default)]
struct Layer {
    windows: Vec<Window>,
    few: Vec<(memchr::memmem::Finder<'static>, u32)>,
}

impl Layer {
    fn build(by_len: [Vec<(u32, Entry)>; 5], arena: &[u8]) -> Layer {
        let mut layer = Layer::default();
        for (len, keyed) in by_len.into_iter().enumerate() {
            if keyed.is_empty() {
                continue;
            }
            if keyed.len() <= FEW {
                for (_, e) in keyed {
                    let lit = &arena[e.start as usize..(e.start + e.len) as usize];
                    layer
                        .few
                        .push((memchr::memmem::Finder::new(lit).into_owned(), e.id));
                }
            } else {
                layer.windows.push(Window::build(len, keyed));
            }
        }
        layer
    }
}

/// The literals of one field, ready to be found in its texts.
pub struct GramIndex {
    arena: Vec<u8>, // every literal's bytes, one after another
    /// literals an ASCII text can hold (the ASCII ones), and those any text can hold
    ascii: Layer,
    any: Layer,
    empty: Vec<u32>, // empty literals occur in every text
    /// one-byte literals (byte, id): found by the set of bytes a text holds, once per text
    bytes: Vec<(u8, u32)>,
}

impl GramIndex {
    /// None when some gram would hold more than [`MAX_SHARED`] literals (literals that are mostly
    /// one repeated gram, as a hostile rule file can write): a text full of that gram would cost
    /// a comparison per literal at each position; an automaton stays linear there.
    pub fn new(literals: &[&str]) -> Option<GramIndex> {
        // how many literals hold each gram: the rarest gram of a literal is its key
        let mut share: FxMap<u32, u32> = FxMap::default();
        for lit in literals {
            let lit = lit.as_bytes();
            let mut seen: Vec<u32> = (0..lit.len().saturating_sub(3))
                .map(|at| key_of(&lit[at..at + 4]))
                .collect();
            seen.sort_unstable();
            seen.dedup();
            for key in seen {
                *share.entry(key).or_default() += 1;
            }
        }
        let mut arena = Vec::new();
        let mut by_len: [Vec<(u32, Entry)>; 5] = Default::default();
        let mut empty = Vec::new();
        let mut bytes = Vec::new();
        for (id, lit) in literals.iter().enumerate() {
            let lit = lit.as_bytes();
            let mut entry = Entry {
                id: id as u32,
                offset: 0,
                start: arena.len() as u32,
                len: lit.len() as u32,
            };
            arena.extend_from_slice(lit);
            match lit.len() {
                0 => empty.push(id as u32),
                1 => bytes.push((lit[0], id as u32)),
                n @ 2..=3 => by_len[n].push((key_of(lit), entry)),
                n => {
                    let at = (0..=n - 4)
                        .min_by_key(|&at| {
                            share.get(&key_of(&lit[at..at + 4])).copied().unwrap_or(0)
                        })
                        .unwrap_or(0);
                    entry.offset = at as u32;
                    by_len[4].push((key_of(&lit[at..at + 4]), entry));
                }
            }
        }
        let mut sizes: FxMap<(usize, u32), usize> = FxMap::default();
        for (len, keyed) in by_len.iter().enumerate() {
            for &(key, _) in keyed {
                let n = sizes.entry((len, key)).or_default();
                *n += 1;
                if *n > MAX_SHARED {
                    return None;
                }
            }
        }
        let ascii_only = by_len.clone().map(|keyed| {
            keyed
                .into_iter()
                .filter(|(_, e)| literals[e.id as usize].is_ascii())
                .collect()
        });
        Some(GramIndex {
            ascii: Layer::build(ascii_only, &arena),
            any: Layer::build(by_len, &arena),
            arena,
            empty,
            bytes,
        })
    }

    /// Call `found(literal id)` for every literal `text` holds: at least once, and for the
    /// literals of 2 bytes or more found position by position at each occurrence (what the caller
    /// needs is which literals occur). `ascii`: the text is ASCII (it can hold only ASCII literals).
    pub fn scan(&self, text: &[u8], ascii: bool, mut found: impl FnMut(usize)) {
        for &id in &self.empty {
            found(id as usize);
        }
        if !self.bytes.is_empty() {
            let mut present = [false; 256]; // independent stores, no chain through one word
            for &b in text {
                present[usize::from(b)] = true;
            }
            for &(b, id) in &self.bytes {
                if present[usize::from(b)] {
                    found(id as usize);
                }
            }
        }
        let layer = if ascii { &self.ascii } else { &self.any };
        for (finder, id) in &layer.few {
            if finder.find(text).is_some() {
                found(*id as usize);
            }
        }
        for window in &layer.windows {
            match window.len {
                2 => self.scan_window::<2>(window, text, &mut found),
                3 => self.scan_window::<3>(window, text, &mut found),
                _ => self.scan_window::<4>(window, text, &mut found),
            }
        }
    }

    /// The literals of one window length in `text`: the key at each position is read from the
    /// text itself (no chain from one position to the next), so positions overlap in the CPU.
    #[inline]
    fn scan_window<const LEN: usize>(
        &self,
        window: &Window,
        text: &[u8],
        found: &mut impl FnMut(usize),
    ) {
        for (at, bytes) in text.windows(LEN).enumerate() {
            let key = key_of(bytes);
            let (word, mask) = bloom_probe(key, window.bloom_bits);
            if window.bloom[word] & mask != mask {
                continue;
            }
            for entry in window.lookup(key) {
                let Some(start) = at.checked_sub(entry.offset as usize) else {
                    continue;
                };
                let n = entry.len as usize;
                if text.len() - start >= n {
                    let lit = &self.arena[entry.start as usize..entry.start as usize + n];
                    if text[start..start + n] == *lit {
                        found(entry.id as usize);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::GramIndex;

    fn all(index: &GramIndex, text: &str) -> Vec<usize> {
        let mut out = Vec::new();
        index.scan(text.as_bytes(), text.is_ascii(), |id| out.push(id));
        out.sort_unstable();
        out
    }

    #[test]
    fn every_occurrence_of_every_length() {
        let index = GramIndex::new(&["cmd.exe", "md.e", "c", "/c", "e /", "whoami", "", "xyzzy"])
            .expect("few literals per gram");
        // "c" occurs twice (reported once: one byte); "md.e" inside "cmd.exe"; the empty literal
        // in every text
        assert_eq!(all(&index, "cmd.exe /c whoami"), vec![0, 1, 2, 3, 4, 5, 6]);
        assert_eq!(all(&index, "e /c"), vec![2, 3, 4, 6]);
        assert_eq!(all(&index, ""), vec![6]);
        assert_eq!(all(&index, "xyzz"), vec![6]);
    }

    #[test]
    fn few_and_non_ascii_literals() {
        // two-byte literals: a Cyrillic letter (non-ASCII) and few ASCII ones, found by memmem;
        // four-byte ones: more than FEW, found by the gram scan
        let words = [
            "\u{430}", "/c", "-e", "powe", "rshe", "hell", "enco", "base", "down", "load", "invo",
        ];
        let index = GramIndex::new(&words).expect("few literals per gram");
        assert_eq!(index.ascii.few.len(), 2);
        assert_eq!(index.any.few.len(), 3);
        assert_eq!(index.any.windows.len(), 1);
        let find = |text: &str| {
            let mut out = Vec::new();
            index.scan(text.as_bytes(), text.is_ascii(), |id| out.push(id));
            out.sort_unstable();
            out.dedup();
            out
        };
        assert_eq!(
            find("powershell /c -encodedcommand"),
            vec![1, 2, 3, 4, 5, 6]
        );
        assert_eq!(find("p\u{430}wershell /c"), vec![0, 1, 4, 5]);
        assert_eq!(find("download"), vec![8, 9]);
        assert!(find("").is_empty());
    }

    #[test]
    fn refuses_literals_crowding_one_gram() {
        let crowded: Vec<String> = (4..200).map(|n| "x".repeat(n)).collect();
        let words: Vec<&str> = crowded.iter().map(String::as_str).collect();
        assert!(GramIndex::new(&words).is_none());
        assert!(GramIndex::new(&words[..100]).is_some());
    }
}
