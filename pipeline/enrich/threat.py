"""Stage ``enrich``, threat intelligence: mark events whose addresses, names, URLs or hashes are known bad.

Neighbours: runs in the ``enrich`` stage after the asset inventory (:mod:`pipeline.enrich.inventory`)
and before detection; the alert sink reads ``soc.threat.matched`` into the alert's risk score
(:func:`soc_api.services.scoring.ti_hits_of`). Indicators come from CSV files and STIX 2.1 bundles
(:mod:`pipeline.enrich.indicators`).

Fields checked: ``source.ip``, ``destination.ip``, ``client.ip``, ``server.ip``, ``host.ip`` (exact
address and every CIDR holding it, IPv4 and IPv6); ``url.domain``, ``destination.domain``,
``dns.question.name`` (exact and parent domains: ``evil.example`` matches ``a.b.evil.example``);
``url.full`` and ``url.original`` (host and path+query, scheme not compared; a relative
``url.original`` is joined to ``url.domain``); ``file.hash.*`` and ``process.hash.*`` (md5, sha1,
sha256). On a hit the event gets ECS ``threat.enrichments`` (one entry per matching indicator) and
``soc.threat.matched`` (their number). Each check is a dict or set lookup: exact IPs by integer,
CIDRs by (version, prefix length) -> network integer, so the cost does not grow with the feed.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pipeline.enrich.indicators import HASH_LENGTHS, Indicator, normalise_url, read_indicators, url_key
from pipeline.enrich.lookup import network_of, parse_ip, remember
from soc_core.ecs import get_path
from soc_core.errors import ConfigError

log = logging.getLogger(__name__)

IP_FIELDS = ("source.ip", "destination.ip", "client.ip", "server.ip", "host.ip")
DOMAIN_FIELDS = ("url.domain", "destination.domain", "dns.question.name")
URL_FIELDS = ("url.full", "url.original")
HASH_FIELDS = tuple(f"{obj}.hash.{algo}" for obj in ("file", "process") for algo in ("md5", "sha1", "sha256"))
MAX_ENRICHMENTS = 50  # listed per event; soc.threat.matched still counts every hit
_PATHS = {f: tuple(f.split(".")) for f in (*IP_FIELDS, *DOMAIN_FIELDS, *URL_FIELDS, *HASH_FIELDS)}
_KINDS = {
    **dict.fromkeys(IP_FIELDS, "ip"),
    **dict.fromkeys(DOMAIN_FIELDS, "domain"),
    **dict.fromkeys(URL_FIELDS, "url"),
    **{f: f.rsplit(".", 1)[1] for f in HASH_FIELDS},
}
# top-level object -> (path below it, kind, field): one dict lookup skips every field of an absent object
_CHECKS: dict[str, list[tuple[tuple[str, ...], str, str]]] = {}
for _field, _path in _PATHS.items():
    _CHECKS.setdefault(_path[0], []).append((_path[1:], _KINDS[_field], _field))
_ROOTS = frozenset(_CHECKS)

Hit = tuple[Indicator, str, str]  # indicator, matched value (atomic), event field


class ThreatIntel:
    """An index of indicators with O(1) lookups per event field."""

    def __init__(self, indicators: Iterable[Indicator] = (), problems: Sequence[ConfigError] = ()) -> None:
        self.problems = list(problems)
        self._ips: dict[tuple[int, int], list[Indicator]] = {}  # (version, address int)
        self._nets: dict[tuple[int, int], dict[int, list[Indicator]]] = {}  # (version, prefixlen) -> net int
        self._prefixes: dict[int, list[int]] = {4: [], 6: []}
        self._domains: dict[str, list[Indicator]] = {}
        self._urls: dict[str, list[Indicator]] = {}
        self._hashes: dict[tuple[str, str], list[Indicator]] = {}
        self._ip_cache: dict[str, tuple[Indicator, ...]] = {}
        self.size = 0
        seen: set[Indicator] = set()
        for ind in indicators:
            if ind not in seen:
                seen.add(ind)
                self._add(ind)
        self.size = len(seen)
        for version, prefixlen in self._nets:
            self._prefixes[version].append(prefixlen)
        for lengths in self._prefixes.values():
            lengths.sort(reverse=True)

    def _add(self, ind: Indicator) -> None:
        if ind.type == "ip":
            addr = ipaddress.ip_address(ind.value)
            self._ips.setdefault((addr.version, int(addr)), []).append(ind)
        elif ind.type == "cidr":
            net = ipaddress.ip_network(ind.value)
            by_net = self._nets.setdefault((net.version, net.prefixlen), {})
            by_net.setdefault(int(net.network_address), []).append(ind)
        elif ind.type == "domain":
            self._domains.setdefault(ind.value, []).append(ind)
        elif ind.type == "url":
            self._urls.setdefault(url_key(ind.value), []).append(ind)
        else:
            self._hashes.setdefault((ind.type, ind.value), []).append(ind)

    # ---- construction -------------------------------------------------------------------

    @classmethod
    def load(cls, paths: Sequence[Path], *, strict: bool = False) -> ThreatIntel:
        """Indicators of every file; bad rows are kept in :attr:`problems` (or raised if ``strict``)."""
        indicators: list[Indicator] = []
        problems: list[ConfigError] = []
        for path in paths:
            result = read_indicators(path)
            if strict and result.problems:
                raise result.problems[0]
            indicators.extend(result.indicators)
            problems.extend(result.problems)
        intel = cls(indicators, problems)
        for problem in problems[:20]:
            log.warning("threat-intel indicator not loaded: %s", problem)
        if len(problems) > 20:
            log.warning("... and %d more threat-intel indicators not loaded", len(problems) - 20)
        if paths:
            log.info(
                "threat intel: %d indicators from %d file(s), %d not loaded", intel.size, len(paths), len(problems)
            )
        return intel

    def __len__(self) -> int:
        return self.size

    # ---- lookups ------------------------------------------------------------------------

    def ip_hits(self, value: str) -> tuple[Indicator, ...]:
        """Indicators for the exact address and every CIDR containing it."""
        cached = self._ip_cache.get(value)
        if cached is not None:
            return cached
        found: list[Indicator] = []
        addr = parse_ip(value)
        if addr is not None:
            number, version, bits = int(addr), addr.version, addr.max_prefixlen
            found.extend(self._ips.get((version, number), ()))
            for prefixlen in self._prefixes[version]:
                found.extend(self._nets[(version, prefixlen)].get(network_of(number, bits, prefixlen), ()))
        return remember(self._ip_cache, value, tuple(found))

    def domain_hits(self, name: str) -> list[Indicator]:
        """Indicators for ``name`` and each of its parent domains."""
        name = name.strip().rstrip(".").lower()
        found: list[Indicator] = []
        pos = 0
        while True:
            found.extend(self._domains.get(name[pos:], ()))
            pos = name.find(".", pos) + 1
            if pos == 0:
                return found

    def url_hits(self, url: str) -> list[Indicator]:
        try:
            key = url_key(normalise_url(url))
        except ValueError:
            return []
        return list(self._urls.get(key, ()))

    def hash_hits(self, algo: str, digest: str) -> list[Indicator]:
        return list(self._hashes.get((algo, digest.strip().lower()), ()))

    # ---- enrichment ---------------------------------------------------------------------

    def matches(self, event: dict[str, Any]) -> list[Hit]:
        """Every (indicator, value, field) hit on ``event``; the same indicator counts once."""
        if not self.size or _ROOTS.isdisjoint(event):
            return []
        hits: list[Hit] = []
        for root, checks in _CHECKS.items():
            obj = event.get(root)
            if not isinstance(obj, dict):
                continue
            for path, kind, field in checks:
                value = obj.get(path[0]) if len(path) == 1 else get_path(obj, path)
                if not value:
                    continue
                for atomic in (value,) if isinstance(value, str) else _strings(value):
                    hits.extend((ind, atomic, field) for ind in self._hits(kind, atomic, obj))
        if len(hits) > 1:
            unique: dict[Indicator, Hit] = {}
            for hit in hits:
                unique.setdefault(hit[0], hit)
            hits = list(unique.values())
        return hits

    def _hits(self, kind: str, value: str, obj: dict[str, Any]) -> Sequence[Indicator]:
        if kind == "ip":
            return self.ip_hits(value) if self._ips or self._nets else ()
        if kind == "domain":
            return self.domain_hits(value) if self._domains else ()
        if kind == "url":
            return self._url_hits_in(value, obj) if self._urls else ()
        if len(value) != HASH_LENGTHS[kind] or not self._hashes:
            return ()
        return self.hash_hits(kind, value)

    def _url_hits_in(self, value: str, url: dict[str, Any]) -> Sequence[Indicator]:
        """An absolute URL, or a relative ``url.original`` joined to ``url.domain`` (and a non-default port)."""
        if "://" in value:
            return self.url_hits(value)
        host = url.get("domain")
        if not value.startswith("/") or not isinstance(host, str) or not host:
            return ()
        port = url.get("port")
        suffix = f":{port}" if isinstance(port, int) and port not in (80, 443) else ""
        return self._urls.get(host.rstrip(".").lower() + suffix + value, ())

    def enrich(self, event: dict[str, Any]) -> int:
        """Set ``threat.enrichments`` and ``soc.threat.matched`` on a hit; return the number of hits."""
        hits = self.matches(event)
        if not hits:
            return 0
        threat = event.get("threat")
        if not isinstance(threat, dict):
            threat = event["threat"] = {}
        enrichments = threat.get("enrichments")
        if not isinstance(enrichments, list):
            enrichments = threat["enrichments"] = []
        enrichments.extend(enrichment(ind, atomic, field) for ind, atomic, field in hits[:MAX_ENRICHMENTS])
        soc = event.get("soc")
        if not isinstance(soc, dict):
            soc = event["soc"] = {}
        soc["threat"] = {"matched": len(hits)}
        return len(hits)


def enrichment(ind: Indicator, atomic: str, field: str) -> dict[str, Any]:
    """One ECS ``threat.enrichments`` entry."""
    indicator: dict[str, Any] = {"type": _ecs_type(ind), "provider": ind.source, "name": ind.value}
    if ind.confidence is not None:
        indicator["confidence"] = str(ind.confidence)
    if ind.description:
        indicator["description"] = ind.description
    if ind.type == "ip":
        indicator["ip"] = ind.value
    elif ind.type == "domain":
        indicator["url"] = {"domain": ind.value}
    elif ind.type == "url":
        indicator["url"] = {"full": ind.value}
    elif ind.type in HASH_LENGTHS:
        indicator["file"] = {"hash": {ind.type: ind.value}}
    return {"indicator": indicator, "matched": {"atomic": atomic, "field": field, "type": "indicator_match_rule"}}


def _ecs_type(ind: Indicator) -> str:
    if ind.type in ("ip", "cidr"):
        return "ipv6-addr" if ":" in ind.value else "ipv4-addr"
    if ind.type == "domain":
        return "domain-name"
    if ind.type == "url":
        return "url"
    return "file"


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str) and v] if isinstance(value, list) else []
