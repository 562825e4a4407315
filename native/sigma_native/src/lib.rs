//! Compiled Sigma evaluation for `detections.sigma.native` (detect stage, inner loop).
//!
//! Python compiles rules with pySigma and the project's mapping, lowers each condition tree to
//! the tuple form of [`ir`], and calls [`Engine::detect_batch`] (which also makes the Detections,
//! see [`detections`]) or [`Engine::match_batch`] (the matching rules and facts per event, when
//! Python keeps correlation state) with a batch of ECS events (dicts). For each event the engine
//! walks the dict once along the paths rules use, picks the rules of the event's log-source route,
//! narrows them with per-field literal and number anchors (Aho-Corasick or a gram index over the
//! lower-cased field text), and evaluates the candidates exactly. What it cannot decide with
//! Python's exact semantics it hands back: a node it lacks is a call to the Python evaluator of
//! that node, and an event it cannot read the Python way (a key with a dot or not a string, a
//! string with lone surrogates) goes to the Python engine.

mod cache;
mod detections;
mod eval;
mod facts;
mod fxhash;
mod grams;
mod ir;
mod plan;
mod view;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use std::collections::HashMap;

use eval::{evaluate, Stop};
use plan::{Plan, Scratch};
use view::{Helpers, Trie, View};

const MAX_PLANS: usize = 4096;
/// Routing keys remembered with their plans, compared before a key is built and hashed.
const RECENT_ROUTES: usize = 8;

#[pyclass(module = "soc_sigma_native")]
struct Engine {
    rules: Vec<ir::Node>,
    needs: Vec<Option<ir::Need>>,
    trie: Trie,
    route_paths: Vec<u32>,
    fact_paths: Vec<u32>,
    facts: facts::Layout,
    maker: Option<detections::Maker>,
    path_count: usize,
    helpers: Helpers,
    rules_for_route: Py<PyAny>,
    plans: Vec<Plan>,
    plan_by_route: HashMap<Vec<Option<String>>, usize>,
    recent: Vec<(Vec<Option<String>>, usize)>,
    /// counters: events matched here, events handed back, candidates evaluated, rule errors
    #[pyo3(get)]
    events: u64,
    #[pyo3(get)]
    handed_back: u64,
    #[pyo3(get)]
    candidates: u64,
    #[pyo3(get)]
    rule_errors: u64,
    /// prefilter work: bytes of field text scanned, literal occurrences found, rules always
    /// candidates, rules selected by a number
    scan: [u64; 4],
    scratch: Scratch,
}

#[pymethods]
impl Engine {
    /// `paths`: the dotted paths rules read (index = path id); `route_paths`: path ids of the
    /// log-source routing key; `rules`: one tree per rule; `fallbacks`: Python evaluators
    /// `flat -> bool`; `flat_factory(event)` makes the flat view they read; `as_text`,
    /// `as_number`, `norm` are the Python value semantics for the rare values handled there;
    /// `rules_for_route(key)` gives the sorted rule indexes of a routing key (tuple of str|None);
    /// `common`: substrings too frequent to be good prefilter anchors; `fact_paths`: path ids whose
    /// values come back with each matching event; `facts`: where the Detection facts are among those
    /// values (entity fields as (name, index), then the indexes of unit, event id and timestamp).
    #[new]
    #[allow(clippy::too_many_arguments)]
    fn new(
        paths: Vec<String>,
        route_paths: Vec<u32>,
        rules: &Bound<'_, PyList>,
        fallbacks: Py<PyList>,
        flat_factory: Py<PyAny>,
        as_text: Py<PyAny>,
        as_number: Py<PyAny>,
        norm: Py<PyAny>,
        rules_for_route: Py<PyAny>,
        common: Vec<String>,
        fact_paths: Vec<u32>,
        facts: (Vec<(String, usize)>, usize, usize, usize),
    ) -> PyResult<Self> {
        let py = rules.py();
        let (entity, unit, event_id, timestamp) = facts;
        // the first engine's list stands for the process (it is a constant of the Python side)
        let _ = ir::COMMON.set(common);
        let mut compiled = Vec::with_capacity(rules.len());
        for rule in rules.iter() {
            compiled.push(ir::parse(&rule, 0)?);
        }
        let needs = compiled.iter().map(ir::need).collect();
        Ok(Engine {
            rules: compiled,
            needs,
            trie: Trie::new(&paths),
            route_paths,
            fact_paths,
            facts: facts::Layout::new(py, entity, unit, event_id, timestamp),
            maker: None,
            path_count: paths.len(),
            helpers: Helpers {
                fallbacks,
                flat_factory,
                as_text,
                as_number,
                norm,
            },
            rules_for_route,
            plans: Vec::new(),
            plan_by_route: HashMap::new(),
            recent: Vec::new(),
            events: 0,
            handed_back: 0,
            candidates: 0,
            rule_errors: 0,
            scan: [0, 0, 0, 0],
            scratch: Scratch::default(),
        })
    }

