"""100 leads from webhook to CRM on each bus: all decided and written exactly once; and no log
line of the runs (ours, the libraries', the broker's, the deployed processes') holds an email
address, a phone number, the API token or a secret (tests/logscan.py)."""

from __future__ import annotations

import asyncio
import os
import sys
from contextlib import AsyncExitStack
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from services.demo import sample_leads
from services.settings import Settings
from services.web import create_app
from tests.conftest import CONFIG_DIR
from tests.faults.cluster import Cluster
from tests.integration.helpers import (
    REFUSED_LEAD,
    TOKEN,
    crm_counts,
    env_secrets,
    known_secrets,
    post_all,
    post_refused,
    settings_secrets,
    wait_written,
)
from tests.logscan import LogCapture, capture_logs, known_values
from tests.servers import serve, start_service, tansu_broker

pytestmark = pytest.mark.integration

REQUIRED = ("lead_id", "status", "tier", "score", "reasons", "owner", "briefing", "received_at", "decided_at")


def _known(count: int) -> dict[str, str]:
    """What the log scan looks for by value: the run's leads' emails and phones, and its secrets."""
    return known_values([*sample_leads(count), REFUSED_LEAD], known_secrets())


def _check(results: dict[str, dict[str, object]], db: Path, count: int = 100) -> None:
    assert len(results) == count
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
    settings = Settings(api_token=TOKEN, data_dir=tmp_path, config_dir=CONFIG_DIR, **settings_secrets())
    app = create_app(settings, ("intake", "qualifier", "writer"))
    with capture_logs() as logs:
        async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
            lead_ids = await post_all(client, sample_leads(100))
            await post_refused(client)
            results = await wait_written(client, lead_ids, timeout=60)
    _check(results, tmp_path / "leadflow.db")
    logs.assert_clean(_known(100))


async def test_embedded_as_deployed_logs_nothing_personal_or_secret(tmp_path: Path) -> None:
    """`leadflow run` as its own process, secrets from the environment: its stderr is scanned."""
    log = tmp_path / "leadflow-run.log"

    def command(port: int) -> list[str]:
        return [sys.executable, "-m", "services", "run", "--port", str(port), "--config", str(CONFIG_DIR),
                "--data-dir", str(tmp_path / "data")]  # fmt: skip

    env = {**os.environ, **env_secrets(), "LEADFLOW_API_TOKEN": TOKEN}
    proc, port = await asyncio.to_thread(start_service, command, log, env)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            lead_ids = await post_all(client, sample_leads(30))
            await post_refused(client)
            results = await wait_written(client, lead_ids, timeout=60)
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 30)
    _check(results, tmp_path / "data" / "leadflow.db", count=30)
    logs = LogCapture()
    logs.add_file(log, whole=True)
    text = log.read_text()
    assert '"accepted"' in text and '"request_refused"' in text, text[-2000:]
    logs.assert_clean(_known(30), expect_from=(log.name,))


async def test_kafka_bus_with_a_process_per_service(
    tmp_path: Path, kafka_bootstrap: str, tansu_log: Path
) -> None:
    settings = Settings(
        **settings_secrets(),
        api_token=TOKEN,
        data_dir=tmp_path,
        config_dir=CONFIG_DIR,
        bus="kafka",
        kafka_bootstrap=kafka_bootstrap,
        kafka_idempotence=False,  # Tansu does not support the idempotent producer
        kafka_partitions=3,
        kafka_replication=1,  # one broker
    )
    with capture_logs() as logs:
        logs.add_file(tansu_log)
        async with AsyncExitStack() as stack:
            # As deployed: intake, qualifier and writer each with its own app, adapters and consumer group.
            urls = [await stack.enter_async_context(serve(create_app(settings, (role,)))) for role in
                    ("qualifier", "writer", "intake")]  # fmt: skip
            client = await stack.enter_async_context(httpx.AsyncClient(base_url=urls[-1], timeout=10))
            lead_ids = await post_all(client, sample_leads(100))
            await post_refused(client)
            # Generous: joining a consumer group on Tansu takes a few seconds.
            results = await wait_written(client, lead_ids, timeout=120)
    _check(results, tmp_path / "leadflow.db")
    logs.assert_clean(_known(100))


async def test_kafka_services_as_deployed_log_nothing_personal_or_secret(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Intake, qualifier and writer each its own process on Kafka and PostgreSQL, secrets in the
    environment: their stderr and the broker's log are scanned, for the database password too."""
    for name, value in env_secrets().items():
        monkeypatch.setenv(name, value)  # Cluster hands its processes this environment
    with tansu_broker(tmp_path / "tansu.log") as bootstrap:
        cluster = Cluster(tmp_path, bootstrap, postgres_url)
        try:
            await cluster.start_all("qualifier", "writer", "intake")
            async with httpx.AsyncClient(base_url=cluster.url(), timeout=10) as client:
                lead_ids = await post_all(client, sample_leads(30))
                await post_refused(client)
                await wait_written(client, lead_ids, timeout=120)
        finally:
            cluster.close()
    logs = LogCapture()
    for path in (tmp_path / "tansu.log", *(service.log for service in cluster.services.values())):
        logs.add_file(path, whole=True)
    password = urlsplit(postgres_url).password
    assert password
    logs.assert_clean(
        {**_known(30), "database password": password},
        expect_from=("intake.log", "qualifier.log", "writer.log"),
    )
