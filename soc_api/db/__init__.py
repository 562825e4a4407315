"""Alert database: models, engines, and :func:`migrate` (Alembic upgrade to every head)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from soc_api.db.session import make_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    """Alembic configuration built in code (no alembic.ini); scripts live in ``soc_api/migrations``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str) -> None:
    """Upgrade the database at ``url`` to the newest schema (idempotent)."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config(url)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "heads")  # several feature branches may each add a head
    finally:
        engine.dispose()
