"""Exception handlers: data-layer errors to JSON, validation errors made safe to encode.

FastAPI's default 422 handler echoes the offending input; for a body that is not UTF-8 that
input is ``bytes`` and encoding it fails (500). Here inputs are decoded with replacement and
shortened, so bad input always gets its 422.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from soc_api.errors import ApiError

MAX_ECHO = 200


def _safe(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        value = bytes(value).decode("utf-8", "replace")
    if isinstance(value, str):
        return value if len(value) <= MAX_ECHO else value[:MAX_ECHO] + "…"
    if isinstance(value, dict):
        return {str(k): _safe(v) for k, v in list(value.items())[:50]}
    if isinstance(value, list | tuple):
        return [_safe(v) for v in value[:50]]
    if value is None or isinstance(value, bool | int | float):
        return value
    return _safe(str(value))


async def api_error(_request: Request, exc: Exception) -> JSONResponse:
    status = exc.status_code if isinstance(exc, ApiError) else 400
    message = exc.message if isinstance(exc, ApiError) else "bad request"
    return JSONResponse(status_code=status, content={"detail": message})


async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return JSONResponse(status_code=422, content={"detail": jsonable_encoder(_safe(list(errors)))})


def install(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, validation_error)
