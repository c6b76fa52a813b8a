"""Mute until a time, time-to-consistency and reopen counts on violations.

Existing violations keep their history; resolved ones get their time-to-consistency back-filled
from first_seen and resolved_at.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("violations") as batch:
        batch.add_column(sa.Column("muted_until", sa.DateTime))
        batch.add_column(sa.Column("ttc_seconds", sa.Float))
        batch.add_column(sa.Column("reopen_count", sa.Integer, nullable=False, server_default="0"))
    violations = sa.table("violations", sa.column("id", sa.Integer), sa.column("first_seen", sa.DateTime),
                          sa.column("resolved_at", sa.DateTime),
                          sa.column("ttc_seconds", sa.Float))
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(violations.c.id, violations.c.first_seen, violations.c.resolved_at)
        .where(violations.c.resolved_at.is_not(None))
    ).all()
    for row in rows:
        connection.execute(
            violations.update().where(violations.c.id == row.id)
            .values(ttc_seconds=(row.resolved_at - row.first_seen).total_seconds())
        )


def downgrade() -> None:
    with op.batch_alter_table("violations") as batch:
        batch.drop_column("reopen_count")
        batch.drop_column("ttc_seconds")
        batch.drop_column("muted_until")
