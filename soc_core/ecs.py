"""Helpers for ECS events held as nested dicts (the one event representation of every stage)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

Event = dict[str, Any]


def get_field(event: Mapping[str, Any], path: str) -> Any:
    """Value at a dotted ECS path (``"source.ip"``), or ``None``. Also accepts flat dotted keys."""
    if path in event:
        return event[path]
    cur: Any = event
    for part in path.split("."):
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(part)
        if cur is None:
            return None
    return cur


def get_path(event: dict[str, Any], parts: tuple[str, ...] | list[str]) -> Any:
    """Value at an already split nested path (hot loops split once), or ``None``.

    Events are plain dicts: the ``dict`` check is several times cheaper than a ``Mapping`` one.
    """
    cur: Any = event
    for part in parts:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def set_field(event: dict[str, Any], path: str, value: Any) -> None:
    """Set a dotted ECS path, creating intermediate objects."""
    parts = path.split(".")
    cur = event
    for part in parts[:-1]:
        nxt = cur.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            cur[part] = nxt
        cur = nxt
    cur[parts[-1]] = value


def iter_flat(event: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Yield ``(dotted_path, leaf_value)`` pairs; lists are leaves."""
    for key, value in event.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from iter_flat(value, path + ".")
        else:
            yield path, value


def flatten(event: Mapping[str, Any]) -> dict[str, Any]:
    """Flat ``{dotted_path: value}`` view of an event."""
    return dict(iter_flat(event))


def parse_timestamp(value: Any) -> float | None:
    """Epoch seconds of an ISO 8601 ``@timestamp`` (or a number), ``None`` when unusable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        return datetime.fromisoformat(value.strip()).timestamp()
    except ValueError:
        return None
