"""Detect stage: the streaming Sigma engine (rule set loading, per-batch evaluation).

Neighbours: upstream the pipeline's ``enrich`` stage hands ECS events (nested dicts); this module
returns :class:`soc_core.models.Detection` objects that the pipeline publishes to ``soc.alerts``.
Inside the package: :mod:`.loader` reads and parses rule files with pySigma, :mod:`.mapping`
holds the pySigma field-mapping pipeline and the log-source router, :mod:`.compiler` and
:mod:`.matchers` turn rules into Python evaluators, :mod:`.correlation` keeps correlation state.

Each event is flattened once, routed to its log-source buckets, and meets only the rules of those
buckets (the bucket -> rules list is cached per distinct routing).
"""

from __future__ import annotations

import copy
import dataclasses
import gc
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from sigma.correlations import SigmaCorrelationRule
from sigma.filters import SigmaFilter
from sigma.rule import SigmaRule

from detections.sigma.compiler import Evaluator, FlatEvent, compile_rule, flatten_event
from detections.sigma.correlation import (
    CorrelationConfig,
    CorrelationEngine,
    CorrelationPlan,
    CorrelationSpec,
)
from detections.sigma.correlation import (
    build_plan as build_correlation_plan,
)
from detections.sigma.eventview import LazyFlat
from detections.sigma.loader import ParsedDoc, RuleFailure, _describe, error_line, iter_rule_files, read_rule_file
from detections.sigma.mapping import Bucket, SigmaMapping, iter_bucket_names, load_mapping, rule_bucket
from detections.sigma.native import Decision, FactsLayout, Lowering, NativeMatcher
from detections.sigma.native import available as native_available
from detections.sigma.prefilter import SPECIAL_LOWER, Need, Plan, build_plan, requirement, scanner_backend
from detections.sigma.values import PlaceholderMissing, Placeholders, resolve_placeholders
from soc_core.ecs import parse_timestamp
from soc_core.ids import stable_id
from soc_core.models import Detection

__all__ = ["Detector", "RuleFailure", "RuleInfo", "RuleSet", "check_rules", "settle_heap"]

ENTITY_FIELDS = ("source.ip", "user.name", "host.name", "destination.ip")
DETECTION_FIELDS = (*ENTITY_FIELDS, "soc.unit.code", "event.id", "@timestamp")


@dataclass
class RuleInfo:
    """What the rest of the SOC needs to know about a loaded rule."""

    id: str
    title: str
    level: str
    tags: list[str]
    path: str
    kind: str  # "detection" | "correlation"
    status: str = ""
    logsource: dict[str, str] = field(default_factory=dict)


@dataclass
class _Compiled:
    info: RuleInfo
    evaluate: Evaluator
    bucket: Bucket
    name: str | None = None  # the rule's optional ``name`` (correlations may reference it)
    emits: bool = True
    feeds: list[tuple[int, int]] = field(default_factory=list)  # (correlation index, base index)
    need: Need | None = None  # literal prefilter (None: a candidate for every event of its buckets)


def _info(doc: ParsedDoc, kind: str) -> RuleInfo:
    rule = doc.rule
    rule_id = str(rule.id) if rule.id else stable_id(doc.path) if doc.index == 0 else stable_id(doc.path, doc.index)
    logsource: dict[str, str] = {}
    if isinstance(rule, SigmaRule):
        for name in ("product", "category", "service"):
            value = getattr(rule.logsource, name)
            if value is not None:
                logsource[name] = str(value)
    return RuleInfo(
        id=rule_id,
        title=str(rule.title or ""),
        level=rule.level.name.lower() if rule.level else "medium",
        tags=[str(t) for t in rule.tags],
        path=doc.path,
        kind=kind,
        status=rule.status.name.lower() if rule.status else "",
        logsource=logsource,
    )


def _map_field(mapping: SigmaMapping, logsource: dict[str, str], name: str) -> tuple[str, ...]:
    """ECS paths a Sigma field name maps to under a rule's log source (then the name itself)."""
    try:
        probe = SigmaRule.from_dict(
            {"title": "probe", "logsource": logsource, "detection": {"sel": {name: "x"}, "condition": "sel"}}
        )
        mapping.new_pipeline().apply(probe)
        tree = probe.detection.parsed_condition[0].parse()
        args = getattr(tree, "args", None) or [tree]
        paths = [str(a.field) for a in args if getattr(a, "field", None)]
    except Exception:  # an odd field name: use it as written
        paths = []
    return tuple(dict.fromkeys([*paths, name]))


