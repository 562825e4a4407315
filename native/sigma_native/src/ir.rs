//! The rule tree handed over by `detections.sigma.native` (Python tuples), compiled for evaluation.
//!
//! Node forms (first item is the tag):
//! - `("and", [node...])`, `("or", [node...])`, `("not", node)`, `("false",)`
//! - `("str", [path...], cased, [(kind, text, tokens)...])` with kind `eq|prefix|suffix|contains|any|glob`;
//!   `text` is already lower-cased unless `cased`; `tokens` (glob only) are literal strings and the
//!   integers 1 (`*`) and 2 (`?`)
//! - `("re", path, pattern, fallback)`: a Sigma `re` value; `pattern` carries its flags inline
//! - `("num", path, value)`, `("cmp", path, op, value)` with op `lt|lte|gt|gte|neq`
//! - `("null", path)`, `("exists", path, want)`
//! - `("ref", path, other, mode)`: `fieldref`, mode `eq|prefix|suffix|contains`
//! - `("py", fallback)`: evaluated by the Python evaluator number `fallback`
//!
//! Paths are indexes into the engine's path table.

use aho_corasick::AhoCorasick;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};
use regex::bytes::{Regex as BytesRegex, RegexBuilder as BytesRegexBuilder};
use regex::Regex;
use regex_syntax::hir::{Hir, HirKind};
use std::collections::HashMap;

use crate::cache::prefetch;
use crate::fxhash::FxSet;
use std::sync::OnceLock;

#[allow(clippy::large_enum_variant)] // a leaf per rule tree node, built once
pub enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    False,
    Str(StrLeaf),
    /// one or more Sigma `re` values ORed on one field (merged into one alternation)
    Re {
        path: u32,
        regex: BytesRegex,
        /// fewest bytes a match spans: a shorter text is not searched
        shortest: usize,
        patterns: Vec<String>,
        fallbacks: Vec<usize>,
    },
    Num {
        path: u32,
        value: f64,
    },
    Cmp {
        path: u32,
        op: CmpOp,
        value: f64,
    },
    Null {
        path: u32,
    },
    Exists {
        path: u32,
        want: bool,
    },
    /// a Sigma boolean: a bool value, or text reading `true`/`false` (`matchers.compile_bool`)
    Bool {
        path: u32,
        want: bool,
    },
    Ref {
        path: u32,
        other: u32,
        mode: RefMode,
    },
    Py(usize),
}

/// How a `fieldref` compares the field's text with the referenced field's text.
#[derive(Clone, Copy)]
pub enum RefMode {
    Eq,
    Prefix,
    Suffix,
    Contains,
}

#[derive(Clone, Copy)]
pub enum CmpOp {
    Lt,
    Lte,
    Gt,
    Gte,
    Neq,
}

/// One or more Sigma string values ORed over the same fields (see `matchers.text_test`).
pub struct StrLeaf {
    pub paths: Vec<u32>,
    pub cased: bool,
    pub any: bool,
    pub eq: FxSet<String>,
    pub prefixes: Affixes,
    pub suffixes: Affixes,
    pub contains: Vec<memchr::memmem::Finder<'static>>,
    pub contains_ac: Option<AhoCorasick>,
    pub globs: Vec<Regex>,
    /// the best literal of each value (None when some value has none: no anchor for the leaf)
    pub anchors: Option<Vec<String>>,
}

impl StrLeaf {
    pub fn test(&self, text: &str) -> bool {
        if self.any {
            return true;
        }
        if !self.eq.is_empty() && self.eq.contains(text) {
            return true;
        }
        if self.prefixes.test(text.as_bytes(), false) || self.suffixes.test(text.as_bytes(), true) {
            return true;
        }
        if let Some(ac) = &self.contains_ac {
            if ac.is_match(text) {
                return true;
            }
        } else if self
            .contains
            .iter()
            .any(|f| f.find(text.as_bytes()).is_some())
        {
            return true;
        }
        self.globs.iter().any(|r| r.is_match(text))
    }
}

