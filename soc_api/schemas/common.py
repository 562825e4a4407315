"""Small shared response models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Health(BaseModel):
    status: str
    version: str
    mode: str


class RulePublic(BaseModel):
    """A loaded detection rule; providers may add fields (kept as is)."""

    model_config = ConfigDict(extra="allow")

    id: str
    title: str
    level: str | None = None
    tags: list[str] = []
    path: str | None = None


class RulesPublic(BaseModel):
    items: list[RulePublic]
    total: int


class Message(BaseModel):
    detail: str | list[dict[str, Any]]
