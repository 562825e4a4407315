"""National/provincial recipients of reports and the sendings of forms to them."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, select
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


def _pick_recipients(session: Session, recipient_ids: Collection[int] | None) -> list[Recipient]:
    """The given recipients (all must exist and be enabled), or every enabled one."""
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
    return recipients


def _new_sendings(
    session: Session,
    recipients: list[Recipient],
    *,
    incident_id: str | None,
    period: str | None,
    form_kind: str,
    fmt: str,
    sha256: str,
    actor: str,
) -> list[Sending]:
    now = utcnow()
    rows = []
    for r in recipients:
        row = Sending(
            incident_id=incident_id,
            period=period,
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
    return rows


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
    recipients = _pick_recipients(session, recipient_ids)
    rows = _new_sendings(
        session,
        recipients,
        incident_id=incident.id,
        period=None,
        form_kind=form_kind,
        fmt=fmt,
        sha256=sha256,
        actor=actor,
    )
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


def record_period_sendings(
    session: Session,
    period: str,
    *,
    form_kind: str,
    fmt: str,
    sha256: str,
    recipient_ids: Collection[int] | None,
    actor: str,
) -> list[Sending]:
    """One pending sending of a periodic report (Mẫu 05 of ``period``) per recipient, audited."""
    recipients = _pick_recipients(session, recipient_ids)
    rows = _new_sendings(
        session,
        recipients,
        incident_id=None,
        period=period,
        form_kind=form_kind,
        fmt=fmt,
        sha256=sha256,
        actor=actor,
    )
    audit.record(
        session,
        actor=actor,
        action="summary.send",
        object_type="summary",
        object_id=period,
        detail={
            "form": form_kind,
            "format": fmt,
            "sha256": sha256,
            "recipients": [r.code for r in recipients],
            "sendings": [s.id for s in rows],
        },
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
        incident = session.get(Incident, row.incident_id) if row.incident_id is not None else None
        if incident is not None:
            timeline(
                session, incident, actor, "sending_status", f"sending {row.id}: {old} → {status}", sending_id=row.id
            )
        subject_type, subject_id = ("incident", row.incident_id) if row.incident_id else ("summary", row.period or "")
        audit.record(
            session,
            actor=actor,
            action="sending.update",
            object_type=subject_type,
            object_id=subject_id,
            detail={"sending_id": row.id, "old": old, "new": status, "note": note},
        )
    elif note is not None:
        row.note = note
    session.flush()
    return row


def list_sendings(session: Session, incident_id: str) -> list[tuple[Sending, Recipient]]:
    return _sendings_where(session, Sending.incident_id == incident_id)


def list_period_sendings(session: Session, period: str) -> list[tuple[Sending, Recipient]]:
    """Sendings of the periodic report of ``period`` (with their recipients), oldest first."""
    return _sendings_where(session, Sending.period == period)


def _sendings_where(session: Session, condition: ColumnElement[bool]) -> list[tuple[Sending, Recipient]]:
    stmt = (
        select(Sending, Recipient)
        .join(Recipient, Recipient.id == Sending.recipient_id)
        .where(condition)
        .order_by(Sending.id)
    )
    return [(r[0], r[1]) for r in session.execute(stmt).all()]
