"""Alembic migrations of the alert database (run through :func:`soc_api.db.migrate`)."""
