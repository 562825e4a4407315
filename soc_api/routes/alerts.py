"""Alert queue: list with filters and search, detail with triggering events, status changes,
bulk actions, comments, and suppressions created from an alert."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status

from soc_api.crud import alerts as crud
from soc_api.crud import comments as comments_crud
from soc_api.crud import suppressions as suppressions_crud
from soc_api.deps import AlertReader, AlertScope, AnalystUser, EventStoreDep, SessionDep, WorkflowConfigDep
from soc_api.errors import NotFound
from soc_api.schemas.alerts import (
    AlertBulk,
    AlertDetail,
    AlertPublic,
    AlertQuery,
    AlertsPublic,
    AlertUpdate,
    BulkResult,
    CommentCreate,
    CommentPublic,
    CommentsPublic,
    SuppressFromAlert,
)
from soc_api.schemas.suppressions import SuppressionPublic
from soc_core.errors import SocError

router = APIRouter(prefix="/alerts", tags=["alerts"])

AlertId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
MAX_EVENTS = 100


@router.get("", response_model=AlertsPublic)
def list_alerts(
    session: SessionDep, _user: AlertReader, scope: AlertScope, params: Annotated[AlertQuery, Query()]
) -> AlertsPublic:
    flt = crud.AlertFilter(**params.model_dump(exclude={"limit", "offset"}))
    rows, total = crud.list_alerts(session, flt, scope=scope, limit=params.limit, offset=params.offset)
    return AlertsPublic(items=[AlertPublic.model_validate(r) for r in rows], total=total)


@router.post("/bulk", response_model=BulkResult)
def bulk_update(body: AlertBulk, session: SessionDep, user: AnalystUser) -> BulkResult:
    """Apply one change (status, verdict, assignee) to many alerts; refusals are listed per alert."""
    changes = body.model_dump(exclude_unset=True, exclude={"ids"})
    updated, errors = crud.bulk_update(session, body.ids, changes, actor=user.name)
    session.commit()
    return BulkResult(updated=updated, errors=errors)


def _events(store: EventStoreDep, ids: list[str]) -> tuple[list[dict[str, Any]], int, str | None]:
    """The stored triggering events, how many are not indexed yet, and why the store failed if it did.

    The alert sink and the indexer consume the bus independently, so an alert can be written a
    moment before its events are searchable; those are reported as pending, never as missing.
    """
    if not ids:
        return [], 0, None
    try:
        events = store.get(ids)
    except SocError as exc:
        return [], 0, f"event store unavailable: {exc.message}"
    events.sort(key=lambda e: str(e.get("@timestamp", "")), reverse=True)
    return events[:MAX_EVENTS], max(0, len(set(ids)) - len(events)), None


@router.get("/{alert_id}", response_model=AlertDetail)
def get_alert(
    alert_id: AlertId, session: SessionDep, _user: AlertReader, scope: AlertScope, store: EventStoreDep
) -> AlertDetail:
    alert = crud.get_alert(session, alert_id, scope=scope)
    if alert is None:
        raise NotFound(f"alert {alert_id} not found")
    events, pending, error = _events(store, crud.event_ids(session, alert.id, MAX_EVENTS))
    public = AlertPublic.model_validate(alert)
    return AlertDetail(**public.model_dump(), events=events, events_pending=pending, events_error=error)


@router.patch("/{alert_id}", response_model=AlertPublic)
def update_alert(alert_id: AlertId, body: AlertUpdate, session: SessionDep, user: AnalystUser) -> AlertPublic:
    alert = crud.get_alert(session, alert_id, scope=None)
    if alert is None:
        raise NotFound(f"alert {alert_id} not found")
    crud.update_alert(session, alert, body.model_dump(exclude_unset=True), actor=user.name)
    session.commit()
    return AlertPublic.model_validate(alert)


@router.get("/{alert_id}/comments", response_model=CommentsPublic)
def list_comments(alert_id: AlertId, session: SessionDep, _user: AlertReader, scope: AlertScope) -> CommentsPublic:
    if crud.get_alert(session, alert_id, scope=scope) is None:
        raise NotFound(f"alert {alert_id} not found")
    rows = comments_crud.list_comments(session, "alert", alert_id)
    return CommentsPublic(items=[CommentPublic.model_validate(r) for r in rows], total=len(rows))


@router.post("/{alert_id}/comments", response_model=CommentPublic, status_code=status.HTTP_201_CREATED)
def add_comment(alert_id: AlertId, body: CommentCreate, session: SessionDep, user: AnalystUser) -> CommentPublic:
    if crud.get_alert(session, alert_id, scope=None) is None:
        raise NotFound(f"alert {alert_id} not found")
    row = comments_crud.add_comment(session, object_type="alert", object_id=alert_id, author=user.name, body=body.body)
    session.commit()
    return CommentPublic.model_validate(row)


@router.post("/{alert_id}/suppress", response_model=SuppressionPublic, status_code=status.HTTP_201_CREATED)
def suppress(
    alert_id: AlertId, body: SuppressFromAlert, session: SessionDep, user: AnalystUser, cfg: WorkflowConfigDep
) -> SuppressionPublic:
    """Hide future detections like this one (same rule; chosen entity keys and/or event fields)."""
    alert = crud.get_alert(session, alert_id, scope=None)
    if alert is None:
        raise NotFound(f"alert {alert_id} not found")
    row = suppressions_crud.from_alert(
        session,
        cfg,
        alert,
        reason=body.reason,
        days=body.days,
        entity_keys=body.entity_keys,
        fields=body.fields,
        actor=user.name,
    )
    session.commit()
    return SuppressionPublic.model_validate(row).model_copy(update={"active": suppressions_crud.is_active(row)})
