"""Application factory of the SOC API (``soc api`` and ``soc up`` serve what it builds)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

import soc_core
from soc_api import handlers
from soc_api.db import migrate
from soc_api.db.session import make_engine, make_sessionmaker
from soc_api.deps import RulesProvider
from soc_api.feed import outbox
from soc_api.feed.push import PushWorker
from soc_api.feed.stix import FeedConfig
from soc_api.middleware import MAX_BODY_BYTES, BodySizeLimit
from soc_api.routes import (
    alerts,
    auth,
    feed,
    health,
    incidents,
    ops,
    playbooks,
    recipients,
    reports,
    rules,
    summaries,
    suppressions,
    taxii,
    ui,
    users,
)
from soc_api.routes import audit as audit_routes
from soc_api.services import playbooks as playbook_service
from soc_api.services.config import WorkflowConfig, load_workflow_config
from soc_core.settings import Settings
from soc_core.stores import EventStore

API_PREFIX = "/api/v1"
_STATIC = Path(__file__).resolve().parent / "static"


def create_app(
    settings: Settings,
    *,
    event_store: EventStore,
    rules_provider: RulesProvider | None = None,
    workflow: WorkflowConfig | None = None,
) -> FastAPI:
    """Build the API: migrates the database at ``settings.db_url()`` to head, then wires the routes."""
    if settings.database_url is None:
        settings.ensure_dirs()
    url = settings.db_url()
    migrate(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    outbox.install(sessions, FeedConfig.from_settings(settings))  # shareable changes enqueue the feed

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # The national feed sender, when configured (feed_push_interval_seconds > 0).
        pusher = PushWorker(sessions, settings) if settings.feed_push_interval_seconds > 0 else None
        if pusher is not None:
            pusher.start()
        try:
            yield
        finally:
            if pusher is not None:
                pusher.stop()
            engine.dispose()

    app = FastAPI(
        title="Provincial SOC API",
        version=soc_core.__version__,
        description="Alerts, rules and users of the provincial SOC. Authenticate with `Authorization: Bearer <token>`.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = sessions
    app.state.event_store = event_store
    app.state.rules_provider = rules_provider
    app.state.workflow = workflow or load_workflow_config(settings.data_dir)
    playbook_service.check(app.state.workflow)  # every incident type has a playbook, deadlines exist

    handlers.install(app)

    api = APIRouter(prefix=API_PREFIX)
    for module in (
        health,
        alerts,
        rules,
        users,
        ops,
        auth,
        incidents,
        reports,
        suppressions,
        recipients,
        summaries,
        playbooks,
        audit_routes,
        feed,
    ):
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(taxii.router)
    app.include_router(ui.router)
    app.include_router(ops.metrics_router)
    app.mount("/static", StaticFiles(directory=_STATIC), name="static")
    app.add_middleware(BodySizeLimit, max_bytes=MAX_BODY_BYTES)
    return app
