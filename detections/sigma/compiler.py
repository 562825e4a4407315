"""Detect stage: compile a pySigma condition tree into a plain-Python evaluator.

Neighbours: :mod:`detections.sigma.loader` hands over parsed, field-mapped pySigma rules;
:mod:`detections.sigma.matchers` compiles each value; :mod:`detections.sigma.engine` calls the
resulting :data:`Evaluator` with a flattened event (``{"dotted.path": value}``, see
:func:`flatten_event`). pySigma's own post-processing resolves identifiers, ``1 of sel*``,
``all of them``, ``|all`` and negation into AND/OR/NOT trees, so this module only walks them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.rule import SigmaRule
from sigma.types import SigmaExpansion, SigmaFieldReference, SigmaString, SigmaTimestampPart

from detections.sigma.matchers import MISSING, Matcher, StringPattern, as_text, compile_value, string_pattern, text_test
from detections.sigma.values import compile_fieldref, compile_timestamp_part
from soc_core.errors import RuleError

_MAX_DEPTH = 32


class FlatEvent(dict[str, Any]):
    """``{"dotted.path": value}`` view of one event, with a per-event cache of its text values.

    String tests read :meth:`texts`, so a field is converted and lower-cased once per event
    however many rules look at it.
    """

    __slots__ = ("_lower", "_plain")

    def __init__(self) -> None:
        super().__init__()
        self._lower: dict[str, tuple[str, ...]] = {}
        self._plain: dict[str, tuple[str, ...]] = {}

    def texts(self, path: str, lower: bool) -> tuple[str, ...]:
        """Text forms of the value at ``path`` (one per list element), lower-cased if asked."""
        cache = self._lower if lower else self._plain
        hit = cache.get(path)
        if hit is None:
            value = self.get(path)
            items = value if isinstance(value, list) else (value,)
            texts = (t for t in map(as_text, items) if t is not None)
            hit = cache[path] = tuple(t.lower() for t in texts) if lower else tuple(texts)
        return hit


Evaluator = Callable[[FlatEvent], bool]


def flatten_event(event: Mapping[str, Any]) -> FlatEvent:
    """Flat view of an event: every leaf and every nested object under its dotted path."""
    out = FlatEvent()
    stack: list[tuple[str, Mapping[str, Any], int]] = [("", event, 0)]
    while stack:
        prefix, obj, depth = stack.pop()
        for key, value in obj.items():
            path = f"{prefix}{key}"
            out.setdefault(path, value)
            if isinstance(value, Mapping) and depth < _MAX_DEPTH:
                stack.append((path + ".", value, depth + 1))
    return out


def field_test(path: str, match: Matcher) -> Evaluator:
    def evaluate(flat: FlatEvent) -> bool:
        return match(flat.get(path, MISSING))

    return evaluate


def keyword_test(fields: tuple[str, ...], match: Matcher) -> Evaluator:
    def evaluate(flat: FlatEvent) -> bool:
        return any(match(flat.get(name, MISSING)) for name in fields)

    return evaluate


def _texts_eval(paths: tuple[str, ...], patterns: list[StringPattern]) -> Evaluator:
    test = text_test(patterns)
    lower = not patterns[0].cased
    if len(paths) == 1:
        path = paths[0]

        def evaluate_one(flat: FlatEvent) -> bool:
            return any(map(test, flat.texts(path, lower)))

        return evaluate_one

    def evaluate(flat: FlatEvent) -> bool:
        return any(any(map(test, flat.texts(path, lower))) for path in paths)

    return evaluate


def string_leaf(node: Any, keyword_fields: tuple[str, ...]) -> tuple[tuple[str, ...], list[StringPattern]] | None:
    """(paths, patterns) when a leaf is a plain string test (mergeable with its OR siblings)."""
    paths: tuple[str, ...]
    if isinstance(node, ConditionFieldEqualsValueExpression):
        paths, keyword = (node.field,), False
    elif isinstance(node, ConditionValueExpression):
        paths, keyword = keyword_fields, True
    else:
        return None
    values = node.value.values if isinstance(node.value, SigmaExpansion) else [node.value]
    if not values or not all(isinstance(v, SigmaString) for v in values):
        return None
    patterns = [string_pattern(cast(SigmaString, v), substring=keyword) for v in values]
    if len({p.cased for p in patterns}) != 1:
        return None
    return paths, patterns


def _or_node(args: list[Any], keyword_fields: tuple[str, ...], depth: int) -> Evaluator:
    """OR with plain string leaves on the same field merged into one set/tuple test."""
    groups: dict[tuple[tuple[str, ...], bool], list[StringPattern]] = {}
    others: list[Evaluator] = []
    for arg in args:
        leaf = string_leaf(arg, keyword_fields)
        if leaf is None:
            others.append(compile_node(arg, keyword_fields, depth + 1))
        else:
            paths, patterns = leaf
            groups.setdefault((paths, patterns[0].cased), []).extend(patterns)
    parts = [_texts_eval(paths, patterns) for (paths, _), patterns in groups.items()] + others
    return parts[0] if len(parts) == 1 else _or(parts)


def _and(parts: list[Evaluator]) -> Evaluator:
    if len(parts) == 2:
        a, b = parts
        return lambda flat: a(flat) and b(flat)
    if len(parts) == 3:
        a, b, c = parts
        return lambda flat: a(flat) and b(flat) and c(flat)

    def evaluate(flat: FlatEvent) -> bool:
        return all(p(flat) for p in parts)

    return evaluate


def _or(parts: list[Evaluator]) -> Evaluator:
    if len(parts) == 2:
        a, b = parts
        return lambda flat: a(flat) or b(flat)

    def evaluate(flat: FlatEvent) -> bool:
        return any(p(flat) for p in parts)

    return evaluate


def _not(part: Evaluator) -> Evaluator:
    return lambda flat: not part(flat)


def compile_node(node: Any, keyword_fields: tuple[str, ...], depth: int = 0) -> Evaluator:
    """Evaluator for one node of a post-processed pySigma condition tree."""
    if depth > 200:
        raise RuleError("condition nested too deeply")
    if isinstance(node, ConditionAND):
        return _and([compile_node(a, keyword_fields, depth + 1) for a in node.args])
    if isinstance(node, ConditionOR):
        return _or_node(list(node.args), keyword_fields, depth)
    if isinstance(node, ConditionNOT):
        return _not(compile_node(node.args[0], keyword_fields, depth + 1))
    leaf = string_leaf(node, keyword_fields)
    if leaf is not None:
        return _texts_eval(*leaf)
    if isinstance(node, ConditionFieldEqualsValueExpression):
        if isinstance(node.value, SigmaFieldReference):
            return compile_fieldref(node.field, node.value)
        if isinstance(node.value, SigmaTimestampPart):
            return field_test(node.field, compile_timestamp_part(node.value))
        return field_test(node.field, compile_value(node.value))
    if isinstance(node, ConditionValueExpression):
        return keyword_test(keyword_fields, compile_value(node.value, keyword=True))
    if node is None:  # every detection item was dropped by the pipeline: never matches
        return lambda flat: False
    raise RuleError(f"unsupported condition element {type(node).__name__}")


def compile_rule(rule: SigmaRule, keyword_fields: tuple[str, ...]) -> Evaluator:
    """Evaluator for a (pipeline-processed) rule: its conditions are ORed, as in Sigma."""
    conditions = rule.detection.parsed_condition
    if not conditions:
        raise RuleError("detection has no condition")
    parts = [compile_node(cond.parse(), keyword_fields) for cond in conditions]
    return parts[0] if len(parts) == 1 else _or(parts)