/// Distinct lengths (ascending) and the set of the affixes.
type LengthIndex = (Vec<usize>, FxSet<Box<[u8]>>);

/// Prefixes or suffixes of one leaf; many of them are looked up by length in a set.
#[derive(Default)]
pub struct Affixes {
    pub items: Vec<Box<[u8]>>,
    by_length: Option<LengthIndex>,
}

impl Affixes {
    const INDEX_FROM: usize = 6;

    fn index(&mut self) {
        if self.items.len() >= Self::INDEX_FROM {
            let mut lengths: Vec<usize> = self.items.iter().map(|i| i.len()).collect();
            lengths.sort_unstable();
            lengths.dedup();
            self.by_length = Some((lengths, self.items.iter().cloned().collect()));
        }
    }

    #[inline]
    fn test(&self, text: &[u8], suffix: bool) -> bool {
        match &self.by_length {
            Some((lengths, set)) => lengths.iter().take_while(|&&n| n <= text.len()).any(|&n| {
                let part = if suffix {
                    &text[text.len() - n..]
                } else {
                    &text[..n]
                };
                set.contains(part)
            }),
            None => self.items.iter().any(|i| {
                if suffix {
                    text.ends_with(i)
                } else {
                    text.starts_with(i)
                }
            }),
        }
    }
}

fn err(msg: impl Into<String>) -> PyErr {
    PyValueError::new_err(msg.into())
}

fn paths_of(obj: &Bound<'_, PyAny>) -> PyResult<Vec<u32>> {
    obj.extract::<Vec<u32>>()
}

/// A glob (Sigma wildcards) as an anchored, dot-all regex over the whole value.
fn glob_regex(tokens: &Bound<'_, PyList>) -> PyResult<(Regex, Option<String>)> {
    let mut pattern = String::from("(?s)\\A(?:");
    let mut best: Option<String> = None;
    for token in tokens.iter() {
        if let Ok(text) = token.extract::<String>() {
            pattern.push_str(&regex::escape(&text));
            if !text.is_empty()
                && best
                    .as_ref()
                    .is_none_or(|b| literal_cost(&text) < literal_cost(b))
            {
                best = Some(text);
            }
        } else {
            match token.extract::<u8>()? {
                1 => pattern.push_str(".*"),
                2 => pattern.push('.'),
                other => return Err(err(format!("unknown glob token {other}"))),
            }
        }
    }
    pattern.push_str(")\\z");
    let regex = Regex::new(&pattern).map_err(|e| err(format!("glob: {e}")))?;
    Ok((regex, best))
}

/// Substrings found in most events (`prefilter.COMMON_SUBSTRINGS`, given to `Engine::new`):
/// poor anchors whatever their length.
pub static COMMON: OnceLock<Vec<String>> = OnceLock::new();

/// Estimated chance that a random event holds the literal (lower is better).
pub fn literal_cost(lit: &str) -> f64 {
    let n = lit.chars().count().max(1) as f64;
    let mut cost = (2.0 / (n * n)).min(1.0);
    if COMMON
        .get()
        .is_some_and(|common| common.iter().any(|c| lit.contains(c.as_str())))
    {
        cost = (cost * 20.0).min(1.0);
    }
    cost
}

