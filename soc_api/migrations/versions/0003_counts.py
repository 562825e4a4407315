"""Reconciliation counts folded from ``soc.counts`` (soc_core.counts.counts_table).

The table is defined in :mod:`soc_core.counts` because the pipeline side writes the same rows and
must not import the API package; this migration creates it with that one definition, so the API
database is fully described by Alembic. ``ensure_table`` stays as a no-op once this has run.

Revision ID: 0003_counts
Revises: 0002_rules
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

from soc_core.counts import counts_table

revision: str = "0003_counts"
down_revision: str | None = "0002_rules"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    counts_table.create(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    counts_table.drop(op.get_bind(), checkfirst=True)
