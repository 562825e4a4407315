"""Reconciliation counters of every stage, published on ``soc.counts`` and folded by the API role.

Stage: cross-cutting. Neighbours: the collector counts *received* (records and collector dead
letters), the worker *parsed*, *dead_lettered* and *published*, the indexers *indexed* and
*dead_letters_stored*; the API role's fold (:class:`CountsFold`) writes them to the ``soc_counts``
table (:mod:`soc_core.counts`) and ``GET /api/v1/ops/reconciliation`` reads it.

Counts are keyed by source (:func:`source_key` of the record's ``source``; the sending port of a
network source is dropped) and by the UTC hour of the collector's receive time, so every stage
counts a record in the same cell. Worker and indexer counts are added only after their downstream
write succeeded (counted-after-flush), so a retried batch is not counted twice. A worker killed
after its flush but before its offset commit re-counts that batch on redelivery (at-least-once):
the store itself never holds a duplicate.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec

from pipeline.worker import EventProcessor, ProcessedBatch
from soc_core import counts
from soc_core.bus import Message, Producer
from soc_core.ecs import get_field
from soc_core.errors import BusError
from soc_core.metrics import DEAD_LETTERS, RECORDS_IN, RECORDS_OUT
from soc_core.models import DeadLetter, RawRecord
from soc_core.stores import EventQuery, EventStore

__all__ = [
    "COUNTS_TOPIC",
    "CountBuffer",
    "CountedProcessor",
    "CountingProducer",
    "CountingStore",
    "CountsEmitter",
    "CountsFold",
    "hour_of",
    "source_key",
]

log = logging.getLogger(__name__)

COUNTS_TOPIC = "soc.counts"
SOURCE_FIELD = "soc.source"  # the reconciliation key, stored on every event


def source_key(source: str) -> str:
    """``udp://10.0.0.1:51514`` -> ``udp://10.0.0.1``; file paths and other sources unchanged."""
    scheme, sep, rest = source.partition("://")
    if sep and scheme in ("udp", "tcp", "tls"):
        host, colon, port = rest.rpartition(":")
        if colon and port.isdigit():
            return f"{scheme}://{host}"
    return source


