"""GDPR: after a pipeline run, `leadflow forget --email` (and POST /v1/forget) leaves no trace of
one person in the store, the local CRM or the embedded bus; the others stay; the logs only ever
carried the person's hash and lead id, which the command prints for purging."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from schemas.lead import lead_id_for, pii_hash
from services.cli import app as cli
from services.demo import sample_leads
from services.logs import configure
from services.settings import Settings
from services.web import create_app
from tests.conftest import CONFIG_DIR
from tests.integration.helpers import AUTH, TOKEN, post_all, wait_written
from tests.servers import serve

pytestmark = pytest.mark.integration

ZOE = {
    "email": "Zoe.Quist@acme-logistics.com",
    "phone": "+34 611 222 333",
    "first_name": "Zoe",
    "last_name": "Quist",
    "title": "Head of Operations",
    "company": {"name": "Acme Logistics", "domain": "acme-logistics.com", "employees": 150,
                "industry": "Logistics", "country": "ES"},
    "message": "Call me at +34 611 222 333 or write to zoe.quist@acme-logistics.com",
}  # fmt: skip
YUKI = {"email": "yuki_t@example-freight.com", "company": {"name": "Example Freight"}}


def everything(db: Path) -> str:
    """Every row of every table, as text: where a person could still hide."""
    with sqlite3.connect(db) as conn:
        tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        rows = [repr(row) for t in tables for row in conn.execute(f'SELECT * FROM "{t}"')]  # noqa: S608
    return "\n".join(rows).lower()


async def test_forget_removes_one_person_everywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    configure("info")
    settings = Settings(api_token=TOKEN, data_dir=tmp_path, config_dir=CONFIG_DIR)
    others = sample_leads(10, seed=3)
    async with (
        serve(create_app(settings, ("intake", "qualifier", "writer"))) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as client,
    ):
        # With an Idempotency-Key, so that the intake also keeps a dedupe claim for Zoe.
        posted = await client.post("/v1/leads", json=ZOE, headers={**AUTH, "Idempotency-Key": "zoe-1"})
        assert posted.status_code == 202
        zoe = posted.json()["lead_id"]
        yuki = (await client.post("/v1/leads", json=YUKI, headers=AUTH)).json()["lead_id"]
        other_ids = await post_all(client, others)
        await wait_written(client, [zoe, yuki, *other_ids], timeout=60)
        assert "zoe.quist@acme-logistics.com" in everything(tmp_path / "leadflow.db")
        assert "zoe.quist@acme-logistics.com" in everything(tmp_path / "bus.db")

        # The API equivalent, for Yuki (whose address has a LIKE wildcard in it: `_`).
        response = await client.post("/v1/forget", json={"email": YUKI["email"]}, headers=AUTH)
        assert response.status_code == 200, response.text
        assert response.json()["lead_ids"] == [yuki]
        assert (await client.get(f"/v1/leads/{yuki}", headers=AUTH)).status_code == 404
        assert (await client.post("/v1/forget", json={"email": YUKI["email"]})).status_code == 401

    monkeypatch.setenv("LEADFLOW_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LEADFLOW_CONFIG_DIR", str(CONFIG_DIR))
    # In a thread: the command runs its own event loop, as from a shell.
    args = ["forget", "--email", "ZOE.QUIST@acme-logistics.com", "--json"]
    result = await asyncio.to_thread(CliRunner().invoke, cli, args)
    assert result.exit_code == 0, result.output
    done = json.loads(result.stdout)
    assert done["lead_ids"] == [zoe] == [lead_id_for("zoe.quist@acme-logistics.com")]
    assert done["pii_hash"] == pii_hash("zoe.quist@acme-logistics.com")
    assert done["leads"] == 1 and done["decisions"] == 1 and done["inbound_claims"] == 1
    assert done["bus_messages"] >= 2  # leads.received and leads.routed
    assert done["crm"] == "local"

    store, bus = everything(tmp_path / "leadflow.db"), everything(tmp_path / "bus.db")
    for trace in ("zoe.quist@acme-logistics.com", "quist", zoe, "yuki_t@", yuki):
        assert trace not in store, trace
        assert trace not in bus, trace
    with sqlite3.connect(tmp_path / "leadflow.db") as conn:
        assert conn.execute("SELECT count(*) FROM leads").fetchone()[0] == len(set(other_ids))
        assert conn.execute("SELECT count(*) FROM crm_records").fetchone()[0] == len(set(other_ids))

    # The logs: Zoe's lines exist (by lead id), and none holds her email or phone in clear.
    lines = "".join(capsys.readouterr()).splitlines()
    hers = [line for line in lines if zoe in line]
    assert len(hers) >= 3  # accepted, routed, written
    text = "\n".join(lines).lower()
    assert "zoe.quist@" not in text and "611 222 333" not in text and "611222333" not in text
    assert "yuki_t@" not in text
    forgotten = [json.loads(line) for line in lines if "person_forgotten" in line]
    assert [f["pii_hash"] for f in forgotten] == [pii_hash(YUKI["email"])]  # the API's; the CLI's is below
    assert "zoe.quist@" not in result.output.lower()


def test_forget_prints_what_to_purge_from_the_logs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADFLOW_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LEADFLOW_CONFIG_DIR", str(CONFIG_DIR))

    result = CliRunner().invoke(cli, ["forget", "--email", "nobody@example.com"])

    assert result.exit_code == 0, result.output
    assert f"<email:{pii_hash('nobody@example.com')}>" in result.stdout
    assert lead_id_for("nobody@example.com") in result.stdout
    assert "0 lead(s)" in result.stdout


def test_forget_in_a_data_dir_that_does_not_exist_erases_nothing_and_says_so(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir"  # a typo in --data-dir: nobody there to forget
    args = ["forget", "--email", YUKI["email"], "--data-dir", str(missing), "--config", str(CONFIG_DIR)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert result.stderr.strip() == f"no store in {missing}: the directory does not exist (--data-dir)"
    assert not missing.exists()
