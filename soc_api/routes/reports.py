"""Unit reports (Mẫu 03 fields): a unit reporter files and updates its unit subtree's reports;
each report opens a ticket. The SOC (analysts, admins) sees and files for every unit."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from soc_api import forms
from soc_api.crud import reports as crud
from soc_api.crud.units import get_unit
from soc_api.db.workflow_models import UnitReport
from soc_api.deps import Scope, SessionDep, WorkflowConfigDep, WorkflowReader
from soc_api.errors import InvalidInput, NotFound, PermissionDenied
from soc_api.schemas.reports import ReportCreate, ReportPublic, ReportsPublic, ReportUpdate

router = APIRouter(prefix="/reports", tags=["reports"])

ReportId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


def _public(row: UnitReport) -> ReportPublic:
    return ReportPublic.model_validate(row).model_copy(update={"missing": forms.validate("mau03", row.data)})


@router.post("", response_model=ReportPublic, status_code=status.HTTP_201_CREATED)
def file_report(
    body: ReportCreate, session: SessionDep, user: WorkflowReader, scope: Scope, cfg: WorkflowConfigDep
) -> ReportPublic:
    """File a report (drafts allowed: missing mandatory fields are listed in ``missing``)."""
    unit_code = body.unit_code or user.unit_code
    if unit_code is None:
        raise InvalidInput("unit_code is required (the SOC files reports on behalf of a unit)")
    if scope is not None and unit_code not in scope:
        raise PermissionDenied(f"unit {unit_code} is outside your unit")
    if get_unit(session, unit_code) is None:
        raise InvalidInput(f"unknown unit {unit_code!r}")
    row = crud.create(session, cfg, unit_code=unit_code, report=body.data, actor=user.name)
    session.commit()
    return _public(row)


@router.get("", response_model=ReportsPublic)
def list_reports(
    session: SessionDep,
    _user: WorkflowReader,
    scope: Scope,
    unit: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> ReportsPublic:
    rows, total = crud.list_reports(session, scope=scope, unit=unit, limit=limit, offset=offset)
    return ReportsPublic(items=[_public(r) for r in rows], total=total)


def _get(session: SessionDep, report_id: str, scope: Scope) -> UnitReport:
    row = crud.get(session, report_id, scope=scope)
    if row is None:
        raise NotFound(f"report {report_id} not found")
    return row


@router.get("/{report_id}", response_model=ReportPublic)
def get_report(report_id: ReportId, session: SessionDep, _user: WorkflowReader, scope: Scope) -> ReportPublic:
    return _public(_get(session, report_id, scope))


@router.put("/{report_id}", response_model=ReportPublic)
def update_report(
    report_id: ReportId, body: ReportUpdate, session: SessionDep, user: WorkflowReader, scope: Scope
) -> ReportPublic:
    row = crud.update(session, _get(session, report_id, scope), body.data, actor=user.name)
    session.commit()
    return _public(row)
