"""Matching of suppressions against a detection: rule, entity subset and flattened event fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def flatten(event: Mapping[str, Any], prefix: str = "", out: dict[str, Any] | None = None) -> dict[str, Any]:
    """Dotted-key view of a nested ECS event (``{"source": {"ip": x}}`` -> ``{"source.ip": x}``)."""
    out = {} if out is None else out
    for key, value in event.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flatten(value, name + ".", out)
        else:
            out[name] = value
    return out


def _equal(actual: Any, wanted: str) -> bool:
    if isinstance(actual, list):
        return any(_equal(item, wanted) for item in actual)
    if actual is None or isinstance(actual, dict):
        return False
    if isinstance(actual, bool):
        return str(actual).lower() == wanted.lower()
    return str(actual) == wanted


def matches(
    entity_wanted: Mapping[str, str],
    fields_wanted: Mapping[str, str],
    entity: Mapping[str, str],
    flat_event: Mapping[str, Any],
) -> bool:
    """All wanted entity values equal the detection's entity, and all wanted fields its event."""
    for key, value in entity_wanted.items():
        if entity.get(key) != value:
            return False
    return all(_equal(flat_event.get(key), value) for key, value in fields_wanted.items())
