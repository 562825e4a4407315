"""Collector-side counting: a :class:`~collectors.publisher.Publisher` that counts what it received.

Lives in the composition root because it joins ``collectors`` (the publisher) and ``pipeline``
(the reconciliation counters), which must not import each other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from collectors.publisher import Publisher
from pipeline.reconcile import CountBuffer, source_key
from soc_core.bus import Producer
from soc_core.metrics import DEAD_LETTERS, RECORDS_IN
from soc_core.models import DeadLetter, RawRecord


class CountedPublisher(Publisher):
    """Counts every record and collector dead letter as *received* (per source and hour) before publishing."""

    def __init__(self, producer: Producer, *, spool_dir: Path, counts: CountBuffer, **kwargs: Any) -> None:
        super().__init__(producer, spool_dir=spool_dir, **kwargs)
        self.counts = counts

    def publish(self, record: RawRecord) -> None:
        super().publish(record)
        key = source_key(record.source)
        self.counts.add("received", key, record.received)
        RECORDS_IN.labels("collect", key).inc()

    def dead_letter(self, letter: DeadLetter) -> None:
        super().dead_letter(letter)
        key = source_key(letter.source)
        self.counts.add("received", key, letter.received)
        DEAD_LETTERS.labels("collect", key, letter.stage).inc()

    def spool(self, item: RawRecord | DeadLetter) -> None:
        super().spool(item)
        key = source_key(item.source)
        self.counts.add("received", key, item.received)
        if isinstance(item, RawRecord):
            RECORDS_IN.labels("collect", key).inc()
        else:
            DEAD_LETTERS.labels("collect", key, item.stage).inc()
