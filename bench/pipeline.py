"""Benchmark: the distributed pipeline on real Kafka and Elasticsearch, with one and with two workers.

One run measures, on the same generated provincial logs:

- end-to-end events/s with one ``soc worker`` process, then with two in one consumer group
  (records published to ``soc.raw``, parsed, enriched, detected and indexed into Elasticsearch;
  timed from the first record published until Elasticsearch counts them all);
- the Elasticsearch indexing rate (bulk writes of the already-parsed events through the adapter);
- the reference: the embedded mode (SQLite bus and store, one process) on the same input.

The Kafka client is ``settings.kafka_client`` (``SOC_KAFKA_CLIENT``), for this process and the workers.

Every run uses its own topic and index prefix, deleted afterwards.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from elasticsearch import Elasticsearch
from kafka import KafkaAdminClient

from bench.data import DEMO_ASSETS, demo_records
from bench.report import Figure, Report
from detections.sigma import Detector, RuleSet
from pipeline.enrich import AssetInventory
from pipeline.indexer import DeadLetterIndexer, EventIndexer
from pipeline.worker import EventProcessor, PipelineWorker
from soc_cli.roles import open_kafka_bus
from soc_core import serde, topics
from soc_core.adapters.es_store import ElasticsearchEventStore
from soc_core.bus import Bus
from soc_core.embedded.sqlite_bus import SqliteBus
from soc_core.embedded.sqlite_events import SqliteEventStore
from soc_core.models import RawRecord
from soc_core.settings import Settings
from soc_core.stage import StageLoop

PARTITIONS = 4
PATIENCE_S = 600.0


HOSTS = 16  # the demo files come from one machine; spread them as if 16 hosts sent them (the partition key)


def _publish(bus: Bus, prefix: str, records: list[RawRecord]) -> None:
    producer = bus.producer()
    for n, record in enumerate(records, 1):
        producer.send(prefix + topics.RAW, serde.encode_raw(record), f"host-{n % HOSTS}".encode())
        if n % 5000 == 0:
            producer.flush()
    producer.flush()
    producer.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _distributed(settings: Settings, records: list[RawRecord], workers: int, work: Path) -> float:
    """Events/s through ``workers`` worker processes, publish to all-indexed."""
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    index_prefix = f"bench{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOC_")}
    env.update(
        {
            "SOC_MODE": "distributed",
            "SOC_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "SOC_KAFKA_CLIENT": settings.kafka_client,
            "SOC_ELASTICSEARCH_URL": settings.elasticsearch_url,
            "SOC_TOPIC_PREFIX": prefix,
            "SOC_ES_INDEX_PREFIX": index_prefix,
            "SOC_ASSETS_FILE": str(DEMO_ASSETS),
            "SOC_TOPIC_PARTITIONS": f'{{"soc.raw": {PARTITIONS}, "soc.events": {PARTITIONS}}}',
        }
    )
    bus = open_kafka_bus(settings.kafka_client, settings.kafka_bootstrap, topic_prefix="", group_prefix=prefix)
    es = Elasticsearch(settings.elasticsearch_url, request_timeout=30)
    procs: list[subprocess.Popen[bytes]] = []
    soc = str(Path(sys.executable).with_name("soc"))
    try:
        for i in range(workers):
            port = _free_port()
            log = (work / f"worker-{workers}-{i}.log").open("wb")
            procs.append(
                subprocess.Popen(
                    [soc, "worker"],
                    env={**env, "SOC_DATA_DIR": str(work / f"w{workers}-{i}"), "SOC_METRICS_PORT": str(port)},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                        break
                if time.monotonic() > deadline or procs[-1].poll() is not None:
                    raise RuntimeError(f"worker did not start; see {log.name}")
                time.sleep(0.2)
        time.sleep(3.0)  # let the group settle, so the timing measures processing, not joining
        start = time.perf_counter()
        _publish(bus, prefix, records)
        deadline = time.monotonic() + PATIENCE_S
        pattern = f"{index_prefix}-events-*"
        while True:
            es.indices.refresh(index=pattern, allow_no_indices=True, ignore_unavailable=True)
            done = int(es.count(index=pattern, allow_no_indices=True, ignore_unavailable=True)["count"])
            if done >= len(records):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {done}/{len(records)} indexed after {PATIENCE_S:g}s")
            time.sleep(0.2)
        return len(records) / (time.perf_counter() - start)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        with contextlib.suppress(Exception):
            es.indices.delete(index=f"{index_prefix}-*", allow_no_indices=True, ignore_unavailable=True)
            es.indices.delete_index_template(name=f"{index_prefix}-events")
            es.indices.delete_index_template(name=f"{index_prefix}-dlq")
        es.close()
        with contextlib.suppress(Exception):
            admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
            admin.delete_topics([t for t in admin.list_topics() if t.startswith(prefix)])
            admin.close()
        bus.close()


def _es_indexing(settings: Settings, records: list[RawRecord]) -> float:
    processor = EventProcessor(Detector(RuleSet.load(list(settings.rules))), AssetInventory.load(DEMO_ASSETS))
    events = processor.process(records).events
    store = ElasticsearchEventStore(settings.elasticsearch_url, index_prefix=f"bench{uuid.uuid4().hex[:8]}")
    es = Elasticsearch(settings.elasticsearch_url, request_timeout=30)
    try:
        start = time.perf_counter()
        for i in range(0, len(events), 2000):
            store.write(events[i : i + 2000])
        store.refresh()
        return len(events) / (time.perf_counter() - start)
    finally:
        with contextlib.suppress(Exception):
            es.indices.delete(index=f"{store.prefix}-*", allow_no_indices=True, ignore_unavailable=True)
            es.indices.delete_index_template(name=f"{store.prefix}-events")
            es.indices.delete_index_template(name=f"{store.prefix}-dlq")
        es.close()
        store.close()


def _embedded(settings: Settings, records: list[RawRecord], work: Path) -> float:
    data = work / "embedded"
    data.mkdir(parents=True, exist_ok=True)
    bus = SqliteBus(data / "bus.db")
    store = SqliteEventStore(data / "events.db")
    processor = EventProcessor(Detector(RuleSet.load(list(settings.rules))), AssetInventory.load(DEMO_ASSETS))
    worker = PipelineWorker(processor, bus.producer())
    loops = [
        StageLoop("worker", bus.consumer("soc-worker", [topics.RAW]), worker.handle, batch=1000),
        StageLoop("indexer", bus.consumer("soc-indexer", [topics.EVENTS]), EventIndexer(store).handle),
        StageLoop("dlq-indexer", bus.consumer("soc-dlq", [topics.DLQ]), DeadLetterIndexer(store).handle),
    ]
    for loop in loops:
        loop.start()
    try:
        start = time.perf_counter()
        _publish(bus, "", records)
        deadline = time.monotonic() + PATIENCE_S
        while store.count() < len(records):
            if time.monotonic() > deadline:
                raise RuntimeError("embedded pipeline did not finish")
            time.sleep(0.05)
        return len(records) / (time.perf_counter() - start)
    finally:
        for loop in loops:
            loop.stop()
        store.close()
        bus.close()


def run(scale: float = 1.0, settings: Settings | None = None) -> Report:
    settings = settings or Settings()
    report = Report("distributed pipeline (real Kafka + Elasticsearch)")
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        records = demo_records(work / "logs", scale=scale)
        embedded = _embedded(settings, records, work)
        one = _distributed(settings, records, 1, work)
        two = _distributed(settings, records, 2, work)
        indexing = _es_indexing(settings, records)
    report.add(Figure("1 worker process, end to end", one, "events/s", "embedded mode, one process", embedded))
    report.add(Figure("2 worker processes, one group", two, "events/s", "1 worker process", one))
    report.add(Figure("Elasticsearch bulk indexing", indexing, "events/s"))
    report.notes.append(
        f"{len(records):,} demo records from {HOSTS} hosts, {PARTITIONS} partitions; Kafka {settings.kafka_bootstrap} "
        f"({settings.kafka_client}), "
        f"Elasticsearch {settings.elasticsearch_url}; {os.cpu_count()} CPUs"
    )
    return report
