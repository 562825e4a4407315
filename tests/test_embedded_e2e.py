"""End to end on the real embedded SOC process: demo alerts, syslog in -> alert out, SIGKILL safety."""

from __future__ import annotations

import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pipeline.enrich import ThreatIntel
from soc_cli.roles import DEMO_THREAT_INTEL
from tests.embedded_proc import EmbeddedSoc, tail_env


@pytest.fixture
def soc_demo(tmp_path: Path) -> Iterator[EmbeddedSoc]:
    soc = EmbeddedSoc(tmp_path / "data", demo=True)
    soc.start()
    try:
        yield soc
    finally:
        soc.stop()


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.3):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def test_demo_alerts_listed_with_token_and_refused_without(soc_demo: EmbeddedSoc) -> None:
    started = time.monotonic()
    soc_demo.wait_ready()
    banner = soc_demo.output()
    assert f"http://127.0.0.1:{soc_demo.api_port}/" in banner
    assert soc_demo.token in banner
    alerts = wait_for(
        lambda: soc_demo.get("/api/v1/alerts")["items"], timeout=max(1.0, 30 - (time.monotonic() - started))
    )
    assert alerts, f"no demo alerts within 30 s of start:\n{soc_demo.output()}"
    assert {"rule_id", "level", "status", "count"} <= set(alerts[0])
    # the demo threat-intel feed (soc_demo/threat_intel.csv) lists the scenarios' attackers
    listed = wait_for(lambda: [a for a in soc_demo.get("/api/v1/alerts", limit=500)["items"] if a["ti_hits"] > 0])
    assert listed, "no demo alert carries a threat-intel hit"
    feed = ThreatIntel.load([DEMO_THREAT_INTEL])
    ips = [a["entity"]["source.ip"] for a in listed if "source.ip" in (a.get("entity") or {})]
    assert ips and all(feed.ip_hits(ip) for ip in ips), ips
    r = httpx.get(f"{soc_demo.url}/api/v1/alerts", timeout=5)
    assert r.status_code == 401
    r = httpx.get(f"{soc_demo.url}/api/v1/alerts", headers={"Authorization": "Bearer soc_wrong"}, timeout=5)
    assert r.status_code == 401
    # The indexer and the alert sink read the bus independently: events become searchable
    # shortly after their alert appears, and until then the detail says how many are pending.
    detail = soc_demo.get(f"/api/v1/alerts/{alerts[0]['id']}")
    assert detail["events"] or detail["events_pending"] > 0, detail
    detail = wait_for(lambda: (d := soc_demo.get(f"/api/v1/alerts/{alerts[0]['id']}"))["events"] and d, timeout=20)
    assert detail, "alert detail must carry its triggering events once indexed"
    assert detail["events_pending"] == 0 or len(detail["events"]) >= 100


def _alerts_for_ip(soc: EmbeddedSoc, ip: str) -> list[dict[str, object]]:
    items = soc.get("/api/v1/alerts", limit=500)["items"]
    return [a for a in items if ip in str(a.get("entity"))]


def test_syslog_udp_and_tcp_lines_become_alerts(tmp_path: Path) -> None:
    soc = EmbeddedSoc(tmp_path / "data")
    soc.start()
    try:
        soc.wait_ready()
        udp_ip, tcp_ip = "203.0.113.77", "198.51.100.23"
        line = "<38>1 2026-11-20T08:15:30Z web-portal-01 sshd 4242 - - Accepted password for root from {ip} port 50022 ssh2"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(line.format(ip=udp_ip).encode(), ("127.0.0.1", soc.syslog_port))
        with socket.create_connection(("127.0.0.1", soc.syslog_port), timeout=5) as s:
            msg = line.format(ip=tcp_ip).encode()
            s.sendall(str(len(msg)).encode() + b" " + msg)
        udp_alerts = wait_for(lambda: _alerts_for_ip(soc, udp_ip))
        tcp_alerts = wait_for(lambda: _alerts_for_ip(soc, tcp_ip))
        assert udp_alerts, f"no alert for the UDP line:\n{soc.output()}"
        assert tcp_alerts, f"no alert for the TCP line:\n{soc.output()}"
        assert all(a["level"] in ("high", "critical") for a in udp_alerts + tcp_alerts)
    finally:
        soc.stop()


def _stored(data: Path) -> list[str]:
    db = data / "events.db"
    if not db.exists():
        return []
    conn = sqlite3.connect(db, timeout=30)
    try:
        return [r[0] for r in conn.execute("SELECT json_extract(doc, '$.event.original') FROM events")]
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def test_sigkill_while_ingesting_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    n = 20_000
    log = tmp_path / "auth.log"
    lines = [
        f"Nov 20 08:{(i // 600) % 60:02d}:{(i // 10) % 60:02d} web-portal-01 sshd[{1000 + i}]: "
        f"Failed password for user{i} from 10.20.{i // 250 % 250}.{i % 250} port {1024 + i} ssh2"
        for i in range(n)
    ]
    log.write_text("\n".join(lines) + "\n")
    data = tmp_path / "data"
    env = tail_env([{"path": str(log), "format": "auth"}])
    soc = EmbeddedSoc(data, env=env)
    soc.start()
    try:
        soc.wait_ready()
        partial = wait_for(lambda: len(_stored(data)) > 0, timeout=60, interval=0.05)
        assert partial, "nothing was ingested before the kill"
        soc.kill()
        before_restart = len(_stored(data))
        assert before_restart < n, "ingest finished before the kill; the test proves nothing"
        soc2 = EmbeddedSoc(data, env=env)
        soc2.start()
        try:
            soc2.wait_ready()
            done = wait_for(lambda: len(_stored(data)) >= n, timeout=120)
            assert done, f"only {len(_stored(data))} of {n} stored after restart:\n{soc2.output()}"
            time.sleep(1.0)  # anything duplicated late would show up now
        finally:
            soc2.stop()
    finally:
        soc.stop()
    stored = _stored(data)
    assert len(stored) == n
    assert sorted(stored) == sorted(lines)