    /// For each event: `()` when no rule matches, or `None` when the Python engine must evaluate
    /// it; when rules match, `(rules, None, entity, dedup_suffix, unit, event_id, timestamp)` with
    /// the Detection facts made here (see [`facts::Layout::parts`]), else `(rules, values, None,
    /// None, None, None, None)` with the values at `fact_paths` (None where absent) for Python to
    /// make them; the rule indexes ascend. One flat tuple: fewer objects for the cyclic collector.
    fn match_batch<'py>(
        &mut self,
        py: Python<'py>,
        events: &Bound<'py, PyList>,
    ) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        let mut view = View::new(self.path_count);
        let empty = PyTuple::empty(py);
        let mut matched: Vec<usize> = Vec::new();
        for event in events.iter() {
            let Ok(dict) = event.cast::<PyDict>() else {
                out.append(py.None())?;
                continue;
            };
            if !self.decide_event(py, &mut view, dict, &mut matched)? {
                out.append(py.None())?;
                continue;
            }
            if matched.is_empty() {
                out.append(&empty)?;
            } else {
                let values = self.fact_values(&view);
                let none = || py.None().into_bound(py);
                let rules = PyTuple::new(py, &matched)?.into_any();
                let decision = match self.facts.parts(py, &values)? {
                    Some([entity, suffix, unit, event_id, timestamp]) => {
                        [rules, none(), entity, suffix, unit, event_id, timestamp]
                    }
                    None => {
                        let values = values_tuple(py, values)?.into_any();
                        [rules, values, none(), none(), none(), none(), none()]
                    }
                };
                out.append(PyTuple::new(py, decision)?)?;
            }
        }
        Ok(out)
    }

    /// What [`Engine::detect_batch`] needs: the Detection type, per rule None (feeds correlations
    /// only) or (id, title, level, tags, dedup key prefix), and `facts_of(values)` giving the
    /// Detection facts of values the extension makes none of.
    fn set_detections(
        &mut self,
        detection: Py<PyAny>,
        emitting: &Bound<'_, PyList>,
        facts_of: Py<PyAny>,
    ) -> PyResult<()> {
        self.maker = Some(detections::Maker::new(detection, emitting, facts_of)?);
        Ok(())
    }

    /// The Detections of a batch, in event order, made here (see `detections.rs`); with the
    /// events the Python engine must decide as (position in `events`, index in the Detections
    /// where theirs go), and how many events were dicts. Non-dict events are skipped.
    #[allow(clippy::type_complexity)]
    fn detect_batch<'py>(
        &mut self,
        py: Python<'py>,
        events: &Bound<'py, PyList>,
    ) -> PyResult<(Bound<'py, PyList>, Vec<(usize, usize)>, usize)> {
        let out = PyList::empty(py);
        let mut pending = Vec::new();
        let mut dicts = 0usize;
        let mut view = View::new(self.path_count);
        let mut matched: Vec<usize> = Vec::new();
        for (position, event) in events.iter().enumerate() {
            let Ok(dict) = event.cast::<PyDict>() else {
                continue;
            };
            dicts += 1;
            if !self.decide_event(py, &mut view, dict, &mut matched)? {
                pending.push((position, out.len()));
                continue;
            }
            if matched.is_empty() {
                continue;
            }
            let Some(maker) = &self.maker else {
                return Err(pyo3::exceptions::PyRuntimeError::new_err(
                    "set_detections was not called",
                ));
            };
            let values = self.fact_values(&view);
            let parts = self.facts.parts(py, &values)?;
            maker.make(
                py,
                &event,
                &matched,
                parts,
                || values_tuple(py, values),
                &out,
            )?;
        }
        Ok((out, pending, dicts))
    }

    /// Prefilter work so far: (bytes of field text scanned, literal occurrences found, rules always
    /// candidates, rules selected by a number).
    fn scan_counters(&self) -> (u64, u64, u64, u64) {
        (self.scan[0], self.scan[1], self.scan[2], self.scan[3])
    }

    /// Number of prefilter plans built (one per distinct log-source routing key).
    fn plan_count(&self) -> usize {
        self.plans.len()
    }
}

