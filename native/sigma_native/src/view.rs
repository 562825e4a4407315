//! One event as the rules see it: the values at the paths they read, found by one walk of the dict.
//!
//! Value semantics follow `detections/sigma/matchers.py` exactly: a list matches when an element
//! does, text is compared lower-cased (Python's `str.lower`, called for non-ASCII text), numbers
//! are read from ints, floats and numeric strings. Rare value kinds go to the Python helpers.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString};

use crate::fxhash::FxMap;

use crate::cache::prefetch;
use crate::eval::Stop;

/// Python callables for what is decided there (see `Engine::new`).
pub struct Helpers {
    pub fallbacks: Py<PyList>,
    pub flat_factory: Py<PyAny>,
    pub as_text: Py<PyAny>,
    pub as_number: Py<PyAny>,
    pub norm: Py<PyAny>,
}

struct TrieNode {
    path: Option<u32>,
    children: FxMap<String, u32>,
}

/// The dotted paths rules read, as a tree of keys, with the keys of walked dicts remembered by
/// identity: events decoded by the same parser share their key objects (interned or cached
/// strings), so most keys are found by their address instead of by hashing their text.
pub struct Trie {
    nodes: Vec<TrieNode>,
    /// (node, key object) -> child node, [`ABSENT`] or [`UNREADABLE`]; each key is kept alive by
    /// `keep` while it is here, so its address cannot be reused by another string
    seen: FxMap<(u32, usize), u32>,
    keep: Vec<Py<PyString>>,
    /// per node, the (key object, child) at each position of the last dict walked there: dicts of
    /// one parser come with the same keys in the same order, so a key is mostly found by one
    /// comparison. Only keys `keep` holds are here (emptied with it).
    shapes: Vec<Vec<(usize, u32)>>,
}

/// Positions remembered per node (a dict's later keys are looked up in `seen`).
const MAX_SHAPE: usize = 256;

/// The key is not on any path rules read.
const ABSENT: u32 = u32::MAX;
/// The key holds a dot or is not valid UTF-8: the event cannot be read as dotted paths here.
const UNREADABLE: u32 = u32::MAX - 1;
/// Keys remembered at most (then forgotten all at once: a stream of ever-new keys stays bounded).
const MAX_SEEN: usize = 1 << 16;

const MAX_DEPTH: usize = 32; // flatten_event descends 32 levels below the root

impl Trie {
    pub fn new(paths: &[String]) -> Self {
        let mut nodes = vec![TrieNode {
            path: None,
            children: FxMap::default(),
        }];
        for (id, path) in paths.iter().enumerate() {
            let parts: Vec<&str> = path.split('.').collect();
            if parts.len() > MAX_DEPTH + 1 {
                continue; // never resolvable (as in LazyFlat)
            }
            let mut at = 0usize;
            for part in parts {
                let next = match nodes[at].children.get(part) {
                    Some(&n) => n as usize,
                    None => {
                        nodes.push(TrieNode {
                            path: None,
                            children: FxMap::default(),
                        });
                        let n = nodes.len() - 1;
                        nodes[at].children.insert(part.to_string(), n as u32);
                        n
                    }
                };
                at = next;
            }
            if nodes[at].path.is_none() {
                nodes[at].path = Some(id as u32);
            }
        }
        let shapes = vec![Vec::new(); nodes.len()];
        Trie {
            nodes,
            seen: FxMap::default(),
            keep: Vec::new(),
            shapes,
        }
    }

    /// [`Trie::child`] of the key at `position` in a dict walked at `node`.
    #[inline]
    fn child_at(&mut self, node: usize, position: usize, key: &Bound<'_, PyString>) -> u32 {
        let id = key.as_ptr() as usize;
        if let Some(&(known, child)) = self.shapes[node].get(position) {
            if known == id {
                return child;
            }
        }
        let child = self.child(node, key);
        if key.is_exact_instance_of::<PyString>() {
            // `child` has just put the key in `keep` (emptying `keep` and the shapes if full)
            let shape = &mut self.shapes[node];
            if position < shape.len() {
                shape[position] = (id, child);
            } else if position == shape.len() && position < MAX_SHAPE {
                shape.push((id, child));
            }
        }
        child
    }