class RuleSet:
    """Compiled rules plus the failures met while loading them."""

    def __init__(self, mapping: SigmaMapping, placeholders: Placeholders | None = None) -> None:
        self.mapping = mapping
        self.placeholders: dict[str, list[str]] = {k: list(v) for k, v in (placeholders or {}).items()}
        self.rules: list[RuleInfo] = []
        self.failures: list[RuleFailure] = []
        self.warnings: list[RuleFailure] = []
        self._compiled: list[_Compiled] = []
        self._correlations: list[tuple[RuleInfo, CorrelationSpec]] = []
        self.correlation_plan = CorrelationPlan()
        self.filters: list[RuleInfo] = []  # loaded Sigma filters (meta-rules applied to other rules)
        self.lowering = Lowering(mapping.keyword_fields)  # the compiled rules for the native evaluator

    @classmethod
    def load(
        cls,
        paths: Sequence[Path],
        *,
        mapping: Path | None = None,
        placeholders: Placeholders | None = None,
    ) -> RuleSet:
        """Load rule files and directories (recursive ``*.yml``/``*.yaml``); never raises on a bad rule.

        ``placeholders`` gives the values of ``|expand`` placeholders (name -> values, see
        :func:`detections.sigma.values.load_placeholders`); a rule using one that is not given is
        listed in :attr:`warnings` as not evaluated. A bad ``mapping`` file raises
        :class:`soc_core.errors.ConfigError`.
        """
        self = cls(load_mapping(mapping), placeholders)
        docs: list[ParsedDoc] = []
        for path in iter_rule_files([Path(p) for p in paths]):
            if not path.exists():
                self.failures.append(RuleFailure(str(path), None, "no such file or directory"))
                continue
            parsed, failures = read_rule_file(path)
            docs.extend(parsed)
            self.failures.extend(failures)
        filters = [d for d in docs if isinstance(d.rule, SigmaFilter)]
        self._compile_detections([d for d in docs if isinstance(d.rule, SigmaRule)], filters)
        self._compile_correlations([d for d in docs if isinstance(d.rule, SigmaCorrelationRule)])
        return self

    def _apply_filters(self, rule: SigmaRule, filters: list[ParsedDoc], used: list[int]) -> None:
        """Apply every Sigma filter whose log source and rule references select ``rule``."""
        for i, doc in enumerate(filters):
            sigma_filter = doc.rule
            assert isinstance(sigma_filter, SigmaFilter)
            if sigma_filter._should_apply_on_rule(rule):
                # a private copy: the pipeline maps the filter's fields in place, per rule
                copy.deepcopy(sigma_filter).apply_on_rule(rule)
                used[i] += 1

    def _compile_detections(self, docs: list[ParsedDoc], filters: list[ParsedDoc] | None = None) -> None:
        pipeline = self.mapping.new_pipeline()
        reachable = self.mapping.router.reachable()
        seen: dict[str, str] = {}
        filters = filters or []
        used = [0] * len(filters)
        for doc in docs:
            rule = doc.rule
            assert isinstance(rule, SigmaRule)
            try:
                info = _info(doc, "detection")
                resolve_placeholders(rule, self.placeholders)
                self._apply_filters(rule, filters, used)
                pipeline.apply(rule)
                evaluate = compile_rule(rule, self.mapping.keyword_fields)
            except PlaceholderMissing as exc:
                line = error_line(doc.lines, doc.line, exc, doc.raw)
                self.warnings.append(RuleFailure(doc.path, line, str(exc), "warning"))
                continue
            except Exception as exc:
                self.failures.append(
                    RuleFailure(doc.path, error_line(doc.lines, doc.line, exc, doc.raw), _describe(exc))
                )
                continue
            bucket = rule_bucket(info.logsource)
            if bucket not in reachable:
                where = ", ".join(iter_bucket_names(bucket))
                self.warnings.append(
                    RuleFailure(
                        doc.path,
                        doc.line_of("logsource"),
                        f"logsource ({where}) is not routed by {self.mapping.path.name}: the rule can never fire",
                        "warning",
                    )
                )
            if info.id in seen:
                self.warnings.append(
                    RuleFailure(
                        doc.path, doc.line_of("id"), f"duplicate rule id {info.id} (also in {seen[info.id]})", "warning"
                    )
                )
            seen.setdefault(info.id, doc.path)
            self.rules.append(info)
            name = getattr(rule, "name", None)
            try:
                need = requirement(rule, self.mapping.keyword_fields)
            except Exception:  # an odd tree: no prefilter, the rule is evaluated on every event of its buckets
                need = None
            self.lowering.rule(rule)
            self._compiled.append(
                _Compiled(info=info, evaluate=evaluate, bucket=bucket, name=str(name) if name else None, need=need)
            )
        for doc, count in zip(filters, used, strict=True):
            self.filters.append(_info(doc, "filter"))
            if count == 0:
                self.warnings.append(
                    RuleFailure(doc.path, doc.line_of("filter"), "filter applies to no loaded rule", "warning")
                )

    def _compile_correlations(self, docs: list[ParsedDoc]) -> None:
        by_ref: dict[str, int] = {}
        for index, compiled in enumerate(self._compiled):
            by_ref.setdefault(compiled.info.id, index)
            if compiled.name:
                by_ref.setdefault(compiled.name, index)
        rules: list[SigmaCorrelationRule] = []
        for doc in docs:
            assert isinstance(doc.rule, SigmaCorrelationRule)
            rules.append(doc.rule)

        def map_field(index: int, name: str) -> tuple[str, ...]:
            return _map_field(self.mapping, self._compiled[index].info.logsource, name)

        plan, order, failures = build_correlation_plan(rules, by_ref, map_field)
        for failure in failures:
            doc = docs[failure.doc]
            self.failures.append(RuleFailure(doc.path, doc.line_of(*failure.key), f"RuleError: {failure.reason}"))
        self.correlation_plan = plan
        for spec, doc_index in zip(plan.specs, order, strict=True):
            info = _info(docs[doc_index], "correlation")
            self._correlations.append((info, spec))
            self.rules.append(info)
        for index, bindings in plan.by_rule.items():
            self._compiled[index].feeds = [(corr, index) for corr, _ in bindings]
        for index in plan.silenced_rules:
            self._compiled[index].emits = False