fn str_leaf(t: &Bound<'_, PyTuple>) -> PyResult<Node> {
    let paths = paths_of(&t.get_item(1)?)?;
    let cased: bool = t.get_item(2)?.extract()?;
    let mut leaf = StrLeaf {
        paths,
        cased,
        any: false,
        eq: FxSet::default(),
        prefixes: Affixes::default(),
        suffixes: Affixes::default(),
        contains: Vec::new(),
        contains_ac: None,
        globs: Vec::new(),
        anchors: None,
    };
    let mut anchors: Option<Vec<String>> = Some(Vec::new());
    let patterns = t.get_item(3)?;
    let patterns = patterns.cast::<PyList>()?;
    for pattern in patterns.iter() {
        let p = pattern.cast::<PyTuple>()?;
        let kind: String = p.get_item(0)?.extract()?;
        let text: String = p.get_item(1)?.extract()?;
        let literal = match kind.as_str() {
            "eq" => {
                leaf.eq.insert(text.clone());
                Some(text)
            }
            "prefix" => {
                leaf.prefixes.items.push(text.as_bytes().into());
                Some(text)
            }
            "suffix" => {
                leaf.suffixes.items.push(text.as_bytes().into());
                Some(text)
            }
            "contains" => {
                leaf.contains
                    .push(memchr::memmem::Finder::new(text.as_bytes()).into_owned());
                Some(text)
            }
            "any" => {
                leaf.any = true;
                None
            }
            "glob" => {
                let tokens = p.get_item(2)?;
                let (regex, best) = glob_regex(tokens.cast::<PyList>()?)?;
                leaf.globs.push(regex);
                best
            }
            other => return Err(err(format!("unknown string pattern kind {other}"))),
        };
        match (literal, anchors.as_mut()) {
            (Some(lit), Some(list)) if !lit.is_empty() => list.push(lit),
            _ => anchors = None,
        }
    }
    leaf.prefixes.index();
    leaf.suffixes.index();
    if leaf.contains.len() > 8 {
        let needles: Vec<&[u8]> = leaf.contains.iter().map(|f| f.needle()).collect();
        leaf.contains_ac = Some(AhoCorasick::new(needles).map_err(|e| err(e.to_string()))?);
    }
    leaf.anchors = if cased { None } else { anchors };
    Ok(Node::Str(leaf))
}

/// The regex of `re` values. It only ever searches printable-ASCII text (`eval` gives other text
/// to Python's `re`), where Unicode classes and case folding select what their ASCII forms
/// select: an ASCII pattern is compiled without Unicode, a far smaller automaton (`[^"]{0,64}`
/// under Unicode is a UTF-8 automaton of every code point but one, repeated 64 times). A non-ASCII
/// pattern keeps Unicode (`(?i)ſ` must match `s`).
fn field_regex(pattern: &str) -> Result<BytesRegex, regex::Error> {
    if pattern.is_ascii() {
        if let Ok(regex) = BytesRegexBuilder::new(pattern).unicode(false).build() {
            return Ok(regex);
        }
    }
    BytesRegexBuilder::new(pattern).build()
}

/// Fewest bytes a match of an ASCII `pattern` spans, read as [`field_regex`] compiles it (0 when
/// unknown, and for other patterns). Python's `re` agrees on any text: each item of an ASCII
/// pattern matches one character at least, and a character is one byte at least (case folding
/// only maps ASCII letters to longer characters: `ſ`, `ı`, `İ`, the Kelvin sign).
fn shortest_match(pattern: &str) -> usize {
    if !pattern.is_ascii() {
        return 0;
    }
    regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(pattern)
        .ok()
        .and_then(|hir| hir.properties().minimum_len())
        .unwrap_or(0)
}

/// ORed `re` leaves of one field become one alternation: one search instead of one per value.
fn merge_regexes(parts: Vec<Node>) -> Vec<Node> {
    let mut out: Vec<Node> = Vec::with_capacity(parts.len());
    // path -> (patterns, their Python fallbacks, the leaves as they were)
    type Group = (Vec<String>, Vec<usize>, Vec<Node>);
    let mut by_path: HashMap<u32, Group> = HashMap::new();
    let mut order: Vec<u32> = Vec::new();
    for part in parts {
        match part {
            Node::Re {
                path,
                patterns,
                fallbacks,
                regex,
                shortest,
            } => {
                let entry = by_path.entry(path).or_insert_with(|| {
                    order.push(path);
                    (Vec::new(), Vec::new(), Vec::new())
                });
                entry.0.extend(patterns.iter().cloned());
                entry.1.extend(fallbacks.iter().copied());
                entry.2.push(Node::Re {
                    path,
                    regex,
                    shortest,
                    patterns,
                    fallbacks,
                });
            }
            other => out.push(other),
        }
    }
    for path in order {
        let Some((patterns, fallbacks, originals)) = by_path.remove(&path) else {
            continue;
        };
        if originals.len() == 1 {
            out.extend(originals);
            continue;
        }
        let joined = patterns
            .iter()
            .map(|p| format!("(?:{p})"))
            .collect::<Vec<_>>()
            .join("|");
        match field_regex(&joined) {
            Ok(regex) => out.push(Node::Re {
                path,
                regex,
                shortest: shortest_match(&joined),
                patterns,
                fallbacks,
            }),
            Err(_) => out.extend(originals), // too big together: searched one by one
        }
    }
    out
}

