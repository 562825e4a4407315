"""Embedded event store: ECS events and dead letters in one SQLite file, with FTS5 full text.

Stands where Elasticsearch stands in distributed mode (same :class:`soc_core.stores.EventStore`
protocol). Events are keyed by ``event.id`` (the raw record id), so a redelivered event is
ignored: writes are idempotent, which is what makes at-least-once delivery store exactly once.
Connections are per thread (the API serves requests from a thread pool).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from soc_core.ecs import get_field
from soc_core.errors import StoreError
from soc_core.models import DeadLetter
from soc_core.stores import EventQuery

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    ts TEXT NOT NULL,
    unit TEXT,
    dataset TEXT,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_ts ON events(ts);
CREATE INDEX IF NOT EXISTS events_unit_ts ON events(unit, ts);
CREATE VIRTUAL TABLE IF NOT EXISTS events_fts USING fts5(body, content='', tokenize='unicode61 remove_diacritics 2');
CREATE TABLE IF NOT EXISTS dead_letters (
    id TEXT NOT NULL,
    stage TEXT NOT NULL,
    reason TEXT NOT NULL,
    error_type TEXT NOT NULL,
    received REAL NOT NULL,
    source TEXT NOT NULL,
    collector TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (id, stage)
);
"""


def _json_path(field: str) -> str:
    return "$" + "".join('."' + part.replace('"', "") + '"' for part in field.split("."))


def _fts_query(text: str) -> str:
    """Quote every word so user text cannot inject FTS5 syntax."""
    words = [w.replace('"', '""') for w in text.split() if w]
    return " ".join(f'"{w}"' for w in words)


class SqliteEventStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._conn().executescript(_SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=60.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=60000")
            self._local.conn = conn
        return conn

    def write(self, events: Sequence[dict[str, Any]]) -> int:
        if not events:
            return 0
        conn = self._conn()
        new = 0
        try:
            conn.execute("BEGIN IMMEDIATE")
            for ev in events:
                event_id = get_field(ev, "event.id")
                if not isinstance(event_id, str) or not event_id:
                    raise StoreError("event without event.id cannot be stored idempotently")
                cur = conn.execute(
                    "INSERT OR IGNORE INTO events(id, ts, unit, dataset, doc) VALUES (?,?,?,?,?)",
                    (
                        event_id,
                        str(ev.get("@timestamp") or ""),
                        get_field(ev, "soc.unit.code"),
                        get_field(ev, "event.dataset"),
                        orjson.dumps(ev).decode(),
                    ),
                )
                if cur.rowcount == 1:
                    new += 1
                    body = " ".join(
                        str(v) for v in (get_field(ev, "event.original"), ev.get("message")) if isinstance(v, str)
                    )
                    conn.execute("INSERT INTO events_fts(rowid, body) VALUES (last_insert_rowid(), ?)", (body,))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            raise StoreError(f"event store write failed: {exc}") from exc
        return new

    def write_dead_letters(self, letters: Sequence[DeadLetter]) -> int:
        if not letters:
            return 0
        conn = self._conn()
        try:
            before = conn.total_changes
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT OR IGNORE INTO dead_letters(id, stage, reason, error_type, received, source, collector, data) "
                "VALUES (?,?,?,?,?,?,?,?)",
                [(d.id, d.stage, d.reason, d.error_type, d.received, d.source, d.collector, d.data) for d in letters],
            )
            conn.execute("COMMIT")
            return conn.total_changes - before
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            raise StoreError(f"dead-letter write failed: {exc}") from exc

    def get(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        if not ids:
            return []
        out: list[dict[str, Any]] = []
        conn = self._conn()
        for i in range(0, len(ids), 500):
            chunk = list(ids[i : i + 500])
            placeholders = ",".join("?" * len(chunk))
            rows = conn.execute(f"SELECT doc FROM events WHERE id IN ({placeholders})", chunk).fetchall()  # noqa: S608
            out.extend(orjson.loads(r[0]) for r in rows)
        return out

    def _where(self, query: EventQuery) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if query.start:
            clauses.append("ts >= ?")
            params.append(query.start)
        if query.end:
            clauses.append("ts < ?")
            params.append(query.end)
        for field, value in query.terms.items():
            if field == "soc.unit.code":
                clauses.append("unit = ?")
            elif field == "event.dataset":
                clauses.append("dataset = ?")
            else:
                clauses.append("CAST(json_extract(doc, ?) AS TEXT) = ?")
                params.append(_json_path(field))
            params.append(value)
        if query.text and _fts_query(query.text):
            clauses.append("rowid IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ?)")
            params.append(_fts_query(query.text))
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def search(self, query: EventQuery) -> list[dict[str, Any]]:
        where, params = self._where(query)
        rows = (
            self._conn()
            .execute(
                f"SELECT doc FROM events{where} ORDER BY ts DESC LIMIT ? OFFSET ?",  # noqa: S608 - clauses are ours
                [*params, query.limit, query.offset],
            )
            .fetchall()
        )
        return [orjson.loads(r[0]) for r in rows]

    def count(self, query: EventQuery | None = None) -> int:
        where, params = self._where(query or EventQuery())
        row = self._conn().execute(f"SELECT COUNT(*) FROM events{where}", params).fetchone()  # noqa: S608
        return int(row[0])

    def count_dead_letters(self) -> int:
        return int(self._conn().execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0])

    def dead_letters(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        rows = (
            self._conn()
            .execute(
                "SELECT id, stage, reason, error_type, received, source, collector, data FROM dead_letters "
                "ORDER BY received DESC LIMIT ? OFFSET ?",
                (limit, offset),
            )
            .fetchall()
        )
        return [
            DeadLetter(
                id=r[0], stage=r[1], reason=r[2], error_type=r[3], received=r[4], source=r[5], collector=r[6], data=r[7]
            )
            for r in rows
        ]

    def close(self) -> None:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
