"""The national feed outbox: analysts follow deliveries and acknowledgements; admins requeue
failed rows. (What is shared and how: :mod:`soc_api.feed`; TAXII: :mod:`soc_api.routes.taxii`.)"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from soc_api.crud import feed as crud
from soc_api.deps import AdminUser, AnalystUser, SessionDep
from soc_api.schemas.feed import OutboxPage, OutboxPublic, Requeued

router = APIRouter(prefix="/feed", tags=["feed"])


@router.get("/outbox", response_model=OutboxPage)
def list_outbox(
    *,
    session: SessionDep,
    _user: AnalystUser,
    status: Literal["pending", "sent", "acknowledged", "failed"] | None = None,
    incident_id: Annotated[str | None, Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> OutboxPage:
    """Outbox rows, newest first: one per incident bundle version and push recipient."""
    rows, total = crud.list_outbox(session, status=status, incident_id=incident_id, limit=limit, offset=offset)
    items = [
        OutboxPublic.model_validate(row).model_copy(update={"recipient_code": recipient.code})
        for row, recipient in rows
    ]
    return OutboxPage(items=items, total=total)


@router.post("/outbox/retry", response_model=Requeued)
def retry_failed(session: SessionDep, admin: AdminUser) -> Requeued:
    """Put every failed row back to pending (same idempotency keys); the sender takes them next."""
    count = crud.requeue_failed(session, actor=admin.name)
    session.commit()
    return Requeued(requeued=count)
