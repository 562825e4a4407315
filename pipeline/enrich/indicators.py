"""Reading threat-intelligence indicator files (CSV, STIX 2.1 bundles) for stage ``enrich``.

Used by :mod:`pipeline.enrich.threat`. Formats:

- CSV, header required, one indicator per line: ``indicator,type,source,confidence,description``;
  ``type`` is one of :data:`INDICATOR_TYPES`, ``confidence`` empty or 0-100; blank lines and lines
  starting with ``#`` are skipped.
- STIX 2.1 bundle (``.json``): ``indicator`` objects with ``pattern_type`` ``stix`` whose pattern is
  one comparison, or comparisons joined by ``OR``, of the form ``[ipv4-addr:value = '…']``,
  ``[ipv6-addr:value = '…']`` (address or CIDR), ``[domain-name:value = '…']``,
  ``[url:value = '…']`` or ``[file:hashes.'SHA-256' = '…']`` (also ``SHA-1``, ``MD5``).

A whole-file problem (unreadable, binary, not UTF-8, no header, not JSON) raises
:class:`~soc_core.errors.ConfigError`. A bad row or an indicator that cannot be interpreted is
collected as a ``ConfigError`` with the file and line and the rest of the file is still read.
"""

from __future__ import annotations

import csv
import ipaddress
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from stix2patterns.exceptions import ParseException
from stix2patterns.v21.pattern import Pattern

from pipeline.enrich.lookup import parse_ip
from soc_core.errors import ConfigError

CSV_COLUMNS = ("indicator", "type", "source", "confidence", "description")
INDICATOR_TYPES = ("ip", "cidr", "domain", "url", "sha256", "sha1", "md5")
HASH_LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64}
MAX_LINE = 65_536  # characters; longer CSV lines are reported, not parsed
_HEX = re.compile(r"^[0-9a-f]+$")
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")
_STIX_HASHES = {"sha-256": "sha256", "sha256": "sha256", "sha-1": "sha1", "sha1": "sha1", "md5": "md5"}
_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21}


@dataclass(frozen=True, slots=True)
class Indicator:
    """One indicator, its value normalised (see :func:`normalise`)."""

    type: str  # one of INDICATOR_TYPES
    value: str
    source: str  # the provider
    confidence: int | None = None
    description: str = ""


@dataclass
class ReadResult:
    indicators: list[Indicator] = field(default_factory=list)
    problems: list[ConfigError] = field(default_factory=list)


def normalise(kind: str, value: str) -> str:
    """The comparable form of an indicator value; raises ``ValueError`` when it is not one.

    IPs in canonical form (IPv4-mapped IPv6 as IPv4), CIDRs as the network (host bits must be 0),
    domains lower-case without trailing dot, URLs with lower-case scheme and host and no default
    port or fragment, hashes lower-case hex of the algorithm's length.
    """
    value = value.strip()
    if kind == "ip":
        addr = parse_ip(value)
        if addr is None:
            raise ValueError(f"not an IP address: {value!r}")
        return str(addr)
    if kind == "cidr":
        net = ipaddress.ip_network(value, strict=True)
        return str(net)
    if kind == "domain":
        name = value.rstrip(".").lower()
        if not _DOMAIN.match(name):
            raise ValueError(f"not a domain name: {value!r}")
        return name
    if kind == "url":
        return normalise_url(value)
    if kind in HASH_LENGTHS:
        digest = value.lower()
        if len(digest) != HASH_LENGTHS[kind] or not _HEX.match(digest):
            raise ValueError(f"not a {kind} hash: {value!r}")
        return digest
    raise ValueError(f"unknown indicator type {kind!r} (one of {', '.join(INDICATOR_TYPES)})")


def normalise_url(value: str) -> str:
    """``scheme://host[:port]/path[?query]`` with lower-case scheme and host; ``ValueError`` if not absolute."""
    parts = urlsplit(value.strip())
    host = parts.hostname
    if not parts.scheme or not host:
        raise ValueError(f"not an absolute URL: {value!r}")
    scheme = parts.scheme.lower()
    port = parts.port  # ValueError for a bad port
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        netloc += f":{port}"
    query = f"?{parts.query}" if parts.query else ""
    return f"{scheme}://{netloc}{parts.path or '/'}{query}"


def url_key(normalised: str) -> str:
    """Match key of a normalised URL: without the scheme (access logs seldom record it)."""
    return normalised.split("://", 1)[1]


def read_indicators(path: Path) -> ReadResult:
    """Indicators of one ``.csv`` or ``.json`` (STIX 2.1 bundle) file."""
    src = str(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise ConfigError("threat-intel file must be .csv or .json (STIX 2.1 bundle)", source=src)
    text = _read_text(path)
    return _read_csv(text, src) if suffix == ".csv" else _read_stix(text, src)


def _read_text(path: Path) -> str:
    src = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read threat-intel file: {exc.strerror or exc}", source=src) from None
    if b"\x00" in data[:65_536]:
        line = data.count(b"\n", 0, data.index(b"\x00")) + 1
        raise ConfigError("threat-intel file is binary, not text (NUL byte)", source=src, line=line)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"threat-intel file is not valid UTF-8 (byte offset {exc.start})", source=src, line=line
        ) from None


