"""Which Sigma log sources an ECS event belongs to, as the engine routes it (rule-health counting).

Neighbours: :mod:`pipeline.rule_stats` counts, per rule, the events of a batch whose log source
the rule's ``logsource`` accepts ("evaluated"); :mod:`detections.rulesets.hunt` and
:mod:`detections.rulesets.describe` take the field-mapping pipeline from the same file. Both come
from the engine's own reading of ``mapping.yml`` (:mod:`detections.sigma.mapping`), so the health
view counts events exactly where the engine sends them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sigma.processing.pipeline import ProcessingPipeline

from detections.sigma.eventview import LazyFlat
from detections.sigma.mapping import DEFAULT_MAPPING, LOGSOURCE_FIELDS, load_mapping, route_text

__all__ = ["DEFAULT_MAPPING", "EventSources", "LogsourceMatcher", "mapping_pipeline"]

EventSources = dict[str, frozenset[str]]
_MAX_CACHE = 4096


class LogsourceMatcher:
    """Derives an event's log source values and tells whether a rule's ``logsource`` accepts them."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or DEFAULT_MAPPING
        self._router = load_mapping(self.path).router
        self.key_fields = self._router.key_fields
        self._cache: dict[tuple[str | None, ...], EventSources] = {}

    def key(self, event: dict[str, Any]) -> tuple[str | None, ...]:
        """The part of an event that decides its log source (events with equal keys route alike)."""
        return self._router.route_key(LazyFlat(event))

    def sources_of(self, key: tuple[str | None, ...]) -> EventSources:
        """``{"product": {...}, "category": {...}, "service": {...}}`` of events with this key."""
        hit = self._cache.get(key)
        if hit is None:
            hit = {name: frozenset(values) for name, values in self._router.describe(key).items()}
            if len(self._cache) >= _MAX_CACHE:
                self._cache.clear()
            self._cache[key] = hit
        return hit

    def sources(self, event: dict[str, Any]) -> EventSources:
        return self.sources_of(self.key(event))

    @staticmethod
    def accepts(logsource: Mapping[str, str], sources: EventSources) -> bool:
        """A rule applies when each log source field it names is among the event's values."""
        for name in LOGSOURCE_FIELDS:
            want = logsource.get(name)
            if want is not None and route_text(want) not in sources.get(name, frozenset()):
                return False
        return True


def mapping_pipeline(path: Path | None = None) -> ProcessingPipeline:
    """A fresh pySigma pipeline mapping SigmaHQ field names to the project's ECS fields."""
    return load_mapping(path).new_pipeline()
