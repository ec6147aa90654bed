"""As deployed at scale: intake, qualifier and writer each with its own app on Kafka (Tansu) and
one PostgreSQL store; 100 leads from webhook to CRM, all decided and written exactly once."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from services.demo import sample_leads
from services.settings import Settings
from services.web import create_app
from tests.conftest import CONFIG_DIR
from tests.integration.crm_store import crm_counts_in, decisions_per_event
from tests.integration.helpers import TOKEN, post_all, wait_written
from tests.servers import serve

pytestmark = pytest.mark.integration


async def test_kafka_and_postgresql_with_an_app_per_service(
    tmp_path: Path, kafka_bootstrap: str, postgres_url: str
) -> None:
    settings = Settings(
        api_token=TOKEN,
        data_dir=tmp_path,
        config_dir=CONFIG_DIR,
        bus="kafka",
        kafka_bootstrap=kafka_bootstrap,
        kafka_idempotence=False,  # Tansu does not support the idempotent producer
        kafka_partitions=3,
        kafka_replication=1,
        database_url=SecretStr(postgres_url),
    )
    async with AsyncExitStack() as stack:
        urls = [await stack.enter_async_context(serve(create_app(settings, (role,)))) for role in
                ("qualifier", "writer", "intake")]  # fmt: skip
        client = await stack.enter_async_context(httpx.AsyncClient(base_url=urls[-1], timeout=10))
        lead_ids = await post_all(client, sample_leads(100))
        results = await wait_written(client, lead_ids, timeout=120)  # joining a group on Tansu: seconds
    assert len(results) == 100
    assert {lead["status"] for lead in results.values()} >= {"qualified", "unqualified", "insufficient_info"}
    assert all(lead["owner"] or lead["queue"] for lead in results.values())
    writes, notes = await crm_counts_in(postgres_url)
    assert writes == dict.fromkeys(results, 1) and notes == dict.fromkeys(results, 1)
    assert await decisions_per_event(postgres_url) == dict.fromkeys(results, 1)
    sqlite_files = await asyncio.to_thread(lambda: list(tmp_path.glob("*.db")))
    assert not sqlite_files, "nothing may fall back to SQLite"
