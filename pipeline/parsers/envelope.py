"""Syslog envelopes (RFC 5424, RFC 3164 with or without PRI, RFC 3339 file timestamps).

Part of stage ``parse``: used by :mod:`pipeline.parsers.syslog` and :mod:`pipeline.parsers.auth`;
the message inside the envelope is handed to the auth or web parsers by the syslog parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pipeline.parsers.text import bsd_time, iso, month_number, parse_iso

FACILITIES = (
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp",
    "ntp", "security", "console", "solaris-cron",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
)  # fmt: skip
SEVERITIES = ("emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug")

_PRI = re.compile(r"<(\d{1,3})>")
_QSTR = r'"[^"\\]*(?:\\.[^"\\]*)*"'  # quoted string with escapes, unrolled (linear, no backtracking)
_SD_BODY = r'[^\]\\"]*(?:(?:\\.|' + _QSTR + r')[^\]\\"]*)*'
_RFC5424 = re.compile(
    r"(\d{1,2}) (\S+) (\S+) (\S+) (\S+) (\S+) (-|(?:\[" + _SD_BODY + r"\])+)(?: (.*))?",
    re.S,
)
_SD_ELEMENT = re.compile(r"\[([^\s\]=\"]+)((?:\s+[^\s=\]\"]+=" + _QSTR + r")*)\s*\]", re.S)
_SD_PARAM = re.compile(r'([^\s=\]"]+)="([^"\\]*(?:\\.[^"\\]*)*)"', re.S)
_SD_UNESCAPE = re.compile(r"\\([\"\\\]])")
_BSD_TS = re.compile(
    r"([A-Z][a-z]{2}) {1,2}(\d{1,2})(?: (\d{4}))? (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?: (\d{4}))?:? "
)
_ISO_TS = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?) ")
_HOST_APP = re.compile(r"(\S+) ([^\s\[\]:]{1,128})(?:\[([^\]\s]{0,64})\])?: ?(.*)", re.S)
_APP = re.compile(r"([^\s\[\]:]{1,128})(?:\[([^\]\s]{0,64})\])?: (.*)", re.S)
_HOST_ONLY = re.compile(r"(\S+)(?: (.*))?", re.S)


@dataclass(slots=True)
class Envelope:
    """What the envelope parser found; ``event`` already holds the syslog ECS fields."""

    event: dict[str, Any]
    appname: str | None
    message: str


def _pri_fields(syslog: dict[str, Any], pri: int) -> None:
    facility, severity = pri >> 3, pri & 7
    syslog["priority"] = pri
    syslog["facility"] = {"code": facility, "name": FACILITIES[facility] if facility < len(FACILITIES) else None}
    syslog["severity"] = {"code": severity, "name": SEVERITIES[severity]}


def _nil(value: str) -> str | None:
    return None if value == "-" else value


def structured_data(sd: str) -> dict[str, dict[str, str]]:
    """RFC 5424 STRUCTURED-DATA as ``{sd_id: {param: value}}`` (escapes removed)."""
    out: dict[str, dict[str, str]] = {}
    for m in _SD_ELEMENT.finditer(sd):
        params = out.setdefault(m.group(1), {})
        for p in _SD_PARAM.finditer(m.group(2)):
            params[p.group(1)] = _SD_UNESCAPE.sub(r"\1", p.group(2))
    return out


def _base(
    timestamp: str | None, syslog: dict[str, Any], *, host: str | None, app: str | None, pid: str | None, message: str
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event": {"kind": "event", "module": "syslog", "dataset": "syslog.generic"},
        "log": {"syslog": syslog},
        "message": message,
    }
    if timestamp is not None:
        event["@timestamp"] = timestamp
    if host:
        syslog["hostname"] = host
        event["host"] = {"name": host}
    if app:
        syslog["appname"] = app
        process: dict[str, Any] = {"name": app}
        if pid:
            syslog["procid"] = pid
            if pid.isdigit():
                process["pid"] = int(pid)
        event["process"] = process
    return event


def _parse_5424(text: str, pos: int, syslog: dict[str, Any]) -> Envelope | None:
    m = _RFC5424.match(text, pos)
    if m is None:
        return None
    version, ts, host, app, procid, msgid, sd, msg = m.groups()
    syslog["version"] = version
    timestamp = None if ts == "-" else parse_iso(ts)
    if msgid != "-":
        syslog["msgid"] = msgid
    if sd != "-":
        syslog["structured_data"] = structured_data(sd)
    message = msg or ""
    if message.startswith("\ufeff"):
        message = message[1:]
    app_name = _nil(app)
    event = _base(timestamp, syslog, host=_nil(host), app=app_name, pid=_nil(procid), message=message)
    return Envelope(event, app_name, message)


def _tail(text: str, pos: int, timestamp: str | None, syslog: dict[str, Any]) -> Envelope:
    """Hostname, TAG[pid]: and message after a 3164/3339 timestamp."""
    m = _HOST_APP.match(text, pos)
    if m is not None and not m.group(1).endswith(":"):
        host, app, pid, msg = m.groups()
        return Envelope(_base(timestamp, syslog, host=host, app=app, pid=pid, message=msg), app, msg)
    m = _APP.match(text, pos)
    if m is not None:
        app, pid, msg = m.groups()
        return Envelope(_base(timestamp, syslog, host=None, app=app, pid=pid, message=msg), app, msg)
    m = _HOST_ONLY.match(text, pos)
    host, msg = (m.group(1), m.group(2) or "") if m is not None else (None, text[pos:])
    return Envelope(_base(timestamp, syslog, host=host, app=None, pid=None, message=msg), None, msg)


def parse_envelope(text: str, received: float) -> Envelope | None:
    """Parse a syslog line; ``None`` when it has neither a PRI nor a recognised timestamp."""
    syslog: dict[str, Any] = {}
    pos = 0
    m = _PRI.match(text)
    has_pri = m is not None and int(m.group(1)) <= 191
    if m is not None and has_pri:
        _pri_fields(syslog, int(m.group(1)))
        pos = m.end()
        if pos < len(text) and text[pos].isdigit() and text[pos] != "0":
            env = _parse_5424(text, pos, syslog)
            if env is not None:
                return env
    mb = _BSD_TS.match(text, pos)
    if mb is not None:
        mon, day, year1, hh, mm, ss, frac, year2 = mb.groups()
        month = month_number(mon)
        if month is not None:
            try:
                micro = int(frac.ljust(6, "0")) if frac else 0
                clock = (int(hh), int(mm), int(ss))
                year = year1 or year2
                if year:
                    dt = datetime(int(year), month, int(day), *clock, micro, tzinfo=UTC)
                else:
                    dt = bsd_time(month, int(day), clock, micro, received)
                return _tail(text, mb.end(), iso(dt), syslog)
            except ValueError:
                pass
    mi = _ISO_TS.match(text, pos)
    if mi is not None:
        ts = parse_iso(mi.group(1))
        if ts is not None:
            return _tail(text, mi.end(), ts, syslog)
    if has_pri:
        # A PRI and then something unusual (device-specific header): keep it all as the message.
        message = text[pos:]
        return Envelope(_base(None, syslog, host=None, app=None, pid=None, message=message), None, message)
    return None
