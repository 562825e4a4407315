"""Analyst and unit workflow: alert grouping/risk columns, suppressions, comments, incidents with
alerts/tasks/observables/timeline/attachments, unit reports, recipients and sendings, password
hashes and session tokens, and the hash chain of the audit log (existing entries are chained).

Revision ID: 0002_workflow
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0002_workflow"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

_TS = sa.DateTime(timezone=True)
GENESIS = "0" * 64

_SQLITE_TRIGGERS = (
    """CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
       BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""",
)


def _ck(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _canonical_hash(prev_hash: str, seq: int, at: datetime, row: Any) -> str:
    # Same definition as soc_api.crud.audit.entry_hash, copied so this migration stays fixed.
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    detail = row.detail if isinstance(row.detail, dict) else json.loads(row.detail or "{}")
    doc = {
        "seq": seq,
        "at": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor": row.actor,
        "action": row.action,
        "object_type": row.object_type,
        "object_id": row.object_id,
        "detail": detail,
    }
    body = json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def _chain_existing_audit_entries(dialect: str) -> str:
    bind = op.get_bind()
    rows = bind.execute(
        sa.text("SELECT id, at, actor, action, object_type, object_id, detail FROM audit_log ORDER BY id")
    ).all()
    prev = GENESIS
    if not rows:
        return prev
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
    elif dialect == "postgresql":
        op.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change")
    for seq, row in enumerate(rows, start=1):
        at = row.at if isinstance(row.at, datetime) else datetime.fromisoformat(str(row.at))
        digest = _canonical_hash(prev, seq, at, row)
        bind.execute(
            sa.text("UPDATE audit_log SET seq = :seq, prev_hash = :prev, hash = :hash WHERE id = :id"),
            {"seq": seq, "prev": prev, "hash": digest, "id": row.id},
        )
        prev = digest
    if dialect == "sqlite":
        op.execute(_SQLITE_TRIGGERS[0])
    elif dialect == "postgresql":
        op.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_change")
    return prev


def upgrade() -> None:
    dialect = op.get_bind().dialect.name

    # --- existing tables -------------------------------------------------------------------
    op.add_column("alerts", sa.Column("group_seq", sa.Integer(), server_default="0", nullable=False))
    op.add_column("alerts", sa.Column("security_level", sa.Integer(), nullable=True))
    op.add_column("alerts", sa.Column("ti_hits", sa.Integer(), server_default="0", nullable=False))
    op.add_column("alerts", sa.Column("risk_score", sa.Integer(), server_default="0", nullable=False))
    op.create_index("ix_alerts_risk_score", "alerts", ["risk_score"])
    op.drop_index("uq_alerts_open_dedup_key", table_name="alerts")
    op.create_index(
        "uq_alerts_open_dedup_key_group",
        "alerts",
        ["dedup_key", "group_seq"],
        unique=True,
        sqlite_where=sa.text("status != 'closed'"),
        postgresql_where=sa.text("status != 'closed'"),
    )
    op.add_column("users", sa.Column("password_hash", sa.String(255), nullable=True))
    op.add_column("api_tokens", sa.Column("kind", sa.String(16), server_default="api", nullable=False))
    op.add_column("audit_log", sa.Column("seq", sa.Integer(), nullable=True))
    op.add_column("audit_log", sa.Column("prev_hash", sa.String(64), nullable=True))
    op.add_column("audit_log", sa.Column("hash", sa.String(64), nullable=True))
    op.create_index("uq_audit_log_seq", "audit_log", ["seq"], unique=True)

    # --- new tables ------------------------------------------------------------------------
    op.create_table(
        "suppressions",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("rule_id", sa.String(255), nullable=False),
        sa.Column("entity", sa.JSON(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(1000), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=True),
        sa.Column("source_alert_id", sa.String(32), nullable=True),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("hit_count", sa.Integer(), nullable=False),
        sa.Column("last_hit_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_suppressions"),
    )
    op.create_index("ix_suppressions_rule_id", "suppressions", ["rule_id"])
    op.create_index("ix_suppressions_expires_at", "suppressions", ["expires_at"])

    op.create_table(
        "comments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("object_type", sa.String(16), nullable=False),
        sa.Column("object_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("reply_to", sa.Integer(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.CheckConstraint(_ck("kind", ("comment", "request", "response")), name="ck_comments_kind"),
        sa.CheckConstraint(_ck("object_type", ("alert", "incident")), name="ck_comments_object_type"),
        sa.PrimaryKeyConstraint("id", name="pk_comments"),
    )
    op.create_index("ix_comments_object", "comments", ["object_type", "object_id"])

    op.create_table(
        "incidents",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("incident_type", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("impacts", sa.JSON(), nullable=False),
        sa.Column("owner_can_handle", sa.Boolean(), nullable=False),
        sa.Column("security_level", sa.Integer(), nullable=True),
        sa.Column("priority", sa.String(2), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("unit_code", sa.String(64), nullable=True),
        sa.Column("assignee", sa.String(100), nullable=True),
        sa.Column("detected_at", _TS, nullable=False),
        sa.Column("merged_into", sa.String(32), nullable=True),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("closed_at", _TS, nullable=True),
        sa.Column("forms", sa.JSON(), nullable=False),
        sa.CheckConstraint(_ck("severity", ("normal", "serious")), name="ck_incidents_severity"),
        sa.CheckConstraint(_ck("priority", ("P1", "P2", "P3", "P4")), name="ck_incidents_priority"),
        sa.CheckConstraint(
            _ck("status", ("open", "investigating", "contained", "resolved", "closed", "merged")),
            name="ck_incidents_status",
        ),
        sa.CheckConstraint(_ck("source", ("alerts", "report", "manual")), name="ck_incidents_source"),
        sa.PrimaryKeyConstraint("id", name="pk_incidents"),
    )
    for col in ("incident_type", "priority", "status", "unit_code", "detected_at"):
        op.create_index(f"ix_incidents_{col}", "incidents", [col])

    op.create_table(
        "incident_alerts",
        sa.Column("incident_id", sa.String(32), nullable=False),
        sa.Column("alert_id", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_incident_alerts_incident_id_incidents", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name="fk_incident_alerts_alert_id_alerts", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("incident_id", "alert_id", name="pk_incident_alerts"),
    )
    op.create_index("ix_incident_alerts_alert_id", "incident_alerts", ["alert_id"])

    op.create_table(
        "incident_tasks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(32), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("owner", sa.String(100), nullable=True),
        sa.Column("due_at", _TS, nullable=True),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("done_at", _TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_incident_tasks_incident_id_incidents", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_incident_tasks"),
    )
    op.create_index("ix_incident_tasks_incident_id", "incident_tasks", ["incident_id"])

    op.create_table(
        "incident_observables",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(32), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("value", sa.String(2048), nullable=False),
        sa.Column("note", sa.String(1000), nullable=True),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.CheckConstraint(
            _ck("type", ("ip", "domain", "url", "hash", "account", "host")), name="ck_incident_observables_type"
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name="fk_incident_observables_incident_id_incidents",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_incident_observables"),
        sa.UniqueConstraint("incident_id", "type", "value", name="uq_incident_observables_item"),
    )
    op.create_index("ix_incident_observables_incident_id", "incident_observables", ["incident_id"])
    op.create_index("ix_incident_observables_type_value", "incident_observables", ["type", "value"])

    op.create_table(
        "incident_timeline",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(32), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("summary", sa.String(1000), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_incident_timeline_incident_id_incidents", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_incident_timeline"),
    )
    op.create_index("ix_incident_timeline_incident_id", "incident_timeline", ["incident_id"])

    op.create_table(
        "incident_attachments",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("incident_id", sa.String(32), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_by", sa.String(100), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name="fk_incident_attachments_incident_id_incidents",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_incident_attachments"),
    )
    op.create_index("ix_incident_attachments_incident_id", "incident_attachments", ["incident_id"])
    op.create_index("ix_incident_attachments_sha256", "incident_attachments", ["sha256"])

    op.create_table(
        "unit_reports",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("unit_code", sa.String(64), nullable=False),
        sa.Column("incident_id", sa.String(32), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_unit_reports_incident_id_incidents", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_unit_reports"),
    )
    op.create_index("ix_unit_reports_unit_code", "unit_reports", ["unit_code"])
    op.create_index("ix_unit_reports_incident_id", "unit_reports", ["incident_id"])

    op.create_table(
        "recipients",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("address", sa.String(1000), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.CheckConstraint(_ck("channel", ("api_push", "taxii", "email", "manual")), name="ck_recipients_channel"),
        sa.PrimaryKeyConstraint("id", name="pk_recipients"),
        sa.UniqueConstraint("code", name="uq_recipients_code"),
    )

    op.create_table(
        "sendings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(32), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=False),
        sa.Column("form_kind", sa.String(16), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("note", sa.String(1000), nullable=True),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.CheckConstraint(_ck("status", ("pending", "sent", "acknowledged", "failed")), name="ck_sendings_status"),
        sa.CheckConstraint(_ck("form_kind", ("mau03", "end_report", "mau05")), name="ck_sendings_form_kind"),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_sendings_incident_id_incidents", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"], ["recipients.id"], name="fk_sendings_recipient_id_recipients", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_sendings"),
    )
    op.create_index("ix_sendings_incident_id", "sendings", ["incident_id"])
    op.create_index("ix_sendings_recipient_id", "sendings", ["recipient_id"])

    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_chain_head"),
    )
    last = _chain_existing_audit_entries(dialect)
    count = op.get_bind().execute(sa.text("SELECT COUNT(*) FROM audit_log")).scalar_one()
    op.get_bind().execute(
        sa.text("INSERT INTO audit_chain_head (id, seq, last_hash) VALUES (1, :seq, :hash)"),
        {"seq": count, "hash": last},
    )


def downgrade() -> None:
    for table in (
        "audit_chain_head",
        "sendings",
        "recipients",
        "unit_reports",
        "incident_attachments",
        "incident_timeline",
        "incident_observables",
        "incident_tasks",
        "incident_alerts",
        "incidents",
        "comments",
        "suppressions",
    ):
        op.drop_table(table)
    op.drop_index("uq_audit_log_seq", table_name="audit_log")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("kind")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("password_hash")
    op.drop_index("uq_alerts_open_dedup_key_group", table_name="alerts")
    op.drop_index("ix_alerts_risk_score", table_name="alerts")
    with op.batch_alter_table("alerts") as batch:
        for col in ("risk_score", "ti_hits", "security_level", "group_seq"):
            batch.drop_column(col)
    op.create_index(
        "uq_alerts_open_dedup_key",
        "alerts",
        ["dedup_key"],
        unique=True,
        sqlite_where=sa.text("status != 'closed'"),
        postgresql_where=sa.text("status != 'closed'"),
    )
    # audit_log keeps its chain columns on downgrade: dropping them would mean rewriting an
    # append-only table.
