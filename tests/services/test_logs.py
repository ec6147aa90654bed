"""The process's log lines: JSON, and without library preambles that say nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.store.engine import make_engine
from connectors.store.sql import SqlStore
from services.logs import configure


async def test_opening_a_new_store_logs_the_migrations_not_alembics_preamble(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configure("info")
    store = SqlStore(make_engine(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"))
    await store.start()
    await store.close()
    events = [json.loads(line)["event"] for line in capsys.readouterr().err.splitlines() if line]
    assert any(e.startswith("Running upgrade  -> 0001") for e in events), events
    assert not [e for e in events if e.startswith(("Context impl", "Will assume"))]
