"""Unit reports (Mẫu 03 fields): filed by a unit, each opens a ticket; updated within the unit scope."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import ColumnElement, false, func, select
from sqlalchemy.orm import Session

from soc_api.crud import audit
from soc_api.crud import incidents as incidents_crud
from soc_api.db.base import utcnow
from soc_api.db.workflow_models import Incident, UnitReport
from soc_api.forms.models import InitialReport
from soc_api.services.config import WorkflowConfig

VIETNAM = timezone(timedelta(hours=7), "ICT")


def detected_at(report: InitialReport) -> datetime | None:
    """Detection moment of the report (Vietnamese local date + time), in UTC."""
    if report.detected_date is None:
        return None
    moment = datetime.combine(report.detected_date, report.detected_time or datetime.min.time())
    return moment.replace(tzinfo=VIETNAM).astimezone(UTC)


def _title(report: InitialReport, unit_code: str) -> str:
    summary = (report.summary or "").strip().splitlines()
    return (summary[0][:200] if summary else "") or f"Báo cáo sự cố của đơn vị {unit_code}"


def as_json(report: InitialReport) -> dict[str, Any]:
    data: dict[str, Any] = report.model_dump(mode="json")
    return data


def create(session: Session, cfg: WorkflowConfig, *, unit_code: str, report: InitialReport, actor: str) -> UnitReport:
    now = utcnow()
    incident = incidents_crud.create(
        session,
        cfg,
        actor=actor,
        title=_title(report, unit_code),
        description=report.summary or "",
        incident_type=report.incident_type.value if report.incident_type else None,
        security_level=report.system.security_level,
        unit_code=unit_code,
        detected_at=detected_at(report),
        source="report",
    )
    incident.forms = {**incident.forms, "mau03": as_json(report)}
    row = UnitReport(
        unit_code=unit_code,
        incident_id=incident.id,
        data=as_json(report),
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="report.create",
        object_type="report",
        object_id=row.id,
        detail={"unit": unit_code, "incident": incident.id},
    )
    return row


def update(session: Session, row: UnitReport, report: InitialReport, *, actor: str) -> UnitReport:
    old = row.data
    row.data = as_json(report)
    row.updated_at = utcnow()
    changed = sorted(k for k in set(old) | set(row.data) if old.get(k) != row.data.get(k))
    incident = session.get(Incident, row.incident_id) if row.incident_id else None
    if incident is not None and changed:
        incident.forms = {**incident.forms, "mau03": row.data}
        if report.summary:
            incident.description = report.summary
        if report.system.security_level is not None:
            incident.security_level = report.system.security_level
        incident.updated_at = row.updated_at
        incidents_crud.timeline(session, incident, actor, "report_updated", ", ".join(changed)[:900], report_id=row.id)
    if changed:
        audit.record(
            session,
            actor=actor,
            action="report.update",
            object_type="report",
            object_id=row.id,
            detail={"fields": changed},
        )
    session.flush()
    return row


def get(session: Session, report_id: str, *, scope: Collection[str] | None) -> UnitReport | None:
    row = session.get(UnitReport, report_id)
    if row is None or (scope is not None and row.unit_code not in scope):
        return None
    return row


def list_reports(
    session: Session, *, scope: Collection[str] | None, unit: str | None, limit: int, offset: int
) -> tuple[list[UnitReport], int]:
    cond: list[ColumnElement[bool]] = []
    if scope is not None:
        cond.append(UnitReport.unit_code.in_(scope) if scope else false())
    if unit is not None:
        cond.append(UnitReport.unit_code == unit)
    total = session.scalar(select(func.count()).select_from(UnitReport).where(*cond)) or 0
    stmt = select(UnitReport).where(*cond).order_by(UnitReport.created_at.desc(), UnitReport.id)
    return list(session.scalars(stmt.limit(limit).offset(offset))), total
