"""What the two Kafka adapters of the bus share (distributed mode), whichever client library they use.

Neighbours: :mod:`soc_core.adapters.kafka_bus` (kafka-python) and
:mod:`soc_core.adapters.confluent_bus` (confluent-kafka / librdkafka) both implement
:class:`soc_core.bus.Bus` with the failure contract stated in :mod:`soc_core.adapters.kafka_bus`;
``settings.kafka_client`` picks one (:func:`soc_cli.roles.open_bus`). This module holds the parts
that do not depend on the client: topic-prefix handling, the mapping of client errors onto
:class:`~soc_core.errors.BusError` / :class:`~soc_core.errors.BusUnavailable`, the bookkeeping of
what a consumer may commit, the lag gauge, the plan of :meth:`ensure_topics` and the factory base.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from soc_core.bus import Consumer, Message, Producer
from soc_core.errors import BusError, BusUnavailable
from soc_core.metrics import CONSUMER_LAG

__all__ = [
    "MAX_MESSAGE_BYTES",
    "MAX_REQUEST_BYTES",
    "KafkaBusBase",
    "OffsetTracker",
    "TopicPlan",
    "bus_error",
    "logical_topic",
    "plan_topics",
    "publish_lag",
    "wait_until_ready",
]

# Largest message produced and accepted by the topics we create: collector dead letters keep up to
# 16 MiB of the original bytes (collectors.common.DEAD_LETTER_CAP) plus their envelope. A message the
# broker refuses as too large would block the collector's spool, so the limit is set on both sides.
MAX_MESSAGE_BYTES = 20 * 1024 * 1024
# The producers' request limit: one message of MAX_MESSAGE_BYTES plus the record batch framing.
MAX_REQUEST_BYTES = MAX_MESSAGE_BYTES + 64 * 1024

TopicPartitionKey = tuple[str, int]  # (wire topic, partition): plain tuples, whatever the client's type


def source(bootstrap: str) -> str:
    return f"kafka://{bootstrap}"


def logical_topic(topic: str, prefix: str) -> str:
    """The topic name without the wire prefix (what :class:`~soc_core.bus.Message` carries)."""
    return topic[len(prefix) :] if prefix and topic.startswith(prefix) else topic


def bus_error(action: str, bootstrap: str, exc: BaseException, *, unavailable: bool) -> BusError:
    """``BusUnavailable`` when the cluster cannot be reached now (retry later), else a plain ``BusError``.

    A plain ``BusError`` means "refused for good" (a message too large, a topic not writable): the
    collector's publisher dead-letters such a message instead of spooling it forever.
    """
    message = f"{action} failed: {type(exc).__name__}: {exc}"
    if unavailable:
        return BusUnavailable(message, source=source(bootstrap))
    return BusError(message, source=source(bootstrap))


def unreachable(bootstrap: str, exc: BaseException) -> BusUnavailable:
    """The error ``flush`` raises after a send failed because the cluster was away."""
    return BusUnavailable(
        f"Kafka unreachable, nothing since the last flush is durable: {type(exc).__name__}: {exc}",
        source=source(bootstrap),
    )


def flush_timeout(bootstrap: str, timeout_s: float, detail: object) -> BusUnavailable:
    return BusUnavailable(f"flush did not complete within {timeout_s:g}s: {detail}", source=source(bootstrap))


class OffsetTracker:
    """What a consumer may commit: the offset past the messages ``poll`` returned, per partition.

    Keys are ``(wire topic, partition)``. Commits are restricted to the partitions still assigned;
    the entries of revoked partitions are dropped (their new owner re-reads from the last commit).
    """

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._returned: dict[TopicPartitionKey, int] = {}

    def returned(self, topic: str, partition: int, last_offset: int) -> None:
        key = (topic, partition)
        self._returned[key] = max(self._returned.get(key, 0), last_offset + 1)

    def wanted(self, messages: Sequence[Message] | None) -> dict[TopicPartitionKey, int]:
        """Offsets to commit for ``messages`` (default: everything ``poll`` returned so far)."""
        if messages is None:
            return dict(self._returned)
        wanted: dict[TopicPartitionKey, int] = {}
        for msg in messages:
            key = (self._prefix + msg.topic, msg.partition)
            wanted[key] = max(wanted.get(key, 0), msg.offset + 1)
        return wanted

    def restrict(
        self, wanted: Mapping[TopicPartitionKey, int], assigned: Iterable[TopicPartitionKey]
    ) -> dict[TopicPartitionKey, int]:
        """The part of ``wanted`` on assigned partitions; forgets what was returned from revoked ones."""
        owned = set(assigned)
        for key in list(self._returned):
            if key not in owned:
                del self._returned[key]
        return {key: off for key, off in wanted.items() if key in owned}

    def committed(self, offsets: Mapping[TopicPartitionKey, int]) -> None:
        for key, offset in offsets.items():
            if self._returned.get(key, 0) <= offset:
                self._returned.pop(key, None)

    def clear(self) -> None:
        self._returned.clear()


def publish_lag(group: str, lag: dict[tuple[str, int], int], polled_any: bool) -> None:
    """Export ``lag`` ((logical topic, partition) -> messages behind) as the ``soc_consumer_lag`` gauge."""
    if not polled_any:
        for key in lag:
            lag[key] = 0  # caught up: an empty poll means nothing is waiting
    for (topic, partition), behind in lag.items():
        CONSUMER_LAG.labels(group, topic, str(partition)).set(behind)


@dataclass
class TopicPlan:
    """What :meth:`ensure_topics` must do: topics to create (with configs) and topics to grow."""

    create: dict[str, tuple[int, dict[str, str]]] = field(default_factory=dict)  # name -> (partitions, configs)
    grow: dict[str, int] = field(default_factory=dict)  # name -> new partition count


def plan_topics(
    prefix: str,
    partitions: Mapping[str, int],
    retention_ms: Mapping[str, int] | None,
    existing: Mapping[str, int],
) -> TopicPlan:
    """Plan for ``partitions`` (logical name -> count) given ``existing`` (wire name -> partition count).

    Missing topics are created with ``max.message.bytes`` = :data:`MAX_MESSAGE_BYTES` and their
    retention; existing ones with fewer partitions grow. Partitions are never removed (Kafka cannot)
    and retention is only set on creation.
    """
    retention_ms = retention_ms or {}
    plan = TopicPlan()
    for logical, count in partitions.items():
        name = prefix + logical
        if name not in existing:
            configs = {"max.message.bytes": str(MAX_MESSAGE_BYTES)}
            if logical in retention_ms:
                configs["retention.ms"] = str(retention_ms[logical])
            plan.create[name] = (count, configs)
        elif existing[name] < count:
            plan.grow[name] = count
    return plan


def replication_factor(brokers: int) -> int:
    """The replication factor of the topics we create: the number of brokers, at most 3."""
    return max(1, min(3, brokers))


def wait_until_ready(ready: Callable[[], set[str]], wanted: Iterable[str], timeout_s: float, bootstrap: str) -> None:
    """Call ``ready()`` (names whose partitions all have a leader) until it covers ``wanted``, or raise."""
    want = set(wanted)
    deadline = time.monotonic() + timeout_s
    while True:
        done = ready()
        if done >= want:
            return
        if time.monotonic() > deadline:
            raise BusUnavailable(
                f"topics not ready within {timeout_s:g}s: {sorted(want - done)}", source=source(bootstrap)
            )
        time.sleep(0.1)


class _Closable(Protocol):
    def close(self) -> None: ...


class KafkaBusBase(ABC):
    """What both Kafka buses share: settings, children, ``close`` (a :class:`soc_core.bus.Bus` plus ``ensure_topics``).

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
        self._children: list[_Closable] = []

    @abstractmethod
    def ensure_topics(self, partitions: dict[str, int], retention_ms: dict[str, int] | None = None) -> None:
        """Create missing topics (``partitions``: logical name -> count), grow those with fewer partitions."""

    @abstractmethod
    def producer(self) -> Producer: ...

    @abstractmethod
    def consumer(self, group: str, topics: Sequence[str]) -> Consumer: ...

    def _adopt(self, child: _Closable) -> None:
        with self._lock:
            self._children.append(child)

    def close(self) -> None:
        with self._lock:
            children, self._children = self._children, []
        for child in children:
            child.close()
