"""The 10 national incident types and the mapping of detections (rule id, ATT&CK technique and
tactic tags) onto them; both read from ``soc_api/data/incident_types.yml``."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from soc_core.errors import ConfigError

TYPES_FILE = Path(__file__).resolve().parent.parent / "data" / "incident_types.yml"
_TECHNIQUE = re.compile(r"^attack\.(t\d{4})(?:\.\d{3})?$")


@dataclass(frozen=True, slots=True)
class IncidentType:
    key: str
    number: int
    vi: str
    en: str


@dataclass(frozen=True, slots=True)
class TypeMap:
    types: tuple[IncidentType, ...]
    default: str
    combined: str
    rules: dict[str, str]
    techniques: dict[str, str]
    tactics: dict[str, str]

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(t.key for t in self.types)

    def get(self, key: str) -> IncidentType | None:
        return next((t for t in self.types if t.key == key), None)

    def for_alert(self, rule_id: str, tags: Iterable[str]) -> str:
        """The type of one alert: rule id, then technique tags, then tactic tags, else default."""
        if rule_id in self.rules:
            return self.rules[rule_id]
        tags = [t.lower() for t in tags]
        for tag in tags:
            m = _TECHNIQUE.match(tag)
            if m and m.group(1) in self.techniques:
                return self.techniques[m.group(1)]
        for tag in tags:
            if tag.startswith("attack.") and tag[7:].replace("-", "_") in self.tactics:
                return self.tactics[tag[7:].replace("-", "_")]
        return self.default

    def for_alerts(self, alerts: Iterable[tuple[str, Iterable[str]]]) -> str:
        """One type for several alerts: their common type, or "combined" when they differ."""
        found = {self.for_alert(rule, tags) for rule, tags in alerts}
        specific = found - {self.default}
        if len(specific) > 1:
            return self.combined
        if specific:
            return next(iter(specific))
        return self.default


def _load(path: Path) -> TypeMap:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        types = tuple(
            IncidentType(key=str(t["key"]), number=int(t["number"]), vi=str(t["vi"]), en=str(t["en"]))
            for t in data["types"]
        )
        tm = TypeMap(
            types=types,
            default=str(data["default"]),
            combined=str(data["combined"]),
            rules={str(k): str(v) for k, v in (data.get("rules") or {}).items()},
            techniques={str(k).lower(): str(v) for k, v in (data.get("techniques") or {}).items()},
            tactics={str(k).lower(): str(v) for k, v in (data.get("tactics") or {}).items()},
        )
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"invalid incident type map: {exc}", source=str(path)) from exc
    unknown = (
        {tm.default, tm.combined} | set(tm.rules.values()) | set(tm.techniques.values()) | set(tm.tactics.values())
    ) - tm.keys
    if unknown:
        raise ConfigError(f"incident type map names unknown types: {', '.join(sorted(unknown))}", source=str(path))
    return tm


@lru_cache(maxsize=4)
def type_map(path: Path = TYPES_FILE) -> TypeMap:
    return _load(path)
