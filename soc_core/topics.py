"""Names of the bus topics. Distributed mode may prefix them (``Settings.topic_prefix``)."""

from __future__ import annotations

RAW = "soc.raw"
EVENTS = "soc.events"
ALERTS = "soc.alerts"
DLQ = "soc.dlq"

ALL = (RAW, EVENTS, ALERTS, DLQ)
