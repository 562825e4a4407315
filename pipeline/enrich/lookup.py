"""Stage ``enrich``: the address parsing and bounded caches every enricher's lookups share.

Neighbours: used by the asset inventory (:mod:`.inventory`), threat intelligence (:mod:`.threat`,
:mod:`.indicators`) and GeoIP (:mod:`.geo`), which all look addresses up once per event field.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Hashable
from typing import TypeVar

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

CACHE_MAX = 65_536  # entries per lookup cache; a full cache starts over (cheap, bounded memory)


def parse_ip(value: str) -> IPAddress | None:
    """``value`` as an address (``[v6]`` brackets allowed, IPv4-mapped IPv6 unmapped), else ``None``."""
    try:
        addr = ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def network_of(number: int, bits: int, prefixlen: int) -> int:
    """The network address (as an int) of ``number`` under a ``/prefixlen`` mask of a ``bits``-bit family."""
    shift = bits - prefixlen
    return number >> shift << shift


def remember(cache: dict[K, V], key: K, value: V) -> V:
    """Store ``value`` under ``key``, emptying ``cache`` first when it holds :data:`CACHE_MAX` entries."""
    if len(cache) >= CACHE_MAX:
        cache.clear()
    cache[key] = value
    return value
