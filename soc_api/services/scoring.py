"""Alert risk score, incident priority P1-P4 and the serious-incident test (regulations.md)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from soc_api.services.config import WorkflowConfig


def security_level_of(event: dict[str, Any]) -> int | None:
    """``soc.security_level`` of an ECS event (1-5), or ``None`` when absent or out of range."""
    soc = event.get("soc")
    value = soc.get("security_level") if isinstance(soc, dict) else event.get("soc.security_level")
    if isinstance(value, bool):
        return None
    try:
        level = int(value) if isinstance(value, int | str) else None
    except ValueError:
        return None
    return level if level is not None and 1 <= level <= 5 else None


def ti_hits_of(event: dict[str, Any]) -> int:
    """Threat-intel hits of an event: ``soc.threat.matched`` (a count or a list of matches)."""
    soc = event.get("soc")
    threat = soc.get("threat") if isinstance(soc, dict) else None
    value = threat.get("matched") if isinstance(threat, dict) else event.get("soc.threat.matched")
    if isinstance(value, bool) or value is None:
        return 0
    if isinstance(value, list):
        return len(value)
    if isinstance(value, int):
        return max(0, value)
    try:
        return max(0, int(str(value)))
    except ValueError:
        return 0


def risk_score(cfg: WorkflowConfig, level: str, security_level: int | None, ti_hits: int) -> int:
    """0-100: multiplier x level weight x security level x (1 + ti_factor x min(hits, cap))."""
    a = cfg.alerts
    weight = a.level_weights.get(level, a.level_weights.get("medium", 3))
    sec = security_level or a.default_security_level
    raw = a.risk_multiplier * weight * sec * (1 + a.ti_factor * min(max(ti_hits, 0), a.ti_cap))
    return max(0, min(100, round(raw)))


def priority(cfg: WorkflowConfig, level: str, security_level: int | None) -> str:
    """P1 (most urgent) .. P4 from alert level weight x security level."""
    weight = cfg.alerts.level_weights.get(level, 3)
    product = weight * (security_level or cfg.alerts.default_security_level)
    p = cfg.priority
    if product >= p.p1_min:
        return "P1"
    if product >= p.p2_min:
        return "P2"
    if product >= p.p3_min:
        return "P3"
    return "P4"


def is_serious(cfg: WorkflowConfig, security_level: int | None, impacts: Iterable[str], owner_can_handle: bool) -> bool:
    """Serious incident: security level 4-5 AND at least one listed impact AND the owner cannot cope alone."""
    known = set(cfg.serious.impacts)
    return security_level in cfg.serious.security_levels and any(i in known for i in impacts) and not owner_can_handle
