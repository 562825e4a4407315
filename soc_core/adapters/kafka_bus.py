"""Kafka adapter of the bus on kafka-python (distributed mode): :class:`KafkaBus` implements :class:`soc_core.bus.Bus`.

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

:class:`soc_core.adapters.confluent_bus.ConfluentBus` keeps the same contract on confluent-kafka;
``settings.kafka_client`` chooses. The client-independent parts live in
:mod:`soc_core.adapters.kafka_common`.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewPartitions, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError
from kafka.structs import OffsetAndMetadata, TopicPartition

from soc_core.adapters.kafka_common import (
    MAX_MESSAGE_BYTES,
    MAX_REQUEST_BYTES,
    KafkaBusBase,
    OffsetTracker,
    bus_error,
    flush_timeout,
    logical_topic,
    plan_topics,
    publish_lag,
    replication_factor,
    unreachable,
    wait_until_ready,
)
from soc_core.bus import Message
from soc_core.errors import BusError

__all__ = ["MAX_MESSAGE_BYTES", "KafkaBus", "KafkaConsumerAdapter", "KafkaProducerAdapter"]

_TOPIC_EXISTS = TopicAlreadyExistsError.errno

log = logging.getLogger(__name__)


def _is_unavailable(exc: BaseException) -> bool:
    """Errors that mean "the cluster cannot be reached now" (retry later) rather than a bad record."""
    return isinstance(exc, KafkaError) and bool(getattr(exc, "retriable", False))


def _bus_error(action: str, bootstrap: str, exc: BaseException) -> BusError:
    return bus_error(action, bootstrap, exc, unavailable=_is_unavailable(exc))


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
            raise unreachable(self._bootstrap, exc) from exc
        if self._producer is None:
            return
        try:
            self._producer.flush(timeout=self._timeout_s)
        except KafkaError as exc:
            self._discard()
            raise flush_timeout(self._bootstrap, self._timeout_s, exc) from exc
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
        self._returned = OffsetTracker(topic_prefix)  # next offset past what poll returned
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
                self._returned.returned(tp.topic, tp.partition, records[-1].offset)
                high = self._consumer.highwater(tp)  # cached from the fetch response, no request
                if high is not None:
                    self.lag[(self._logical(tp.topic), tp.partition)] = max(0, high - records[-1].offset - 1)
        publish_lag(self.group, self.lag, bool(out))
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
        return logical_topic(topic, self._prefix)

    def commit(self, messages: Sequence[Message] | None = None) -> None:
        wanted = self._returned.wanted(messages)
        try:
            assigned = [(tp.topic, tp.partition) for tp in self._consumer.assignment()]
        except KafkaError as exc:
            raise _bus_error("commit", self._bootstrap, exc) from exc
        offsets = self._returned.restrict(wanted, assigned)
        if not offsets:
            return
        try:
            self._consumer.commit(
                offsets={TopicPartition(t, p): OffsetAndMetadata(off, "", -1) for (t, p), off in offsets.items()},
                timeout_ms=self._timeout_ms,
            )
        except KafkaError as exc:
            # Not fatal: the downstream write already succeeded and every sink is idempotent, so the
            # worst case is redelivery. The next successful commit covers these offsets too.
            log.warning("commit failed, messages may be redelivered: %s: %s", type(exc).__name__, exc)
            return
        self._returned.committed(offsets)

    def assignment(self) -> set[tuple[str, int]]:
        """The (topic, partition) pairs currently assigned to this consumer (logical topic names)."""
        return {(self._logical(tp.topic), tp.partition) for tp in self._consumer.assignment()}

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            self._consumer.close(autocommit=False, timeout_ms=self._timeout_ms)


class KafkaBus(KafkaBusBase):
    """Factory of kafka-python producers and consumers for one cluster (implements :class:`soc_core.bus.Bus`).

    Constructor arguments and prefixes: see :class:`~soc_core.adapters.kafka_common.KafkaBusBase`.
    """

    def _timeouts(self) -> dict[str, Any]:
        ms = int(self.timeout_s * 1000)
        return {"request_timeout_ms": ms, "api_version_auto_timeout_ms": ms}

    def ensure_topics(self, partitions: dict[str, int], retention_ms: dict[str, int] | None = None) -> None:
        """Create missing topics with the given partition counts; grow existing ones that have fewer.

        Partitions are never removed (Kafka cannot); retention is only set on creation. The
        replication factor is the number of brokers, at most 3. Returns once every topic has a
        leader for each of its partitions, so a consumer group joining next sees all of them.
        """
        try:
            admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id=self.client_id, **self._timeouts())
        except KafkaError as exc:
            raise _bus_error("connect (admin)", self.bootstrap, exc) from exc
        try:
            listed = set(admin.list_topics())
            present = [self.topic_prefix + name for name in partitions if self.topic_prefix + name in listed]
            existing = {t["topic"]: len(t["partitions"]) for t in admin.describe_topics(present)} if present else {}
            plan = plan_topics(self.topic_prefix, partitions, retention_ms, existing)
            if plan.create:
                replication = replication_factor(len(admin.describe_cluster()["brokers"]))
                new_topics = [
                    NewTopic(name, count, replication, topic_configs=configs)
                    for name, (count, configs) in plan.create.items()
                ]
                response = admin.create_topics(new_topics, timeout_ms=int(self.timeout_s * 1000))
                for error in response.topic_errors:
                    topic, code = error[0], error[1]
                    if code not in (0, _TOPIC_EXISTS):
                        detail = error[2] if len(error) > 2 and error[2] else ""
                        raise BusError(
                            f"cannot create topic {topic}: error {code} {detail}".rstrip(),
                            source=f"kafka://{self.bootstrap}",
                        )
            if plan.grow:
                admin.create_partitions(
                    {name: NewPartitions(count) for name, count in plan.grow.items()},
                    timeout_ms=int(self.timeout_s * 1000),
                )
            wanted = {self.topic_prefix + name: count for name, count in partitions.items()}
            wait_until_ready(lambda: self._ready(admin, wanted), wanted, self.timeout_s, self.bootstrap)
        except KafkaError as exc:
            raise _bus_error("ensure_topics", self.bootstrap, exc) from exc
        finally:
            with contextlib.suppress(Exception):
                admin.close()

    @staticmethod
    def _ready(admin: Any, wanted: dict[str, int]) -> set[str]:
        """The wanted topics that have all their partitions, each with a leader."""
        return {
            t["topic"]
            for t in admin.describe_topics(list(wanted))
            if t["error_code"] == 0
            and len(t["partitions"]) >= wanted[t["topic"]]
            and all(p["leader"] >= 0 for p in t["partitions"])
        }

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
            "max_request_size": MAX_REQUEST_BYTES,
        }
        adapter = KafkaProducerAdapter(self.bootstrap, config, topic_prefix=self.topic_prefix, timeout_s=self.timeout_s)
        self._adopt(adapter)
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
        self._adopt(adapter)
        return adapter
