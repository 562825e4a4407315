"""Which Sigma log sources an ECS event belongs to, read from the engine's ``mapping.yml`` as data.

Neighbours: :mod:`pipeline.rule_stats` counts, per rule, the events of a batch whose log source
the rule's ``logsource`` accepts ("evaluated"); :mod:`detections.rulesets.hunt` and
:mod:`detections.rulesets.describe` take the field-mapping pipeline from the same file. Only the
file's documented data format is relied on (``logsources`` entries of ``when``/``then``, and
``pipeline`` as a pySigma ProcessingPipeline), not the engine's internals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sigma.processing.pipeline import ProcessingPipeline

from soc_core.ecs import get_field
from soc_core.errors import ConfigError

DEFAULT_MAPPING = Path(__file__).resolve().parent.parent / "sigma" / "mapping.yml"
LOGSOURCE_FIELDS = ("product", "category", "service")
EventSources = dict[str, frozenset[str]]


def _norm(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).lower()


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


@dataclass(frozen=True)
class _Entry:
    when: tuple[tuple[str, frozenset[str]], ...]
    then: tuple[tuple[str, frozenset[str]], ...]


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read mapping: {exc}", source=str(path)) from exc
    if not isinstance(data, dict):
        raise ConfigError("mapping file must be a YAML mapping", source=str(path))
    return data


class LogsourceMatcher:
    """Derives an event's log source values and tells whether a rule's ``logsource`` accepts them."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or DEFAULT_MAPPING
        data = _read(self.path)
        entries: list[_Entry] = []
        for item in data.get("logsources") or []:
            if isinstance(item, dict) and isinstance(item.get("when"), dict) and isinstance(item.get("then"), dict):
                when = tuple((str(k), frozenset(_norm(v) for v in _as_list(vs))) for k, vs in item["when"].items())
                then = tuple((str(k), frozenset(_norm(v) for v in _as_list(vs))) for k, vs in item["then"].items())
                entries.append(_Entry(when, then))
        self.entries = entries
        self.key_fields = tuple(sorted({f for e in entries for f, _ in e.when}))
        self._cache: dict[tuple[str | None, ...], EventSources] = {}

    def key(self, event: dict[str, Any]) -> tuple[str | None, ...]:
        """The part of an event that decides its log source (events with equal keys route alike)."""
        parts: list[str | None] = []
        for name in self.key_fields:
            value = get_field(event, name)
            if isinstance(value, list):
                value = value[0] if value else None
            parts.append(None if value is None or isinstance(value, dict) else _norm(value))
        return tuple(parts)

    def sources_of(self, key: tuple[str | None, ...]) -> EventSources:
        """``{"product": {...}, "category": {...}, "service": {...}}`` of events with this key."""
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        values = dict(zip(self.key_fields, key, strict=True))
        got: dict[str, set[str]] = {n: set() for n in LOGSOURCE_FIELDS}
        for entry in self.entries:
            if all(values.get(f) in allowed for f, allowed in entry.when):
                for name, vals in entry.then:
                    got.setdefault(name, set()).update(vals)
        result = {n: frozenset(v) for n, v in got.items()}
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[key] = result
        return result

    def sources(self, event: dict[str, Any]) -> EventSources:
        return self.sources_of(self.key(event))

    @staticmethod
    def accepts(logsource: Mapping[str, str], sources: EventSources) -> bool:
        """A rule applies when each log source field it names is among the event's values."""
        for name in LOGSOURCE_FIELDS:
            want = logsource.get(name)
            if want is not None and _norm(want) not in sources.get(name, frozenset()):
                return False
        return True


def mapping_pipeline(path: Path | None = None) -> ProcessingPipeline:
    """A fresh pySigma pipeline mapping SigmaHQ field names to the project's ECS fields."""
    path = path or DEFAULT_MAPPING
    data = _read(path)
    pipeline_def = data.get("pipeline") or {"name": "empty", "priority": 20, "transformations": []}
    try:
        return ProcessingPipeline.from_dict(pipeline_def)
    except Exception as exc:  # pySigma raises many types for a bad pipeline
        raise ConfigError(f"invalid pySigma pipeline: {exc}", source=str(path)) from exc
