"""Detect stage: streaming Sigma correlation rules (spec v2 ``event_count`` and ``value_count``).

Neighbours: :mod:`detections.sigma.engine` feeds every match of a referenced (base) rule to
:meth:`CorrelationState.observe` and turns the events it returns into Detections.

Semantics (bounded memory, event time = ``@timestamp``):
- ``gte``/``gt``: a sliding window per group (deque of timestamps, entries older than the
  timespan evicted). When the condition becomes true the event that completed it is returned
  once and the group's window is reset, so N matches with threshold T fire ``N // T`` times.
- ``lt``/``lte``/``eq``: only decidable when a window is over, so each group keeps a tumbling
  window opened by its first event; when event time passes ``start + timespan`` the window is
  closed and, if the condition holds, its last event is returned.
Groups are capped per rule (oldest evicted) and idle groups are dropped as time advances.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from detections.sigma.compiler import FlatEvent
from detections.sigma.matchers import as_text

MAX_GROUPS = 100_000
MAX_ENTRIES_PER_GROUP = 10_000

_OPS: dict[str, Callable[[int, int], bool]] = {
    "gte": lambda n, t: n >= t,
    "gt": lambda n, t: n > t,
    "lte": lambda n, t: n <= t,
    "lt": lambda n, t: n < t,
    "eq": lambda n, t: n == t,
}
IMMEDIATE_OPS = frozenset({"gte", "gt"})
SUPPORTED_TYPES = frozenset({"event_count", "value_count"})


def parse_timestamp(value: Any) -> float | None:
    """Epoch seconds of an ISO 8601 ``@timestamp`` (or a number), ``None`` when unusable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        return datetime.fromisoformat(value.strip()).timestamp()
    except ValueError:
        return None


@dataclass
class CorrelationSpec:
    """A compiled correlation rule (immutable; state lives in :class:`CorrelationState`)."""

    kind: str  # "event_count" | "value_count"
    timespan: float  # seconds
    op: str  # key of _OPS
    threshold: int
    # per base rule (by its index in the rule set): candidate event paths for each group-by field
    group_paths: dict[int, list[tuple[str, ...]]]
    # per base rule: candidate paths of the counted field (value_count only)
    value_paths: dict[int, tuple[str, ...]] = field(default_factory=dict)


def _first(flat: FlatEvent, paths: tuple[str, ...]) -> str | None:
    for path in paths:
        value = flat.get(path)
        if isinstance(value, list):
            value = value[0] if value else None
        text = as_text(value)
        if text is not None:
            return text
    return None


@dataclass
class _Group:
    times: deque[float] = field(default_factory=deque)
    values: deque[tuple[float, str]] = field(default_factory=deque)
    counter: Counter[str] = field(default_factory=Counter)
    start: float = 0.0
    count: int = 0
    last_event: dict[str, Any] | None = None
    newest: float = 0.0


class CorrelationState:
    """Per-group windows of one correlation rule (one instance per Detector)."""

    def __init__(self, spec: CorrelationSpec) -> None:
        self.spec = spec
        self._cmp = _OPS[spec.op]
        self._immediate = spec.op in IMMEDIATE_OPS
        self._groups: dict[tuple[str, ...], _Group] = {}
        self._last_sweep = float("-inf")

    @property
    def group_count(self) -> int:
        return len(self._groups)

    def _key(self, base: int, flat: FlatEvent) -> tuple[str, ...]:
        return tuple(_first(flat, paths) or "" for paths in self.spec.group_paths.get(base, []))

    def _group(self, key: tuple[str, ...]) -> _Group:
        group = self._groups.get(key)
        if group is None:
            if len(self._groups) >= MAX_GROUPS:
                self._groups.pop(next(iter(self._groups)))
            group = self._groups[key] = _Group()
        return group

    def observe(self, base: int, flat: FlatEvent, event: dict[str, Any], ts: float) -> list[dict[str, Any]]:
        """Feed one match of base rule ``base``; return the events whose detection fires now."""
        value: str | None = None
        if self.spec.kind == "value_count":
            value = _first(flat, self.spec.value_paths.get(base, ()))
            if value is None:
                return []
        group = self._group(self._key(base, flat))
        group.newest = max(group.newest, ts)
        if self._immediate:
            return self._observe_sliding(group, event, ts, value)
        return self._observe_tumbling(group, event, ts, value)

    def _evict(self, group: _Group, ts: float) -> None:
        horizon = ts - self.spec.timespan
        times = group.times
        while times and (times[0] < horizon or len(times) > MAX_ENTRIES_PER_GROUP):
            times.popleft()
        values = group.values
        while values and (values[0][0] < horizon or len(values) > MAX_ENTRIES_PER_GROUP):
            _, old = values.popleft()
            group.counter[old] -= 1
            if group.counter[old] <= 0:
                del group.counter[old]

    def _observe_sliding(
        self, group: _Group, event: dict[str, Any], ts: float, value: str | None
    ) -> list[dict[str, Any]]:
        if value is None:
            group.times.append(ts)
        else:
            group.values.append((ts, value))
            group.counter[value] += 1
        self._evict(group, ts)
        measure = len(group.times) if value is None else len(group.counter)
        if self._cmp(measure, self.spec.threshold):
            group.times.clear()
            group.values.clear()
            group.counter.clear()
            return [event]
        return []

    def _close(self, group: _Group) -> list[dict[str, Any]]:
        measure = group.count if self.spec.kind == "event_count" else len(group.counter)
        fired = group.last_event if group.last_event is not None and self._cmp(measure, self.spec.threshold) else None
        group.count = 0
        group.counter.clear()
        group.last_event = None
        return [fired] if fired is not None else []

    def _observe_tumbling(
        self, group: _Group, event: dict[str, Any], ts: float, value: str | None
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if group.last_event is not None and ts - group.start > self.spec.timespan:
            out = self._close(group)
        if group.last_event is None:
            group.start = ts
        group.count += 1
        if value is not None and len(group.counter) < MAX_ENTRIES_PER_GROUP:
            group.counter[value] += 1
        group.last_event = event
        return out

    def sweep(self, watermark: float) -> list[dict[str, Any]]:
        """Advance event time: close finished tumbling windows, drop idle groups."""
        out: list[dict[str, Any]] = []
        span = self.spec.timespan
        # A full pass costs O(groups): do it only when event time moved on noticeably.
        if watermark - self._last_sweep < min(span / 2, 60.0):
            return out
        self._last_sweep = watermark
        for key in list(self._groups):
            group = self._groups[key]
            if self._immediate:
                if watermark - group.newest > span:
                    del self._groups[key]
            elif watermark - group.start > span:
                if group.last_event is not None:
                    out.extend(self._close(group))
                del self._groups[key]
        return out