pub fn parse(obj: &Bound<'_, PyAny>, depth: usize) -> PyResult<Node> {
    if depth > 400 {
        return Err(err("rule tree nested too deeply"));
    }
    let t = obj.cast::<PyTuple>()?;
    let tag: String = t.get_item(0)?.extract()?;
    let children = |i: usize| -> PyResult<Vec<Node>> {
        let items = t.get_item(i)?;
        let list = items.cast::<PyList>()?;
        list.iter().map(|c| parse(&c, depth + 1)).collect()
    };
    Ok(match tag.as_str() {
        "and" => Node::And(children(1)?),
        "or" => Node::Or(merge_regexes(children(1)?)),
        "not" => Node::Not(Box::new(parse(&t.get_item(1)?, depth + 1)?)),
        "false" => Node::False,
        "str" => str_leaf(t)?,
        "re" => {
            let path: u32 = t.get_item(1)?.extract()?;
            let pattern: String = t.get_item(2)?.extract()?;
            let fallback: usize = t.get_item(3)?.extract()?;
            match field_regex(&pattern) {
                Ok(regex) => Node::Re {
                    path,
                    regex,
                    shortest: shortest_match(&pattern),
                    patterns: vec![pattern],
                    fallbacks: vec![fallback],
                },
                Err(_) => Node::Py(fallback), // a construct the regex crate lacks: Python's re decides
            }
        }
        "num" => Node::Num {
            path: t.get_item(1)?.extract()?,
            value: t.get_item(2)?.extract()?,
        },
        "cmp" => {
            let op: String = t.get_item(2)?.extract()?;
            let op = match op.as_str() {
                "lt" => CmpOp::Lt,
                "lte" => CmpOp::Lte,
                "gt" => CmpOp::Gt,
                "gte" => CmpOp::Gte,
                "neq" => CmpOp::Neq,
                other => return Err(err(format!("unknown comparison {other}"))),
            };
            Node::Cmp {
                path: t.get_item(1)?.extract()?,
                op,
                value: t.get_item(3)?.extract()?,
            }
        }
        "null" => Node::Null {
            path: t.get_item(1)?.extract()?,
        },
        "exists" => Node::Exists {
            path: t.get_item(1)?.extract()?,
            want: t.get_item(2)?.extract()?,
        },
        "bool" => Node::Bool {
            path: t.get_item(1)?.extract()?,
            want: t.get_item(2)?.extract()?,
        },
        "ref" => {
            let mode: String = t.get_item(3)?.extract()?;
            let mode = match mode.as_str() {
                "eq" => RefMode::Eq,
                "prefix" => RefMode::Prefix,
                "suffix" => RefMode::Suffix,
                "contains" => RefMode::Contains,
                other => return Err(err(format!("unknown fieldref mode {other}"))),
            };
            Node::Ref {
                path: t.get_item(1)?.extract()?,
                other: t.get_item(2)?.extract()?,
                mode,
            }
        }
        "py" => Node::Py(t.get_item(1)?.extract()?),
        other => return Err(err(format!("unknown rule node {other}"))),
    })
}

