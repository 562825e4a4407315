"""Suppressions: list (with what they hid), create, read, change or switch off (analysts, admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from soc_api.crud import suppressions as crud
from soc_api.db.workflow_models import Suppression
from soc_api.deps import AnalystUser, SessionDep, WorkflowConfigDep
from soc_api.errors import NotFound
from soc_api.schemas.suppressions import SuppressionCreate, SuppressionPublic, SuppressionsPublic, SuppressionUpdate

router = APIRouter(prefix="/suppressions", tags=["suppressions"])

SuppressionId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


def _public(row: Suppression) -> SuppressionPublic:
    return SuppressionPublic.model_validate(row).model_copy(update={"active": crud.is_active(row)})


@router.get("", response_model=SuppressionsPublic)
def list_suppressions(
    session: SessionDep,
    _user: AnalystUser,
    active: bool | None = None,
    rule_id: Annotated[str | None, Query(min_length=1, max_length=255)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> SuppressionsPublic:
    rows, total, hidden = crud.list_suppressions(session, active=active, rule_id=rule_id, limit=limit, offset=offset)
    return SuppressionsPublic(items=[_public(r) for r in rows], total=total, hidden_total=hidden)


@router.post("", response_model=SuppressionPublic, status_code=status.HTTP_201_CREATED)
def create_suppression(
    body: SuppressionCreate, session: SessionDep, user: AnalystUser, cfg: WorkflowConfigDep
) -> SuppressionPublic:
    row = crud.create(
        session,
        cfg,
        rule_id=body.rule_id,
        entity=body.entity,
        fields=body.fields,
        reason=body.reason,
        days=body.days,
        actor=user.name,
    )
    session.commit()
    return _public(row)


def _get(session: SessionDep, suppression_id: str) -> Suppression:
    row = session.get(Suppression, suppression_id)
    if row is None:
        raise NotFound(f"suppression {suppression_id} not found")
    return row


@router.get("/{suppression_id}", response_model=SuppressionPublic)
def get_suppression(suppression_id: SuppressionId, session: SessionDep, _user: AnalystUser) -> SuppressionPublic:
    return _public(_get(session, suppression_id))


@router.patch("/{suppression_id}", response_model=SuppressionPublic)
def update_suppression(
    suppression_id: SuppressionId, body: SuppressionUpdate, session: SessionDep, user: AnalystUser
) -> SuppressionPublic:
    row = crud.update(session, _get(session, suppression_id), body.model_dump(exclude_unset=True), actor=user.name)
    session.commit()
    return _public(row)


@router.delete("/{suppression_id}", response_model=SuppressionPublic)
def disable_suppression(suppression_id: SuppressionId, session: SessionDep, user: AnalystUser) -> SuppressionPublic:
    """Switch the suppression off (it stays listed, with its counts, for the record)."""
    row = crud.update(session, _get(session, suppression_id), {"disabled": True}, actor=user.name)
    session.commit()
    return _public(row)