class DetectionFacts:
    """What every Detection of one event carries (read once per event, however many rules fire)."""

    __slots__ = ("dedup_suffix", "entity", "event_id", "timestamp", "unit")

    def __init__(self, values: Sequence[Any]) -> None:
        """Facts from the event's values at DETECTION_FIELDS (in that order; None where absent)."""
        entity: dict[str, str] = {}
        parts: list[str] = []
        for name, index in _ENTITY_SORTED:
            value = values[index]
            if value is None:  # the usual case first: most entity fields are absent
                continue
            if type(value) is not str:
                if type(value) is list:
                    value = value[0] if value else None
                if value is None or isinstance(value, dict):
                    continue
                if type(value) is not str:
                    value = str(value)
            entity[name] = value
            parts.append(name + "=" + value)
        unit, event_id, timestamp = values[_UNIT], values[_EVENT_ID], values[_TIMESTAMP]
        self.entity = entity
        self.unit: str | None = str(unit) if unit is not None and not isinstance(unit, dict | list) else None
        self.event_id = str(event_id or "")
        self.timestamp = str(timestamp or "")
        self.dedup_suffix = "|".join(parts)

    def parts(self) -> tuple[dict[str, str], str, str | None, str, str]:
        """(entity, dedup_suffix, unit, event_id, timestamp): what the compiled evaluator makes."""
        return self.entity, self.dedup_suffix, self.unit, self.event_id, self.timestamp

    @classmethod
    def read(cls, get: Callable[[str], Any]) -> DetectionFacts:
        """Facts through a field getter (a flat view's ``get``)."""
        return cls([get(name) for name in DETECTION_FIELDS])


# the dedup key lists the entity by field name
_ENTITY_SORTED = tuple(sorted((name, DETECTION_FIELDS.index(name)) for name in ENTITY_FIELDS))
_UNIT, _EVENT_ID, _TIMESTAMP = (DETECTION_FIELDS.index(n) for n in ("soc.unit.code", "event.id", "@timestamp"))
# the same, for the compiled evaluator (it makes DetectionFacts.parts() of plain texts)
FACTS_LAYOUT: FactsLayout = (
    [(name, DETECTION_FIELDS.index(name)) for name in ENTITY_FIELDS],
    _UNIT,
    _EVENT_ID,
    _TIMESTAMP,
)


