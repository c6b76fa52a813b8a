"""Alert outbox and deliveries, and each source's health as the checkers last saw it.

The outbox is written in the same transaction as the lifecycle change it announces, so a crash
between the change and the send loses no alert; `notifications` holds each grouped message per
channel with its idempotency key, attempts and next retry. `source_health` lets `/readyz`, the
metrics and the dashboard see a source's back-off from any process.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("violation_id", sa.Integer, nullable=False),
        sa.Column("rule", sa.String(100), nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("event", sa.String(20), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("grouped_at", sa.DateTime),
    )
    op.create_index("ix_alert_outbox_pending", "alert_outbox", ["grouped_at", "rule"])
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
        sa.Column("channel", sa.String(100), nullable=False),
        sa.Column("rule", sa.String(100), nullable=False),
        sa.Column("event", sa.String(20), nullable=False),
        sa.Column("violation_ids", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime, nullable=False),
        sa.Column("sent_at", sa.DateTime),
        sa.Column("last_error", sa.Text),
    )
    op.create_index("ix_notifications_due", "notifications", ["state", "next_attempt_at"])
    op.create_table(
        "source_health",
        sa.Column("source", sa.String(100), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("retry_at", sa.DateTime),
        sa.Column("last_error", sa.Text),
        sa.Column("last_ok_at", sa.DateTime),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("source_health")
    op.drop_index("ix_notifications_due", "notifications")
    op.drop_table("notifications")
    op.drop_index("ix_alert_outbox_pending", "alert_outbox")
    op.drop_table("alert_outbox")
