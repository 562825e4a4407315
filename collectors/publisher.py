"""Publisher of raw records and dead letters (stage "collect": sources -> bus topic ``soc.raw``).

Neighbours: the syslog and file collectors call it; the pipeline worker consumes ``soc.raw``
(and the DLQ sink ``soc.dlq``) on the other side of the bus.

It never drops. When the producer raises :class:`~soc_core.errors.BusError` (``BusUnavailable``
included) on ``send`` or ``flush``, every message sent since the last successful flush, and
every newer one, goes to an on-disk :class:`~collectors.spool.Spool` (length-prefixed msgpack
frames, fsync on :meth:`Publisher.flush`). Once the bus accepts again the spool is replayed in
order before any newer message is sent. Messages re-sent this way may reach the bus twice
(at-least-once); record ids make every sink idempotent.

A message the bus refuses for good (a plain ``BusError``, not ``BusUnavailable``: too large for
the broker, topic not writable) must not block the spool forever. Refused at ``send`` it becomes
a dead letter at once; refused at delivery (``flush``), where the batch does not say which
message was at fault, the spool is replayed one message per flush until the refused one is found
and dead-lettered with the broker's reason and its bytes (capped at ``REJECTED_KEEP_BYTES``).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import msgspec

from collectors.spool import CorruptFrame, Spool, SpoolFrame
from soc_core import topics
from soc_core.bus import Producer
from soc_core.errors import BusError, BusUnavailable
from soc_core.ids import new_id
from soc_core.models import DeadLetter, RawRecord
from soc_core.serde import decode_raw, encode_dead_letter, encode_raw

log = logging.getLogger(__name__)

REPLAY_FLUSH_EVERY = 1000
REJECTED_KEEP_BYTES = 256 * 1024  # bytes of a refused message kept in its dead letter


class Publisher:
    """Publishes raw records and dead letters to the bus; never drops (see module docstring).

    ``stats``: ``published`` (records handed to :meth:`publish`), ``dead_lettered`` (letters
    handed to :meth:`dead_letter`), ``spooled`` (messages written to the spool), ``replayed``
    (spooled messages since flushed to the bus).

    ``retry_interval`` is the least time between two attempts to replay the spool while the
    bus is down; ``max_pending`` the most messages sent between two producer flushes.
    Thread-safe: the syslog server publishes from one thread and spools from another.
    """

    def __init__(
        self,
        producer: Producer,
        *,
        spool_dir: Path,
        raw_topic: str = topics.RAW,
        dlq_topic: str = topics.DLQ,
        retry_interval: float = 1.0,
        max_pending: int = 10_000,
    ) -> None:
        self._producer = producer
        self._spool = Spool(spool_dir)
        self.raw_topic = raw_topic
        self.dlq_topic = dlq_topic
        self.retry_interval = retry_interval
        self.max_pending = max_pending
        self.stats: dict[str, int] = {"published": 0, "dead_lettered": 0, "spooled": 0, "replayed": 0, "rejected": 0}
        self._pending: list[SpoolFrame] = []  # sent since the last successful producer flush
        self._lock = threading.RLock()
        self._stats_lock = threading.Lock()
        self._last_failure: float | None = None
        self._isolate = False  # replay one message per flush to find one the bus refuses for good
        self._closed = False

    # -- public API ----------------------------------------------------------------------
    def publish(self, record: RawRecord) -> None:
        key = (record.host or record.source).encode("utf-8", "surrogateescape")
        self._emit(SpoolFrame(self.raw_topic, key, encode_raw(record)))
        self._count("published")

    def dead_letter(self, letter: DeadLetter) -> None:
        key = letter.source.encode("utf-8", "surrogateescape")
        self._emit(SpoolFrame(self.dlq_topic, key, encode_dead_letter(letter)))
        self._count("dead_lettered")

    def spool(self, item: RawRecord | DeadLetter) -> None:
        """Write straight to the disk spool without touching the bus (never blocks on the bus).

        Used by the UDP receiver when its queue is full: the record is replayed to the bus
        before newer ones on the next publish or flush once the bus accepts.
        """
        if isinstance(item, RawRecord):
            key = (item.host or item.source).encode("utf-8", "surrogateescape")
            frame = SpoolFrame(self.raw_topic, key, encode_raw(item))
            self._count("published")
        else:
            frame = SpoolFrame(self.dlq_topic, item.source.encode("utf-8", "surrogateescape"), encode_dead_letter(item))
            self._count("dead_lettered")
        self._spool.append([frame])
        self._count("spooled")

    def flush(self) -> None:
        """When this returns every message so far is durable on the bus or in the spool."""
        with self._lock:
            if self._spool.has_data():
                self._replay()
            self._flush_producer()
            self._spool.sync()

    def replay(self) -> bool:
        """Try to replay the spool now, ignoring ``retry_interval``; True when the spool is empty."""
        with self._lock:
            self._last_failure = None
            return self._replay()

    @property
    def spooling(self) -> bool:
        """True while messages wait in the spool for the bus."""
        return self._spool.has_data()

    def close(self) -> None:
        """Flush, close the spool and the producer."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self.flush()
            finally:
                self._spool.close()
                try:
                    self._producer.close()
                except BusError as exc:
                    # Everything the producer held is already in the spool or on the bus.
                    log.warning("closing the bus producer failed: %s", exc)

    # -- internals -----------------------------------------------------------------------
    def _count(self, name: str, n: int = 1) -> None:
        with self._stats_lock:
            self.stats[name] += n

    def _emit(self, frame: SpoolFrame) -> None:
        with self._lock:
            if self._spool.has_data() and not self._replay():
                self._spool.append([frame])
                self._count("spooled")
                return
            try:
                self._producer.send(frame.topic, frame.value, frame.key)
            except BusUnavailable as exc:
                self._to_spool(exc, extra=frame)
                return
            except BusError as exc:
                try:
                    frame = self._rejected_letter(frame, exc)
                    self._producer.send(frame.topic, frame.value, frame.key)
                except BusError as exc2:
                    self._to_spool(exc2, extra=frame)
                    return
            self._pending.append(frame)
            if len(self._pending) >= self.max_pending:
                self._flush_producer()

    def _flush_producer(self) -> bool:
        if not self._pending:
            return True
        try:
            self._producer.flush()
        except BusError as exc:
            self._to_spool(exc)
            return False
        self._pending.clear()
        return True

    def _to_spool(self, exc: BusError, extra: SpoolFrame | None = None) -> None:
        frames = [*self._pending, *([extra] if extra is not None else [])]
        self._pending.clear()
        if not isinstance(exc, BusUnavailable):
            self._isolate = True  # a delivery was refused for good: find it on replay
        if self._last_failure is None or not self._spool.has_data():
            log.warning("bus unavailable (%s): spooling to %s", exc, self._spool.directory)
        self._last_failure = time.monotonic()
        self._spool.append(frames)
        self._count("spooled", len(frames))

    def _replay(self) -> bool:
        """Send the spool to the bus, oldest first. True when it is empty afterwards."""
        if self._last_failure is not None and time.monotonic() - self._last_failure < self.retry_interval:
            return False
        # Messages sent before the spool got data (UDP overflow) are older: make them durable first.
        if not self._flush_producer():
            return False
        while True:
            segments = self._spool.seal()
            if not segments:
                self._last_failure = None
                return True
            for segment in segments:
                if not self._replay_segment(segment):
                    return False

    def _replay_segment(self, segment: Path) -> bool:
        sent = 0
        try:
            for read in self._spool.read(segment):
                frame = self._corrupt_frame_letter(read) if isinstance(read, CorruptFrame) else read
                if self._isolate:
                    self._send_alone(frame)
                else:
                    self._producer.send(frame.topic, frame.value, frame.key)
                sent += 1
                if sent % REPLAY_FLUSH_EVERY == 0:
                    self._producer.flush()
            self._producer.flush()
        except BusUnavailable as exc:
            log.info("replay of %s stopped, bus still unavailable: %s", segment.name, exc)
            self._last_failure = time.monotonic()
            return False
        except BusError as exc:
            if self._isolate:  # even alone, as a capped dead letter, it is refused: keep it on disk
                log.error("replay of %s refused even message by message (%s); retrying later", segment.name, exc)
                self._last_failure = time.monotonic()
                return False
            # Refused for good somewhere in the batch: replay the segment again one message per
            # flush (messages of this batch already delivered arrive twice; sinks are idempotent).
            log.warning("replay of %s refused (%s); replaying it message by message", segment.name, exc)
            self._isolate = True
            return self._replay_segment(segment)
        self._spool.remove(segment)
        self._isolate = False
        self._count("replayed", sent)
        log.info("replayed %d spooled messages from %s", sent, segment.name)
        return True

    def _send_alone(self, frame: SpoolFrame) -> None:
        """Send and flush one message; one the bus refuses for good goes on as a dead letter."""
        try:
            self._producer.send(frame.topic, frame.value, frame.key)
            self._producer.flush()
        except BusUnavailable:
            raise
        except BusError as exc:
            letter = self._rejected_letter(frame, exc)
            self._producer.send(letter.topic, letter.value, letter.key)
            self._producer.flush()

    def _rejected_letter(self, frame: SpoolFrame, exc: BusError) -> SpoolFrame:
        """The dead letter standing for a message the bus refused for good (raises if it is one)."""
        if frame.topic == self.dlq_topic and frame.key == b"bus-rejected":
            raise exc  # the bus refuses even the capped dead letter: nothing smaller to send
        self._count("rejected")
        log.warning("bus refused a message for %s for good: %s; dead-lettering it", frame.topic, exc)
        # A refused raw record keeps its id, time, source and bytes, so counts still reconcile.
        try:
            record = decode_raw(frame.value) if frame.topic == self.raw_topic else None
        except msgspec.DecodeError:  # an undecodable frame is kept as opaque bytes
            record = None
        letter = DeadLetter(
            id=record.id if record else new_id(),
            stage="collector",
            reason=f"bus refused the message for {frame.topic} ({len(frame.value)} bytes): {exc.message}"[:1000],
            received=record.received if record else time.time(),
            source=record.source if record else frame.topic,
            collector=record.collector if record else "publisher",
            data=(record.data if record else frame.value)[:REJECTED_KEEP_BYTES],
            error_type="BusRejected",
        )
        return SpoolFrame(self.dlq_topic, b"bus-rejected", encode_dead_letter(letter))

    def _corrupt_frame_letter(self, frame: CorruptFrame) -> SpoolFrame:
        letter = DeadLetter(
            id=new_id(),
            stage="collector",
            reason=f"corrupt spool frame at byte {frame.position} of {frame.segment.name}",
            received=time.time(),
            source=str(frame.segment),
            collector="spool",
            data=frame.payload,
            error_type="CorruptSpoolFrame",
        )
        return SpoolFrame(self.dlq_topic, str(frame.segment).encode(), encode_dead_letter(letter))
