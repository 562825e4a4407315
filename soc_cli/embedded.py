"""`soc up`: every role in one process on the embedded bus and stores, plus demo data and the banner."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta

import uvicorn

from collectors.files import iter_file_records
from collectors.publisher import Publisher
from detections.sigma import RuleSet
from pipeline.parsers.text import set_log_timezone
from soc_api.app import create_app
from soc_api.crud import audit
from soc_api.crud.units import sync_units
from soc_api.crud.users import create_user
from soc_cli.roles import (
    Role,
    alert_sink_role,
    collect_role,
    load_enrichers,
    load_inventory,
    load_rules,
    open_bus,
    open_database,
    open_store,
    rules_provider,
    worker_role,
)
from soc_cli.rules_roles import rule_catalog
from soc_core import topics
from soc_core.bus import Bus
from soc_core.errors import ConfigError
from soc_core.models import DeadLetter
from soc_core.settings import Settings
from soc_core.stores import EventStore
from soc_demo.events import FORMATS

log = logging.getLogger(__name__)

TOKEN_FILE = "admin.token"  # noqa: S105 - a file name, not a secret


def add_user(settings: Settings, name: str, role: str, unit: str | None, *, password: str | None = None) -> str:
    sessions = open_database(settings)
    if settings.assets_file is not None:
        inventory = load_inventory(settings)
        with sessions() as session:
            sync_units(session, [(u.code, u.name, u.parent) for u in inventory.units.values()])
            session.commit()
    with sessions() as session:
        try:
            user, token = create_user(session, name, role, unit, password=password)
            audit.record(
                session,
                actor="cli",
                action="user.create",
                object_type="user",
                object_id=str(user.id),
                detail={"name": user.name, "role": user.role, "unit": user.unit_code, "password": password is not None},
            )
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        session.commit()
    return token


def _admin_token(settings: Settings) -> str:
    """The bootstrap admin token: created on first start, kept in a 0600 file in the data dir."""
    path = settings.data_dir / TOKEN_FILE
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    token = add_user(settings, "admin", "admin", None)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token + "\n")
    return token


def ingest_demo(settings: Settings, bus: Bus) -> int:
    """Generate the demo logs once and publish them; ids are stable, so a repeat is harmless."""
    from soc_demo.generator import generate

    demo_dir = settings.data_dir / "demo"
    marker = demo_dir / ".published"
    if marker.exists():
        return 0
    # Recent timestamps, so the demo looks like the last two hours (whole minutes: deterministic per run).
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
    generate(demo_dir, start=start)
    publisher = Publisher(
        bus.producer(),
        spool_dir=settings.data_dir / "spool-demo",
        raw_topic=settings.topic_prefix + topics.RAW,
        dlq_topic=settings.topic_prefix + topics.DLQ,
    )
    n = 0
    for name, fmt in FORMATS.items():
        path = demo_dir / name
        if not path.exists():
            continue
        for item in iter_file_records(path, format=fmt, unit=None):
            if isinstance(item, DeadLetter):
                publisher.dead_letter(item)
            else:
                publisher.publish(item)
                n += 1
    publisher.close()
    marker.write_text(str(n), encoding="utf-8")
    return n


def _demo_model(settings: Settings) -> None:
    """``soc up --demo``: train the anomaly model on the demo's benign background (once, <1 s) and use it."""
    from soc_cli.models_cmd import train_demo_model

    path = settings.data_dir / "models" / "demo-baseline.skops"
    if not path.exists():
        model = train_demo_model(path)
        log.info("demo anomaly model trained on %d benign windows: %s", model.meta.training_rows, path)
    if path not in settings.anomaly_models:
        settings.anomaly_models = [*settings.anomaly_models, path]


def serve_api(settings: Settings, store: EventStore, ruleset: RuleSet) -> None:
    app = create_app(settings, event_store=store, rules_provider=rules_provider(ruleset))
    app.state.rule_catalog = rule_catalog(settings, store, ruleset)  # rule health, enable/disable, retro-hunt
    config = uvicorn.Config(app, host=settings.api_host, port=settings.api_port, log_level="warning", access_log=False)
    uvicorn.Server(config).run()


def _banner(settings: Settings, token: str, syslog_udp: int | None, syslog_tcp: int | None, demo_records: int) -> str:
    url = f"http://{settings.api_host}:{settings.api_port}"
    lines = [
        "",
        "SOC tỉnh Thanh Hóa — embedded mode is running / đang chạy",
        f"  Web UI:        {url}/",
        f"  API:           {url}/api/v1/alerts   (OpenAPI: {url}/docs)",
        f"  Admin token:   {token}",
        f"                 (stored in {settings.data_dir / TOKEN_FILE}; use: Authorization: Bearer <token>)",
        f"  Syslog:        udp://{settings.syslog_host}:{syslog_udp}  tcp://{settings.syslog_host}:{syslog_tcp}",
        f"  Data:          {settings.data_dir.resolve()}",
    ]
    if demo_records:
        lines.append(f"  Demo:          {demo_records} sample records published; alerts appear within seconds")
    lines.append(f"  Try:           curl -H 'Authorization: Bearer {token}' {url}/api/v1/alerts")
    return "\n".join(lines) + "\n"


def run_embedded(settings: Settings, *, demo: bool = False) -> None:
    settings.ensure_dirs()
    set_log_timezone(settings.log_timezone)
    bus = open_bus(settings)
    store = open_store(settings)
    sessions = open_database(settings)
    inventory = load_inventory(settings, demo=demo)
    enrichers = load_enrichers(settings, demo=demo)  # threat intel (demo feed with --demo), GeoIP
    with sessions() as session:
        sync_units(session, [(u.code, u.name, u.parent) for u in inventory.units.values()])
        session.commit()
    token = _admin_token(settings)
    ruleset = load_rules(settings)
    if demo:
        _demo_model(settings)

    collect, syslog = collect_role(settings, bus)
    roles: list[Role] = [
        worker_role(settings, bus, store, inventory, ruleset, enrichers=enrichers),
        alert_sink_role(settings, bus, sessions),
        collect,
    ]
    for role in roles:
        role.start()
    try:
        demo_records = ingest_demo(settings, bus) if demo else 0
        print(_banner(settings, token, syslog.udp_port, syslog.tcp_port, demo_records), flush=True)
        serve_api(settings, store, ruleset)
    finally:
        for role in reversed(roles):
            role.stop()
        print("SOC stopped / đã dừng.", flush=True)


__all__ = ["add_user", "ingest_demo", "run_embedded", "serve_api"]
