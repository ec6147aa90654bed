"""Schema migrations with Alembic, run on the store's own async engine.

A service upgrades the schema to head when it starts (the embedded default), or, at scale
(``LEADFLOW_MIGRATE_ON_START=false``), only checks it is at head and refuses to start otherwise,
while ``leadflow migrate`` (a Kubernetes Job) upgrades it once. Either way concurrent upgrades
are safe: each takes a database-wide lock first (a PostgreSQL advisory lock; SQLite's write
lock through BEGIN IMMEDIATE), so the second waits and then finds nothing left to do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, MetaData, text
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.errors import FatalConnectorError
from connectors.store.engine import translated

MIGRATIONS = Path(__file__).with_name("migrations")
LOCK_KEY = 0x6C65_6164_666C_6F77  # "leadflow": the advisory lock every migrator takes first


class SchemaOutOfDate(FatalConnectorError):
    """The database is not at the revision this code needs (run `leadflow migrate`)."""


def target_metadata() -> MetaData:
    """Every table in the store's database: the store's own, routing's, the dashboard's ended
    sessions and the local CRM's."""
    from connectors.crm import local  # here: both modules call prepare() from this one
    from connectors.store import routing, sessions, sql

    combined = MetaData()
    for source in (sql.metadata, routing.routing_metadata, sessions.sessions_metadata, local.metadata):
        for table in source.tables.values():
            table.to_metadata(combined)
    return combined


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # "v" first: a module name must not start with a digit.
    config.set_main_option("file_template", "v%%(rev)s_%%(slug)s")
    config.attributes["connection"] = connection
    return config


def head() -> str:
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None, "no migrations shipped"
    return revision


def _revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _lock(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
    elif connection.dialect.name == "sqlite":
        # The driver opens no transaction before DDL; take the write lock now (waits on busy_timeout).
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _upgrade(connection: Connection, revision: str) -> tuple[str | None, str | None]:
    _lock(connection)
    before = _revision(connection)
    try:
        command.upgrade(alembic_config(connection), revision)
    except CommandError as exc:  # e.g. the database is at a revision this version does not know
        raise SchemaOutOfDate(f"cannot upgrade the schema from {before}: {exc}") from exc
    return before, _revision(connection)


@translated
async def upgrade(engine: AsyncEngine, revision: str = "head") -> tuple[str | None, str | None]:
    """Upgrade the schema (in one transaction); returns the revisions before and after."""
    async with engine.begin() as conn:
        return await conn.run_sync(_upgrade, revision)


@translated
async def current(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(_revision)


async def check(engine: AsyncEngine) -> None:
    """Raise SchemaOutOfDate unless the database is at this code's head revision."""
    found, wanted = await current(engine), head()
    if found != wanted:
        raise SchemaOutOfDate(f"database schema at {found or 'nothing'}, this version needs {wanted}: "
                              "run `leadflow migrate`")  # fmt: skip


async def prepare(engine: AsyncEngine, *, migrate: bool) -> None:
    """At start: upgrade to head, or (``migrate=False``) only check the schema is there."""
    if migrate:
        await upgrade(engine)
    else:
        await check(engine)


def _new_revision(connection: Connection, message: str) -> Any:
    number = len(list(ScriptDirectory.from_config(alembic_config()).walk_revisions()))
    return command.revision(
        alembic_config(connection), message, autogenerate=True, rev_id=f"{number + 1:04d}"
    )


async def new_revision(engine: AsyncEngine, message: str) -> Path:
    """For developers: write a revision for what the models changed since head (review it!)."""
    await upgrade(engine)
    async with engine.begin() as conn:
        script = await conn.run_sync(_new_revision, message)
    return Path(script.path)
