from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from soc_core.embedded.sqlite_events import SqliteEventStore
from soc_core.errors import StoreError
from soc_core.models import DeadLetter
from soc_core.stores import EventQuery


def ev(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "@timestamp": f"2026-11-20T08:{i:02d}:00.000Z",
        "event": {"id": f"e{i}", "original": f"Failed password for user{i} from 10.0.0.{i}", "dataset": "system.auth"},
        "source": {"ip": f"10.0.0.{i}"},
        "soc": {"unit": {"code": "TH.VP" if i % 2 else "TH.SYT"}},
        **extra,
    }


def test_write_is_idempotent_by_event_id(tmp_path: Path) -> None:
    store = SqliteEventStore(tmp_path / "e.db")
    assert store.write([ev(i) for i in range(10)]) == 10
    assert store.write([ev(i) for i in range(5, 15)]) == 5
    assert store.count() == 15


def test_search_by_time_terms_text(tmp_path: Path) -> None:
    store = SqliteEventStore(tmp_path / "e.db")
    store.write([ev(i) for i in range(20)])
    assert store.count(EventQuery(start="2026-11-20T08:10:00Z", end="2026-11-20T08:15:00Z")) == 5
    assert [e["event"]["id"] for e in store.search(EventQuery(terms={"source.ip": "10.0.0.7"}))] == ["e7"]
    assert store.count(EventQuery(terms={"soc.unit.code": "TH.VP"})) == 10
    assert [e["event"]["id"] for e in store.search(EventQuery(text="user13"))] == ["e13"]
    # FTS syntax in user text is quoted, never interpreted
    assert store.count(EventQuery(text='user1 OR "')) == 0
    page = store.search(EventQuery(limit=5, offset=5))
    assert [e["event"]["id"] for e in page] == ["e14", "e13", "e12", "e11", "e10"]


def test_get_returns_stored_documents(tmp_path: Path) -> None:
    store = SqliteEventStore(tmp_path / "e.db")
    store.write([ev(1), ev(2)])
    assert {e["event"]["id"] for e in store.get(["e2", "missing", "e1"])} == {"e1", "e2"}


def test_event_without_id_is_refused(tmp_path: Path) -> None:
    store = SqliteEventStore(tmp_path / "e.db")
    with pytest.raises(StoreError):
        store.write([{"@timestamp": "x", "event": {}}])
    assert store.count() == 0


def test_dead_letters_idempotent(tmp_path: Path) -> None:
    store = SqliteEventStore(tmp_path / "e.db")
    letter = DeadLetter(
        id="r1", stage="parse", reason="binary data", received=1.0, source="s", collector="c", data=b"\x00\xff"
    )
    assert store.write_dead_letters([letter, letter]) == 1
    assert store.count_dead_letters() == 1
    assert store.dead_letters()[0].data == b"\x00\xff"
