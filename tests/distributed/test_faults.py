"""Fault tests on the real servers, each counting every record: the store ends with exactly the records
sent (no loss, no duplicate) plus dead letters with reasons.

- a worker SIGKILLed mid-stream and restarted;
- Kafka stopped for 60 s while the collector keeps receiving (it spools to disk, replays in order);
- Elasticsearch stopped for 60 s while the workers run (Kafka keeps the backlog; a time-window
  correlation still fires over the backfilled span);
- poison records (binary junk, invalid UTF-8, a 10 MB line, invalid JSON) -> dead letters.

The outages use ``scripts/services.sh stop|start`` on the services this checkout runs; recovery times
are printed (``-s``), never asserted.
"""

from __future__ import annotations

import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from tests.distributed.conftest import service_env
from tests.distributed.harness import (
    Deployment,
    StoreProbe,
    deployment,
    plain_line,
    send_tcp,
    ssh_failed_line,
    wait_for,
)

pytestmark = pytest.mark.distributed

OUTAGE_S = 60.0
BRUTE_FORCE_RULE = "SSH Brute Force Against Provincial Server"


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


def _tag() -> str:
    return "f" + uuid.uuid4().hex[:10]


def _all_stored(probe: StoreProbe, tag: str, sent: set[str], timeout: float) -> list[str]:
    def done() -> list[str] | None:
        stored = probe.event_ids_matching(tag)
        return stored if len(stored) >= len(sent) else None

    stored: list[str] = wait_for(done, f"{len(sent)} events tagged {tag}", timeout, interval=1.0)
    return stored


def _assert_exact(stored: list[str], sent: set[str]) -> None:
    assert len(stored) == len(sent), f"{len(stored)} stored for {len(sent)} sent"
    assert set(stored) == sent  # nothing lost, nothing duplicated


def _services(action: str, name: str) -> float:
    """``scripts/services.sh ACTION NAME`` on this checkout's services; returns the seconds it took."""
    import os
    import subprocess

    from tests.distributed.conftest import REPO

    env = dict(os.environ)
    values = service_env()
    kafka_port = int(values["SOC_TEST_KAFKA"].rsplit(":", 1)[1])
    es_port = int(values["SOC_TEST_ES"].rsplit(":", 1)[1])
    env.setdefault("SOC_KAFKA_PORT", str(kafka_port))
    env.setdefault("SOC_KAFKA_CONTROLLER_PORT", str(kafka_port + 1))
    env.setdefault("SOC_ES_PORT", str(es_port))
    env.setdefault("SOC_ES_TRANSPORT_PORT", str(es_port + 100))
    started = time.monotonic()
    subprocess.run([str(REPO / "scripts" / "services.sh"), action, name], check=True, env=env, cwd=REPO, timeout=300)
    return time.monotonic() - started


def test_worker_sigkilled_mid_stream_then_restarted(dep: Deployment, es_client: Elasticsearch) -> None:
    dep.start("api")
    dep.start("worker")
    dep.start("collect")
    tag = _tag()
    lines = [plain_line(i, tag) for i in range(4000)]
    sent = {line.decode() for line in lines}
    probe = StoreProbe(es_client, dep.index_prefix)

    def send_slowly() -> None:
        for i in range(0, len(lines), 200):
            send_tcp(dep.syslog_port, lines[i : i + 200])
            time.sleep(0.05)

    sender = threading.Thread(target=send_slowly)
    sender.start()
    wait_for(lambda: len(probe.event_ids_matching(tag)) >= 300, "the worker to be mid-stream", 60, 0.2)
    assert dep.stop("worker", signal.SIGKILL) == -signal.SIGKILL
    killed_at = time.monotonic()
    dep.start("worker")
    sender.join(120)
    stored = _all_stored(probe, tag, sent, 120)
    print(f"\nworker SIGKILL: all {len(sent)} records stored {time.monotonic() - killed_at:.1f}s after the kill")
    _assert_exact(stored, sent)
    assert probe.dead_letters() == []


def test_kafka_down_60s_collector_spools_and_replays_in_order(dep: Deployment, es_client: Elasticsearch) -> None:
    dep.start("api")
    dep.start("worker")
    dep.start("collect")
    tag = _tag()
    probe = StoreProbe(es_client, dep.index_prefix)
    before = [plain_line(i, tag) for i in range(200)]
    send_tcp(dep.syslog_port, before)
    _all_stored(probe, tag, {line.decode() for line in before}, 60)

    _services("stop", "kafka")
    try:
        down_at = time.monotonic()
        during = [plain_line(i, tag) for i in range(200, 1200)]
        for i in range(0, len(during), 100):  # the collector keeps receiving through the outage
            send_tcp(dep.syslog_port, during[i : i + 100])
            time.sleep(2.0)
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
        spool = dep.root / "collect" / "spool"
        assert any(p.stat().st_size > 0 for p in spool.rglob("*") if p.is_file()), "the collector did not spool"
    finally:
        _services("start", "kafka")
    back_at = time.monotonic()
    after = [plain_line(i, tag) for i in range(1200, 1400)]
    send_tcp(dep.syslog_port, after)
    sent = {line.decode() for line in before + during + after}
    stored = _all_stored(probe, tag, sent, 180)
    print(f"\nKafka outage {OUTAGE_S:.0f}s: backlog stored {time.monotonic() - back_at:.1f}s after Kafka was back")
    _assert_exact(stored, sent)
    assert probe.dead_letters() == []


