"""Tamper-evident audit log: the hash chain verifies, and editing one stored entry (behind the
append-only trigger's back) makes verification fail exactly at that entry."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text

from soc_api.crud import audit
from soc_api.db import migrate
from soc_api.db.models import AuditLog
from soc_api.db.session import make_engine, make_sessionmaker

TRIGGER = """CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
             BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"""


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'soc.db'}"
    migrate(url)
    eng = make_engine(url)
    yield eng
    eng.dispose()


def _fill(engine: Engine, n: int) -> None:
    sessions = make_sessionmaker(engine)
    for i in range(n):
        with sessions() as s:
            audit.record(
                s,
                actor=f"an{i % 3}",
                action="alert.update",
                object_type="alert",
                object_id=f"a{i}",
                detail={"new": {"status": "acknowledged"}, "note": f"Đã xử lý {i}"},
            )
            s.commit()


def test_chain_verifies_and_links(engine: Engine) -> None:
    _fill(engine, 6)
    with make_sessionmaker(engine)() as s:
        check = audit.verify(s)
        assert check.ok and check.checked == 6 and check.broken_at is None
        rows = list(s.scalars(select(AuditLog).order_by(AuditLog.seq)))
        assert rows[0].prev_hash == audit.GENESIS
        assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))


@pytest.mark.parametrize("column", ["actor", "detail", "object_id"])
def test_editing_one_entry_breaks_the_chain_at_that_entry(engine: Engine, column: str) -> None:
    _fill(engine, 8)
    value = {"actor": "'mallory'", "detail": "'{\"new\": {}}'", "object_id": "'a99'"}[column]
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER audit_log_no_update"))
        conn.execute(text(f"UPDATE audit_log SET {column} = {value} WHERE seq = 5"))
        conn.execute(text(TRIGGER))
    with make_sessionmaker(engine)() as s:
        check = audit.verify(s)
    assert not check.ok and check.broken_at == 5 and check.reason is not None


def test_rehashing_an_edit_still_breaks_the_next_link(engine: Engine) -> None:
    _fill(engine, 5)
    sessions = make_sessionmaker(engine)
    with sessions() as s:
        entry = s.scalars(select(AuditLog).where(AuditLog.seq == 3)).one()
        entry.actor = "mallory"
        forged = audit.entry_hash(entry.prev_hash or "", entry)
        s.rollback()
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER audit_log_no_update"))
        conn.execute(text("UPDATE audit_log SET actor = 'mallory', hash = :h WHERE seq = 3"), {"h": forged})
        conn.execute(text(TRIGGER))
    with sessions() as s:
        check = audit.verify(s)
    assert not check.ok and check.broken_at == 4


def test_api_verify_route(tmp_path: Path) -> None:
    from tests.test_api_auth import build_env

    env, store = build_env(tmp_path)
    try:
        env.client.post("/api/v1/users", headers=env.auth("admin"), json={"name": "n1", "role": "analyst"})
        ok = env.client.get("/api/v1/audit/verify", headers=env.auth("admin")).json()
        assert ok["ok"] and ok["checked"] >= 1
        listed = env.client.get("/api/v1/audit?action=user.create", headers=env.auth("admin")).json()
        assert listed["total"] == 1 and listed["items"][0]["hash"]
        assert env.client.get("/api/v1/audit/verify", headers=env.auth("analyst")).status_code == 403
        with env.sessions() as s:
            s.execute(text("DROP TRIGGER audit_log_no_update"))
            s.execute(text("UPDATE audit_log SET actor = 'x' WHERE seq = 1"))
            s.commit()
        bad = env.client.get("/api/v1/audit/verify", headers=env.auth("admin")).json()
        assert bad == {**bad, "ok": False, "broken_at": 1}
    finally:
        env.client.close()
        store.close()
