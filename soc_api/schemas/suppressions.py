"""Suppression models: create, change, read."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Key = Annotated[str, Field(min_length=1, max_length=100)]
Value = Annotated[str, Field(max_length=500)]


class SuppressionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule_id: str = Field(min_length=1, max_length=255)
    entity: dict[Key, Value] = Field(default_factory=dict, max_length=20)
    fields: dict[Key, Value] = Field(default_factory=dict, max_length=20)
    reason: str = Field(min_length=1, max_length=1000)
    days: int | None = Field(default=None, ge=1, le=3650)


class SuppressionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, min_length=1, max_length=1000)
    expires_at: datetime | None = None
    disabled: bool | None = None


class SuppressionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    rule_id: str
    entity: dict[str, str]
    fields: dict[str, str]
    reason: str
    verdict: str | None
    source_alert_id: str | None
    created_by: str
    created_at: datetime
    expires_at: datetime
    disabled: bool
    hit_count: int = Field(description="detections hidden so far")
    last_hit_at: datetime | None
    active: bool = False


class SuppressionsPublic(BaseModel):
    items: list[SuppressionPublic]
    total: int
    hidden_total: int = Field(description="detections hidden by the listed suppressions")
