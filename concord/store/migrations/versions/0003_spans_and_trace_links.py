"""Spans, the business-key index over them, file offsets, cached remote searches, and trace links on violations."""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("violations") as batch:
        batch.add_column(sa.Column("trace_ids", sa.Text))
        batch.add_column(sa.Column("hint", sa.Text))
    op.create_table(
        "spans",
        sa.Column("trace_id", sa.String(32), primary_key=True),
        sa.Column("span_id", sa.String(16), primary_key=True),
        sa.Column("parent_span_id", sa.String(16)),
        sa.Column("service", sa.String(200), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("kind", sa.Integer, nullable=False),
        sa.Column("start_ns", sa.BigInteger, nullable=False),
        sa.Column("end_ns", sa.BigInteger, nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("status_message", sa.Text),
        sa.Column("attributes", sa.Text, nullable=False),
        sa.Column("events", sa.Text, nullable=False),
        sa.Column("received_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_spans_received_at", "spans", ["received_at"])
    op.create_table(
        "span_keys",
        sa.Column("attribute", sa.String(100), primary_key=True),
        sa.Column("value", sa.String(200), primary_key=True),
        sa.Column("trace_id", sa.String(32), primary_key=True),
        sa.Column("received_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "collector_offsets",
        sa.Column("path", sa.String(500), primary_key=True),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("inode", sa.String(40)),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "remote_trace_searches",
        sa.Column("backend", sa.String(200), primary_key=True),
        sa.Column("query", sa.String(500), primary_key=True),
        sa.Column("trace_ids", sa.Text, nullable=False),
        sa.Column("searched_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    for table in ("remote_trace_searches", "collector_offsets", "span_keys", "spans"):
        op.drop_table(table)
    with op.batch_alter_table("violations") as batch:
        batch.drop_column("hint")
        batch.drop_column("trace_ids")
