"""Web server access logs: nginx and Apache httpd "combined" / "common" formats.

Part of stage ``parse``. Input: one access-log line from a file (format ``nginx``/``apache``) or
the message of a syslog record sent by nginx/httpd (via :mod:`pipeline.parsers.syslog`). Output goes
on to ``enrich`` (:mod:`pipeline.enrich`). Handles an optional virtual-host prefix (nginx custom
formats, Apache ``vhost_combined``), trailing extra fields, and malformed request lines (TLS
handshakes, scanners), which become events with ``event.outcome: failure`` and tag
``malformed_request`` rather than errors.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from pipeline.parsers.text import as_ip, fixed_offset, iso, month_number
from soc_core.errors import ParseError
from soc_core.models import RawRecord

TAG_MALFORMED_REQUEST = "malformed_request"

_QUOTED = r'"([^"\\]*(?:\\.[^"\\]*)*)"'
_ACCESS = re.compile(
    r"(?:(\S+) )?(\S+) (\S+) (\S+) \[([^\]]{1,64})\] "
    + _QUOTED
    + r" (\d{3}|-) (\d+|-)(?: "
    + _QUOTED
    + " "
    + _QUOTED
    + r")?(.*)",
    re.S,
)
_TIME = re.compile(r"(\d{1,2})/([A-Za-z]{3})/(\d{4}):(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))? ([+-])(\d{2}):?(\d{2})")
_METHOD = re.compile(r"[A-Z][A-Z0-9_-]{0,31}")
_VERSION = re.compile(r"\d+(?:\.\d+)?")


@lru_cache(maxsize=8192)
def access_time(value: str) -> str | None:
    """``20/Nov/2026:08:15:30 +0700`` -> ``2026-11-20T01:15:30.000Z``; ``None`` if unparseable."""
    m = _TIME.fullmatch(value)
    if m is None:
        return None
    day, mon, year, hh, mm, ss, frac, sign, oh, om = m.groups()
    month = month_number(mon)
    if month is None:
        return None
    try:
        micro = int(frac.ljust(6, "0")) if frac else 0
        tz = fixed_offset(sign, int(oh), int(om))
        return iso(datetime(int(year), month, int(day), int(hh), int(mm), int(ss), micro, tzinfo=tz))
    except ValueError:
        return None


def _request(request: str) -> tuple[str, str, str | None] | None:
    """``(method, target, version)`` of a request line, or ``None`` when it is malformed."""
    method, sep, rest = request.partition(" ")
    if not sep or not rest or rest[0].isspace() or _METHOD.fullmatch(method) is None:
        return None
    idx = rest.rfind(" HTTP/")
    if idx > 0 and _VERSION.fullmatch(rest, idx + 6) is not None:
        return method, rest[:idx], rest[idx + 6 :]
    if rest.startswith("HTTP/"):
        return None
    return method, rest, None


def url_fields(target: str) -> dict[str, Any]:
    """``url.*`` of a request target (origin form or absolute URI)."""
    url: dict[str, Any] = {"original": target}
    if target.startswith(("http://", "https://")):
        try:
            parts = urlsplit(target)
            port = parts.port
        except ValueError:
            return url
        url["scheme"] = parts.scheme
        if parts.hostname:
            url["domain"] = parts.hostname
        if port is not None:
            url["port"] = port
        url["path"] = parts.path or "/"
        if parts.query:
            url["query"] = parts.query
        return url
    path, sep, query = target.partition("?")
    url["path"] = path
    if sep and query:
        url["query"] = query
    return url


def parse_access(text: str, module: str = "nginx") -> dict[str, Any] | None:
    """ECS event for one access-log line, or ``None`` if the line is not in a known format."""
    m = _ACCESS.match(text)
    if m is None:
        return None
    vhost, client, _ident, user, when, request, status, size, referrer, agent, _rest = m.groups()
    timestamp = access_time(when)
    if timestamp is None:
        return None
    ev: dict[str, Any] = {
        "kind": "event",
        "module": module,
        "dataset": f"{module}.access",
        "category": ["web"],
        "type": ["access"],
    }
    event: dict[str, Any] = {"@timestamp": timestamp, "event": ev}
    source: dict[str, Any] = {"address": client}
    ip = as_ip(client)
    if ip is not None:
        source["ip"] = ip
    else:
        source["domain"] = client
    event["source"] = source
    if user != "-":
        event["user"] = {"name": user}
    http: dict[str, Any] = {}
    parsed = _request(request)
    if parsed is not None:
        method, target, version = parsed
        http["request"] = {"method": method}
        if version:
            http["version"] = version
        event["url"] = url_fields(target)
    else:
        ev["outcome"] = "failure"
        event["tags"] = [TAG_MALFORMED_REQUEST]
    if vhost is not None and vhost != "-":
        host = vhost.rsplit(":", 1)[0] if vhost.count(":") == 1 else vhost
        event.setdefault("url", {})["domain"] = host
    response: dict[str, Any] = {}
    if status != "-":
        code = int(status)
        response["status_code"] = code
        if "outcome" not in ev:
            ev["outcome"] = "failure" if code >= 400 else "success"
    if size != "-":
        response["body"] = {"bytes": int(size)}
    if response:
        http["response"] = response
    if referrer is not None and referrer != "-":
        http.setdefault("request", {})["referrer"] = referrer
    if http:
        event["http"] = http
    if agent is not None and agent != "-":
        event["user_agent"] = {"original": agent}
    return event


def parse_nginx(text: str, record: RawRecord) -> dict[str, Any]:
    """Parser ``"nginx"``: one nginx access-log line (combined or common format)."""
    event = parse_access(text, "nginx")
    if event is None:
        raise ParseError("not an nginx access-log line", source=record.source)
    return event


def parse_apache(text: str, record: RawRecord) -> dict[str, Any]:
    """Parser ``"apache"``: one Apache httpd access-log line (combined or common format)."""
    event = parse_access(text, "apache")
    if event is None:
        raise ParseError("not an apache access-log line", source=record.source)
    return event
