"""Unit report, recipient, login and audit models."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from soc_api.forms.models import InitialReport


class ReportCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unit_code: str | None = Field(default=None, min_length=1, max_length=64, description="default: the reporter's unit")
    data: InitialReport


class ReportUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: InitialReport


class ReportPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    unit_code: str
    incident_id: str | None
    data: dict[str, Any]
    created_by: str
    created_at: datetime
    updated_at: datetime
    missing: list[str] = Field(default_factory=list, description="Mẫu 03 mandatory fields still missing")


class ReportsPublic(BaseModel):
    items: list[ReportPublic]
    total: int


Channel = Literal["api_push", "taxii", "email", "manual"]


class RecipientCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = Field(min_length=1, max_length=255)
    kind: str = Field(min_length=1, max_length=32)
    channel: Channel
    address: str | None = Field(default=None, max_length=1000)
    enabled: bool = True


class RecipientUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=255)
    kind: str | None = Field(default=None, min_length=1, max_length=32)
    channel: Channel | None = None
    address: str | None = Field(default=None, max_length=1000)
    enabled: bool | None = None


class RecipientPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    kind: str
    channel: str
    address: str | None
    enabled: bool
    created_at: datetime


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int = Field(description="seconds")


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str | None = Field(default=None, max_length=256)
    new_password: str = Field(min_length=10, max_length=256)


class AuditEntryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    seq: int | None
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    detail: dict[str, Any]
    prev_hash: str | None
    hash: str | None


class AuditPublic(BaseModel):
    items: list[AuditEntryPublic]
    total: int


class AuditVerify(BaseModel):
    ok: bool
    checked: int
    broken_at: int | None = Field(description="seq of the first entry that does not fit the chain")
    reason: str | None
