"""Detect stage: field mapping and log-source routing, read from ``mapping.yml``.

Neighbours: :mod:`detections.sigma.loader` parses rules and applies :attr:`SigmaMapping.pipeline`
(a pySigma ProcessingPipeline) to them; :mod:`detections.sigma.engine` asks
:class:`LogsourceRouter` which Sigma log sources an ECS event belongs to.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sigma.processing.pipeline import ProcessingPipeline

from soc_core.errors import ConfigError

DEFAULT_MAPPING = Path(__file__).with_name("mapping.yml")
LOGSOURCE_FIELDS = ("product", "category", "service")
# A rule's log-source bucket: (product, category, service), ``None`` = wildcard.
Bucket = tuple[str | None, str | None, str | None]
_MAX_ROUTE_CACHE = 4096


def route_text(value: Any) -> str:
    """Comparable form of a routing value: ints and strings with the same text are equal."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).lower()


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


@dataclass(frozen=True)
class _RouteEntry:
    when: dict[str, frozenset[str]]
    then: dict[str, frozenset[str]]


@dataclass
class LogsourceRouter:
    """Derives the Sigma log source (product/category/service values) of an ECS event."""

    entries: list[_RouteEntry]
    key_fields: tuple[str, ...] = field(init=False)
    _cache: dict[tuple[str | None, ...], frozenset[Bucket]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.key_fields = tuple(sorted({f for e in self.entries for f in e.when}))

    def route_key(self, flat: Mapping[str, Any]) -> tuple[str | None, ...]:
        """The part of the event that decides its log source (a cache key)."""
        out: list[str | None] = []
        for name in self.key_fields:
            value = flat.get(name)
            if isinstance(value, list):
                value = value[0] if value else None
            out.append(None if value is None or isinstance(value, dict) else route_text(value))
        return tuple(out)

    def describe(self, key: tuple[str | None, ...]) -> dict[str, set[str]]:
        """Product/category/service values an event with this route key gets."""
        values = dict(zip(self.key_fields, key, strict=True))
        got: dict[str, set[str]] = {name: set() for name in LOGSOURCE_FIELDS}
        for entry in self.entries:
            if all(values.get(f) in allowed for f, allowed in entry.when.items()):
                for name, vals in entry.then.items():
                    got[name].update(vals)
        return got

    def buckets(self, flat: Mapping[str, Any]) -> frozenset[Bucket]:
        """Every rule bucket whose rules apply to this event (wildcards included)."""
        return self.buckets_of_key(self.route_key(flat))

    def buckets_of_key(self, key: tuple[str | None, ...]) -> frozenset[Bucket]:
        """:meth:`buckets` of an event with this :meth:`route_key`."""
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        got = self.describe(key)
        options = [[None, *sorted(got[name])] for name in LOGSOURCE_FIELDS]
        result: frozenset[Bucket] = frozenset((p, c, s) for p, c, s in itertools.product(*options))
        if len(self._cache) >= _MAX_ROUTE_CACHE:
            self._cache.clear()
        self._cache[key] = result
        return result

    def reachable(self) -> frozenset[Bucket]:
        """Every bucket some event can reach: a rule outside it can never fire."""
        known: list[list[str | None]] = []
        for name in self.key_fields:
            vals: set[str | None] = {None}
            for entry in self.entries:
                vals.update(entry.when.get(name, ()))
            known.append(sorted(vals, key=lambda v: (v is None, v or "")))
        out: set[Bucket] = set()
        for key in itertools.product(*known):
            got = self.describe(tuple(key))
            options = [[None, *sorted(got[name])] for name in LOGSOURCE_FIELDS]
            out.update((p, c, s) for p, c, s in itertools.product(*options))
        return frozenset(out)


@dataclass
class SigmaMapping:
    """Everything ``mapping.yml`` holds."""

    path: Path
    pipeline_def: dict[str, Any]
    router: LogsourceRouter
    keyword_fields: tuple[str, ...]

    def new_pipeline(self) -> ProcessingPipeline:
        """A fresh pySigma pipeline (pipelines keep per-apply state; do not share across threads)."""
        return ProcessingPipeline.from_dict(_deep_copy(self.pipeline_def))


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def _parse_entries(raw: Any, source: str) -> list[_RouteEntry]:
    if not isinstance(raw, list):
        raise ConfigError("'logsources' must be a list", source=source)
    entries = []
    for i, item in enumerate(raw):
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("when"), dict)
            or not isinstance(item.get("then"), dict)
        ):
            raise ConfigError(f"logsources[{i}] needs 'when' and 'then' mappings", source=source)
        bad = set(item["then"]) - set(LOGSOURCE_FIELDS)
        if bad:
            raise ConfigError(f"logsources[{i}].then: unknown keys {sorted(bad)}", source=source)
        when = {str(k): frozenset(route_text(v) for v in _as_list(vals)) for k, vals in item["when"].items()}
        then = {str(k): frozenset(str(v).lower() for v in _as_list(vals)) for k, vals in item["then"].items()}
        entries.append(_RouteEntry(when=when, then=then))
    return entries


def load_mapping(path: Path | None = None) -> SigmaMapping:
    """Read and validate a mapping file (default: the bundled ``mapping.yml``)."""
    path = path or DEFAULT_MAPPING
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.load(text, Loader=yaml.CSafeLoader)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read mapping: {exc}", source=source) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"invalid YAML: {exc}", source=source, line=mark.line + 1 if mark else None) from exc
    if not isinstance(data, dict):
        raise ConfigError("mapping file must be a YAML mapping", source=source)
    pipeline_def = data.get("pipeline") or {"name": "empty", "priority": 20, "transformations": []}
    if not isinstance(pipeline_def, dict):
        raise ConfigError("'pipeline' must be a mapping", source=source)
    try:
        ProcessingPipeline.from_dict(_deep_copy(pipeline_def))
    except Exception as exc:  # pySigma raises many types for a bad pipeline
        raise ConfigError(f"invalid pySigma pipeline: {exc}", source=source) from exc
    kw = data.get("keyword_fields", ["message", "event.original"])
    if not isinstance(kw, list) or not all(isinstance(k, str) for k in kw):
        raise ConfigError("'keyword_fields' must be a list of field names", source=source)
    return SigmaMapping(
        path=path,
        pipeline_def=pipeline_def,
        router=LogsourceRouter(_parse_entries(data.get("logsources", []), source)),
        keyword_fields=tuple(kw),
    )


def rule_bucket(logsource: Mapping[str, Any]) -> Bucket:
    """The bucket of a rule from its ``logsource`` (product, category, service)."""

    def get(name: str) -> str | None:
        value = logsource.get(name)
        return None if value is None else str(value).lower()

    return (get("product"), get("category"), get("service"))


def iter_bucket_names(bucket: Bucket) -> Iterable[str]:
    for name, value in zip(LOGSOURCE_FIELDS, bucket, strict=True):
        if value is not None:
            yield f"{name}={value}"
