"""Append-only audit log: this module only ever inserts and reads."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from soc_api.db.models import AuditLog


def record(
    session: Session, *, actor: str, action: str, object_type: str, object_id: str, detail: dict[str, Any]
) -> None:
    session.add(AuditLog(actor=actor, action=action, object_type=object_type, object_id=object_id, detail=detail))


def entries_for(session: Session, object_type: str, object_id: str) -> list[AuditLog]:
    stmt = (
        select(AuditLog)
        .where(AuditLog.object_type == object_type, AuditLog.object_id == object_id)
        .order_by(AuditLog.id)
    )
    return list(session.scalars(stmt))