/// A prefilter anchor: a literal in the lower-cased text of a field (with whether it may occur
/// through a character folded onto ASCII, see [`FOLDS_TO_ASCII`]), or a number a field equals.
#[derive(Clone)]
pub enum Anchor {
    Lit(u32, String, bool),
    Num(u32, u64),
}

/// Anchors one of which must be present (an OR of anchors), with its estimated chance.
#[derive(Clone)]
pub struct Clause {
    pub anchors: Vec<Anchor>,
    pub cost: f64,
}

/// A necessary condition for a rule: every clause has an anchor present (at most
/// [`MAX_CLAUSES`] of a rule's ANDed parts, the rarest).
pub struct Need {
    pub clauses: Vec<Clause>,
}

pub const MAX_CLAUSES: usize = 3;

/// Prefetch a rule's root node and the first of its children.
#[inline]
pub fn prefetch_tree(node: &Node) {
    prefetch(node);
    if let Node::And(parts) | Node::Or(parts) = node {
        prefetch(parts.as_ptr());
    }
}

pub fn number_key(value: f64) -> u64 {
    if value == 0.0 {
        0.0f64.to_bits()
    } else {
        value.to_bits()
    }
}

fn single(anchors: Vec<Anchor>, cost: f64) -> Option<Need> {
    if anchors.is_empty() {
        return None;
    }
    Some(Need {
        clauses: vec![Clause {
            anchors,
            cost: cost.min(1.0),
        }],
    })
}

fn by_cost(a: &Clause, b: &Clause) -> std::cmp::Ordering {
    a.cost
        .partial_cmp(&b.cost)
        .unwrap_or(std::cmp::Ordering::Equal)
}

/// A necessary condition for `node` (see `prefilter.py` for the same idea over JSON bytes).
pub fn need(node: &Node) -> Option<Need> {
    match node {
        Node::And(parts) => {
            let mut clauses: Vec<Clause> = parts
                .iter()
                .filter_map(need)
                .flat_map(|n| n.clauses)
                .collect();
            if clauses.is_empty() {
                return None;
            }
            clauses.sort_by(by_cost);
            clauses.truncate(MAX_CLAUSES);
            Some(Need { clauses })
        }
        Node::Or(parts) => {
            if parts.is_empty() {
                return None;
            }
            let mut anchors = Vec::new();
            let mut cost = 0.0;
            for part in parts {
                let n = need(part)?;
                let best = n.clauses.into_iter().min_by(by_cost)?;
                anchors.extend(best.anchors);
                cost += best.cost;
            }
            single(anchors, cost)
        }
        Node::Str(leaf) => {
            let lits = leaf.anchors.as_ref()?;
            let mut anchors = Vec::new();
            for path in &leaf.paths {
                for lit in lits {
                    anchors.push(Anchor::Lit(*path, lit.clone(), false));
                }
            }
            single(anchors, lits.iter().map(|l| literal_cost(l)).sum::<f64>())
        }
        Node::Re { path, patterns, .. } => {
            let mut anchors = Vec::new();
            let mut cost = 0.0;
            for pattern in patterns {
                let (literals, ignore_case) = regex_literals(pattern)?;
                for lit in literals {
                    cost += literal_cost(&lit);
                    let folded = ignore_case && folds(&lit);
                    anchors.push(Anchor::Lit(*path, lit, folded));
                }
            }
            single(anchors, cost)
        }
        Node::Num { path, value } if value.is_finite() => {
            single(vec![Anchor::Num(*path, number_key(*value))], 0.05)
        }
        _ => None,
    }
}

/// Whether a group's flags (the letters after `(?`) turn case-insensitivity on.
fn sets_ignore_case(group: &str) -> bool {
    // letters before a `-` (or the `:`/`)` ending the flags) are the ones turned on
    group
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .any(|c| c == 'i')
}

