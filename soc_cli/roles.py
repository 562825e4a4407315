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
from detections.models import AnomalyDetector, load_model
from detections.sigma import RuleSet
from pipeline.enrich import AssetInventory, Enricher, GeoIP, ThreatIntel
from pipeline.indexer import DeadLetterIndexer, EventIndexer
from pipeline.parsers.text import set_log_timezone
from pipeline.reconcile import (
    COUNTS_TOPIC,
    CountBuffer,
    CountedProcessor,
    CountingProducer,
    CountingStore,
    CountsEmitter,
    CountsFold,
)
from pipeline.rule_stats import RULE_STATS
from pipeline.worker import EventProcessor, PipelineWorker
from soc_api.db import migrate
from soc_api.db.session import make_engine, make_sessionmaker
from soc_api.feed.outbox import install as install_feed
from soc_api.feed.stix import FeedConfig
from soc_api.sink import ingest_detections
from soc_cli.instrument import CountedPublisher
from soc_cli.rules_roles import active_paths, placeholders_of, rule_stats_sink, worker_detector
from soc_core import serde, topics
from soc_core.adapters.kafka_common import KafkaBusBase
from soc_core.bus import Bus, Message
from soc_core.embedded.sqlite_bus import SqliteBus
from soc_core.embedded.sqlite_events import SqliteEventStore
from soc_core.errors import BusError, ConfigError, StoreUnavailable
from soc_core.metrics import MetricsServer
from soc_core.models import Detection
from soc_core.settings import Settings
from soc_core.stage import StageLoop
from soc_core.stores import EventStore

log = logging.getLogger(__name__)

DEMO_ASSETS = Path(__file__).resolve().parent.parent / "soc_demo" / "assets.yml"
DEMO_THREAT_INTEL = Path(__file__).resolve().parent.parent / "soc_demo" / "threat_intel.csv"


