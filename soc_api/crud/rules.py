"""Rule health data layer: fold worker snapshots (``soc.rule_stats``) in, read health per rule.

Neighbours: the API role's rule-stats sink stage calls :func:`ingest_rule_stats` for every
snapshot message; the rule routes (:mod:`soc_api.routes.rules`) read :func:`health_by_rule` and
:func:`logsources_seen`. Snapshots hold cumulative counters per worker run, so a row is replaced
by a newer snapshot of the same worker (a redelivered, older one never lowers it) and the view
sums over workers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from soc_api.crud import audit
from soc_api.db.base import utcnow
from soc_api.db.rule_models import RuleHealth, RuleLogsourceSeen

LOGSOURCE_FIELDS = ("product", "category", "service")
_MAX_RULES_PER_SNAPSHOT = 100_000


@dataclass(frozen=True)
class Health:
    evaluated: int = 0
    hits: int = 0
    last_evaluated: datetime | None = None
    last_fired: datetime | None = None
    workers: int = 0


def _ts(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1e11:
        return datetime.fromtimestamp(float(value), UTC)
    return None


def _count(value: Any) -> int:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def ingest_rule_stats(session: Session, snapshot: Mapping[str, Any]) -> int:
    """Upsert one worker snapshot; returns the rule rows written. Malformed entries are skipped."""
    worker = str(snapshot.get("worker") or "")[:100]
    rules = snapshot.get("rules")
    if not worker or not isinstance(rules, Mapping):
        raise ValueError("snapshot needs 'worker' and 'rules'")
    existing = {h.rule_id: h for h in session.scalars(select(RuleHealth).where(RuleHealth.worker == worker))}
    now = utcnow()
    written = 0
    for rule_id, counters in list(rules.items())[:_MAX_RULES_PER_SNAPSHOT]:
        if not isinstance(counters, Mapping) or not isinstance(rule_id, str) or not rule_id or len(rule_id) > 255:
            continue
        evaluated, hits = _count(counters.get("evaluated")), _count(counters.get("hits"))
        row = existing.get(rule_id)
        if row is None:
            row = RuleHealth(worker=worker, rule_id=rule_id, evaluated=0, hits=0)
            session.add(row)
        # cumulative counters: keep the larger, so an older redelivered snapshot never goes back
        row.evaluated = max(row.evaluated or 0, evaluated)
        row.hits = max(row.hits or 0, hits)
        row.last_evaluated = _later(row.last_evaluated, _ts(counters.get("last_evaluated")))
        row.last_fired = _later(row.last_fired, _ts(counters.get("last_fired")))
        row.updated_at = now
        written += 1
    seen = snapshot.get("logsources")
    if isinstance(seen, list):
        rows = {
            r.label: r for r in session.scalars(select(RuleLogsourceSeen).where(RuleLogsourceSeen.worker == worker))
        }
        for item in seen[:1000]:
            if not isinstance(item, Mapping) or not isinstance(item.get("label"), str):
                continue
            label = item["label"][:255]
            raw_sources = item.get("sources")
            sources: Mapping[str, Any] = raw_sources if isinstance(raw_sources, Mapping) else {}
            clean = {
                k: sorted(str(v) for v in vals)[:100]
                for k, vals in sources.items()
                if k in LOGSOURCE_FIELDS and isinstance(vals, list)
            }
            ls = rows.get(label)
            if ls is None:
                ls = RuleLogsourceSeen(worker=worker, label=label, events=0)
                session.add(ls)
            ls.sources = clean
            ls.events = max(ls.events or 0, _count(item.get("events")))
            ls.updated_at = now
    session.flush()
    return written


def health_by_rule(session: Session, rule_ids: Iterable[str] | None = None) -> dict[str, Health]:
    """Counters summed over worker runs, per rule id."""
    stmt = select(
        RuleHealth.rule_id,
        func.sum(RuleHealth.evaluated),
        func.sum(RuleHealth.hits),
        func.max(RuleHealth.last_evaluated),
        func.max(RuleHealth.last_fired),
        func.count(),
    ).group_by(RuleHealth.rule_id)
    if rule_ids is not None:
        stmt = stmt.where(RuleHealth.rule_id.in_(list(rule_ids)))
    out: dict[str, Health] = {}
    for rule_id, evaluated, hits, last_eval, last_fired, workers in session.execute(stmt):
        out[rule_id] = Health(
            int(evaluated or 0), int(hits or 0), _aware(last_eval), _aware(last_fired), int(workers or 0)
        )
    return out


def _aware(value: Any) -> datetime | None:
    # MAX() over a TypeDecorator column comes back raw on SQLite (a naive UTC datetime or a string)
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return None


def logsources_seen(session: Session) -> list[dict[str, list[str]]]:
    """Distinct log sources (product/category/service values) seen by any worker."""
    out: list[dict[str, list[str]]] = []
    keys: set[str] = set()
    for label, sources in session.execute(select(RuleLogsourceSeen.label, RuleLogsourceSeen.sources)):
        if label not in keys and isinstance(sources, dict):
            keys.add(label)
            out.append({k: list(v) for k, v in sources.items() if isinstance(v, list)})
    return out


def logsource_accepted(logsource: Mapping[str, Any], seen: Iterable[Mapping[str, list[str]]]) -> bool:
    """Whether some seen log source satisfies every field a rule's ``logsource`` names."""
    want = {k: str(v).lower() for k, v in logsource.items() if k in LOGSOURCE_FIELDS and v is not None}
    for sources in seen:
        if all(value in {s.lower() for s in sources.get(name, [])} for name, value in want.items()):
            return True
    return False


def audit_object_id(value: str) -> str:
    """An audit ``object_id`` (max 64 chars): the value, or a stable digest of a longer one."""
    if len(value) <= 64:
        return value
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:57]


def record_change(
    session: Session, *, actor: str, action: str, object_type: str, object_id: str, detail: dict[str, Any]
) -> None:
    audit.record(
        session,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=audit_object_id(object_id),
        detail=detail,
    )
