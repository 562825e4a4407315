"""Request and response models of the rule routes (rule health, enable/disable, retro-hunt)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from soc_api.schemas.common import RulePublic


class RuleProblem(BaseModel):
    severity: str
    line: int | None = None
    reason: str


class RuleHealthPublic(RulePublic):
    """One rule with its health: compiled or not and why, enabled, log source seen, counters."""

    kind: str | None = None
    sigma_status: str | None = None
    logsource: dict[str, str] = {}
    compiled: bool | None = None
    enabled: bool | None = None
    problems: list[RuleProblem] = []
    notes: list[str] = []
    keyword_only: bool = False
    placeholders: list[str] = []
    logsource_seen: bool | None = None
    evaluated: int = 0
    hits: int = 0
    last_evaluated: datetime | None = None
    last_fired: datetime | None = None


class RuleDetail(RuleHealthPublic):
    fields: dict[str, list[str]] = {}
    unmapped_fields: list[str] = []


class RuleHealthList(BaseModel):
    items: list[RuleHealthPublic]
    total: int


class RuleEnable(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool


class FolderEnable(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, max_length=4096)
    enabled: bool


class FolderState(BaseModel):
    path: str
    enabled: bool
    rules: int


def _iso(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("times need a time zone (e.g. 2026-11-20T08:00:00Z)")
    return value


class HuntRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: datetime | None = None
    until: datetime | None = None
    limit: int = Field(default=100, ge=0, le=10_000)

    @field_validator("since", "until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return _iso(value)


class HuntResult(BaseModel):
    rule_id: str
    backend: Literal["engine", "elasticsearch"]
    since: str | None
    until: str | None
    count: int
    returned: int
    scanned: int | None = None
    query: str | None = None
    truncated: bool = False
    events: list[dict[str, Any]]
