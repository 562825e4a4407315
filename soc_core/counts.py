"""Reconciliation counts: the wire format of ``soc.counts`` messages and the table they fold into.

Stages count the records they handled per *source* and *hour* (UTC hour of the collector's
receive time) and publish the deltas on the ``soc.counts`` topic (see :mod:`pipeline.reconcile`);
the API role folds them into the ``soc_counts`` table of the SQL database (SQLite in embedded
mode, PostgreSQL in distributed mode) and answers ``GET /api/v1/ops/reconciliation``.

Every message carries ``emitter`` (one per process start) and ``seq`` (increasing per emitter):
the fold is idempotent by ``(emitter, seq)``, so a redelivered message is not counted twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import BigInteger, Column, Engine, MetaData, String, Table, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

__all__ = [
    "STAGES",
    "CountBatch",
    "CountRow",
    "counts_table",
    "decode",
    "encode",
    "ensure_table",
    "fold",
    "reconciliation",
]

# received: by the collector (records and collector dead letters); parsed: ECS events out of the
# worker; dead_lettered: dead letters made by the worker; published: events the worker flushed to
# soc.events; indexed: events the indexer stored; dead_letters_stored: dead letters stored.
STAGES = ("received", "parsed", "dead_lettered", "published", "indexed", "dead_letters_stored")


class CountRow(msgspec.Struct, array_like=True, frozen=True):
    hour: int  # epoch seconds of the start of the UTC hour
    source: str
    stage: str
    n: int


class CountBatch(msgspec.Struct, frozen=True):
    emitter: str
    seq: int
    rows: list[CountRow]


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(CountBatch)


def encode(batch: CountBatch) -> bytes:
    return _encoder.encode(batch)


def decode(data: bytes) -> CountBatch:
    """Raises ``msgspec.DecodeError``/``ValidationError`` on anything that is not a count batch."""
    return _decoder.decode(data)


metadata = MetaData()
counts_table = Table(
    "soc_counts",
    metadata,
    Column("emitter", String(200), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("hour", BigInteger, primary_key=True),
    Column("source", String(1000), primary_key=True),
    Column("stage", String(32), primary_key=True),
    Column("n", BigInteger, nullable=False),
)


def ensure_table(engine: Engine) -> None:
    """Create ``soc_counts`` when missing (it is owned by this module, not by the Alembic models)."""
    metadata.create_all(engine, tables=[counts_table], checkfirst=True)


def fold(engine: Engine, batches: Iterable[CountBatch]) -> int:
    """Insert the rows of the batches, ignoring ones already folded; returns rows offered."""
    rows: list[dict[str, Any]] = []
    for batch in batches:
        for row in batch.rows:
            if row.stage in STAGES and row.n > 0:
                rows.append(
                    {
                        "emitter": batch.emitter[:200],
                        "seq": batch.seq,
                        "hour": row.hour,
                        "source": row.source[:1000],
                        "stage": row.stage,
                        "n": row.n,
                    }
                )
    if not rows:
        return 0
    insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    with engine.begin() as conn:
        conn.execute(insert(counts_table).on_conflict_do_nothing(), rows)
    return len(rows)


@dataclass(frozen=True, slots=True)
class SourceCounts:
    source: str
    counts: dict[str, int]

    @property
    def balanced(self) -> bool:
        """Every record received is stored as an event or as a dead letter."""
        c = self.counts
        return c.get("received", 0) == c.get("indexed", 0) + c.get("dead_letters_stored", 0)


def reconciliation(engine: Engine, hour: int) -> list[SourceCounts]:
    """Per source, the summed counts of every stage for the UTC hour starting at ``hour``."""
    ensure_table(engine)
    stmt = (
        select(counts_table.c.source, counts_table.c.stage, func.sum(counts_table.c.n))
        .where(counts_table.c.hour == hour)
        .group_by(counts_table.c.source, counts_table.c.stage)
    )
    by_source: dict[str, dict[str, int]] = {}
    with engine.connect() as conn:
        for source, stage, total in conn.execute(stmt):
            by_source.setdefault(str(source), {s: 0 for s in STAGES})[str(stage)] = int(total or 0)
    return [SourceCounts(source, counts) for source, counts in sorted(by_source.items())]
