"""kill -9 the embedded process while leads are in flight; after a restart every accepted lead
is decided and written exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from services.demo import sample_leads
from tests.conftest import CONFIG_DIR
from tests.integration.helpers import AUTH, TOKEN, crm_counts, wait_written
from tests.servers import start_service

pytestmark = pytest.mark.integration


@contextmanager
def embedded(data_dir: Path, log: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    def command(port: int) -> list[str]:
        return [sys.executable, "-m", "services", "run", "--port", str(port), "--data-dir", str(data_dir),
                "--config", str(CONFIG_DIR)]  # fmt: skip

    proc, port = start_service(command, log, {**os.environ, "LEADFLOW_API_TOKEN": TOKEN})
    try:
        yield proc, f"http://127.0.0.1:{port}"
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)


async def test_sigkill_mid_flight_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    log = tmp_path / "leadflow.log"
    leads = sample_leads(400)
    accepted: list[str] = []

    async def sender(client: httpx.AsyncClient, queue: asyncio.Queue[dict[str, object]]) -> None:
        while not queue.empty():
            lead = queue.get_nowait()
            try:
                response = await client.post("/v1/leads", json=lead, headers=AUTH)
            except httpx.TransportError:
                return  # the process died under us: this lead was not accepted
            if response.status_code == 202:
                accepted.append(response.json()["lead_id"])

    queue: asyncio.Queue[dict[str, object]] = asyncio.Queue()
    for lead in leads:
        queue.put_nowait(lead)
    with embedded(tmp_path, log) as (proc, url):
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            senders = [asyncio.create_task(sender(client, queue)) for _ in range(8)]
            while len(accepted) < 150:
                await asyncio.sleep(0.005)
            proc.send_signal(signal.SIGKILL)  # mid-stream: intake, qualifier and writer all busy
            proc.wait()
            await asyncio.gather(*senders)
    assert 150 <= len(accepted) < len(leads), "the kill should land while leads are still arriving"
    written_before, _ = crm_counts(tmp_path / "leadflow.db")
    assert len(set(accepted) - set(written_before)) > 0, (
        "the kill should land with leads still in the pipeline"
    )

    with embedded(tmp_path, log) as (_, url):
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            await wait_written(client, accepted, timeout=90)
    writes, notes = crm_counts(tmp_path / "leadflow.db")
    assert all(writes[lead_id] == 1 for lead_id in accepted)
    assert all(notes[lead_id] == 1 for lead_id in accepted)
    # Leads whose response was lost in the kill may be written too, but never twice.
    assert set(writes.values()) == {1} and set(notes.values()) == {1}