/// Literals one of which every match of `pattern` contains (lower-cased ASCII), and whether the
/// pattern ignores case; None when there is no such finite set of literals, or when case is
/// ignored anywhere but in one leading flag group (`(?i)...`, as `re|i` is translated).
///
/// A case-insensitive pattern's literals are taken from the pattern read case-sensitively and
/// lower-cased: any text it matches holds them up to ASCII case, except through the four
/// characters Python's `re` folds onto ASCII letters (ſ, ı, İ, K: see [`FOLDS_TO_ASCII`]),
/// which the plan checks for.
fn regex_literals(pattern: &str) -> Option<(Vec<String>, bool)> {
    let mut groups = pattern.split("(?");
    let head = groups.next().unwrap_or("");
    let mut text = pattern.to_string();
    let mut folded = false;
    for (n, group) in groups.enumerate() {
        if !sets_ignore_case(group) {
            continue;
        }
        let flags_end = group.find(')')?;
        let flags = &group[..flags_end];
        if n != 0 || !head.is_empty() || !flags.chars().all(|c| c.is_ascii_lowercase()) {
            return None; // case-insensitive in part of the pattern only
        }
        // the leading `(?i...)` group: read the rest case-sensitively
        let kept: String = flags.chars().filter(|&c| c != 'i').collect();
        let rest = &pattern[2 + flags_end + 1..];
        text = if kept.is_empty() {
            rest.to_string()
        } else {
            format!("(?{kept}){rest}")
        };
        folded = true;
    }
    let hir = regex_syntax::Parser::new().parse(&text).ok()?;
    let seq = regex_syntax::hir::literal::Extractor::new().extract(&hir);
    let prefixes = seq
        .literals()
        .and_then(|lits| anchor_set(lits.iter().map(|l| l.as_bytes())));
    let inner = required_literals(&hir, 0);
    // the cheaper of the two sets (prefixes on a tie)
    let best = match (prefixes, inner) {
        (Some(p), Some(i)) if set_cost(&i) < set_cost(&p) => Some(i),
        (Some(p), _) => Some(p),
        (None, i) => i,
    };
    best.map(|lits| (lits, folded))
}

/// Most literals of one required set (more alternatives make a poor anchor).
const MAX_REQUIRED: usize = 64;

/// Literals one of which every match of `hir` contains, taken from anywhere in the pattern (the
/// prefix extractor only sees its start: `\.exe\s+[^"]*werfaultsecure\.exe` is anchored better on
/// its second literal): a literal is itself; a concatenation needs each of its parts, so the
/// cheapest part's set serves; an alternation needs one of its branches' sets; a repetition at
/// least once needs its body's. Anything else (classes, optional parts, assertions) requires
/// nothing.
fn required_literals(hir: &Hir, depth: usize) -> Option<Vec<String>> {
    if depth > 32 {
        return None;
    }
    match hir.kind() {
        HirKind::Literal(lit) => anchor_set(std::iter::once(&lit.0[..])),
        HirKind::Capture(capture) => required_literals(&capture.sub, depth + 1),
        HirKind::Repetition(rep) if rep.min >= 1 => required_literals(&rep.sub, depth + 1),
        HirKind::Concat(parts) => {
            // each part's own set, and the strings each run of exactly known parts spells
            // (`\.[ "']` is one of `. `, `."`, `.'`: rarer than `.`)
            let mut sets: Vec<Vec<String>> = parts
                .iter()
                .filter_map(|part| required_literals(part, depth + 1))
                .collect();
            let mut run: Option<Vec<Vec<u8>>> = None;
            for part in parts {
                let known = exact_strings(part, depth + 1);
                let grown = match (&run, &known) {
                    (Some(spelled), Some(known)) => cross(spelled, known),
                    _ => None,
                };
                if grown.is_some() {
                    run = grown;
                } else {
                    // the run ends here; the part may itself start the next one
                    sets.extend(run.take().and_then(|r| spelled_set(&r)));
                    run = known;
                }
            }
            sets.extend(run.and_then(|r| spelled_set(&r)));
            sets.into_iter()
                .min_by(|a, b| set_cost(a).total_cmp(&set_cost(b)))
        }
        HirKind::Alternation(branches) => {
            let mut out: Vec<String> = Vec::new();
            for branch in branches {
                for lit in required_literals(branch, depth + 1)? {
                    if !out.contains(&lit) {
                        out.push(lit);
                    }
                }
                if out.len() > MAX_REQUIRED {
                    return None;
                }
            }
            Some(out)
        }
        _ => None,
    }
}

