"""Detect stage: Sigma value semantics that need more than a string test.

Neighbours: :mod:`detections.sigma.engine` calls :func:`resolve_placeholders` on each parsed
rule before the field-mapping pipeline; :mod:`detections.sigma.compiler` calls
:func:`compile_timestamp_part` and :func:`compile_fieldref` for the leaves they cover.

- ``expand`` placeholders (``%name%``) take their values from configuration (a mapping
  ``name -> [values]``, see :func:`load_placeholders`). A value with several placeholders expands
  to every combination; the expansions of one value are ORed (also under ``|all``). A rule
  using a placeholder that is not configured raises :class:`PlaceholderMissing` (the rule set
  lists it with that reason; it is never evaluated half-resolved).
- Time modifiers (``minute``, ``hour``, ``day``, ``week``, ``month``, ``year``) read the field
  as a timestamp (ISO 8601 text or epoch seconds), in UTC, and compare the part as a number;
  ``week`` is the ISO week number.
- ``fieldref`` compares the text of two fields of the same event, case-insensitively like
  every Sigma string (``|fieldref|startswith``/``endswith``/``contains`` test the referenced
  value as prefix/suffix/substring). A missing or null field never matches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule
from sigma.types import (
    Placeholder,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaRegularExpression,
    SigmaString,
    SigmaTimestampPart,
    SigmaType,
    TimestampPart,
)

from detections.sigma.matchers import MISSING, as_text
from soc_core.errors import ConfigError, RuleError

Placeholders = Mapping[str, list[str]]
MAX_PLACEHOLDER_VALUES = 10_000


class PlaceholderMissing(RuleError):
    """A rule uses ``expand`` placeholders that the configuration does not define."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        quoted = ", ".join(f"%{n}%" for n in names)
        super().__init__(
            f"placeholder {quoted} not configured (sigma_placeholders): rule not evaluated until values are given"
        )


def load_placeholders(path: Path) -> dict[str, list[str]]:
    """Read a YAML file ``placeholder name -> list of values`` (a single value is a list of one)."""
    source = str(path)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read placeholders: {exc}", source=source) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"invalid YAML: {exc}", source=source, line=mark.line + 1 if mark else None) from exc
    return validate_placeholders(data or {}, source)


def validate_placeholders(data: Any, source: str = "placeholders") -> dict[str, list[str]]:
    """Check and normalise a placeholder mapping (names without ``%``, values as strings)."""
    if not isinstance(data, dict):
        raise ConfigError("placeholders must be a mapping of name -> list of values", source=source)
    out: dict[str, list[str]] = {}
    for name, values in data.items():
        if not isinstance(name, str) or not name.strip("%"):
            raise ConfigError(f"placeholder name must be a non-empty string, got {name!r}", source=source)
        items = values if isinstance(values, list) else [values]
        if len(items) > MAX_PLACEHOLDER_VALUES:
            raise ConfigError(f"placeholder '{name}': more than {MAX_PLACEHOLDER_VALUES} values", source=source)
        if not all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in items):
            raise ConfigError(f"placeholder '{name}': values must be strings or numbers", source=source)
        out[name.strip("%")] = [str(v) for v in items]
    return out


def _items(detection: SigmaDetection) -> Iterator[SigmaDetectionItem]:
    for item in detection.detection_items:
        if isinstance(item, SigmaDetection):
            yield from _items(item)
        else:
            yield item


def placeholder_names(rule: SigmaRule) -> list[str]:
    """Names of the ``expand`` placeholders a rule uses (in order of appearance)."""
    names: dict[str, None] = {}
    for detection in rule.detection.detections.values():
        for item in _items(detection):
            for value in item.value:
                parts = value.regexp.s if isinstance(value, SigmaRegularExpression) else getattr(value, "s", ())
                for part in parts if isinstance(parts, tuple | list) else ():
                    if isinstance(part, Placeholder):
                        names.setdefault(part.name)
    return list(names)


def resolve_placeholders(rule: SigmaRule, placeholders: Placeholders | None) -> None:
    """Replace ``%name%`` placeholders of a parsed rule with their configured values (in place)."""
    names = placeholder_names(rule)
    if not names:
        return
    table = placeholders or {}
    missing = [n for n in names if n not in table]
    if missing:
        raise PlaceholderMissing(missing)

    def replacements(p: Placeholder) -> Iterator[SigmaString]:
        for text in table[p.name]:
            yield SigmaString(text)

    for detection in rule.detection.detections.values():
        for item in _items(detection):
            new_values: list[SigmaType] = []
            for value in item.value:
                if isinstance(value, SigmaString) and value.contains_placeholder():
                    expanded: list[SigmaType] = list(value.replace_placeholders(replacements))
                    if not expanded:
                        raise RuleError(f"placeholder values of '{value}' are empty: the value can never match")
                    new_values.append(expanded[0] if len(expanded) == 1 else SigmaExpansion(expanded))
                elif isinstance(value, SigmaRegularExpression) and value.regexp.contains_placeholder():
                    raise RuleError("expand placeholders inside a regular expression are not supported")
                else:
                    new_values.append(value)
            item.value = new_values


# --------------------------------------------------------------------------- time modifiers


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float):
            seconds = value / 1000.0 if abs(value) > 1e11 else float(value)  # epoch millis or seconds
            return datetime.fromtimestamp(seconds, tz=UTC)
        if isinstance(value, str) and len(value) <= 64:
            text = value.strip()
            if text.endswith("Z"):
                text = text[:-1] + "+00:00"
            parsed = datetime.fromisoformat(text)
            return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


_PARTS: dict[TimestampPart, Callable[[datetime], int]] = {
    TimestampPart.MINUTE: lambda d: d.minute,
    TimestampPart.HOUR: lambda d: d.hour,
    TimestampPart.DAY: lambda d: d.day,
    TimestampPart.WEEK: lambda d: d.isocalendar().week,
    TimestampPart.MONTH: lambda d: d.month,
    TimestampPart.YEAR: lambda d: d.year,
}


def compile_timestamp_part(value: SigmaTimestampPart) -> Callable[[Any], bool]:
    """Matcher: the field, read as a UTC timestamp, has this minute/hour/day/week/month/year."""
    part = _PARTS[value.timestamp_part]
    want = int(value.number)

    def scalar(v: Any) -> bool:
        when = _as_datetime(v)
        return when is not None and part(when) == want

    def match(v: Any) -> bool:
        if isinstance(v, list):
            return any(scalar(x) for x in v)
        return scalar(v)

    return match


# --------------------------------------------------------------------------- field references


def compile_fieldref(path: str, ref: SigmaFieldReference) -> Callable[[Mapping[str, Any]], bool]:
    """Evaluator over a flat event: field ``path`` compared with field ``ref.field``."""
    other = ref.field
    if ref.starts_with and ref.ends_with:
        test: Callable[[str, str], bool] = lambda a, b: b in a  # noqa: E731
    elif ref.starts_with:
        test = lambda a, b: a.startswith(b)  # noqa: E731
    elif ref.ends_with:
        test = lambda a, b: a.endswith(b)  # noqa: E731
    else:
        test = lambda a, b: a == b  # noqa: E731

    def texts(v: Any) -> list[str]:
        items = v if isinstance(v, list) else [v]
        return [t.lower() for t in (as_text(x) for x in items if x is not MISSING) if t is not None]

    def evaluate(flat: Mapping[str, Any]) -> bool:
        right = texts(flat.get(other))
        if not right:
            return False
        return any(test(a, b) for a in texts(flat.get(path)) for b in right)

    return evaluate