def _emits(info: RuleInfo) -> tuple[str, str, str, tuple[str, ...], str]:
    """What each Detection of a rule carries from it: id, title, level, tags, dedup key prefix."""
    return info.id, info.title, info.level, tuple(info.tags), f"{info.id}|"


def _facts_of(values: tuple[Any, ...]) -> tuple[dict[str, str], str, str | None, str, str]:
    """DetectionFacts(values).parts(), for the compiled evaluator."""
    return DetectionFacts(values).parts()


def _detection(
    emits: tuple[str, str, str, tuple[str, ...], str],
    event: dict[str, Any],
    parts: tuple[dict[str, str], str, str | None, str, str],
) -> Detection:
    """The Detection of a rule (:func:`_emits`) firing on ``event`` with the facts ``parts``
    (:meth:`DetectionFacts.parts`); positional, in Detection's field order, as the extension makes it."""
    rule_id, title, level, tags, prefix = emits
    entity, suffix, unit, event_id, timestamp = parts
    return Detection(rule_id, title, level, event_id, timestamp, prefix + suffix, tags, unit, dict(entity), event)


def make_detection(
    info: RuleInfo, event: dict[str, Any], flat: FlatEvent | None = None, facts: DetectionFacts | None = None
) -> Detection:
    """The Detection of rule ``info`` firing on ``event`` (``facts`` when already read)."""
    if facts is None:
        facts = DetectionFacts.read((flat if flat is not None else flatten_event(event)).get)
    return _detection(_emits(info), event, facts.parts())


