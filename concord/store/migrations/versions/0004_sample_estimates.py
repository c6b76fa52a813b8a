"""Sampled runs record how many rows they drew, how many failed, and the 95% interval of the rate."""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("sampled", sa.Integer))
        batch.add_column(sa.Column("sample_failing", sa.Integer))
        batch.add_column(sa.Column("rate_low", sa.Float))
        batch.add_column(sa.Column("rate_high", sa.Float))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        for name in ("rate_high", "rate_low", "sample_failing", "sampled"):
            batch.drop_column(name)
