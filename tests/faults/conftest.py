from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.faults.cluster import Cluster
from tests.servers import tansu_broker


@pytest.fixture
async def cluster(tmp_path: Path, postgres_url: str) -> AsyncIterator[Cluster]:
    """A broker of this test's own (a kill leaves uncommitted work no other test may see), a fresh
    PostgreSQL database, and no service running yet."""
    with tansu_broker(tmp_path / "tansu.log") as bootstrap:
        cluster = Cluster(tmp_path, bootstrap, postgres_url)
        try:
            yield cluster
        finally:
            cluster.close()
