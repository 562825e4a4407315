"""Reconciliation in the embedded mode: per source and hour, received = stored + dead-lettered,
through the real collect/worker/api-sink roles, the soc.counts topic and the ops endpoint."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from pipeline.reconcile import CountBuffer, CountsEmitter, CountsFold, hour_of, source_key
from soc_api.app import create_app
from soc_cli.roles import alert_sink_role, collect_role, load_rules, open_bus, open_database, open_store, worker_role
from soc_core import counts
from soc_core.bus import Message
from soc_core.embedded.sqlite_bus import SqliteBus
from soc_core.settings import Settings


def test_source_key_drops_the_sending_port_only() -> None:
    assert source_key("udp://10.0.0.1:51514") == "udp://10.0.0.1"
    assert source_key("tcp://[2001:db8::1]:6000") == "tcp://[2001:db8::1]"
    assert source_key("/var/log/auth.log") == "/var/log/auth.log"
    assert hour_of(7199.9) == 3600


def test_fold_is_idempotent_by_emitter_and_sequence(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'c.db'}")
    fold = CountsFold(engine)
    batch = counts.CountBatch("w1", 1, [counts.CountRow(3600, "udp://a", "received", 5)])
    msg = Message("soc.counts", 0, 0, None, counts.encode(batch), 0.0)
    fold.handle([msg, msg])  # redelivered in the same batch
    fold.handle([msg])  # and again later
    fold.handle([Message("soc.counts", 0, 1, None, b"\xff junk", 0.0)])  # malformed: skipped, no crash
    rows = counts.reconciliation(engine, 3600)
    assert [(r.source, r.counts["received"]) for r in rows] == [("udp://a", 5)]
    assert not rows[0].balanced


def test_emitter_keeps_counts_while_the_bus_refuses_them(tmp_path: Path) -> None:
    from soc_core.errors import BusUnavailable

    class Down:
        def send(self, topic: str, value: bytes, key: bytes | None = None) -> None:
            raise BusUnavailable("down")

        def flush(self) -> None:
            raise BusUnavailable("down")

        def close(self) -> None:
            return None

    buffer = CountBuffer()
    buffer.add("received", "udp://a:1", 10.0, 3)
    emitter = CountsEmitter(Down(), buffer, topic="soc.counts", role="t")
    assert emitter.emit() is False
    bus = SqliteBus(tmp_path / "bus.db")
    emitter.producer = bus.producer()
    assert emitter.emit() is True
    got = bus.consumer("g", ["soc.counts"]).poll(10, 1.0)
    assert [counts.decode(m.value).rows for m in got] == [[counts.CountRow(0, "udp://a", "received", 3)]]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(mode="embedded", data_dir=tmp_path / "data", syslog_port=0)


@pytest.fixture
def running(settings: Settings) -> Iterator[tuple[int, int]]:
    settings.ensure_dirs()
    bus, store, sessions = open_bus(settings), open_store(settings), open_database(settings)
    from pipeline.enrich import AssetInventory

    collect, syslog = collect_role(settings, bus)
    roles = [
        worker_role(settings, bus, store, AssetInventory.empty(), load_rules(settings)),
        alert_sink_role(settings, bus, sessions),
        collect,
    ]
    for role in roles:
        role.start()
    assert syslog.udp_port is not None and syslog.tcp_port is not None
    try:
        yield syslog.udp_port, syslog.tcp_port
    finally:
        for role in reversed(roles):
            role.stop()
        store.close()


def test_received_equals_stored_plus_dead_lettered_per_source(
    settings: Settings, running: tuple[int, int], tmp_path: Path
) -> None:
    udp_port, tcp_port = running
    ts = datetime.now(UTC).strftime("%b %d %H:%M:%S")
    good = [f"<30>{ts} app01 cron[{i}]: job {i} ran".encode() for i in range(30)]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for line in good[:20]:
            s.sendto(line, ("127.0.0.1", udp_port))
        s.sendto(b"\x00\x01binary junk", ("127.0.0.1", udp_port))  # a dead letter
    with socket.create_connection(("127.0.0.1", tcp_port)) as c:
        c.sendall(b"".join(b"%d %s" % (len(x), x) for x in good[20:]))

    app = create_app(settings, event_store=open_store(settings))
    from soc_api.crud.users import create_user

    with app.state.sessionmaker() as session:
        _, analyst = create_user(session, "ana", "analyst", None)
        _, reporter = create_user(session, "feed", "feed_client", None)
        session.commit()
    hour = datetime.now(UTC).strftime("%Y-%m-%dT%H")
    with TestClient(app) as client:
        deadline = time.monotonic() + 30
        body: dict[str, object] = {}
        while time.monotonic() < deadline:
            resp = client.get(
                "/api/v1/ops/reconciliation", params={"hour": hour}, headers={"Authorization": f"Bearer {analyst}"}
            )
            assert resp.status_code == 200
            body = resp.json()
            by = {s["source"]: s for s in body["sources"]}  # type: ignore[union-attr]
            udp = by.get("udp://127.0.0.1", {})
            tcp = by.get("tcp://127.0.0.1", {})
            if udp.get("indexed") == 20 and udp.get("dead_letters_stored") == 1 and tcp.get("indexed") == 10:
                break
            time.sleep(0.2)
        by = {s["source"]: s for s in body["sources"]}  # type: ignore[union-attr]
        assert by["udp://127.0.0.1"] == {
            "source": "udp://127.0.0.1",
            "received": 21,
            "parsed": 20,
            "dead_lettered": 1,
            "published": 20,
            "indexed": 20,
            "dead_letters_stored": 1,
            "balanced": True,
        }
        assert by["tcp://127.0.0.1"]["received"] == by["tcp://127.0.0.1"]["indexed"] == 10
        assert body["balanced"] is True
        assert (
            client.get(
                "/api/v1/ops/reconciliation", params={"hour": hour}, headers={"Authorization": f"Bearer {reporter}"}
            ).status_code
            == 403
        )
        assert client.get("/api/v1/ops/reconciliation", params={"hour": "not-a-time"}).status_code == 401
        bad = client.get(
            "/api/v1/ops/reconciliation", params={"hour": "yesterday"}, headers={"Authorization": f"Bearer {analyst}"}
        )
        assert bad.status_code == 422
        metrics = client.get("/metrics")
        assert metrics.status_code == 200
        assert 'soc_records_in_total{role="collect",source="udp://127.0.0.1"}' in metrics.text
