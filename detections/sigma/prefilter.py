"""Detect stage: the literal prefilter that narrows each event's rules before exact evaluation.

Neighbours: :class:`detections.sigma.engine.RuleSet` calls :func:`requirement` once per compiled
rule; :class:`detections.sigma.engine.Detector` builds one :class:`Plan` per set of log-source
buckets an event can reach and asks it for the event's candidate rules; the rules' own evaluators
(:mod:`detections.sigma.compiler`) then verify the candidates exactly.

How a rule gets its prefilter ("anchor"): a necessary condition derived from its condition tree.
A plain string test needs one literal (the longest run between wildcards) to occur in the
lower-cased field value; ``AND`` keeps the rarest conjunct's anchors, ``OR`` needs an anchor in
every branch (their union), ``NOT`` and value types without a literal (regex, cidr, compare, null,
field references) give none. A rule without anchors is an "always candidate" of its buckets.
Numeric equality (``EventID: 4688``) is an exact-value anchor over the field.

How an event is scanned: the event is serialised once with orjson (``event.original`` left out
unless some rule of the plan searches it) and the bytes are scanned case-insensitively for every
literal of the plan at once (Hyperscan when installed, pyahocorasick otherwise, behind
:class:`Scanner`). Literals are printable ASCII written as JSON writes them (``\\`` -> ``\\\\``),
so a value containing a literal always puts it in the bytes: the scan can over-select (the
literal in another field), never miss. The same scan reports whether any key might contain a dot;
such events are flattened in full and meet every rule of their buckets (see :mod:`.eventview`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol

import ahocorasick
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.rule import SigmaRule
from sigma.types import SigmaExpansion, SigmaNumber, SigmaString, SigmaTimestampPart

from detections.sigma.matchers import as_number

_hyperscan: ModuleType | None
try:  # the wheel bundles libhs; without it the pure pyahocorasick scanner is used
    import hyperscan as _hyperscan
except ImportError:  # pragma: no cover - depends on the platform's wheels
    _hyperscan = None

__all__ = [
    "COMMON_SUBSTRINGS",
    "DOTTED_KEY_PATTERN",
    "Need",
    "Plan",
    "Scanner",
    "build_plan",
    "make_scanner",
    "requirement",
    "scanner_backend",
]

ORIGINAL_PATH = "event.original"
# Bytes of the two characters whose str.lower() yields ASCII (U+0130 and U+212A, Kelvin sign):
# events holding them are lower-cased as text before the scan so that no literal is missed.
SPECIAL_LOWER = (b"\xc4\xb0", b"\xe2\x84\xaa")
# In JSON text: a string containing a dot that is followed by ``:`` (a key with a dot in it).
DOTTED_KEY_PATTERN = rb'\.(?:[^"\\]|\\.)*":'
_FLOAT_CHARS = frozenset("0123456789.e+-")
_FLOAT_WORDS = ("-inf", "nan")
_MAX_DEPTH = 200
# Substrings that occur in most Windows events: a poor choice of anchor whatever their length
# (as text; the JSON scan uses their JSON-escaped form, the compiled evaluator the text itself).
COMMON_SUBSTRINGS = (
    ".exe",
    ".dll",
    "c:\\",
    "\\windows\\",
    "\\system32\\",
    "c:\\windows\\",
    "\\program files",
    "\\users\\",
    "\\appdata\\",
    "microsoft",
    "windows",
    "system32",
    "svchost",
    "powershell",
    "cmd.exe",
    "rundll32",
    "explorer.exe",
    "http",
    "system",
    "process",
    "user",
    "high",
    "time",
    "create",
    "start",
    "product",
    "collect",
    "dword",
    "corporation",
    "program",
    "temp",
)
NUMBER_COST = 0.05


@dataclass(frozen=True)
class Need:
    """A necessary condition for a rule to match: any literal or any (field, number) present."""

    literals: frozenset[bytes]
    numbers: frozenset[tuple[str, float]]
    cost: float  # estimated probability that a random event meets it (lower is better)
    original: bool  # a literal may have to be found in event.original

    def __or__(self, other: Need) -> Need:
        return Need(
            self.literals | other.literals,
            self.numbers | other.numbers,
            min(1.0, self.cost + other.cost),
            self.original or other.original,
        )


def _literal_cost(lit: bytes) -> float:
    cost = min(1.0, 2.0 / (len(lit) ** 2))
    if any(c in lit for c in _COMMON_BYTES):
        cost = min(1.0, cost * 20.0)
    return cost


def _anchorable(run: str) -> bool:
    if not run:
        return False
    if all(c in _FLOAT_CHARS for c in run):  # could be (part of) a float's text: JSON writes floats differently
        return False
    return not any(run in word for word in _FLOAT_WORDS)


def _encode(run: str) -> bytes:
    return run.replace("\\", "\\\\").replace('"', '\\"').encode("utf-8")


_COMMON_BYTES = tuple(_encode(c) for c in COMMON_SUBSTRINGS)

_CASED_LIMIT = 0x20000  # no character at or above this code point has a case mapping


@functools.cache
def _fold_targets() -> frozenset[str]:
    """Characters that ``str.lower()`` produces from some other character."""
    out: set[str] = set()
    for code in range(_CASED_LIMIT):
        char = chr(code)
        low = char.lower()
        if low != char:
            out.update(low)
    return frozenset(out)


def _stable(char: str) -> bool:
    """Whether a lower-cased literal character is found as is in the scanned bytes.

    Printable ASCII is (the scan is ASCII-case-insensitive); a non-ASCII character is when no
    other character lower-cases to it (emoji, symbols, caseless scripts).
    """
    if " " <= char <= "~":
        return True
    if char < "\x80" or "\ud800" <= char <= "\udfff":
        return False
    return char.lower() == char and char not in _fold_targets()


def _stable_runs(text: str) -> list[str]:
    runs: list[str] = []
    start = 0
    for i, char in enumerate(text):
        if not _stable(char):
            runs.append(text[start:i])
            start = i + 1
    runs.append(text[start:])
    return runs


def string_literal(value: SigmaString) -> bytes | None:
    """The best literal every match of ``value`` contains (lower-case, JSON-escaped), if any."""
    runs: list[str] = []
    current: list[str] = []
    for part in value.s:
        if isinstance(part, str):
            current.append(part)
        else:  # a wildcard or placeholder splits the text
            runs.append("".join(current))
            current = []
    runs.append("".join(current))
    best: bytes | None = None
    for text in runs:
        for run in _stable_runs(text.lower()):
            if not _anchorable(run):
                continue
            enc = _encode(run)
            if (
                best is None
                or _literal_cost(enc) < _literal_cost(best)
                or (_literal_cost(enc) == _literal_cost(best) and len(enc) > len(best))
            ):
                best = enc
    return best


def _leaf_values(value: Any) -> list[Any]:
    return list(value.values) if isinstance(value, SigmaExpansion) else [value]


def _field_need(path: str, value: Any, keyword: bool, keyword_fields: Sequence[str]) -> Need | None:
    literals: set[bytes] = set()
    numbers: set[tuple[str, float]] = set()
    cost = 0.0
    for item in _leaf_values(value):
        if isinstance(item, SigmaString):
            lit = string_literal(item)
            if lit is None:
                return None
            literals.add(lit)
            cost += _literal_cost(lit)
        elif isinstance(item, SigmaNumber) and not isinstance(item, SigmaTimestampPart) and not keyword:
            numbers.add((path, float(item.number)))
            cost += NUMBER_COST
        else:
            return None
    if not literals and not numbers:
        return None
    fields = keyword_fields if keyword else (path,)
    original = bool(literals) and any(f == ORIGINAL_PATH or f.startswith(ORIGINAL_PATH + ".") for f in fields)
    return Need(frozenset(literals), frozenset(numbers), min(1.0, cost), original)


def _need(node: Any, keyword_fields: Sequence[str], depth: int) -> Need | None:
    if depth > _MAX_DEPTH:
        return None
    if isinstance(node, ConditionAND):
        parts = [n for n in (_need(a, keyword_fields, depth + 1) for a in node.args) if n is not None]
        return min(parts, key=lambda n: n.cost) if parts else None
    if isinstance(node, ConditionOR):
        out: Need | None = None
        for arg in node.args:
            part = _need(arg, keyword_fields, depth + 1)
            if part is None:
                return None
            out = part if out is None else out | part
        return out
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return _field_need(node.field, node.value, False, keyword_fields)
    if isinstance(node, ConditionValueExpression):
        return _field_need("", node.value, True, keyword_fields)
    return None  # NOT, unknown elements, dropped detections: no anchor


def requirement(rule: SigmaRule, keyword_fields: Sequence[str]) -> Need | None:
    """Prefilter of a pipeline-processed rule (its conditions are ORed); ``None``: always a candidate."""
    out: Need | None = None
    for condition in rule.detection.parsed_condition:
        need = _need(condition.parse(), keyword_fields, 0)
        if need is None:
            return None
        out = need if out is None else out | need
    return out


class Scanner(Protocol):
    """Finds which literals occur (case-insensitively) in an event's JSON bytes.

    Ids are positions in the ``literals`` the scanner was made with. A literal counts wherever
    it occurs (any field, even a key): a scanner may report more than the rules need, never less.
    """

    def scan(self, data: bytes) -> tuple[list[int], bool]:
        """(ids found, whether a key may contain a dot)."""
        ...


def _hex(data: bytes) -> bytes:
    return b"".join(b"\\x%02x" % b for b in data)


class _HyperscanScanner:
    def __init__(self, literals: Sequence[bytes]) -> None:
        hyperscan = _hyperscan
        assert hyperscan is not None
        exprs = [_hex(lit) for lit in literals]
        self._dotted = len(exprs)
        exprs.append(DOTTED_KEY_PATTERN)
        single = hyperscan.HS_FLAG_SINGLEMATCH
        flags = [single | hyperscan.HS_FLAG_CASELESS] * (len(exprs) - 1) + [single]
        self._db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self._db.compile(expressions=exprs, ids=list(range(len(exprs))), flags=flags)
        self._scratch = hyperscan.Scratch(self._db)
        self._scan = self._db.scan

    def scan(self, data: bytes) -> tuple[list[int], bool]:
        found: list[int] = []
        self._scan(data, match_event_handler=_collect, context=found, scratch=self._scratch)
        if self._dotted in found:
            found.remove(self._dotted)
            return found, True
        return found, False


def _collect(ident: int, start: int, end: int, flags: int, found: list[int]) -> None:
    found.append(ident)


class _AhoScanner:
    """Pure-pyahocorasick fallback (no Hyperscan): lower-cases the bytes, then one automaton pass."""

    def __init__(self, literals: Sequence[bytes]) -> None:
        self._automaton: Any = ahocorasick.Automaton()
        for ident, lit in enumerate(literals):
            self._automaton.add_word(lit.decode("latin-1"), ident)
        self._empty = not literals
        if not self._empty:
            self._automaton.make_automaton()
        self._dotted = re.compile(DOTTED_KEY_PATTERN)

    def scan(self, data: bytes) -> tuple[list[int], bool]:
        found: list[int] = []
        if not self._empty:
            found = list({ident for _, ident in self._automaton.iter(data.lower().decode("latin-1"))})
        return found, self._dotted.search(data) is not None


def scanner_backend() -> str:
    """ "hyperscan" when the ``hyperscan`` wheel imports, else "pyahocorasick"."""
    return "pyahocorasick" if _hyperscan is None else "hyperscan"


def make_scanner(literals: Sequence[bytes], backend: str | None = None) -> Scanner:
    """A scanner for ``literals`` (see :class:`Scanner`) with the given or best backend."""
    backend = backend or scanner_backend()
    if backend == "hyperscan":
        if _hyperscan is None:
            raise ValueError("prefilter backend 'hyperscan' is not installed")
        return _HyperscanScanner(literals)
    if backend == "pyahocorasick":
        return _AhoScanner(literals)
    raise ValueError(f"unknown prefilter backend {backend!r}")


@dataclass
class Plan:
    """Candidate selection for the rules of one set of log-source buckets."""

    rules: tuple[int, ...]  # every rule of the buckets, sorted
    literals: tuple[bytes, ...]  # literal id -> the literal (JSON-escaped, lower-case)
    always: tuple[int, ...]  # rules without an anchor, sorted
    literal_rules: list[tuple[int, ...]]  # literal id -> rules anchored on it
    numbers: list[tuple[str, dict[float, tuple[int, ...]]]]  # field -> number -> rules
    scanner: Scanner
    original: bool  # serialise event.original for the scan

    def candidates(self, found: Iterable[int], get: Callable[[str], Any]) -> tuple[int, ...]:
        """Sorted candidate rules given the literal ids found and a field getter."""
        picked: set[int] | None = None
        for ident in found:
            if picked is None:
                picked = set(self.always)
            picked.update(self.literal_rules[ident])
        for path, index in self.numbers:
            value = get(path)
            for item in value if isinstance(value, list) else (value,):
                number = as_number(item)
                if number is None:
                    continue
                hit = index.get(number)
                if hit:
                    if picked is None:
                        picked = set(self.always)
                    picked.update(hit)
        return self.always if picked is None else tuple(sorted(picked))


def build_plan(rules: Sequence[int], needs: Sequence[Need | None], backend: str | None = None) -> Plan:
    """Index the anchors of ``rules`` (``needs[i]`` is rule ``i``'s prefilter)."""
    ordered = tuple(sorted(set(rules)))
    always: list[int] = []
    lit_ids: dict[bytes, int] = {}
    lit_rules: list[list[int]] = []
    numbers: dict[str, dict[float, list[int]]] = {}
    original = False
    for index in ordered:
        need = needs[index]
        if need is None:
            always.append(index)
            continue
        original = original or need.original
        for lit in sorted(need.literals):
            ident = lit_ids.setdefault(lit, len(lit_ids))
            if ident == len(lit_rules):
                lit_rules.append([])
            lit_rules[ident].append(index)
        for path, number in need.numbers:
            numbers.setdefault(path, {}).setdefault(number, []).append(index)
    return Plan(
        rules=ordered,
        literals=tuple(lit_ids),
        always=tuple(always),
        literal_rules=[tuple(r) for r in lit_rules],
        numbers=[(p, {n: tuple(r) for n, r in idx.items()}) for p, idx in sorted(numbers.items())],
        scanner=make_scanner(list(lit_ids), backend),
        original=original,
    )