class Component(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


def open_bus(settings: Settings) -> Bus:
    """Embedded: the SQLite bus in the data dir. Distributed: Kafka at ``settings.kafka_bootstrap``
    through the adapter of ``settings.kafka_client``.

    The roles prefix topic names themselves (``settings.topic_prefix``); the Kafka adapter prefixes
    consumer groups with it, so two deployments (or tests) sharing a cluster never share a group.
    """
    if settings.mode == "embedded":
        return SqliteBus(settings.data_dir / "bus.db")
    return open_kafka_bus(
        settings.kafka_client,
        settings.kafka_bootstrap,
        topic_prefix="",
        group_prefix=settings.topic_prefix,
        client_id=f"soc-{settings.topic_prefix or 'main'}",
        session_timeout_ms=settings.kafka_session_timeout_ms,
    )


def open_kafka_bus(client: str, bootstrap: str, **kwargs: Any) -> KafkaBusBase:
    """The Kafka bus of ``client`` (``settings.kafka_client``): ``"kafka-python"`` or ``"confluent"``.

    ``kwargs`` go to the bus (:class:`KafkaBusBase`). The adapter module, and with it its client
    library, is imported only here.
    """
    if client == "confluent":
        from soc_core.adapters.confluent_bus import ConfluentBus

        return ConfluentBus(bootstrap, **kwargs)
    if client == "kafka-python":
        from soc_core.adapters.kafka_bus import KafkaBus

        return KafkaBus(bootstrap, **kwargs)
    raise ConfigError(f"unknown Kafka client {client!r}: expected 'kafka-python' or 'confluent'")


def ensure_topics(settings: Settings, bus: Bus) -> None:
    """Distributed mode: create the topics with the configured partitions and retention."""
    if not isinstance(bus, KafkaBusBase):
        return
    names = (*topics.ALL, COUNTS_TOPIC, RULE_STATS)
    partitions = {settings.topic_prefix + t: settings.topic_partitions.get(t, 1) for t in names}
    retention = {
        settings.topic_prefix + t: settings.topic_retention_hours[t] * 3_600_000
        for t in names
        if t in settings.topic_retention_hours
    }
    bus.ensure_topics(partitions, retention)


def open_store(settings: Settings) -> EventStore:
    """Embedded: the SQLite event store. Distributed: Elasticsearch at ``settings.elasticsearch_url``."""
    if settings.mode == "embedded":
        return SqliteEventStore(settings.data_dir / "events.db")
    from soc_core.adapters.es_store import ElasticsearchEventStore

    return ElasticsearchEventStore(
        settings.elasticsearch_url,
        index_prefix=settings.es_index_prefix,
        retention_days=settings.retention_days_by_level,
    )


def open_database(settings: Settings) -> sessionmaker[Session]:
    settings.ensure_dirs()
    url = settings.db_url()
    migrate(url)
    sessions = make_sessionmaker(make_engine(url))
    install_feed(sessions, FeedConfig.from_settings(settings))  # incident changes here feed the outbox too
    return sessions


def load_inventory(settings: Settings, *, demo: bool = False) -> AssetInventory:
    if settings.assets_file is not None:
        return AssetInventory.load(settings.assets_file)
    if demo:
        return AssetInventory.load(DEMO_ASSETS)
    return AssetInventory.empty()


def load_enrichers(settings: Settings, *, demo: bool = False) -> list[Enricher]:
    """Threat intel (``threat_intel_paths``, the demo feed with ``demo``) then GeoIP, as configured."""
    enrichers: list[Enricher] = []
    paths = list(settings.threat_intel_paths) or ([DEMO_THREAT_INTEL] if demo else [])
    if paths:
        enrichers.append(ThreatIntel.load(paths))
    geo = GeoIP.open(settings.geoip_city_db, settings.geoip_asn_db, fallback_country=settings.geoip_fallback_country)
    if geo.active:
        enrichers.append(geo)
    return enrichers


def load_rules(settings: Settings) -> RuleSet:
    # project rules + sets imported by `soc rules import`, placeholders from `sigma_placeholders`
    ruleset = RuleSet.load(active_paths(settings), placeholders=placeholders_of(settings))
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


def _counts_emitter(settings: Settings, bus: Bus, buffer: CountBuffer, role: str) -> CountsEmitter:
    return CountsEmitter(bus.producer(), buffer, topic=settings.topic_prefix + COUNTS_TOPIC, role=role)


def collect_role(settings: Settings, bus: Bus) -> tuple[Role, SyslogServer]:
    prefix = settings.topic_prefix
    counted = CountBuffer()
    publisher: Publisher = CountedPublisher(
        bus.producer(),
        spool_dir=settings.data_dir / "spool",
        counts=counted,
        raw_topic=prefix + topics.RAW,
        dlq_topic=prefix + topics.DLQ,
    )
    syslog = SyslogServer(
        publisher, host=settings.syslog_host, port=settings.syslog_port, max_message=settings.syslog_max_message
    )
    # stopped last: the final counts go out after the publishers flushed
    role = Role([_counts_emitter(settings, bus, counted, "collect"), _PublisherFlush(publisher), syslog])
    if settings.tail:
        specs = [TailSpec(Path(t["path"]), t.get("format", "auto"), t.get("unit")) for t in settings.tail]
        tail_publisher = CountedPublisher(
            bus.producer(),
            spool_dir=settings.data_dir / "spool-tail",
            counts=counted,
            raw_topic=prefix + topics.RAW,
            dlq_topic=prefix + topics.DLQ,
        )
        role.components.append(_PublisherFlush(tail_publisher))
        role.components.append(FileTailer(specs, tail_publisher, state_path=settings.data_dir / "tail-state.json"))
    if settings.pcap_interfaces:
        from collectors.pcap_live import LiveCaptureSource  # pyshark only where capture is configured

        role.components.append(
            LiveCaptureSource(
                publisher,
                settings.pcap_interfaces,
                bpf_filter=settings.pcap_bpf_filter,
                flow_interval=settings.pcap_flow_interval_seconds,
            )
        )
    return role, syslog


def load_anomaly_detectors(settings: Settings) -> list[AnomalyDetector]:
    """One streaming :class:`AnomalyDetector` per ``settings.anomaly_models`` file (ModelError if unusable)."""
    return [
        AnomalyDetector(
            load_model(Path(p)), max_open=settings.anomaly_max_open_windows, min_events=settings.anomaly_min_events
        )
        for p in settings.anomaly_models
    ]


def worker_role(
    settings: Settings,
    bus: Bus,
    store: EventStore,
    inventory: AssetInventory,
    ruleset: RuleSet,
    *,
    enrichers: Sequence[Enricher] = (),
) -> Role:
    prefix = settings.topic_prefix
    counted, pending = CountBuffer(), CountBuffer()
    detector, rule_stats = worker_detector(settings, bus, ruleset)  # enabled rules only; per-rule statistics
    models = load_anomaly_detectors(settings)  # scored after the rules, same batch
    processor: EventProcessor = CountedProcessor(
        detector, inventory, pending=pending, enrichers=enrichers, models=models
    )
    producer = CountingProducer(bus.producer(), pending, counted)
    worker = PipelineWorker(processor, producer, topic_prefix=prefix)
    counting = CountingStore(store, counted)
    return Role(
        [
            _counts_emitter(settings, bus, counted, "worker"),
            rule_stats,
            StageLoop("worker", bus.consumer("soc-worker", [prefix + topics.RAW]), worker.handle, batch=1000),
            StageLoop("indexer", bus.consumer("soc-indexer", [prefix + topics.EVENTS]), EventIndexer(counting).handle),
            StageLoop(
                "dlq-indexer", bus.consumer("soc-dlq", [prefix + topics.DLQ]), DeadLetterIndexer(counting).handle
            ),
        ]
    )


def alert_sink_role(settings: Settings, bus: Bus, sessions: sessionmaker[Session]) -> Role:
    loop = StageLoop(
        "alert-sink", bus.consumer("soc-alerts", [settings.topic_prefix + topics.ALERTS]), AlertSink(sessions).handle
    )
    engine = sessions.kw["bind"]
    fold = StageLoop(
        "counts-fold", bus.consumer("soc-counts", [settings.topic_prefix + COUNTS_TOPIC]), CountsFold(engine).handle
    )
    return Role([loop, fold, rule_stats_sink(settings, bus, sessions)])


def wait_for_signal() -> None:
    """Block until SIGINT or SIGTERM."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()


def _health(role: Role) -> dict[str, Any]:
    """``ok`` while every stage loop's thread runs; per stage: processed, failures, lag."""
    stages: dict[str, Any] = {}
    healthy = True
    for c in role.components:
        if isinstance(c, StageLoop):
            alive = c._thread is not None and c._thread.is_alive()
            healthy &= alive
            lag = getattr(c.consumer, "lag", {})
            stages[c.name] = {
                "running": alive,
                "processed": c.processed,
                "failures": c.failures,
                "lag": sum(lag.values()),
                "partitions": sorted(f"{topic}:{partition}" for topic, partition in lag),  # ever read from
                "assigned": sorted(f"{t}:{p}" for t, p in getattr(c.consumer, "assigned", ())),  # owned now
            }
        elif isinstance(c, _PublisherFlush):
            stages.setdefault("publishers", []).append({"spooling": c.publisher.spooling, **c.publisher.stats})
    return {"status": "ok" if healthy else "degraded", "stages": stages}


class PruneJob:
    """Distributed api role: deletes event indices past their security level's retention, hourly."""

    def __init__(self, store: EventStore, interval: float = 3600.0) -> None:
        self.store = store
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        prune = getattr(self.store, "prune", None)
        while prune is not None and not self._stop.is_set():
            try:
                for name in prune():
                    log.info("retention: deleted index %s", name)
            except Exception as exc:
                log.warning("retention job failed, retrying later: %s", exc)
            self._stop.wait(self.interval)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="prune", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()


def _serve_until_signal(settings: Settings, name: str, role: Role) -> None:
    metrics = MetricsServer(settings.metrics_host, settings.metrics_port, lambda: _health(role))
    role.start()
    metrics.start()
    log.info("%s role running; metrics and health on http://%s:%d/", name, settings.metrics_host, metrics.port)
    try:
        wait_for_signal()
    finally:
        metrics.stop()
        role.stop()


def run_role(name: str, settings: Settings) -> None:
    """Run one distributed role (``collect``, ``worker`` or ``api``) until interrupted."""
    from soc_cli.embedded import serve_api

    settings.ensure_dirs()
    set_log_timezone(settings.log_timezone)
    bus = open_bus(settings)
    if name == "collect":
        try:
            ensure_topics(settings, bus)
        except BusError as exc:  # the collector must accept records even with Kafka down: it spools
            log.warning("cannot create topics now (%s); collecting and spooling anyway", exc)
        role, _ = collect_role(settings, bus)
        _serve_until_signal(settings, name, role)
    elif name == "worker":
        ensure_topics(settings, bus)
        inventory, enrichers = load_inventory(settings), load_enrichers(settings)
        role = worker_role(settings, bus, open_store(settings), inventory, load_rules(settings), enrichers=enrichers)
        _serve_until_signal(settings, name, role)
    elif name == "api":
        ensure_topics(settings, bus)
        sessions = open_database(settings)  # runs the Alembic migrations
        store = open_store(settings)
        role = alert_sink_role(settings, bus, sessions)
        role.components.append(PruneJob(store))
        role.start()
        try:
            serve_api(settings, store, load_rules(settings))
        finally:
            role.stop()
    else:
        raise ConfigError(f"unknown role {name!r}")