impl Engine {
    /// Load `dict` into `view` and put its matching rules in `matched`; false (counted as handed
    /// back) when the Python engine must decide it.
    fn decide_event<'py>(
        &mut self,
        py: Python<'py>,
        view: &mut View<'py>,
        dict: &Bound<'py, PyDict>,
        matched: &mut Vec<usize>,
    ) -> PyResult<bool> {
        view.reset();
        if !(view.load(&mut self.trie, dict) && self.decide(py, view, matched)?) {
            self.handed_back += 1;
            return Ok(false);
        }
        self.events += 1;
        Ok(true)
    }

    /// The event's values at the fact paths (None where absent).
    fn fact_values<'py>(&self, view: &View<'py>) -> Vec<Option<Bound<'py, PyAny>>> {
        self.fact_paths
            .iter()
            .map(|&p| view.slot(p).cloned())
            .collect()
    }

    /// The rules matching a loaded event, into `matched`; false when the Python engine must decide.
    fn decide<'py>(
        &mut self,
        py: Python<'py>,
        view: &mut View<'py>,
        matched: &mut Vec<usize>,
    ) -> PyResult<bool> {
        let Some(plan) = self.plan_of(py, view)? else {
            return Ok(false);
        };
        let found =
            self.plans[plan].candidates(view, &self.helpers, py, &mut self.scan, &mut self.scratch);
        let Ok(candidates) = found else {
            return Ok(false);
        };
        self.candidates += candidates.len() as u64;
        matched.clear();
        // the candidates' trees, cold when rules are many, are loaded together
        for &rule in &candidates {
            ir::prefetch_tree(&self.rules[rule]);
        }
        for rule in candidates {
            match evaluate(&self.rules[rule], view, &self.helpers, py) {
                Ok(true) => matched.push(rule),
                Ok(false) => {}
                Err(Stop::Error) => self.rule_errors += 1,
                Err(Stop::Bail) => return Ok(false),
            }
        }
        Ok(true)
    }

    fn plan_of(&mut self, py: Python<'_>, view: &mut View<'_>) -> PyResult<Option<usize>> {
        // the routes met last, most recent first: consecutive events mostly share one
        for at in 0..self.recent.len() {
            let (key, plan) = &self.recent[at];
            let same = self
                .route_paths
                .iter()
                .zip(key)
                .all(|(&path, want)| view.route_value_is(path, want.as_deref()) == Some(true));
            if same {
                let plan = *plan;
                self.recent[..=at].rotate_right(1);
                return Ok(Some(plan));
            }
        }
        let Some((key, plan)) = self.plan_of_key(py, view)? else {
            return Ok(None);
        };
        if self.recent.len() == RECENT_ROUTES {
            self.recent.pop();
        }
        self.recent.insert(0, (key, plan));
        Ok(Some(plan))
    }

    /// The event's routing key and the index of its plan (built on first use).
    #[allow(clippy::type_complexity)]
    fn plan_of_key(
        &mut self,
        py: Python<'_>,
        view: &mut View<'_>,
    ) -> PyResult<Option<(Vec<Option<String>>, usize)>> {
        let mut key: Vec<Option<String>> = Vec::with_capacity(self.route_paths.len());
        for &path in &self.route_paths {
            match view.route_value(path, &self.helpers, py) {
                Ok(v) => key.push(v),
                Err(_) => return Ok(None),
            }
        }
        if let Some(&index) = self.plan_by_route.get(&key) {
            return Ok(Some((key, index)));
        }
        let rules: Vec<usize> = self
            .rules_for_route
            .bind(py)
            .call1((PyTuple::new(py, &key)?,))?
            .extract()?;
        if self.plans.len() >= MAX_PLANS {
            self.plans.clear();
            self.plan_by_route.clear();
            self.recent.clear();
        }
        let plan = Plan::build(&rules, &self.needs)?;
        self.plans.push(plan);
        self.plan_by_route.insert(key.clone(), self.plans.len() - 1);
        Ok(Some((key, self.plans.len() - 1)))
    }
}

/// The values at the fact paths as a tuple, None where absent (for Python to make the facts of).
fn values_tuple<'py>(
    py: Python<'py>,
    values: Vec<Option<Bound<'py, PyAny>>>,
) -> PyResult<Bound<'py, PyTuple>> {
    PyTuple::new(
        py,
        values
            .into_iter()
            .map(|v| v.unwrap_or_else(|| py.None().into_bound(py))),
    )
}

#[pymodule]
fn soc_sigma_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Engine>()?;
    Ok(())
}
