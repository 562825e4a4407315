//! Finding which of many literals occur in a short text: one 4-byte gram per literal, looked up at
//! every position of the text, each hit verified against its literal.
//!
//! An Aho-Corasick automaton over thousands of literals (the command-line anchors of the
//! process-creation rules are ~10,000) is megabytes: scanning a short field then costs a cache
//! miss per byte. Here each literal of 4 bytes or more registers one of its 4-byte grams (the one
//! fewest other literals share); a scan reads the gram at each position, tests a bloom filter (16
//! bits per literal, 16 KiB at most; with AVX2, 8 positions at a time), and only where it passes
//! looks the gram up and compares the literals registered under it. Literals of two or three bytes are looked up by their whole value
//! at each position; one-byte literals by the set of bytes the text holds. Every literal the text
//! holds is reported (the longer ones at each occurrence, as the overlapping automaton reports
//! them); the result is exact, not approximate.

use crate::cache::prefetch;
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
fn bloom_probe(key: u32, bits: u32) -> (usize, u32) {
    let hash = key.wrapping_mul(BLOOM_MULTIPLIER);
    let word = (hash >> (32 - (bits - 5))) as usize;
    let mask = (1u32 << ((hash >> 10) & 31)) | (1u32 << ((hash >> 15) & 31));
    (word, mask)
}

fn simd_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::is_x86_feature_detected!("avx2");
    #[cfg(not(target_arch = "x86_64"))]
    return false;
}

/// The multiplier of the bloom hash (32 bits, as the AVX2 scan computes it 8 lanes at a time).
const BLOOM_MULTIPLIER: u32 = 0x9E37_79B1;

/// The positions of `text` whose key of `LEN` bytes passes the bloom (as [`bloom_probe`] tests
/// it), given to `pass` in order, 8 positions at a time while 16 bytes can be read; returns the
/// first position not looked at (the caller tests the rest one by one).
///
/// # Safety
/// The CPU must have AVX2; `bloom` must have `2^(bits-5)` words.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn bloom_pass_avx2<const LEN: usize>(
    bloom: &[u32],
    bits: u32,
    text: &[u8],
    mut pass: impl FnMut(usize),
) -> usize {
    use std::arch::x86_64::*;
    // lane 0: keys at positions 0..4, lane 1: at 4..8, each big-endian over LEN bytes (0x80: zero)
    const fn control(len: usize) -> [i8; 32] {
        let mut c = [0x80u8 as i8; 32];
        let mut p = 0;
        while p < 8 {
            let mut k = 0;
            while k < len {
                c[p * 4 + k] = (p + len - 1 - k) as i8;
                k += 1;
            }
            p += 1;
        }
        c
    }
    let ctl = control(LEN);
    let ctl = _mm256_loadu_si256(ctl.as_ptr().cast());
    let multiplier = _mm256_set1_epi32(BLOOM_MULTIPLIER as i32);
    let shift = _mm_cvtsi32_si128((32 - (bits - 5)) as i32);
    let low5 = _mm256_set1_epi32(31);
    let one = _mm256_set1_epi32(1);
    let mut at = 0;
    while at + 16 <= text.len() {
        let bytes = _mm_loadu_si128(text.as_ptr().add(at).cast());
        let keys = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(bytes), ctl);
        let hash = _mm256_mullo_epi32(keys, multiplier);
        let word = _mm256_srl_epi32(hash, shift);
        let b1 = _mm256_and_si256(_mm256_srli_epi32::<10>(hash), low5);
        let b2 = _mm256_and_si256(_mm256_srli_epi32::<15>(hash), low5);
        let mask = _mm256_or_si256(_mm256_sllv_epi32(one, b1), _mm256_sllv_epi32(one, b2));
        let words = _mm256_i32gather_epi32::<4>(bloom.as_ptr().cast(), word);
        let hit = _mm256_cmpeq_epi32(_mm256_and_si256(words, mask), mask);
        let mut bits8 = _mm256_movemask_ps(_mm256_castsi256_ps(hit)) as u32;
        while bits8 != 0 {
            pass(at + bits8.trailing_zeros() as usize);
            bits8 &= bits8 - 1;
        }
        at += 8;
    }
    at
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

/// Bytes of a slot's first literal kept in the slot itself.
const HEAD: usize = 40;

/// A key's slot in a window's table: one cache line holding the key, its first literal (id,
/// place of the key in it, length, first [`HEAD`] bytes) and where all its literals lie in
/// `entries`. Verifying a position mostly reads this one line, prefetched during the bloom pass,
/// instead of a chain of three (slot, entry, literal bytes), each cold when rules are many.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Slot {
    key: u32,
    /// `entries[rest..rest + count]`: every literal filed under `key`, the first one included;
    /// an empty slot has `count == 0`
    rest: u32,
    count: u32,
    id: u32,
    offset: u32,
    len: u32,
    head: [u8; HEAD],
}

