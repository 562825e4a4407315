"""Incidents (tickets): create/list/read/change/merge, alerts, tasks, observables, messages,
attachments, timeline, deadline clocks, national forms and their sendings.

Analysts and admins do everything; a unit reporter reads tickets of its unit subtree, changes a
few fields of them, writes comments and responses, and uploads attachments. Outside its subtree a
ticket does not exist for it (404).
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, File, HTTPException, Path, Query, UploadFile, status
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import select

from soc_api import forms
from soc_api.crud import attachments as attachments_crud
from soc_api.crud import comments as comments_crud
from soc_api.crud import incidents as crud
from soc_api.crud import observables as observables_crud
from soc_api.crud import recipients as recipients_crud
from soc_api.db.workflow_models import Attachment, Incident, Recipient, Sending, Task, UnitReport
from soc_api.deps import AnalystUser, Scope, SessionDep, WorkflowConfigDep, WorkflowReader
from soc_api.errors import InvalidInput, NotFound, PermissionDenied
from soc_api.forms.models import FORM_MODELS
from soc_api.schemas.alerts import CommentPublic, CommentsPublic
from soc_api.schemas.incidents import (
    AlertIds,
    AttachmentPublic,
    DeadlineClock,
    FormCheck,
    IncidentCreate,
    IncidentDetail,
    IncidentPublic,
    IncidentsPublic,
    IncidentTypePublic,
    IncidentUpdate,
    MergeRequest,
    MessageCreate,
    ObservableCreate,
    ObservableIncidents,
    ObservablePublic,
    SendingPublic,
    SendingUpdate,
    SendRequest,
    TaskCreate,
    TaskPublic,
    TaskUpdate,
    TimelinePublic,
)
from soc_api.services.config import WorkflowConfig
from soc_api.services.form_data import incident_form_data
from soc_api.services.incident_types import type_map

router = APIRouter(tags=["incidents"])

IncidentId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
TicketFormKind = Literal["mau03", "end_report"]
MEDIA_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "json": "application/json",
}


def _public(session: SessionDep, cfg: WorkflowConfig, incident: Incident) -> IncidentPublic:
    clocks = [
        DeadlineClock.model_validate(c, from_attributes=True) for c in crud.deadline_clocks(session, cfg, incident)
    ]
    return IncidentPublic.model_validate(incident).model_copy(update={"deadlines": clocks})


@router.get("/incident-types", response_model=list[IncidentTypePublic])
def incident_types(_user: WorkflowReader) -> list[IncidentTypePublic]:
    """The 10 national incident types (Vietnamese and English labels)."""
    return [IncidentTypePublic(key=t.key, number=t.number, vi=t.vi, en=t.en) for t in type_map().types]


@router.get("/incidents", response_model=IncidentsPublic)
def list_incidents(
    *,
    session: SessionDep,
    _user: WorkflowReader,
    scope: Scope,
    cfg: WorkflowConfigDep,
    status_: Annotated[
        Literal["open", "investigating", "contained", "resolved", "closed", "merged"] | None, Query(alias="status")
    ] = None,
    incident_type: Annotated[str | None, Query(min_length=1, max_length=32)] = None,
    severity: Literal["normal", "serious"] | None = None,
    priority: Literal["P1", "P2", "P3", "P4"] | None = None,
    unit: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    assignee: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> IncidentsPublic:
    flt = crud.IncidentFilter(
        status=status_,
        incident_type=incident_type,
        severity=severity,
        priority=priority,
        unit=unit,
        assignee=assignee,
        q=q,
    )
    rows, total = crud.list_incidents(session, flt, scope=scope, limit=limit, offset=offset)
    return IncidentsPublic(items=[_public(session, cfg, r) for r in rows], total=total)


@router.post("/incidents", response_model=IncidentPublic, status_code=status.HTTP_201_CREATED)
def create_incident(
    body: IncidentCreate, session: SessionDep, user: AnalystUser, cfg: WorkflowConfigDep
) -> IncidentPublic:
    """Open a ticket, optionally from alerts (type, security level, unit, priority derived from them)."""
    incident = crud.create(session, cfg, actor=user.name, **body.model_dump())
    session.commit()
    return _public(session, cfg, incident)


def _detail(session: SessionDep, cfg: WorkflowConfig, incident: Incident) -> IncidentDetail:
    base = _public(session, cfg, incident)
    reports = list(session.scalars(select(UnitReport.id).where(UnitReport.incident_id == incident.id)))
    return IncidentDetail(
        **base.model_dump(),
        alert_ids=crud.alert_ids(session, incident.id),
        tasks=[TaskPublic.model_validate(t) for t in crud.list_tasks(session, incident.id)],
        observables=[
            ObservablePublic.model_validate(o) for o in observables_crud.list_for_incident(session, incident.id)
        ],
        attachments=[
            AttachmentPublic.model_validate(a) for a in attachments_crud.list_for_incident(session, incident.id)
        ],
        report_ids=reports,
    )


@router.get("/incidents/{incident_id}", response_model=IncidentDetail)
def get_incident(
    incident_id: IncidentId, session: SessionDep, _user: WorkflowReader, scope: Scope, cfg: WorkflowConfigDep
) -> IncidentDetail:
    return _detail(session, cfg, crud.require(session, incident_id, scope=scope))


@router.patch("/incidents/{incident_id}", response_model=IncidentPublic)
def update_incident(
    *,
    incident_id: IncidentId,
    body: IncidentUpdate,
    session: SessionDep,
    user: WorkflowReader,
    scope: Scope,
    cfg: WorkflowConfigDep,
) -> IncidentPublic:
    incident = crud.require(session, incident_id, scope=scope)
    changes = body.model_dump(exclude_unset=True)
    if user.role == "unit_reporter":
        refused = sorted(set(changes) - crud.UNIT_REPORTER_UPDATABLE)
        if refused:
            raise PermissionDenied(f"a unit reporter may not change: {', '.join(refused)}")
    crud.update(session, cfg, incident, changes, actor=user.name)
    session.commit()
    return _public(session, cfg, incident)


@router.post("/incidents/{incident_id}/alerts", response_model=IncidentDetail)
def add_alerts(
    incident_id: IncidentId, body: AlertIds, session: SessionDep, user: AnalystUser, cfg: WorkflowConfigDep
) -> IncidentDetail:
    incident = crud.require(session, incident_id, scope=None)
    crud.add_alerts(session, incident, body.alert_ids, actor=user.name)
    session.commit()
    return _detail(session, cfg, incident)


@router.post("/incidents/{incident_id}/merge", response_model=IncidentDetail)
def merge_incidents(
    incident_id: IncidentId, body: MergeRequest, session: SessionDep, user: AnalystUser, cfg: WorkflowConfigDep
) -> IncidentDetail:
    """Merge the listed incidents into this one (they end as status ``merged``)."""
    target = crud.require(session, incident_id, scope=None)
    crud.merge(session, target, list(dict.fromkeys(body.source_ids)), actor=user.name)
    session.commit()
    return _detail(session, cfg, target)


@router.get("/incidents/{incident_id}/timeline", response_model=list[TimelinePublic])
def get_timeline(
    incident_id: IncidentId, session: SessionDep, _user: WorkflowReader, scope: Scope
) -> list[TimelinePublic]:
    crud.require(session, incident_id, scope=scope)
    return [TimelinePublic.model_validate(t) for t in crud.list_timeline(session, incident_id)]


@router.get("/incidents/{incident_id}/deadlines", response_model=list[DeadlineClock])
def get_deadlines(
    incident_id: IncidentId, session: SessionDep, _user: WorkflowReader, scope: Scope, cfg: WorkflowConfigDep
) -> list[DeadlineClock]:
    incident = crud.require(session, incident_id, scope=scope)
    return [DeadlineClock.model_validate(c, from_attributes=True) for c in crud.deadline_clocks(session, cfg, incident)]


# --- tasks ----------------------------------------------------------------------------------


@router.post("/incidents/{incident_id}/tasks", response_model=TaskPublic, status_code=status.HTTP_201_CREATED)
def add_task(incident_id: IncidentId, body: TaskCreate, session: SessionDep, user: AnalystUser) -> TaskPublic:
    incident = crud.require(session, incident_id, scope=None)
    task = crud.add_task(session, incident, title=body.title, owner=body.owner, due_at=body.due_at, actor=user.name)
    session.commit()
    return TaskPublic.model_validate(task)


@router.patch("/incidents/{incident_id}/tasks/{task_id}", response_model=TaskPublic)
def update_task(
    incident_id: IncidentId,
    task_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    body: TaskUpdate,
    session: SessionDep,
    user: AnalystUser,
) -> TaskPublic:
    incident = crud.require(session, incident_id, scope=None)
    task = session.get(Task, task_id)
    if task is None or task.incident_id != incident.id:
        raise NotFound(f"task {task_id} not found on incident {incident_id}")
    crud.update_task(session, incident, task, body.model_dump(exclude_unset=True), actor=user.name)
    session.commit()
    return TaskPublic.model_validate(task)


# --- observables ----------------------------------------------------------------------------


@router.post(
    "/incidents/{incident_id}/observables", response_model=ObservablePublic, status_code=status.HTTP_201_CREATED
)
def add_observable(
    incident_id: IncidentId, body: ObservableCreate, session: SessionDep, user: AnalystUser
) -> ObservablePublic:
    incident = crud.require(session, incident_id, scope=None)
    row = observables_crud.add_observable(session, incident, body.type, body.value, actor=user.name, note=body.note)
    session.commit()
    return ObservablePublic.model_validate(row)


@router.get("/observables/{otype}/{value}", response_model=ObservableIncidents)
def observable_incidents(
    otype: Literal["ip", "domain", "url", "hash", "account", "host"],
    value: Annotated[str, Path(min_length=1, max_length=2048)],
    session: SessionDep,
    _user: AnalystUser,
    cfg: WorkflowConfigDep,
) -> ObservableIncidents:
    """Every incident on which this observable was seen (links incidents across units)."""
    rows = observables_crud.incidents_with(session, otype, value, scope=None)
    return ObservableIncidents(
        type=otype,
        value=observables_crud.normalise(otype, value),
        incidents=[_public(session, cfg, i) for i, _ in rows],
    )


# --- messages -------------------------------------------------------------------------------


@router.get("/incidents/{incident_id}/comments", response_model=CommentsPublic)
def list_messages(incident_id: IncidentId, session: SessionDep, _user: WorkflowReader, scope: Scope) -> CommentsPublic:
    crud.require(session, incident_id, scope=scope)
    rows = comments_crud.list_comments(session, "incident", incident_id)
    return CommentsPublic(items=[CommentPublic.model_validate(r) for r in rows], total=len(rows))


@router.post("/incidents/{incident_id}/comments", response_model=CommentPublic, status_code=status.HTTP_201_CREATED)
def add_message(
    incident_id: IncidentId, body: MessageCreate, session: SessionDep, user: WorkflowReader, scope: Scope
) -> CommentPublic:
    """Comment; the SOC sends ``request`` messages, a unit answers with ``response`` (``reply_to``)."""
    incident = crud.require(session, incident_id, scope=scope)
    if body.kind == "request" and user.role == "unit_reporter":
        raise PermissionDenied("only the SOC sends requests; answer with kind=response")
    if body.kind == "response" and user.role != "unit_reporter":
        raise PermissionDenied("responses come from the unit; the SOC writes comments or requests")
    row = comments_crud.add_comment(
        session,
        object_type="incident",
        object_id=incident.id,
        author=user.name,
        body=body.body,
        kind=body.kind,
        reply_to=body.reply_to,
    )
    crud.timeline(session, incident, user.name, body.kind, body.body[:200], comment_id=row.id)
    session.commit()
    return CommentPublic.model_validate(row)


# --- attachments ----------------------------------------------------------------------------


@router.post(
    "/incidents/{incident_id}/attachments", response_model=AttachmentPublic, status_code=status.HTTP_201_CREATED
)
async def upload_attachment(
    *,
    incident_id: IncidentId,
    file: Annotated[UploadFile, File(description="the file (multipart/form-data)")],
    session: SessionDep,
    user: WorkflowReader,
    scope: Scope,
    cfg: WorkflowConfigDep,
) -> AttachmentPublic:
    incident = crud.require(session, incident_id, scope=scope)
    limit = cfg.attachments.max_bytes
    content = await file.read(limit + 1)
    row = attachments_crud.add(
        session,
        incident,
        filename=file.filename,
        content_type=file.content_type,
        content=content,
        max_bytes=limit,
        actor=user.name,
    )
    session.commit()
    return AttachmentPublic.model_validate(row)


@router.get("/incidents/{incident_id}/attachments", response_model=list[AttachmentPublic])
def list_attachments(
    incident_id: IncidentId, session: SessionDep, _user: WorkflowReader, scope: Scope
) -> list[AttachmentPublic]:
    crud.require(session, incident_id, scope=scope)
    return [AttachmentPublic.model_validate(a) for a in attachments_crud.list_for_incident(session, incident_id)]


@router.get(
    "/incidents/{incident_id}/attachments/{attachment_id}",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def download_attachment(
    incident_id: IncidentId,
    attachment_id: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")],
    session: SessionDep,
    _user: WorkflowReader,
    scope: Scope,
) -> Response:
    crud.require(session, incident_id, scope=scope)
    row = session.get(Attachment, attachment_id)
    if row is None or row.incident_id != incident_id:
        raise NotFound(f"attachment {attachment_id} not found")
    return Response(
        content=row.content,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{_quote(row.filename)}",
            "X-Content-SHA256": row.sha256,
            "X-Content-Type-Options": "nosniff",
        },
    )


def _quote(name: str) -> str:
    return quote(name, safe="")


# --- national forms and sendings ------------------------------------------------------------


def _form_data(session: SessionDep, incident: Incident, kind: str) -> dict[str, Any]:
    first_sent = session.scalar(
        select(Sending.created_at)
        .where(Sending.incident_id == incident.id, Sending.form_kind == "mau03")
        .order_by(Sending.created_at)
        .limit(1)
    )
    return incident_form_data(kind, incident, initial_sent_at=first_sent)


def _render(kind: str, data: dict[str, Any], fmt: str) -> bytes:
    problems = forms.validate(kind, data)  # type: ignore[arg-type]
    if problems:
        raise HTTPException(
            status_code=422,
            detail={
                "message": f"Biểu mẫu {kind} thiếu thông tin bắt buộc / form {kind} is incomplete",
                "missing": problems,
            },
        )
    try:
        return forms.render(kind, data, fmt)  # type: ignore[arg-type]
    except forms.FormIncomplete as exc:
        raise HTTPException(status_code=422, detail={"message": exc.message, "missing": exc.problems}) from exc


@router.get("/incidents/{incident_id}/forms/{kind}/check", response_model=FormCheck)
def check_form(
    incident_id: IncidentId, kind: TicketFormKind, session: SessionDep, _user: WorkflowReader, scope: Scope
) -> FormCheck:
    """The form's data as it would be exported, and what it still misses."""
    incident = crud.require(session, incident_id, scope=scope)
    data = _form_data(session, incident, kind)
    missing = forms.validate(kind, data)
    return FormCheck(kind=kind, ok=not missing, missing=missing, data=data)


