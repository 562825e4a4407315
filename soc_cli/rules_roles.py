"""Composition of the rule operations: the worker's active detector + statistics, the API's catalog and sink.

Called from :mod:`soc_cli.roles` (worker and API roles) and :mod:`soc_cli.embedded` (``soc up``):

- worker: :func:`worker_detector` returns an :class:`~detections.rulesets.ActiveDetector` (enabled
  rules only, ``rules-state.yml`` reloaded on change) that feeds :class:`pipeline.rule_stats.RuleStats`,
  and a :class:`~pipeline.rule_stats.RuleStatsPublisher` component sending snapshots to ``soc.rule_stats``;
- API: :func:`rule_stats_sink` folds those snapshots into the ``rule_health`` table, and
  :func:`rule_catalog` is what the rule routes use (``app.state.rule_catalog``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from detections.rulesets import STATE_FILE, ActiveDetector, rule_paths
from detections.rulesets.service import RulesService
from detections.sigma import RuleSet
from detections.sigma.values import load_placeholders
from pipeline.rule_stats import RULE_STATS, RuleStats, RuleStatsPublisher, decode_snapshot
from soc_api.crud.rules import ingest_rule_stats
from soc_core.bus import Bus, Message
from soc_core.errors import StoreUnavailable
from soc_core.settings import Settings
from soc_core.stage import StageLoop
from soc_core.stores import EventStore

log = logging.getLogger(__name__)

STATS_INTERVAL_S = 10.0


def active_paths(settings: Settings) -> list[Path]:
    """Project rules (``Settings.rules``) plus every set imported under ``<data_dir>/rules``."""
    return rule_paths(list(settings.rules), settings.data_dir)


def placeholders_of(settings: Settings) -> dict[str, list[str]] | None:
    """The configured ``|expand`` placeholder values (``sigma_placeholders``), if any."""
    return load_placeholders(settings.sigma_placeholders) if settings.sigma_placeholders else None


def state_file(settings: Settings) -> Path:
    return settings.data_dir / STATE_FILE


def worker_detector(
    settings: Settings, bus: Bus, ruleset: RuleSet | None = None, *, interval_s: float = STATS_INTERVAL_S
) -> tuple[ActiveDetector, RuleStatsPublisher]:
    """The worker's detector (enabled rules, statistics) and the component that publishes the statistics.

    ``ruleset`` (already loaded by the caller from the same paths) is reused when no rule is
    disabled, so the rules are not compiled twice.
    """
    paths = active_paths(settings)
    holder: list[ActiveDetector] = []
    stats = RuleStats(lambda: holder[0].ruleset.rules if holder else [])
    sf = state_file(settings)
    reuse = ruleset if ruleset is not None and not sf.exists() else None
    detector = ActiveDetector(
        paths,
        sf,
        observer=stats.observe,
        ruleset=reuse,
        placeholders=placeholders_of(settings),
        lateness_seconds=settings.sigma_lateness_seconds,
    )
    holder.append(detector)
    publisher = RuleStatsPublisher(
        stats, bus.producer(), topic=settings.topic_prefix + RULE_STATS, interval_s=interval_s
    )
    return detector, publisher


class RuleStatsSink:
    """Stage "rule-stats sink" of the API role: soc.rule_stats -> rule_health (idempotent upserts)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self.bad = 0

    def handle(self, messages: Sequence[Message]) -> None:
        snapshots = []
        for m in messages:
            try:
                snapshots.append(decode_snapshot(m.value))
            except ValueError as exc:  # statistics, not records: count and log, nothing to dead-letter
                self.bad += 1
                log.warning("bad rule statistics message %s@%d: %s", m.topic, m.offset, exc)
        try:
            with self.sessions() as session:
                for snap in snapshots:
                    ingest_rule_stats(session, snap)
                session.commit()
        except OperationalError as exc:
            raise StoreUnavailable(f"rule health database unavailable: {exc}") from exc


def rule_stats_sink(settings: Settings, bus: Bus, sessions: sessionmaker[Session]) -> StageLoop:
    consumer = bus.consumer("soc-rule-stats", [settings.topic_prefix + RULE_STATS])
    return StageLoop("rule-stats-sink", consumer, RuleStatsSink(sessions).handle)


def rule_catalog(settings: Settings, store: EventStore | None, ruleset: RuleSet | None = None) -> RulesService:
    """The API's rule catalog over the active rule paths (``ruleset``: the same paths, already loaded)."""
    return RulesService(active_paths(settings), state_file(settings), store, ruleset=ruleset)
