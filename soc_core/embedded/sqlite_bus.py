"""Embedded durable bus: an append-only log per topic in one SQLite file (WAL).

Stands where Kafka stands in distributed mode (same :mod:`soc_core.bus` protocols). Each topic has
one partition; offsets are dense integers from 0. ``flush`` commits one transaction with
``synchronous=FULL``, so a record is durable once ``flush`` returns; a consumer group's position
is written by ``commit`` only, after the caller's downstream write succeeded. SIGKILL at any
moment therefore loses nothing, and anything re-read after a restart is a redelivery the
idempotent sinks absorb. Several processes may share the file (SQLite locking); one consumer
per group is assumed (the embedded mode has one worker per stage).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from soc_core.bus import Message
from soc_core.errors import BusError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    topic TEXT NOT NULL,
    offset INTEGER NOT NULL,
    key BLOB,
    value BLOB NOT NULL,
    ts REAL NOT NULL,
    PRIMARY KEY (topic, offset)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS heads (topic TEXT PRIMARY KEY, next_offset INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS group_offsets (
    grp TEXT NOT NULL, topic TEXT NOT NULL, next_offset INTEGER NOT NULL,
    PRIMARY KEY (grp, topic)
);
"""


def _connect(path: Path, *, durable: bool) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=60.0, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
    conn.execute("PRAGMA busy_timeout=60000")
    return conn


class SqliteBus:
    """Factory of producers and consumers over one bus file."""

    def __init__(self, path: Path, *, durable: bool = True) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.durable = durable
        conn = _connect(self.path, durable=durable)
        try:
            conn.executescript(_SCHEMA)
        finally:
            conn.close()

    def producer(self) -> SqliteProducer:
        return SqliteProducer(_connect(self.path, durable=self.durable))

    def consumer(self, group: str, topics: Sequence[str]) -> SqliteConsumer:
        return SqliteConsumer(_connect(self.path, durable=self.durable), group, list(topics))

    def end_offsets(self, topics: Sequence[str]) -> dict[str, int]:
        conn = _connect(self.path, durable=self.durable)
        try:
            rows = conn.execute(
                f"SELECT topic, next_offset FROM heads WHERE topic IN ({','.join('?' * len(topics))})",  # noqa: S608
                list(topics),
            ).fetchall()
        finally:
            conn.close()
        found = dict(rows)
        return {t: int(found.get(t, 0)) for t in topics}

    def lag(self, group: str, topic: str) -> int:
        """Messages of ``topic`` not yet committed by ``group``."""
        conn = _connect(self.path, durable=self.durable)
        try:
            head = conn.execute("SELECT next_offset FROM heads WHERE topic=?", (topic,)).fetchone()
            pos = conn.execute(
                "SELECT next_offset FROM group_offsets WHERE grp=? AND topic=?", (group, topic)
            ).fetchone()
        finally:
            conn.close()
        return int(head[0] if head else 0) - int(pos[0] if pos else 0)

    def prune(self, *, keep_seconds: float) -> int:
        """Delete messages every known group has committed past and that are older than ``keep_seconds``."""
        conn = _connect(self.path, durable=self.durable)
        removed = 0
        try:
            cutoff = time.time() - keep_seconds
            for (topic,) in conn.execute("SELECT topic FROM heads").fetchall():
                row = conn.execute("SELECT MIN(next_offset) FROM group_offsets WHERE topic=?", (topic,)).fetchone()
                if row is None or row[0] is None:
                    continue
                cur = conn.execute(
                    "DELETE FROM messages WHERE topic=? AND offset<? AND ts<?", (topic, int(row[0]), cutoff)
                )
                removed += cur.rowcount
        finally:
            conn.close()
        return removed

    def close(self) -> None:
        return None


class SqliteProducer:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._pending: list[tuple[str, bytes | None, bytes, float]] = []
        self._lock = threading.Lock()

    def send(self, topic: str, value: bytes, key: bytes | None = None) -> None:
        with self._lock:
            self._pending.append((topic, key, value, time.time()))

    def flush(self) -> None:
        with self._lock:
            if not self._pending:
                return
            pending = self._pending
            try:
                self._write(pending)
            except sqlite3.Error as exc:
                raise BusError(f"embedded bus write failed: {exc}") from exc
            self._pending = []

    def _write(self, pending: list[tuple[str, bytes | None, bytes, float]]) -> None:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            heads: dict[str, int] = {}
            rows = []
            for topic, key, value, ts in pending:
                if topic not in heads:
                    r = conn.execute("SELECT next_offset FROM heads WHERE topic=?", (topic,)).fetchone()
                    heads[topic] = int(r[0]) if r else 0
                rows.append((topic, heads[topic], key, value, ts))
                heads[topic] += 1
            conn.executemany("INSERT INTO messages(topic, offset, key, value, ts) VALUES (?,?,?,?,?)", rows)
            conn.executemany(
                "INSERT INTO heads(topic, next_offset) VALUES (?, ?) "
                "ON CONFLICT(topic) DO UPDATE SET next_offset=excluded.next_offset",
                list(heads.items()),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._conn.close()


class SqliteConsumer:
    def __init__(self, conn: sqlite3.Connection, group: str, topics: list[str]) -> None:
        self._conn = conn
        self.group = group
        self.topics = topics
        self._position: dict[str, int] = {}
        self._polled: dict[str, int] = {}  # topic -> offset after the last message returned
        for topic in topics:
            row = conn.execute(
                "SELECT next_offset FROM group_offsets WHERE grp=? AND topic=?", (group, topic)
            ).fetchone()
            self._position[topic] = int(row[0]) if row else 0
            if row is None:
                conn.execute(
                    "INSERT OR IGNORE INTO group_offsets(grp, topic, next_offset) VALUES (?,?,0)", (group, topic)
                )

    def poll(self, max_records: int = 500, timeout: float = 1.0) -> list[Message]:
        deadline = time.monotonic() + timeout
        delay = 0.005
        while True:
            out = self._fetch(max_records)
            if out or time.monotonic() >= deadline:
                return out
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 0.1)

    def _fetch(self, max_records: int) -> list[Message]:
        out: list[Message] = []
        for topic in self.topics:
            if len(out) >= max_records:
                break
            rows = self._conn.execute(
                "SELECT offset, key, value, ts FROM messages WHERE topic=? AND offset>=? ORDER BY offset LIMIT ?",
                (topic, self._position[topic], max_records - len(out)),
            ).fetchall()
            for offset, key, value, ts in rows:
                out.append(Message(topic, 0, int(offset), key, bytes(value), float(ts)))
            if rows:
                self._position[topic] = int(rows[-1][0]) + 1
                self._polled[topic] = self._position[topic]
        return out

    def commit(self, messages: Sequence[Message] | None = None) -> None:
        if messages is None:
            upto = dict(self._polled)
        else:
            upto = {}
            for m in messages:
                upto[m.topic] = max(upto.get(m.topic, 0), m.offset + 1)
        if not upto:
            return
        self._conn.executemany(
            "UPDATE group_offsets SET next_offset=MAX(next_offset, ?) WHERE grp=? AND topic=?",
            [(off, self.group, topic) for topic, off in upto.items()],
        )

    def seek_to_committed(self) -> None:
        """Forget uncommitted progress (after a failed downstream write): re-read from the committed offsets."""
        for topic in self.topics:
            row = self._conn.execute(
                "SELECT next_offset FROM group_offsets WHERE grp=? AND topic=?", (self.group, topic)
            ).fetchone()
            self._position[topic] = int(row[0]) if row else 0
        self._polled.clear()

    def close(self) -> None:
        self._conn.close()