def test_elasticsearch_down_60s_backlog_drains_and_window_rule_fires(dep: Deployment, es_client: Elasticsearch) -> None:
    dep.start("api")
    dep.start("worker")
    dep.start("collect")
    tag = _tag()
    attacker = f"198.51.100.{uuid.uuid4().int % 200 + 1}"
    probe = StoreProbe(es_client, dep.index_prefix)
    token = dep.token("analyst")

    _services("stop", "es")
    try:
        down_at = time.monotonic()
        # a brute force spread over the last four minutes (inside the rule's 5 min window), plus noise
        start = datetime.now(UTC) - timedelta(minutes=4)
        failed = [ssh_failed_line(i, attacker, tag, start + timedelta(seconds=20 * i)) for i in range(12)]
        noise = [plain_line(i, tag) for i in range(500)]
        send_tcp(dep.syslog_port, failed + noise)
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
    finally:
        es_client.close()
        _services("start", "es")
    back_at = time.monotonic()
    es = Elasticsearch(service_env()["SOC_TEST_ES"], request_timeout=30)
    try:
        probe = StoreProbe(es, dep.index_prefix)
        sent = {line.decode() for line in failed + noise}
        stored = _all_stored(probe, tag, sent, 180)
        print(f"\nES outage {OUTAGE_S:.0f}s: backlog indexed {time.monotonic() - back_at:.1f}s after ES was back")
        _assert_exact(stored, sent)
        assert probe.dead_letters() == []
        with dep.api(token) as api:

            def brute_force() -> list[dict[str, object]]:
                items = api.get("/api/v1/alerts", params={"limit": 100}).json()["items"]
                return [a for a in items if a["rule_title"] == BRUTE_FORCE_RULE]

            alerts = wait_for(brute_force, "the brute-force correlation alert", 60)
        assert len(alerts) == 1
    finally:
        es.close()


def test_poison_records_become_dead_letters_with_reasons(dep: Deployment, es_client: Elasticsearch) -> None:
    tail = dep.root / "app.jsonl"
    tail.write_bytes(b"")
    dep.start("api")
    dep.start("worker")
    dep.start("collect", SOC_TAIL=f'[{{"path": "{tail}", "format": "jsonl"}}]')
    tag = _tag()
    probe = StoreProbe(es_client, dep.index_prefix)

    good = [plain_line(i, tag) for i in range(50)]
    junk = bytes(range(256)) * 8  # NUL bytes: not text
    bad_utf8 = f"<13>Mar  1 08:00:00 {tag} app: caf".encode() + b"\xc3\x28 \xff\xfe"  # stored, tagged invalid_utf8
    send_tcp(dep.syslog_port, [*good, junk, bad_utf8])
    huge = b"<13>" + b"A" * (10 * 1024 * 1024)
    send_tcp(dep.syslog_port, [huge])  # above syslog_max_message: dead-lettered whole by the collector
    json_ok = '{"event": {"kind": "event"}, "message": "ok ' + tag + '"}'
    with tail.open("ab") as fh:
        fh.write(json_ok.encode() + b"\n")
        fh.write(b'{"event": {"kind": "event", broken json ' + tag.encode() + b"\n")

    expected_events = {line.decode() for line in good}
    wait_for(lambda: len(probe.dead_letters()) >= 3, "three dead letters", 60, 1.0)
    stored = _all_stored(probe, tag, expected_events | {bad_utf8.decode("utf-8", "replace"), json_ok}, 60)
    letters = probe.dead_letters()
    reasons = {letter["reason"] for letter in letters}
    assert len(letters) == 3, reasons
    assert all(letter["reason"] for letter in letters)
    assert any("binary" in r for r in reasons)
    assert any("exceeds" in r for r in reasons)
    assert any("invalid JSON" in r for r in reasons)
    # 50 good + the invalid UTF-8 one (+ the valid JSON line from the file, matched by its tag)
    assert len(stored) == len(expected_events) + 2
    assert expected_events <= set(stored)
    stored_tags = es_client.search(
        index=f"{dep.index_prefix}-events-*", query={"term": {"tags": "invalid_utf8"}}, size=10
    )["hits"]["hits"]
    assert len(stored_tags) == 1
