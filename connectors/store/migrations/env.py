"""Alembic environment: migrations run on the connection connectors.store.migrate hands in."""

from __future__ import annotations

from alembic import context

from connectors.store.migrate import target_metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("run migrations with `leadflow migrate`, not the alembic command")

context.configure(
    connection=connection,
    target_metadata=target_metadata(),
    render_as_batch=True,  # SQLite alters a table by copying it; autogenerate writes that form
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
