//! What every Detection of one matching event carries (`detections.sigma.engine.DetectionFacts`),
//! made here when the event's values at the fact fields are plain texts or absent; other values
//! (lists, numbers, objects) are left to the Python class.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

/// Bytes reserved for an event's dedup suffix (`name=value|...` of its entity fields): enough
/// for the usual host, user and process names.
const SUFFIX_CAPACITY: usize = 256;

/// Where the facts are among the values at the fact paths.
pub struct Layout {
    /// entity fields sorted by name: (name as a dict key, name, index among the values)
    entity: Vec<(Py<PyString>, String, usize)>,
    unit: usize,
    event_id: usize,
    timestamp: usize,
}

impl Layout {
    pub fn new(
        py: Python<'_>,
        entity: Vec<(String, usize)>,
        unit: usize,
        event_id: usize,
        timestamp: usize,
    ) -> Layout {
        let mut entity: Vec<(Py<PyString>, String, usize)> = entity
            .into_iter()
            .map(|(name, at)| (PyString::intern(py, &name).unbind(), name, at))
            .collect();
        entity.sort_by(|a, b| a.1.cmp(&b.1));
        Layout {
            entity,
            unit,
            event_id,
            timestamp,
        }
    }

    /// `(entity, dedup_suffix, unit, event_id, timestamp)` as `DetectionFacts` computes them, or
    /// None when a value is not an exact str (nor absent).
    pub fn parts<'py>(
        &self,
        py: Python<'py>,
        values: &[Option<Bound<'py, PyAny>>],
    ) -> PyResult<Option<[Bound<'py, PyAny>; 5]>> {
        let text = |at: usize| -> Option<Option<&Bound<'py, PyString>>> {
            match values.get(at)? {
                None => Some(None),
                Some(v) if v.is_none() => Some(None),
                Some(v) if v.is_exact_instance_of::<PyString>() => {
                    v.cast::<PyString>().ok().map(Some)
                }
                Some(_) => None,
            }
        };
        let entity = PyDict::new(py);
        // sized once: growing it push by push reallocated it several times per event
        let mut suffix = String::with_capacity(SUFFIX_CAPACITY);
        for (key, name, at) in &self.entity {
            let Some(value) = text(*at) else {
                return Ok(None);
            };
            if let Some(value) = value {
                let Ok(s) = value.to_str() else {
                    return Ok(None);
                };
                entity.set_item(key.bind(py), value)?;
                if !suffix.is_empty() {
                    suffix.push('|');
                }
                suffix.push_str(name);
                suffix.push('=');
                suffix.push_str(s);
            }
        }
        let (Some(unit), Some(event_id), Some(timestamp)) =
            (text(self.unit), text(self.event_id), text(self.timestamp))
        else {
            return Ok(None);
        };
        // str(x or ""): an absent or empty text is ""
        let empty = PyString::new(py, "");
        let or_empty =
            |s: Option<&Bound<'py, PyString>>| s.cloned().unwrap_or_else(|| empty.clone());
        Ok(Some([
            entity.into_any(),
            PyString::new(py, &suffix).into_any(),
            unit.cloned()
                .map_or_else(|| py.None().into_bound(py), Bound::into_any),
            or_empty(event_id).into_any(),
            or_empty(timestamp).into_any(),
        ]))
    }
}
