"""Detect stage: streaming Sigma correlation rules (Sigma v2, every type pySigma 1.5 parses).

Neighbours: :mod:`detections.sigma.engine` compiles correlation documents with
:func:`build_plan` (``RuleSet`` compile time) and, for every match of a referenced detection
rule, calls :meth:`CorrelationEngine.observe`; it turns the ``(correlation index, event)``
pairs returned by ``observe``/``advance``/``flush`` into Detections.

Types: ``event_count``, ``value_count``, ``temporal``, ``temporal_ordered``, ``value_sum``,
``value_avg``, ``value_percentile``, ``value_median``; ``group-by``, ``timespan``, ``aliases``,
extended (boolean) conditions of temporal types, correlations referencing correlations, and
``generate``.

Time and order
--------------
Everything runs on event time (``@timestamp``, epoch seconds), kept *per correlation*: each
correlation's time is the newest event time among the observations it received (matches of
its referenced rules), so a source with a skewed clock cannot make an unrelated correlation's
events late. Its *watermark* is that time minus ``lateness_seconds``
(:class:`CorrelationConfig`, ``Detector(ruleset, lateness_seconds=...)``). Observations wait in
a bounded reorder buffer and are applied strictly in event-time order once the watermark
reaches them, so any arrival order within the lateness gives the same detections as the
sorted stream (emission is delayed by up to ``lateness_seconds``). With the default lateness 0
an in-order stream is applied at once; ``math.inf`` decides everything at
:meth:`CorrelationEngine.flush` (offline input such as ``soc detect``). An observation older
than the correlation's watermark (or than what it already applied) is *late*: dropped and counted in
:attr:`CorrelationEngine.late_dropped`, never raised. ``flush()`` (end of input) applies
everything still pending and closes every open window.

Firing semantics, per group (the values of the ``group-by`` fields; a missing field is ``""``)
------------------------------------------------------------------------------------------
*Sliding, fire-at-once* (conditions that can only become true by adding events: ``gte``/``gt``
on ``event_count``, ``value_count``, ``value_sum``, ``temporal``, ``temporal_ordered``, and
extended temporal conditions without ``not``): the window is the last ``timespan`` seconds
up to the observation being applied, bounds included (``ts - timespan <= t <= ts``). When the
condition becomes true the observation that completed it fires once and the group is reset
(its state is dropped), so ``N`` matches with ``event_count gte T`` inside one window fire
``N // T`` times.

*Tumbling, fire-at-close* (every other condition: ``lt``/``lte``/``eq``/``neq``, all of
``value_avg``/``value_percentile``/``value_median``, extended conditions with ``not``): a
group's window opens at its first observation ``start`` and covers ``[start, start +
timespan)``; when event time reaches ``start + timespan`` the condition is evaluated on the
window's observations and, if true, the window's last observation fires. The next
observation opens a new window. A group with no observation never fires (absence of every
event cannot be observed).

Measures: ``event_count`` counts observations; ``value_count`` counts distinct values of
``condition.field`` (a list of fields counts distinct tuples; events without the field are
skipped); ``value_sum``/``avg``/``percentile``/``median`` aggregate the numeric values of
``condition.field`` (non-numeric or missing values are skipped and counted);
``value_percentile`` uses linear interpolation at ``condition.percentile`` (0-100);
``temporal`` counts the distinct referenced rules matched in the window (default condition:
all of them); ``temporal_ordered`` counts the longest prefix of the ``rules`` list matched in
that order (non-decreasing times; one event fills one step). Extended conditions evaluate
``and``/``or``/``not`` over "rule matched in the window"; for ``temporal_ordered`` the rules
that make the expression true must also have matched in the listed order.

Chains: a correlation referenced by another one feeds it each time it fires, with the firing's
event and its group-by values (so a parent may group by the child's group-by names). As in
pySigma, a referenced rule or correlation only emits its own detections when every
correlation referencing it has ``generate: true``.

Bounds: groups per correlation (oldest dropped, counted), observations per group (oldest
dropped, counted), reorder buffer size (oldest applied early when full, counted), idle sliding
groups are dropped once the watermark is a ``timespan`` past their newest observation.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sigma.correlations import (
    CorrelationConditionAND,
    CorrelationConditionNOT,
    CorrelationConditionOR,
    SigmaCorrelationCondition,
    SigmaCorrelationRule,
    SigmaExtendedCorrelationCondition,
    SigmaRuleReference,
)

from detections.sigma.compiler import flatten_event
from detections.sigma.matchers import as_number, as_text
from soc_core.errors import RuleError

__all__ = [
    "CorrelationConfig",
    "CorrelationEngine",
    "CorrelationPlan",
    "CorrelationSpec",
    "InputBinding",
    "build_plan",
]

MAX_GROUPS = 100_000
MAX_ENTRIES_PER_GROUP = 10_000
MAX_PENDING = 1_000_000
MAX_EXTENDED_STEPS = 12

_OPS: dict[str, Callable[[float, float], bool]] = {
    "gte": lambda n, t: n >= t,
    "gt": lambda n, t: n > t,
    "lte": lambda n, t: n <= t,
    "lt": lambda n, t: n < t,
    "eq": lambda n, t: n == t,
    "neq": lambda n, t: n != t,
}
MONOTONE_OPS = frozenset({"gte", "gt"})
MONOTONE_KINDS = frozenset({"event_count", "value_count", "value_sum", "temporal", "temporal_ordered"})
VALUE_KINDS = frozenset({"value_count", "value_sum", "value_avg", "value_percentile", "value_median"})
NUMERIC_KINDS = frozenset({"value_sum", "value_avg", "value_percentile", "value_median"})
TEMPORAL_KINDS = frozenset({"temporal", "temporal_ordered"})


@dataclass(frozen=True)
class CorrelationConfig:
    """Runtime settings of the correlation engine (one per Detector)."""

    lateness_seconds: float = 0.0
    max_groups: int = MAX_GROUPS
    max_entries_per_group: int = MAX_ENTRIES_PER_GROUP
    max_pending: int = MAX_PENDING

    def __post_init__(self) -> None:
        if not self.lateness_seconds >= 0:  # also refuses NaN; math.inf = decide only at flush()
            raise ValueError("lateness_seconds must be a number >= 0")
        if min(self.max_groups, self.max_entries_per_group, self.max_pending) < 1:
            raise ValueError("correlation limits must be >= 1")


# --------------------------------------------------------------------------- compiled plan

Expr = Callable[[frozenset[int]], bool]


@dataclass(frozen=True)
class InputBinding:
    """How one source (a detection rule or a correlation) feeds one correlation."""

    steps: tuple[int, ...]  # positions in the correlation's ``rules`` list this source fills
    group_paths: tuple[tuple[str, ...], ...]  # per group-by field: candidate event paths
    value_paths: tuple[tuple[str, ...], ...] = ()  # per condition field: candidate event paths


@dataclass
class CorrelationSpec:
    """A compiled correlation rule (immutable; state lives in :class:`CorrelationEngine`)."""

    kind: str
    timespan: float  # seconds
    group_by: tuple[str, ...]
    steps: tuple[str, ...]  # referenced rules, in listed order
    op: str = "gte"
    threshold: float = 1.0
    percentile: float | None = None
    expression: Expr | None = None  # extended condition over matched step indices
    positive_steps: frozenset[int] = frozenset()  # steps referenced without ``not``
    minimal_sets: tuple[frozenset[int], ...] = ()  # minimal step sets making a monotone expression true
    immediate: bool = True
    generate: bool = False  # this rule's ``generate``: do the rules it references emit too?
    emits: bool = True  # does this correlation emit its own detections (see module docstring)
    parents: list[tuple[int, InputBinding]] = field(default_factory=list)


@dataclass
class CorrelationPlan:
    """Every compiled correlation, plus which detection rule feeds which correlation."""

    specs: list[CorrelationSpec] = field(default_factory=list)
    by_rule: dict[int, list[tuple[int, InputBinding]]] = field(default_factory=dict)
    silenced_rules: set[int] = field(default_factory=set)  # referenced without ``generate: true``

    @property
    def rule_indexes(self) -> frozenset[int]:
        return frozenset(self.by_rule)


def _compile_expression(node: Any, steps: dict[str, int], negated: bool, positive: set[int]) -> Expr:
    if isinstance(node, SigmaRuleReference):
        index = steps.get(node.reference)
        if index is None:
            raise RuleError(f"extended condition references '{node.reference}', which is not in rules")
        if not negated:
            positive.add(index)
        return lambda s: index in s
    if isinstance(node, CorrelationConditionNOT):
        inner = _compile_expression(node.args[0], steps, not negated, positive)
        return lambda s: not inner(s)
    if isinstance(node, CorrelationConditionAND | CorrelationConditionOR):
        parts = [_compile_expression(a, steps, negated, positive) for a in node.args]
        if isinstance(node, CorrelationConditionAND):
            return lambda s: all(p(s) for p in parts)
        return lambda s: any(p(s) for p in parts)
    raise RuleError(f"unsupported element in extended condition: {type(node).__name__}")


def _has_not(node: Any) -> bool:
    if isinstance(node, CorrelationConditionNOT):
        return True
    return any(_has_not(a) for a in getattr(node, "args", ()) if not isinstance(a, SigmaRuleReference))


def _minimal_sets(expr: Expr, n: int) -> tuple[frozenset[int], ...]:
    found: list[frozenset[int]] = []
    for size in range(1, n + 1):
        for combo in itertools.combinations(range(n), size):
            s = frozenset(combo)
            if any(m <= s for m in found):
                continue
            if expr(s):
                found.append(s)
    return tuple(found)


def _as_list(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


@dataclass
class PlanFailure:
    """A correlation rule that could not be compiled (index into the docs given to build_plan)."""

    doc: int
    key: tuple[str, ...]  # YAML key path the reason is about (for the line number)
    reason: str


def build_plan(
    rules: list[SigmaCorrelationRule],
    detection_refs: dict[str, int],
    map_field: Callable[[int, str], tuple[str, ...]],
) -> tuple[CorrelationPlan, list[int], list[PlanFailure]]:
    """Compile correlation rules (in any order; chains are resolved by reference).

    ``detection_refs`` maps rule ids and names to detection-rule indexes; ``map_field(rule, name)``
    gives the candidate event paths of Sigma field ``name`` for detection rule ``rule``.
    Returns the plan, the doc index of each compiled spec (plan.specs[i] comes from
    ``rules[order[i]]``), and the failures.
    """
    failures: list[PlanFailure] = []
    corr_refs: dict[str, int] = {}
    for i, rule in enumerate(rules):
        if rule.id is not None:
            corr_refs.setdefault(str(rule.id), i)
        if rule.name:
            corr_refs.setdefault(str(rule.name), i)

    def refs_of(rule: SigmaCorrelationRule) -> list[str]:
        if rule.rules is not None:
            return [str(r.reference) for r in rule.rules]
        if isinstance(rule.condition, SigmaExtendedCorrelationCondition):
            return list(rule.condition.get_referenced_rules())
        return []

    # Topological order over correlation -> correlation references; cycles and unknown refs fail.
    state: dict[int, str] = {}
    order: list[int] = []
    failed: set[int] = set()

    def visit(i: int, trail: tuple[int, ...]) -> None:
        if state.get(i) == "done":
            return
        if state.get(i) == "active":
            raise RuleError("correlation reference cycle: " + " -> ".join(str(rules[j].title) for j in (*trail, i)))
        state[i] = "active"
        for ref in refs_of(rules[i]):
            if ref in detection_refs:
                continue
            child = corr_refs.get(ref)
            if child is None:
                raise RuleError(f"referenced rule '{ref}' not found among loaded rules")
            visit(child, (*trail, i))
            if child in failed:
                raise RuleError(f"referenced correlation '{ref}' failed to load")
        state[i] = "done"
        order.append(i)

    for i in range(len(rules)):
        if state.get(i) == "done":
            continue
        try:
            visit(i, ())
        except RuleError as exc:
            failures.append(PlanFailure(i, ("correlation", "rules"), str(exc)))
            failed.add(i)
            for j, s in list(state.items()):
                if s == "active":
                    state[j] = "done"
                    failed.add(j)
                    if j != i:
                        failures.append(PlanFailure(j, ("correlation", "rules"), str(exc)))

    plan = CorrelationPlan()
    spec_of_doc: dict[int, int] = {}

    def resolve(ref: str) -> tuple[str, int] | None:
        if ref in detection_refs:
            return ("rule", detection_refs[ref])
        doc = corr_refs.get(ref)
        if doc is not None and doc in spec_of_doc:
            return ("corr", spec_of_doc[doc])
        return None

    compiled_order: list[int] = []
    for i in order:
        if i in failed:
            continue
        try:
            spec, bindings = _compile_one(rules[i], refs_of(rules[i]), resolve, map_field)
        except RuleError as exc:
            key = ("correlation", "condition") if "condition" in str(exc) else ("correlation",)
            failures.append(PlanFailure(i, key, str(exc)))
            failed.add(i)
            continue
        index = len(plan.specs)
        plan.specs.append(spec)
        spec_of_doc[i] = index
        compiled_order.append(i)
        for (source_kind, source), binding in bindings:
            if source_kind == "rule":
                plan.by_rule.setdefault(source, []).append((index, binding))
                if not spec.generate:
                    plan.silenced_rules.add(source)
            else:
                plan.specs[source].parents.append((index, binding))
                if not spec.generate:
                    plan.specs[source].emits = False
    return plan, compiled_order, failures


def _compile_one(
    rule: SigmaCorrelationRule,
    refs: list[str],
    resolve: Callable[[str], tuple[str, int] | None],
    map_field: Callable[[int, str], tuple[str, ...]],
) -> tuple[CorrelationSpec, list[tuple[tuple[str, int], InputBinding]]]:
    kind = str(rule.type.name).lower()
    if not refs:
        raise RuleError("correlation references no rule")
    group_by = tuple(rule.group_by or [])
    condition = rule.condition
    spec = CorrelationSpec(
        kind=kind,
        timespan=float(rule.timespan.seconds),
        group_by=group_by,
        steps=tuple(refs),
        generate=bool(rule.generate),
    )
    value_fields: list[str] = []
    if isinstance(condition, SigmaExtendedCorrelationCondition):
        if kind not in TEMPORAL_KINDS:
            raise RuleError(f"extended condition is not allowed for {kind}")
        if len(refs) > MAX_EXTENDED_STEPS:
            raise RuleError(f"extended condition over more than {MAX_EXTENDED_STEPS} rules")
        positive: set[int] = set()
        step_index = {ref: i for i, ref in reversed(list(enumerate(refs)))}
        expr = _compile_expression(condition.parsed, step_index, False, positive)
        spec.expression = expr
        spec.positive_steps = frozenset(positive)
        spec.immediate = not _has_not(condition.parsed)
        if spec.immediate:
            spec.minimal_sets = _minimal_sets(expr, len(refs))
    elif isinstance(condition, SigmaCorrelationCondition):
        spec.op = condition.op.name.lower()
        if spec.op not in _OPS:
            raise RuleError(f"correlation condition operator '{spec.op}' is not supported")
        spec.threshold = float(condition.count)
        spec.immediate = spec.op in MONOTONE_OPS and kind in MONOTONE_KINDS
        if kind in VALUE_KINDS:
            value_fields = _as_list(condition.fieldref)
            if not value_fields:
                raise RuleError(f"{kind} needs condition.field")
            if kind in NUMERIC_KINDS and len(value_fields) != 1:
                raise RuleError(f"{kind} needs exactly one condition.field")
        if kind == "value_percentile":
            if condition.percentile is None or not 0 <= condition.percentile <= 100:
                raise RuleError("value_percentile needs condition.percentile between 0 and 100")
            spec.percentile = float(condition.percentile)
    else:  # pragma: no cover - pySigma gives one of the two
        raise RuleError("correlation rule without condition")

    aliases = {a.alias: [(str(r.reference), f) for r, f in a.mapping.items()] for a in rule.aliases}
    by_source: dict[tuple[str, int], list[int]] = {}
    for step, ref in enumerate(refs):
        source = resolve(ref)
        if source is None:  # pragma: no cover - build_plan resolved every reference before
            raise RuleError(f"referenced rule '{ref}' not found among loaded rules")
        by_source.setdefault(source, []).append(step)
    bindings: list[tuple[tuple[str, int], InputBinding]] = []
    for source, steps in by_source.items():

        def real_name(name: str, source: tuple[str, int] = source) -> str:
            for ref, field_name in aliases.get(name, ()):
                if resolve(ref) == source:
                    return field_name
            return name

        def paths(name: str, source: tuple[str, int] = source) -> tuple[str, ...]:
            return map_field(source[1], name) if source[0] == "rule" else (name,)

        group_paths = tuple(paths(real_name(g)) for g in group_by)
        value_paths = tuple(paths(real_name(v)) for v in value_fields)
        bindings.append((source, InputBinding(tuple(steps), group_paths, value_paths)))
    return spec, bindings


# --------------------------------------------------------------------------- runtime state


@dataclass
class _Obs:
    """One observation waiting in the reorder buffer / applied to a group."""

    ts: float
    seq: int
    corr: int
    key: tuple[str, ...]
    steps: tuple[int, ...]
    value: Any  # str / tuple for value_count, float for numeric kinds, None otherwise
    event: dict[str, Any]


@dataclass
class _Group:
    entries: deque[_Obs] = field(default_factory=deque)
    counter: Counter[Any] = field(default_factory=Counter)
    total: float = 0.0
    start: float = 0.0
    newest: float = float("-inf")
    token: int = 0


def _percentile(values: list[float], p: float) -> float:
    data = sorted(values)
    if len(data) == 1:
        return data[0]
    rank = (len(data) - 1) * p / 100.0
    lo = math.floor(rank)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (rank - lo)


def _ordered_prefix(entries: Iterable[_Obs], n_steps: int, lo: float) -> int:
    """Longest prefix of steps matched in order by entries with ``ts >= lo`` (one entry per step)."""
    done = 0
    for obs in entries:  # entries are in (ts, seq) order
        if obs.ts < lo:
            continue
        if done < n_steps and done in obs.steps:
            done += 1
    return done


def _ordered_chain(entries: list[_Obs], order: list[int], lo: float) -> bool:
    """Do the steps in ``order`` (ascending) match one after the other (greedy, one entry per step)?"""
    want = 0
    for obs in entries:
        if want == len(order):
            break
        if obs.ts >= lo and order[want] in obs.steps:
            want += 1
    return want == len(order)


@dataclass
class _CorrState:
    """Event time, reorder buffer, window timers and groups of one correlation."""

    groups: dict[tuple[str, ...], _Group] = field(default_factory=dict)
    pending: list[tuple[float, int, _Obs]] = field(default_factory=list)
    timers: list[tuple[float, int, tuple[str, ...], int]] = field(default_factory=list)
    max_ts: float = float("-inf")
    clock: float = float("-inf")  # event time up to which observations have been applied
    last_sweep: float = float("-inf")


class CorrelationEngine:
    """Streaming state of every correlation of a rule set (one instance per Detector)."""

    def __init__(self, plan: CorrelationPlan, config: CorrelationConfig | None = None) -> None:
        self.plan = plan
        self.config = config or CorrelationConfig()
        self._state = [_CorrState() for _ in plan.specs]
        self._seq = itertools.count()
        self._out: list[tuple[int, dict[str, Any]]] = []
        # counters (exposed for health views and tests)
        self.late_dropped = 0
        self.forced_releases = 0
        self.groups_evicted = 0
        self.entries_truncated = 0
        self.values_skipped = 0

    # ----------------------------------------------------------------- public API
    def watermark(self, corr: int) -> float:
        """Event time up to which correlation ``corr`` may be applied (its newest time - lateness)."""
        return self._state[corr].max_ts - self.config.lateness_seconds

    @property
    def pending(self) -> int:
        return sum(len(st.pending) for st in self._state)

    def group_count(self, corr: int | None = None) -> int:
        if corr is not None:
            return len(self._state[corr].groups)
        return sum(len(st.groups) for st in self._state)

    def observe(self, rule: int, flat: Any, event: dict[str, Any], ts: float) -> list[tuple[int, dict[str, Any]]]:
        """Feed one match of detection rule ``rule``; return the ``(correlation, event)`` firings now due."""
        for corr, binding in self.plan.by_rule.get(rule, ()):
            self._enqueue(corr, binding, flat, event, ts)
        return self._take()

    def advance(self, ts: float) -> list[tuple[int, dict[str, Any]]]:
        """Batch boundary hint (``ts``: newest event time of the batch); returns firings not yet taken.

        Each correlation's time only moves with its own observations, so an unrelated source with a
        skewed clock cannot make another correlation's events late; the hint is kept for callers
        and only used to release nothing early.
        """
        del ts
        return self._take()

    def flush(self) -> list[tuple[int, dict[str, Any]]]:
        """End of input: apply every pending observation and close every open window."""
        for corr in range(len(self._state)):
            self._release(corr, math.inf)  # every open tumbling window has a timer: all close here
        for st in self._state:
            st.groups.clear()
        return self._take()

    # ----------------------------------------------------------------- internals
    def _take(self) -> list[tuple[int, dict[str, Any]]]:
        out, self._out = self._out, []
        return out

    def _enqueue(self, corr: int, binding: InputBinding, flat: Any, event: dict[str, Any], ts: float) -> None:
        spec = self.plan.specs[corr]
        st = self._state[corr]
        value: Any = None
        if binding.value_paths:
            if spec.kind == "value_count":
                parts = [_first(flat, paths) for paths in binding.value_paths]
                if any(p is None for p in parts):
                    self.values_skipped += 1
                    return
                value = parts[0] if len(parts) == 1 else tuple(parts)
            else:
                value = _first_number(flat, binding.value_paths[0])
                if value is None:
                    self.values_skipped += 1
                    return
        if ts < st.clock or ts < st.max_ts - self.config.lateness_seconds:
            self.late_dropped += 1
            return
        key = tuple(_first(flat, paths) or "" for paths in binding.group_paths)
        obs = _Obs(ts, next(self._seq), corr, key, binding.steps, value, event)
        heapq.heappush(st.pending, (ts, obs.seq, obs))
        st.max_ts = max(st.max_ts, ts)
        if len(st.pending) > self.config.max_pending:
            self.forced_releases += 1
            self._release(corr, st.pending[0][0])
        self._release(corr, st.max_ts - self.config.lateness_seconds)

    def _release(self, corr: int, limit: float) -> None:
        """Apply, in event-time order, the observations and window ends of ``corr`` up to ``limit``."""
        st = self._state[corr]
        pending, timers = st.pending, st.timers
        while True:
            t_obs = pending[0][0] if pending else math.inf
            t_tim = timers[0][0] if timers else math.inf
            if timers and t_tim <= t_obs and t_tim <= limit:
                end, _, key, token = heapq.heappop(timers)
                st.clock = max(st.clock, end)
                self._close(corr, key, token)
            elif pending and t_obs <= limit:
                ts, _, obs = heapq.heappop(pending)
                st.clock = max(st.clock, ts)
                self._apply(obs)
            else:
                break
        if st.clock - st.last_sweep >= 60.0 and st.clock != math.inf:
            self._sweep(corr)

    def _group(self, corr: int, key: tuple[str, ...]) -> _Group:
        groups = self._state[corr].groups
        group = groups.get(key)
        if group is None:
            if len(groups) >= self.config.max_groups:
                groups.pop(next(iter(groups)))
                self.groups_evicted += 1
            group = groups[key] = _Group()
        return group

    def _apply(self, obs: _Obs) -> None:
        spec = self.plan.specs[obs.corr]
        if spec.immediate:
            self._apply_sliding(spec, obs)
        else:
            self._apply_tumbling(spec, obs)

    def _add(self, group: _Group, obs: _Obs, kind: str) -> None:
        group.entries.append(obs)
        group.newest = max(group.newest, obs.ts)
        if kind == "value_count":
            group.counter[obs.value] += 1
        elif kind in NUMERIC_KINDS:
            group.total += obs.value
        while len(group.entries) > self.config.max_entries_per_group:
            self._drop_oldest(group, kind)
            self.entries_truncated += 1

    def _drop_oldest(self, group: _Group, kind: str) -> None:
        old = group.entries.popleft()
        if kind == "value_count":
            group.counter[old.value] -= 1
            if group.counter[old.value] <= 0:
                del group.counter[old.value]
        elif kind in NUMERIC_KINDS:
            group.total -= old.value

    def _apply_sliding(self, spec: CorrelationSpec, obs: _Obs) -> None:
        group = self._group(obs.corr, obs.key)
        kind = spec.kind
        self._add(group, obs, kind)
        lo = obs.ts - spec.timespan
        while group.entries and group.entries[0].ts < lo:
            self._drop_oldest(group, kind)
        if self._holds(spec, group, lo):
            del self._state[obs.corr].groups[obs.key]
            self._emit(obs.corr, obs.key, obs.event, obs.ts)

    def _holds(self, spec: CorrelationSpec, group: _Group, lo: float) -> bool:
        kind = spec.kind
        entries = group.entries
        if spec.expression is not None:
            matched = frozenset(s for o in entries for s in o.steps)
            ordered = kind == "temporal_ordered"
            if spec.immediate:
                return any(
                    needed <= matched and (not ordered or _ordered_chain(list(entries), sorted(needed), lo))
                    for needed in spec.minimal_sets
                )
            if not spec.expression(matched):
                return False
            return not ordered or _ordered_chain(list(entries), sorted(matched & spec.positive_steps), lo)
        if kind == "event_count":
            measure: float = len(entries)
        elif kind == "value_count":
            measure = len(group.counter)
        elif kind == "temporal":
            measure = len({s for o in entries for s in o.steps})
        elif kind == "temporal_ordered":
            measure = _ordered_prefix(entries, len(spec.steps), lo)
        elif not entries:
            return False
        elif kind == "value_sum":
            measure = group.total
        elif kind == "value_avg":
            measure = group.total / len(entries)
        elif kind == "value_median":
            measure = _percentile([o.value for o in entries], 50.0)
        elif kind == "value_percentile":
            measure = _percentile([o.value for o in entries], spec.percentile or 0.0)
        else:  # pragma: no cover - build_plan only accepts the kinds above
            return False
        return _OPS[spec.op](measure, spec.threshold)

    def _apply_tumbling(self, spec: CorrelationSpec, obs: _Obs) -> None:
        st = self._state[obs.corr]
        group = st.groups.get(obs.key)
        if group is None:
            group = self._group(obs.corr, obs.key)
            group.start = obs.ts
            group.token = obs.seq
            heapq.heappush(st.timers, (obs.ts + spec.timespan, obs.seq, obs.key, obs.seq))
        self._add(group, obs, spec.kind)

    def _close(self, corr: int, key: tuple[str, ...], token: int) -> None:
        groups = self._state[corr].groups
        group = groups.get(key)
        if group is None or group.token != token:
            return  # the window was evicted (and maybe reopened) meanwhile
        del groups[key]
        spec = self.plan.specs[corr]
        if group.entries and self._holds(spec, group, group.start):
            self._emit(corr, key, group.entries[-1].event, group.start + spec.timespan)

    def _emit(self, corr: int, key: tuple[str, ...], event: dict[str, Any], at: float) -> None:
        spec = self.plan.specs[corr]
        if spec.emits:
            self._out.append((corr, event))
        if not spec.parents:
            return
        flat: dict[str, Any] = dict(flatten_event(event))
        flat.update(zip(spec.group_by, key, strict=True))
        for parent, binding in spec.parents:  # parents come later in the plan: no cycle
            self._enqueue(parent, binding, flat, event, at)

    def _sweep(self, corr: int) -> None:
        """Drop sliding groups idle for longer than the timespan (bounded memory)."""
        st = self._state[corr]
        st.last_sweep = st.clock
        spec = self.plan.specs[corr]
        if not spec.immediate:
            return
        horizon = st.clock - spec.timespan
        for key in [k for k, g in st.groups.items() if g.newest < horizon]:
            del st.groups[key]


def _first(flat: Any, paths: tuple[str, ...]) -> str | None:
    for path in paths:
        value = flat.get(path)
        if isinstance(value, list):
            value = value[0] if value else None
        text = as_text(value)
        if text is not None:
            return text
    return None


def _first_number(flat: Any, paths: tuple[str, ...]) -> float | None:
    for path in paths:
        value = flat.get(path)
        if isinstance(value, list):
            value = value[0] if value else None
        number = as_number(value)
        if number is not None and math.isfinite(number):
            return number
    return None