const EMPTY: Slot = Slot {
    key: 0,
    rest: 0,
    count: 0,
    id: 0,
    offset: 0,
    len: 0,
    head: [0; HEAD],
};

/// Literals keyed by the bytes of one window length (4 for long literals, 2 or 3 for short ones).
struct Window {
    len: usize,
    bloom_bits: u32,
    bloom: Vec<u32>,
    /// open addressing by the key's hash, at most half full
    table_bits: u32,
    table: Vec<Slot>,
    entries: Vec<Entry>,
}

impl Window {
    fn build(len: usize, mut keyed: Vec<(u32, Entry)>, arena: &[u8]) -> Window {
        keyed.sort_unstable_by_key(|(key, e)| (*key, e.id));
        let wanted = (keyed.len() * 16).next_power_of_two().trailing_zeros();
        let bloom_bits = wanted.clamp(BLOOM_MIN_BITS, BLOOM_MAX_BITS);
        let mut bloom = vec![0u32; 1 << (bloom_bits - 5)];
        let mut keys: Vec<Slot> = Vec::new();
        let mut entries = Vec::with_capacity(keyed.len());
        let mut i = 0;
        while i < keyed.len() {
            let key = keyed[i].0;
            let rest = entries.len() as u32;
            while i < keyed.len() && keyed[i].0 == key {
                entries.push(keyed[i].1);
                i += 1;
            }
            let first: Entry = entries[rest as usize];
            let mut head = [0u8; HEAD];
            let n = (first.len as usize).min(HEAD);
            head[..n].copy_from_slice(&arena[first.start as usize..first.start as usize + n]);
            keys.push(Slot {
                key,
                rest,
                count: entries.len() as u32 - rest,
                id: first.id,
                offset: first.offset,
                len: first.len,
                head,
            });
            let (word, mask) = bloom_probe(key, bloom_bits);
            bloom[word] |= mask;
        }
        // at most half full: a probe ends within a slot or two
        let table_bits = (keys.len() * 2).next_power_of_two().trailing_zeros().max(1);
        let mut table = vec![EMPTY; 1 << table_bits];
        let mask = table.len() - 1;
        for slot in keys {
            let mut at = table_slot(slot.key, table_bits);
            while table[at].count != 0 {
                at = (at + 1) & mask;
            }
            table[at] = slot;
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

    /// Ask the CPU to load the table slot of `key` (see [`GramIndex::scan_window`]).
    #[inline]
    fn prefetch(&self, key: u32) {
        prefetch(
            self.table
                .as_ptr()
                .wrapping_add(table_slot(key, self.table_bits)),
        );
    }

    /// The slot of `key` (None when no literal is filed under it).
    #[inline]
    fn lookup(&self, key: u32) -> Option<&Slot> {
        let mask = self.table.len() - 1;
        let mut at = table_slot(key, self.table_bits);
        loop {
            let slot = &self.table[at];
            if slot.count == 0 {
                return None;
            }
            if slot.key == key {
                return Some(slot);
            }
            at = (at + 1) & mask;
        }
    }
}

/// Positions passing a bloom gathered before they are verified (a longer text is verified in parts).
const PASSED: usize = 32;

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
                layer.windows.push(Window::build(len, keyed, arena));
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
    /// the bloom is tested 8 positions at a time (the CPU has AVX2)
    simd: bool,
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
            simd: simd_available(),
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
    /// The positions passing the bloom are gathered first and their table slots prefetched, then
    /// verified: their loads (cold in the cache when rules are many) overlap instead of following
    /// one another.
    #[inline]
    fn scan_window<const LEN: usize>(
        &self,
        window: &Window,
        text: &[u8],
        found: &mut impl FnMut(usize),
    ) {
        let mut passed = [0u32; PASSED];
        let mut n = 0;
        let mut pass = |at: usize| {
            if n == PASSED {
                self.verify_all::<LEN>(window, text, &passed, found);
                n = 0;
            }
            window.prefetch(key_of(&text[at..at + LEN]));
            passed[n] = at as u32;
            n += 1;
        };
        let mut from = 0;
        #[cfg(target_arch = "x86_64")]
        if self.simd {
            // SAFETY: AVX2 is present; the bloom has 2^(bloom_bits-5) words (Window::build)
            from = unsafe {
                bloom_pass_avx2::<LEN>(&window.bloom, window.bloom_bits, text, &mut pass)
            };
        }
        if text.len() >= LEN {
            for at in from..=text.len() - LEN {
                let key = key_of(&text[at..at + LEN]);
                let (word, mask) = bloom_probe(key, window.bloom_bits);
                if window.bloom[word] & mask == mask {
                    pass(at);
                }
            }
        }
        self.verify_all::<LEN>(window, text, &passed[..n], found);
    }

    /// [`GramIndex::verify`] at each of `positions`.
    #[inline]
    fn verify_all<const LEN: usize>(
        &self,
        window: &Window,
        text: &[u8],
        positions: &[u32],
        found: &mut impl FnMut(usize),
    ) {
        for &at in positions {
            self.verify::<LEN>(window, text, at as usize, found);
        }
    }

    /// The literals filed under the key at `at` that occur there.
    #[inline]
    fn verify<const LEN: usize>(
        &self,
        window: &Window,
        text: &[u8],
        at: usize,
        found: &mut impl FnMut(usize),
    ) {
        let Some(slot) = window.lookup(key_of(&text[at..at + LEN])) else {
            return;
        };
        // the first literal, from the slot's line (its bytes past the head from the arena)
        if let Some(start) = at.checked_sub(slot.offset as usize) {
            let n = slot.len as usize;
            if text.len() - start >= n {
                let head = n.min(HEAD);
                if text[start..start + head] == slot.head[..head]
                    && (n == head || {
                        let from = window.entries[slot.rest as usize].start as usize;
                        text[start + head..start + n] == self.arena[from + head..from + n]
                    })
                {
                    found(slot.id as usize);
                }
            }
        }
        let (from, to) = (slot.rest as usize, (slot.rest + slot.count) as usize);
        for entry in &window.entries[from + 1..to] {
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
    fn simd_and_scalar_scans_agree() {
        // pseudo-random literals and texts over a small alphabet (many gram and bloom hits), of
        // every length around the 16-byte blocks of the AVX2 scan
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let alphabet = b"abc -/\\.e";
        let mut make = |len: u64| -> String {
            (0..len)
                .map(|_| char::from(alphabet[next(alphabet.len() as u64) as usize]))
                .collect()
        };
        let literals: Vec<String> = (0..300).map(|i| make(2 + i % 7)).collect();
        let words: Vec<&str> = literals.iter().map(String::as_str).collect();
        let Some(mut index) = GramIndex::new(&words) else {
            panic!("literals crowd a gram");
        };
        let texts: Vec<String> = (0..400).map(|i| make(i % 70)).collect();
        let scan = |index: &GramIndex, text: &str| {
            let mut out = Vec::new();
            index.scan(text.as_bytes(), true, |id| out.push(id));
            out
        };
        let with: Vec<Vec<usize>> = texts.iter().map(|t| scan(&index, t)).collect();
        index.simd = false;
        let without: Vec<Vec<usize>> = texts.iter().map(|t| scan(&index, t)).collect();
        assert_eq!(with, without);
        // and both find what a plain search finds
        for (text, found) in texts.iter().zip(&without) {
            for (id, lit) in words.iter().enumerate() {
                assert_eq!(
                    text.contains(lit),
                    found.contains(&id),
                    "{lit:?} in {text:?}"
                );
            }
        }
    }

    #[test]
    fn literals_longer_than_a_slot_head() {
        // each key's first literal is kept in its slot up to HEAD bytes, the rest read from the
        // arena: long literals that agree on their first HEAD bytes and differ after, and a key
        // shared by several literals
        let long = "c:\\windows\\system32\\windowspowershell\\v1.0\\";
        assert!(long.len() > super::HEAD);
        let words = [
            format!("{long}powershell.exe"),
            format!("{long}powershell_ise.exe"),
            format!("{long}p"),
            long[..super::HEAD].to_string(),
            "zzzz".to_string(),
            "zzzzy".to_string(),
            "xzzzz".to_string(),
            // keyed at its start (its grams are its own): a text agreeing on the head only
            format!("k9k9{}end", "a".repeat(50)),
        ];
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let index = GramIndex::new(&words).expect("few literals per gram");
        let texts = [
            format!("run {long}powershell.exe -c"),
            format!("{long}powershell_ise.exe"),
            format!("{long}pwsh.exe"),
            long[..super::HEAD + 3].to_string(),
            long[1..].to_string(),
            "xzzzzy".to_string(),
            format!("k9k9{}eng", "a".repeat(50)),
            format!("k9k9{}end", "a".repeat(50)),
        ];
        for text in &texts {
            let found = all(&index, text);
            for (id, lit) in words.iter().enumerate() {
                assert_eq!(
                    text.contains(lit),
                    found.contains(&id),
                    "{lit:?} in {text:?}"
                );
            }
        }
    }

    #[test]
    fn refuses_literals_crowding_one_gram() {
        let crowded: Vec<String> = (4..200).map(|n| "x".repeat(n)).collect();
        let words: Vec<&str> = crowded.iter().map(String::as_str).collect();
        assert!(GramIndex::new(&words).is_none());
        assert!(GramIndex::new(&words[..100]).is_some());
    }
}
