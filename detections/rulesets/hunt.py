"""Retro-hunt: run one rule back in time over stored events.

Neighbours: the API route ``POST /api/v1/rules/{id}/hunt`` and ``soc rules hunt`` call
:class:`Hunter` through :mod:`detections.rulesets.service`. Two equivalent ways, chosen by what the
event store can do:

- **engine** (embedded store): page through the events of the time range
  (:class:`soc_core.stores.EventQuery`) and evaluate the rule with the streaming engine itself;
  the matches are exactly what the rule would have raised live.
- **elasticsearch** (distributed store): convert the rule with pySigma's Elasticsearch backend
  (``LuceneBackend``) after the project's Sigma->ECS field-mapping pipeline, and run the query
  string over the store's indices (``query_lucene``). Lucene on ``keyword`` fields is case
  sensitive where Sigma is not: values that differ only in case are not found this way.

Correlation rules are refused (they need the stream in time order with their base rules).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from sigma.backends.elasticsearch.elasticsearch_lucene import LuceneBackend
from sigma.collection import SigmaCollection
from sigma.rule import SigmaRule

from detections.rulesets.describe import read_docs
from detections.rulesets.logsource import mapping_pipeline
from detections.sigma import Detector, RuleInfo, RuleSet
from soc_core.ecs import get_field
from soc_core.errors import RuleError
from soc_core.stores import EventQuery, EventStore

PAGE = 1000
MAX_LIMIT = 10_000
MAX_SCAN = 2_000_000


@runtime_checkable
class LuceneSearch(Protocol):
    """An event store that runs Lucene query strings (the Elasticsearch adapter)."""

    def query_lucene(
        self, query: str, start: str | None = None, end: str | None = None, limit: int = 100
    ) -> tuple[int, list[dict[str, Any]]]: ...


@dataclass
class HuntResult:
    rule_id: str
    backend: str  # "engine" | "elasticsearch"
    since: str | None
    until: str | None
    count: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    scanned: int | None = None  # events evaluated (engine backend)
    query: str | None = None  # the converted query (elasticsearch backend)
    truncated: bool = False  # scan cap reached: count is a lower bound

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "backend": self.backend,
            "since": self.since,
            "until": self.until,
            "count": self.count,
            "returned": len(self.events),
            "scanned": self.scanned,
            "query": self.query,
            "truncated": self.truncated,
            "events": self.events,
        }


def single_rule(info: RuleInfo) -> RuleSet:
    """The rule set of ``info``'s file (other rules of the file are loaded too, but filtered out)."""
    if info.kind != "detection":
        raise RuleError("retro-hunt runs detection rules only, not correlation rules", source=info.path)
    ruleset = RuleSet.load([Path(info.path)])
    if not any(r.id == info.id for r in ruleset.rules):
        reasons = "; ".join(f.reason for f in ruleset.failures) or "rule not found in its file"
        raise RuleError(f"rule {info.id} does not compile now: {reasons}", source=info.path)
    return ruleset


def hunt_engine(
    store: EventStore,
    info: RuleInfo,
    since: str | None,
    until: str | None,
    limit: int,
    *,
    page: int = PAGE,
    max_scan: int = MAX_SCAN,
) -> HuntResult:
    """Evaluate the rule with the engine over the stored events in ``[since, until)``."""
    detector = Detector(single_rule(info))
    result = HuntResult(info.id, "engine", since, until, scanned=0)
    seen: set[str] = set()
    offset = 0
    while True:
        batch = store.search(EventQuery(start=since, end=until, limit=page, offset=offset))
        if not batch:
            break
        offset += len(batch)
        fresh = []
        for event in batch:
            event_id = str(get_field(event, "event.id") or "")
            if event_id and event_id in seen:
                continue  # pages shifted by a concurrent write: never count an event twice
            seen.add(event_id)
            fresh.append(event)
        result.scanned = (result.scanned or 0) + len(fresh)
        for det in detector.process(fresh):
            if det.rule_id != info.id:
                continue
            result.count += 1
            if len(result.events) < limit:
                result.events.append(det.event or {"event": {"id": det.event_id}})
        if len(batch) < page:
            break
        if (result.scanned or 0) >= max_scan:
            result.truncated = True
            break
    return result


def to_lucene(info: RuleInfo) -> str:
    """The rule as an Elasticsearch query string over the project's ECS field names."""
    if info.kind != "detection":
        raise RuleError("only detection rules convert to a query, not correlation rules", source=info.path)
    docs = read_docs(Path(info.path))
    chosen: dict[str, Any] | None = None
    for doc in docs:
        if str(doc.get("id")) == info.id:
            chosen = doc
    if chosen is None and len([d for d in docs if "correlation" not in d]) == 1:
        chosen = next(d for d in docs if "correlation" not in d)
    if chosen is None:
        raise RuleError(f"rule {info.id} not found in its file", source=info.path)
    try:
        rule = SigmaRule.from_dict(chosen)
        backend = LuceneBackend(processing_pipeline=mapping_pipeline())
        queries = backend.convert(SigmaCollection([rule]))
    except Exception as exc:  # pySigma raises many kinds of errors for rules it cannot convert
        raise RuleError(f"cannot convert to an Elasticsearch query: {type(exc).__name__}: {exc}") from exc
    texts = [str(q) for q in queries if str(q).strip()]
    if not texts:
        raise RuleError("the Elasticsearch backend produced no query for this rule", source=info.path)
    return texts[0] if len(texts) == 1 else " OR ".join(f"({q})" for q in texts)


def hunt_lucene(store: LuceneSearch, info: RuleInfo, since: str | None, until: str | None, limit: int) -> HuntResult:
    query = to_lucene(info)
    total, events = store.query_lucene(query, since, until, limit)
    return HuntResult(info.id, "elasticsearch", since, until, count=total, events=events, query=query)


def hunt(store: EventStore, info: RuleInfo, since: str | None, until: str | None, limit: int = 100) -> HuntResult:
    """Retro-hunt with the best way the store offers (see the module docstring)."""
    limit = max(0, min(limit, MAX_LIMIT))
    if isinstance(store, LuceneSearch):
        return hunt_lucene(store, info, since, until, limit)
    return hunt_engine(store, info, since, until, limit)
