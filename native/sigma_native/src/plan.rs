//! Candidate selection for the rules of one log-source route: per-field literal and number anchors.

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::dfa::DFA;
use aho_corasick::{AhoCorasick, AhoCorasickKind, Anchored, Input, MatchKind};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::collections::HashMap;

use crate::cache::prefetch;
use crate::eval::Stop;
use crate::fxhash::FxMap;
use crate::grams::GramIndex;
use crate::ir::{number_key, Anchor, Need, FOLDS_TO_ASCII};
use crate::view::{as_number, items, Helpers, View};

/// How the literals of one field are found: few literals by Aho-Corasick (a leftmost-first gate,
/// where SIMD prefilters apply, then every overlapping occurrence from the first one on); many
/// literals by their grams ([`GramIndex`]: an automaton over thousands of literals is megabytes,
/// a cache miss per byte of text).
#[allow(clippy::large_enum_variant)] // the DFA lies in the index: no pointer to follow, cold, per walk
enum Finder {
    Automaton {
        all: AhoCorasick,
        gate: AhoCorasick,
        /// `all`'s DFA without a prefilter, walked over short texts: a prefilter on a byte common
        /// in the field (`\\` in paths) is called again and again, several times the cost of the
        /// DFA alone; the walks of an event's short texts go side by side (see [`walk_together`]).
        /// None for many literals (crowded grams: a DFA of thousands of literals is megabytes).
        short: Option<DFA>,
    },
    Grams(GramIndex),
}

/// Texts up to this long are scanned by the DFA alone (no gate, no prefilter), side by side with
/// the event's other such texts (A/B on the regression events: 128 bytes 0.97-0.98 of 48; 512 no
/// faster than 128).
const SHORT_TEXT: usize = 128;

/// Above this many literals a field's literals are found by grams (unless they crowd one gram).
const AUTOMATON_LITERALS: usize = 64;

impl Finder {
    fn build(words: &[&str]) -> PyResult<Finder> {
        let many = words.len() > AUTOMATON_LITERALS;
        if many {
            if let Some(grams) = GramIndex::new(words) {
                return Ok(Finder::Grams(grams));
            }
        }
        // a DFA for few literals; for many (crowded grams) the builder's choice, an NFA, is compact
        let all = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .kind(if many {
                None
            } else {
                Some(AhoCorasickKind::DFA)
            })
            .build(words)
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let short = if many {
            None
        } else {
            Some(short_dfa(words).map_err(|e| PyValueError::new_err(e.to_string()))?)
        };
        let gate = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostFirst)
            .build(words)
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(Finder::Automaton { all, gate, short })
    }

    /// The DFA that [`walk_together`] runs over `text`, when it is short and there is one.
    fn short(&self, text: &[u8]) -> Option<&DFA> {
        match self {
            Finder::Automaton { short, .. } if text.len() <= SHORT_TEXT => short.as_ref(),
            _ => None,
        }
    }

    /// `found(literal id)` for every literal in `text`, at least once (see [`GramIndex::scan`]).
    /// `ascii`: the text is ASCII.
    fn scan(&self, text: &[u8], ascii: bool, mut found: impl FnMut(usize)) {
        match self {
            Finder::Grams(grams) => grams.scan(text, ascii, found),
            Finder::Automaton {
                short: Some(dfa), ..
            } if text.len() <= SHORT_TEXT => walk(dfa, text, found),
            Finder::Automaton { all, gate, .. } => {
                // every occurrence starts at or after the leftmost one: scan all from there
                let Some(first) = gate.find(text) else {
                    return;
                };
                let rest = Input::new(text).span(first.start()..text.len());
                for occurrence in all.find_overlapping_iter(rest) {
                    found(occurrence.pattern().as_usize());
                }
            }
        }
    }
}

