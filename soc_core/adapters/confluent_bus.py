"""Kafka adapter of the bus on confluent-kafka (distributed mode): :class:`ConfluentBus`, a :class:`soc_core.bus.Bus`.

Neighbours: the same as :mod:`soc_core.adapters.kafka_bus` — collectors publish raw records through
:meth:`ConfluentBus.producer`; pipeline workers read them in a consumer group through
:meth:`ConfluentBus.consumer` and commit offsets only after their downstream write succeeded
(at-least-once; every sink is idempotent by record id). ``settings.kafka_client = "confluent"``
selects this adapter (:func:`soc_cli.roles.open_bus`); the client-independent parts (prefixes,
error mapping, commit bookkeeping, lag gauge, topic plan) live in :mod:`soc_core.adapters.kafka_common`.

confluent-kafka wraps librdkafka (C): on the 2-core reference machine it produces and consumes
several times faster than kafka-python (``soc bench kafka``; docs/distributed.md).

Failure contract: exactly the one stated in :mod:`soc_core.adapters.kafka_bus`:

- ``send`` buffers (librdkafka's queue; never blocks for long). Delivery reports are collected; a
  failure to reach the cluster (message timed out, queue full past ``timeout_s``) makes the next
  ``flush`` raise :class:`~soc_core.errors.BusUnavailable`, after which nothing sent since the
  previous successful ``flush`` is guaranteed (the producer is dropped with its queue; the caller
  re-sends). A message refused for good (larger than the request limit at ``send``, or refused by
  the broker as too large at delivery) raises a plain :class:`~soc_core.errors.BusError`, as with
  kafka-python, so the collector dead-letters it.
- ``flush`` is bounded by ``timeout_s``: ``Producer.flush`` returning messages still queued raises
  ``BusUnavailable``; librdkafka's ``message.timeout.ms`` bounds every delivery as well.
- ``commit`` commits explicit offsets synchronously, only for partitions still assigned; refusal is
  logged, not raised.
- ``poll`` returns ``[]`` while the cluster is unreachable (librdkafka reconnects by itself).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka import Message as KafkaMessage
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewPartitions, NewTopic  # re-exported by confluent_kafka.admin at run time

from soc_core.adapters.kafka_common import (
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

__all__ = ["ConfluentBus", "ConfluentConsumerAdapter", "ConfluentProducerAdapter"]

log = logging.getLogger(__name__)
# librdkafka's own log lines go through Python logging instead of stderr
_LIBRDKAFKA_LOG = logging.getLogger(__name__ + ".librdkafka")

# Codes meaning "the cluster cannot be reached now" even where librdkafka does not flag them retriable.
_UNAVAILABLE_CODES = frozenset(
    {
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError._MSG_TIMED_OUT,
        KafkaError._TIMED_OUT,
        KafkaError._TIMED_OUT_QUEUE,
        KafkaError._QUEUE_FULL,
        KafkaError._RESOLVE,
        KafkaError._WAIT_COORD,
        KafkaError._UNKNOWN_TOPIC,
        KafkaError._UNKNOWN_PARTITION,
        KafkaError._PURGE_QUEUE,
        KafkaError._PURGE_INFLIGHT,
        KafkaError._DESTROY,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError.NETWORK_EXCEPTION,
        KafkaError.NOT_ENOUGH_REPLICAS,
        KafkaError.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
        KafkaError.NOT_COORDINATOR,
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
        KafkaError.REBALANCE_IN_PROGRESS,
    }
)
_POLL_EVERY = 100  # sends between two serves of delivery reports (they hold queue slots until served)


def _error_of(exc: BaseException) -> KafkaError | None:
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        return exc.args[0]
    return None


def _is_unavailable(exc: BaseException) -> bool:
    """Errors that mean "the cluster cannot be reached now" (retry later) rather than a bad record."""
    if isinstance(exc, BufferError):
        return True  # the local queue stays full: the broker does not take messages
    err = _error_of(exc)
    if err is None:
        return False
    return not err.fatal() and (err.retriable() or err.code() in _UNAVAILABLE_CODES)


def _bus_error(action: str, bootstrap: str, exc: BaseException) -> BusError:
    return bus_error(action, bootstrap, exc, unavailable=_is_unavailable(exc))


class ConfluentProducerAdapter:
    """A :class:`soc_core.bus.Producer` on :class:`confluent_kafka.Producer` (acks=all, idempotent)."""

    def __init__(self, bootstrap: str, config: dict[str, Any], *, topic_prefix: str, timeout_s: float) -> None:
        self._bootstrap = bootstrap
        self._config = config
        self._prefix = topic_prefix
        self._timeout_s = timeout_s
        self._producer: Producer | None = None  # created on first use, so a dead broker surfaces at flush
        self._failure: BaseException | None = None  # the cluster was unreachable: flush raises BusUnavailable
        self._delivery_error: KafkaException | None = None  # first failed delivery report since the last flush
        self._unserved = 0
        self._closed = False

    def _client(self) -> Producer:
        if self._producer is None:
            self._delivery_error = None
            self._producer = Producer(
                {
                    **self._config,
                    "on_delivery": self._on_delivery,
                    "delivery.report.only.error": True,  # no Python callback per delivered message
                    "error_cb": self._on_error,
                    "logger": _LIBRDKAFKA_LOG,
                }
            )
        return self._producer

    def _on_delivery(self, err: KafkaError | None, _msg: KafkaMessage) -> None:
        if err is not None and self._delivery_error is None:
            self._delivery_error = KafkaException(err)

    def _on_error(self, err: KafkaError) -> None:
        if err.fatal() and self._failure is None:  # e.g. the idempotent producer lost its sequence
            self._failure = KafkaException(err)

    def send(self, topic: str, value: bytes, key: bytes | None = None) -> None:
        if self._closed:
            raise BusError("send on a closed producer", source=f"kafka://{self._bootstrap}")
        if self._failure is not None:
            return  # the broker is already known unreachable; flush will raise
        producer = self._client()
        deadline = 0.0
        while True:
            try:
                producer.produce(self._prefix + topic, value, key)
                break
            except BufferError as exc:  # the local queue is full: wait for deliveries, bounded
                deadline = deadline or time.monotonic() + self._timeout_s
                if time.monotonic() > deadline:
                    self._failure = exc
                    return
                producer.poll(0.05)
            except KafkaException as exc:
                if not _is_unavailable(exc):
                    raise _bus_error(f"send to {topic}", self._bootstrap, exc) from exc
                self._failure = exc
                return
        self._unserved += 1
        if self._unserved >= _POLL_EVERY:
            self._unserved = 0
            producer.poll(0)  # serve delivery reports

    def flush(self) -> None:
        if self._failure is not None:
            exc, self._failure = self._failure, None
            self._discard()
            raise unreachable(self._bootstrap, exc) from exc
        if self._producer is None:
            return
        remaining = self._producer.flush(self._timeout_s)
        if remaining > 0:
            self._discard()
            raise flush_timeout(self._bootstrap, self._timeout_s, f"{remaining} message(s) not delivered")
        fatal = self._take_failure()  # a fatal producer error reported during the flush
        if fatal is not None:
            self._discard()
            raise unreachable(self._bootstrap, fatal) from fatal
        failed, self._delivery_error = self._delivery_error, None
        if failed is not None:
            self._discard()
            raise _bus_error("delivery", self._bootstrap, failed)

    def _take_failure(self) -> BaseException | None:
        failure, self._failure = self._failure, None
        return failure

    def _discard(self) -> None:
        """Drop the client and whatever it still buffers, so nothing stale is delivered out of order later."""
        producer, self._producer = self._producer, None
        self._delivery_error = None
        self._unserved = 0
        if producer is not None:
            with contextlib.suppress(Exception):
                producer.purge(in_queue=True, in_flight=True, blocking=False)
                producer.poll(0)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                producer.flush(self._timeout_s)  # bounded, unlike Producer.close()
                producer.purge(in_queue=True, in_flight=True, blocking=False)
                producer.poll(0)


class ConfluentConsumerAdapter:
    """A :class:`soc_core.bus.Consumer` on :class:`confluent_kafka.Consumer` with manual commits."""

    def __init__(self, bootstrap: str, consumer: Consumer, *, topic_prefix: str, timeout_s: float) -> None:
        self._bootstrap = bootstrap
        self._consumer = consumer
        self._prefix = topic_prefix
        self._timeout_s = timeout_s
        self._returned = OffsetTracker(topic_prefix)  # next offset past what poll returned
        self._closed = False
        self.group = ""
        # (logical topic, partition) -> messages behind the high watermark after the last poll
        self.lag: dict[tuple[str, int], int] = {}
        # (logical topic, partition) owned after the last poll; read by health from other threads
        self.assigned: frozenset[tuple[str, int]] = frozenset()

    def _fetch(self, max_records: int, timeout: float) -> list[KafkaMessage]:
        """Wait up to ``timeout`` for the first message, then take what is already fetched (no more waiting)."""
        first = self._consumer.poll(timeout)
        if first is None:
            return []
        if max_records <= 1:
            return [first]
        return [first, *self._consumer.consume(max_records - 1, 0)]

    def poll(self, max_records: int = 500, timeout: float = 1.0) -> list[Message]:
        try:
            fetched = self._fetch(max_records, timeout)
        except KafkaException as exc:
            if not _is_unavailable(exc):
                raise _bus_error("poll", self._bootstrap, exc) from exc
            log.warning("poll: Kafka unavailable (%s); retrying", exc)
            time.sleep(timeout)
            return []
        self.assigned = frozenset(self.assignment())
        out: list[Message] = []
        last: dict[tuple[str, int], int] = {}
        for rec in fetched:
            err = rec.error()
            if err is not None:
                if err.fatal():
                    raise _bus_error("poll", self._bootstrap, KafkaException(err))
                # e.g. a subscribed topic not created yet, or the broker away: librdkafka retries
                log.debug("poll: %s", err)
                continue
            topic, partition, offset = rec.topic() or "", rec.partition() or 0, rec.offset() or 0
            ts_type, ts_ms = rec.timestamp()
            value = rec.value()
            out.append(
                Message(
                    topic=self._logical(topic),
                    partition=partition,
                    offset=offset,
                    key=rec.key(),
                    value=value if value is not None else b"",
                    timestamp=ts_ms / 1000.0 if ts_type != TIMESTAMP_NOT_AVAILABLE else 0.0,
                )
            )
            last[(topic, partition)] = offset
        for (topic, partition), offset in last.items():
            self._returned.returned(topic, partition, offset)
            # cached: the high watermark of the last fetch response, no request
            marks = self._consumer.get_watermark_offsets(TopicPartition(topic, partition), cached=True)
            if marks is not None and marks[1] >= 0:
                self.lag[(self._logical(topic), partition)] = max(0, marks[1] - offset - 1)
        publish_lag(self.group, self.lag, bool(out))
        return out

    def seek_to_committed(self) -> None:
        """Rewind every assigned partition to its committed offset (the start when nothing is committed)."""
        try:
            assigned = self._consumer.assignment()
            committed = self._consumer.committed(assigned, timeout=self._timeout_s) if assigned else []
        except KafkaException as exc:
            raise _bus_error("seek to committed", self._bootstrap, exc) from exc
        for tp in committed:
            offset = tp.offset if tp.offset >= 0 else OFFSET_BEGINNING
            try:
                self._consumer.seek(TopicPartition(tp.topic, tp.partition, offset))
            except KafkaException as exc:
                err = _error_of(exc)
                if err is not None and err.code() == KafkaError._STATE:
                    continue  # not fetching yet: it will start from the committed offset anyway
                raise _bus_error("seek to committed", self._bootstrap, exc) from exc
        self._returned.clear()

    def _logical(self, topic: str) -> str:
        return logical_topic(topic, self._prefix)

    def commit(self, messages: Sequence[Message] | None = None) -> None:
        wanted = self._returned.wanted(messages)
        try:
            assigned = [(tp.topic, tp.partition) for tp in self._consumer.assignment()]
        except KafkaException as exc:
            raise _bus_error("commit", self._bootstrap, exc) from exc
        offsets = self._returned.restrict(wanted, assigned)
        if not offsets:
            return
        try:
            result = self._consumer.commit(
                offsets=[TopicPartition(t, p, off) for (t, p), off in offsets.items()], asynchronous=False
            )
        except KafkaException as exc:
            # Not fatal: the downstream write already succeeded and every sink is idempotent, so the
            # worst case is redelivery. The next successful commit covers these offsets too.
            log.warning("commit failed, messages may be redelivered: %s", exc)
            return
        refused = {(tp.topic, tp.partition) for tp in result or [] if tp.error is not None}
        if refused:
            log.warning("commit refused for %s, messages may be redelivered", sorted(refused))
        self._returned.committed({key: off for key, off in offsets.items() if key not in refused})

    def assignment(self) -> set[tuple[str, int]]:
        """The (topic, partition) pairs currently assigned to this consumer (logical topic names)."""
        return {(self._logical(tp.topic), tp.partition) for tp in self._consumer.assignment()}

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            self._consumer.close()  # leaves the group; nothing is auto-committed


class ConfluentBus(KafkaBusBase):
    """Factory of confluent-kafka producers and consumers for one cluster (implements :class:`soc_core.bus.Bus`).

    Constructor arguments and prefixes: see :class:`~soc_core.adapters.kafka_common.KafkaBusBase`.
    """

    def _common(self) -> dict[str, Any]:
        ms = int(self.timeout_s * 1000)
        return {
            "bootstrap.servers": self.bootstrap,
            "client.id": self.client_id,
            "socket.timeout.ms": max(10, ms),
            "socket.connection.setup.timeout.ms": max(1000, ms),
            "reconnect.backoff.max.ms": 1000,
        }

    def _admin(self) -> AdminClient:
        config: dict[str, Any] = {**self._common(), "logger": _LIBRDKAFKA_LOG}
        return AdminClient(config)

    def ensure_topics(self, partitions: dict[str, int], retention_ms: dict[str, int] | None = None) -> None:
        """Create missing topics with the given partition counts; grow existing ones that have fewer.

        Same behaviour as :meth:`soc_core.adapters.kafka_bus.KafkaBus.ensure_topics` (plan in
        :func:`~soc_core.adapters.kafka_common.plan_topics`); returns once every partition has a leader.
        """
        admin = self._admin()
        timeout = self.timeout_s
        try:
            metadata = admin.list_topics(timeout=timeout)
            existing = {name: len(t.partitions) for name, t in metadata.topics.items() if t.error is None}
            plan = plan_topics(self.topic_prefix, partitions, retention_ms, existing)
            if plan.create:
                replication = replication_factor(len(metadata.brokers))
                futures = admin.create_topics(
                    [
                        NewTopic(name, count, replication, config=configs)
                        for name, (count, configs) in plan.create.items()
                    ],
                    operation_timeout=timeout,
                    request_timeout=timeout,
                )
                for name, future in futures.items():
                    try:
                        future.result()
                    except KafkaException as exc:
                        err = _error_of(exc)
                        if err is not None and err.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                            continue
                        if _is_unavailable(exc):
                            raise
                        raise BusError(
                            f"cannot create topic {name}: {exc}", source=f"kafka://{self.bootstrap}"
                        ) from exc
            if plan.grow:
                futures = admin.create_partitions(
                    [NewPartitions(name, count) for name, count in plan.grow.items()],
                    operation_timeout=timeout,
                    request_timeout=timeout,
                )
                for future in futures.values():
                    future.result()
            wanted = {self.topic_prefix + name: count for name, count in partitions.items()}
            wait_until_ready(lambda: self._ready(admin, wanted), wanted, timeout, self.bootstrap)
        except KafkaException as exc:
            raise _bus_error("ensure_topics", self.bootstrap, exc) from exc

    def _ready(self, admin: AdminClient, wanted: dict[str, int]) -> set[str]:
        """The wanted topics that have all their partitions, each with a leader."""
        topics = admin.list_topics(timeout=self.timeout_s).topics
        return {
            name
            for name, count in wanted.items()
            if (t := topics.get(name)) is not None
            and t.error is None
            and len(t.partitions) >= count
            and all(p.leader >= 0 and p.error is None for p in t.partitions.values())
        }

    def producer(self) -> ConfluentProducerAdapter:
        ms = int(self.timeout_s * 1000)
        config: dict[str, Any] = {
            **self._common(),
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 5,
            "message.timeout.ms": ms + 5 + 1000,  # the delivery bound, as delivery_timeout_ms in kafka_bus
            "request.timeout.ms": max(10, ms),
            "message.max.bytes": MAX_REQUEST_BYTES,
        }
        adapter = ConfluentProducerAdapter(
            self.bootstrap, config, topic_prefix=self.topic_prefix, timeout_s=self.timeout_s
        )
        self._adopt(adapter)
        return adapter

    def consumer(self, group: str, topics: Sequence[str]) -> ConfluentConsumerAdapter:
        config: dict[str, Any] = {
            **self._common(),
            "group.id": self.group_prefix + group,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": self.session_timeout_ms,
            "heartbeat.interval.ms": max(100, self.session_timeout_ms // 3),
            "logger": _LIBRDKAFKA_LOG,
        }
        consumer = Consumer(config)
        try:
            # librdkafka connects lazily; ask for metadata so a dead cluster fails here, as with kafka-python
            consumer.list_topics(timeout=self.timeout_s)
            consumer.subscribe([self.topic_prefix + t for t in topics])
        except KafkaException as exc:
            with contextlib.suppress(Exception):
                consumer.close()
            raise _bus_error("connect (consumer)", self.bootstrap, exc) from exc
        adapter = ConfluentConsumerAdapter(
            self.bootstrap, consumer, topic_prefix=self.topic_prefix, timeout_s=self.timeout_s
        )
        adapter.group = group
        self._adopt(adapter)
        return adapter
