"""Periodic summary (Mẫu 05): drafts per reporting period, and sendings of a period.

``summary_reports`` keeps the analyst's draft of the half-year / annual summary, keyed by period
(``2026-H1``, ``2026-H2``, ``2026``). A sending may now belong to a period instead of an incident:
``sendings.incident_id`` becomes nullable, ``sendings.period`` is added, and a check constraint
requires exactly one of the two.

Revision ID: 0004_summary
Revises: 0003_counts
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004_summary"
down_revision: str | None = "0003_counts"
branch_labels: str | None = None
depends_on: str | None = None

_TS = sa.DateTime(timezone=True)
_SUBJECT = "(incident_id IS NULL) <> (period IS NULL)"


def upgrade() -> None:
    op.create_table(
        "summary_reports",
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("draft", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_by", sa.String(100), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("period", name="pk_summary_reports"),
    )
    # batch: SQLite rebuilds the table (it cannot alter a column's nullability in place).
    with op.batch_alter_table("sendings") as batch:
        batch.alter_column("incident_id", existing_type=sa.String(32), nullable=True)
        batch.add_column(sa.Column("period", sa.String(7), nullable=True))
        batch.create_check_constraint("ck_sendings_subject", _SUBJECT)
        batch.create_index("ix_sendings_period", ["period"])


def downgrade() -> None:
    op.execute("DELETE FROM sendings WHERE incident_id IS NULL")
    with op.batch_alter_table("sendings") as batch:
        batch.drop_index("ix_sendings_period")
        batch.drop_constraint("ck_sendings_subject", type_="check")
        batch.drop_column("period")
        batch.alter_column("incident_id", existing_type=sa.String(32), nullable=False)
    op.drop_table("summary_reports")
