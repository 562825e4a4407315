"""National feed outbox as the API shows it (the bundle itself is served over TAXII)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class OutboxPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    incident_id: str
    recipient_id: int
    recipient_code: str = ""
    bundle_id: str
    bundle_sha256: str
    idempotency_key: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_error: str | None
    http_status: int | None
    sent_at: datetime | None
    ack_id: str | None
    ack_body: str | None
    acknowledged_at: datetime | None
    created_at: datetime
    updated_at: datetime


class OutboxPage(BaseModel):
    items: list[OutboxPublic]
    total: int


class Requeued(BaseModel):
    requeued: int
