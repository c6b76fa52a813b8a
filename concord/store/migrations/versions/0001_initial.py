"""The first schema: runs, violations, their events, and per-rule watermarks."""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("rule", sa.String(100), nullable=False),
        sa.Column("scope", sa.String(20), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("window_start", sa.DateTime),
        sa.Column("window_end", sa.DateTime),
        sa.Column("rows_checked", sa.Integer, nullable=False, server_default="0"),
        sa.Column("findings", sa.Integer, nullable=False, server_default="0"),
        sa.Column("opened", sa.Integer, nullable=False, server_default="0"),
        sa.Column("resolved", sa.Integer, nullable=False, server_default="0"),
        sa.Column("reopened", sa.Integer, nullable=False, server_default="0"),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_runs_rule_started", "runs", ["rule", "started_at"])
    op.create_table(
        "violations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("fingerprint", sa.String(24), nullable=False, unique=True),
        sa.Column("rule", sa.String(100), nullable=False),
        sa.Column("key_text", sa.Text, nullable=False),
        sa.Column("key_display", sa.String(500), nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("first_seen", sa.DateTime, nullable=False),
        sa.Column("last_seen", sa.DateTime, nullable=False),
        sa.Column("resolved_at", sa.DateTime),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("occurrences", sa.Integer, nullable=False, server_default="1"),
        sa.Column("last_run_id", sa.Integer),
    )
    op.create_index("ix_violations_rule_status", "violations", ["rule", "status"])
    op.create_index("ix_violations_status_last_seen", "violations", ["status", "last_seen"])
    op.create_table(
        "violation_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("violation_id", sa.Integer, sa.ForeignKey("violations.id"), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("from_status", sa.String(16)),
        sa.Column("to_status", sa.String(16)),
        sa.Column("note", sa.Text),
        sa.Column("run_id", sa.Integer),
    )
    op.create_index("ix_violation_events_violation_id", "violation_events", ["violation_id"])
    op.create_table(
        "watermarks",
        sa.Column("rule", sa.String(100), primary_key=True),
        sa.Column("value", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    for table in ("watermarks", "violation_events", "violations", "runs"):
        op.drop_table(table)
