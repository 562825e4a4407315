"""The audit log (admins): entries with filters, and verification of the hash chain."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from soc_api.crud import audit as crud
from soc_api.deps import AdminUser, SessionDep
from soc_api.schemas.reports import AuditEntryPublic, AuditPublic, AuditVerify

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("", response_model=AuditPublic)
def list_audit(
    *,
    session: SessionDep,
    _admin: AdminUser,
    object_type: Annotated[str | None, Query(min_length=1, max_length=32)] = None,
    object_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    actor: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    action: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> AuditPublic:
    rows, total = crud.list_entries(
        session, object_type=object_type, object_id=object_id, actor=actor, action=action, limit=limit, offset=offset
    )
    return AuditPublic(items=[AuditEntryPublic.model_validate(r) for r in rows], total=total)


@router.get("/verify", response_model=AuditVerify)
def verify_audit(session: SessionDep, _admin: AdminUser) -> AuditVerify:
    """Recompute the chain; ``broken_at`` is the seq of the first entry that was altered."""
    check = crud.verify(session)
    return AuditVerify(ok=check.ok, checked=check.checked, broken_at=check.broken_at, reason=check.reason)
