"""Units and assets of the asset inventory (stage ``enrich``, see :mod:`pipeline.enrich`)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Protocol

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Unit:
    """An organisational unit (sở, ban, ngành, UBND huyện/xã)."""

    code: str
    name: str
    parent: str | None


@dataclass(frozen=True)
class Asset:
    """An asset of an information system owned by a unit."""

    name: str
    system: str
    unit: str
    security_level: int
    owner: dict[str, str]
    ips: tuple[str, ...]
    cidrs: tuple[IPNetwork, ...]
    hostnames: tuple[str, ...]


def norm_host(name: str) -> str:
    """Hostnames compare case-insensitively and without a trailing dot."""
    return name.strip().rstrip(".").lower()


class Enricher(Protocol):
    """One step of the ``enrich`` stage after the asset inventory (threat intel, GeoIP)."""

    def enrich(self, event: dict[str, Any], /) -> Any: ...
