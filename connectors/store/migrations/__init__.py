"""Alembic migrations of the store's database (run by connectors.store.migrate)."""
