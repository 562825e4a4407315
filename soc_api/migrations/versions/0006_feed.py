"""National feed: STIX object versions served over TAXII 2.1, the push outbox, and the
"share with the national centre" flag of incidents.

Revision ID: 0006_feed
Revises: 0005_playbook_steps
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006_feed"
down_revision: str | None = "0005_playbook_steps"
branch_labels: str | None = None
depends_on: str | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("incidents", sa.Column("share_national", sa.Boolean(), server_default=sa.false(), nullable=False))

    op.create_table(
        "feed_objects",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("stix_id", sa.String(128), nullable=False),
        sa.Column("stix_type", sa.String(64), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("incident_id", sa.String(32), nullable=True),
        sa.Column("date_added", _TS, nullable=False),
        sa.Column("object", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_feed_objects"),
        sa.UniqueConstraint("stix_id", "version", name="uq_feed_objects_version"),
    )
    for col in ("stix_id", "stix_type", "incident_id", "date_added"):
        op.create_index(f"ix_feed_objects_{col}", "feed_objects", [col])

    op.create_table(
        "feed_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(32), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=False),
        sa.Column("bundle_id", sa.String(64), nullable=False),
        sa.Column("bundle_sha256", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _TS, nullable=True),
        sa.Column("last_attempt_at", _TS, nullable=True),
        sa.Column("last_error", sa.String(1000), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("sent_at", _TS, nullable=True),
        sa.Column("ack_id", sa.String(255), nullable=True),
        sa.Column("ack_body", sa.Text(), nullable=True),
        sa.Column("acknowledged_at", _TS, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.CheckConstraint("status IN ('pending', 'sent', 'acknowledged', 'failed')", name="ck_feed_outbox_status"),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_feed_outbox_incident_id_incidents", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"], ["recipients.id"], name="fk_feed_outbox_recipient_id_recipients", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_feed_outbox"),
        sa.UniqueConstraint("idempotency_key", name="uq_feed_outbox_idempotency_key"),
        sa.UniqueConstraint("incident_id", "recipient_id", "bundle_sha256", name="uq_feed_outbox_version"),
    )
    op.create_index("ix_feed_outbox_incident_id", "feed_outbox", ["incident_id"])
    op.create_index("ix_feed_outbox_recipient_id", "feed_outbox", ["recipient_id"])
    op.create_index("ix_feed_outbox_due", "feed_outbox", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_table("feed_outbox")
    op.drop_table("feed_objects")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("share_national")
