"""Requalify: records read page by page through a CrmReader (the local CRM; the Salesforce fake
through simple-salesforce), locked ones skipped, each published once as a LeadReceived; accounts get
an ICP status. The CLI end to end on the embedded store."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.bus.memory import MemoryBus
from connectors.crm.local import LocalCrm
from connectors.crm.reader import Selection
from connectors.store.engine import make_engine
from connectors.store.sql import SqlStore
from schemas.events import TOPIC_RECEIVED, LeadReceived
from services.cli import app
from services.config import load_config
from services.intake.publish import Publisher
from services.requalify import requalify_accounts, requalify_records
from tests.conftest import CONFIG_DIR
from tests.connectors.crm.salesforce_fixture import salesforce_harness
from tests.connectors.crm.test_salesforce import routed

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


async def _store(tmp_path: Path) -> SqlStore:
    store = SqlStore(make_engine(f"sqlite+aiosqlite:///{tmp_path / 'leadflow.db'}"))
    await store.start()
    return store


async def test_local_records_are_published_once_and_locked_ones_skipped(tmp_path: Path) -> None:
    store = await _store(tmp_path)
    crm = LocalCrm(store.engine)
    await crm.start()
    for n in range(1, 6):
        await crm.write(routed(n))
    await crm.lock("lead-3")
    bus = MemoryBus()
    publisher = Publisher(bus, store)
    pages: list[int] = []
    counts = await requalify_records(
        crm, publisher, Selection(since=datetime(2000, 1, 1, tzinfo=UTC)), config_version="v1", now=NOW,
        page_size=2, progress=lambda c: pages.append(c.read),
    )  # fmt: skip
    assert (counts.read, counts.published, counts.locked, counts.duplicates) == (5, 4, 1, 0)
    assert pages == [2, 4, 5]  # progress after each bounded page
    events = [LeadReceived.model_validate_json(v) for v in bus.values(TOPIC_RECEIVED)]
    assert sorted(e.lead_id for e in events) == ["lead-1", "lead-2", "lead-4", "lead-5"]
    assert all(e.event_id.startswith("requalify:local:lead-") for e in events)
    again = await requalify_records(
        crm, publisher, Selection(ids=("lead-1", "lead-2")), config_version="v1", now=NOW
    )
    assert (again.published, again.duplicates) == (0, 2)  # a repeat run publishes nothing
    newer = await requalify_records(crm, publisher, Selection(ids=("lead-1",)), config_version="v2", now=NOW)
    assert newer.published == 1  # new rules: requalified
    await publisher.close()
    await store.close()


async def test_salesforce_leads_and_accounts_through_the_fake(tmp_path: Path) -> None:
    store = await _store(tmp_path)
    config = load_config(CONFIG_DIR)
    async with salesforce_harness() as h:
        h.fake.query_batch = 3
        for i in range(7):
            h.fake.add(
                "Lead",
                LastName=f"L{i}",
                Email=f"l{i}@acme.example",
                Company="Acme",
                Leadflow_Locked__c=i == 0,
            )
        account = h.fake.add(
            "Account", Name="Acme Logistics", Industry="Logistics", NumberOfEmployees=150, BillingCountry="ES"
        )
        bus = MemoryBus()
        publisher = Publisher(bus, store)
        counts = await requalify_records(
            h.crm, publisher, Selection(query="Company = 'Acme'"), config_version=config.version,
            now=NOW, page_size=2,
        )  # fmt: skip
        await publisher.close()
        assert (counts.read, counts.published, counts.locked) == (7, 6, 1)
        events = [LeadReceived.model_validate_json(v) for v in bus.values(TOPIC_RECEIVED)]
        assert {e.lead.source for e in events} == {"salesforce"}
        assert all(e.lead.source_record_id and e.lead.source_record_id.startswith("00Q") for e in events)
        fits = await requalify_accounts(h.crm, Selection(ids=(account,)), config.icp)
        [row] = fits.accounts
        assert row["icp"] == "yes" and fits.published == 1
        assert h.fake.objects["Account"][account]["Leadflow_ICP_Status__c"] == "yes"
    await store.close()


def test_the_cli_requalifies_the_local_crm(tmp_path: Path) -> None:
    async def two_records() -> None:
        store = await _store(tmp_path)
        crm = LocalCrm(store.engine)
        await crm.start()
        await crm.write(routed(1))
        await crm.write(routed(2))
        await store.close()

    asyncio.run(two_records())
    runner = CliRunner()
    args = ["requalify", "--crm", "local", "--ids", "lead-1,lead-2", "--data-dir", str(tmp_path),
            "--config", str(CONFIG_DIR), "--json"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout[result.stdout.index("{") :])
    assert (body["read"], body["published"]) == (2, 2)
    again = runner.invoke(app, args)
    assert json.loads(again.stdout[again.stdout.index("{") :])["duplicates"] == 2
    both = runner.invoke(app, ["requalify", "--crm", "local", "--ids", "x", "--since", "2026-01-01"])
    assert both.exit_code != 0
    # --since alone (no --ids) is one selection: the unset --ids must not count as a second.
    since = ["requalify", "--crm", "local", "--since", "2000-01-01", "--data-dir", str(tmp_path),
             "--config", str(CONFIG_DIR), "--json"]  # fmt: skip
    by_date = runner.invoke(app, since)
    assert by_date.exit_code == 0, by_date.output
    assert json.loads(by_date.stdout[by_date.stdout.index("{") :])["read"] == 2
    # A query the local CRM cannot run: one line saying so, exit 2, no traceback.
    query = ["requalify", "--crm", "local", "--query", "Status = 'Open'", "--data-dir", str(tmp_path),
             "--config", str(CONFIG_DIR)]  # fmt: skip
    refused = runner.invoke(app, query)
    assert refused.exit_code == 2, refused.output
    assert "not a query" in refused.output and "Traceback" not in refused.output
    assert not isinstance(refused.exception, ValueError)


async def test_post_v1_requalify_does_what_the_cli_does_for_a_crm_workflow(tmp_path: Path) -> None:
    import httpx

    from services.bootstrap import bootstrap
    from services.settings import Settings
    from services.web import create_app
    from tests.servers import serve

    store = await _store(tmp_path)
    crm = LocalCrm(store.engine)
    await crm.start()
    for n in (1, 2, 3):
        await crm.write(routed(n))
    await crm.lock("lead-3")
    await store.close()
    settings = Settings(api_token="t", data_dir=tmp_path, config_dir=CONFIG_DIR)
    bus = MemoryBus()
    app = create_app(settings, ("intake",), build=lambda: bootstrap(settings, bus=bus))
    auth = {"Authorization": "Bearer t"}
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        body = {"crm": "local", "ids": ["lead-1", "lead-2", "lead-3"]}
        first = await client.post("/v1/requalify", json=body, headers=auth)
        assert first.status_code == 200, first.text
        assert first.json() == {"crm": "local", "read": 3, "published": 2, "duplicates": 0, "locked": 1,
                                "truncated": False}  # fmt: skip
        events = [LeadReceived.model_validate_json(v) for v in bus.values(TOPIC_RECEIVED)]
        assert sorted(e.lead_id for e in events) == ["lead-1", "lead-2"]  # on the bus when answered
        again = await client.post("/v1/requalify", json=body, headers=auth)
        assert (again.json()["published"], again.json()["duplicates"]) == (0, 2)
        since = {"crm": "local", "since": "2000-01-01T00:00:00Z", "limit": 1}
        assert (await client.post("/v1/requalify", json=since, headers=auth)).json()["truncated"] is True
        for wrong, says in [
            ({"crm": "local", "ids": ["lead-1"], "since": "2026-01-01T00:00:00Z"}, "exactly one of"),
            ({"crm": "pipedrive", "ids": ["x"]}, "'crm' is one of"),
            ({"crm": "hubspot", "ids": ["1"]}, "LEADFLOW_HUBSPOT_TOKEN"),  # no credentials here
            ({"crm": "local", "ids": ["x"], "limit": 0}, "'limit'"),
            ({"crm": "local", "query": "email = 'a'"}, "not a query"),  # was a 500 (a ValueError)
        ]:
            refused = await client.post("/v1/requalify", json=wrong, headers=auth)
            assert (refused.status_code, refused.json()["error"]) == (400, "malformed"), wrong
            assert says in refused.json()["detail"], refused.json()
        assert (await client.post("/v1/requalify", json=body)).status_code == 401


def test_requalify_from_a_crm_without_credentials_names_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The demo config writes to the local CRM: the message must not blame crm.yaml for HubSpot.
    for variable in ("HUBSPOT_TOKEN", "SALESFORCE_INSTANCE_URL", "SALESFORCE_TOKEN",
                     "SALESFORCE_USERNAME", "SALESFORCE_PASSWORD"):  # fmt: skip
        monkeypatch.delenv(f"LEADFLOW_{variable}", raising=False)
    where = ["--data-dir", str(tmp_path), "--config", str(CONFIG_DIR)]
    for crm, needed in (("hubspot", "LEADFLOW_HUBSPOT_TOKEN"), ("salesforce", "LEADFLOW_SALESFORCE_TOKEN")):
        args = ["requalify", "--crm", crm, "--ids", "801", *where]
        refused = CliRunner().invoke(app, args)
        assert refused.exit_code == 2, refused.output
        assert needed in refused.output and "crm.yaml" not in refused.output


def test_the_cli_logs_json_lines_as_the_services_do(tmp_path: Path) -> None:
    # Without configure() its log lines were structlog's console lines, past the PII redaction.
    async def one_record() -> None:
        store = await _store(tmp_path)
        crm = LocalCrm(store.engine)
        await crm.start()
        await crm.write(routed(1))
        await store.close()

    asyncio.run(one_record())
    command = [sys.executable, "-m", "services", "requalify", "--crm", "local", "--ids", "lead-1",
               "--data-dir", str(tmp_path), "--config", str(CONFIG_DIR)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    logged = [line for line in done.stderr.splitlines() if not line.startswith("read ")]  # progress
    events = [json.loads(line)["event"] for line in logged]
    assert "accepted" in events
