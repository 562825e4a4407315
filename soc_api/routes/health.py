"""Liveness (no authentication)."""

from __future__ import annotations

from fastapi import APIRouter, Request

import soc_core
from soc_api.schemas.common import Health

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
def health(request: Request) -> Health:
    return Health(status="ok", version=soc_core.__version__, mode=request.app.state.settings.mode)
