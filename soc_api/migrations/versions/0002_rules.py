"""Rule health: per-worker rule counters and log sources seen (soc_api.db.rule_models).

Revision ID: 0002_rules
Revises: 0002_workflow
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002_rules"
down_revision: str | None = "0002_workflow"
branch_labels: str | None = None
depends_on: str | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "rule_health",
        sa.Column("worker", sa.String(100), nullable=False),
        sa.Column("rule_id", sa.String(255), nullable=False),
        sa.Column("evaluated", sa.BigInteger(), nullable=False),
        sa.Column("hits", sa.BigInteger(), nullable=False),
        sa.Column("last_evaluated", _TS, nullable=True),
        sa.Column("last_fired", _TS, nullable=True),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("worker", "rule_id", name="pk_rule_health"),
    )
    op.create_index("ix_rule_health_rule_id", "rule_health", ["rule_id"])
    op.create_table(
        "rule_logsources_seen",
        sa.Column("worker", sa.String(100), nullable=False),
        sa.Column("label", sa.String(255), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("worker", "label", name="pk_rule_logsources_seen"),
    )


def downgrade() -> None:
    op.drop_table("rule_logsources_seen")
    op.drop_index("ix_rule_health_rule_id", table_name="rule_health")
    op.drop_table("rule_health")