/// Most characters of a class taken as alternatives of an exactly known string.
const MAX_CLASS: usize = 8;

/// The strings `hir` matches, when they are few ([`MAX_REQUIRED`]) and known exactly: a literal,
/// a small class, and concatenations, alternations and fixed repetitions of those.
fn exact_strings(hir: &Hir, depth: usize) -> Option<Vec<Vec<u8>>> {
    if depth > 32 {
        return None;
    }
    match hir.kind() {
        HirKind::Literal(lit) => Some(vec![lit.0.to_vec()]),
        HirKind::Class(class) => {
            let mut out = Vec::new();
            match class {
                regex_syntax::hir::Class::Unicode(c) => {
                    for range in c.ranges() {
                        for ch in range.start()..=range.end() {
                            if out.len() == MAX_CLASS {
                                return None;
                            }
                            out.push(ch.to_string().into_bytes());
                        }
                    }
                }
                regex_syntax::hir::Class::Bytes(c) => {
                    for range in c.ranges() {
                        for byte in range.start()..=range.end() {
                            if out.len() == MAX_CLASS {
                                return None;
                            }
                            out.push(vec![byte]);
                        }
                    }
                }
            }
            Some(out)
        }
        HirKind::Capture(capture) => exact_strings(&capture.sub, depth + 1),
        HirKind::Concat(parts) => parts.iter().try_fold(vec![Vec::new()], |spelled, part| {
            cross(&spelled, &exact_strings(part, depth + 1)?)
        }),
        HirKind::Alternation(branches) => {
            let mut out: Vec<Vec<u8>> = Vec::new();
            for branch in branches {
                out.extend(exact_strings(branch, depth + 1)?);
                if out.len() > MAX_REQUIRED {
                    return None;
                }
            }
            Some(out)
        }
        HirKind::Repetition(rep) if Some(rep.min) == rep.max && rep.min <= 4 => {
            let one = exact_strings(&rep.sub, depth + 1)?;
            (0..rep.min).try_fold(vec![Vec::new()], |spelled, _| cross(&spelled, &one))
        }
        _ => None,
    }
}

/// Every `a` followed by every `b` (None above [`MAX_REQUIRED`] strings).
fn cross(a: &[Vec<u8>], b: &[Vec<u8>]) -> Option<Vec<Vec<u8>>> {
    if a.len() * b.len() > MAX_REQUIRED {
        return None;
    }
    Some(
        a.iter()
            .flat_map(|x| b.iter().map(move |y| [x.as_slice(), y].concat()))
            .collect(),
    )
}

/// The spelled strings of a run as anchors (None when one is empty or not ASCII).
fn spelled_set(spelled: &[Vec<u8>]) -> Option<Vec<String>> {
    anchor_set(spelled.iter().map(|s| s.as_slice()))
}

/// Literals as anchors: lower-cased, distinct; None when one is empty or not ASCII.
fn anchor_set<'a>(literals: impl Iterator<Item = &'a [u8]>) -> Option<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for bytes in literals {
        if bytes.is_empty() || !bytes.is_ascii() {
            return None;
        }
        let text = String::from_utf8(bytes.to_ascii_lowercase()).ok()?;
        if !out.contains(&text) {
            out.push(text);
        }
    }
    if out.is_empty() {
        None
    } else {
        Some(out)
    }
}

/// Estimated chance that a text holds one of `literals` (each by [`literal_cost`], as if apart).
fn set_cost(literals: &[String]) -> f64 {
    1.0 - literals
        .iter()
        .map(|l| 1.0 - literal_cost(l))
        .product::<f64>()
}