struct LiteralIndex {
    path: u32,
    finder: Finder,
    ascii: bool, // every literal is ASCII: ASCII-lower-cased text can be scanned instead of str.lower()
    clauses: Vec<Vec<usize>>, // literal id -> clauses anchored on it (at this path)
    /// clauses with a literal of a case-insensitive regex that could occur through a character
    /// Python's `re` folds onto ASCII (ir::FOLDS_TO_ASCII): hit by any text holding one
    folded: Vec<usize>,
}

/// literal -> id, and id -> clauses, for one path while a plan is built
type LiteralTable = (HashMap<String, usize>, Vec<Vec<usize>>);

/// Per-event working memory of [`Plan::candidates`], kept between events (no allocation per event).
#[derive(Default)]
pub struct Scratch {
    bits: Vec<u64>,                // candidate rules
    clause_hit: Vec<u64>,          // clauses with an anchor found
    count: Vec<u8>,                // rule -> clauses hit
    buffer: Vec<u8>,               // ASCII-lower-cased non-ASCII text
    found: Vec<(u32, u32)>, // (literal index, literal) found in the event, applied after the scans
    short: Vec<(u32, usize, u32)>, // (literal index, text address, length): short texts, walked together
}

fn zeroed<T: Copy + Default>(v: &mut Vec<T>, n: usize) {
    v.clear();
    v.resize(n, T::default());
}

pub struct Plan {
    always: Vec<usize>,
    literals: Vec<LiteralIndex>,
    /// the path of each of `literals`, apart: most paths a route's rules read are absent from an
    /// event, and this tells which without touching their (cold) indexes
    literal_paths: Vec<u32>,
    numbers: Vec<(u32, FxMap<u64, Vec<usize>>)>, // path -> number -> clauses
    clause_rule: Vec<usize>,                     // clause id -> rule
    needed: Vec<u8>,                             // rule -> clauses it needs (0: not anchored here)
    words: usize,                                // bitset size over rule indexes
}

impl Plan {
    pub fn build(rules: &[usize], needs: &[Option<Need>]) -> PyResult<Plan> {
        let mut always = Vec::new();
        let mut lits: HashMap<u32, LiteralTable> = HashMap::new();
        let mut nums: HashMap<u32, FxMap<u64, Vec<usize>>> = HashMap::new();
        let mut folds: HashMap<u32, Vec<usize>> = HashMap::new();
        let mut top = 0usize;
        let mut clause_rule: Vec<usize> = Vec::new();
        for &rule in rules {
            top = top.max(rule);
        }
        let mut needed = vec![0u8; top + 1];
        for &rule in rules {
            let Some(need) = needs.get(rule).and_then(|n| n.as_ref()) else {
                always.push(rule);
                continue;
            };
            needed[rule] = need.clauses.len() as u8;
            for clause in &need.clauses {
                let cid = clause_rule.len();
                clause_rule.push(rule);
                for anchor in &clause.anchors {
                    match anchor {
                        Anchor::Lit(path, lit, folded) => {
                            if *folded {
                                let list = folds.entry(*path).or_default();
                                if list.last() != Some(&cid) {
                                    list.push(cid);
                                }
                            }
                            let (ids, by_id) = lits.entry(*path).or_default();
                            let next = ids.len();
                            let id = *ids.entry(lit.clone()).or_insert(next);
                            if id == by_id.len() {
                                by_id.push(Vec::new());
                            }
                            if by_id[id].last() != Some(&cid) {
                                by_id[id].push(cid);
                            }
                        }
                        Anchor::Num(path, key) => {
                            let list = nums.entry(*path).or_default().entry(*key).or_default();
                            if list.last() != Some(&cid) {
                                list.push(cid);
                            }
                        }
                    }
                }
            }
        }
        let mut literals = Vec::new();
        let mut paths: Vec<u32> = lits.keys().copied().collect();
        paths.sort_unstable();
        for path in paths {
            let (ids, by_id) = lits.remove(&path).unwrap_or_default();
            let mut words: Vec<(String, usize)> = ids.into_iter().collect();
            words.sort_by_key(|(_, id)| *id);
            let ascii = words.iter().all(|(w, _)| w.is_ascii());
            let finder = Finder::build(&words.iter().map(|(w, _)| w.as_str()).collect::<Vec<_>>())?;
            literals.push(LiteralIndex {
                path,
                finder,
                ascii,
                clauses: by_id,
                folded: folds.remove(&path).unwrap_or_default(),
            });
        }
        let mut numbers: Vec<(u32, FxMap<u64, Vec<usize>>)> = nums.into_iter().collect();
        numbers.sort_by_key(|(p, _)| *p);
        Ok(Plan {
            always,
            literal_paths: literals.iter().map(|index| index.path).collect(),
            literals,
            numbers,
            clause_rule,
            needed,
            words: top / 64 + 1,
        })
    }

