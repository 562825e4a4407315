"""Alert context: why an alert fired beyond its rule (an anomaly model's score and top features).

Revision ID: 0007_alert_context
Revises: 0006_feed
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007_alert_context"
down_revision: str | None = "0006_feed"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("alerts", sa.Column("context", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("alerts", "context")
