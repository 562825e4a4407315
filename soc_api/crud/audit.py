"""Append-only, hash-chained audit log: this module only ever inserts and reads.

Each entry gets the next ``seq`` and ``hash = sha256(prev_hash + canonical JSON of the entry)``
where the canonical JSON holds seq, time, actor, action, object and detail (sorted keys, compact,
UTF-8). The single row of ``audit_chain_head`` holds the last seq and hash; appending locks it
(``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite serialises writers), so concurrent writers
cannot fork the chain. :func:`verify` walks the chain and names the first entry that does not fit.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from soc_api.db.base import utcnow
from soc_api.db.models import AuditLog
from soc_api.db.workflow_models import AuditHead

GENESIS = "0" * 64
_HEAD_ID = 1


def _plain(detail: dict[str, Any]) -> dict[str, Any]:
    """``detail`` as it will read back from the JSON column (datetimes etc. become strings)."""
    result: dict[str, Any] = json.loads(json.dumps(detail, ensure_ascii=False, default=str))
    return result


def canonical(*, seq: int, at: datetime, actor: str, action: str, object_type: str, object_id: str, detail: Any) -> str:
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    doc = {
        "seq": seq,
        "at": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor": actor,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "detail": detail,
    }
    return json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def entry_hash(prev_hash: str, entry: AuditLog) -> str:
    body = canonical(
        seq=entry.seq or 0,
        at=entry.at,
        actor=entry.actor,
        action=entry.action,
        object_type=entry.object_type,
        object_id=entry.object_id,
        detail=entry.detail,
    )
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def _head(session: Session) -> AuditHead:
    head = session.scalar(
        select(AuditHead).where(AuditHead.id == _HEAD_ID).with_for_update().execution_options(populate_existing=True)
    )
    if head is None:  # a database created without the 0002 data row; start the chain here
        head = AuditHead(id=_HEAD_ID, seq=0, last_hash=GENESIS)
        session.add(head)
        session.flush()
    return head


def record(
    session: Session, *, actor: str, action: str, object_type: str, object_id: str, detail: dict[str, Any]
) -> AuditLog:
    """Append one entry to the chain (flushed; commit is the caller's)."""
    head = _head(session)
    entry = AuditLog(
        at=utcnow(),
        actor=actor[:100],
        action=action[:64],
        object_type=object_type[:32],
        object_id=object_id[:64],
        detail=_plain(detail),
        seq=head.seq + 1,
        prev_hash=head.last_hash,
    )
    entry.hash = entry_hash(head.last_hash, entry)
    session.add(entry)
    head.seq = entry.seq or 0
    head.last_hash = entry.hash
    session.flush()
    return entry


def entries_for(session: Session, object_type: str, object_id: str) -> list[AuditLog]:
    stmt = (
        select(AuditLog)
        .where(AuditLog.object_type == object_type, AuditLog.object_id == object_id)
        .order_by(AuditLog.id)
    )
    return list(session.scalars(stmt))


def list_entries(
    session: Session,
    *,
    object_type: str | None = None,
    object_id: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[AuditLog], int]:
    cond: list[ColumnElement[bool]] = []
    if object_type is not None:
        cond.append(AuditLog.object_type == object_type)
    if object_id is not None:
        cond.append(AuditLog.object_id == object_id)
    if actor is not None:
        cond.append(AuditLog.actor == actor)
    if action is not None:
        cond.append(AuditLog.action == action)
    total = session.scalar(select(func.count()).select_from(AuditLog).where(*cond)) or 0
    stmt = select(AuditLog).where(*cond).order_by(AuditLog.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(stmt)), total


@dataclass(frozen=True, slots=True)
class ChainCheck:
    ok: bool
    checked: int
    broken_at: int | None  # seq of the first entry that does not fit (None when ok)
    reason: str | None


def verify(session: Session, batch: int = 1000) -> ChainCheck:
    """Recompute the chain in ``seq`` order; the first entry whose link or hash is wrong breaks it."""
    prev = GENESIS
    expected_seq = 1
    checked = 0
    last_id = -1
    while True:
        rows = list(session.scalars(select(AuditLog).where(AuditLog.id > last_id).order_by(AuditLog.id).limit(batch)))
        if not rows:
            break
        for entry in rows:
            last_id = entry.id
            checked += 1
            where = entry.seq if entry.seq is not None else -entry.id
            if entry.seq != expected_seq:
                return ChainCheck(False, checked, where, f"sequence gap: expected {expected_seq}, found {entry.seq}")
            if entry.prev_hash != prev:
                return ChainCheck(False, checked, where, "link to the previous entry does not match")
            if entry.hash != entry_hash(prev, entry):
                return ChainCheck(False, checked, where, "entry content does not match its hash")
            prev = entry.hash
            expected_seq += 1
    head = session.get(AuditHead, _HEAD_ID)
    if head is not None and (head.seq != expected_seq - 1 or head.last_hash != prev):
        return ChainCheck(False, checked, expected_seq, "chain head does not match the last entry (entries removed?)")
    return ChainCheck(True, checked, None, None)
