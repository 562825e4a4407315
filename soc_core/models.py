"""The records that travel between stages.

- :class:`RawRecord` — what a collector read, unchanged (bytes + metadata). Topic ``soc.raw``.
- ECS event — a plain nested ``dict`` in Elastic Common Schema layout (see :mod:`soc_core.ecs`);
  ``event.id`` is the raw record id, ``event.original`` the original text. Topic ``soc.events``.
- :class:`Detection` — one rule firing on one event. Topic ``soc.alerts``. Sinks fold detections
  with the same ``dedup_key`` into one :class:`Alert`.
- :class:`Alert` — the analyst-facing, aggregated alert (count, first/last seen, status).
- :class:`DeadLetter` — a record a stage could not handle, with the reason and original bytes.
  Topic ``soc.dlq``.

Wire structs are ``msgspec.Struct`` (fast msgpack/JSON); see :mod:`soc_core.serde`.
"""

from __future__ import annotations

from typing import Any

import msgspec

# Formats a raw record may declare (parser hints). "auto" lets the pipeline sniff.
FORMATS = ("auto", "syslog", "auth", "nginx", "apache", "winjson", "jsonl", "evtx", "pcap")

LEVELS = ("informational", "low", "medium", "high", "critical")

ALERT_STATUSES = ("new", "acknowledged", "in_progress", "closed")
VERDICTS = ("true_positive", "false_positive", "benign")


class RawRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A record exactly as a collector received it.

    ``id`` is stable: assigned once at the collector (deterministic for file sources, so a
    replay after a crash yields the same id) and used as document id in the event store.
    """

    id: str
    received: float  # epoch seconds, UTC, when the collector got it
    collector: str  # collector instance, e.g. "syslog-udp", "file"
    kind: str  # "syslog" | "file" | "winevent" | "pcap"
    source: str  # "udp://10.1.2.3:51514", "tcp://…", or a file path
    data: bytes  # original bytes, never altered
    unit: str | None = None  # unit code when the collector knows it
    format: str = "auto"  # parser hint, one of FORMATS
    host: str | None = None  # sending host; the Kafka partition key
    offset: int | None = None  # byte offset of the record in its file (file sources)


class Detection(msgspec.Struct, gc=False):
    """One rule that fired on one event (or one correlation that completed).

    Positional construction is allowed for the detect stage's inner loop (keywords cost about
    200 ns more per Detection); everywhere else, pass keywords. Detections are not tracked by the
    cyclic garbage collector (``gc=False``: the detect stage makes one or two per event, and each
    tracked object brings the next collection closer): nothing a Detection holds may refer back
    to it.
    """

    rule_id: str
    rule_title: str
    level: str
    event_id: str
    timestamp: str  # the event's @timestamp, ISO 8601
    dedup_key: str
    tags: tuple[str, ...] = ()  # immutable: the Detections of one rule share its tags
    unit: str | None = None
    entity: dict[str, str] = msgspec.field(default_factory=dict)
    event: dict[str, Any] = msgspec.field(default_factory=dict)


class Alert(msgspec.Struct, kw_only=True):
    """Aggregated alert as analysts see it: detections folded by ``dedup_key``."""

    id: str
    dedup_key: str
    rule_id: str
    rule_title: str
    level: str
    first_seen: str
    last_seen: str
    count: int = 1
    status: str = "new"
    verdict: str | None = None
    tags: list[str] = msgspec.field(default_factory=list)
    unit: str | None = None
    entity: dict[str, str] = msgspec.field(default_factory=dict)


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """A record a stage could not handle. Nothing is dropped silently: it ends here."""

    id: str  # the raw record id (or a fresh id when there was none)
    stage: str  # "collector", "parse", "enrich", "detect", "index", ...
    reason: str
    received: float
    source: str
    collector: str
    data: bytes
    error_type: str = ""
