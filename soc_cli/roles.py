"""Composition root: builds the bus, stores and stages for each role from the settings.

The only place that knows every package (collectors, pipeline, soc_api): nothing imports
``soc_cli``. ``soc up`` runs all roles in one process; ``soc collect|worker|api`` run one each.
Both modes use the same stage code; only :func:`open_bus` and :func:`open_store` differ.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from collectors.filetail import FileTailer, TailSpec
from collectors.publisher import Publisher
from collectors.syslog import SyslogServer
from detections.sigma import Detector, RuleSet
from pipeline.enrich import AssetInventory
from pipeline.indexer import DeadLetterIndexer, EventIndexer
from pipeline.worker import EventProcessor, PipelineWorker
from soc_api.db import migrate
from soc_api.db.session import make_engine, make_sessionmaker
from soc_api.sink import ingest_detections
from soc_core import serde, topics
from soc_core.bus import Bus, Message
from soc_core.embedded.sqlite_bus import SqliteBus
from soc_core.embedded.sqlite_events import SqliteEventStore
from soc_core.errors import ConfigError, StoreUnavailable
from soc_core.models import Detection
from soc_core.settings import Settings
from soc_core.stage import StageLoop
from soc_core.stores import EventStore

log = logging.getLogger(__name__)

DEMO_ASSETS = Path(__file__).resolve().parent.parent / "soc_demo" / "assets.yml"


class Component(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


def open_bus(settings: Settings) -> Bus:
    if settings.mode == "embedded":
        return SqliteBus(settings.data_dir / "bus.db")
    raise ConfigError("distributed mode needs the Kafka adapter (not configured in this build)")


def open_store(settings: Settings) -> EventStore:
    if settings.mode == "embedded":
        return SqliteEventStore(settings.data_dir / "events.db")
    raise ConfigError("distributed mode needs the Elasticsearch adapter (not configured in this build)")


def open_database(settings: Settings) -> sessionmaker[Session]:
    settings.ensure_dirs()
    url = settings.db_url()
    migrate(url)
    return make_sessionmaker(make_engine(url))


def load_inventory(settings: Settings, *, demo: bool = False) -> AssetInventory:
    if settings.assets_file is not None:
        return AssetInventory.load(settings.assets_file)
    if demo:
        return AssetInventory.load(DEMO_ASSETS)
    return AssetInventory.empty()


def load_rules(settings: Settings) -> RuleSet:
    ruleset = RuleSet.load(list(settings.rules))
    for failure in ruleset.failures:
        log.warning("rule not loaded: %s:%s: %s", failure.path, failure.line, failure.reason)
    log.info("loaded %d rules (%d failed)", len(ruleset.rules), len(ruleset.failures))
    return ruleset


def rules_provider(ruleset: RuleSet) -> Callable[[], list[dict[str, Any]]]:
    def provide() -> list[dict[str, Any]]:
        return [
            {"id": r.id, "title": r.title, "level": r.level, "tags": r.tags, "path": r.path, "kind": r.kind}
            for r in ruleset.rules
        ]

    return provide


class AlertSink:
    """Stage "alert sink" of the API role: soc.alerts -> alerts table (folded by dedup key, idempotent)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def handle(self, messages: Sequence[Message]) -> None:
        detections: list[Detection] = [serde.decode_detection(m.value) for m in messages]
        try:
            with self.sessions() as session:
                ingest_detections(session, detections)
                session.commit()
        except OperationalError as exc:
            raise StoreUnavailable(f"alert database unavailable: {exc}") from exc


@dataclass
class Role:
    components: list[Component] = field(default_factory=list)

    def start(self) -> None:
        for c in self.components:
            c.start()

    def stop(self) -> None:
        for c in reversed(self.components):
            try:
                c.stop()
            except Exception:
                log.exception("stopping %r failed", c)


class _PublisherFlush:
    """Flushes and closes a publisher when its role stops."""

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher

    def start(self) -> None:
        return None

    def stop(self) -> None:
        self.publisher.close()


def collect_role(settings: Settings, bus: Bus) -> tuple[Role, SyslogServer]:
    prefix = settings.topic_prefix
    publisher = Publisher(
        bus.producer(),
        spool_dir=settings.data_dir / "spool",
        raw_topic=prefix + topics.RAW,
        dlq_topic=prefix + topics.DLQ,
    )
    syslog = SyslogServer(
        publisher, host=settings.syslog_host, port=settings.syslog_port, max_message=settings.syslog_max_message
    )
    role = Role([_PublisherFlush(publisher), syslog])
    if settings.tail:
        specs = [TailSpec(Path(t["path"]), t.get("format", "auto"), t.get("unit")) for t in settings.tail]
        tail_publisher = Publisher(
            bus.producer(),
            spool_dir=settings.data_dir / "spool-tail",
            raw_topic=prefix + topics.RAW,
            dlq_topic=prefix + topics.DLQ,
        )
        role.components.append(_PublisherFlush(tail_publisher))
        role.components.append(FileTailer(specs, tail_publisher, state_path=settings.data_dir / "tail-state.json"))
    return role, syslog


def worker_role(settings: Settings, bus: Bus, store: EventStore, inventory: AssetInventory, ruleset: RuleSet) -> Role:
    prefix = settings.topic_prefix
    processor = EventProcessor(Detector(ruleset), inventory)
    worker = PipelineWorker(processor, bus.producer(), topic_prefix=prefix)
    return Role(
        [
            StageLoop("worker", bus.consumer("soc-worker", [prefix + topics.RAW]), worker.handle, batch=1000),
            StageLoop("indexer", bus.consumer("soc-indexer", [prefix + topics.EVENTS]), EventIndexer(store).handle),
            StageLoop("dlq-indexer", bus.consumer("soc-dlq", [prefix + topics.DLQ]), DeadLetterIndexer(store).handle),
        ]
    )


def alert_sink_role(settings: Settings, bus: Bus, sessions: sessionmaker[Session]) -> Role:
    loop = StageLoop(
        "alert-sink", bus.consumer("soc-alerts", [settings.topic_prefix + topics.ALERTS]), AlertSink(sessions).handle
    )
    return Role([loop])


def wait_for_signal() -> None:
    """Block until SIGINT or SIGTERM."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()


def run_role(name: str, settings: Settings) -> None:
    """Run one distributed role (``collect``, ``worker`` or ``api``) until interrupted."""
    from soc_cli.embedded import serve_api

    settings.ensure_dirs()
    bus = open_bus(settings)
    if name == "collect":
        role, _ = collect_role(settings, bus)
        role.start()
        try:
            wait_for_signal()
        finally:
            role.stop()
    elif name == "worker":
        role = worker_role(settings, bus, open_store(settings), load_inventory(settings), load_rules(settings))
        role.start()
        try:
            wait_for_signal()
        finally:
            role.stop()
    elif name == "api":
        sessions = open_database(settings)
        role = alert_sink_role(settings, bus, sessions)
        role.start()
        try:
            serve_api(settings, open_store(settings), load_rules(settings))
        finally:
            role.stop()
    else:
        raise ConfigError(f"unknown role {name!r}")
