"""Detect stage: the compiled (Rust) evaluator behind :class:`detections.sigma.engine.Detector`.

Neighbours: :class:`detections.sigma.engine.RuleSet` calls :meth:`Lowering.rule` for each rule it
compiles (beside the Python evaluator of :mod:`.compiler`); the ``Detector`` builds a
:class:`NativeMatcher` from the result and asks it which rules match each event of a batch. The
extension lives in ``native/sigma_native`` (PyO3, built by ``make install``); without it the
Python evaluator does all the work, with the same detections.

What is lowered: the condition tree the Python compiler walks, as tuples (see
``native/sigma_native/src/ir.rs``): AND/OR/NOT, string tests (the same merged OR groups as
:func:`detections.sigma.compiler.compile_node`), ``re`` values, numbers, comparisons, null and
exists, booleans. Anything else (field references, time parts, CIDR, odd regular expressions)
is a ``("py", n)`` node: the extension calls the Python evaluator ``n`` for it, so the semantics
stay those of the Python engine everywhere. Events the extension cannot read as the Python engine
does (keys with dots or not strings, lone surrogates) come back as ``None`` and go the Python way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.rule import SigmaRule
from sigma.types import (
    CompareOperators,
    SigmaBool,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaTimestampPart,
)

from detections.sigma.compiler import Evaluator, compile_node, compile_rule, field_test, string_leaf
from detections.sigma.eventview import LazyFlat
from detections.sigma.mapping import route_text
from detections.sigma.matchers import StringPattern, as_number, as_text, compile_value, string_pattern
from detections.sigma.prefilter import COMMON_SUBSTRINGS

_native: ModuleType | None
try:  # built from native/sigma_native by `make install`; optional at run time
    import soc_sigma_native as _native
except ImportError:  # pragma: no cover - depends on the installation
    _native = None

__all__ = ["Decision", "FactsLayout", "Lowering", "NativeMatcher", "available"]

Tree = tuple[Any, ...]
# Per event: None (the Python engine decides), () (no rule matches) or, when rules match, (their
# indexes ascending, values, entity, dedup_suffix, unit, event_id, timestamp): the Detection facts
# made by the extension with values None, or the values at the matcher's fact fields with the facts
# None (see :data:`FactsLayout`).
# (The five fact slots are typed Any: which form a tuple has is known from ``values`` only.)
Decision = tuple[()] | tuple[tuple[int, ...], tuple[Any, ...] | None, Any, Any, Any, Any, Any] | None
# Where the Detection facts are among the fact fields: entity fields as (name, index), then the
# indexes of the unit, event id and timestamp. When every value there is a str or absent, the
# extension makes (entity, dedup_suffix, unit, event_id, timestamp) as DetectionFacts does.
FactsLayout = tuple[list[tuple[str, int]], int, int, int]
_COMPARE = {
    CompareOperators.LT: "lt",
    CompareOperators.LTE: "lte",
    CompareOperators.GT: "gt",
    CompareOperators.GTE: "gte",
}
_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: "i",
    SigmaRegularExpressionFlag.MULTILINE: "m",
    SigmaRegularExpressionFlag.DOTALL: "s",
}
_MAX_DEPTH = 200


def available() -> bool:
    """Whether the compiled extension is installed."""
    return _native is not None


def rust_regex(pattern: str, flags: str) -> str | None:
    """``pattern`` for the regex crate when it means the same there on printable-ASCII text, else None.

    Character classes differ (nesting and ``&&``/``--``/``~~`` set operations exist only in the
    regex crate): such patterns stay with Python. Constructs the crate lacks (look-around, back
    references, ``\\Z``) make it fail to compile, which also leaves them to Python.
    """
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            if char == "[" or pattern.startswith(("&&", "--", "~~"), i):
                return None
            if char == "]":
                in_class = False
        elif char == "[":
            in_class = True
            i += 1
            if pattern.startswith("^", i):
                i += 1
            if pattern.startswith("]", i):  # a leading ] is a literal in both dialects
                i += 1
            continue
        i += 1
    return f"(?{flags}){pattern}" if flags else pattern


def _pattern(p: StringPattern) -> tuple[str, str, list[str | int]]:
    if p.kind == "regex":
        return ("glob", p.text, list(p.tokens))
    return (p.kind, p.text, [])


@dataclass
class Lowering:
    """Paths and Python fallbacks shared by the lowered trees of one rule set."""

    keyword_fields: tuple[str, ...]
    paths: dict[str, int] = field(default_factory=dict)
    fallbacks: list[Evaluator] = field(default_factory=list)
    trees: list[Tree] = field(default_factory=list)

    def _path(self, name: str) -> int:
        return self.paths.setdefault(name, len(self.paths))

    def _py(self, evaluator: Evaluator) -> Tree:
        self.fallbacks.append(evaluator)
        return ("py", len(self.fallbacks) - 1)

    def rule(self, rule: SigmaRule) -> None:
        """Lower a pipeline-processed rule (its conditions are ORed) and append it to :attr:`trees`."""
        try:
            parts = [self._node(cond.parse(), 0) for cond in rule.detection.parsed_condition]
            tree: Tree = parts[0] if len(parts) == 1 else ("or", parts)
        except Exception:  # whatever the lowering lacks: the whole rule is the Python evaluator's
            tree = self._py(compile_rule(rule, self.keyword_fields))
        self.trees.append(tree)

    def _strings(self, paths: tuple[str, ...], patterns: list[StringPattern]) -> Tree:
        return ("str", [self._path(p) for p in paths], patterns[0].cased, [_pattern(p) for p in patterns])

    def _node(self, node: Any, depth: int) -> Tree:
        if depth > _MAX_DEPTH:
            raise ValueError("condition nested too deeply")
        if isinstance(node, ConditionAND):
            return ("and", [self._node(a, depth + 1) for a in node.args])
        if isinstance(node, ConditionOR):
            groups: dict[tuple[tuple[str, ...], bool], list[StringPattern]] = {}
            others: list[Tree] = []
            for arg in node.args:
                leaf = string_leaf(arg, self.keyword_fields)
                if leaf is None:
                    others.append(self._node(arg, depth + 1))
                else:
                    groups.setdefault((leaf[0], leaf[1][0].cased), []).extend(leaf[1])
            parts = [self._strings(paths, pats) for (paths, _), pats in groups.items()] + others
            return parts[0] if len(parts) == 1 else ("or", parts)
        if isinstance(node, ConditionNOT):
            return ("not", self._node(node.args[0], depth + 1))
        leaf = string_leaf(node, self.keyword_fields)
        if leaf is not None:
            return self._strings(*leaf)
        if isinstance(node, ConditionFieldEqualsValueExpression):
            if isinstance(node.value, SigmaFieldReference):
                ref = node.value
                mode = (
                    "contains"
                    if ref.starts_with and ref.ends_with
                    else "prefix"
                    if ref.starts_with
                    else "suffix"
                    if ref.ends_with
                    else "eq"
                )
                return ("ref", self._path(node.field), self._path(ref.field), mode)
            if isinstance(node.value, SigmaTimestampPart):
                return self._py(compile_node(node, self.keyword_fields))
            return self._value(node.field, node.value, depth)
        if isinstance(node, ConditionValueExpression):
            value = node.value
            if isinstance(value, SigmaNumber) and not isinstance(value, SigmaTimestampPart):
                pattern = string_pattern(SigmaString(str(value.number)), substring=True)
                return self._strings(self.keyword_fields, [pattern])
            return self._py(compile_node(node, self.keyword_fields))
        if node is None:
            return ("false",)
        return self._py(compile_node(node, self.keyword_fields))

    def _value(self, name: str, value: Any, depth: int) -> Tree:
        if isinstance(value, SigmaExpansion):
            return ("or", [self._value(name, v, depth + 1) for v in value.values])
        if isinstance(value, SigmaString):
            return self._strings((name,), [string_pattern(value)])
        if isinstance(value, SigmaRegularExpression):
            fallback = self._py(field_test(name, compile_value(value)))
            flags = "".join(sorted(_FLAGS[f] for f in value.flags))
            translated = rust_regex(str(value.regexp), flags)
            return fallback if translated is None else ("re", self._path(name), translated, fallback[1])
        if isinstance(value, SigmaCompareExpression) and value.op in _COMPARE:
            return ("cmp", self._path(name), _COMPARE[value.op], float(value.number.number))
        if isinstance(value, SigmaNumber) and not isinstance(value, SigmaTimestampPart):
            return ("num", self._path(name), float(value.number))
        if isinstance(value, SigmaNull):
            return ("null", self._path(name))
        if isinstance(value, SigmaExists):
            return ("exists", self._path(name), bool(value.exists))
        if isinstance(value, SigmaBool):
            return ("bool", self._path(name), bool(value.boolean))
        return self._py(field_test(name, compile_value(value)))


class NativeMatcher:
    """The extension's engine over a lowered rule set (see the module notes)."""

    def __init__(
        self,
        lowering: Lowering,
        route_fields: Sequence[str],
        rules_for_route: Callable[[tuple[str | None, ...]], Sequence[int]],
        fact_fields: Sequence[str] = (),
        facts_layout: FactsLayout = ([], 0, 0, 0),
    ) -> None:
        """``fact_fields``: fields whose values come back with each matching event; they are walked
        too, so the dicts on their paths are checked for dotted keys. ``facts_layout``: where the
        Detection facts are among them (the default, with no fact fields, makes none)."""
        if _native is None:
            raise RuntimeError("the soc_sigma_native extension is not installed (make install builds it)")
        paths = dict(lowering.paths)
        for name in [*route_fields, *fact_fields]:
            paths.setdefault(name, len(paths))
        ordered = sorted(paths, key=paths.__getitem__)
        self._engine = _native.Engine(
            ordered,
            [paths[f] for f in route_fields],
            list(lowering.trees),
            list(lowering.fallbacks),
            LazyFlat,
            as_text,
            as_number,
            route_text,
            lambda key: list(rules_for_route(key)),
            list(COMMON_SUBSTRINGS),
            [paths[f] for f in fact_fields],
            facts_layout if fact_fields else ([], 0, 0, 0),
        )

    def set_detections(
        self,
        detection: type,
        emitting: Sequence[tuple[str, str, str, tuple[str, ...], str] | None],
        facts_of: Callable[[tuple[Any, ...]], tuple[Any, ...]],
    ) -> None:
        """What :meth:`detect` builds Detections with: the Detection type (called positionally),
        per rule None or (id, title, level, tags, dedup key prefix), and ``facts_of(values)``: the
        facts (entity, dedup_suffix, unit, event_id, timestamp) of values the extension makes none of."""
        self._engine.set_detections(detection, list(emitting), facts_of)

    def detect(self, events: list[Any]) -> tuple[list[Any], list[tuple[int, int]], int]:
        """The Detections of a batch in event order, made by the extension; the events it hands
        back as (position in ``events``, index in the Detections where theirs go); how many events
        were dicts (the others are skipped)."""
        result: tuple[list[Any], list[tuple[int, int]], int] = self._engine.detect_batch(events)
        return result

    def match(self, events: list[Any]) -> list[Decision]:
        """Per event: see :data:`Decision` (rule indexes ascending, fact values in field order)."""
        result: list[Decision] = self._engine.match_batch(events)
        return result

    @property
    def counters(self) -> dict[str, int]:
        """Cumulative: events decided here and handed back, candidates evaluated, rule errors, route
        plans, bytes of field text scanned for anchors, anchor occurrences, rules that were candidates
        for lack of an anchor, and by a number anchor."""
        e = self._engine
        scanned, occurrences, always, by_number = e.scan_counters()
        return {
            "events": e.events,
            "handed_back": e.handed_back,
            "candidates": e.candidates,
            "rule_errors": e.rule_errors,
            "plans": e.plan_count(),
            "scanned_bytes": scanned,
            "anchor_hits": occurrences,
            "unanchored_candidates": always,
            "number_candidates": by_number,
        }
