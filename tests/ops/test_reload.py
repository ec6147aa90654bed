"""Config reload: a valid change applies while requests keep being accepted; an invalid one is
refused (the running config stays, the error is logged); SIGHUP reloads too."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY

from schemas.config import LeadflowConfig
from services.config import config_version, load_config
from services.demo import sample_leads
from services.reload import ConfigReloader
from services.settings import Settings
from services.web import create_app
from tests.conftest import CONFIG_DIR
from tests.integration.helpers import AUTH, TOKEN, wait_written
from tests.servers import serve

pytestmark = pytest.mark.integration

# The fallback rule's team gets a new member: a change every later decision shows.
OLD = "      - {id: grace.lee, name: Grace Lee}\n"
NEW = OLD + "      - {id: hugo.martin, name: Hugo Martin}\n"


def copy_config(tmp_path: Path) -> Path:
    return Path(shutil.copytree(CONFIG_DIR, tmp_path / "config"))


async def until(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    # Generous: CI machines are slow and shared; the bound only stops a hung test.
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"not met in {timeout:.0f} s: {what}"
        await asyncio.sleep(0.05)


def reloads(outcome: str) -> float:
    return REGISTRY.get_sample_value("leadflow_config_reloads_total", {"outcome": outcome}) or 0.0


async def test_a_valid_change_reloads_without_dropping_a_request_and_an_invalid_one_is_refused(
    tmp_path: Path,
) -> None:
    config_dir = copy_config(tmp_path)
    old_version = config_version(config_dir)
    settings = Settings(api_token=TOKEN, data_dir=tmp_path / "data", config_dir=config_dir)
    app = create_app(settings, ("intake", "qualifier", "writer"))
    leads = sample_leads(3000, seed=5)
    accepted: list[str] = []
    statuses: list[int] = []
    stop = asyncio.Event()

    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=60) as client:

        async def keep_posting() -> None:
            # A steady stream, before, during and after the reload, paced so that a slow
            # machine's wait for the first writes does not use up the leads.
            for lead in leads:
                if stop.is_set():
                    return
                response = await client.post("/v1/leads", json=lead, headers=AUTH)
                statuses.append(response.status_code)
                if response.status_code == 202:
                    accepted.append(response.json()["lead_id"])
                await asyncio.sleep(0.05)
            raise AssertionError("the poster ran out of leads")

        poster = asyncio.create_task(keep_posting())

        def posted(count: int) -> bool:
            if poster.done():
                poster.result()  # raises what stopped it
            return len(accepted) >= count

        await until(lambda: posted(5), "five leads accepted")
        before = await wait_written(client, accepted[:5], timeout=60)  # decided by the old config
        routing = config_dir / "routing.yaml"
        routing.write_text(routing.read_text().replace(OLD, NEW))
        new_version = config_version(config_dir)
        container = app.state.container
        await until(lambda: container.config.version == new_version, "the valid change applied")
        during = len(accepted)
        await until(lambda: posted(during + 5), "five leads accepted after the reload")

        # Now a broken edit: refused, and the running config stays the new valid one.
        refused_before = reloads("refused")
        routing.write_text(routing.read_text().replace("team: Inside sales", "team: Nobody"))
        await until(lambda: reloads("refused") > refused_before, "the broken change refused")
        refused_at = len(accepted)
        await until(lambda: posted(refused_at + 5), "five leads accepted after the refusal")
        stop.set()
        await asyncio.wait_for(poster, 30)
        results = await wait_written(client, accepted, timeout=90)

    assert set(statuses) == {202}, "a request was refused during a reload"
    assert container.config.version == new_version
    assert {lead["config_version"] for lead in before.values()} == {old_version}
    # Every lead posted once the new config was in place was decided by it (the one request in
    # flight at the switch may have been decided either way).
    assert {results[lead_id]["config_version"] for lead_id in accepted[during + 1 :]} == {new_version}
    assert {lead["config_version"] for lead in results.values()} == {old_version, new_version}


async def test_sighup_reloads_and_a_refused_config_is_logged_with_its_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_dir = copy_config(tmp_path)
    running: list[LeadflowConfig] = [load_config(config_dir)]

    async def apply(config: LeadflowConfig) -> None:
        running.append(config)

    # The file changes before the reloader runs: only the signal can pick it up.
    routing = config_dir / "routing.yaml"
    routing.write_text(routing.read_text().replace(OLD, NEW))
    reloader = ConfigReloader(config_dir, lambda: running[-1], apply)
    stop = asyncio.Event()
    task = asyncio.create_task(reloader.run(stop))
    try:
        await until(lambda: signal.getsignal(signal.SIGHUP) not in (signal.SIG_DFL, None), "handler set")
        os.kill(os.getpid(), signal.SIGHUP)
        await until(lambda: len(running) == 2, "the signal reloaded")
        assert running[-1].version == config_version(config_dir)
        assert running[-1].routing.team("Inside sales").members[-1].id == "hugo.martin"

        assert await reloader.reload("test") is False  # unchanged: nothing to apply
        routing.write_text(routing.read_text().replace("team: North America", "team: Nowhere"))
        seen: list[str] = []

        def logged() -> bool:
            seen.extend(capsys.readouterr())
            return "config_reload_refused" in "".join(seen)

        await until(logged, "the refusal logged")
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert len(running) == 2, "an invalid config was applied"
    [line] = [line for line in "".join(seen).splitlines() if "config_reload_refused" in line]
    assert "unknown team 'Nowhere'" in line and "routing.yaml:" in line
