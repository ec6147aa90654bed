from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.servers import postgres_database, postgres_server, tansu_broker

ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = ROOT / "deploy" / "config"


@pytest.fixture(scope="session")
def tansu_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the session's broker writes its output (the end-to-end log scan reads it)."""
    return tmp_path_factory.mktemp("tansu") / "tansu.log"


@pytest.fixture(scope="session")
def kafka_bootstrap(tansu_log: Path) -> Iterator[str]:
    """A real Kafka-protocol broker (Tansu) for the whole session."""
    with tansu_broker(tansu_log) as bootstrap:
        yield bootstrap


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A real PostgreSQL for the whole session, started on first use. It fails the tests that
    need it, never skips them, when PostgreSQL is missing or will not start."""
    with postgres_server() as url:
        yield url


@pytest.fixture
async def postgres_url(postgres_server_url: str) -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    async with postgres_database(postgres_server_url) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty store database, once as a SQLite file and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    else:
        async with postgres_database(request.getfixturevalue("postgres_server_url")) as url:
            yield url


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`make test` runs the suite on several xdist workers (most tests wait on brokers, not on
    the CPU). The multi-process fault and integration tests each keep to one worker, so no two
    of one kind fight for the machine's cores and miss their bounds; their guard against a hang
    is wider than the default (a loaded two-core machine starts a dozen Pythons slowly)."""
    for item in items:
        part = item.path.relative_to(ROOT / "tests").parts[0]
        if part in ("faults", "integration"):
            item.add_marker(pytest.mark.xdist_group(part))
            if item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(480))
