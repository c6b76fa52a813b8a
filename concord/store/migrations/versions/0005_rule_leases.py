"""Leases that let several checkers share rules: one holder per rule, a generation that fences writes, and
heartbeats so each checker takes its fair share."""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rule_leases",
        sa.Column("rule", sa.String(100), primary_key=True),
        sa.Column("owner", sa.String(120), nullable=False),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "checkers",
        sa.Column("owner", sa.String(120), primary_key=True),
        sa.Column("heartbeat_at", sa.DateTime, nullable=False),
    )
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("owner", sa.String(120)))


def downgrade() -> None:
    op.drop_table("checkers")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("owner")
    op.drop_table("rule_leases")
