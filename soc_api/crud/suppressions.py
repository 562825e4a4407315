"""Suppressions: scoped (rule + entity and/or event field values), expiring, audited; the alert
sink counts what each one hid."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import false, func, select, true
from sqlalchemy.orm import Session

from soc_api.crud import audit
from soc_api.db.base import utcnow
from soc_api.db.models import Alert
from soc_api.db.workflow_models import Suppression
from soc_api.errors import InvalidInput
from soc_api.services.config import WorkflowConfig


def is_active(row: Suppression, now: datetime | None = None) -> bool:
    return not row.disabled and row.expires_at > (now or utcnow())


def create(
    session: Session,
    cfg: WorkflowConfig,
    *,
    rule_id: str,
    entity: Mapping[str, str],
    fields: Mapping[str, str],
    reason: str,
    days: int | None,
    actor: str,
    source_alert: Alert | None = None,
) -> Suppression:
    """A suppression needs a rule and at least one entity value or field value (never a whole rule)."""
    if not entity and not fields:
        raise InvalidInput("a suppression needs entity values or field values besides the rule")
    days = days or cfg.suppressions.default_days
    if days > cfg.suppressions.max_days:
        raise InvalidInput(f"a suppression may last at most {cfg.suppressions.max_days} days")
    now = utcnow()
    row = Suppression(
        rule_id=rule_id,
        entity=dict(entity),
        fields=dict(fields),
        reason=reason,
        verdict=source_alert.verdict if source_alert else None,
        source_alert_id=source_alert.id if source_alert else None,
        created_by=actor,
        created_at=now,
        expires_at=now + timedelta(days=days),
        disabled=False,
        hit_count=0,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="suppression.create",
        object_type="suppression",
        object_id=row.id,
        detail={
            "rule_id": rule_id,
            "entity": row.entity,
            "fields": row.fields,
            "reason": reason,
            "expires_at": row.expires_at.isoformat(),
            "source_alert_id": row.source_alert_id,
        },
    )
    return row


def from_alert(
    session: Session,
    cfg: WorkflowConfig,
    alert: Alert,
    *,
    reason: str,
    days: int | None,
    entity_keys: list[str] | None,
    fields: Mapping[str, str],
    actor: str,
) -> Suppression:
    keys = list(alert.entity) if entity_keys is None else entity_keys
    unknown = [k for k in keys if k not in alert.entity]
    if unknown:
        raise InvalidInput(f"alert has no entity key(s): {', '.join(unknown)}")
    entity = {k: alert.entity[k] for k in keys}
    return create(
        session,
        cfg,
        rule_id=alert.rule_id,
        entity=entity,
        fields=fields,
        reason=reason,
        days=days,
        actor=actor,
        source_alert=alert,
    )


def list_suppressions(
    session: Session, *, active: bool | None, rule_id: str | None, limit: int, offset: int
) -> tuple[list[Suppression], int, int]:
    now = utcnow()
    cond = []
    if rule_id is not None:
        cond.append(Suppression.rule_id == rule_id)
    if active is True:
        cond += [Suppression.disabled == false(), Suppression.expires_at > now]
    elif active is False:
        cond.append((Suppression.disabled == true()) | (Suppression.expires_at <= now))
    total = session.scalar(select(func.count()).select_from(Suppression).where(*cond)) or 0
    hidden = session.scalar(select(func.coalesce(func.sum(Suppression.hit_count), 0)).where(*cond)) or 0
    stmt = select(Suppression).where(*cond).order_by(Suppression.created_at.desc(), Suppression.id)
    return list(session.scalars(stmt.limit(limit).offset(offset))), total, int(hidden)


def update(session: Session, row: Suppression, changes: dict[str, Any], *, actor: str) -> Suppression:
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    for field in ("reason", "expires_at", "disabled"):
        if field in changes and changes[field] is not None and changes[field] != getattr(row, field):
            old[field] = getattr(row, field)
            new[field] = changes[field]
    if not new:
        return row
    for field, value in new.items():
        setattr(row, field, value)
    audit.record(
        session,
        actor=actor,
        action="suppression.update",
        object_type="suppression",
        object_id=row.id,
        detail={"old": old, "new": new},
    )
    session.flush()
    return row
