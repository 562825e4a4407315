"""Pipeline stage "index": soc.events -> event store, and soc.dlq -> dead-letter store.

Neighbours: :mod:`pipeline.worker` publishes before it; the SOC API reads the store after it.
Writes are idempotent by ``event.id`` (document id), so redelivery after a crash stores nothing
twice. Undecodable messages on ``soc.events`` become dead letters instead of being skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from soc_core import deadletters, serde
from soc_core.bus import Message
from soc_core.models import DeadLetter
from soc_core.stores import EventStore


class EventIndexer:
    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.indexed = 0

    def handle(self, messages: Sequence[Message]) -> None:
        events: list[dict[str, Any]] = []
        bad: list[DeadLetter] = []
        for m in messages:
            try:
                events.append(serde.decode_event(m.value))
            except ValueError as exc:
                bad.append(deadletters.from_message(m, "index", "undecodable event", exc))
        self.indexed += self.store.write(events)
        if bad:
            self.store.write_dead_letters(bad)


class DeadLetterIndexer:
    def __init__(self, store: EventStore) -> None:
        self.store = store

    def handle(self, messages: Sequence[Message]) -> None:
        letters: list[DeadLetter] = []
        for m in messages:
            try:
                letters.append(serde.decode_dead_letter(m.value))
            except Exception as exc:
                letters.append(deadletters.from_message(m, "dlq", "undecodable dead letter", exc))
        self.store.write_dead_letters(letters)