    /// Candidate rules of the event, ascending: every rule without anchors, and every rule each of
    /// whose clauses has an anchor present.
    pub fn candidates<'py>(
        &self,
        view: &mut View<'py>,
        helpers: &Helpers,
        py: Python<'py>,
        stats: &mut [u64; 4],
        scratch: &mut Scratch,
    ) -> Result<Vec<usize>, Stop> {
        let Scratch {
            bits,
            clause_hit,
            count,
            buffer,
            found,
            short,
        } = scratch;
        found.clear();
        short.clear();
        zeroed(bits, self.words);
        zeroed(clause_hit, self.clause_rule.len() / 64 + 1);
        zeroed(count, self.needed.len());
        let (clause_rule, needed) = (&self.clause_rule, &self.needed);
        let mut hit = |cid: usize, bits: &mut Vec<u64>| {
            let (w, b) = (cid >> 6, 1u64 << (cid & 63));
            if clause_hit[w] & b == 0 {
                clause_hit[w] |= b;
                let rule = clause_rule[cid];
                count[rule] += 1;
                if count[rule] == needed[rule] {
                    bits[rule >> 6] |= 1u64 << (rule & 63);
                }
            }
        };
        for &rule in &self.always {
            bits[rule >> 6] |= 1u64 << (rule & 63);
        }
        stats[2] += self.always.len() as u64;
        for (at, &path) in self.literal_paths.iter().enumerate() {
            if view.slot(path).is_none() {
                continue;
            }
            let index = &self.literals[at];
            if index.ascii {
                if let Some(raw) = view.latin1(path) {
                    // One str of Latin-1 characters, not all ASCII (a Windows event's XML naming
                    // "Microsoft® Windows®"): its ASCII-lower-cased bytes hold an ASCII literal
                    // wherever the UTF-8 of its str.lower() does (other characters are bytes of
                    // 0x80 and up in both, and none of them lowers or folds onto ASCII: no
                    // `specials` to look for), and the UTF-8 copy of the str is not made
                    buffer.clear();
                    buffer.extend(raw.iter().map(|b| b.to_ascii_lowercase()));
                    stats[0] += buffer.len() as u64;
                    index.finder.scan(buffer, false, finding(found, index, at));
                    continue;
                }
            }
            // The literals are str.lower() of rule text. ASCII text is scanned lower-cased as the
            // exact evaluation reads it (made once for both). Other text whose only case changes
            // under str.lower() are ASCII ones (no U+0130, U+212A, which lower to ASCII) is
            // scanned ASCII-lower-cased when the literals are ASCII; the rest gets str.lower().
            view.ensure_texts(index.path, false, helpers, py)?;
            let count = view.texts(index.path, false).len();
            for i in 0..count {
                let plain = view.texts(index.path, false)[i].as_str();
                let ascii = view.ascii(index.path, false)[i];
                // (an ASCII text holds neither; the answers matter to indexes of such clauses
                // and to ASCII literals)
                let (folds, lowers) = if ascii || (index.folded.is_empty() && !index.ascii) {
                    (false, false)
                } else {
                    specials(plain.as_bytes())
                };
                if folds {
                    for &cid in &index.folded {
                        hit(cid, bits);
                    }
                }
                let buffered = !ascii && index.ascii && !lowers;
                let text: &[u8] = if buffered {
                    buffer.clear();
                    buffer.extend(plain.bytes().map(|b| b.to_ascii_lowercase()));
                    buffer
                } else {
                    view.ensure_texts(index.path, true, helpers, py)?;
                    view.texts(index.path, true)[i].as_str().as_bytes()
                };
                stats[0] += text.len() as u64;
                if !buffered && index.finder.short(text).is_some() {
                    // a text of the view stays where it is until the view's reset (in its arena,
                    // or a str it holds); the buffer is reused by the next text: scanned now
                    short.push((at as u32, text.as_ptr() as usize, text.len() as u32));
                    continue;
                }
                index.finder.scan(text, ascii, finding(found, index, at));
            }
        }
        walk_together(&self.literals, short, found);
        stats[1] += found.len() as u64;
        // the clauses of the literals found, loaded together (cold when rules are many), then hit
        for &(at, literal) in found.iter() {
            prefetch(self.literals[at as usize].clauses[literal as usize].as_ptr());
        }
        for &(at, literal) in found.iter() {
            for &cid in &self.literals[at as usize].clauses[literal as usize] {
                hit(cid, bits);
            }
        }
        for (path, table) in &self.numbers {
            let Some(value) = view.slot(*path) else {
                continue;
            };
            for item in items(value) {
                if let Some(n) = as_number(py, &item, helpers)? {
                    if let Some(rules) = table.get(&number_key(n)) {
                        stats[3] += rules.len() as u64;
                        for &cid in rules {
                            hit(cid, bits);
                        }
                    }
                }
            }
        }
        let mut out = Vec::new();
        for (w, &word) in bits.iter().enumerate() {
            let mut word = word;
            while word != 0 {
                let bit = word.trailing_zeros() as usize;
                out.push(w * 64 + bit);
                word &= word - 1;
            }
        }
        Ok(out)
    }
}

