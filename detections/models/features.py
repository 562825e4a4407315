"""Detect stage (anomaly models), part 1: per-entity window features from ECS events.

Neighbours: upstream the pipeline's ``enrich`` stage hands ECS events (nested dicts); downstream
:mod:`.windows` keeps one :class:`WindowFeatures` per open (entity, stream, window) and
:mod:`.detector` / :mod:`.train` turn closed windows into rows of :data:`FEATURES`.

The feature list is data (:data:`FEATURES`, version :data:`FEATURES_VERSION`): a model file records
the version and the names it was trained on, and loading refuses a model expecting other features.
Change the list only together with a new version.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from soc_core.ecs import get_field

FEATURES_VERSION = "1"

# (name, log-compressed before the model sees it). Counts and sums are log1p'd: an IsolationForest
# splits uniformly between a feature's min and max, so a raw heavy tail would waste every split.
FEATURES: tuple[tuple[str, bool], ...] = (
    ("events", True),
    ("auth_events", True),
    ("auth_failures", True),
    ("auth_failure_ratio", False),
    ("distinct_destination_ports", True),
    ("distinct_destinations", True),
    ("distinct_url_paths", True),
    ("http_requests", True),
    ("http_4xx", True),
    ("http_4xx_ratio", False),
    ("distinct_4xx_paths", True),
    ("http_5xx_ratio", False),
    ("http_post_ratio", False),
    ("distinct_url_queries", True),
    ("url_length_max", True),
    ("bytes_sum", True),
    ("distinct_user_names", True),
    ("distinct_source_ips", True),
    ("distinct_actions", True),
    ("night_share", False),
)
FEATURE_NAMES: tuple[str, ...] = tuple(name for name, _ in FEATURES)
LOG_FEATURES: frozenset[str] = frozenset(name for name, log in FEATURES if log)

ICT = timezone(timedelta(hours=7), "Asia/Ho_Chi_Minh")  # Vietnam: UTC+7, no daylight saving
NIGHT_HOURS = frozenset((22, 23, 0, 1, 2, 3, 4, 5))  # local time
_BYTE_FIELDS = ("http.response.body.bytes", "source.bytes", "destination.bytes")
DISTINCT_CAP = 4096  # per set and window: a distinct count saturates there (bounded memory)

# Entities: every event counts for its source.ip; authentication events also for their user.name.
DEFAULT_ENTITY_FIELDS: tuple[str, ...] = ("source.ip",)
DEFAULT_AUTH_ENTITY_FIELDS: tuple[str, ...] = ("user.name",)


def _scalar(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None or isinstance(value, dict | list) or value in ("", "-"):
        return None
    return str(value)


def is_auth(event: dict[str, Any]) -> bool:
    category = get_field(event, "event.category")
    return category == "authentication" or (isinstance(category, list) and "authentication" in category)


def entities_of(
    event: dict[str, Any],
    entity_fields: Sequence[str] = DEFAULT_ENTITY_FIELDS,
    auth_entity_fields: Sequence[str] = DEFAULT_AUTH_ENTITY_FIELDS,
) -> Iterator[tuple[str, str]]:
    """The ``(field, value)`` entities an event counts for."""
    for name in entity_fields:
        value = _scalar(get_field(event, name))
        if value is not None:
            yield name, value
    if auth_entity_fields and is_auth(event):
        for name in auth_entity_fields:
            value = _scalar(get_field(event, name))
            if value is not None:
                yield name, value


def stream_of(event: dict[str, Any]) -> str:
    """The data stream an event belongs to (its own event-time clock): ``event.dataset`` or module."""
    return _scalar(get_field(event, "event.dataset")) or _scalar(get_field(event, "event.module")) or "-"


def _add(bag: set[str], item: str | None) -> None:
    if item is not None and len(bag) < DISTINCT_CAP:
        bag.add(item)


def _number(value: Any) -> float:
    if isinstance(value, bool):
        return 0.0
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else 0.0
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return 0.0
        return number if math.isfinite(number) else 0.0
    return 0.0


@dataclass(slots=True)
class EventFacts:
    """What the features need from one event, read once however many windows the event counts in."""

    event: dict[str, Any]
    ts: float
    auth: bool
    failed: bool
    status: int | None
    post: bool
    bytes: float
    port: str | None
    destination: str | None
    path: str | None
    query: str | None
    url_length: int
    user: str | None
    source: str | None
    action: str | None
    night: bool

    @classmethod
    def of(cls, event: dict[str, Any], ts: float) -> EventFacts:
        status = get_field(event, "http.response.status_code")
        method = get_field(event, "http.request.method")
        url = get_field(event, "url.original")
        auth = is_auth(event)
        return cls(
            event=event,
            ts=ts,
            auth=auth,
            failed=auth and get_field(event, "event.outcome") == "failure",
            status=None if status is None else int(_number(status)),
            post=isinstance(method, str) and method.upper() == "POST",
            bytes=sum(max(0.0, _number(get_field(event, name))) for name in _BYTE_FIELDS),
            port=_scalar(get_field(event, "destination.port")),
            destination=_scalar(
                get_field(event, "destination.ip") or get_field(event, "url.domain") or get_field(event, "host.name")
            ),
            path=_scalar(get_field(event, "url.path")),
            query=_scalar(get_field(event, "url.query")),
            url_length=len(url) if isinstance(url, str) else 0,
            user=_scalar(get_field(event, "user.name")),
            source=_scalar(get_field(event, "source.ip")),
            action=_scalar(get_field(event, "event.action") or get_field(event, "event.code")),
            night=datetime.fromtimestamp(ts, UTC).astimezone(ICT).hour in NIGHT_HOURS,
        )


@dataclass
class WindowFeatures:
    """Running counters of one entity's events in one window; :meth:`row` gives the feature values."""

    events: int = 0
    auth_events: int = 0
    auth_failures: int = 0
    http_requests: int = 0
    http_4xx: int = 0
    http_5xx: int = 0
    http_post: int = 0
    url_length_max: int = 0
    bytes_sum: float = 0.0
    night: int = 0
    ports: set[str] = field(default_factory=set)
    destinations: set[str] = field(default_factory=set)
    paths: set[str] = field(default_factory=set)
    paths_4xx: set[str] = field(default_factory=set)
    queries: set[str] = field(default_factory=set)
    users: set[str] = field(default_factory=set)
    sources: set[str] = field(default_factory=set)
    actions: set[str] = field(default_factory=set)
    last_event: dict[str, Any] | None = None
    last_time: float = 0.0

    def add(self, facts: EventFacts) -> None:
        self.events += 1
        if facts.auth:
            self.auth_events += 1
            if facts.failed:
                self.auth_failures += 1
        if facts.status is not None:
            self.http_requests += 1
            if 400 <= facts.status < 500:
                self.http_4xx += 1
                _add(self.paths_4xx, facts.path)
            elif 500 <= facts.status < 600:
                self.http_5xx += 1
            if facts.post:
                self.http_post += 1
        self.bytes_sum += facts.bytes
        _add(self.ports, facts.port)
        _add(self.destinations, facts.destination)
        _add(self.paths, facts.path)
        _add(self.queries, facts.query)
        self.url_length_max = max(self.url_length_max, facts.url_length)
        _add(self.users, facts.user)
        _add(self.sources, facts.source)
        _add(self.actions, facts.action)
        if facts.night:
            self.night += 1
        if self.last_event is None or facts.ts >= self.last_time:
            self.last_event, self.last_time = facts.event, facts.ts

    def row(self) -> dict[str, float]:
        """Feature values by name, in :data:`FEATURE_NAMES` order (raw, before log compression)."""
        n = self.events or 1
        http = self.http_requests or 1
        return {
            "events": float(self.events),
            "auth_events": float(self.auth_events),
            "auth_failures": float(self.auth_failures),
            "auth_failure_ratio": self.auth_failures / self.auth_events if self.auth_events else 0.0,
            "distinct_destination_ports": float(len(self.ports)),
            "distinct_destinations": float(len(self.destinations)),
            "distinct_url_paths": float(len(self.paths)),
            "http_requests": float(self.http_requests),
            "http_4xx": float(self.http_4xx),
            "http_4xx_ratio": self.http_4xx / http if self.http_requests else 0.0,
            "distinct_4xx_paths": float(len(self.paths_4xx)),
            "http_5xx_ratio": self.http_5xx / http if self.http_requests else 0.0,
            "http_post_ratio": self.http_post / http if self.http_requests else 0.0,
            "distinct_url_queries": float(len(self.queries)),
            "url_length_max": float(self.url_length_max),
            "bytes_sum": self.bytes_sum,
            "distinct_user_names": float(len(self.users)),
            "distinct_source_ips": float(len(self.sources)),
            "distinct_actions": float(len(self.actions)),
            "night_share": self.night / n,
        }


def model_input(row: dict[str, float], names: Sequence[str] = FEATURE_NAMES) -> list[float]:
    """The vector the model sees: features in ``names`` order, counts and sums log1p-compressed."""
    return [math.log1p(row[name]) if name in LOG_FEATURES else row[name] for name in names]
