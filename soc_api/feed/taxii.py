"""TAXII 2.1 plumbing shared by the routes and the error handlers: media type negotiation, error
messages, timestamps and the parsing of the filter parameters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from soc_api.errors import ApiError
from soc_api.schemas.taxii import TAXII_MEDIA_TYPE, TaxiiErrorMessage

TAXII_PREFIX = "/taxii2"
JSON_MEDIA_TYPE = "application/json"
MAX_PAGE = 1000
DEFAULT_PAGE = 100
MAX_FILTER_VALUES = 100


class TaxiiError(ApiError):
    """An error answered as a TAXII error message (``title``, ``description``, ``http_status``)."""

    def __init__(self, status_code: int, title: str, description: str | None = None) -> None:
        super().__init__(description or title)
        self.status_code = status_code
        self.title = title
        self.description = description


def is_taxii(request: Request) -> bool:
    path: str = request.url.path
    return path == TAXII_PREFIX or path.startswith(TAXII_PREFIX + "/")


def error_response(
    status_code: int, title: str, description: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = TaxiiErrorMessage(title=title, description=description, http_status=str(status_code))
    return JSONResponse(
        status_code=status_code,
        content=body.model_dump(exclude_none=True),
        media_type=TAXII_MEDIA_TYPE,
        headers=headers,
    )


def _media_ranges(accept: str) -> list[tuple[str, dict[str, str], float]]:
    ranges = []
    for item in accept.split(","):
        parts = [p.strip() for p in item.split(";")]
        if not parts[0]:
            continue
        params: dict[str, str] = {}
        for p in parts[1:]:
            key, _, value = p.partition("=")
            params[key.strip().lower()] = value.strip().strip('"')
        try:
            q = float(params.pop("q", "1"))
        except ValueError:
            q = 0.0
        ranges.append((parts[0].lower(), params, q))
    return ranges


def negotiate(request: Request) -> str:
    """The response media type: TAXII 2.1 for ``application/taxii+json;version=2.1``, ``*/*``,
    ``application/*`` or no Accept header; plain JSON for ``application/json``; else 406."""
    accept = request.headers.get("accept", "").strip()
    if not accept:
        return TAXII_MEDIA_TYPE
    best: tuple[float, str] | None = None
    for mtype, params, q in _media_ranges(accept):
        if q <= 0:
            continue
        chosen: str | None = None
        taxii_21 = mtype == "application/taxii+json" and params.get("version", "2.1") == "2.1"
        if taxii_21 or mtype in ("*/*", "application/*"):
            chosen = TAXII_MEDIA_TYPE
        elif mtype == JSON_MEDIA_TYPE:
            chosen = JSON_MEDIA_TYPE
        if chosen is not None and (best is None or q > best[0]):
            best = (q, chosen)
    if best is None:
        raise TaxiiError(406, "Not Acceptable", f"this server answers {TAXII_MEDIA_TYPE} (or {JSON_MEDIA_TYPE}) only")
    return best[1]


def taxii_timestamp(value: datetime) -> str:
    """TAXII timestamp with microseconds, so ``added_after`` with a returned value is exact."""
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(value: str, name: str) -> datetime:
    text = value.strip()
    if not text or len(text) > 40:
        raise TaxiiError(400, "Bad Request", f"{name} must be an RFC 3339 timestamp")
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise TaxiiError(400, "Bad Request", f"{name} must be an RFC 3339 timestamp") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_list(value: str | None, name: str) -> list[str] | None:
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items or len(items) > MAX_FILTER_VALUES or any(len(v) > 256 for v in items):
        raise TaxiiError(400, "Bad Request", f"{name} must list 1..{MAX_FILTER_VALUES} values")
    return items


def parse_versions(value: str | None) -> list[str]:
    """``match[version]``: ``last`` (default), ``first``, ``all`` or timestamps (as STIX writes them)."""
    items = parse_list(value, "match[version]") or ["last"]
    out = []
    for item in items:
        if item in ("last", "first", "all"):
            out.append(item)
        else:
            ts = parse_timestamp(item, "match[version]")
            out.append(ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z")
    return out


def parse_limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_PAGE
    try:
        limit = int(value)
    except ValueError:
        raise TaxiiError(400, "Bad Request", "limit must be a positive integer") from None
    if limit < 1:
        raise TaxiiError(400, "Bad Request", "limit must be a positive integer")
    return min(limit, MAX_PAGE)


def parse_next(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    if not value.isdigit() or len(value) > 18:
        raise TaxiiError(400, "Bad Request", "next must be a value returned by this server")
    return int(value)


def filters_of(params: dict[str, str | None]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}
