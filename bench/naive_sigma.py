"""Reference evaluator: a straightforward per-event Sigma loop (every rule on every event, no index).

Used by ``soc bench sigma`` as the "naive" baseline. It shares no code with the engine's
compiler: rules are parsed and field-mapped by pySigma (the project's ``mapping.yml`` pipeline),
each value becomes one compiled Python regular expression (or a number/CIDR/null test), and the
condition tree is walked for every rule on every event. The rule's log source is checked per
event from the ``logsources`` routes of the same mapping file. Values it does not know
(placeholders, timestamp parts, ...) make the rule unsupported; those are counted, not guessed.
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sigma.collection import SigmaCollection
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.rule import SigmaRule
from sigma.types import (
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
)

from bench.sqlite_ref import LOGSOURCE_FIELDS, _Route, _routes, collection_from_docs, read_rule_docs
from detections.sigma.mapping import DEFAULT_MAPPING, load_mapping

Flat = Mapping[str, Any]
Test = Callable[[Flat], bool]
KEYWORD_FIELDS = ("message", "event.original")
_RE_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: re.IGNORECASE,
    SigmaRegularExpressionFlag.MULTILINE: re.MULTILINE,
    SigmaRegularExpressionFlag.DOTALL: re.DOTALL,
}
_MISSING = object()


class Unsupported(Exception):
    pass


def _texts(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if item is None or isinstance(item, dict):
            continue
        out.append(("true" if item else "false") if isinstance(item, bool) else str(item))
    return out


def _value_test(name: str, value: Any) -> Test:
    if isinstance(value, SigmaExpansion):
        tests = [_value_test(name, v) for v in value.values]
        return lambda flat: any(t(flat) for t in tests)
    if isinstance(value, SigmaNull):
        return lambda flat: flat.get(name) in (None, "")
    if isinstance(value, SigmaExists):
        want = bool(value.exists)
        return lambda flat: (flat.get(name) is not None) == want
    if isinstance(value, SigmaBool):
        text = "true" if value.boolean else "false"
        return lambda flat: text in [t.lower() for t in _texts(flat.get(name))]
    if isinstance(value, SigmaNumber):
        num = value.number
        return lambda flat: any(_num(t) == num for t in _texts(flat.get(name)))
    if isinstance(value, SigmaCompareExpression):
        op = value.op
        bound = value.number.number
        ops = {
            SigmaCompareExpression.CompareOperators.LT: lambda a: bool(a < bound),
            SigmaCompareExpression.CompareOperators.LTE: lambda a: a <= bound,
            SigmaCompareExpression.CompareOperators.GT: lambda a: a > bound,
            SigmaCompareExpression.CompareOperators.GTE: lambda a: a >= bound,
        }
        cmp: Callable[[float], bool] = ops[op]
        return lambda flat: any((n := _num(t)) is not None and cmp(n) for t in _texts(flat.get(name)))
    if isinstance(value, SigmaCIDRExpression):
        network = value.network
        return lambda flat: any(_in_network(t, network) for t in _texts(flat.get(name)))
    if isinstance(value, SigmaFieldReference):
        other = value.field
        return lambda flat: bool(set(_texts(flat.get(name))) & set(_texts(flat.get(other))))
    if isinstance(value, SigmaRegularExpression):
        flags = 0
        for flag in value.flags:
            flags |= _RE_FLAGS[flag]
        pattern = re.compile(str(value.regexp), flags)
        return lambda flat: any(pattern.search(t) for t in _texts(flat.get(name)))
    if isinstance(value, SigmaString):
        if value.contains_placeholder():
            raise Unsupported("placeholder")
        flags = 0 if isinstance(value, SigmaCasedString) else re.IGNORECASE
        pattern = re.compile(str(value.to_regex().regexp), flags | re.DOTALL)
        return lambda flat: any(pattern.fullmatch(t) for t in _texts(flat.get(name)))
    raise Unsupported(type(value).__name__)


def _num(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _in_network(text: str, network: Any) -> bool:
    try:
        return ipaddress.ip_address(text) in network
    except ValueError:
        return False


def _keyword_test(value: Any) -> Test:
    if not isinstance(value, SigmaString):
        raise Unsupported(f"keyword {type(value).__name__}")
    pattern = re.compile(str(value.to_regex().regexp), re.IGNORECASE | re.DOTALL)
    return lambda flat: any(pattern.search(t) for f in KEYWORD_FIELDS for t in _texts(flat.get(f)))


def _compile(node: Any) -> Test:
    if isinstance(node, ConditionAND):
        parts = [_compile(a) for a in node.args]
        return lambda flat: all(p(flat) for p in parts)
    if isinstance(node, ConditionOR):
        parts = [_compile(a) for a in node.args]
        return lambda flat: any(p(flat) for p in parts)
    if isinstance(node, ConditionNOT):
        inner = _compile(node.args[0])
        return lambda flat: not inner(flat)
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return _value_test(str(node.field), node.value)
    if isinstance(node, ConditionValueExpression):
        return _keyword_test(node.value)
    raise Unsupported(type(node).__name__)


def _route_test(logsource: Mapping[str, str], routes: Sequence[_Route]) -> Test:
    """Per-event check of the rule's log source, with mapping.yml route semantics."""
    needed: list[list[list[tuple[str, set[str]]]]] = []
    for name in LOGSOURCE_FIELDS:
        value = logsource.get(name)
        if value is None:
            continue
        alternatives = [
            [(col, {str(v).lower() for v in vals}) for col, vals in r.when.items()]
            for r in routes
            if value.lower() in r.then.get(name, ())
        ]
        needed.append(alternatives)

    def test(flat: Flat) -> bool:
        return all(
            any(all(str(flat.get(col)).lower() in vals for col, vals in alt) for alt in alternatives)
            for alternatives in needed
        )

    return test