/// What a scan of `literals[at]` does with each literal found: it goes to `found`, and its clause
/// list starts loading (read once all fields are scanned).
fn finding<'a>(
    found: &'a mut Vec<(u32, u32)>,
    index: &'a LiteralIndex,
    at: usize,
) -> impl FnMut(usize) + 'a {
    move |literal| {
        prefetch(index.clauses.as_ptr().wrapping_add(literal));
        found.push((at as u32, literal as u32));
    }
}

/// The DFA a field's short texts are walked with: every literal, standard matches, no prefilter.
fn short_dfa(words: &[&str]) -> Result<DFA, aho_corasick::BuildError> {
    DFA::builder()
        .match_kind(MatchKind::Standard)
        .prefilter(false)
        .build(words)
}

/// One byte of a walk of `dfa` (standard, unanchored, without prefilter: a state's matches are
/// all the literals ending there): the next state, `found(literal id)` for each match.
#[inline]
fn step(dfa: &DFA, state: StateID, byte: u8, mut found: impl FnMut(u32)) -> StateID {
    let next = dfa.next_state(Anchored::No, state, byte);
    if dfa.is_special(next) && dfa.is_match(next) {
        for m in 0..dfa.match_len(next) {
            found(dfa.match_pattern(next, m).as_u32());
        }
    }
    next
}

/// `found(literal id)` for every occurrence of a literal of `dfa` in `text`.
fn walk(dfa: &DFA, text: &[u8], mut found: impl FnMut(usize)) {
    let Ok(mut state) = dfa.start_state(Anchored::No) else {
        return;
    };
    for &byte in text {
        state = step(dfa, state, byte, |literal| found(literal as usize));
    }
}

/// Short texts walked side by side by [`walk_together`].
const LANES: usize = 8;

/// A text being walked: its literal index, DFA, bytes and state.
type Lane<'a> = (u32, &'a DFA, &'a [u8], StateID);

