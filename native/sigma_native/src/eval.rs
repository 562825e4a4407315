//! Exact evaluation of a compiled rule tree over one event view.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyString};

use crate::ir::{CmpOp, Node, RefMode};
use crate::view::{as_number, items, Helpers, View};

/// Why an evaluation stopped: the rule raised (counted as a rule error, no match, as the Python
/// engine does) or the event must go to the Python engine.
pub enum Stop {
    Error,
    Bail,
}

fn fallback<'py>(
    index: usize,
    view: &mut View<'py>,
    helpers: &Helpers,
    py: Python<'py>,
) -> Result<bool, Stop> {
    let flat = view.flat(helpers, py)?;
    let evaluator = helpers
        .fallbacks
        .bind(py)
        .get_item(index)
        .map_err(|_| Stop::Error)?;
    let result = evaluator.call1((flat,)).map_err(|_| Stop::Error)?;
    result.is_truthy().map_err(|_| Stop::Error)
}

fn numbers<'py>(
    path: u32,
    view: &View<'py>,
    helpers: &Helpers,
    py: Python<'py>,
    mut test: impl FnMut(f64) -> bool,
) -> Result<bool, Stop> {
    let Some(value) = view.slot(path) else {
        return Ok(false);
    };
    for item in items(value) {
        if let Some(n) = as_number(py, &item, helpers)? {
            if test(n) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

fn is_null(view: &View<'_>, path: u32) -> bool {
    match view.slot(path) {
        None => true,
        Some(v) => v.is_none() || v.cast::<pyo3::types::PyList>().is_ok_and(|l| l.is_empty()),
    }
}

/// `matchers.compile_bool`: a bool is `want`, or a str is `true`/`false` once stripped (Python's
/// `str.isspace` characters: Rust's whitespace and U+001C..U+001F) and lower-cased (no non-ASCII
/// character lower-cases into these letters).
fn is_bool(item: &Bound<'_, PyAny>, want: bool) -> bool {
    if let Ok(b) = item.cast::<PyBool>() {
        return b.is_true() == want;
    }
    let Ok(s) = item.cast::<PyString>() else {
        return false;
    };
    let Ok(text) = s.to_str() else {
        return false; // lone surrogates: not `true` or `false` either
    };
    let text = text.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c));
    text.eq_ignore_ascii_case(if want { "true" } else { "false" })
}

pub fn evaluate<'py>(
    node: &Node,
    view: &mut View<'py>,
    helpers: &Helpers,
    py: Python<'py>,
) -> Result<bool, Stop> {
    Ok(match node {
        Node::And(parts) => {
            for part in parts {
                if !evaluate(part, view, helpers, py)? {
                    return Ok(false);
                }
            }
            true
        }
        Node::Or(parts) => {
            for part in parts {
                if evaluate(part, view, helpers, py)? {
                    return Ok(true);
                }
            }
            false
        }
        Node::Not(part) => !evaluate(part, view, helpers, py)?,
        Node::False => false,
        Node::Str(leaf) => {
            let lower = !leaf.cased;
            for &path in &leaf.paths {
                if view.slot(path).is_none() {
                    continue;
                }
                view.ensure_texts(path, lower, helpers, py)?;
                if view
                    .texts(path, lower)
                    .iter()
                    .any(|t| leaf.test(t.as_str()))
                {
                    return Ok(true);
                }
            }
            false
        }
        Node::Re {
            path,
            regex,
            shortest,
            fallbacks,
            ..
        } => {
            if view.slot(*path).is_none() {
                return Ok(false);
            }
            view.ensure_texts(*path, false, helpers, py)?;
            let texts = view.texts(*path, false);
            if texts.iter().all(|t| {
                t.as_str()
                    .bytes()
                    .all(|b| (0x20..=0x7e).contains(&b) || b == b'\t')
            }) {
                texts
                    .iter()
                    .any(|t| t.as_str().len() >= *shortest && regex.is_match(t.as_str().as_bytes()))
            } else if texts.iter().all(|t| t.as_str().len() < *shortest) {
                // fewer bytes, so fewer characters, than any match spans (the bound is taken for
                // ASCII patterns only, where it holds for Python's re too: see `shortest_match`)
                false
            } else {
                // Unicode classes, case folding, `$` before a final newline: Python's re decides
                for &index in fallbacks {
                    if fallback(index, view, helpers, py)? {
                        return Ok(true);
                    }
                }
                false
            }
        }
        Node::Num { path, value } => numbers(*path, view, helpers, py, |n| n == *value)?,
        Node::Cmp { path, op, value } => {
            let target = *value;
            match op {
                CmpOp::Lt => numbers(*path, view, helpers, py, |n| n < target)?,
                CmpOp::Lte => numbers(*path, view, helpers, py, |n| n <= target)?,
                CmpOp::Gt => numbers(*path, view, helpers, py, |n| n > target)?,
                CmpOp::Gte => numbers(*path, view, helpers, py, |n| n >= target)?,
                CmpOp::Neq => numbers(*path, view, helpers, py, |n| n != target)?,
            }
        }
        Node::Null { path } => is_null(view, *path),
        Node::Exists { path, want } => is_null(view, *path) != *want,
        Node::Bool { path, want } => match view.slot(*path) {
            None => false,
            Some(value) => items(value).any(|item| is_bool(&item, *want)),
        },
        Node::Ref { path, other, mode } => {
            if view.slot(*path).is_none() || view.slot(*other).is_none() {
                return Ok(false);
            }
            view.ensure_texts(*path, true, helpers, py)?;
            view.ensure_texts(*other, true, helpers, py)?;
            let left = view.texts(*path, true);
            let right = view.texts(*other, true);
            left.iter().any(|a| {
                let a = a.as_str();
                right.iter().any(|b| match mode {
                    RefMode::Eq => a == b.as_str(),
                    RefMode::Prefix => a.starts_with(b.as_str()),
                    RefMode::Suffix => a.ends_with(b.as_str()),
                    RefMode::Contains => a.contains(b.as_str()),
                })
            })
        }
        Node::Py(index) => fallback(*index, view, helpers, py)?,
    })
}
