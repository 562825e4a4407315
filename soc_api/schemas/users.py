"""User models: ``UserCreate`` (admin creates), ``UserPublic`` (read), ``UserCreated`` (with token)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["admin", "analyst", "unit_reporter", "feed_client"]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=r"^[\w.@-]+$")
    role: Role
    unit: str | None = Field(default=None, min_length=1, max_length=64)


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    role: str
    unit_code: str | None
    created_at: datetime
    disabled: bool


class UserCreated(UserPublic):
    token: str = Field(description="Plaintext API token; shown once, only its hash is stored")


class UsersPublic(BaseModel):
    items: list[UserPublic]
    total: int