/// Every literal each short text holds (`short`: literal index, text), into `found`. A DFA walk
/// is a chain of loads, each waiting for the one before (its tables are cold when rules are
/// many); walking [`LANES`] texts side by side, one byte of each in turn, runs that many chains
/// at once.
fn walk_together(
    literals: &[LiteralIndex],
    short: &[(u32, usize, u32)],
    found: &mut Vec<(u32, u32)>,
) {
    for group in short.chunks(LANES) {
        let mut lanes: [Option<Lane<'_>>; LANES] = [None; LANES];
        let mut longest = 0;
        for (lane, &(at, ptr, len)) in lanes.iter_mut().zip(group) {
            // SAFETY: `candidates` took the pointer and length of a text of the view, which
            // stays in place, unchanged, until the view's reset (after `candidates` returns)
            let text = unsafe { std::slice::from_raw_parts(ptr as *const u8, len as usize) };
            let Some(dfa) = literals[at as usize].finder.short(text) else {
                continue;
            };
            let Ok(start) = dfa.start_state(Anchored::No) else {
                continue;
            };
            *lane = Some((at, dfa, text, start));
            longest = longest.max(text.len());
        }
        for i in 0..longest {
            for (at, dfa, text, state) in lanes.iter_mut().flatten() {
                let Some(&byte) = text.get(i) else {
                    continue;
                };
                *state = step(dfa, *state, byte, |literal| found.push((*at, literal)));
            }
        }
    }
}

/// Non-ASCII characters `str.lower()` turns into ASCII (U+0130 LATIN CAPITAL LETTER I WITH DOT
/// ABOVE, U+212A KELVIN SIGN); all of them are in [`FOLDS_TO_ASCII`] too.
const LOWERS_TO_ASCII: [&str; 2] = ["\u{130}", "\u{212A}"];

/// The first bytes of the UTF-8 of [`FOLDS_TO_ASCII`] (a test checks they are all here).
const SPECIAL_LEADS: [u8; 3] = [0xC4, 0xC5, 0xE2];

/// Whether `text` holds a character of [`FOLDS_TO_ASCII`], and one of [`LOWERS_TO_ASCII`], in one
/// pass: a SIMD search skips to their UTF-8 lead bytes ([`SPECIAL_LEADS`]; text of kilobytes,
/// such as `event.original`, was searched once per character before).
fn specials(text: &[u8]) -> (bool, bool) {
    let mut folds = false;
    let [a, b, c] = SPECIAL_LEADS;
    for at in memchr::memchr3_iter(a, b, c, text) {
        let here = &text[at..];
        if let Some(c) = FOLDS_TO_ASCII
            .iter()
            .find(|c| here.starts_with(c.as_bytes()))
        {
            if LOWERS_TO_ASCII.contains(c) {
                return (true, true);
            }
            folds = true;
        }
    }
    (folds, false)
}

#[cfg(test)]
mod tests {
    use super::{
        short_dfa, specials, walk_together, Finder, LiteralIndex, FOLDS_TO_ASCII, LOWERS_TO_ASCII,
        SPECIAL_LEADS,
    };
    use crate::grams::GramIndex;
    use aho_corasick::{AhoCorasick, MatchKind};

    /// A finder as `Finder::build` makes one for few literals (built here without Python errors).
    fn automaton(words: &[&str]) -> Finder {
        let build = |kind| {
            AhoCorasick::builder()
                .match_kind(kind)
                .build(words)
                .unwrap()
        };
        Finder::Automaton {
            all: build(MatchKind::Standard),
            gate: build(MatchKind::LeftmostFirst),
            short: Some(short_dfa(words).unwrap()),
        }
    }

    #[test]
    fn specials_finds_what_a_plain_search_finds() {
        // Vietnamese letters share the lead bytes 0xC4 (đ, ĩ) and 0xE2 (…, the right-to-left mark)
        let parts = [
            "",
            "a",
            "đường",
            "ĩ",
            "…",
            "\u{200f}",
            "\u{17F}",
            "\u{131}",
            "\u{130}",
            "\u{212A}",
            "\u{c4}",
        ];
        for special in FOLDS_TO_ASCII {
            assert!(
                SPECIAL_LEADS.contains(&special.as_bytes()[0]),
                "{special:?}"
            );
        }
        for a in parts {
            for b in parts {
                for c in parts {
                    let text = format!("{a}x{b}{c}");
                    let holds = |chars: &[&str]| chars.iter().any(|ch| text.contains(ch));
                    assert_eq!(
                        specials(text.as_bytes()),
                        (holds(&FOLDS_TO_ASCII), holds(&LOWERS_TO_ASCII)),
                        "{text:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn latin1_bytes_hold_the_ascii_literals_their_utf8_holds() {
        // what `candidates` scans for an ASCII index instead of a Latin-1 str's UTF-8; no Latin-1
        // character lowers or folds onto ASCII, so `specials` is not asked
        for special in FOLDS_TO_ASCII.iter().chain(&LOWERS_TO_ASCII) {
            assert!(special.chars().all(|c| u32::from(c) > 0xFF), "{special:?}");
        }
        let words = ["microsoft", "t w", "windows", "g s", "s o", "\\x", "é"];
        let ascii: Vec<&str> = words.iter().copied().filter(|w| w.is_ascii()).collect();
        let many: Vec<String> = (0..100).map(|i| format!("lit{i}x")).collect();
        let many: Vec<&str> = many
            .iter()
            .map(String::as_str)
            .chain(ascii.clone())
            .collect();
        let texts = [
            "Microsoft® Windows® Operating System",
            "ÀÉÎ Windows\\X ÿ",
            "a\u{ae}b\u{a0}lit7X Windows",
            "WINDOWS\u{80}\u{ff}S O",
        ];
        let finders = [
            automaton(&ascii),
            Finder::Grams(GramIndex::new(&many).unwrap()),
        ];
        for finder in finders {
            for text in texts {
                let latin1: Vec<u8> = text
                    .chars()
                    .map(|c| u8::try_from(u32::from(c)).unwrap().to_ascii_lowercase())
                    .collect();
                let found = |bytes: &[u8]| {
                    let mut out = Vec::new();
                    finder.scan(bytes, false, |id| out.push(id));
                    out.sort_unstable();
                    out.dedup();
                    out
                };
                let by_latin1 = found(&latin1);
                assert!(!by_latin1.is_empty(), "{text:?}");
                assert_eq!(by_latin1, found(text.to_lowercase().as_bytes()), "{text:?}");
            }
        }
    }

    #[test]
    fn texts_walked_together_find_what_each_finds_alone() {
        // literal sets of several fields and texts of unequal lengths, more than one group of lanes
        let sets: [&[&str]; 3] = [
            &["exe", "cmd.exe", "md", "\\temp\\"],
            &["high", "system", "igh"],
            &["a", "aa", "ab", "b"],
        ];
        let literals: Vec<LiteralIndex> = sets
            .iter()
            .map(|words| LiteralIndex {
                path: 0,
                finder: automaton(words),
                ascii: true,
                clauses: vec![Vec::new(); words.len()],
                folded: Vec::new(),
            })
            .collect();
        let texts = [
            (0u32, "c:\\windows\\cmd.exe"),
            (1, "high"),
            (2, "abaab"),
            (0, "c:\\temp\\x.exe"),
            (1, ""),
            (2, "b"),
            (1, "system high"),
        ];
        let jobs: Vec<(u32, usize, u32)> = texts
            .iter()
            .map(|(at, t)| (*at, t.as_ptr() as usize, t.len() as u32))
            .collect();
        let mut together = Vec::new();
        walk_together(&literals, &jobs, &mut together);
        together.sort_unstable();
        let mut alone = Vec::new();
        for (at, text) in texts {
            let finder = &literals[at as usize].finder;
            assert!(finder.short(text.as_bytes()).is_some());
            for occurrence in match finder {
                Finder::Automaton { all, .. } => {
                    all.find_overlapping_iter(text).collect::<Vec<_>>()
                }
                Finder::Grams(_) => unreachable!("few literals"),
            } {
                alone.push((at, occurrence.pattern().as_u32()));
            }
        }
        alone.sort_unstable();
        assert_eq!(together, alone);
        assert!(together.len() > 10);
    }
}
