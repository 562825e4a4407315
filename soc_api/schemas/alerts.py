"""Alert models: ``AlertPublic`` (read), ``AlertDetail`` (read with events), ``AlertUpdate`` (PATCH)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

AlertStatus = Literal["new", "acknowledged", "in_progress", "closed"]
Verdict = Literal["true_positive", "false_positive", "benign"]
Level = Literal["informational", "low", "medium", "high", "critical"]


class AlertPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    dedup_key: str
    rule_id: str
    rule_title: str
    level: str
    tags: list[str]
    unit_code: str | None
    entity: dict[str, str]
    first_seen: datetime
    last_seen: datetime
    count: int
    status: str
    verdict: str | None
    assignee: str | None
    created_at: datetime
    updated_at: datetime


class AlertDetail(AlertPublic):
    events: list[dict[str, Any]] = Field(description="Triggering ECS events, newest first (at most 100)")
    events_error: str | None = Field(default=None, description="Why events could not be fetched, if so")


class AlertsPublic(BaseModel):
    items: list[AlertPublic]
    total: int


class AlertQuery(BaseModel):
    """Filters and pagination of ``GET /alerts`` (query string). Unknown parameters are refused."""

    model_config = ConfigDict(extra="forbid")

    status: AlertStatus | None = None
    level: Level | None = None
    unit: str | None = Field(default=None, min_length=1, max_length=64)
    rule_id: str | None = Field(default=None, min_length=1, max_length=255)
    since: datetime | None = Field(default=None, description="alerts last seen at or after (ISO 8601)")
    until: datetime | None = Field(default=None, description="alerts first seen before (ISO 8601)")
    q: str | None = Field(default=None, min_length=1, max_length=200, description="text in title, rule id, entity")
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=1_000_000)


class AlertUpdate(BaseModel):
    """Change an alert. Unknown fields are refused (422)."""

    model_config = ConfigDict(extra="forbid")

    status: AlertStatus | None = None
    verdict: Verdict | None = None
    assignee: str | None = Field(default=None, min_length=1, max_length=100)
