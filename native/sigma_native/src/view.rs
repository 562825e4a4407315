//! One event as the rules see it: the values at the paths they read, found by one walk of the dict.
//!
//! Value semantics follow `detections/sigma/matchers.py` exactly: a list matches when an element
//! does, text is compared lower-cased (Python's `str.lower`, called for non-ASCII text), numbers
//! are read from ints, floats and numeric strings. Rare value kinds go to the Python helpers.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString};
use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use crate::fxhash::FxHasher;

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

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

/// The dotted paths rules read, as a tree of keys.
pub struct Trie {
    nodes: Vec<TrieNode>,
}

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
        Trie { nodes }
    }
}

/// A text value: a Python string's own UTF-8 buffer (no copy) or a computed string.
#[derive(Clone)]
pub enum Text<'py> {
    /// the string (kept alive: it owns the buffer), its UTF-8 pointer and length
    #[allow(dead_code)]
    Py(Bound<'py, PyString>, *const u8, usize),
    Own(String),
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
        }
    }
}

pub struct View<'py> {
    slots: Vec<Option<Bound<'py, PyAny>>>,
    lower: Vec<Option<Vec<Text<'py>>>>,
    plain: Vec<Option<Vec<Text<'py>>>>,
    touched: Vec<u32>,
    cached: Vec<u32>,
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
pub fn items<'py>(value: &Bound<'py, PyAny>) -> Vec<Bound<'py, PyAny>> {
    match value.cast::<PyList>() {
        Ok(list) => list.iter().collect(),
        Err(_) => vec![value.clone()],
    }
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
            touched: Vec::new(),
            cached: Vec::new(),
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
        self.event = None;
        self.flat = None;
    }

    /// Walk the event; false when its keys cannot be read as dotted paths (the Python engine decides).
    pub fn load(&mut self, trie: &Trie, event: &Bound<'py, PyDict>) -> bool {
        self.event = Some(event.clone());
        self.walk(trie, 0, event, 0)
    }

    fn walk(&mut self, trie: &Trie, node: usize, obj: &Bound<'py, PyDict>, depth: usize) -> bool {
        for (key, value) in obj.iter() {
            let Ok(key) = key.cast::<PyString>() else {
                return false;
            };
            let Ok(key) = key.to_str() else { return false };
            if key.contains('.') {
                return false;
            }
            let Some(&child) = trie.nodes[node].children.get(key) else {
                continue;
            };
            let child = child as usize;
            if let Some(path) = trie.nodes[child].path {
                self.slots[path as usize] = Some(value.clone());
                self.touched.push(path);
            }
            if depth < MAX_DEPTH && !trie.nodes[child].children.is_empty() {
                if let Ok(inner) = value.cast::<PyDict>() {
                    if !self.walk(trie, child, inner, depth + 1) {
                        return false;
                    }
                }
            }
        }
        true
    }

    pub fn slot(&self, path: u32) -> Option<&Bound<'py, PyAny>> {
        self.slots[path as usize].as_ref()
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
            let mut out = Vec::new();
            if let Some(value) = self.slots[p].clone() {
                for item in items(&value) {
                    if let Some(text) = as_text(py, &item, helpers)? {
                        out.push(text);
                    }
                }
            }
            self.cached.push(path);
            self.plain[p] = Some(out);
        }
        if lower && self.lower[p].is_none() {
            let plain = self.plain[p].as_deref().unwrap_or(&[]);
            let mut out = Vec::with_capacity(plain.len());
            for text in plain {
                let s = text.as_str();
                if s.is_ascii() && !s.bytes().any(|b| b.is_ascii_uppercase()) {
                    out.push(text.clone());
                } else {
                    out.push(Text::Own(lower_text(py, s)?));
                }
            }
            self.lower[p] = Some(out);
        }
        Ok(())
    }

    /// Text forms of the value at `path` (one per list element), after [`View::ensure_texts`].
    pub fn texts(&self, path: u32, lower: bool) -> &[Text<'py>] {
        let cache = if lower { &self.lower } else { &self.plain };
        cache[path as usize].as_deref().unwrap_or(&[])
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
