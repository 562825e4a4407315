"""Factories for dead letters, so every stage words and fills them the same way."""

from __future__ import annotations

import time

from soc_core.bus import Message
from soc_core.models import DeadLetter, RawRecord


def from_record(record: RawRecord, stage: str, exc: BaseException) -> DeadLetter:
    """A raw record a stage could not handle: keeps the record's id, source and original bytes."""
    return DeadLetter(
        id=record.id,
        stage=stage,
        reason=str(exc) or type(exc).__name__,
        received=record.received,
        source=record.source,
        collector=record.collector,
        data=record.data,
        error_type=type(exc).__name__,
    )


def from_message(message: Message, stage: str, reason: str, exc: BaseException) -> DeadLetter:
    """A bus message that could not even be decoded: identified by topic and offset."""
    where = f"{message.topic}@{message.partition}:{message.offset}"
    return DeadLetter(
        id=where,
        stage=stage,
        reason=f"{reason}: {exc}",
        received=time.time(),
        source=where,
        collector="bus",
        data=message.value,
        error_type=type(exc).__name__,
    )
