"""Stage ``enrich``: add the owning unit, information system, security level and owner to events.

Neighbours: before it the ``parse`` stage (:mod:`pipeline.parsers`) turns raw records into ECS
events; after it the detection stage evaluates rules (which may use ``soc.*``) and the event store
indexes the event. Fields set (see ``docs/ecs-contract.md``): ``soc.unit.code``, ``soc.unit.name``,
``soc.unit.parent``, ``soc.unit.path``, ``soc.system``, ``soc.security_level``, ``soc.asset.name``,
``soc.asset.owner``.

The asset inventory is a YAML or CSV file (units with parents, assets with IPs/CIDRs/hostnames,
security level 1-5 per Decree 85/2016 and Circular 12/2022). Lookups are dict-based (exact IP,
longest-prefix CIDR by prefix length, hostname) and cached, since they run once per event.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipeline.enrich.loader import read_inventory
from pipeline.enrich.lookup import network_of, parse_ip, remember
from pipeline.enrich.model import Asset, Unit, norm_host
from soc_core.ecs import get_path


class AssetInventory:
    """Units and assets of the province, with fast lookups by IP and hostname."""

    def __init__(self, units: dict[str, Unit], assets: list[Asset]) -> None:
        self.units = units
        self.assets = assets
        self._by_ip: dict[str, Asset] = {}
        self._by_net: dict[tuple[int, int], dict[int, Asset]] = {}  # (version, prefixlen) -> net int -> asset
        self._prefixes: dict[int, list[int]] = {4: [], 6: []}  # version -> prefix lengths, longest first
        self._by_host: dict[str, Asset] = {}
        self._by_short: dict[str, Asset | None] = {}  # None: ambiguous short name
        self._cache: dict[tuple[str, str], Asset | None] = {}
        self._paths = {code: self._path(code) for code in units}
        for asset in assets:
            for ip in asset.ips:
                self._by_ip[ip] = asset
            for net in asset.cidrs:
                key = (net.version, net.prefixlen)
                self._by_net.setdefault(key, {})[int(net.network_address)] = asset
            for host in asset.hostnames:
                self._by_host[host] = asset
                short = host.split(".", 1)[0]
                if short != host:
                    prev = self._by_short.get(short, asset)
                    self._by_short[short] = asset if prev is asset else None
        for version, prefixlen in self._by_net:
            self._prefixes[version].append(prefixlen)
        for lengths in self._prefixes.values():
            lengths.sort(reverse=True)

    # ---- construction -------------------------------------------------------------------

    @classmethod
    def empty(cls) -> AssetInventory:
        """An inventory with no units and no assets (enrichment sets only the record's unit)."""
        return cls({}, [])

    @classmethod
    def load(cls, path: Path) -> AssetInventory:
        """Load a ``.yaml``/``.yml`` or ``.csv`` inventory; problems raise :class:`ConfigError`."""
        units, assets = read_inventory(path)
        return cls(units, assets)

    def _path(self, code: str) -> list[str]:
        chain: list[str] = []
        cur: str | None = code
        while cur is not None and cur in self.units and cur not in chain:
            chain.append(cur)
            cur = self.units[cur].parent
        return chain[::-1]

    # ---- queries ------------------------------------------------------------------------

    def subtree(self, code: str) -> set[str]:
        """The unit ``code`` and all its descendants (just ``{code}`` for an unknown code)."""
        out = {code}
        frontier = [code]
        children: dict[str, list[str]] = {}
        for unit in self.units.values():
            if unit.parent is not None:
                children.setdefault(unit.parent, []).append(unit.code)
        while frontier:
            for child in children.get(frontier.pop(), ()):
                if child not in out:
                    out.add(child)
                    frontier.append(child)
        return out

    def lookup(self, *, ip: str | None = None, hostname: str | None = None) -> Asset | None:
        """The asset owning ``ip`` (exact, then longest-prefix CIDR) or else ``hostname``."""
        if ip:
            asset = self._lookup_ip(ip)
            if asset is not None:
                return asset
        if hostname:
            return self._lookup_host(hostname)
        return None

    def _lookup_ip(self, ip: str) -> Asset | None:
        asset = self._by_ip.get(ip)
        if asset is not None:
            return asset
        key = ("ip", ip)
        if key in self._cache:
            return self._cache[key]
        result: Asset | None = None
        addr = parse_ip(ip)
        if addr is not None:
            result = self._by_ip.get(str(addr))
            if result is None:
                value, bits = int(addr), addr.max_prefixlen
                for prefixlen in self._prefixes[addr.version]:
                    result = self._by_net[(addr.version, prefixlen)].get(network_of(value, bits, prefixlen))
                    if result is not None:
                        break
        return remember(self._cache, key, result)

    def _lookup_host(self, hostname: str) -> Asset | None:
        name = norm_host(hostname)
        asset = self._by_host.get(name)
        if asset is not None:
            return asset
        short = name.split(".", 1)[0]
        return self._by_host.get(short) or self._by_short.get(short) or self._by_short.get(name)

    # ---- enrichment ---------------------------------------------------------------------

    def enrich(self, event: dict[str, Any], record_unit: str | None = None) -> None:
        """Set the ``soc.*`` fields on ``event`` from the first matching asset.

        Order: ``host.ip``, ``host.name``, ``destination.ip``, ``log.syslog.hostname``,
        ``url.domain`` (web virtual host), then ``source.ip``, then ``record_unit`` (unit fields only).
        """
        asset = self._match(event)
        if asset is not None:
            soc = self._soc(event)
            self._set_unit(soc, asset.unit)
            soc["system"] = asset.system
            soc["security_level"] = asset.security_level
            soc["asset"] = {"name": asset.name, "owner": dict(asset.owner)}
        elif record_unit:
            self._set_unit(self._soc(event), record_unit)

    @staticmethod
    def _soc(event: dict[str, Any]) -> dict[str, Any]:
        soc = event.get("soc")
        if not isinstance(soc, dict):
            soc = {}
            event["soc"] = soc
        return soc

    def _set_unit(self, soc: dict[str, Any], code: str) -> None:
        unit_fields: dict[str, Any] = {"code": code}
        unit = self.units.get(code)
        if unit is not None:
            unit_fields["name"] = unit.name
            if unit.parent is not None:
                unit_fields["parent"] = unit.parent
            unit_fields["path"] = list(self._paths[code])
        soc["unit"] = unit_fields

    def _match(self, event: dict[str, Any]) -> Asset | None:
        if not self.assets:
            return None
        for value, is_ip in _candidates(event):
            asset = self._lookup_ip(value) if is_ip else self._lookup_name(value)
            if asset is not None:
                return asset
        return None

    def _lookup_name(self, value: str) -> Asset | None:
        """Hostname fields sometimes hold an IP address (syslog from devices)."""
        return self._lookup_host(value) or (self._lookup_ip(value) if value[:1].isdigit() or ":" in value else None)


def _values(value: Any) -> Iterator[str]:
    if isinstance(value, str) and value:
        yield value
    elif isinstance(value, list):
        yield from (v for v in value if isinstance(v, str) and v)


def _candidates(event: dict[str, Any]) -> Iterator[tuple[str, bool]]:
    for value in _values(get_path(event, ("host", "ip"))):
        yield value, True
    for value in _values(get_path(event, ("host", "name"))):
        yield value, False
    for value in _values(get_path(event, ("destination", "ip"))):
        yield value, True
    for value in _values(get_path(event, ("log", "syslog", "hostname"))):
        yield value, False
    for value in _values(get_path(event, ("url", "domain"))):  # the virtual host a web request was for
        yield value, False
    for value in _values(get_path(event, ("source", "ip"))):
        yield value, True