/// Non-ASCII characters Python's `re.IGNORECASE` matches to ASCII letters (ſ ~ s, ı and İ ~ i,
/// Kelvin sign ~ k): a case-insensitive regex's ASCII literal may occur in a text only through
/// them, which lower-casing does not show.
pub const FOLDS_TO_ASCII: [&str; 4] = ["\u{17F}", "\u{131}", "\u{130}", "\u{212A}"];

/// Whether an anchor literal of a case-insensitive regex could occur through [`FOLDS_TO_ASCII`].
pub fn folds(literal: &str) -> bool {
    literal.bytes().any(|b| matches!(b, b'i' | b'k' | b's'))
}

#[cfg(test)]
mod tests {
    use super::regex_literals;

    fn lits(pattern: &str) -> Option<(Vec<String>, bool)> {
        regex_literals(pattern)
    }

    #[test]
    fn case_insensitive_only_from_a_leading_flag_group() {
        assert_eq!(lits("(?i)SET\\s+x"), Some((vec!["set".to_string()], true)));
        assert_eq!(
            lits("(?is)echo.*clip"),
            Some((vec!["echo".to_string()], true))
        );
        // the cheapest required literal, wherever it is
        assert_eq!(lits("Net\\s+user"), Some((vec!["user".to_string()], false)));
        assert_eq!(
            lits("(?i)\\.exe[\"']?\\s+[^\"]{0,64}werfaultSecure\\.exe"),
            Some((vec!["werfaultsecure.exe".to_string()], true))
        );
        assert_eq!(
            lits("\\w+(?:abcd|EFG+h)\\d"),
            Some((vec!["abcd".to_string(), "ef".to_string()], false))
        );
        assert_eq!(lits("\\w+`?x?"), None); // nothing required
        assert_eq!(
            lits("(?:ab|cd)x"),
            Some((vec!["abx".to_string(), "cdx".to_string()], false))
        );
        assert_eq!(lits("a(?i)b"), None); // case ignored in part of the pattern
        assert_eq!(lits("(?i:ab)c"), None);
        assert_eq!(lits("(?i)a(?i)b"), None);
        assert_eq!(lits("\\(?i)x"), None);
        assert_eq!(lits("\\w+x"), Some((vec!["x".to_string()], false))); // not a prefix
        assert_eq!(lits("(?i)é"), None); // not ASCII
    }

    #[test]
    fn shortest_match_is_in_bytes_as_the_regex_reads_the_text() {
        use super::shortest_match;
        assert_eq!(shortest_match(r"\s[a-fA-F0-9]{64}\s[a-fA-F0-9]{16}"), 82);
        assert_eq!(shortest_match(r"(?:abc)|(?:d\.e?)"), 2);
        assert_eq!(shortest_match(r"(?i)é+"), 0); // not ASCII: no bound taken
        assert_eq!(shortest_match(r"x*"), 0);
        assert_eq!(shortest_match(r"(?<=a)b"), 0); // not parsed here: the text is searched
    }

    #[test]
    fn runs_of_literals_and_small_classes_spell_anchors() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        // `\.[ "']` spells three 2-byte strings, rarer than the lone `\` or `.`
        assert_eq!(
            lits(r#"\\[a-zA-Z0-9]{1,32}\.[a-zA-Z0-9]{1,6}\.[ "']{1}"#),
            Some((s(&[". ", ".\"", ".'"]), false))
        );
        // case variants spelled out collapse once lower-cased
        assert_eq!(lits(r"\.[Ee][Xx][Ee]\b"), Some((s(&[".exe"]), false)));
        assert_eq!(lits(r"\w+[0-9]{3}y"), Some((s(&["y"]), false))); // 1,000 strings: too many
        assert_eq!(lits(r"ab(?:c|d)e"), Some((s(&["abce", "abde"]), false)));
        assert_eq!(lits(r"a[bé]c"), Some((s(&["a"]), false))); // a non-ASCII spelling: not an anchor
    }
}