    /// The child of `node` under the string `key` (or [`ABSENT`], [`UNREADABLE`]).
    fn child(&mut self, node: usize, key: &Bound<'_, PyString>) -> u32 {
        // only exact str keys are remembered: freeing one when the cache is emptied runs no
        // Python code (a str subclass could have a `__del__` that changes the dict being walked)
        if !key.is_exact_instance_of::<PyString>() {
            return self.find(node, key);
        }
        let id = (node as u32, key.as_ptr() as usize);
        if let Some(&child) = self.seen.get(&id) {
            return child;
        }
        let child = self.find(node, key);
        if self.seen.len() >= MAX_SEEN {
            self.seen.clear();
            self.keep.clear();
            for shape in &mut self.shapes {
                shape.clear();
            }
        }
        self.seen.insert(id, child);
        self.keep.push(key.clone().unbind());
        child
    }

    fn find(&self, node: usize, key: &Bound<'_, PyString>) -> u32 {
        match key.to_str() {
            Ok(text) if !text.contains('.') => self.nodes[node]
                .children
                .get(text)
                .copied()
                .unwrap_or(ABSENT),
            _ => UNREADABLE,
        }
    }
}

/// A text value: a Python string's own UTF-8 buffer (no copy), a computed string, or bytes the view
/// keeps until its reset (a lower-cased copy in its [`Arena`], or the buffer of a str in its slots).
#[derive(Clone)]
pub enum Text<'py> {
    /// the string (kept alive: it owns the buffer), its UTF-8 pointer and length
    #[allow(dead_code)]
    Py(Bound<'py, PyString>, *const u8, usize),
    Own(String),
    /// UTF-8 that the view holding this text keeps until its reset: in its arena, or the buffer of
    /// a str one of its slots holds
    Lent(*const u8, usize),
}

/// Bytes of the texts one event needs copied (lower-cased ones): filled per event, emptied by
/// [`View::reset`]. Chunks never move once allocated, so a text's pointer into one stays valid
/// until the reset.
#[derive(Default)]
struct Arena {
    chunks: Vec<Vec<u8>>,
    current: usize, // chunk being filled
}

const ARENA_CHUNK: usize = 1 << 16;

impl Arena {
    fn reset(&mut self) {
        self.current = 0;
        if let Some(first) = self.chunks.first_mut() {
            first.clear();
        }
        self.chunks.truncate(4); // a huge event's extra chunks are not kept
    }

    /// `text` ASCII-lower-cased, copied in.
    fn push_ascii_lower(&mut self, text: &str) -> Text<'static> {
        let n = text.len();
        let fits = |c: &Vec<u8>| c.capacity() - c.len() >= n;
        while self.current < self.chunks.len() && !fits(&self.chunks[self.current]) {
            self.current += 1;
            if let Some(next) = self.chunks.get_mut(self.current) {
                next.clear();
            }
        }
        if self.current == self.chunks.len() {
            self.chunks.push(Vec::with_capacity(n.max(ARENA_CHUNK)));
        }
        let chunk = &mut self.chunks[self.current];
        let start = chunk.len();
        // within capacity: the chunk's buffer does not move, earlier texts stay valid
        chunk.extend(text.bytes().map(|b| b.to_ascii_lowercase()));
        Text::Lent(chunk[start..].as_ptr(), n)
    }
}

impl<'py> Text<'py> {
    /// Borrow the UTF-8 of a Python string (None for lone surrogates: not representable).
    pub fn of(s: &Bound<'py, PyString>) -> Option<Self> {
        let text = s.to_str().ok()?;
        Some(Text::Py(s.clone(), text.as_ptr(), text.len()))
    }