@router.put("/incidents/{incident_id}/forms/{kind}", response_model=FormCheck)
def save_form_draft(
    *,
    incident_id: IncidentId,
    kind: TicketFormKind,
    body: dict[str, Any],
    session: SessionDep,
    user: WorkflowReader,
    scope: Scope,
) -> FormCheck:
    """Save a (possibly partial) draft of the form on the ticket; values are checked as they come."""
    incident = crud.require(session, incident_id, scope=scope)
    try:
        model = FORM_MODELS[kind].model_validate(body)
    except ValidationError as exc:
        raise InvalidInput(f"invalid {kind} draft: {exc.error_count()} problem(s): {exc.errors()[0]['msg']}") from exc
    incident.forms = {**(incident.forms or {}), kind: model.model_dump(mode="json")}
    crud.timeline(session, incident, user.name, "form_draft", f"{kind} draft saved")
    crud._audit(session, user.name, "incident.form_draft", incident, {"form": kind})
    session.commit()
    data = _form_data(session, incident, kind)
    missing = forms.validate(kind, data)
    return FormCheck(kind=kind, ok=not missing, missing=missing, data=data)


@router.get(
    "/incidents/{incident_id}/forms/{kind}",
    response_class=Response,
    responses={
        200: {"content": {m: {} for m in MEDIA_TYPES.values()}},
        422: {"description": "mandatory fields missing: detail.missing lists them"},
    },
)
def export_form(
    *,
    incident_id: IncidentId,
    kind: TicketFormKind,
    session: SessionDep,
    _user: WorkflowReader,
    scope: Scope,
    format: Literal["pdf", "docx", "json"] = "pdf",
) -> Response:
    """The filled national form (PDF, DOCX or JSON); refused with the list of missing fields."""
    incident = crud.require(session, incident_id, scope=scope)
    content = _render(kind, _form_data(session, incident, kind), format)
    filename = f"{kind}-{incident.id}.{format}"
    return Response(
        content=content,
        media_type=MEDIA_TYPES[format],
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Content-SHA256": hashlib.sha256(content).hexdigest(),
        },
    )


