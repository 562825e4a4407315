"""Line formats of the synthetic demo logs: access logs, auth.log, RFC 5424 syslog, EVTX JSON.

Stage: none (test and demo data). :mod:`soc_demo.background` and :mod:`soc_demo.scenarios` build
records with these helpers; :mod:`soc_demo.generator` writes them. The formats are the ones the
parsers of :mod:`pipeline.parsers` read: nginx/Apache combined with a virtual-host prefix,
RFC 3164 auth.log lines without PRI, RFC 5424 messages, and the JSON of the ``evtx`` wheel.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

# Thanh Hóa local time (ICT, UTC+7): what the servers write in their text logs.
ICT = timezone(timedelta(hours=7))

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

SECURITY_PROVIDER = {"Name": "Microsoft-Windows-Security-Auditing", "Guid": "{54849625-5478-4994-A5BA-3E3B0328C30D}"}
EVENTLOG_PROVIDER = {"Name": "Microsoft-Windows-Eventlog", "Guid": "{fc65ddd8-d6ef-4962-83d5-6e5cfe9ce148}"}
SYSMON_PROVIDER = {"Name": "Microsoft-Windows-Sysmon", "Guid": "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}"}
SCM_PROVIDER = {
    "Name": "Service Control Manager",
    "Guid": "{555908d1-a6d7-4695-8e1e-26931d2012f4}",
    "EventSourceName": "Service Control Manager",
}
SYSMON_CHANNEL = "Microsoft-Windows-Sysmon/Operational"


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP exchange as an access log records it."""

    method: str
    target: str
    status: int
    size: int
    referrer: str = "-"
    agent: str = "-"


def access_line(ts: datetime, vhost: str, client: str, req: Request, *, port: int | None = None) -> str:
    """Combined access-log line with a virtual-host prefix (nginx ``$host``, Apache ``%v:%p``)."""
    local = ts.astimezone(ICT)
    when = f"{local:%d}/{_MONTHS[local.month - 1]}/{local:%Y:%H:%M:%S} +0700"
    host = vhost if port is None else f"{vhost}:{port}"
    request = f"{req.method} {req.target} HTTP/1.1"
    return f'{host} {client} - - [{when}] "{request}" {req.status} {req.size} "{req.referrer}" "{req.agent}"'


def auth_line(ts: datetime, host: str, app: str, pid: int, message: str) -> str:
    """auth.log line as rsyslog writes it (RFC 3164 without PRI, local time)."""
    local = ts.astimezone(ICT)
    return f"{_MONTHS[local.month - 1]} {local.day:2d} {local:%H:%M:%S} {host} {app}[{pid}]: {message}"


def syslog5424(ts: datetime, host: str, app: str, pid: int, message: str, *, pri: int = 38) -> bytes:
    """RFC 5424 message (auth.info by default), UTF-8 bytes without a trailing newline."""
    local = ts.astimezone(ICT)
    stamp = f"{local:%Y-%m-%dT%H:%M:%S}.{local.microsecond // 1000:03d}+07:00"
    return f"<{pri}>1 {stamp} {host} {app} {pid} - - {message}".encode()


def win_event(
    ts: datetime,
    computer: str,
    channel: str,
    provider: dict[str, str],
    event_id: int,
    *,
    data: dict[str, Any],
    qualifiers: int | None = None,
    user_data: str | None = None,
    version: int = 0,
    task: int = 0,
    level: int = 0,
    keywords: str = "0x8020000000000000",
    pid: int = 640,
    tid: int = 700,
) -> dict[str, Any]:
    """One event as the ``evtx`` wheel renders it to JSON; ``EventRecordID`` is filled in later.

    ``user_data`` names the UserData element (e.g. ``LogFileCleared``) when the event carries
    UserData instead of EventData.
    """
    utc = ts.astimezone(UTC)
    event_id_value: Any = (
        event_id if qualifiers is None else {"#attributes": {"Qualifiers": qualifiers}, "#text": event_id}
    )
    system: dict[str, Any] = {
        "Provider": {"#attributes": dict(provider)},
        "EventID": event_id_value,
        "Version": version,
        "Level": level,
        "Task": task,
        "Opcode": 0,
        "Keywords": keywords,
        "TimeCreated": {"#attributes": {"SystemTime": f"{utc:%Y-%m-%dT%H:%M:%S.%f}Z"}},
        "EventRecordID": 0,
        "Correlation": None,
        "Execution": {"#attributes": {"ProcessID": pid, "ThreadID": tid}},
        "Channel": channel,
        "Computer": computer,
        "Security": None,
    }
    body: dict[str, Any] = {"#attributes": {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"}}
    body["System"] = system
    if user_data is not None:
        inner = {"#attributes": {"xmlns": "http://manifests.microsoft.com/win/2004/08/windows/eventlog"}, **data}
        body["UserData"] = {user_data: inner}
    else:
        body["EventData"] = data
    return {"Event": body}
