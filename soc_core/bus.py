"""Bus interfaces shared by the embedded bus and the Kafka adapter.

Lifecycle (as in quix-streams sinks): ``send`` buffers, ``flush`` makes everything sent so far
durable (or raises :class:`~soc_core.errors.BusUnavailable`). Consumers ``poll`` a batch, the
caller writes downstream, then ``commit`` — offsets advance only after the downstream write
succeeded (at-least-once; sinks are idempotent by record id).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(slots=True, frozen=True)
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    timestamp: float


class Producer(Protocol):
    def send(self, topic: str, value: bytes, key: bytes | None = None) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class Consumer(Protocol):
    def poll(self, max_records: int = 500, timeout: float = 1.0) -> list[Message]: ...

    def commit(self, messages: Sequence[Message] | None = None) -> None:
        """Commit past the given messages (default: everything returned by ``poll`` so far)."""
        ...

    def seek_to_committed(self) -> None:
        """Drop uncommitted progress so the next ``poll`` re-reads from the committed offsets."""
        ...

    def close(self) -> None: ...


class Bus(Protocol):
    """Factory for producers and consumers of one bus."""

    def producer(self) -> Producer: ...

    def consumer(self, group: str, topics: Sequence[str]) -> Consumer: ...

    def close(self) -> None: ...
