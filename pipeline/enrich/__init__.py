"""Stage ``enrich``: unit, information system, security level and owner from the asset inventory,
then threat-intelligence matches and GeoIP.

Neighbours: before it ``parse`` (:mod:`pipeline.parsers`); after it detection and indexing. See
:mod:`pipeline.enrich.inventory` for the inventory fields and the match order,
:mod:`pipeline.enrich.threat` for ``threat.enrichments`` / ``soc.threat.matched`` and
:mod:`pipeline.enrich.geo` for ``<side>.geo`` / ``<side>.as``.
"""

from pipeline.enrich.geo import GeoIP
from pipeline.enrich.indicators import Indicator
from pipeline.enrich.inventory import AssetInventory
from pipeline.enrich.loader import CSV_COLUMNS
from pipeline.enrich.model import Asset, Enricher, IPNetwork, Unit
from pipeline.enrich.threat import ThreatIntel

__all__ = [
    "CSV_COLUMNS",
    "Asset",
    "AssetInventory",
    "Enricher",
    "GeoIP",
    "IPNetwork",
    "Indicator",
    "ThreatIntel",
    "Unit",
]
