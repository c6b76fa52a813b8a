"""Alembic environment: Concord always passes its own connection, so no alembic.ini is needed."""

from alembic import context

from concord.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
