"""Parser ``"syslog"``: RFC 5424 / RFC 3164 records from the network or from /var/log files.

Part of stage ``parse``: raw records from the syslog collectors (``soc.raw``) become ECS events
for ``enrich`` (:mod:`pipeline.enrich`). The envelope is parsed by
:mod:`pipeline.parsers.envelope`; messages from auth programs (sshd, sudo, useradd, ...) get the
auth fields (:mod:`pipeline.parsers.auth`) and access-log lines sent by nginx/httpd get the web
fields (:mod:`pipeline.parsers.weblog`), so the same line yields the same fields whichever way it
arrived.
"""

from __future__ import annotations

from typing import Any

from pipeline.parsers.auth import AUTH_APPS, apply_auth
from pipeline.parsers.envelope import parse_envelope
from pipeline.parsers.weblog import parse_access
from soc_core.errors import ParseError
from soc_core.models import RawRecord

WEB_APPS = {"nginx": "nginx", "apache": "apache", "apache2": "apache", "httpd": "apache"}


def merge(dst: dict[str, Any], src: dict[str, Any]) -> None:
    """Deep-merge ``src`` into ``dst`` (``src`` wins on leaves; ``tags`` lists are joined)."""
    for key, value in src.items():
        cur = dst.get(key)
        if isinstance(value, dict) and isinstance(cur, dict):
            merge(cur, value)
        elif key == "tags" and isinstance(value, list) and isinstance(cur, list):
            cur.extend(v for v in value if v not in cur)
        else:
            dst[key] = value


def parse_syslog(text: str, record: RawRecord) -> dict[str, Any]:
    """Parser ``"syslog"``: one syslog message (RFC 5424, RFC 3164 with or without PRI)."""
    env = parse_envelope(text, record.received)
    if env is None:
        raise ParseError("not a syslog message (no PRI and no timestamp)", source=record.source)
    app = env.appname
    if app is not None:
        key = app.lower()
        if key in AUTH_APPS:
            apply_auth(env.event, key, env.message)
        elif key in WEB_APPS:
            web = parse_access(env.message, WEB_APPS[key])
            if web is not None:
                merge(env.event, web)
    return env.event