    #[inline]
    pub fn as_str(&self) -> &str {
        match self {
            // SAFETY: CPython keeps a str's UTF-8 buffer, immutable, for the object's lifetime,
            // and the Bound held beside the pointer keeps the object alive.
            Text::Py(_, ptr, len) => unsafe {
                std::str::from_utf8_unchecked(std::slice::from_raw_parts(*ptr, *len))
            },
            Text::Own(s) => s.as_str(),
            // SAFETY: the bytes are UTF-8 (a str's UTF-8 buffer, or an ASCII-lower-cased copy of
            // one); the view keeps them, unmoved, until its reset (the arena's chunks, or the str
            // a slot holds: CPython keeps its UTF-8 buffer for the object's lifetime), and the
            // view's texts are cleared by that same reset.
            Text::Lent(ptr, len) => unsafe {
                std::str::from_utf8_unchecked(std::slice::from_raw_parts(*ptr, *len))
            },
        }
    }
}

pub struct View<'py> {
    slots: Vec<Option<Bound<'py, PyAny>>>,
    /// path -> its texts in `texts` (start, end), as they are and lower-cased
    lower: Vec<Option<(u32, u32)>>,
    plain: Vec<Option<(u32, u32)>>,
    texts: Vec<Text<'py>>,
    /// whether each of `texts` is ASCII (a str says so itself: its text need not be read for it)
    ascii: Vec<bool>,
    arena: Arena,
    touched: Vec<u32>,
    cached: Vec<u32>,
    /// (trie node, value) of the entries [`View::walk`] found on rules' paths, before it takes
    /// them: the values' headers load meanwhile (a stack shared by the walk's levels)
    pending: Vec<(u32, *mut ffi::PyObject)>,
    event: Option<Bound<'py, PyDict>>,
    flat: Option<Bound<'py, PyAny>>,
}

/// Characters whose lower-case mapping is the same in Python 3.11's Unicode 14 tables and Rust's:
/// scripts whose case pairs are decades old (Latin, Greek, Cyrillic up to U+1C80, Vietnamese
/// letters, CJK and other caseless ranges above). Capital sigma (context-dependent) is excluded.
fn stable_case(c: char) -> bool {
    let u = c as u32;
    (u < 0x1C80 && u != 0x03A3)
        || (0x1E00..0x1F00).contains(&u)
        || (0x3000..0xA640).contains(&u)
        || (0xAC00..0xD7A4).contains(&u)
}

/// Python's `str.lower()` of `text` (computed here when the tables agree, else by Python).
fn lower_text(py: Python<'_>, text: &str) -> Result<String, Stop> {
    if text.is_ascii() {
        return Ok(text.to_ascii_lowercase());
    }
    if text.chars().all(stable_case) {
        return Ok(text.to_lowercase());
    }
    let lowered = PyString::new(py, text)
        .call_method0("lower")
        .map_err(|_| Stop::Error)?;
    let s = lowered.cast::<PyString>().map_err(|_| Stop::Error)?;
    Ok(s.to_str().map_err(|_| Stop::Bail)?.to_string())
}

/// The elements a matcher looks at: the list's items, or the value itself.
pub fn items<'py>(value: &Bound<'py, PyAny>) -> impl Iterator<Item = Bound<'py, PyAny>> {
    let list = value.cast::<PyList>().ok().map(|list| list.iter());
    let single = if list.is_none() {
        Some(value.clone())
    } else {
        None
    };
    list.into_iter().flatten().chain(single)
}

/// `matchers.as_text`: text of a scalar (None for null, objects and lists).
pub fn as_text<'py>(
    py: Python<'py>,
    value: &Bound<'py, PyAny>,
    helpers: &Helpers,
) -> Result<Option<Text<'py>>, Stop> {
    if let Ok(s) = value.cast::<PyString>() {
        return Text::of(s).map(Some).ok_or(Stop::Bail);
    }
    if value.is_none() || value.is_instance_of::<PyDict>() || value.is_instance_of::<PyList>() {
        return Ok(None);
    }
    if let Ok(b) = value.cast::<PyBool>() {
        return Ok(Some(Text::Own(
            if b.is_true() { "true" } else { "false" }.to_string(),
        )));
    }
    if value.is_instance_of::<PyInt>() {
        if let Ok(i) = value.extract::<i64>() {
            return Ok(Some(Text::Own(i.to_string())));
        }
    }
    let text = helpers
        .as_text
        .bind(py)
        .call1((value,))
        .map_err(|_| Stop::Error)?;
    if text.is_none() {
        return Ok(None);
    }
    let s = text.cast_into::<PyString>().map_err(|_| Stop::Error)?;
    Text::of(&s).map(Some).ok_or(Stop::Bail)
}

