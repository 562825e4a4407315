"""Alembic migrations agree with the ORM models; SQLite pragmas; append-only audit log."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, MetaData, String, inspect, text
from sqlalchemy.exc import DatabaseError

from soc_api.crud import audit
from soc_api.db import alembic_config, migrate
from soc_api.db.base import Base
from soc_api.db.models import AuditLog
from soc_api.db.session import make_engine, make_sessionmaker
from soc_core.counts import counts_table


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'nested' / 'soc.db'}"
    migrate(url)
    return url


def _diff(url: str, metadata: MetaData) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(ctx, metadata))
    finally:
        engine.dispose()


def _all_models() -> MetaData:
    """The API's ORM models plus the counts table the pipeline shares (soc_core.counts)."""
    combined = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(combined)
    counts_table.to_metadata(combined)
    return combined


def test_migrations_match_models(url: str) -> None:
    assert _diff(url, _all_models()) == []


def test_comparison_detects_drift(url: str) -> None:
    # The comparison above is only meaningful if it can see a difference.
    drifted = _all_models()
    drifted.tables["alerts"].append_column(Column("extra", String(10)))
    diff = _diff(url, drifted)
    assert any(d[0] == "add_column" and d[3].name == "extra" for d in diff if isinstance(d, tuple))


def test_migrate_is_idempotent_and_creates_tables(url: str) -> None:
    migrate(url)
    engine = make_engine(url)
    try:
        names = set(inspect(engine).get_table_names())
        assert {"units", "users", "api_tokens", "alerts", "alert_events", "audit_log", "alembic_version"} <= names
        with engine.connect() as conn:
            heads = set(ScriptDirectory.from_config(alembic_config(url)).get_heads())
            assert set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars()) == heads
            assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
    finally:
        engine.dispose()


def test_audit_log_refuses_update_and_delete(url: str) -> None:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    try:
        with sessions() as s:
            audit.record(s, actor="an", action="alert.update", object_type="alert", object_id="a1", detail={"x": 1})
            s.commit()
        with engine.connect() as conn:
            with pytest.raises(DatabaseError, match="append-only"):
                conn.execute(text("UPDATE audit_log SET actor = 'mallory'"))
            conn.rollback()
            with pytest.raises(DatabaseError, match="append-only"):
                conn.execute(text("DELETE FROM audit_log"))
            conn.rollback()
        with sessions() as s:
            rows = audit.entries_for(s, "alert", "a1")
            assert [(r.actor, r.detail) for r in rows] == [("an", {"x": 1})]
            assert s.query(AuditLog).count() == 1
    finally:
        engine.dispose()


def test_foreign_keys_enforced(url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.connect() as conn, pytest.raises(DatabaseError):
            conn.execute(
                text(
                    "INSERT INTO users (name, role, unit_code, created_at, disabled) "
                    "VALUES ('u', 'unit_reporter', 'NO_SUCH_UNIT', '2026-01-01 00:00:00', 0)"
                )
            )
    finally:
        engine.dispose()
