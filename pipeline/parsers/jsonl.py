"""Parser ``"jsonl"``: one JSON object per record that is already (mostly) ECS.

Part of stage ``parse``: records from JSON-lines files or HTTP inputs become ECS events for
``enrich`` (:mod:`pipeline.enrich`). The object is kept as is (dotted top-level keys are nested,
``@timestamp`` is normalised); objects that look like Windows events go to
:mod:`pipeline.parsers.windows` instead.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pipeline.parsers.text import iso, load_object, parse_iso
from pipeline.parsers.windows import is_windows_event, windows_event
from soc_core.errors import ParseError
from soc_core.models import RawRecord

TAG_BAD_TIMESTAMP = "invalid_timestamp"


def _nest(obj: dict[str, Any]) -> dict[str, Any]:
    """``{"source.ip": x}`` -> ``{"source": {"ip": x}}`` (nested keys win on conflicts)."""
    out: dict[str, Any] = {}
    dotted = []
    for key, value in obj.items():
        if "." in key and key != "@timestamp":
            dotted.append((key, value))
        else:
            out[key] = value
    for key, value in dotted:
        parts = key.split(".")
        cur = out
        for part in parts[:-1]:
            nxt = cur.get(part)
            if not isinstance(nxt, dict):
                if nxt is not None:
                    break  # conflicts with a scalar: keep the flat key
                nxt = {}
                cur[part] = nxt
            cur = nxt
        else:
            cur.setdefault(parts[-1], value)
            continue
        out[key] = value
    return out


def _timestamp(value: Any) -> str | None:
    if isinstance(value, str):
        return parse_iso(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value / 1000 if value > 1e11 else value  # epoch milliseconds or seconds
        try:
            return iso(datetime.fromtimestamp(seconds, UTC))
        except (OverflowError, OSError, ValueError):
            return None
    return None


def _aside(event: dict[str, Any], key: str, value: Any) -> None:
    """Keep a non-ECS value under ``json.<key>`` (it also stays in ``event.original``)."""
    holder = event.setdefault("json", {})
    if isinstance(holder, dict):
        holder[key] = value


def parse_jsonl(text: str, record: RawRecord) -> dict[str, Any]:
    """Parser ``"jsonl"``: an ECS JSON object (Windows-looking objects are routed to winjson)."""
    obj = load_object(text, source=record.source)
    if is_windows_event(obj):
        return windows_event(obj, source=record.source)
    if not obj:
        raise ParseError("empty JSON object", source=record.source)
    event = _nest(obj) if any("." in k for k in obj) else obj
    ev = event.get("event")
    if not isinstance(ev, dict):
        if ev is not None:
            _aside(event, "event", ev)
        ev = {}
        event["event"] = ev
    ev.setdefault("kind", "event")
    ev.setdefault("module", "json")
    ev.setdefault("dataset", "json.generic")
    if "@timestamp" in event:
        ts = _timestamp(event["@timestamp"])
        if ts is None:
            tags = event.get("tags")
            event["tags"] = [*tags, TAG_BAD_TIMESTAMP] if isinstance(tags, list) else [TAG_BAD_TIMESTAMP]
            _aside(event, "@timestamp", event.pop("@timestamp"))
        else:
            event["@timestamp"] = ts
    return event
