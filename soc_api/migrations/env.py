"""Alembic environment: runs on the connection handed over by :func:`soc_api.db.migrate`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import soc_api.db.models
import soc_api.db.rule_models
import soc_api.db.workflow_models  # noqa: F401 - workflow tables (migration 0002_workflow)
from soc_api.db.base import Base
from soc_api.db.session import make_engine

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: run migrations through soc_api.db.migrate(url)")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    context.configure(url=context.config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
