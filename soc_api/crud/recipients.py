"""National/provincial recipients of reports and the sendings of forms to them."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from soc_api.crud import audit
from soc_api.crud.incidents import timeline
from soc_api.db.base import utcnow
from soc_api.db.workflow_models import Incident, Recipient, Sending
from soc_api.errors import Conflict, InvalidInput, NotFound
from soc_api.services.config import WorkflowConfig

# Allowed sending state changes (a failed sending may be retried: back to pending).
SENDING_TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"sent", "failed"}),
    "sent": frozenset({"acknowledged", "failed"}),
    "failed": frozenset({"pending"}),
    "acknowledged": frozenset(),
}


def _check_kind(cfg: WorkflowConfig, kind: str) -> None:
    if kind not in cfg.recipient_kinds:
        raise InvalidInput(f"unknown recipient kind {kind!r}; expected one of {sorted(cfg.recipient_kinds)}")


def create(session: Session, cfg: WorkflowConfig, data: dict[str, Any], *, actor: str) -> Recipient:
    _check_kind(cfg, data["kind"])
    if session.scalar(select(Recipient.id).where(Recipient.code == data["code"])) is not None:
        raise Conflict(f"recipient {data['code']!r} already exists")
    row = Recipient(**data, created_at=utcnow())
    session.add(row)
    session.flush()
    audit.record(
        session, actor=actor, action="recipient.create", object_type="recipient", object_id=str(row.id), detail=data
    )
    return row


def update(session: Session, cfg: WorkflowConfig, row: Recipient, changes: dict[str, Any], *, actor: str) -> Recipient:
    if changes.get("kind") is not None:
        _check_kind(cfg, changes["kind"])
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    for field in ("name", "kind", "channel", "address", "enabled"):
        if field in changes and changes[field] != getattr(row, field):
            if changes[field] is None and field != "address":
                continue
            old[field], new[field] = getattr(row, field), changes[field]
    for field, value in new.items():
        setattr(row, field, value)
    if new:
        audit.record(
            session,
            actor=actor,
            action="recipient.update",
            object_type="recipient",
            object_id=str(row.id),
            detail={"old": old, "new": new},
        )
    session.flush()
    return row


def list_recipients(session: Session, *, enabled: bool | None = None) -> list[Recipient]:
    stmt = select(Recipient).order_by(Recipient.id)
    if enabled is not None:
        stmt = stmt.where(Recipient.enabled == enabled)
    return list(session.scalars(stmt))


def record_sendings(
    session: Session,
    incident: Incident,
    *,
    form_kind: str,
    fmt: str,
    sha256: str,
    recipient_ids: Collection[int] | None,
    actor: str,
) -> list[Sending]:
    """One pending sending per recipient (the given ones, or every enabled one)."""
    if recipient_ids:
        recipients = list(session.scalars(select(Recipient).where(Recipient.id.in_(list(recipient_ids)))))
        missing = set(recipient_ids) - {r.id for r in recipients}
        if missing:
            raise NotFound(f"recipient(s) not found: {sorted(missing)}")
        disabled = [r.code for r in recipients if not r.enabled]
        if disabled:
            raise Conflict(f"recipient(s) disabled: {', '.join(disabled)}")
    else:
        recipients = list_recipients(session, enabled=True)
    if not recipients:
        raise Conflict("no enabled recipients are configured")
    now = utcnow()
    rows = []
    for r in recipients:
        row = Sending(
            incident_id=incident.id,
            recipient_id=r.id,
            form_kind=form_kind,
            format=fmt,
            sha256=sha256,
            status="pending",
            created_by=actor,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        rows.append(row)
    session.flush()
    timeline(
        session,
        incident,
        actor,
        "form_sent",
        f"{form_kind}.{fmt} → {', '.join(r.code for r in recipients)}",
        sha256=sha256,
        sendings=[s.id for s in rows],
    )
    audit.record(
        session,
        actor=actor,
        action="incident.form_send",
        object_type="incident",
        object_id=incident.id,
        detail={"form": form_kind, "format": fmt, "sha256": sha256, "recipients": [r.code for r in recipients]},
    )
    return rows


def update_sending(session: Session, row: Sending, status: str, note: str | None, *, actor: str) -> Sending:
    if status != row.status:
        if status not in SENDING_TRANSITIONS[row.status]:
            allowed = ", ".join(sorted(SENDING_TRANSITIONS[row.status])) or "none"
            raise Conflict(f"invalid sending transition {row.status} -> {status} (allowed: {allowed})")
        old = row.status
        row.status = status
        row.updated_at = utcnow()
        if note is not None:
            row.note = note
        incident = session.get(Incident, row.incident_id)
        if incident is not None:
            timeline(
                session, incident, actor, "sending_status", f"sending {row.id}: {old} → {status}", sending_id=row.id
            )
        audit.record(
            session,
            actor=actor,
            action="sending.update",
            object_type="incident",
            object_id=row.incident_id,
            detail={"sending_id": row.id, "old": old, "new": status, "note": note},
        )
    elif note is not None:
        row.note = note
    session.flush()
    return row


def list_sendings(session: Session, incident_id: str) -> list[tuple[Sending, Recipient]]:
    stmt = (
        select(Sending, Recipient)
        .join(Recipient, Recipient.id == Sending.recipient_id)
        .where(Sending.incident_id == incident_id)
        .order_by(Sending.id)
    )
    return [(r[0], r[1]) for r in session.execute(stmt).all()]