class Detector:
    """Evaluates a rule set over batches of ECS events; keeps correlation state between batches.

    With ``prefilter`` (the default) each event meets only the rules whose literal anchors occur in
    it (see :mod:`detections.sigma.prefilter`); ``prefilter=False`` evaluates every rule of the
    event's log-source buckets on the eagerly flattened event (the plain reference evaluation).
    Both give the same detections. ``backend`` picks the scanner ("hyperscan" or "pyahocorasick").
    """

    def __init__(
        self,
        ruleset: RuleSet,
        *,
        prefilter: bool = True,
        backend: str | None = None,
        lateness_seconds: float | None = None,
        correlation: CorrelationConfig | None = None,
        native: bool | None = None,
    ) -> None:
        self.ruleset = ruleset
        self._rules = ruleset._compiled
        self._router = ruleset.mapping.router
        self._by_bucket: dict[Bucket, list[int]] = {}
        for index, compiled in enumerate(self._rules):
            self._by_bucket.setdefault(compiled.bucket, []).append(index)
        self._candidates_cache: dict[frozenset[Bucket], tuple[int, ...]] = {}
        # Correlation state (see detections.sigma.correlation for the firing semantics):
        # ``lateness_seconds`` overrides ``correlation.lateness_seconds`` (default 0).
        config = correlation or CorrelationConfig()
        if lateness_seconds is not None:
            config = dataclasses.replace(config, lateness_seconds=lateness_seconds)
        self._states: CorrelationEngine | None = (
            CorrelationEngine(ruleset.correlation_plan, config) if ruleset._correlations else None
        )
        self._watermark: float | None = None
        self._rule_errors = 0  # Python evaluator exceptions (see rule_errors)
        # A subclass that chooses its own candidates (e.g. a benchmark's naive loop) keeps that choice.
        self.prefilter = prefilter and type(self)._candidates is Detector._candidates
        self.backend = backend or scanner_backend()
        self._needs = [c.need for c in self._rules]
        self._plans: dict[frozenset[Bucket], Plan] = {}
        self._plan_by_route: dict[tuple[str | None, ...], Plan] = {}
        # Python path only; the compiled evaluator's figures are in native_counters
        self.stats = {"events": 0, "candidates": 0, "full_flatten": 0}
        # The compiled evaluator (detections.sigma.native) decides what it can; None: Python only.
        use_native = self.prefilter if native is None else native
        if use_native and not native_available():
            if native:
                raise RuntimeError("native Sigma evaluation asked for, but soc_sigma_native is not installed")
            use_native = False
        self._native: NativeMatcher | None = None
        if use_native and self._rules:
            self._native = NativeMatcher(
                ruleset.lowering,
                self._router.key_fields,
                self._rules_of_route,
                fact_fields=DETECTION_FIELDS,
                facts_layout=FACTS_LAYOUT,
            )
        self._feeding = frozenset(i for i, c in enumerate(self._rules) if c.feeds)
        # per rule: what its Detections carry (id, title, level, tags, dedup key prefix), None for a
        # rule that only feeds correlations
        self._emitting = [_emits(c.info) if c.emits else None for c in self._rules]
        if self._native is not None:
            self._native.set_detections(Detection, self._emitting, _facts_of)

    @property
    def native(self) -> bool:
        """Whether the compiled evaluator is in use."""
        return self._native is not None

    @property
    def rule_errors(self) -> int:
        """Rule evaluations that raised (should stay 0; counted as no match, never raised)."""
        native = self._native.counters["rule_errors"] if self._native is not None else 0
        return self._rule_errors + native

    @property
    def native_counters(self) -> dict[str, int] | None:
        """The compiled evaluator's counters (see :attr:`NativeMatcher.counters`), None without it."""
        return self._native.counters if self._native is not None else None

    def _candidates(self, flat: FlatEvent) -> tuple[int, ...]:
        """Every rule of the event's log-source buckets (the selection without prefilter)."""
        return self._rules_of_buckets(self._router.buckets(flat))

    def _rules_of_route(self, key: tuple[str | None, ...]) -> tuple[int, ...]:
        """:meth:`_candidates` of an event with this routing key (asked by the compiled evaluator)."""
        return self._rules_of_buckets(self._router.buckets_of_key(key))

    def _rules_of_buckets(self, buckets: frozenset[Bucket]) -> tuple[int, ...]:
        hit = self._candidates_cache.get(buckets)
        if hit is None:
            hit = tuple(sorted(set(itertools.chain.from_iterable(self._by_bucket.get(b, ()) for b in buckets))))
            if len(self._candidates_cache) > 4096:
                self._candidates_cache.clear()
            self._candidates_cache[buckets] = hit
        return hit

    def _plan(self, key: tuple[str | None, ...], flat: FlatEvent) -> Plan:
        buckets = self._router.buckets(flat)
        plan = self._plans.get(buckets)
        if plan is None:
            plan = self._plans[buckets] = build_plan(self._candidates(flat), self._needs, self.backend)
        if len(self._plan_by_route) > 4096:
            self._plan_by_route.clear()
        self._plan_by_route[key] = plan
        return plan

    def _select(self, event: dict[str, Any]) -> tuple[FlatEvent, tuple[int, ...]]:
        """The event's flat view and its candidate rules (prefilter on)."""
        flat = LazyFlat(event, True)  # tentatively regular: confirmed by the scan below
        key = self._router.route_key(flat)
        plan = self._plan_by_route.get(key) or self._plan(key, flat)
        view: dict[str, Any] = event
        if not plan.original:
            inner = event.get("event")
            if type(inner) is dict and "original" in inner:
                view = {**event, "event": {k: v for k, v in inner.items() if k != "original"}}
        try:
            data = orjson.dumps(view)
        except (TypeError, orjson.JSONEncodeError):  # non-str keys, huge ints, odd objects
            data = None
        if data is not None:
            if SPECIAL_LOWER[0] in data or SPECIAL_LOWER[1] in data:
                data = data.decode("utf-8").lower().encode("utf-8")
            found, irregular = plan.scanner.scan(data)
            if not irregular:
                return flat, plan.candidates(found, flat.get)
        self.stats["full_flatten"] += 1
        full = flatten_event(event)
        return full, self._candidates(full)

    def process(self, events: Sequence[dict[str, Any]]) -> list[Detection]:
        """Detections for a batch of events, in input order (correlations fire on completion)."""
        if self._native is not None and self._states is None:
            # no correlations: the extension makes the Detections; the events it hands back are
            # decided here, their Detections put where they belong in the order
            batch = events if type(events) is list else list(events)
            out, pending, dicts = self._native.detect(batch)
            for position, at in reversed(pending):
                out[at:at] = self._process([batch[position]], native=False)
            self.stats["events"] += dicts - len(pending)
            return out
        return self._process(events, native=self._native is not None)

    def _process(self, events: Sequence[dict[str, Any]], *, native: bool) -> list[Detection]:
        """:meth:`process` event by event (the compiled evaluator deciding first when ``native``)."""
        out: list[Detection] = []
        rules = self._rules
        states = self._states
        prefilter = self.prefilter
        select = self._select
        evaluated = 0
        decided: list[Decision] | None = None
        feeding = self._feeding
        emitting = self._emitting
        if native and self._native is not None:
            batch = events if type(events) is list else list(events)
            decided = self._native.match(batch)
        for position, event in enumerate(events):
            if not isinstance(event, dict):  # defensive: decoded JSON of any shape may come in
                continue  # type: ignore[unreachable]
            evaluated += 1
            hit = decided[position] if decided is not None else None
            known: tuple[int, ...] | None = None
            ts = 0.0
            if hit is not None:  # the compiled evaluator decided: ``known`` are the matching rules
                if states is not None:  # the extension checked the root's keys: no dotted key
                    ts = self._clock(event.get("@timestamp"))
                if not hit:
                    continue
                known, values = hit[0], hit[1]
                if states is None or feeding.isdisjoint(known):
                    # the facts made by the extension, or of the values it read at DETECTION_FIELDS
                    parts = hit[2:] if values is None else DetectionFacts(values).parts()
                    out.extend(_detection(e, event, parts) for i in known if (e := emitting[i]) is not None)
                    continue
                # correlation fields may lie anywhere: an event feeding one is checked in full
                flat: FlatEvent = LazyFlat(event)
                candidates = known
            else:
                if prefilter:
                    flat, candidates = select(event)
                else:
                    flat = flatten_event(event)
                    candidates = self._candidates(flat)
                if states is not None:
                    ts = self._clock(flat.get("@timestamp"))
                if not candidates:
                    continue
                self.stats["candidates"] += len(candidates)
            for index in candidates:
                compiled = rules[index]
                if known is None:
                    try:
                        matched = compiled.evaluate(flat)
                    except Exception:
                        self._rule_errors += 1
                        continue
                    if not matched:
                        continue
                if compiled.emits:
                    out.append(make_detection(compiled.info, event, flat))
                if compiled.feeds and states is not None:
                    for corr_index, fired in states.observe(index, flat, event, ts):
                        out.append(make_detection(self.ruleset._correlations[corr_index][0], fired))
        self.stats["events"] += evaluated
        if self._watermark is not None and states is not None:
            for corr_index, fired in states.advance(self._watermark):
                out.append(make_detection(self.ruleset._correlations[corr_index][0], fired))
        return out

    def _clock(self, value: Any) -> float:
        """The event time for correlations (the watermark when it has none); advances the watermark."""
        stamp = parse_timestamp(value)
        if stamp is None:
            stamp = self._watermark if self._watermark is not None else time.time()
        if self._watermark is None or stamp > self._watermark:
            self._watermark = stamp
        return stamp

    def flush(self) -> list[Detection]:
        """End of input: correlation windows still open or waiting for late events are decided now."""
        if self._states is None:
            return []
        return [make_detection(self.ruleset._correlations[c][0], fired) for c, fired in self._states.flush()]

    @property
    def correlation(self) -> CorrelationEngine | None:
        """The correlation state (counters: late_dropped, groups_evicted, ...), if the rule set has any."""
        return self._states


def settle_heap() -> None:
    """Take what is alive now (a loaded rule set above all) out of the cyclic garbage collector's scans.

    A full rule set is millions of long-lived Python objects (pySigma rules, compiled evaluators);
    every full collection walks them all, which the detections made per batch keep triggering
    (measured on the SigmaHQ corpus: 15 -> 9.5 µs of Python work per event). Long-running
    callers (``soc detect``, the worker) call this once the detector is built; it first releases
    an earlier freeze, so a reloaded rule set's predecessor can still be collected.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def check_rules(paths: Sequence[Path], placeholders: Placeholders | None = None) -> tuple[int, list[RuleFailure]]:
    """Validate rules: (rules that loaded, failures). Warnings come after the errors, severity "warning"."""
    ruleset = RuleSet.load(paths, placeholders=placeholders)
    return len(ruleset.rules), [*ruleset.failures, *ruleset.warnings]
