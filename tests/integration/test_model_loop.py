"""The model's loop in the embedded service: a promoted champion decides live leads (each
decision carries its version), Salesforce won/lost on leads.feedback become labels,
`leadflow train --from-store` registers a challenger, `leadflow model promote` makes it the
champion, and the running qualifier decides the next lead with it, without a restart."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from services.cli import app
from services.model import artifact
from services.model.history import load_history
from services.model.mapping import load_mapping
from services.model.registry import Registry
from services.model.train import train
from services.settings import Settings
from services.web import create_app
from tests.conftest import CONFIG_DIR
from tests.integration.helpers import TOKEN, post_all, wait_written
from tests.model.helpers import write_history, write_mapping
from tests.servers import serve
from tests.services.webhooks.test_salesforce import envelope, lead

pytestmark = pytest.mark.integration


def live_lead(i: int) -> dict[str, Any]:
    """A lead carrying the generated history's features (visits, industry, channel)."""
    return {
        "email": f"ana.garcia{i}@freight.example",
        "first_name": "Ana",
        "last_name": "Garcia",
        "company": {"name": f"Freight {i}", "industry": "Logistics" if i % 2 else "Retail"},
        "visits": i % 20,
        "channel": "ads",
    }


def champion_of(data_dir: Path) -> str:
    directory = data_dir / "models"
    registry = Registry(directory)
    history_dir = data_dir / "history"
    history_dir.mkdir()
    loaded = load_mapping(write_mapping(history_dir))
    trained = train(load_history(write_history(history_dir), loaded), loaded.mapping)
    version = registry.add(artifact.save(trained.model, history_dir / "model", loaded.text))
    registry.promote()
    return version


async def wait_labels(db: Path, count: int) -> None:
    deadline = time.monotonic() + 60
    found = 0
    while time.monotonic() < deadline:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            found = conn.execute("select count(*) from labels").fetchone()[0]
        if found >= count:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{found} of {count} feedback events labelled")


async def cli(*args: str) -> str:
    """The command as a user runs it, beside the running service (it runs its own event loop)."""
    result = await asyncio.to_thread(CliRunner().invoke, app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


async def test_feedback_retrain_promote_and_the_qualifier_follows(tmp_path: Path) -> None:
    first = champion_of(tmp_path)
    settings = Settings(api_token=TOKEN, data_dir=tmp_path, config_dir=CONFIG_DIR)
    async with (
        serve(create_app(settings, ("intake", "qualifier", "writer"))) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as client,
    ):
        leads = [live_lead(i) for i in range(40)]
        decided = await wait_written(client, await post_all(client, leads), timeout=60)
        assert {d["model_version"] for d in decided.values()} == {first}
        assert all(
            d["probability"] is not None and d["arm"] in ("model", "holdout") for d in decided.values()
        )
        assert any(r.startswith("Model: visits = ") for d in decided.values() for r in d["reasons"])

        # Sales closes them in Salesforce: every other one converted.
        won, lost = {"IsConverted": "true"}, {"Status": "Closed - Not Converted"}
        outcomes = [lead(i + 1, Email=x["email"], **(won if i % 2 else lost)) for i, x in enumerate(leads)]
        response = await client.post(
            "/webhooks/salesforce",
            content=envelope(*outcomes),
            headers={"Content-Type": "text/xml; charset=utf-8"},
        )
        assert response.status_code == 200, response.text
        await wait_labels(tmp_path / "leadflow.db", len(leads))

        retrained = json.loads(await cli("train", "--from-store", "--data-dir", str(tmp_path), "--json"))
        second = retrained["version"]
        assert retrained["registered"] and second != first
        assert Registry(tmp_path / "models").state() == {"champion": first, "challenger": second}
        await cli("model", "promote", "--data-dir", str(tmp_path))

        [later] = await post_all(client, [live_lead(41)])
        after = (await wait_written(client, [later], timeout=60))[later]
    # Trained on 32 labelled leads: the new champion is consulted, recorded, and not used.
    assert after["model_version"] == second and after["probability"] is None
    assert after["reasons"][-1].startswith("Model not used: it was trained on 32 labelled leads")
    arms = json.loads(await cli("backtest", "--from-store", "--data-dir", str(tmp_path), "--json"))["arms"]
    assert sum(a["labelled"] for a in arms) == len(leads) and sum(a["conversions"] for a in arms) == 20
