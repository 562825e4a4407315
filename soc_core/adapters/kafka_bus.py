"""Kafka adapter of the bus (distributed mode): :class:`KafkaBus` implements :class:`soc_core.bus.Bus`.

Neighbours: collectors publish raw records through :meth:`KafkaBus.producer`; pipeline workers
read them in a consumer group through :meth:`KafkaBus.consumer` and commit offsets only after
their downstream write succeeded (at-least-once; every sink is idempotent by record id).

Failure contract (same as the embedded bus):

- ``send`` buffers. If the broker cannot be reached, ``send`` does not block for long: the first
  failure is remembered and later sends are not attempted, and the next ``flush`` raises
  :class:`~soc_core.errors.BusUnavailable`. After that error nothing sent since the previous
  successful ``flush`` is guaranteed: the caller spools and re-sends it (duplicates are fine).
- ``flush`` is bounded by ``timeout_s`` (default 10 s).
- ``commit`` commits past the messages ``poll`` returned (or the given ones), only for partitions
  still assigned to this consumer; a lost assignment means those messages will be redelivered. A
  commit the cluster refuses (coordinator away, rebalance) is logged, not raised: the downstream
  write already succeeded, so the cost is redelivery to idempotent sinks.
- ``poll`` returns nothing (after its timeout) while the cluster is unreachable, so stage loops
  survive a Kafka outage and resume when it returns.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewPartitions, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError
from kafka.structs import OffsetAndMetadata, TopicPartition

from soc_core.bus import Message
from soc_core.errors import BusError, BusUnavailable
from soc_core.metrics import CONSUMER_LAG

__all__ = ["KafkaBus", "KafkaConsumerAdapter", "KafkaProducerAdapter"]

_TOPIC_EXISTS = TopicAlreadyExistsError.errno
# Largest message produced and accepted by the topics we create: collector dead letters keep up to
# 16 MiB of the original bytes (collectors.common.DEAD_LETTER_CAP) plus their envelope. A message the
# broker refuses as too large would block the collector's spool, so the limit is set on both sides.
MAX_MESSAGE_BYTES = 20 * 1024 * 1024

log = logging.getLogger(__name__)


def _is_unavailable(exc: BaseException) -> bool:
    """Errors that mean "the cluster cannot be reached now" (retry later) rather than a bad record."""
    return isinstance(exc, KafkaError) and bool(getattr(exc, "retriable", False))


def _bus_error(action: str, bootstrap: str, exc: BaseException) -> BusError:
    message = f"{action} failed: {type(exc).__name__}: {exc}"
    if _is_unavailable(exc):
        return BusUnavailable(message, source=f"kafka://{bootstrap}")
    return BusError(message, source=f"kafka://{bootstrap}")


class KafkaProducerAdapter:
    """A :class:`soc_core.bus.Producer` on :class:`kafka.KafkaProducer` (acks=all, idempotent)."""

    def __init__(self, bootstrap: str, config: dict[str, Any], *, topic_prefix: str, timeout_s: float) -> None:
        self._bootstrap = bootstrap
        self._config = config
        self._prefix = topic_prefix
        self._timeout_s = timeout_s
        self._producer: Any = None  # created on first use, so a dead broker surfaces at flush
        self._pending: list[Any] = []
        self._failure: BaseException | None = None
        self._closed = False

    def _client(self) -> Any:
        if self._producer is None:
            self._producer = KafkaProducer(bootstrap_servers=self._bootstrap, **self._config)
        return self._producer

    def send(self, topic: str, value: bytes, key: bytes | None = None) -> None:
        if self._closed:
            raise BusError("send on a closed producer", source=f"kafka://{self._bootstrap}")
        if self._failure is not None:
            return  # the broker is already known unreachable; flush will raise
        try:
            future = self._client().send(self._prefix + topic, value=value, key=key)
        except KafkaError as exc:
            if not _is_unavailable(exc):
                raise _bus_error(f"send to {topic}", self._bootstrap, exc) from exc
            self._failure = exc
            return
        self._pending.append(future)

    def flush(self) -> None:
        if self._failure is not None:
            exc, self._failure = self._failure, None
            self._discard()
            raise BusUnavailable(
                f"Kafka unreachable, nothing since the last flush is durable: {type(exc).__name__}: {exc}",
                source=f"kafka://{self._bootstrap}",
            ) from exc
        if self._producer is None:
            return
        try:
            self._producer.flush(timeout=self._timeout_s)
        except KafkaError as exc:
            self._discard()
            raise BusUnavailable(
                f"flush did not complete within {self._timeout_s:g}s: {exc}", source=f"kafka://{self._bootstrap}"
            ) from exc
        pending, self._pending = self._pending, []
        for future in pending:
            if future.failed():
                self._discard()
                raise _bus_error("delivery", self._bootstrap, future.exception)

    def _discard(self) -> None:
        """Drop the client and whatever it still buffers, so nothing stale is delivered out of order later."""
        self._pending = []
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                producer.close(timeout=0)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                producer.close(timeout=self._timeout_s)


class KafkaConsumerAdapter:
    """A :class:`soc_core.bus.Consumer` on :class:`kafka.KafkaConsumer` with manual commits."""

    def __init__(self, bootstrap: str, consumer: Any, *, topic_prefix: str, timeout_s: float) -> None:
        self._bootstrap = bootstrap
        self._consumer = consumer
        self._prefix = topic_prefix
        self._timeout_ms = int(timeout_s * 1000)
        self._returned: dict[TopicPartition, int] = {}  # next offset past what poll returned
        self._closed = False
        self.group = ""
        # (logical topic, partition) -> messages behind the high watermark after the last poll
        self.lag: dict[tuple[str, int], int] = {}
        # (logical topic, partition) owned after the last poll; read by health from other threads
        self.assigned: frozenset[tuple[str, int]] = frozenset()

    def poll(self, max_records: int = 500, timeout: float = 1.0) -> list[Message]:
        try:
            batches = self._consumer.poll(timeout_ms=int(timeout * 1000), max_records=max_records)
        except KafkaError as exc:
            if not _is_unavailable(exc):
                raise _bus_error("poll", self._bootstrap, exc) from exc
            # the cluster is away: nothing to hand out now; the client reconnects by itself
            log.warning("poll: Kafka unavailable (%s: %s); retrying", type(exc).__name__, exc)
            time.sleep(timeout)
            return []
        self.assigned = frozenset(self.assignment())
        out: list[Message] = []
        for tp, records in batches.items():
            for rec in records:
                out.append(
                    Message(
                        topic=self._logical(rec.topic),
                        partition=rec.partition,
                        offset=rec.offset,
                        key=rec.key,
                        value=rec.value if rec.value is not None else b"",
                        timestamp=rec.timestamp / 1000.0,
                    )
                )
            if records:
                self._returned[tp] = max(self._returned.get(tp, 0), records[-1].offset + 1)
                high = self._consumer.highwater(tp)  # cached from the fetch response, no request
                if high is not None:
                    self.lag[(self._logical(tp.topic), tp.partition)] = max(0, high - records[-1].offset - 1)
        if not out:
            for key in self.lag:
                self.lag[key] = 0  # caught up: an empty poll means nothing is waiting
        for (topic, partition), behind in self.lag.items():
            CONSUMER_LAG.labels(self.group, topic, str(partition)).set(behind)
        return out

    def seek_to_committed(self) -> None:
        """Rewind every assigned partition to its committed offset (the start when nothing is committed)."""
        try:
            for tp in self._consumer.assignment():
                committed = self._consumer.committed(tp, timeout_ms=self._timeout_ms)
                if committed is None:
                    self._consumer.seek_to_beginning(tp)
                else:
                    self._consumer.seek(tp, committed)
        except KafkaError as exc:
            raise _bus_error("seek to committed", self._bootstrap, exc) from exc
        self._returned.clear()

    def _logical(self, topic: str) -> str:
        return topic[len(self._prefix) :] if self._prefix and topic.startswith(self._prefix) else topic

    def commit(self, messages: Sequence[Message] | None = None) -> None:
        if messages is None:
            wanted = dict(self._returned)
        else:
            wanted = {}
            for msg in messages:
                tp = TopicPartition(self._prefix + msg.topic, msg.partition)
                wanted[tp] = max(wanted.get(tp, 0), msg.offset + 1)
        try:
            assigned = set(self._consumer.assignment())
        except KafkaError as exc:
            raise _bus_error("commit", self._bootstrap, exc) from exc
        offsets = {tp: OffsetAndMetadata(off, "", -1) for tp, off in wanted.items() if tp in assigned}
        for tp in list(self._returned):
            if tp not in assigned:
                del self._returned[tp]  # revoked: the new owner re-reads from the last commit
        if not offsets:
            return
        try:
            self._consumer.commit(offsets=offsets, timeout_ms=self._timeout_ms)
        except KafkaError as exc:
            # Not fatal: the downstream write already succeeded and every sink is idempotent, so the
            # worst case is redelivery. The next successful commit covers these offsets too.
            log.warning("commit failed, messages may be redelivered: %s: %s", type(exc).__name__, exc)
            return
        for tp, committed in offsets.items():
            if self._returned.get(tp, 0) <= committed.offset:
                self._returned.pop(tp, None)

    def assignment(self) -> set[tuple[str, int]]:
        """The (topic, partition) pairs currently assigned to this consumer (logical topic names)."""
        return {(self._logical(tp.topic), tp.partition) for tp in self._consumer.assignment()}

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            self._consumer.close(autocommit=False, timeout_ms=self._timeout_ms)


class KafkaBus:
    """Factory of Kafka producers and consumers for one cluster (implements :class:`soc_core.bus.Bus`).

    ``topic_prefix`` is prepended to every topic name on the wire (isolation of tenants or tests);
    :class:`~soc_core.bus.Message` carries the logical (unprefixed) topic. ``group_prefix``
    (default: ``topic_prefix``) is prepended to consumer group ids.
    """

    def __init__(
        self,
        bootstrap: str,
        *,
        topic_prefix: str = "",
        client_id: str = "soc",
        session_timeout_ms: int = 6000,
        timeout_s: float = 10.0,
        group_prefix: str | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.topic_prefix = topic_prefix
        self.group_prefix = topic_prefix if group_prefix is None else group_prefix
        self.client_id = client_id
        self.session_timeout_ms = session_timeout_ms
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._children: list[KafkaProducerAdapter | KafkaConsumerAdapter] = []

    def _timeouts(self) -> dict[str, Any]:
        ms = int(self.timeout_s * 1000)
        return {"request_timeout_ms": ms, "api_version_auto_timeout_ms": ms}

    def ensure_topics(self, partitions: dict[str, int], retention_ms: dict[str, int] | None = None) -> None:
        """Create missing topics with the given partition counts; grow existing ones that have fewer.

        Partitions are never removed (Kafka cannot); retention is only set on creation. The
        replication factor is the number of brokers, at most 3. Returns once every topic has a
        leader for each of its partitions, so a consumer group joining next sees all of them.
        """
        retention_ms = retention_ms or {}
        try:
            admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id=self.client_id, **self._timeouts())
        except KafkaError as exc:
            raise _bus_error("connect (admin)", self.bootstrap, exc) from exc
        try:
            wanted = {self.topic_prefix + name: count for name, count in partitions.items()}
            existing = set(admin.list_topics())
            missing = {name: count for name, count in wanted.items() if name not in existing}
            if missing:
                replication = max(1, min(3, len(admin.describe_cluster()["brokers"])))
                new_topics = []
                for name, count in missing.items():
                    logical = name[len(self.topic_prefix) :]
                    configs = {"max.message.bytes": str(MAX_MESSAGE_BYTES)}
                    if logical in retention_ms:
                        configs["retention.ms"] = str(retention_ms[logical])
                    new_topics.append(NewTopic(name, count, replication, topic_configs=configs))
                response = admin.create_topics(new_topics, timeout_ms=int(self.timeout_s * 1000))
                for error in response.topic_errors:
                    topic, code = error[0], error[1]
                    if code not in (0, _TOPIC_EXISTS):
                        detail = error[2] if len(error) > 2 and error[2] else ""
                        raise BusError(
                            f"cannot create topic {topic}: error {code} {detail}".rstrip(),
                            source=f"kafka://{self.bootstrap}",
                        )
            present = [name for name in wanted if name in existing]
            if present:
                grow = {
                    t["topic"]: NewPartitions(wanted[t["topic"]])
                    for t in admin.describe_topics(present)
                    if len(t["partitions"]) < wanted[t["topic"]]
                }
                if grow:
                    admin.create_partitions(grow, timeout_ms=int(self.timeout_s * 1000))
            self._wait_for_leaders(admin, wanted)
        except KafkaError as exc:
            raise _bus_error("ensure_topics", self.bootstrap, exc) from exc
        finally:
            with contextlib.suppress(Exception):
                admin.close()

    def _wait_for_leaders(self, admin: Any, wanted: dict[str, int]) -> None:
        """Poll the metadata until every wanted topic has its partitions, each with a leader."""
        deadline = time.monotonic() + self.timeout_s
        while True:
            ready = {
                t["topic"]
                for t in admin.describe_topics(list(wanted))
                if t["error_code"] == 0
                and len(t["partitions"]) >= wanted[t["topic"]]
                and all(p["leader"] >= 0 for p in t["partitions"])
            }
            if ready >= set(wanted):
                return
            if time.monotonic() > deadline:
                raise BusUnavailable(
                    f"topics not ready within {self.timeout_s:g}s: {sorted(set(wanted) - ready)}",
                    source=f"kafka://{self.bootstrap}",
                )
            time.sleep(0.1)

    def producer(self) -> KafkaProducerAdapter:
        ms = int(self.timeout_s * 1000)
        config: dict[str, Any] = {
            "client_id": self.client_id,
            "acks": "all",
            "enable_idempotence": True,
            "linger_ms": 5,
            "max_block_ms": ms,
            "request_timeout_ms": ms,
            "delivery_timeout_ms": ms + 5 + 1000,  # must be >= linger + request timeout
            "api_version_auto_timeout_ms": ms,
            "reconnect_backoff_max_ms": 1000,
            "max_request_size": MAX_MESSAGE_BYTES + 64 * 1024,
        }
        adapter = KafkaProducerAdapter(self.bootstrap, config, topic_prefix=self.topic_prefix, timeout_s=self.timeout_s)
        with self._lock:
            self._children.append(adapter)
        return adapter

    def consumer(self, group: str, topics: Sequence[str]) -> KafkaConsumerAdapter:
        try:
            consumer = KafkaConsumer(
                *[self.topic_prefix + t for t in topics],
                bootstrap_servers=self.bootstrap,
                client_id=self.client_id,
                group_id=self.group_prefix + group,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                session_timeout_ms=self.session_timeout_ms,
                heartbeat_interval_ms=max(100, self.session_timeout_ms // 3),
                reconnect_backoff_max_ms=1000,
                **self._timeouts(),
            )
        except KafkaError as exc:
            raise _bus_error("connect (consumer)", self.bootstrap, exc) from exc
        adapter = KafkaConsumerAdapter(
            self.bootstrap, consumer, topic_prefix=self.topic_prefix, timeout_s=self.timeout_s
        )
        adapter.group = group
        with self._lock:
            self._children.append(adapter)
        return adapter

    def close(self) -> None:
        with self._lock:
            children, self._children = self._children, []
        for child in children:
            child.close()
