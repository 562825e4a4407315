"""End to end on the real servers: syslog (UDP and TCP) -> `soc collect` -> Kafka -> `soc worker`
-> Elasticsearch + alerts -> `soc api` (PostgreSQL), as three separate processes."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from elasticsearch import Elasticsearch

from tests.distributed.harness import (
    Deployment,
    StoreProbe,
    deployment,
    plain_line,
    send_tcp,
    send_udp,
    ssh_root_line,
    wait_for,
)

pytestmark = pytest.mark.distributed

ROOT_RULE = "SSH Root Login Accepted From Outside Internal Ranges"


@pytest.fixture
def dep(
    kafka_bootstrap: str,
    es_url: str,
    es_client: Elasticsearch,
    pg_database_factory: Callable[[], str],
    tmp_path: Path,
) -> Iterator[Deployment]:
    with deployment(kafka_bootstrap, es_url, pg_database_factory(), tmp_path) as d:
        yield d
        StoreProbe(es_client, d.index_prefix).cleanup()


def test_syslog_in_alert_out_through_three_role_processes(dep: Deployment, es_client: Elasticsearch) -> None:
    dep.start("api")
    dep.start("worker")
    dep.start("collect")
    tag = "e2e" + uuid.uuid4().hex[:8]

    udp = [ssh_root_line(i, tag) for i in range(5)] + [plain_line(i, tag) for i in range(20)]
    tcp = [ssh_root_line(i, tag) for i in range(5, 10)] + [plain_line(i, tag) for i in range(20, 40)]
    send_udp(dep.syslog_port, udp)
    send_tcp(dep.syslog_port, tcp)
    sent = {line.decode() for line in udp + tcp}

    probe = StoreProbe(es_client, dep.index_prefix)
    stored = wait_for(lambda: (s := probe.event_ids_matching(tag)) and len(s) >= len(sent) and s, "events in ES")
    assert sorted(stored) == sorted(sent)  # each record exactly once

    token = dep.token("analyst")
    with dep.api(token) as api:

        def root_alerts() -> list[dict[str, object]]:
            resp = api.get("/api/v1/alerts", params={"limit": 100})
            resp.raise_for_status()
            items = resp.json()["items"]
            return [a for a in items if a["rule_title"] == ROOT_RULE]

        alerts = wait_for(root_alerts, "the SSH root alert through soc api")
        assert sum(int(a["count"]) for a in alerts) == 10  # one detection per root login, folded
        assert api.get("/api/v1/alerts").status_code == 200
        health = api.get("/api/v1/health").json()
        assert health["mode"] == "distributed"
        unauth = httpx.get(f"http://127.0.0.1:{dep.api_port}/api/v1/ops/reconciliation", timeout=5)
        assert unauth.status_code == 401

    worker_metrics = dep.metrics("worker")
    assert "soc_records_in_total" in worker_metrics
    assert "soc_bulk_seconds_count" in worker_metrics
    assert "soc_consumer_lag" in worker_metrics
    collect_metrics = dep.metrics("collect")
    received = sum(
        float(line.rsplit(" ", 1)[1])
        for line in collect_metrics.splitlines()
        if line.startswith("soc_records_in_total{") and 'role="collect"' in line
    )
    assert received == len(sent)
    api_metrics = httpx.get(f"http://127.0.0.1:{dep.api_port}/metrics", timeout=5)
    assert api_metrics.status_code == 200
    assert "soc_consumer_lag" in api_metrics.text  # the alert sink's consumer


def test_two_workers_in_one_group_split_the_partitions(dep: Deployment, es_client: Elasticsearch) -> None:
    dep.start("api")
    dep.start("worker", "worker-a")
    dep.start("worker", "worker-b")
    dep.start("collect")

    def assigned(name: str) -> set[str]:
        port = dep.procs[name].metrics_port
        try:
            stages = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json()["stages"]
        except (httpx.HTTPError, KeyError, ValueError):
            return set()
        return set(stages.get("worker", {}).get("assigned", []))

    # the group has settled with both members: each owns part of soc.raw, and together all of it
    settled = wait_for(
        lambda: (a := assigned("worker-a")) and (b := assigned("worker-b")) and a.isdisjoint(b) and len(a | b) >= 4,
        "both workers owning partitions of soc.raw",
        90,
    )
    assert settled
    tag = "two" + uuid.uuid4().hex[:8]
    # twenty sending hosts (127.0.1.x; the sending host is the partition key), so the records spread
    # over the four partitions of soc.raw
    lines = [plain_line(i, tag) for i in range(2000)]
    for n, i in enumerate(range(0, len(lines), 100)):
        send_tcp(dep.syslog_port, lines[i : i + 100], source_ip=f"127.0.1.{n + 1}")
    sent = {line.decode() for line in lines}
    stored = wait_for(
        lambda: (s := StoreProbe(es_client, dep.index_prefix).event_ids_matching(tag)) and len(s) >= len(sent) and s,
        "events in ES",
        120,
    )
    assert sorted(stored) == sorted(sent)

    def raw_partitions(name: str) -> tuple[set[str], int]:
        port = dep.procs[name].metrics_port
        stage = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json()["stages"]["worker"]
        return set(stage["partitions"]), int(stage["processed"])

    (parts_a, done_a), (parts_b, done_b) = raw_partitions("worker-a"), raw_partitions("worker-b")
    assert parts_a and parts_b, "both workers must have consumed"
    assert parts_a.isdisjoint(parts_b)
    assert done_a > 0 and done_b > 0
    assert done_a + done_b == len(sent)