@dataclass
class NaiveRules:
    rules: list[tuple[str, Test, Test]] = field(default_factory=list)  # (id, logsource test, condition)
    unsupported: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def compile_rules(paths: Sequence[Path], *, mapping: Path = DEFAULT_MAPPING) -> NaiveRules:
    """Parse and compile every rule under ``paths``."""
    started = time.perf_counter()
    out = compile_collection(collection_from_docs(read_rule_docs(paths)), mapping=mapping)
    out.seconds = time.perf_counter() - started
    return out


def compile_collection(collection: SigmaCollection, *, mapping: Path = DEFAULT_MAPPING) -> NaiveRules:
    """Compile the detection rules of ``collection`` (correlations are listed as unsupported)."""
    started = time.perf_counter()
    sigma_mapping = load_mapping(mapping)
    out = NaiveRules()
    pipeline = sigma_mapping.new_pipeline()
    routes = _routes(mapping)
    for rule in collection.rules:
        rid = str(rule.id) if rule.id else str(rule.title)
        if not isinstance(rule, SigmaRule):
            out.unsupported[rid] = "correlation rule"
            continue
        try:
            pipeline.apply(rule)
            conditions = [_compile(c.parse()) for c in rule.detection.parsed_condition]
        except Exception as exc:  # pySigma and our own Unsupported
            out.unsupported[rid] = f"{type(exc).__name__}: {exc}"
            continue
        logsource = {n: str(getattr(rule.logsource, n)) for n in LOGSOURCE_FIELDS if getattr(rule.logsource, n)}
        condition = conditions[0] if len(conditions) == 1 else (lambda f, cs=conditions: any(c(f) for c in cs))
        out.rules.append((rid, _route_test(logsource, routes), condition))
    out.seconds = time.perf_counter() - started
    return out


def run(events: Sequence[Mapping[str, Any]], rules: NaiveRules) -> tuple[set[tuple[str, str]], float]:
    """(rule id, event.id) pairs and the seconds taken: every rule tried on every event."""
    started = time.perf_counter()
    matches: set[tuple[str, str]] = set()
    for event in events:
        flat = flatten_nested(event)
        event_id = str(flat.get("event.id"))
        for rid, routed, condition in rules.rules:
            try:
                if routed(flat) and condition(flat):
                    matches.add((rid, event_id))
            except Exception:  # a rule that breaks on odd data does not match
                continue
    return matches, time.perf_counter() - started


def flatten_nested(event: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted leaves with lists kept as lists (the naive loop tests every element)."""
    out: dict[str, Any] = {}
    stack: list[tuple[str, Mapping[str, Any]]] = [("", event)]
    while stack:
        prefix, obj = stack.pop()
        for key, value in obj.items():
            if isinstance(value, Mapping):
                stack.append((f"{prefix}{key}.", value))
            else:
                out[f"{prefix}{key}"] = value
    return out


__all__ = ["NaiveRules", "compile_rules", "run"]