def sending_public(sending: Sending, recipient: Recipient) -> SendingPublic:
    return SendingPublic(
        id=sending.id,
        incident_id=sending.incident_id,
        period=sending.period,
        recipient_id=recipient.id,
        recipient_code=recipient.code,
        recipient_name=recipient.name,
        channel=recipient.channel,
        form_kind=sending.form_kind,
        format=sending.format,
        sha256=sending.sha256,
        status=sending.status,
        note=sending.note,
        created_by=sending.created_by,
        created_at=sending.created_at,
        updated_at=sending.updated_at,
    )


@router.post(
    "/incidents/{incident_id}/forms/{kind}/send",
    response_model=list[SendingPublic],
    status_code=status.HTTP_201_CREATED,
)
def send_form(
    incident_id: IncidentId, kind: TicketFormKind, body: SendRequest, session: SessionDep, user: AnalystUser
) -> list[SendingPublic]:
    """Export the form and record one sending per recipient (given ones, or every enabled one)."""
    incident = crud.require(session, incident_id, scope=None)
    content = _render(kind, _form_data(session, incident, kind), body.format)
    rows = recipients_crud.record_sendings(
        session,
        incident,
        form_kind=kind,
        fmt=body.format,
        sha256=hashlib.sha256(content).hexdigest(),
        recipient_ids=body.recipient_ids,
        actor=user.name,
    )
    session.commit()
    by_id = dict(recipients_crud.list_sendings(session, incident.id))
    return [sending_public(r, by_id[r]) for r in rows]


@router.get("/incidents/{incident_id}/sendings", response_model=list[SendingPublic])
def list_sendings(
    incident_id: IncidentId, session: SessionDep, _user: WorkflowReader, scope: Scope
) -> list[SendingPublic]:
    crud.require(session, incident_id, scope=scope)
    return [sending_public(s, r) for s, r in recipients_crud.list_sendings(session, incident_id)]


@router.patch("/sendings/{sending_id}", response_model=SendingPublic)
def update_sending(
    sending_id: Annotated[int, Path(ge=1, le=2**31 - 1)], body: SendingUpdate, session: SessionDep, user: AnalystUser
) -> SendingPublic:
    """Record the delivery state of one sending (sent, acknowledged, failed, back to pending)."""
    sending = session.get(Sending, sending_id)
    if sending is None:
        raise NotFound(f"sending {sending_id} not found")
    recipients_crud.update_sending(session, sending, body.status, body.note, actor=user.name)
    session.commit()
    recipient = session.get(Recipient, sending.recipient_id)
    if recipient is None:  # the foreign key cascades deletes, so this cannot happen
        raise NotFound(f"recipient of sending {sending_id} not found")
    return sending_public(sending, recipient)


__all__ = ["router"]