def hour_of(epoch: float) -> int:
    return int(epoch // 3600) * 3600


def _epoch_of(value: Any) -> float:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            pass
    return time.time()


class CountBuffer:
    """Thread-safe counts per (hour, source, stage) waiting to be published."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cells: dict[tuple[int, str, str], int] = {}

    def add(self, stage: str, source: str, received: float, n: int = 1) -> None:
        key = (hour_of(received), source_key(source), stage)
        with self._lock:
            self._cells[key] = self._cells.get(key, 0) + n

    def merge(self, other: CountBuffer) -> None:
        cells = other.drain()
        with self._lock:
            for key, n in cells.items():
                self._cells[key] = self._cells.get(key, 0) + n

    def drain(self) -> dict[tuple[int, str, str], int]:
        with self._lock:
            cells, self._cells = self._cells, {}
        return cells

    def restore(self, cells: dict[tuple[int, str, str], int]) -> None:
        with self._lock:
            for key, n in cells.items():
                self._cells[key] = self._cells.get(key, 0) + n


class CountsEmitter:
    """Publishes the buffer on ``soc.counts`` every ``interval`` seconds and on stop (a role component).

    When the bus is down the counts stay in memory and go out with the next successful flush.
    """

    def __init__(
        self, producer: Producer, buffer: CountBuffer, *, topic: str, role: str, interval: float = 1.0
    ) -> None:
        self.producer = producer
        self.buffer = buffer
        self.topic = topic
        self.emitter = f"{role}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.interval = interval
        self._seq = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def emit(self) -> bool:
        """Publish what is buffered now; False (and kept) when the bus refused it."""
        cells = self.buffer.drain()
        if not cells:
            return True
        self._seq += 1
        rows = [counts.CountRow(hour, source, stage, n) for (hour, source, stage), n in sorted(cells.items())]
        batch = counts.CountBatch(self.emitter, self._seq, rows)
        try:
            self.producer.send(self.topic, counts.encode(batch), self.emitter.encode())
            self.producer.flush()
        except BusError as exc:
            log.info("counts not published yet (%s); kept for the next attempt", exc)
            self.buffer.restore(cells)
            return False
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.emit()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="counts", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
        self.emit()
        self.producer.close()


class CountingProducer:
    """Wraps the worker's producer: counts staged during a batch are kept only once ``flush`` succeeded."""

    def __init__(self, inner: Producer, pending: CountBuffer, committed: CountBuffer) -> None:
        self.inner = inner
        self.pending = pending
        self.committed = committed

    def send(self, topic: str, value: bytes, key: bytes | None = None) -> None:
        self.inner.send(topic, value, key)

    def flush(self) -> None:
        try:
            self.inner.flush()
        except BaseException:
            self.pending.drain()  # the batch will be retried and counted again then
            raise
        self.committed.merge(self.pending)

    def close(self) -> None:
        self.inner.close()


class CountedProcessor(EventProcessor):
    """The worker's processor plus counts and metrics per source; tags every event with ``soc.source``."""

    def __init__(self, *args: Any, pending: CountBuffer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pending = pending

    def process(self, records: Sequence[RawRecord]) -> ProcessedBatch:
        batch = super().process(records)
        by_id = {r.id: r for r in records}
        for raw in records:
            RECORDS_IN.labels("worker", source_key(raw.source)).inc()
        for event in batch.events:
            record = by_id.get(str(get_field(event, "event.id")))
            if record is None:
                continue
            key = source_key(record.source)
            soc = event.get("soc")
            if not isinstance(soc, dict):
                soc = {}
                event["soc"] = soc
            soc["source"] = key
            self.pending.add("parsed", key, record.received)
            self.pending.add("published", key, record.received)
            RECORDS_OUT.labels("worker", key).inc()
        for letter in batch.dead_letters:
            key = source_key(letter.source)
            self.pending.add("dead_lettered", key, letter.received)
            DEAD_LETTERS.labels("worker", key, letter.stage).inc()
        return batch


class CountingStore:
    """Wraps the indexers' event store: counts *indexed* and *dead_letters_stored* after each write."""

    def __init__(self, inner: EventStore, buffer: CountBuffer) -> None:
        self.inner = inner
        self.buffer = buffer

    def write(self, events: Sequence[dict[str, Any]]) -> int:
        new = self.inner.write(events)
        for event in events:
            source = get_field(event, SOURCE_FIELD)
            key = str(source) if source else "unknown"
            self.buffer.add("indexed", key, _epoch_of(get_field(event, "event.ingested")))
            RECORDS_OUT.labels("indexer", key).inc()
        return new

    def write_dead_letters(self, letters: Sequence[DeadLetter]) -> int:
        new = self.inner.write_dead_letters(letters)
        for letter in letters:
            key = source_key(letter.source)
            self.buffer.add("dead_letters_stored", key, letter.received)
            DEAD_LETTERS.labels("indexer", key, letter.stage).inc()
        return new

    def get(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        return self.inner.get(ids)

    def search(self, query: EventQuery) -> list[dict[str, Any]]:
        return self.inner.search(query)

    def count(self, query: EventQuery | None = None) -> int:
        return self.inner.count(query)

    def count_dead_letters(self) -> int:
        return self.inner.count_dead_letters()

    def close(self) -> None:
        self.inner.close()


class CountsFold:
    """Stage "counts fold" of the API role: ``soc.counts`` -> the ``soc_counts`` table (idempotent)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        counts.ensure_table(engine)

    def handle(self, messages: Sequence[Message]) -> None:
        batches: list[counts.CountBatch] = []
        for m in messages:
            try:
                batches.append(counts.decode(m.value))
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                log.warning("skipping a malformed counts message at %s@%d: %s", m.topic, m.offset, exc)
        counts.fold(self.engine, batches)
