"""Operations endpoints: reconciliation counts per source and hour, Prometheus metrics.

- ``GET /api/v1/ops/reconciliation?hour=2026-03-01T08`` (admin, analyst): per source, the records
  received by the collectors, parsed, dead-lettered and published by the workers, and stored
  (indexed events + stored dead letters), from the ``soc_counts`` table (:mod:`soc_core.counts`).
- ``GET /metrics`` (no authentication, like ``/api/v1/health``): the Prometheus registry of this
  process (:mod:`soc_core.metrics`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import BaseModel

from soc_api.deps import AnalystUser
from soc_core import counts, metrics

router = APIRouter(prefix="/ops", tags=["ops"])
metrics_router = APIRouter(tags=["ops"])


class SourceReconciliation(BaseModel):
    source: str
    received: int
    parsed: int
    dead_lettered: int
    published: int
    indexed: int
    dead_letters_stored: int
    balanced: bool  # received == indexed + dead_letters_stored


class Reconciliation(BaseModel):
    hour: str
    sources: list[SourceReconciliation]
    balanced: bool


def _parse_hour(value: str | None) -> datetime:
    if value is None:
        now = datetime.now(UTC)
        return now.replace(minute=0, second=0, microsecond=0)
    try:
        ts = datetime.fromisoformat(value if len(value) != 13 else value + ":00")
    except ValueError as exc:
        raise HTTPException(422, "hour must be ISO 8601, e.g. 2026-03-01T08 or 2026-03-01T08:00Z") from exc
    ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    return ts.replace(minute=0, second=0, microsecond=0)


@router.get("/reconciliation", response_model=Reconciliation)
def reconciliation(
    request: Request,
    _user: AnalystUser,
    hour: Annotated[str | None, Query(max_length=40, description="UTC hour, ISO 8601; default: this hour")] = None,
) -> Reconciliation:
    start = _parse_hour(hour)
    rows = counts.reconciliation(request.app.state.engine, int(start.timestamp()))
    sources = [
        SourceReconciliation(
            source=row.source, balanced=row.balanced, **{s: row.counts.get(s, 0) for s in counts.STAGES}
        )
        for row in rows
    ]
    return Reconciliation(
        hour=start.isoformat().replace("+00:00", "Z"), sources=sources, balanced=all(s.balanced for s in sources)
    )


@metrics_router.get("/metrics", include_in_schema=False)
def prometheus_metrics() -> Response:
    body, content_type = metrics.render()
    return Response(content=body, media_type=content_type)