def _read_csv(text: str, src: str) -> ReadResult:
    result = ReadResult()
    lines = text.splitlines()
    if not lines or len(lines[0]) > MAX_LINE:
        raise ConfigError(f"CSV header required: {','.join(CSV_COLUMNS)}", source=src, line=1)
    header = [h.strip().lower() for h in next(csv.reader([lines[0]]))]
    if header != list(CSV_COLUMNS):
        raise ConfigError(f"CSV header must be exactly: {','.join(CSV_COLUMNS)}", source=src, line=1)
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if len(line) > MAX_LINE:
            result.problems.append(ConfigError(f"line longer than {MAX_LINE} characters", source=src, line=number))
            continue
        try:
            cells = next(csv.reader([line]))
        except csv.Error as exc:
            result.problems.append(ConfigError(f"bad CSV: {exc}", source=src, line=number))
            continue
        if len(cells) != len(CSV_COLUMNS):
            msg = f"expected {len(CSV_COLUMNS)} fields ({','.join(CSV_COLUMNS)}), got {len(cells)}"
            result.problems.append(ConfigError(msg, source=src, line=number))
            continue
        value, kind, source, confidence, description = (c.strip() for c in cells)
        try:
            indicator = Indicator(
                kind.lower(), normalise(kind.lower(), value), source or src, _confidence(confidence), description
            )
        except ValueError as exc:
            result.problems.append(ConfigError(str(exc), source=src, line=number))
            continue
        result.indicators.append(indicator)
    return result


def _confidence(value: str | int | None) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("confidence must be an integer 0-100")
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"confidence must be an integer 0-100, not {value!r}") from None
    if not 0 <= number <= 100:
        raise ValueError(f"confidence must be 0-100, not {number}")
    return number


# ---- STIX 2.1 ---------------------------------------------------------------------------------


def _read_stix(text: str, src: str) -> ReadResult:
    try:
        bundle = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"invalid JSON: {exc.msg}", source=src, line=exc.lineno) from None
    if not isinstance(bundle, dict) or bundle.get("type") != "bundle" or not isinstance(bundle.get("objects"), list):
        raise ConfigError("a STIX file must be a bundle with an 'objects' list", source=src, line=1)
    result = ReadResult()
    provider = _identities(bundle["objects"])
    for obj in bundle["objects"]:
        if not isinstance(obj, dict) or obj.get("type") != "indicator":
            continue
        line = _line_of(text, obj.get("id"))
        try:
            result.indicators.extend(_stix_indicators(obj, provider, src))
        except ValueError as exc:
            result.problems.append(ConfigError(f"indicator {obj.get('id')}: {exc}", source=src, line=line))
    return result


def _line_of(text: str, stix_id: Any) -> int | None:
    if not isinstance(stix_id, str):
        return None
    at = text.find(f'"{stix_id}"')
    return None if at < 0 else text.count("\n", 0, at) + 1


def _identities(objects: list[Any]) -> dict[str, str]:
    return {
        o["id"]: o["name"]
        for o in objects
        if isinstance(o, dict) and o.get("type") == "identity" and isinstance(o.get("id"), str)
        if isinstance(o.get("name"), str)
    }


def _stix_indicators(obj: dict[str, Any], provider: dict[str, str], src: str) -> list[Indicator]:
    if obj.get("pattern_type", "stix") != "stix":
        raise ValueError(f"pattern_type {obj.get('pattern_type')!r} is not supported (only 'stix')")
    pattern = obj.get("pattern")
    if not isinstance(pattern, str):
        raise ValueError("no pattern")
    source = provider.get(str(obj.get("created_by_ref")), "") or src
    confidence = _confidence(obj.get("confidence"))
    description = str(obj.get("description") or obj.get("name") or "")
    return [Indicator(kind, value, source, confidence, description) for kind, value in parse_pattern(pattern)]


def parse_pattern(pattern: str) -> list[tuple[str, str]]:
    """``(type, normalised value)`` of each comparison of a simple STIX pattern; ``ValueError`` otherwise."""
    if re.search(r"\bAND\b", re.sub(r"'(?:\\.|[^'\\])*'", "''", pattern)):
        raise ValueError("patterns with AND are not supported (only single comparisons joined by OR)")
    try:
        data = Pattern(pattern).inspect()
    except ParseException as exc:
        raise ValueError(f"invalid STIX pattern: {exc}") from None
    if data.qualifiers or set(data.observation_ops) - {"OR"}:
        ops = sorted({*data.qualifiers, *data.observation_ops} - {"OR"})
        raise ValueError(f"pattern qualifiers/operators not supported: {', '.join(ops)}")
    out: list[tuple[str, str]] = []
    for object_type, comparisons in data.comparisons.items():
        for path, op, literal in comparisons:
            if op != "=":
                raise ValueError(f"operator {op!r} not supported (only '=')")
            kind = _stix_kind(object_type, [str(p) for p in path])
            value = _literal(literal)
            if kind == "ip" and "/" in value:
                net = ipaddress.ip_network(value, strict=True)
                out.append(("ip", str(net.network_address)) if net.num_addresses == 1 else ("cidr", str(net)))
            else:
                out.append((kind, normalise(kind, value)))
    return out


def _stix_kind(object_type: str, path: list[str]) -> str:
    if object_type in ("ipv4-addr", "ipv6-addr") and path == ["value"]:
        return "ip"
    if object_type == "domain-name" and path == ["value"]:
        return "domain"
    if object_type == "url" and path == ["value"]:
        return "url"
    if object_type == "file" and len(path) == 2 and path[0] == "hashes" and path[1].lower() in _STIX_HASHES:
        return _STIX_HASHES[path[1].lower()]
    raise ValueError(f"object path {object_type}:{'.'.join(path)} not supported")


def _literal(literal: str) -> str:
    if len(literal) < 2 or literal[0] != "'" or literal[-1] != "'":
        raise ValueError(f"value {literal} is not a string")
    return re.sub(r"\\(.)", r"\1", literal[1:-1])
