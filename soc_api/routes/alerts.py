"""Alert queue: list with filters, detail with triggering events, status changes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from soc_api.crud import alerts as crud
from soc_api.deps import AlertReader, AlertScope, AnalystUser, EventStoreDep, SessionDep
from soc_api.errors import NotFound
from soc_api.schemas.alerts import AlertDetail, AlertPublic, AlertQuery, AlertsPublic, AlertUpdate
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


def _events(store: EventStoreDep, ids: list[str]) -> tuple[list[dict[str, Any]], str | None]:
    if not ids:
        return [], None
    try:
        events = store.get(ids)
    except SocError as exc:
        return [], f"event store unavailable: {exc.message}"
    events.sort(key=lambda e: str(e.get("@timestamp", "")), reverse=True)
    return events[:MAX_EVENTS], None


@router.get("/{alert_id}", response_model=AlertDetail)
def get_alert(
    alert_id: AlertId, session: SessionDep, _user: AlertReader, scope: AlertScope, store: EventStoreDep
) -> AlertDetail:
    alert = crud.get_alert(session, alert_id, scope=scope)
    if alert is None:
        raise NotFound(f"alert {alert_id} not found")
    events, error = _events(store, crud.event_ids(session, alert.id, MAX_EVENTS))
    public = AlertPublic.model_validate(alert)
    return AlertDetail(**public.model_dump(), events=events, events_error=error)


@router.patch("/{alert_id}", response_model=AlertPublic)
def update_alert(alert_id: AlertId, body: AlertUpdate, session: SessionDep, user: AnalystUser) -> AlertPublic:
    alert = crud.get_alert(session, alert_id, scope=None)
    if alert is None:
        raise NotFound(f"alert {alert_id} not found")
    crud.update_alert(session, alert, body.model_dump(exclude_unset=True), actor=user.name)
    session.commit()
    return AlertPublic.model_validate(alert)
