"""Alert models: ``AlertPublic`` (read), ``AlertDetail`` (read with events), ``AlertUpdate`` (PATCH)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

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
    group_seq: int = Field(description="Grouping window number for this rule+entity (0 = first)")
    security_level: int | None = Field(description="Highest asset security level (cấp độ 1-5) seen")
    ti_hits: int = Field(description="Threat-intel matches (soc.threat.matched)")
    risk_score: int = Field(description="0-100 from rule level x security level x threat-intel hits")
    context: dict[str, Any] | None = Field(
        default=None,
        description="Why it fired beyond the rule: for anomaly models, score, threshold, window and top features",
    )


class AlertDetail(AlertPublic):
    events: list[dict[str, Any]] = Field(description="Triggering ECS events, newest first (at most 100)")
    events_pending: int = Field(default=0, description="Triggering events not searchable yet (indexer catching up)")
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
    verdict: Verdict | None = None
    assignee: str | None = Field(default=None, min_length=1, max_length=100)
    min_risk: int | None = Field(default=None, ge=0, le=100)
    sort: Literal["last_seen", "risk"] = "last_seen"
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=1_000_000)


class AlertUpdate(BaseModel):
    """Change an alert. Unknown fields are refused (422)."""

    model_config = ConfigDict(extra="forbid")

    status: AlertStatus | None = None
    verdict: Verdict | None = None
    assignee: str | None = Field(default=None, min_length=1, max_length=100)


IdStr = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class AlertBulk(AlertUpdate):
    """The same change applied to many alerts; each alert is checked on its own."""

    ids: list[IdStr] = Field(min_length=1, max_length=500)


class BulkResult(BaseModel):
    updated: list[str]
    errors: dict[str, str] = Field(description="alert id -> why it was not changed")


class CommentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=10_000)


class CommentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    object_type: str
    object_id: str
    kind: str
    author: str
    body: str
    reply_to: int | None
    created_at: datetime


class CommentsPublic(BaseModel):
    items: list[CommentPublic]
    total: int


class SuppressFromAlert(BaseModel):
    """Suppress future detections like this alert: same rule, chosen entity keys and/or event fields."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=1000)
    days: int | None = Field(default=None, ge=1, le=3650, description="lifetime; default from settings")
    entity_keys: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = Field(
        default=None, max_length=20, description="alert entity keys to match (default: all of them)"
    )
    fields: dict[Annotated[str, Field(min_length=1, max_length=100)], Annotated[str, Field(max_length=500)]] = Field(
        default_factory=dict, max_length=20, description="ECS field -> value the event must have"
    )
