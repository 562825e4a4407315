"""KafkaBus and ConfluentBus against a real Apache Kafka broker (started by scripts/services.sh).

Every test runs once per Kafka client (``kafka_bus_factory`` / ``kafka_bus_class`` are parametrized
in conftest): both adapters keep the same failure contract.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from kafka import KafkaAdminClient

from soc_core.adapters.kafka_common import MAX_MESSAGE_BYTES, MAX_REQUEST_BYTES
from soc_core.bus import Consumer, Message
from soc_core.errors import BusError, BusUnavailable
from tests.distributed.conftest import free_port

if TYPE_CHECKING:
    from tests.distributed.conftest import AnyKafkaBus

pytestmark = pytest.mark.distributed

PATIENCE_S = 30.0  # upper bound for a poll loop; tests end as soon as the data is there


def poll_until(consumer: Consumer, count: int) -> list[Message]:
    got: list[Message] = []
    deadline = time.monotonic() + PATIENCE_S
    while len(got) < count and time.monotonic() < deadline:
        got.extend(consumer.poll(max_records=500, timeout=0.5))
    return got


def test_round_trip_keeps_keys_values_and_key_partitioning(kafka_bus_factory: Callable[..., AnyKafkaBus]) -> None:
    bus = kafka_bus_factory()
    bus.ensure_topics({"soc.raw": 4})
    producer = bus.producer()
    sent = [(f"host-{i % 3}".encode(), f"record-{i}".encode()) for i in range(30)]
    for key, value in sent:
        producer.send("soc.raw", value, key=key)
    producer.flush()

    got = poll_until(bus.consumer("workers", ["soc.raw"]), len(sent))

    assert sorted((m.key, m.value) for m in got) == sorted(sent)
    assert {m.topic for m in got} == {"soc.raw"}  # logical name, prefix stripped
    partitions_by_key: dict[bytes | None, set[int]] = {}
    for m in got:
        partitions_by_key.setdefault(m.key, set()).add(m.partition)
    assert all(len(p) == 1 for p in partitions_by_key.values())  # one host -> one partition (ordering)
    for host in partitions_by_key:  # order per key is preserved
        values = [m.value for m in sorted(got, key=lambda m: m.offset) if m.key == host]
        assert values == [v for k, v in sent if k == host]


def test_uncommitted_messages_are_redelivered_committed_ones_are_not(
    kafka_bus_factory: Callable[..., AnyKafkaBus],
) -> None:
    bus = kafka_bus_factory()
    bus.ensure_topics({"soc.events": 1})
    producer = bus.producer()
    for i in range(10):
        producer.send("soc.events", f"e{i}".encode())
    producer.flush()

    first = bus.consumer("indexer", ["soc.events"])
    batch = poll_until(first, 10)
    assert [m.value for m in batch] == [f"e{i}".encode() for i in range(10)]
    first.commit(batch[:4])  # only the first four reached the store
    first.close()

    second = bus.consumer("indexer", ["soc.events"])
    redelivered = poll_until(second, 6)
    assert [m.value for m in redelivered] == [f"e{i}".encode() for i in range(4, 10)]
    second.commit()  # everything poll returned
    second.close()

    producer.send("soc.events", b"sentinel")
    producer.flush()
    third = bus.consumer("indexer", ["soc.events"])
    after = poll_until(third, 1)
    assert [m.value for m in after] == [b"sentinel"]  # nothing committed came back


def test_two_consumers_in_one_group_split_the_partitions(kafka_bus_factory: Callable[..., AnyKafkaBus]) -> None:
    bus = kafka_bus_factory()
    bus.ensure_topics({"soc.raw": 4})
    a = bus.consumer("parsers", ["soc.raw"])
    b = bus.consumer("parsers", ["soc.raw"])
    got: dict[str, list[Message]] = {"a": [], "b": []}
    deadline = time.monotonic() + PATIENCE_S
    while time.monotonic() < deadline:
        got["a"].extend(a.poll(timeout=0.3))
        got["b"].extend(b.poll(timeout=0.3))
        pa, pb = a.assignment(), b.assignment()
        if pa and pb and not (pa & pb) and len(pa | pb) == 4:
            break
    pa, pb = a.assignment(), b.assignment()
    assert pa and pb, "both consumers must own partitions"
    assert not pa & pb
    assert pa | pb == {("soc.raw", p) for p in range(4)}

    producer = bus.producer()
    for i in range(40):
        producer.send("soc.raw", f"v{i}".encode(), key=f"host-{i}".encode())
    producer.flush()
    deadline = time.monotonic() + PATIENCE_S
    while len(got["a"]) + len(got["b"]) < 40 and time.monotonic() < deadline:
        got["a"].extend(a.poll(timeout=0.3))
        got["b"].extend(b.poll(timeout=0.3))

    assert sorted(m.value for m in got["a"] + got["b"]) == sorted(f"v{i}".encode() for i in range(40))
    assert got["a"] and got["b"]
    assert {(m.topic, m.partition) for m in got["a"]} <= pa
    assert {(m.topic, m.partition) for m in got["b"]} <= pb


def test_flush_raises_bus_unavailable_when_the_broker_is_down(kafka_bus_class: type[AnyKafkaBus]) -> None:
    bus = kafka_bus_class(f"127.0.0.1:{free_port()}", timeout_s=1.0)
    producer = bus.producer()
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            for i in range(100):  # after the first failure sends do not block again
                producer.send("soc.raw", f"r{i}".encode(), key=b"h")
            producer.flush()
        except BaseException as exc:  # recorded for the assertion below
            outcome["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(PATIENCE_S)  # bounded: configured for 1 s, must not hang for the default minutes
    assert not worker.is_alive(), "flush against a dead broker did not return"
    assert isinstance(outcome.get("error"), BusUnavailable)
    producer.close()
    bus.close()


def test_consumer_on_a_dead_broker_raises_bus_unavailable(kafka_bus_class: type[AnyKafkaBus]) -> None:
    bus = kafka_bus_class(f"127.0.0.1:{free_port()}", timeout_s=1.0)
    with pytest.raises(BusUnavailable):
        bus.consumer("g", ["soc.raw"])


def test_ensure_topics_is_idempotent_and_grows_partitions(
    kafka_bus_factory: Callable[..., AnyKafkaBus], kafka_bootstrap: str
) -> None:
    bus = kafka_bus_factory()
    bus.ensure_topics({"soc.raw": 2, "soc.dlq": 1}, retention_ms={"soc.dlq": 7 * 24 * 3600 * 1000})
    bus.ensure_topics({"soc.raw": 2, "soc.dlq": 1})
    bus.ensure_topics({"soc.raw": 6})
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, request_timeout_ms=10000)
    try:
        topics = {
            t["topic"]: len(t["partitions"])
            for t in admin.describe_topics([f"{bus.topic_prefix}soc.raw", f"{bus.topic_prefix}soc.dlq"])
        }
    finally:
        admin.close()
    assert topics == {f"{bus.topic_prefix}soc.raw": 6, f"{bus.topic_prefix}soc.dlq": 1}


def test_ensure_topics_sets_retention_and_message_limit_on_creation(
    kafka_bus_factory: Callable[..., AnyKafkaBus], kafka_bootstrap: str
) -> None:
    from confluent_kafka.admin import AdminClient, ConfigResource

    bus = kafka_bus_factory()
    week = 7 * 24 * 3600 * 1000
    bus.ensure_topics({"soc.raw": 1, "soc.dlq": 1}, retention_ms={"soc.dlq": week})
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    configs = {}
    for name in ("soc.raw", "soc.dlq"):
        resource = ConfigResource("topic", bus.topic_prefix + name)
        entries = admin.describe_configs([resource])[resource].result(timeout=10)
        configs[name] = {k: entries[k].value for k in ("retention.ms", "max.message.bytes")}
    assert configs["soc.dlq"] == {"retention.ms": str(week), "max.message.bytes": str(MAX_MESSAGE_BYTES)}
    assert configs["soc.raw"]["max.message.bytes"] == str(MAX_MESSAGE_BYTES)
    assert configs["soc.raw"]["retention.ms"] != str(week)  # broker default


def test_message_larger_than_the_request_limit_is_refused_for_good(
    kafka_bus_factory: Callable[..., AnyKafkaBus],
) -> None:
    bus = kafka_bus_factory()
    bus.ensure_topics({"soc.raw": 1})
    producer = bus.producer()
    with pytest.raises(BusError) as info:  # confluent refuses at send, kafka-python at the flush
        producer.send("soc.raw", b"x" * (MAX_REQUEST_BYTES + 1))
        producer.flush()
    assert not isinstance(info.value, BusUnavailable)  # refused for good: the collector dead-letters it
    producer.send("soc.raw", b"after")  # the producer stays usable
    producer.flush()
    assert [m.value for m in poll_until(bus.consumer("g", ["soc.raw"]), 1)] == [b"after"]


def test_message_the_broker_refuses_as_too_large_fails_the_flush_for_good(
    kafka_bus_factory: Callable[..., AnyKafkaBus],
) -> None:
    bus = kafka_bus_factory()
    bus.ensure_topics({"soc.raw": 1})
    producer = bus.producer()
    producer.send("soc.raw", b"x" * (MAX_MESSAGE_BYTES + 16 * 1024))  # under the client's limit, over the topic's
    with pytest.raises(BusError) as info:
        producer.flush()
    assert not isinstance(info.value, BusUnavailable)
    producer.send("soc.raw", b"after")  # a dead letter standing for it can still be sent
    producer.flush()
    assert [m.value for m in poll_until(bus.consumer("g", ["soc.raw"]), 1)] == [b"after"]


def test_lag_assigned_and_seek_to_committed(kafka_bus_factory: Callable[..., AnyKafkaBus]) -> None:
    bus = kafka_bus_factory()
    bus.ensure_topics({"soc.events": 1})
    producer = bus.producer()
    for i in range(100):
        producer.send("soc.events", f"e{i}".encode())
    producer.flush()
    consumer = bus.consumer("indexer", ["soc.events"])
    first: list[Message] = []
    deadline = time.monotonic() + PATIENCE_S
    while not first and time.monotonic() < deadline:
        first = consumer.poll(max_records=10, timeout=0.5)
    assert 0 < len(first) <= 10
    assert consumer.assigned == frozenset({("soc.events", 0)}) == consumer.assignment()
    assert consumer.lag[("soc.events", 0)] == 100 - (first[-1].offset + 1)

    consumer.commit(first[:4])
    consumer.seek_to_committed()  # e.g. the store failed: re-read what was not committed
    again = poll_until(consumer, 96)
    assert [m.value for m in again] == [f"e{i}".encode() for i in range(4, 100)]
    assert consumer.poll(timeout=0.5) == []
    assert consumer.lag[("soc.events", 0)] == 0
