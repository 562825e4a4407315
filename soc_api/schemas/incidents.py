"""Incident (ticket) models: create, change, read; tasks, observables, messages, attachments,
timeline, deadline clocks, sendings, incident types."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

IdStr = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Priority = Literal["P1", "P2", "P3", "P4"]
IncidentStatus = Literal["open", "investigating", "contained", "resolved", "closed"]
ObservableType = Literal["ip", "domain", "url", "hash", "account", "host"]
Impact = Annotated[str, Field(min_length=1, max_length=64)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IncidentCreate(_In):
    title: str = Field(min_length=1, max_length=500)
    description: str = Field(default="", max_length=20_000)
    alert_ids: list[IdStr] = Field(default_factory=list, max_length=500)
    incident_type: str | None = Field(default=None, min_length=1, max_length=32, description="national type key")
    impacts: list[Impact] = Field(default_factory=list, max_length=10)
    owner_can_handle: bool = True
    security_level: int | None = Field(default=None, ge=1, le=5)
    unit_code: str | None = Field(default=None, min_length=1, max_length=64)
    detected_at: datetime | None = None
    assignee: str | None = Field(default=None, min_length=1, max_length=100)


class IncidentUpdate(_In):
    title: str | None = Field(default=None, min_length=1, max_length=500)
    description: str | None = Field(default=None, max_length=20_000)
    incident_type: str | None = Field(default=None, min_length=1, max_length=32)
    impacts: list[Impact] | None = Field(default=None, max_length=10)
    owner_can_handle: bool | None = None
    security_level: int | None = Field(default=None, ge=1, le=5)
    priority: Priority | None = None
    status: IncidentStatus | None = None
    assignee: str | None = Field(default=None, min_length=1, max_length=100)
    unit_code: str | None = Field(default=None, min_length=1, max_length=64)
    detected_at: datetime | None = None
    share_national: bool | None = Field(
        default=None, description="share with the national centres (STIX/TAXII feed); cannot be withdrawn"
    )


class AlertIds(_In):
    alert_ids: list[IdStr] = Field(min_length=1, max_length=500)


class MergeRequest(_In):
    source_ids: list[IdStr] = Field(min_length=1, max_length=50)


class DeadlineClock(BaseModel):
    key: str
    label_vi: str
    label_en: str
    due_at: datetime
    state: Literal["ok", "warning", "overdue", "met"]
    remaining_seconds: int
    met_at: datetime | None


class IncidentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    title: str
    description: str
    incident_type: str
    severity: str
    impacts: list[str]
    owner_can_handle: bool
    security_level: int | None
    priority: str
    status: str
    source: str
    unit_code: str | None
    assignee: str | None
    detected_at: datetime
    merged_into: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    share_national: bool = False
    deadlines: list[DeadlineClock] = Field(default_factory=list)


class TaskCreate(_In):
    title: str = Field(min_length=1, max_length=500)
    owner: str | None = Field(default=None, min_length=1, max_length=100)
    due_at: datetime | None = None


class TaskUpdate(_In):
    title: str | None = Field(default=None, min_length=1, max_length=500)
    owner: str | None = Field(default=None, min_length=1, max_length=100)
    due_at: datetime | None = None
    done: bool | None = None


class TaskPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    incident_id: str
    title: str
    owner: str | None
    due_at: datetime | None
    done: bool
    created_at: datetime
    done_at: datetime | None
    playbook_step: str | None = Field(default=None, description="key of the playbook step that seeded the task")


class ObservableCreate(_In):
    type: ObservableType
    value: str = Field(min_length=1, max_length=2048)
    note: str | None = Field(default=None, max_length=1000)


class ObservablePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    incident_id: str
    type: str
    value: str
    note: str | None
    created_by: str
    created_at: datetime


class ObservableIncidents(BaseModel):
    type: str
    value: str
    incidents: list[IncidentPublic]


class MessageCreate(_In):
    body: str = Field(min_length=1, max_length=10_000)
    kind: Literal["comment", "request", "response"] = "comment"
    reply_to: int | None = Field(default=None, ge=1)


class AttachmentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    incident_id: str
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: str
    created_at: datetime


class TimelinePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor: str
    kind: str
    summary: str
    detail: dict[str, Any]


class SendingPublic(BaseModel):
    id: int
    incident_id: str | None = Field(description="the incident of a Mẫu 03 / end-of-response report")
    period: str | None = Field(default=None, description="the reporting period of a Mẫu 05 summary (2026-H1)")
    recipient_id: int
    recipient_code: str
    recipient_name: str
    channel: str
    form_kind: str
    format: str
    sha256: str
    status: str
    note: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime


class SendRequest(_In):
    format: Literal["pdf", "docx", "json"] = "pdf"
    recipient_ids: list[Annotated[int, Field(ge=1)]] | None = Field(default=None, max_length=50)


class SendingUpdate(_In):
    status: Literal["pending", "sent", "acknowledged", "failed"]
    note: str | None = Field(default=None, max_length=1000)


class IncidentDetail(IncidentPublic):
    alert_ids: list[str]
    tasks: list[TaskPublic]
    observables: list[ObservablePublic]
    attachments: list[AttachmentPublic]
    report_ids: list[str]


class IncidentsPublic(BaseModel):
    items: list[IncidentPublic]
    total: int


class IncidentTypePublic(BaseModel):
    key: str
    number: int
    vi: str
    en: str


class FormCheck(BaseModel):
    kind: str
    ok: bool
    missing: list[str] = Field(description="missing mandatory / invalid fields (Vietnamese / English)")
    data: dict[str, Any]
