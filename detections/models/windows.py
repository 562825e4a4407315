"""Detect stage (anomaly models), part 2: tumbling windows per entity with bounded memory.

Neighbours: fed ECS events by :mod:`.detector` (streaming) or :mod:`.train` (offline); keeps one
:class:`~.features.WindowFeatures` per open (entity field, entity value, stream, window start) and
hands back the windows that closed, which the caller scores in one batch.

Event time, not arrival time, decides. Windows are aligned tumbling windows of ``window_seconds``.
Each stream (``event.dataset``) has its own watermark (the latest event time seen in it): sources
deliver independently (a file replayed after another, a forwarder batching), so one global clock
would declare a whole source late. A window closes when its stream's watermark passes
``window end + lateness_seconds``; an event for a window already closed is dropped and counted in
``late_dropped``. At most ``max_open`` windows are kept: a new one beyond that closes the oldest
early (it is still scored, counted in ``evicted``). :meth:`WindowTracker.flush` closes everything
(end of offline input).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from detections.models.features import (
    DEFAULT_AUTH_ENTITY_FIELDS,
    DEFAULT_ENTITY_FIELDS,
    EventFacts,
    WindowFeatures,
    entities_of,
    stream_of,
)
from soc_core.ecs import get_field, parse_timestamp

DEFAULT_WINDOW_SECONDS = 300.0
DEFAULT_LATENESS_SECONDS = 60.0
DEFAULT_MAX_OPEN = 50_000


@dataclass(frozen=True, slots=True)
class WindowKey:
    entity_field: str
    entity: str
    stream: str
    start: float  # epoch seconds, a multiple of the window length


@dataclass(slots=True)
class ClosedWindow:
    key: WindowKey
    end: float
    features: WindowFeatures
    early: bool = False  # closed by the memory cap before its time


@dataclass
class WindowConfig:
    window_seconds: float = DEFAULT_WINDOW_SECONDS
    lateness_seconds: float = DEFAULT_LATENESS_SECONDS
    max_open: int = DEFAULT_MAX_OPEN
    entity_fields: tuple[str, ...] = DEFAULT_ENTITY_FIELDS
    auth_entity_fields: tuple[str, ...] = DEFAULT_AUTH_ENTITY_FIELDS

    def __post_init__(self) -> None:
        if not self.window_seconds > 0 or not self.lateness_seconds >= 0 or self.max_open < 1:
            raise ValueError("window_seconds must be > 0, lateness_seconds >= 0 and max_open >= 1")


@dataclass
class WindowTracker:
    """Open windows and per-stream watermarks; :meth:`add` returns the windows that closed."""

    config: WindowConfig = field(default_factory=WindowConfig)
    clock: Callable[[], float] = time.time
    late_dropped: int = 0
    evicted: int = 0
    no_entity: int = 0
    events: int = 0
    _open: OrderedDict[WindowKey, WindowFeatures] = field(default_factory=OrderedDict)
    _watermarks: dict[str, float] = field(default_factory=dict)

    @property
    def open_windows(self) -> int:
        return len(self._open)

    def _closes_at(self, key: WindowKey) -> float:
        return key.start + self.config.window_seconds + self.config.lateness_seconds

    def add(self, events: Sequence[dict[str, Any]]) -> list[ClosedWindow]:
        """Account ``events``; the windows closed by them (cap evictions first, then by watermark)."""
        closed: list[ClosedWindow] = []
        size = self.config.window_seconds
        touched: set[str] = set()
        for event in events:
            if not isinstance(event, dict):
                continue  # type: ignore[unreachable]
            self.events += 1
            stream = stream_of(event)
            ts = parse_timestamp(get_field(event, "@timestamp"))
            mark = self._watermarks.get(stream)
            if ts is None:
                ts = mark if mark is not None else self.clock()
            start = math.floor(ts / size) * size
            if mark is not None and start + size + self.config.lateness_seconds <= mark:
                self.late_dropped += 1
                continue
            if mark is None or ts > mark:
                self._watermarks[stream] = ts
                touched.add(stream)
            facts: EventFacts | None = None
            for entity_field, entity in entities_of(event, self.config.entity_fields, self.config.auth_entity_fields):
                facts = facts or EventFacts.of(event, ts)
                key = WindowKey(entity_field, entity, stream, start)
                window = self._open.get(key)
                if window is None:
                    if len(self._open) >= self.config.max_open:
                        old_key, old = self._open.popitem(last=False)
                        self.evicted += 1
                        closed.append(ClosedWindow(old_key, old_key.start + size, old, early=True))
                    window = self._open[key] = WindowFeatures()
                window.add(facts)
            if facts is None:
                self.no_entity += 1
        if touched:
            closed.extend(
                self._close(lambda key: key.stream in touched and self._closes_at(key) <= self._watermarks[key.stream])
            )
        return closed

    def _close(self, due: Callable[[WindowKey], bool]) -> list[ClosedWindow]:
        keys = [key for key in self._open if due(key)]
        size = self.config.window_seconds
        return [ClosedWindow(key, key.start + size, self._open.pop(key)) for key in keys]

    def flush(self) -> list[ClosedWindow]:
        """Close every open window (end of input)."""
        return self._close(lambda key: True)
