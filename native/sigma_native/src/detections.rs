//! Detections made here: the detect stage's fast path (`Detector.process` without correlations),
//! one `soc_core.models.Detection` per matching emitting rule, built as the Python loop builds
//! them (positional, in the model's field order).

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

/// What each Detection of one rule carries from it.
struct Emits {
    id: Py<PyAny>,
    title: Py<PyAny>,
    level: Py<PyAny>,
    tags: Py<PyAny>,
    prefix: String, // of the dedup key: "<rule id>|"
}

/// The Detection type, the per-rule [`Emits`] (None: the rule only feeds correlations) and the
/// Python facts of values the extension does not make facts of (`DetectionFacts(values).parts()`).
pub struct Maker {
    detection: Py<PyAny>,
    facts_of: Py<PyAny>,
    emits: Vec<Option<Emits>>,
}

impl Maker {
    /// `emitting`: per rule, None or (id, title, level, tags, dedup key prefix).
    pub fn new(
        detection: Py<PyAny>,
        emitting: &Bound<'_, PyList>,
        facts_of: Py<PyAny>,
    ) -> PyResult<Maker> {
        let mut emits = Vec::with_capacity(emitting.len());
        for item in emitting.iter() {
            if item.is_none() {
                emits.push(None);
                continue;
            }
            let (id, title, level, tags, prefix): (
                Bound<'_, PyAny>,
                Bound<'_, PyAny>,
                Bound<'_, PyAny>,
                Bound<'_, PyAny>,
                String,
            ) = item.extract()?;
            emits.push(Some(Emits {
                id: id.unbind(),
                title: title.unbind(),
                level: level.unbind(),
                tags: tags.unbind(),
                prefix,
            }));
        }
        Ok(Maker {
            detection,
            facts_of,
            emits,
        })
    }

    /// Append to `out` the Detections of `rules` firing on `event`, with the facts `parts`
    /// (entity, dedup suffix, unit, event id, timestamp) or, when None, those Python makes of
    /// `values`.
    pub fn make<'py>(
        &self,
        py: Python<'py>,
        event: &Bound<'py, PyAny>,
        rules: &[usize],
        parts: Option<[Bound<'py, PyAny>; 5]>,
        values: impl FnOnce() -> PyResult<Bound<'py, PyTuple>>,
        out: &Bound<'py, PyList>,
    ) -> PyResult<()> {
        let [entity, suffix, unit, event_id, timestamp] = match parts {
            Some(parts) => parts,
            None => {
                let made = self.facts_of.bind(py).call1((values()?,))?;
                let (a, b, c, d, e) = made.extract()?;
                [a, b, c, d, e]
            }
        };
        let entity = entity.cast_into::<PyDict>()?;
        let suffix = suffix.cast_into::<PyString>()?;
        let suffix = suffix.to_str()?;
        let detection = self.detection.bind(py);
        // each Detection gets a dict of its own: the first the one made for this event, the
        // others copies of it
        let mut first = true;
        for &rule in rules {
            let Some(Some(emits)) = self.emits.get(rule) else {
                continue;
            };
            let mut key = String::with_capacity(emits.prefix.len() + suffix.len());
            key.push_str(&emits.prefix);
            key.push_str(suffix);
            // a Rust tuple: called by vectorcall, no argument tuple allocated per Detection
            let args = (
                emits.id.bind(py),
                emits.title.bind(py),
                emits.level.bind(py),
                &event_id,
                &timestamp,
                PyString::new(py, &key),
                emits.tags.bind(py),
                &unit,
                if std::mem::take(&mut first) {
                    entity.clone()
                } else {
                    entity.copy()?
                },
                event,
            );
            out.append(detection.call1(args)?)?;
        }
        Ok(())
    }
}
