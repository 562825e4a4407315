"""Detect stage: value matchers, one per Sigma value type (compiled once per rule).

Neighbours: :mod:`detections.sigma.compiler` turns a pySigma condition tree into evaluators and
calls :func:`compile_value` for each ``field = value`` leaf; the returned matcher receives the
raw event value (str, int, float, bool, list, ``MISSING``) and answers whether it matches.

Sigma semantics kept here: strings compare case-insensitively (``cased`` opts out), ``*`` and
``?`` are wildcards, a list in the event matches if any element matches, numbers compare equal
whether the event holds ``4625`` or ``"4625"``, ``re`` searches (unanchored) with i/m/s flags.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaTimestampPart,
    SigmaType,
    SpecialChars,
)

from soc_core.errors import RuleError


class _Missing:
    """Marker for a field absent from the event."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
Matcher = Callable[[Any], bool]

_RE_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: re.IGNORECASE,
    SigmaRegularExpressionFlag.MULTILINE: re.MULTILINE,
    SigmaRegularExpressionFlag.DOTALL: re.DOTALL,
}


def as_text(value: Any) -> str | None:
    """Text form of a scalar event value (``None`` for missing/null/objects)."""
    if isinstance(value, str):
        return value
    if value is None or value is MISSING or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def as_number(value: Any) -> float | None:
    """Numeric form of an event value (int, float or numeric string), else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if not text or len(text) > 64:
            return None
        try:
            return float(int(text, 0)) if text.lower().startswith(("0x", "0o", "0b")) else float(text)
        except ValueError:
            return None
    return None


def _any_of(scalar: Matcher) -> Matcher:
    """Lift a scalar matcher so that a list value matches when any element matches."""

    def match(value: Any) -> bool:
        if isinstance(value, list):
            return any(scalar(v) for v in value)
        return scalar(value)

    return match


def _text_matcher(test: Callable[[str], bool], lower: bool) -> Matcher:
    if lower:

        def scalar(value: Any) -> bool:
            text = as_text(value)
            return text is not None and test(text.lower())
    else:

        def scalar(value: Any) -> bool:
            text = as_text(value)
            return text is not None and test(text)

    return _any_of(scalar)


GLOB_ANY: Final = 1  # ``*`` in StringPattern.tokens
GLOB_ONE: Final = 2  # ``?``


@dataclass(frozen=True)
class StringPattern:
    """One Sigma string value reduced to the cheapest test (no ``re`` for plain literals).

    ``text`` is lower-cased unless ``cased``; the tested value must be lower-cased the same way.
    """

    kind: str  # "eq" | "prefix" | "suffix" | "contains" | "any" | "regex"
    text: str
    cased: bool
    regex: re.Pattern[str] | None = None
    # "regex" (wildcards) only: literal texts (normalised like ``text``) and GLOB_ANY / GLOB_ONE
    tokens: tuple[str | int, ...] = ()


def string_pattern(value: SigmaString, *, substring: bool = False) -> StringPattern:
    """Reduce a Sigma string with wildcards; ``substring`` for keyword (full-text) search."""
    parts = list(value.s)
    if any(isinstance(p, Placeholder) for p in parts):
        raise RuleError(f"unresolved placeholder in value '{value}' (expand modifier needs a pipeline)")
    cased = isinstance(value, SigmaCasedString)
    star = SpecialChars.WILDCARD_MULTI
    if substring:
        if not parts or parts[0] is not star:
            parts.insert(0, star)
        if parts[-1] is not star:
            parts.append(star)

    def norm(s: str) -> str:
        return s if cased else s.lower()

    inner = parts[1:-1] if len(parts) >= 2 else []
    if all(isinstance(p, str) for p in parts):
        return StringPattern("eq", norm("".join(str(p) for p in parts)), cased)
    if all(p is star for p in parts):
        return StringPattern("any", "", cased)
    if len(parts) == 2 and parts[0] is star and isinstance(parts[1], str):
        return StringPattern("suffix", norm(parts[1]), cased)
    if len(parts) == 2 and parts[1] is star and isinstance(parts[0], str):
        return StringPattern("prefix", norm(parts[0]), cased)
    if len(inner) == 1 and isinstance(inner[0], str) and parts[0] is star and parts[-1] is star:
        return StringPattern("contains", norm(inner[0]), cased)
    tokens = tuple(
        GLOB_ANY if p is star else GLOB_ONE if p is SpecialChars.WILDCARD_SINGLE else norm(str(p)) for p in parts
    )
    pattern = "".join(re.escape(t) if isinstance(t, str) else ".*" if t == GLOB_ANY else "." for t in tokens)
    return StringPattern("regex", pattern, cased, re.compile(pattern, re.DOTALL), tokens)


def text_test(patterns: list[StringPattern]) -> Callable[[str], bool]:
    """One test for several patterns ORed (sets and tuples: one call per kind, not per value)."""
    if any(p.kind == "any" for p in patterns):
        return lambda s: True
    eq = frozenset(p.text for p in patterns if p.kind == "eq")
    prefixes = tuple(p.text for p in patterns if p.kind == "prefix")
    suffixes = tuple(p.text for p in patterns if p.kind == "suffix")
    needles = tuple(p.text for p in patterns if p.kind == "contains")
    regexes = tuple(p.regex for p in patterns if p.regex is not None)
    tests: list[Callable[[str], bool]] = []
    if eq:
        tests.append(eq.__contains__)
    if prefixes:
        tests.append(lambda s: s.startswith(prefixes))
    if suffixes:
        tests.append(lambda s: s.endswith(suffixes))
    if len(needles) == 1:
        needle = needles[0]
        tests.append(lambda s: needle in s)
    elif needles:
        # TODO(perf): an Aho-Corasick automaton (pyahocorasick) pays off for long needle lists.
        tests.append(lambda s: any(n in s for n in needles))
    if regexes:
        tests.append(lambda s: any(r.fullmatch(s) is not None for r in regexes))
    if len(tests) == 1:
        return tests[0]
    return lambda s: any(t(s) for t in tests)


def compile_string(value: SigmaString, *, substring: bool = False) -> Matcher:
    """Matcher over raw event values for one Sigma string."""
    pattern = string_pattern(value, substring=substring)
    return _text_matcher(text_test([pattern]), not pattern.cased)


def compile_regex(value: SigmaRegularExpression) -> Matcher:
    flags = 0
    for flag in value.flags:
        flags |= _RE_FLAGS[flag]
    try:
        regex = re.compile(str(value.regexp), flags)
    except re.error as exc:
        raise RuleError(f"invalid regular expression '{value.regexp}': {exc}") from exc
    return _text_matcher(lambda s: regex.search(s) is not None, False)


@lru_cache(maxsize=65536)
def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def compile_cidr(value: SigmaCIDRExpression) -> Matcher:
    network = value.network

    def scalar(v: Any) -> bool:
        if not isinstance(v, str):
            return False
        ip = _parse_ip(v)
        return ip is not None and ip.version == network.version and ip in network

    return _any_of(scalar)


def compile_number(value: SigmaNumber) -> Matcher:
    target = float(value.number)

    def scalar(v: Any) -> bool:
        n = as_number(v)
        return n is not None and n == target

    return _any_of(scalar)


_COMPARE: dict[CompareOperators, Callable[[float, float], bool]] = {
    CompareOperators.LT: lambda a, b: a < b,
    CompareOperators.LTE: lambda a, b: a <= b,
    CompareOperators.GT: lambda a, b: a > b,
    CompareOperators.GTE: lambda a, b: a >= b,
}


def compile_compare(value: SigmaCompareExpression) -> Matcher:
    target = float(value.number.number)
    op = value.op
    if op not in _COMPARE:  # NEQ (pySigma may produce it from pipelines)

        def scalar(v: Any) -> bool:
            n = as_number(v)
            return n is not None and n != target
    else:
        cmp = _COMPARE[op]

        def scalar(v: Any) -> bool:
            n = as_number(v)
            return n is not None and cmp(n, target)

    return _any_of(scalar)


def compile_bool(value: SigmaBool) -> Matcher:
    want = bool(value.boolean)
    text = "true" if want else "false"

    def scalar(v: Any) -> bool:
        if isinstance(v, bool):
            return v is want
        return isinstance(v, str) and v.strip().lower() == text

    return _any_of(scalar)


def _is_null(v: Any) -> bool:
    return v is MISSING or v is None or v == []


def compile_value(value: SigmaType, *, keyword: bool = False) -> Matcher:
    """Matcher for one pySigma value; ``keyword`` makes strings substring (full-text) searches."""
    if isinstance(value, SigmaExpansion):
        subs = [compile_value(v, keyword=keyword) for v in value.values]
        return lambda v: any(m(v) for m in subs)
    if isinstance(value, SigmaString):
        return compile_string(value, substring=keyword)
    if isinstance(value, SigmaRegularExpression):
        return compile_regex(value)
    if isinstance(value, SigmaCIDRExpression):
        return compile_cidr(value)
    if isinstance(value, SigmaCompareExpression):
        return compile_compare(value)
    if isinstance(value, SigmaBool):
        return compile_bool(value)
    if isinstance(value, SigmaTimestampPart):
        raise RuleError("timestamp part modifiers (minute, hour, day, week, month, year) are not supported")
    if isinstance(value, SigmaNumber):
        if keyword:
            return compile_string(SigmaString(str(value.number)), substring=True)
        return compile_number(value)
    if isinstance(value, SigmaNull):
        return _is_null
    if isinstance(value, SigmaExists):
        want = bool(value.exists)
        return lambda v: (not _is_null(v)) is want
    raise RuleError(f"unsupported value type {type(value).__name__} ({value!r})")
