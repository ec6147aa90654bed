"""Alembic migrations on SQLite and PostgreSQL: head matches the models, upgrades keep data,
concurrent upgrades are safe, and a service can be told to check instead of upgrade."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from connectors.crm.local import LocalCrm, records
from connectors.store import migrate
from connectors.store.engine import make_engine
from connectors.store.migrate import SchemaOutOfDate
from connectors.store.sql import SqlStore
from services.cli import app


@pytest.fixture
async def engine(database_url: str) -> Any:
    engine = make_engine(database_url)
    yield engine
    await engine.dispose()


def _diff(connection: Connection) -> Any:
    return compare_metadata(MigrationContext.configure(connection), migrate.target_metadata())


async def test_the_head_revision_is_what_the_models_describe(engine: AsyncEngine) -> None:
    assert await migrate.upgrade(engine) == (None, migrate.head())
    async with engine.connect() as conn:
        assert await conn.run_sync(_diff) == []  # autogenerate would write an empty revision


async def test_concurrent_upgrades_from_separate_engines_run_once(database_url: str) -> None:
    engines = [make_engine(database_url) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate.upgrade(e) for e in engines))
    finally:
        for e in engines:
            await e.dispose()
    head = migrate.head()
    assert sorted(results, key=str) == sorted([(None, head), *[(head, head)] * 3], key=str)


def _downgrade(connection: Connection, revision: str) -> None:
    command.downgrade(migrate.alembic_config(connection), revision)


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_the_ended_sessions_revision_downgrades_and_upgrades_again(engine: AsyncEngine) -> None:
    await migrate.upgrade(engine)
    async with engine.begin() as conn:
        await conn.run_sync(_downgrade, "0005")
        assert "dashboard_sessions_ended" not in await conn.run_sync(_tables)
    assert await migrate.current(engine) == "0005"
    assert await migrate.upgrade(engine) == ("0005", "0007")
    async with engine.connect() as conn:
        assert await conn.run_sync(_diff) == []


async def test_upgrading_from_the_baseline_keeps_the_records(engine: AsyncEngine) -> None:
    await migrate.upgrade(engine, "0001")
    async with engine.begin() as conn:
        await conn.execute(records.insert().values(lead_id="L", name="Ana", locked=False, writes=1))
    await migrate.upgrade(engine)
    long_name = "A" * 200 + " " + "B" * 200  # did not fit the baseline's 400 on PostgreSQL
    async with engine.begin() as conn:
        await conn.execute(records.insert().values(lead_id="M", name=long_name, locked=False, writes=1))
        rows = dict((await conn.execute(text("SELECT lead_id, name FROM crm_records"))).all())
    assert rows == {"L": "Ana", "M": long_name}


async def test_upgrading_to_the_company_key_fills_it_for_existing_records(engine: AsyncEngine) -> None:
    # Records written before revision 0005 have no key: the account lookup, which reads only
    # the key, would no longer find their companies unless the upgrade fills it.
    await migrate.upgrade(engine, "0004")
    async with engine.begin() as conn:
        for lead_id, company in [("L", "The Lowe's Companies, Inc."), ("M", "acme.com"), ("N", None)]:
            await conn.execute(
                text("INSERT INTO crm_records (lead_id, company, locked, writes) VALUES (:l, :c, false, 1)"),
                {"l": lead_id, "c": company},
            )
    await migrate.upgrade(engine)
    async with engine.connect() as conn:
        keys = dict((await conn.execute(text("SELECT lead_id, company_key FROM crm_records"))).all())
    assert keys == {"L": "lowes", "M": "acme", "N": None}


async def test_a_database_made_before_migrations_is_adopted(engine: AsyncEngine) -> None:
    # What create_all made before Alembic: the baseline's tables, with data, and no version table.
    await migrate.upgrade(engine, "0001")
    async with engine.begin() as conn:
        await conn.execute(text("DROP TABLE alembic_version"))
        await conn.execute(records.insert().values(lead_id="L", name="Ana", locked=False, writes=3))
    assert await migrate.current(engine) is None
    await migrate.upgrade(engine)
    assert await migrate.current(engine) == migrate.head()
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT writes FROM crm_records"))).scalar_one() == 3
        assert await conn.run_sync(_diff) == []


async def test_a_service_told_not_to_migrate_refuses_an_old_schema(engine: AsyncEngine) -> None:
    with pytest.raises(SchemaOutOfDate, match="run `leadflow migrate`"):
        await SqlStore(engine, migrate=False).start()
    with pytest.raises(SchemaOutOfDate):
        await LocalCrm(engine, migrate=False).start()
    await migrate.upgrade(engine)
    await SqlStore(engine, migrate=False).start()
    await LocalCrm(engine, migrate=False).start()


def test_leadflow_migrate_upgrades_once_and_checks(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADFLOW_DATABASE_URL", database_url)
    runner = CliRunner()
    check = runner.invoke(app, ["migrate", "--check"])
    assert check.exit_code == 1 and f"schema at nothing, latest {migrate.head()}" in check.output
    first = runner.invoke(app, ["migrate"])
    assert first.exit_code == 0 and f"schema upgraded nothing -> {migrate.head()}" in first.output
    again = runner.invoke(app, ["migrate"])
    assert again.exit_code == 0 and f"schema at {migrate.head()}" in again.output
    assert runner.invoke(app, ["migrate", "--check"]).exit_code == 0


def test_leadflow_migrate_names_an_unreachable_database_without_its_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEADFLOW_DATABASE_URL", "postgresql+asyncpg://leadflow:s3cret@127.0.0.1:1/leadflow")
    result = CliRunner().invoke(app, ["migrate"])
    assert result.exit_code == 1
    assert "ConnectionRefusedError" in result.output and "s3cret" not in result.output
