"""Helpers for the collector tests: the project's embedded bus, with a switch to make it unreachable."""

from __future__ import annotations

import time
from pathlib import Path

from soc_core import topics
from soc_core.bus import Message, Producer
from soc_core.embedded.sqlite_bus import SqliteBus
from soc_core.errors import BusUnavailable
from soc_core.models import DeadLetter, RawRecord
from soc_core.serde import decode_dead_letter, decode_raw


class SwitchableProducer:
    """Wraps a real embedded-bus producer; while ``down`` it raises BusUnavailable like a lost broker."""

    def __init__(self, inner: Producer, *, fail_on: str = "both") -> None:
        self.inner = inner
        self.down = False
        self.fail_on = fail_on  # "send", "flush" or "both"
        self.unsent: list[tuple[str, bytes, bytes | None]] = []

    def send(self, topic: str, value: bytes, key: bytes | None = None) -> None:
        if self.down and self.fail_on in ("send", "both"):
            raise BusUnavailable("bus down (test)")
        if self.down:
            self.unsent.append((topic, value, key))  # a broker that is gone never gets these
            return
        self.inner.send(topic, value, key)

    def flush(self) -> None:
        if self.down:
            raise BusUnavailable("bus down (test)")
        self.inner.flush()

    def close(self) -> None:
        self.inner.close()


def read_topic(bus: SqliteBus, topic: str, group: str = "test-reader") -> list[Message]:
    consumer = bus.consumer(group, [topic])
    out: list[Message] = []
    try:
        while True:
            batch = consumer.poll(max_records=10_000, timeout=0.05)
            if not batch:
                return out
            out.extend(batch)
    finally:
        consumer.close()


def raw_records(bus: SqliteBus, group: str = "test-raw") -> list[RawRecord]:
    return [decode_raw(m.value) for m in read_topic(bus, topics.RAW, group)]


def dead_letters(bus: SqliteBus, group: str = "test-dlq") -> list[DeadLetter]:
    return [decode_dead_letter(m.value) for m in read_topic(bus, topics.DLQ, group)]


def wait_for(predicate: object, timeout: float = 10.0) -> bool:
    """Poll ``predicate()`` until true or ``timeout``; returns its last truth value."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


def new_bus(tmp_path: Path) -> SqliteBus:
    return SqliteBus(tmp_path / "bus.sqlite")
