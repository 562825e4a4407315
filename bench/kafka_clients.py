"""Benchmark: the two Kafka clients behind the bus adapter, kafka-python vs confluent-kafka, on a real broker.

For each client (``settings.kafka_client``: ``kafka-python`` -> :mod:`soc_core.adapters.kafka_bus`,
``confluent`` -> :mod:`soc_core.adapters.confluent_bus`), on the same topic layout (``PARTITIONS``
partitions created by the adapter's ``ensure_topics``, keys ``host-0`` .. ``host-15``):

- produce ``n`` messages of ~600 bytes through the adapter (``send``, ``flush`` every
  ``FLUSH_EVERY`` messages as the collector's publisher does), timed until the last flush returned;
- consume them back through the adapter in one consumer group (``poll`` batches of ``BATCH`` and a
  ``commit`` per batch, as a pipeline stage loop does), timed from the first message returned (the
  group join is not counted) to the last;
- the same with the raw client library and the same settings (acks=all, idempotence, linger 5 ms,
  the same flush and commit cadence), so the adapters' own overhead shows as a ratio.

The broker: ``bootstrap`` argument, else ``SOC_KAFKA_BOOTSTRAP``, else ``SOC_TEST_KAFKA`` from the test
services' env file (``scripts/services.sh``; ``$SOC_SERVICES_CACHE/env`` or ``.cache/services/env``).
Every run uses its own topic prefix; the topics are deleted afterwards.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient
from kafka import KafkaConsumer, KafkaProducer
from rich.console import Console
from rich.progress import Progress

from bench.report import Figure, Report, progress_bar
from soc_cli.roles import open_kafka_bus
from soc_core.errors import ConfigError

CLIENTS = ("kafka-python", "confluent")
PARTITIONS = 4
HOSTS = 16
FLUSH_EVERY = 10_000  # collectors.publisher.Publisher.max_pending
BATCH = 1000  # the worker's stage loop batch
PATIENCE_S = 300.0
REPO = Path(__file__).resolve().parents[1]


def resolve_bootstrap(bootstrap: str | None = None) -> str:
    """The broker to measure on (see the module docstring for the order)."""
    if bootstrap:
        return bootstrap
    if os.environ.get("SOC_KAFKA_BOOTSTRAP"):
        return os.environ["SOC_KAFKA_BOOTSTRAP"]
    cache = Path(os.environ.get("SOC_SERVICES_CACHE") or REPO / ".cache" / "services")
    env_file = cache / "env"
    if env_file.is_file():
        for line in env_file.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and key.strip() == "SOC_TEST_KAFKA" and value.strip():
                return value.strip()
    raise ConfigError(
        "no Kafka broker: set SOC_KAFKA_BOOTSTRAP or start one with scripts/services.sh start kafka",
        source=str(env_file),
    )


_BODY = b'{"message":"' + b"x" * 570 + b'","seq":'


def message(i: int) -> tuple[bytes, bytes]:
    """The i-th message: (~600-byte value, key of one of ``HOSTS`` hosts)."""
    return _BODY + b"%08d}" % i, b"host-%d" % (i % HOSTS)


# ----------------------------------------------------------------------------------- through the adapter
def _adapter(client: str, bootstrap: str, n: int, progress: Progress) -> tuple[float, float]:
    bus = open_kafka_bus(client, bootstrap, topic_prefix=f"bench-{uuid.uuid4().hex[:8]}.", timeout_s=30.0)
    try:
        bus.ensure_topics({"adapter": PARTITIONS})
        producer = bus.producer()
        task = progress.add_task(f"{client}: produce through the adapter", total=n)
        start = time.perf_counter()
        for i in range(n):
            value, key = message(i)
            producer.send("adapter", value, key)
            if (i + 1) % FLUSH_EVERY == 0:
                producer.flush()
                progress.update(task, completed=i + 1)
        producer.flush()
        produce = n / (time.perf_counter() - start)
        progress.update(task, completed=n)
        producer.close()

        consumer = bus.consumer("bench", ["adapter"])
        task = progress.add_task(f"{client}: consume through the adapter", total=n)
        got, first = 0, 0.0
        deadline = time.monotonic() + PATIENCE_S
        while got < n and time.monotonic() < deadline:
            batch = consumer.poll(BATCH, 1.0)
            if batch:
                first = first or time.perf_counter()
                got += len(batch)
                consumer.commit(batch)
                progress.update(task, completed=got)
        consume = got / (time.perf_counter() - first) if got >= n else 0.0
        consumer.close()
        return produce, consume
    finally:
        bus.close()
        _delete_topics(bootstrap, bus.topic_prefix)


# ---------------------------------------------------------------------------------------- raw clients
def _raw_kafka_python(bootstrap: str, topic: str, n: int, progress: Progress) -> tuple[float, float]:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    task = progress.add_task("kafka-python: produce, raw client", total=n)
    start = time.perf_counter()
    for i in range(n):
        value, key = message(i)
        producer.send(topic, value=value, key=key)
        if (i + 1) % FLUSH_EVERY == 0:
            producer.flush()
            progress.update(task, completed=i + 1)
    producer.flush()
    produce = n / (time.perf_counter() - start)
    producer.close()

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"{topic}-raw",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=6000,
        heartbeat_interval_ms=2000,
    )
    task = progress.add_task("kafka-python: consume, raw client", total=n)
    got, first = 0, 0.0
    deadline = time.monotonic() + PATIENCE_S
    while got < n and time.monotonic() < deadline:
        records = consumer.poll(timeout_ms=1000, max_records=BATCH)
        count = sum(len(r) for r in records.values())
        if count:
            first = first or time.perf_counter()
            got += count
            consumer.commit()
            progress.update(task, completed=got)
    consume = got / (time.perf_counter() - first) if got >= n else 0.0
    consumer.close(autocommit=False)
    return produce, consume


def _raw_confluent(bootstrap: str, topic: str, n: int, progress: Progress) -> tuple[float, float]:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True, "linger.ms": 5})
    task = progress.add_task("confluent: produce, raw client", total=n)
    start = time.perf_counter()
    for i in range(n):
        value, key = message(i)
        while True:
            try:
                producer.produce(topic, value, key)
                break
            except BufferError:
                producer.poll(0.01)
        if (i + 1) % FLUSH_EVERY == 0:
            producer.flush()
            progress.update(task, completed=i + 1)
    producer.flush()
    produce = n / (time.perf_counter() - start)

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"{topic}-raw",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
        }
    )
    consumer.subscribe([topic])
    task = progress.add_task("confluent: consume, raw client", total=n)
    got, first = 0, 0.0
    deadline = time.monotonic() + PATIENCE_S
    while got < n and time.monotonic() < deadline:
        batch = [m for m in consumer.consume(BATCH, 1.0) if m.error() is None]
        if batch:
            first = first or time.perf_counter()
            got += len(batch)
            consumer.commit(asynchronous=False)
            progress.update(task, completed=got)
    consume = got / (time.perf_counter() - first) if got >= n else 0.0
    consumer.close()
    return produce, consume


def _raw(client: str, bootstrap: str, n: int, progress: Progress) -> tuple[float, float]:
    """The raw client on a topic created like the adapter's (through the adapter's ensure_topics)."""
    bus = open_kafka_bus(client, bootstrap, topic_prefix=f"bench-{uuid.uuid4().hex[:8]}.", timeout_s=30.0)
    try:
        bus.ensure_topics({"raw": PARTITIONS})
        run = _raw_confluent if client == "confluent" else _raw_kafka_python
        return run(bootstrap, bus.topic_prefix + "raw", n, progress)
    finally:
        bus.close()
        _delete_topics(bootstrap, bus.topic_prefix)


def _delete_topics(bootstrap: str, prefix: str) -> None:
    with contextlib.suppress(KafkaException, RuntimeError):
        admin = AdminClient({"bootstrap.servers": bootstrap})
        doomed = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix)]
        if doomed:
            for future in admin.delete_topics(doomed, operation_timeout=10).values():
                with contextlib.suppress(KafkaException):
                    future.result()


def run(n: int = 200_000, bootstrap: str | None = None, raw: bool = True) -> Report:
    broker = resolve_bootstrap(bootstrap)
    report = Report(f"Kafka clients behind the bus adapter ({n:,} messages of ~600 bytes, real broker)")
    console = Console(stderr=True)
    adapter: dict[str, tuple[float, float]] = {}
    bare: dict[str, tuple[float, float]] = {}
    with progress_bar(console) as progress:
        for client in CLIENTS:
            adapter[client] = _adapter(client, broker, n, progress)
            if raw:
                bare[client] = _raw(client, broker, n, progress)
    k, c = adapter["kafka-python"], adapter["confluent"]
    report.add(Figure("confluent produce, adapter", c[0], "msg/s", "kafka-python produce, adapter", k[0]))
    report.add(
        Figure("confluent consume + commit, adapter", c[1], "msg/s", "kafka-python consume + commit, adapter", k[1])
    )
    if raw:
        kr, cr = bare["kafka-python"], bare["confluent"]
        report.add(Figure("confluent produce, raw client", cr[0], "msg/s", "kafka-python produce, raw client", kr[0]))
        report.add(
            Figure("confluent consume + commit, raw", cr[1], "msg/s", "kafka-python consume + commit, raw", kr[1])
        )
        for client in CLIENTS:
            a, r = adapter[client], bare[client]
            report.add(Figure(f"{client} produce, adapter", a[0], "msg/s", f"{client} produce, raw client", r[0]))
            report.add(Figure(f"{client} consume, adapter", a[1], "msg/s", f"{client} consume, raw client", r[1]))
    report.notes.append(
        f"broker {broker}; {PARTITIONS} partitions, keys over {HOSTS} hosts; flush every {FLUSH_EVERY:,} messages, "
        f"commit every poll of up to {BATCH:,}; acks=all, idempotent, linger 5 ms; {os.cpu_count()} CPUs shared "
        "with the broker"
    )
    return report
