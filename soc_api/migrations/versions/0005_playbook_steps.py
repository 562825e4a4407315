"""Tasks seeded from response playbooks: ``incident_tasks.playbook_step`` (the step key, NULL for
tasks added by hand), unique per incident so a step is never seeded twice.

Revision ID: 0005_playbook_steps
Revises: 0004_summary
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005_playbook_steps"
down_revision: str | None = "0004_summary"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("incident_tasks") as batch:
        batch.add_column(sa.Column("playbook_step", sa.String(64), nullable=True))
        batch.create_unique_constraint("uq_incident_tasks_playbook_step", ["incident_id", "playbook_step"])


def downgrade() -> None:
    with op.batch_alter_table("incident_tasks") as batch:
        batch.drop_constraint("uq_incident_tasks_playbook_step", type_="unique")
        batch.drop_column("playbook_step")