/// `matchers.as_number`: number of an int, float or numeric string.
pub fn as_number(
    py: Python<'_>,
    value: &Bound<'_, PyAny>,
    helpers: &Helpers,
) -> Result<Option<f64>, Stop> {
    if value.is_instance_of::<PyBool>() {
        return Ok(None);
    }
    if value.is_instance_of::<PyInt>() {
        if let Ok(i) = value.extract::<i64>() {
            return Ok(Some(i as f64));
        }
    } else if let Ok(f) = value.cast::<PyFloat>() {
        return Ok(Some(f.value()));
    } else if let Ok(s) = value.cast::<PyString>() {
        if let Ok(text) = s.to_str() {
            if !text.is_empty() && text.len() <= 64 && text.bytes().all(|b| b.is_ascii_digit()) {
                return Ok(text.parse::<f64>().ok());
            }
        }
    } else {
        return Ok(None);
    }
    let n = helpers
        .as_number
        .bind(py)
        .call1((value,))
        .map_err(|_| Stop::Error)?;
    if n.is_none() {
        Ok(None)
    } else {
        Ok(Some(n.extract::<f64>().map_err(|_| Stop::Error)?))
    }
}

impl<'py> View<'py> {
    pub fn new(paths: usize) -> Self {
        View {
            slots: vec![None; paths],
            lower: vec![None; paths],
            plain: vec![None; paths],
            texts: Vec::new(),
            ascii: Vec::new(),
            arena: Arena::default(),
            touched: Vec::new(),
            cached: Vec::new(),
            pending: Vec::new(),
            event: None,
            flat: None,
        }
    }

    pub fn reset(&mut self) {
        for &p in &self.touched {
            self.slots[p as usize] = None;
        }
        for &p in &self.cached {
            self.lower[p as usize] = None;
            self.plain[p as usize] = None;
        }
        self.touched.clear();
        self.cached.clear();
        self.texts.clear();
        self.ascii.clear();
        self.arena.reset();
        self.event = None;
        self.flat = None;
    }

    /// Walk the event; false when its keys cannot be read as dotted paths (the Python engine decides).
    pub fn load(&mut self, trie: &mut Trie, event: &Bound<'py, PyDict>) -> bool {
        self.event = Some(event.clone());
        self.walk(trie, 0, event, 0)
    }

    fn walk(
        &mut self,
        trie: &mut Trie,
        node: usize,
        obj: &Bound<'py, PyDict>,
        depth: usize,
    ) -> bool {
        let py = obj.py();
        let mut at: ffi::Py_ssize_t = 0;
        let mut position = 0usize;
        let mut key: *mut ffi::PyObject = std::ptr::null_mut();
        let mut value: *mut ffi::PyObject = std::ptr::null_mut();
        // Two passes: the entries on rules' paths are found first, each value's header prefetched
        // (a fresh event's values are cold: their loads overlap instead of one after another),
        // then taken. SAFETY: PyDict_Next lends the dict's own references; no Python code runs
        // during the walk (no call can change the dict or free what it holds), and each lent
        // object is taken as a new reference (`from_borrowed_ptr`) before it is kept.
        let start = self.pending.len();
        while unsafe { ffi::PyDict_Next(obj.as_ptr(), &mut at, &mut key, &mut value) } != 0 {
            let key = unsafe { Bound::from_borrowed_ptr(py, key) };
            let Ok(key) = key.cast::<PyString>() else {
                self.pending.truncate(start);
                return false;
            };
            position += 1;
            let child = match trie.child_at(node, position - 1, key) {
                ABSENT => continue,
                UNREADABLE => {
                    self.pending.truncate(start);
                    return false;
                }
                child => child,
            };
            let found = &trie.nodes[child as usize];
            if found.path.is_none() && (depth >= MAX_DEPTH || found.children.is_empty()) {
                continue; // neither read by a rule nor leading to a path that is
            }
            prefetch(value as *const u8);
            self.pending.push((child, value));
        }
        let end = self.pending.len();
        let mut readable = true;
        for i in start..end {
            let (child, value) = self.pending[i];
            let value = unsafe { Bound::from_borrowed_ptr(py, value) };
            let child = child as usize;
            if let Some(path) = trie.nodes[child].path {
                self.slots[path as usize] = Some(value.clone());
                self.touched.push(path);
            }
            if depth < MAX_DEPTH && !trie.nodes[child].children.is_empty() {
                if let Ok(inner) = value.cast::<PyDict>() {
                    if !self.walk(trie, child, inner, depth + 1) {
                        readable = false;
                        break;
                    }
                }
            }
        }
        self.pending.truncate(start);
        readable
    }

