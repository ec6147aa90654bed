"""The bus stops answering under the intake: every lead sent meanwhile gets a 503 and no claim of
it is kept, so the sender's retry once the bus is back is accepted; and although a produce request
sent before the 503 may still land late, each lead is decided and written exactly once (by its
Idempotency-Key's event id)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from connectors.store.engine import make_engine
from connectors.store.sql import inbound
from services.demo import sample_leads
from tests.faults.cluster import Cluster, decision_counts, wait_all_written
from tests.integration.crm_store import crm_counts_in
from tests.integration.helpers import AUTH
from tests.servers import free_port, tansu_command, wait_for_port

pytestmark = pytest.mark.integration


class Broker:
    """A Tansu broker this test can freeze (SIGSTOP: it accepts connections and answers nothing,
    like a hung or partitioned broker) and thaw with its state intact."""

    def __init__(self, log: Path) -> None:
        self.port, self.log = free_port(), log
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = await asyncio.to_thread(
                subprocess.Popen, tansu_command(self.port), stdout=out, stderr=subprocess.STDOUT
            )
        await asyncio.to_thread(wait_for_port, self.port)

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None and self.proc.poll() is None
        self.proc.send_signal(sig)

    async def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            await asyncio.to_thread(self.proc.wait)


async def post(client: httpx.AsyncClient, n: int, lead: dict[str, object]) -> httpx.Response:
    return await client.post("/v1/leads", json=lead, headers={**AUTH, "Idempotency-Key": f"lead-{n}"})


async def claims(url: str, keys: list[str]) -> list[str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(select(inbound.c.event_id).where(inbound.c.event_id.in_(keys)))
            return [r[0] for r in rows.all()]
    finally:
        await engine.dispose()


async def test_while_the_bus_is_down_nothing_is_acknowledged_and_retries_land_once(
    tmp_path: Path, postgres_url: str
) -> None:
    broker = Broker(tmp_path / "tansu.log")
    await broker.start()
    cluster = Cluster(tmp_path, f"127.0.0.1:{broker.port}", postgres_url)
    leads = sample_leads(20)
    try:
        await cluster.start_all("qualifier", "writer", "intake")
        async with httpx.AsyncClient(base_url=cluster.url(), timeout=30) as client:
            before = [await post(client, n, lead) for n, lead in enumerate(leads[:10])]
            assert {r.status_code for r in before} == {202}
            await wait_all_written(postgres_url, [r.json()["lead_id"] for r in before])

            broker.signal(signal.SIGSTOP)
            down = await asyncio.gather(*(post(client, n, lead) for n, lead in enumerate(leads) if n >= 10))
            assert {r.status_code for r in down} == {503}, [r.status_code for r in down]
            assert all(r.headers["retry-after"] and r.json()["error"] == "unavailable" for r in down)
            assert await claims(postgres_url, [f"lead-{n}" for n in range(10, 20)]) == []

            broker.signal(signal.SIGCONT)
            retried: dict[int, httpx.Response] = {}

            async def retry_until_accepted() -> None:
                for n, lead in enumerate(leads):
                    if n >= 10 and n not in retried:
                        response = await post(client, n, lead)
                        if response.status_code in (200, 202):
                            retried[n] = response

            async def all_retried() -> None:
                while len(retried) < 10:
                    await retry_until_accepted()
                    await asyncio.sleep(0.5)

            await asyncio.wait_for(all_retried(), 120)
            # The 503 released each claim, so each retry is new to the intake: published now.
            assert {r.status_code for r in retried.values()} == {202}
            late_ids = [r.json()["lead_id"] for r in retried.values()]
            all_ids = [r.json()["lead_id"] for r in before] + late_ids
            await wait_all_written(postgres_url, all_ids)
    finally:
        cluster.close()
        await broker.kill()
    writes, notes = await crm_counts_in(postgres_url)
    decided = await decision_counts(postgres_url)
    assert writes == dict.fromkeys(all_ids, 1) and notes == dict.fromkeys(all_ids, 1)
    assert decided == dict.fromkeys(all_ids, 1)
