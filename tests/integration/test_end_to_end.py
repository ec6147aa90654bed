"""100 leads from webhook to CRM on each bus: all decided and written exactly once."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest

from services.demo import sample_leads
from services.settings import Settings
from services.web import create_app
from tests.conftest import CONFIG_DIR
from tests.integration.helpers import TOKEN, crm_counts, post_all, wait_written
from tests.servers import serve

pytestmark = pytest.mark.integration

REQUIRED = ("lead_id", "status", "tier", "score", "reasons", "owner", "briefing", "received_at", "decided_at")


def _check(results: dict[str, dict[str, object]], db: Path) -> None:
    assert len(results) == 100
    for lead in results.values():
        assert all(key in lead for key in REQUIRED)
        assert lead["status"] in {"qualified", "potential", "unqualified", "insufficient_info"}
        assert lead["owner"] or lead["queue"]
        assert lead["reasons"] and lead["briefing"]
    assert {lead["status"] for lead in results.values()} >= {"qualified", "unqualified", "insufficient_info"}
    # The judgment and the enrichment, with who said what, are in the lead view.
    qualified = next(lead for lead in results.values() if lead["status"] == "qualified")
    assert qualified["icp"]["status"] == "yes" and qualified["icp"]["matched"]
    assert qualified["persona"]["matched"] and qualified["fit"] in {"A", "B"}
    assert {f["factor"] for f in qualified["factors"]} >= {"icp", "persona", "engagement"}
    enrichment = qualified["enrichment"]
    assert enrichment["title"]["seniority"] and enrichment["email"]["valid_syntax"]
    providers = {p["provider"] for p in enrichment["provenance"].values()}
    assert {"lead", "email", "title"} <= providers
    assert all(
        call["outcome"] in {"ok", "empty", "cached", "skipped", "timeout", "error"}
        for call in enrichment["calls"]
    )
    writes, notes = crm_counts(db)
    assert writes == dict.fromkeys(results, 1)
    assert notes == dict.fromkeys(results, 1)


async def test_embedded_sqlite_bus(tmp_path: Path) -> None:
    settings = Settings(api_token=TOKEN, data_dir=tmp_path, config_dir=CONFIG_DIR)
    app = create_app(settings, ("intake", "qualifier", "writer"))
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
        lead_ids = await post_all(client, sample_leads(100))
        results = await wait_written(client, lead_ids, timeout=60)
    _check(results, tmp_path / "leadflow.db")


async def test_kafka_bus_with_a_process_per_service(tmp_path: Path, kafka_bootstrap: str) -> None:
    settings = Settings(
        api_token=TOKEN,
        data_dir=tmp_path,
        config_dir=CONFIG_DIR,
        bus="kafka",
        kafka_bootstrap=kafka_bootstrap,
        kafka_idempotence=False,  # Tansu does not support the idempotent producer
        kafka_partitions=3,
        kafka_replication=1,  # one broker
    )
    async with AsyncExitStack() as stack:
        # As deployed: intake, qualifier and writer each with its own app, adapters and consumer group.
        urls = [await stack.enter_async_context(serve(create_app(settings, (role,)))) for role in
                ("qualifier", "writer", "intake")]  # fmt: skip
        client = await stack.enter_async_context(httpx.AsyncClient(base_url=urls[-1], timeout=10))
        lead_ids = await post_all(client, sample_leads(100))
        # Generous: joining a consumer group on Tansu takes a few seconds.
        results = await wait_written(client, lead_ids, timeout=120)
    _check(results, tmp_path / "leadflow.db")
