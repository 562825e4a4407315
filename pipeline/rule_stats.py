"""Per-rule statistics of the detect stage, published to ``soc.rule_stats`` for the rule-health view.

Neighbours: the worker's detector (:class:`detections.rulesets.gate.ActiveDetector`) hands every
batch and the detections it kept to :meth:`RuleStats.observe`; :class:`RuleStatsPublisher`
periodically sends :meth:`RuleStats.snapshot` to the topic :data:`RULE_STATS`, which the API
role folds into its ``rule_health`` table (``soc_api.crud.rules.ingest_rule_stats``).

Counters are cumulative since this worker started and carry the worker's id, so a redelivered
or repeated snapshot replaces the previous one instead of adding to it, and several workers add
up. "Evaluated" counts the events whose log source (derived from ``event.dataset``,
``winlog.channel``... by the engine's ``mapping.yml``) the rule's ``logsource`` accepts; a rule
with evaluated > 0 has its log source present in the received data.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from detections.rulesets.logsource import LogsourceMatcher
from detections.sigma import RuleInfo
from soc_core.bus import Producer
from soc_core.ids import new_id
from soc_core.models import Detection

log = logging.getLogger(__name__)

RULE_STATS = "soc.rule_stats"  # topic name (distributed mode may prefix it, like the others)
SNAPSHOT_VERSION = 1


@dataclass
class RuleCounter:
    evaluated: int = 0
    hits: int = 0
    last_evaluated: float | None = None
    last_fired: float | None = None


def default_worker_id() -> str:
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{new_id()[-8:]}"


class RuleStats:
    """Counters per rule id, fed once per batch. Thread-safe (the publisher reads from its thread)."""

    def __init__(
        self,
        rules: Callable[[], Sequence[RuleInfo]],
        matcher: LogsourceMatcher | None = None,
        *,
        worker_id: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._rules = rules
        self.matcher = matcher or LogsourceMatcher()
        self.worker_id = worker_id or default_worker_id()
        self.clock = clock
        self.started = clock()
        self.counters: dict[str, RuleCounter] = {}
        self.events = 0
        self.logsources_seen: dict[str, int] = {}
        self._label_sources: dict[str, dict[str, list[str]]] = {}
        self.version = 0  # bumps on every observed batch
        self._lock = threading.Lock()
        self._rules_seen: Sequence[RuleInfo] | None = None
        self._accepting: dict[tuple[str | None, ...], tuple[str, ...]] = {}

    def _accepting_rules(self, key: tuple[str | None, ...], rules: Sequence[RuleInfo]) -> tuple[str, ...]:
        if rules is not self._rules_seen:
            self._rules_seen = rules
            self._accepting.clear()
        hit = self._accepting.get(key)
        if hit is None:
            sources = self.matcher.sources_of(key)
            hit = tuple(r.id for r in rules if r.kind == "detection" and self.matcher.accepts(r.logsource, sources))
            if len(self._accepting) > 4096:
                self._accepting.clear()
            self._accepting[key] = hit
        return hit

    def observe(self, events: Sequence[dict[str, Any]], detections: Sequence[Detection]) -> None:
        now = self.clock()
        per_key: dict[tuple[str | None, ...], int] = {}
        for event in events:
            if isinstance(event, dict):
                key = self.matcher.key(event)
                per_key[key] = per_key.get(key, 0) + 1
        rules = self._rules()
        with self._lock:
            self.version += 1
            self.events += sum(per_key.values())
            counters = self.counters
            for key, n in per_key.items():
                sources = self.matcher.sources_of(key)
                label = _label(sources)
                if label not in self._label_sources:
                    self._label_sources[label] = {k: sorted(v) for k, v in sources.items() if v}
                self.logsources_seen[label] = self.logsources_seen.get(label, 0) + n
                for rule_id in self._accepting_rules(key, rules):
                    c = counters.get(rule_id)
                    if c is None:
                        c = counters[rule_id] = RuleCounter()
                    c.evaluated += n
                    c.last_evaluated = now
            for det in detections:
                c = counters.get(det.rule_id)
                if c is None:
                    c = counters[det.rule_id] = RuleCounter()
                c.hits += 1
                c.last_fired = now

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "v": SNAPSHOT_VERSION,
                "worker": self.worker_id,
                "started": self.started,
                "at": self.clock(),
                "events": self.events,
                "logsources": [
                    {"label": label, "sources": self._label_sources.get(label, {}), "events": n}
                    for label, n in self.logsources_seen.items()
                ],
                "rules": {
                    rule_id: {
                        "evaluated": c.evaluated,
                        "hits": c.hits,
                        "last_evaluated": c.last_evaluated,
                        "last_fired": c.last_fired,
                    }
                    for rule_id, c in self.counters.items()
                },
            }


def _label(sources: dict[str, frozenset[str]]) -> str:
    parts = [f"{name}={'|'.join(sorted(vals))}" for name, vals in sorted(sources.items()) if vals]
    return ",".join(parts) or "unrouted"


def encode_snapshot(snapshot: dict[str, Any]) -> bytes:
    return orjson.dumps(snapshot)


def decode_snapshot(data: bytes) -> dict[str, Any]:
    """Parse and validate a snapshot message; raises ValueError on anything malformed."""
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"rule stats snapshot is not JSON: {exc}") from exc
    if not isinstance(obj, dict) or not isinstance(obj.get("worker"), str) or not isinstance(obj.get("rules"), dict):
        raise ValueError("rule stats snapshot needs 'worker' (string) and 'rules' (mapping)")
    return obj


class RuleStatsPublisher:
    """A role component: publishes the snapshot every ``interval_s`` (and once more when stopping)."""

    def __init__(
        self, stats: RuleStats, producer: Producer, *, topic: str = RULE_STATS, interval_s: float = 10.0
    ) -> None:
        self.stats = stats
        self.producer = producer
        self.topic = topic
        self.interval_s = interval_s
        self._published = -1
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def publish(self, *, force: bool = False) -> bool:
        """Send a snapshot if anything changed since the last one; returns whether one was sent."""
        version = self.stats.version
        if not force and version == self._published:
            return False
        snap = self.stats.snapshot()
        self.producer.send(self.topic, encode_snapshot(snap), self.stats.worker_id.encode())
        self.producer.flush()
        self._published = version
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.publish()
            except Exception:  # the bus may be down; statistics are best effort, retried next tick
                log.warning("rule statistics not published (will retry)", exc_info=True)

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="rule-stats", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        try:
            self.publish()
        except Exception:
            log.warning("final rule statistics not published", exc_info=True)
