"""Stage ``enrich``: unit, information system, security level and owner from the asset inventory.

Neighbours: before it ``parse`` (:mod:`pipeline.parsers`); after it detection and indexing. See
:mod:`pipeline.enrich.inventory` for the fields set and the match order.
"""

from pipeline.enrich.inventory import AssetInventory
from pipeline.enrich.loader import CSV_COLUMNS
from pipeline.enrich.model import Asset, IPNetwork, Unit

__all__ = ["CSV_COLUMNS", "Asset", "AssetInventory", "IPNetwork", "Unit"]
