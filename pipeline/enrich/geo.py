"""Stage ``enrich``, GeoIP: country, city, location and AS of public source/destination/client addresses.

Neighbours: runs in the ``enrich`` stage after the asset inventory (:mod:`pipeline.enrich.inventory`)
and threat intelligence (:mod:`pipeline.enrich.threat`), before detection and indexing.

With a MaxMind-format city database (``geoip_city_db``, read with ``maxminddb``) it sets
``<side>.geo.country_iso_code``, ``country_name``, ``city_name`` and ``location`` (``{lat, lon}``);
with an ASN database (``geoip_asn_db``) ``<side>.as.number`` and ``<side>.as.organization.name``.
Without a city database, and unless ``geoip_fallback_country`` is off, the offline ``iptocc``
package gives ``<side>.geo.country_iso_code`` only. Sides: ``source``, ``destination``, ``client``.
Addresses that are not globally routable (private, loopback, link-local, reserved, documentation)
are skipped; fields the event already has are kept. Lookups are cached per address.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import iptocc
import maxminddb

from pipeline.enrich.lookup import parse_ip, remember
from soc_core.errors import ConfigError

SIDES = ("source", "destination", "client")


@dataclass(frozen=True, slots=True)
class GeoInfo:
    country_iso_code: str | None = None
    country_name: str | None = None
    city_name: str | None = None
    lat: float | None = None
    lon: float | None = None
    as_number: int | None = None
    as_organization: str | None = None

    def geo(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in ("country_iso_code", "country_name", "city_name"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.lat is not None and self.lon is not None:
            out["location"] = {"lat": self.lat, "lon": self.lon}
        return out

    def as_(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.as_number is not None:
            out["number"] = self.as_number
        if self.as_organization is not None:
            out["organization"] = {"name": self.as_organization}
        return out


def _open(path: Path, what: str) -> maxminddb.Reader:
    try:
        return maxminddb.open_database(str(path))
    except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
        raise ConfigError(f"cannot open GeoIP {what} database: {exc}", source=str(path)) from None


class GeoIP:
    """GeoIP lookups for the ``enrich`` stage; use :meth:`open` to build one from file paths."""

    def __init__(
        self,
        city: maxminddb.Reader | None = None,
        asn: maxminddb.Reader | None = None,
        *,
        fallback_country: bool = True,
    ) -> None:
        self.city = city
        self.asn = asn
        self.fallback_country = fallback_country and city is None
        self._cache: dict[str, GeoInfo | None] = {}

    @classmethod
    def open(cls, city_db: Path | None = None, asn_db: Path | None = None, *, fallback_country: bool = True) -> GeoIP:
        city = _open(city_db, "city") if city_db is not None else None
        asn = _open(asn_db, "ASN") if asn_db is not None else None
        return cls(city, asn, fallback_country=fallback_country)

    @property
    def active(self) -> bool:
        return self.city is not None or self.asn is not None or self.fallback_country

    def close(self) -> None:
        for reader in (self.city, self.asn):
            if reader is not None:
                reader.close()

    def __enter__(self) -> GeoIP:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def lookup(self, ip: str) -> GeoInfo | None:
        """Geo and AS data of a public address, ``None`` for non-public, invalid or unknown ones."""
        if ip in self._cache:
            return self._cache[ip]
        return remember(self._cache, ip, self._lookup(ip))

    def _lookup(self, ip: str) -> GeoInfo | None:
        addr = parse_ip(ip)
        if addr is None or not addr.is_global:
            return None
        text = str(addr)
        fields: dict[str, Any] = {}
        if self.city is not None:
            fields.update(_city_fields(self.city.get(text)))
        elif self.fallback_country:
            code = iptocc.country_code(text)
            if code:
                fields["country_iso_code"] = code
        if self.asn is not None:
            record = self.asn.get(text)
            if isinstance(record, dict):
                number = record.get("autonomous_system_number")
                org = record.get("autonomous_system_organization")
                fields["as_number"] = number if isinstance(number, int) else None
                fields["as_organization"] = org if isinstance(org, str) else None
        info = GeoInfo(**fields)
        return info if info.geo() or info.as_() else None

    def enrich(self, event: dict[str, Any]) -> None:
        """Set ``<side>.geo`` and ``<side>.as`` for each public side address (existing fields kept)."""
        if not self.active:
            return
        for side in SIDES:
            obj = event.get(side)
            if not isinstance(obj, dict):
                continue
            ip = obj.get("ip")
            if not isinstance(ip, str) or not ip:
                continue
            info = self.lookup(ip)
            if info is None:
                continue
            for key, values in (("geo", info.geo()), ("as", info.as_())):
                if not values:
                    continue
                current = obj.get(key)
                if isinstance(current, dict):
                    for k, v in values.items():
                        current.setdefault(k, v)
                else:
                    obj[key] = values


def _city_fields(record: Any) -> dict[str, Any]:
    if not isinstance(record, dict):
        return {}
    out: dict[str, Any] = {}
    country = record.get("country") or record.get("registered_country")
    if isinstance(country, dict):
        if isinstance(code := country.get("iso_code"), str):
            out["country_iso_code"] = code
        if isinstance(name := _name(country), str):
            out["country_name"] = name
    city = record.get("city")
    if isinstance(city, dict) and isinstance(name := _name(city), str):
        out["city_name"] = name
    location = record.get("location")
    if isinstance(location, dict):
        lat, lon = location.get("latitude"), location.get("longitude")
        if isinstance(lat, int | float) and isinstance(lon, int | float):
            out["lat"], out["lon"] = float(lat), float(lon)
    return out


def _name(node: dict[str, Any]) -> str | None:
    names = node.get("names")
    if isinstance(names, dict):
        name = names.get("en")
        return name if isinstance(name, str) else None
    return None
