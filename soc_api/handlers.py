"""Exception handlers: data-layer errors to JSON, validation errors made safe to encode.

FastAPI's default 422 handler echoes the offending input; for a body that is not UTF-8 that
input is ``bytes`` and encoding it fails (500). Here inputs are decoded with replacement and
shortened, so bad input always gets its 422.

Under ``/taxii2/`` every error is a TAXII 2.1 error message instead (bad parameters: 400).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from soc_api.errors import ApiError
from soc_api.feed import taxii

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


async def api_error(request: Request, exc: Exception) -> JSONResponse:
    status = exc.status_code if isinstance(exc, ApiError) else 400
    message = exc.message if isinstance(exc, ApiError) else "bad request"
    if taxii.is_taxii(request):
        title = exc.title if isinstance(exc, taxii.TaxiiError) else message
        description = exc.description if isinstance(exc, taxii.TaxiiError) else None
        return taxii.error_response(status, title, description)
    return JSONResponse(status_code=status, content={"detail": message})


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    if taxii.is_taxii(request):
        where = ", ".join(".".join(str(p) for p in e.get("loc", ())) for e in errors[:5])
        return taxii.error_response(400, "Bad Request", f"invalid parameter(s): {where}"[:MAX_ECHO])
    return JSONResponse(status_code=422, content={"detail": jsonable_encoder(_safe(list(errors)))})


async def http_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, StarletteHTTPException) and taxii.is_taxii(request):
        return taxii.error_response(exc.status_code, str(exc.detail), None, dict(exc.headers or {}))
    if isinstance(exc, StarletteHTTPException):
        return await http_exception_handler(request, exc)
    return JSONResponse(status_code=500, content={"detail": "internal error"})


def install(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
