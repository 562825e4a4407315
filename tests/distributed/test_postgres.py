"""PostgreSQL (started by scripts/services.sh) is reachable and works through SQLAlchemy + psycopg 3."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, UniqueConstraint, create_engine, insert, select
from sqlalchemy.exc import IntegrityError

pytestmark = pytest.mark.distributed


def test_server_answers_with_the_soc_role(pg_url: str) -> None:
    conninfo = pg_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(conninfo, connect_timeout=5) as conn:
        user, version = conn.execute("SELECT current_user, current_setting('server_version_num')::int").fetchone() or (
            None,
            0,
        )
    assert user == "soc"
    assert version >= 150000


def test_table_round_trip_in_a_fresh_database(pg_database_factory: Callable[[], str]) -> None:
    engine = create_engine(pg_database_factory())
    meta = MetaData()
    tickets = Table(
        "tickets",
        meta,
        Column("id", Integer, primary_key=True),
        Column("unit", String(32), nullable=False),
        Column("title", String(200), nullable=False),
        UniqueConstraint("unit", "title"),
    )
    try:
        meta.create_all(engine)
        with engine.begin() as conn:
            conn.execute(
                insert(tickets),
                [
                    {"unit": "STTTT", "title": "Tấn công dò mật khẩu SSH"},
                    {"unit": "UBND-SAMSON", "title": "Website bị thay đổi giao diện"},
                ],
            )
        with engine.connect() as conn:
            rows = conn.execute(select(tickets.c.unit, tickets.c.title).order_by(tickets.c.id)).all()
        assert [tuple(r) for r in rows] == [
            ("STTTT", "Tấn công dò mật khẩu SSH"),
            ("UBND-SAMSON", "Website bị thay đổi giao diện"),
        ]
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(insert(tickets), [{"unit": "STTTT", "title": "Tấn công dò mật khẩu SSH"}])
        with engine.connect() as conn:
            assert len(conn.execute(select(tickets.c.id)).all()) == 2  # the failed insert was rolled back
    finally:
        engine.dispose()
