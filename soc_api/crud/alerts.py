"""Alerts: filtered listing, scoped reads, status transitions (each change audited)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, cast, false, func, or_, select
from sqlalchemy.orm import Session

from soc_api.crud import audit
from soc_api.db.base import utcnow
from soc_api.db.models import Alert, AlertEvent
from soc_api.errors import Conflict

# Allowed status changes; closing needs a verdict.
TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"acknowledged", "closed"}),
    "acknowledged": frozenset({"in_progress", "closed"}),
    "in_progress": frozenset({"closed"}),
    "closed": frozenset(),
}


@dataclass(slots=True, kw_only=True)
class AlertFilter:
    status: str | None = None
    level: str | None = None
    unit: str | None = None
    rule_id: str | None = None
    since: datetime | None = None  # alerts seen at or after (last_seen >= since)
    until: datetime | None = None  # alerts seen before (first_seen < until)
    q: str | None = None  # case-insensitive text over title, rule id and entity values
    verdict: str | None = None
    assignee: str | None = None
    min_risk: int | None = None
    sort: str = "last_seen"  # or "risk"


def _conditions(flt: AlertFilter, scope: Collection[str] | None) -> list[ColumnElement[bool]]:
    cond: list[ColumnElement[bool]] = []
    if scope is not None:
        cond.append(Alert.unit_code.in_(scope) if scope else false())
    if flt.status is not None:
        cond.append(Alert.status == flt.status)
    if flt.level is not None:
        cond.append(Alert.level == flt.level)
    if flt.unit is not None:
        cond.append(Alert.unit_code == flt.unit)
    if flt.rule_id is not None:
        cond.append(Alert.rule_id == flt.rule_id)
    if flt.since is not None:
        cond.append(Alert.last_seen >= flt.since)
    if flt.until is not None:
        cond.append(Alert.first_seen < flt.until)
    if flt.verdict is not None:
        cond.append(Alert.verdict == flt.verdict)
    if flt.assignee is not None:
        cond.append(Alert.assignee == flt.assignee)
    if flt.min_risk is not None:
        cond.append(Alert.risk_score >= flt.min_risk)
    if flt.q:
        cond.append(
            or_(
                Alert.rule_title.icontains(flt.q, autoescape=True),
                Alert.rule_id.icontains(flt.q, autoescape=True),
                cast(Alert.entity, String).icontains(flt.q, autoescape=True),
            )
        )
    return cond


def list_alerts(
    session: Session, flt: AlertFilter, *, scope: Collection[str] | None, limit: int, offset: int
) -> tuple[list[Alert], int]:
    """One page of alerts (newest activity first) and the total matching ``flt`` within ``scope``.

    ``scope`` is the set of unit codes the caller may see, or ``None`` for all alerts.
    """
    cond = _conditions(flt, scope)
    total = session.scalar(select(func.count()).select_from(Alert).where(*cond)) or 0
    order = (Alert.risk_score.desc(), Alert.last_seen.desc()) if flt.sort == "risk" else (Alert.last_seen.desc(),)
    stmt = select(Alert).where(*cond).order_by(*order, Alert.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(stmt)), total


def get_alert(session: Session, alert_id: str, *, scope: Collection[str] | None) -> Alert | None:
    """The alert, or ``None`` if it does not exist or lies outside ``scope``."""
    alert = session.get(Alert, alert_id)
    if alert is None or (scope is not None and alert.unit_code not in scope):
        return None
    return alert


def event_ids(session: Session, alert_id: str, limit: int = 100) -> list[str]:
    """Ids of the alert's triggering events, newest first."""
    stmt = (
        select(AlertEvent.event_id)
        .where(AlertEvent.alert_id == alert_id)
        .order_by(AlertEvent.timestamp.desc(), AlertEvent.event_id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def update_alert(session: Session, alert: Alert, changes: dict[str, Any], *, actor: str) -> Alert:
    """Apply ``changes`` (status, verdict, assignee) and write one audit row; commit is the caller's.

    Raises :class:`Conflict` for a transition :data:`TRANSITIONS` does not allow, for closing
    without a verdict, and for any change to a closed alert.
    """
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    for field in ("status", "verdict", "assignee"):
        if field in changes and changes[field] != getattr(alert, field):
            old[field] = getattr(alert, field)
            new[field] = changes[field]
    if not new:
        return alert
    if alert.status == "closed":
        raise Conflict(f"alert {alert.id} is closed and cannot be changed")
    if "status" in new and new["status"] not in TRANSITIONS[alert.status]:
        allowed = ", ".join(sorted(TRANSITIONS[alert.status])) or "none"
        raise Conflict(f"invalid status transition {alert.status} -> {new['status']} (allowed: {allowed})")
    if new.get("status") == "closed" and new.get("verdict", alert.verdict) is None:
        raise Conflict("closing an alert needs a verdict (true_positive, false_positive or benign)")
    for field, value in new.items():
        setattr(alert, field, value)
    alert.updated_at = utcnow()
    audit.record(
        session,
        actor=actor,
        action="alert.update",
        object_type="alert",
        object_id=alert.id,
        detail={"old": old, "new": new},
    )
    session.flush()
    return alert


def bulk_update(
    session: Session, ids: list[str], changes: dict[str, Any], *, actor: str
) -> tuple[list[str], dict[str, str]]:
    """Apply ``changes`` to each alert; every alert is checked (and audited) on its own."""
    updated: list[str] = []
    errors: dict[str, str] = {}
    for alert_id in dict.fromkeys(ids):
        alert = session.get(Alert, alert_id)
        if alert is None:
            errors[alert_id] = "not found"
            continue
        try:  # update_alert checks everything before it changes anything
            update_alert(session, alert, changes, actor=actor)
        except Conflict as exc:
            errors[alert_id] = exc.message
            continue
        updated.append(alert_id)
    return updated, errors


def advance_to_in_progress(session: Session, alert: Alert, *, actor: str) -> None:
    """Walk an open alert along new -> acknowledged -> in_progress (each step audited)."""
    if alert.status == "new":
        update_alert(session, alert, {"status": "acknowledged"}, actor=actor)
    if alert.status == "acknowledged":
        update_alert(session, alert, {"status": "in_progress"}, actor=actor)
