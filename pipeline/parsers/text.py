"""Decoding policy and small shared helpers for the parse stage.

Stage ``parse`` (``pipeline.parsers``) sits between the collectors (raw records on ``soc.raw``) and
the ``enrich`` stage (:mod:`pipeline.enrich`). This module holds what every parser shares: how raw
bytes become text (UTF-8, invalid bytes replaced, binary data refused), time conversion to the
contract's ISO 8601 UTC form, and IP address checks.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from soc_core.errors import ParseError

# Control bytes that never occur in text logs (TAB, LF, CR and ESC are allowed).
_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 13, 27)) + b"\x7f"
_SAMPLE = 65536  # bytes inspected by the binary heuristic
_MAX_JUNK_RATIO = 0.3  # share of control bytes / replacement chars above which data is binary

TAG_INVALID_UTF8 = "invalid_utf8"


def decode(data: bytes, *, source: str | None = None) -> tuple[str, bool]:
    """Decode a raw record: ``(text, had_invalid_utf8)``.

    UTF-8 is assumed; invalid sequences become U+FFFD and the flag is set. A leading BOM is
    dropped. NUL bytes, or a sample dominated by control bytes or undecodable bytes, raise
    :class:`ParseError` ``"binary data"``.
    """
    if b"\x00" in data:
        raise ParseError("binary data (NUL bytes)", source=source)
    sample = data[:_SAMPLE]
    if sample:
        controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
        if controls / len(sample) > _MAX_JUNK_RATIO:
            raise ParseError("binary data (control bytes)", source=source)
    invalid = False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("utf-8", "replace")
        invalid = True
        head = text[:_SAMPLE]
        if len(head) >= 16 and head.count("\ufffd") / len(head) > _MAX_JUNK_RATIO:
            raise ParseError("binary data (mostly invalid UTF-8)", source=source) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text, invalid


def iso(dt: datetime) -> str:
    """ISO 8601 UTC with millisecond precision and ``Z`` (naive datetimes are taken as UTC)."""
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{dt.microsecond // 1000:03d}Z"


def iso_epoch(seconds: float) -> str:
    """ISO 8601 UTC string for epoch seconds."""
    return iso(datetime.fromtimestamp(seconds, UTC))


@lru_cache(maxsize=4096)
def parse_iso(value: str) -> str | None:
    """Normalise an ISO 8601 / RFC 3339 timestamp to the contract form; ``None`` if unparseable.

    Timestamps without an offset are taken as UTC. More than 6 fractional digits (Windows' 7) are
    accepted.
    """
    try:
        return iso(datetime.fromisoformat(value.strip()))
    except (ValueError, OverflowError):
        return None


_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, 1)}


def month_number(abbrev: str) -> int | None:
    """``"Nov"`` -> 11 (case-sensitive English abbreviations as written by syslog and httpd)."""
    return _MONTHS.get(abbrev) or _MONTHS.get(abbrev.capitalize())


# Zone of timestamps that carry none (RFC 3164 / BSD syslog, auth.log): the senders' local time. The
# province's servers run on Vietnam time; `log_timezone` in the settings changes it (set_log_timezone).
DEFAULT_LOG_TIMEZONE = "Asia/Ho_Chi_Minh"
_log_tz: tzinfo = ZoneInfo(DEFAULT_LOG_TIMEZONE)


def set_log_timezone(name: str) -> None:
    """Interpret zone-less log timestamps in ``name`` (an IANA zone such as ``Asia/Ho_Chi_Minh`` or ``UTC``)."""
    global _log_tz  # noqa: PLW0603 - one process-wide setting, applied by the composition roots
    _log_tz = ZoneInfo(name)


def log_timezone() -> tzinfo:
    return _log_tz


def bsd_time(month: int, day: int, clock: tuple[int, int, int], micro: int, received: float) -> datetime:
    """Datetime for a year-less BSD timestamp in the log time zone (:func:`set_log_timezone`), as UTC.

    The year is the received time's year; if that puts the event more than one day after the
    received time, the previous year is used (logs read across New Year). Raises ``ValueError``
    for impossible dates.
    """
    tz = _log_tz
    recv = datetime.fromtimestamp(received, tz)
    year = recv.year
    hour, minute, second = clock
    try:
        dt = datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)
    except ValueError:
        if not (month == 2 and day == 29):
            raise
        # 29 Feb in a non-leap received year: the most recent leap year before it.
        while True:
            year -= 1
            try:
                return datetime(year, month, day, hour, minute, second, micro, tzinfo=tz).astimezone(UTC)
            except ValueError:
                continue
    if dt > recv + timedelta(days=1):
        dt = dt.replace(year=year - 1)
    return dt.astimezone(UTC)


def fixed_offset(sign: str, hours: int, minutes: int) -> timezone:
    """A fixed UTC offset such as ``+0700``."""
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if sign == "-" else delta)


@lru_cache(maxsize=65536)
def _ip(value: str) -> str | None:
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        return None
    return str(addr)


def as_ip(value: str | None) -> str | None:
    """The canonical form of ``value`` when it is an IPv4/IPv6 address (zone/brackets stripped)."""
    if not value:
        return None
    if value[0] == "[" and value[-1] == "]":
        value = value[1:-1]
    if "%" in value:
        value = value.split("%", 1)[0]
    return _ip(value)


def int_or_none(value: object) -> int | None:
    """Integer value of ``value`` (int, decimal or ``0x`` hex string); ``None`` otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        s = value.strip()
        try:
            return int(s, 16) if s[:2] in ("0x", "0X") else int(s)
        except ValueError:
            return None
    return None


def load_object(text: str, *, source: str | None = None) -> dict[str, Any]:
    """Parse one JSON object (orjson); anything else raises :class:`ParseError`."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ParseError(f"invalid JSON: {exc}", source=source) from None
    if not isinstance(value, dict):
        raise ParseError(f"JSON record is a {type(value).__name__}, not an object", source=source)
    return value
