"""Configured recipients of national reports (admins change them; analysts read them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from soc_api.crud import recipients as crud
from soc_api.db.workflow_models import Recipient
from soc_api.deps import AdminUser, AnalystUser, SessionDep, WorkflowConfigDep
from soc_api.errors import NotFound
from soc_api.schemas.reports import RecipientCreate, RecipientPublic, RecipientUpdate

router = APIRouter(prefix="/recipients", tags=["recipients"])

RecipientId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("", response_model=list[RecipientPublic])
def list_recipients(session: SessionDep, _user: AnalystUser) -> list[RecipientPublic]:
    return [RecipientPublic.model_validate(r) for r in crud.list_recipients(session)]


@router.post("", response_model=RecipientPublic, status_code=status.HTTP_201_CREATED)
def create_recipient(
    body: RecipientCreate, session: SessionDep, admin: AdminUser, cfg: WorkflowConfigDep
) -> RecipientPublic:
    row = crud.create(session, cfg, body.model_dump(), actor=admin.name)
    session.commit()
    return RecipientPublic.model_validate(row)


def _get(session: SessionDep, recipient_id: int) -> Recipient:
    row = session.get(Recipient, recipient_id)
    if row is None:
        raise NotFound(f"recipient {recipient_id} not found")
    return row


@router.get("/{recipient_id}", response_model=RecipientPublic)
def get_recipient(recipient_id: RecipientId, session: SessionDep, _user: AnalystUser) -> RecipientPublic:
    return RecipientPublic.model_validate(_get(session, recipient_id))


@router.patch("/{recipient_id}", response_model=RecipientPublic)
def update_recipient(
    recipient_id: RecipientId, body: RecipientUpdate, session: SessionDep, admin: AdminUser, cfg: WorkflowConfigDep
) -> RecipientPublic:
    row = crud.update(session, cfg, _get(session, recipient_id), body.model_dump(exclude_unset=True), actor=admin.name)
    session.commit()
    return RecipientPublic.model_validate(row)


@router.delete("/{recipient_id}", response_model=RecipientPublic)
def disable_recipient(
    recipient_id: RecipientId, session: SessionDep, admin: AdminUser, cfg: WorkflowConfigDep
) -> RecipientPublic:
    """Disable (sendings keep their history, so recipients are never removed)."""
    row = crud.update(session, cfg, _get(session, recipient_id), {"enabled": False}, actor=admin.name)
    session.commit()
    return RecipientPublic.model_validate(row)