    pub fn slot(&self, path: u32) -> Option<&Bound<'py, PyAny>> {
        self.slots[path as usize].as_ref()
    }

    /// The characters of the value at `path`, one byte each, when it is one `str` of Latin-1
    /// characters that are not all ASCII (CPython keeps such a str one byte per character; its
    /// UTF-8, which [`View::ensure_texts`] reads, is a copy CPython makes on first use, about
    /// half a nanosecond per character). None for anything else.
    pub fn latin1(&self, path: u32) -> Option<&[u8]> {
        let text = self.slot(path)?.cast::<PyString>().ok()?;
        let op = text.as_ptr();
        // SAFETY: `op` is a str, held by the slot until the reset; a ready str's kind, length
        // and data are fixed for its life (a str is immutable once shared), and the slice
        // borrows `self`, which holds it
        unsafe {
            if ffi::PyUnicode_IS_READY(op) == 0
                || ffi::PyUnicode_IS_ASCII(op) != 0
                || ffi::PyUnicode_KIND(op) != ffi::PyUnicode_1BYTE_KIND
            {
                return None;
            }
            let length = usize::try_from(ffi::PyUnicode_GET_LENGTH(op)).ok()?;
            Some(std::slice::from_raw_parts(
                ffi::PyUnicode_1BYTE_DATA(op),
                length,
            ))
        }
    }

    /// Fill the text cache of a path (see [`View::texts`]).
    pub fn ensure_texts(
        &mut self,
        path: u32,
        lower: bool,
        helpers: &Helpers,
        py: Python<'py>,
    ) -> Result<(), Stop> {
        let p = path as usize;
        if self.plain[p].is_none() {
            let start = self.texts.len() as u32;
            if let Some(value) = &self.slots[p] {
                if let Ok(s) = value.cast::<PyString>() {
                    // the usual case: one str, held by the slot until the reset (no reference taken)
                    let text = s.to_str().map_err(|_| Stop::Bail)?;
                    // SAFETY: a str whose UTF-8 was just read is ready; its ASCII flag is a bit
                    // of its header (the text itself need not be read for it)
                    let ascii = unsafe { ffi::PyUnicode_IS_ASCII(s.as_ptr()) } != 0;
                    self.texts.push(Text::Lent(text.as_ptr(), text.len()));
                    self.ascii.push(ascii);
                } else {
                    for item in items(value) {
                        if let Some(text) = as_text(py, &item, helpers)? {
                            self.ascii.push(text.as_str().is_ascii());
                            self.texts.push(text);
                        }
                    }
                }
            }
            self.cached.push(path);
            self.plain[p] = Some((start, self.texts.len() as u32));
        }
        if lower && self.lower[p].is_none() {
            let (from, to) = self.plain[p].unwrap_or((0, 0));
            let start = self.texts.len() as u32;
            for i in from..to {
                let text = &self.texts[i as usize];
                let s = text.as_str();
                let (lowered, ascii) = if !self.ascii[i as usize] {
                    let lowered = lower_text(py, s)?;
                    let ascii = lowered.is_ascii();
                    (Text::Own(lowered), ascii)
                } else if s.bytes().any(|b| b.is_ascii_uppercase()) {
                    (self.arena.push_ascii_lower(s), true)
                } else {
                    (text.clone(), true)
                };
                self.texts.push(lowered);
                self.ascii.push(ascii);
            }
            self.lower[p] = Some((start, self.texts.len() as u32));
        }
        Ok(())
    }

    /// Text forms of the value at `path` (one per list element), after [`View::ensure_texts`].
    pub fn texts(&self, path: u32, lower: bool) -> &[Text<'py>] {
        &self.texts[self.cached_range(path, lower)]
    }

    /// Whether each of [`View::texts`] is ASCII.
    pub fn ascii(&self, path: u32, lower: bool) -> &[bool] {
        &self.ascii[self.cached_range(path, lower)]
    }

    /// Where the text forms of `path` lie in `texts` and `ascii` (empty before they are made).
    fn cached_range(&self, path: u32, lower: bool) -> std::ops::Range<usize> {
        let cache = if lower { &self.lower } else { &self.plain };
        cache[path as usize].map_or(0..0, |(from, to)| from as usize..to as usize)
    }

    /// The Python flat view of the event, made on first use (for Python evaluators).
    pub fn flat(&mut self, helpers: &Helpers, py: Python<'py>) -> Result<Bound<'py, PyAny>, Stop> {
        if let Some(flat) = &self.flat {
            return Ok(flat.clone());
        }
        let event = self.event.clone().ok_or(Stop::Bail)?;
        let flat = helpers
            .flat_factory
            .bind(py)
            .call1((event,))
            .map_err(|_| Stop::Bail)?;
        self.flat = Some(flat.clone());
        Ok(flat)
    }

    /// Whether [`View::route_value`] of `path` is `want`, when that is quick to tell (ASCII text,
    /// ints, absent or null values); None otherwise.
    pub fn route_value_is(&self, path: u32, want: Option<&str>) -> Option<bool> {
        let Some(value) = self.slot(path) else {
            return Some(want.is_none());
        };
        if value.is_none() {
            return Some(want.is_none());
        }
        if value.is_exact_instance_of::<PyInt>() {
            let n = value.extract::<i64>().ok()?;
            let mut digits = [0u8; 24];
            let mut at = &mut digits[..];
            std::io::Write::write_fmt(&mut at, format_args!("{n}")).ok()?;
            let len = 24 - at.len();
            return Some(want.is_some_and(|w| w.as_bytes() == &digits[..len]));
        }
        let s = value.cast::<PyString>().ok()?;
        let text = s.to_str().ok()?;
        if !text.is_ascii() {
            return None;
        }
        // `want` is lower-cased: the lower case of `text` is `want` when they differ only in case
        Some(want.is_some_and(|w| w.eq_ignore_ascii_case(text)))
    }

    /// `LogsourceRouter.route_key` for one field: normalised text or None.
    pub fn route_value(
        &self,
        path: u32,
        helpers: &Helpers,
        py: Python<'py>,
    ) -> Result<Option<String>, Stop> {
        let Some(value) = self.slot(path) else {
            return Ok(None);
        };
        let value = match value.cast::<PyList>() {
            Ok(list) => match list.iter().next() {
                Some(first) => first,
                None => return Ok(None),
            },
            Err(_) => value.clone(),
        };
        if value.is_none() || value.is_instance_of::<PyDict>() {
            return Ok(None);
        }
        if let Ok(s) = value.cast::<PyString>() {
            return Ok(Some(lower_text(py, s.to_str().map_err(|_| Stop::Bail)?)?));
        }
        if let Ok(b) = value.cast::<PyBool>() {
            return Ok(Some(if b.is_true() { "true" } else { "false" }.to_string()));
        }
        if value.is_instance_of::<PyInt>() {
            if let Ok(i) = value.extract::<i64>() {
                return Ok(Some(i.to_string())); // str(int).lower()
            }
        }
        let text = helpers
            .norm
            .bind(py)
            .call1((value,))
            .map_err(|_| Stop::Bail)?;
        let s = text.cast::<PyString>().map_err(|_| Stop::Bail)?;
        Ok(Some(s.to_str().map_err(|_| Stop::Bail)?.to_string()))
    }
}
