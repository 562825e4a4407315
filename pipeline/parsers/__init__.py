"""Stage ``parse``: raw records (``soc.raw``, from :mod:`collectors`) to ECS events.

Neighbours: before it the collectors publish :class:`~soc_core.models.RawRecord`; after it
:mod:`pipeline.enrich` adds unit/asset fields and the detection stage evaluates rules. The ECS
fields produced are listed in ``docs/ecs-contract.md``.

- :data:`PARSERS` maps a record format to its parser (``text, record -> ECS event``).
- :func:`sniff_format` guesses the format of a record declared ``"auto"``.
- :func:`parse_record` decodes the bytes, dispatches, and fills the fields every event has.
  Anything that cannot become an event raises :class:`~soc_core.errors.ParseError` (-> DLQ).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pipeline.parsers.auth import AUTH_APPS, parse_auth
from pipeline.parsers.jsonl import parse_jsonl
from pipeline.parsers.pcap import parse_pcap
from pipeline.parsers.syslog import parse_syslog
from pipeline.parsers.text import TAG_INVALID_UTF8, as_ip, decode, iso_epoch
from pipeline.parsers.weblog import parse_apache, parse_nginx
from pipeline.parsers.windows import parse_winjson
from soc_core.errors import ParseError
from soc_core.models import RawRecord

__all__ = ["PARSERS", "UNKNOWN_FORMAT", "ParserFn", "parse_record", "sniff_format"]

ParserFn = Callable[[str, RawRecord], dict[str, Any]]

PARSERS: dict[str, ParserFn] = {
    "syslog": parse_syslog,
    "auth": parse_auth,
    "nginx": parse_nginx,
    "apache": parse_apache,
    "winjson": parse_winjson,
    "jsonl": parse_jsonl,
    "evtx": parse_winjson,  # EVTX records as the evtx wheel renders them (JSON)
    "pcap": parse_pcap,  # capture records (collectors.pcap / collectors.pcap_live), JSON
}

UNKNOWN_FORMAT = "unknown"  # what sniff_format returns when nothing fits (not in PARSERS)

AGENT_TYPE = "soc-collector"

_SNIFF_SYSLOG_PRI = re.compile(r"<\d{1,3}>")
_SNIFF_ACCESS = re.compile(r"(?:\S+ )?\S+ \S+ \S+ \[\d{1,2}/[A-Za-z]{3}/\d{4}:\d{2}:\d{2}:\d{2}[^\]]*\] \"")
_SNIFF_TAG = r" (?:(\S+) )?([^\s\[\]:]+)(?:\[\d*\])?:"
_SNIFF_BSD = re.compile(r"[A-Z][a-z]{2} [ \d]\d(?: \d{4})? \d{2}:\d{2}:\d{2}(?:\.\d+)?" + _SNIFF_TAG)
_SNIFF_ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?" + _SNIFF_TAG)


def sniff_format(text: str) -> str:
    """Best guess of a record's format: a key of :data:`PARSERS`, or ``"unknown"``.

    ``{...`` -> ``winjson`` (Windows shapes) or ``jsonl``; ``<PRI>`` -> ``syslog``; an access-log
    line -> ``nginx``; ``Mon DD HH:MM:SS host prog[pid]:`` -> ``auth`` for auth programs, else
    ``syslog``.
    """
    head = text.lstrip("\ufeff \t\r\n")
    if not head:
        return UNKNOWN_FORMAT
    if head[0] == "{":
        evtx = '"System"' in head and '"Event"' in head
        if evtx or '"winlog"' in head or ('"EventID"' in head and '"Channel"' in head):
            return "winjson"
        return "jsonl"
    if head[0] == "<" and _SNIFF_SYSLOG_PRI.match(head):
        return "syslog"
    if _SNIFF_ACCESS.match(head):
        return "nginx"
    m = _SNIFF_BSD.match(head) or _SNIFF_ISO.match(head)
    if m is not None:
        return "auth" if m.group(2).lower() in AUTH_APPS else "syslog"
    return UNKNOWN_FORMAT


_FATAL = (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError, OverflowError)


def parse_record(record: RawRecord) -> dict[str, Any]:
    """Parse one raw record into an ECS event (raises :class:`ParseError` when nothing fits)."""
    text, invalid_utf8 = decode(record.data, source=record.source)
    text = text.rstrip("\r\n")
    if not text.strip():
        raise ParseError("empty record", source=record.source)
    fmt = record.format
    if fmt == "auto":
        fmt = sniff_format(text)
        if fmt == "winjson":
            fmt = "jsonl"  # jsonl routes Windows shapes to winjson and keeps other JSON
    parser = PARSERS.get(fmt)
    if parser is None:
        if record.format == "auto":
            raise ParseError("unrecognised record format", source=record.source)
        raise ParseError(f"no parser for format {record.format!r}", source=record.source)
    try:
        event = parser(text, record)
    except ParseError:
        raise
    except _FATAL as exc:  # a parser bug must not take the stage down: the record goes to the DLQ
        raise ParseError(f"{fmt} parser failed: {type(exc).__name__}: {exc}", source=record.source) from exc
    _common(event, record, text, invalid_utf8)
    return event


def _common(event: dict[str, Any], record: RawRecord, text: str, invalid_utf8: bool) -> None:
    ingested = iso_epoch(record.received)
    ev = event.get("event")
    if not isinstance(ev, dict):
        ev = {}
        event["event"] = ev
    ev["id"] = record.id
    ev["original"] = text
    ev["ingested"] = ingested
    ev.setdefault("kind", "event")
    if not isinstance(event.get("@timestamp"), str):
        event["@timestamp"] = ingested
    agent = event.get("agent")
    if not isinstance(agent, dict):
        agent = {}
        event["agent"] = agent
    agent["type"] = AGENT_TYPE
    agent["name"] = record.collector
    if record.kind == "file" or record.offset is not None:
        log = event.get("log")
        if not isinstance(log, dict):
            log = {}
            event["log"] = log
        if record.kind == "file":
            file = log.get("file")
            if not isinstance(file, dict):
                file = {}
                log["file"] = file
            file["path"] = record.source
        if record.offset is not None:
            log["offset"] = record.offset
    if record.host:
        host = event.get("host")
        if not isinstance(host, dict):
            host = {}
            event["host"] = host
        if "ip" not in host and (ip := as_ip(record.host)) is not None:
            host["ip"] = ip
        elif "name" not in host and as_ip(record.host) is None:
            host["name"] = record.host
    if invalid_utf8:
        tags = event.get("tags")
        if not isinstance(tags, list):
            tags = []
            event["tags"] = tags
        if TAG_INVALID_UTF8 not in tags:
            tags.append(TAG_INVALID_UTF8)
