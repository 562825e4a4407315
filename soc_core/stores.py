"""Event-store interface, implemented by the embedded SQLite store and the Elasticsearch adapter."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from soc_core.models import DeadLetter


@dataclass(slots=True)
class EventQuery:
    """Search over stored events. Times are ISO 8601 strings (inclusive start, exclusive end)."""

    start: str | None = None
    end: str | None = None
    terms: dict[str, str] = field(default_factory=dict)  # exact ECS field values, ANDed
    text: str | None = None  # full text over event.original / message
    limit: int = 100
    offset: int = 0


class EventStore(Protocol):
    def write(self, events: Sequence[dict[str, Any]]) -> int:
        """Store events idempotently by ``event.id``; returns how many were new."""
        ...

    def write_dead_letters(self, letters: Sequence[DeadLetter]) -> int:
        """Store dead letters idempotently by (id, stage); returns how many were new."""
        ...

    def get(self, ids: Sequence[str]) -> list[dict[str, Any]]: ...

    def search(self, query: EventQuery) -> list[dict[str, Any]]: ...

    def count(self, query: EventQuery | None = None) -> int: ...

    def count_dead_letters(self) -> int: ...

    def close(self) -> None: ...
