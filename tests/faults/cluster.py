"""Leadflow as deployed at scale, on one machine: each service its own OS process on Kafka
(a Tansu broker of the test's own) and PostgreSQL, which a test can SIGKILL and restart; a
steady load; and what the store and the local CRM hold afterwards."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from connectors.store.engine import make_engine
from connectors.store.sql import decisions, leads
from tests.conftest import CONFIG_DIR
from tests.integration.helpers import AUTH, TOKEN
from tests.servers import start_service

BOUND = 240.0  # a guard against a hang, never an assertion about speed (CI machines are shared)


async def until(condition: Callable[[], bool], bound: float = BOUND) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), bound)


@dataclass
class Service:
    role: str
    port: int
    log: Path
    proc: subprocess.Popen[bytes] | None = None


@dataclass
class Cluster:
    """Services as subprocesses (`python -m services ROLE`), by name: 'intake', 'qualifier-2'."""

    tmp: Path
    bootstrap: str
    database_url: str
    config_dir: Path = CONFIG_DIR  # a test may start the services on a config of its own
    services: dict[str, Service] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "LEADFLOW_API_TOKEN": TOKEN,
            "LEADFLOW_DATABASE_URL": self.database_url,
            "LEADFLOW_KAFKA_IDEMPOTENCE": "false",  # Tansu has no idempotent producer
            "LEADFLOW_KAFKA_PARTITIONS": "3",
            "LEADFLOW_KAFKA_REPLICATION": "1",
        }

    async def start(self, name: str) -> Service:
        """Start (or restart, on the same port) a service; returns once it serves."""
        known = self.services.get(name)
        role, log = name.split("-")[0], self.tmp / f"{name}.log"

        def command(port: int) -> list[str]:
            return [sys.executable, "-m", "services", role, "--port", str(port), "--bus", "kafka",
                    "--bootstrap", self.bootstrap, "--config", str(self.config_dir),
                    "--data-dir", str(self.tmp / "data")]  # fmt: skip

        proc, port = await asyncio.to_thread(
            start_service, command, log, self.env(), port=known.port if known else None
        )
        if known is not None:  # the same object: a test may hold it across the restart
            known.proc = proc
            return known
        service = self.services[name] = Service(role, port, log, proc)
        return service

    async def start_all(self, *names: str) -> None:
        await asyncio.gather(*(self.start(name) for name in names))

    async def kill(self, name: str, sig: signal.Signals = signal.SIGKILL) -> None:
        proc = self.services[name].proc
        assert proc is not None and proc.poll() is None, f"{name} is not running"
        proc.send_signal(sig)
        await asyncio.to_thread(proc.wait, 60)

    def url(self, name: str = "intake") -> str:
        return f"http://127.0.0.1:{self.services[name].port}"

    def log_count(self, name: str, needle: str) -> int:
        return self.services[name].log.read_text().count(needle)

    def close(self) -> None:
        for service in self.services.values():
            if service.proc is not None and service.proc.poll() is None:
                service.proc.terminate()
        for service in self.services.values():
            if service.proc is not None:
                try:
                    service.proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    service.proc.kill()
                    service.proc.wait()


@dataclass
class Load:
    """A steady stream of distinct leads from a few concurrent senders, each posted once; records
    which were accepted (202). A lead whose request fails (the intake died, 503) is not retried:
    it was not accepted, and the test does not count on it either way."""

    leads: list[dict[str, Any]]
    rate: float = 10.0  # leads per second in all: well under what the pipeline drains on a busy machine
    concurrency: int = 4
    accepted: list[str] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    failures: int = 0
    _next: int = 0

    async def run(self, base_url: Callable[[], str], stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(timeout=15) as client:
            await asyncio.gather(*(self._sender(client, base_url, stop) for _ in range(self.concurrency)))

    async def _sender(
        self, client: httpx.AsyncClient, base_url: Callable[[], str], stop: asyncio.Event
    ) -> None:
        while not stop.is_set() and self._next < len(self.leads):
            lead = self.leads[self._next]
            self._next += 1
            try:
                response = await client.post(f"{base_url()}/v1/leads", json=lead, headers=AUTH)
            except httpx.TransportError:
                self.failures += 1
                await asyncio.sleep(self.concurrency / self.rate)
                continue
            self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
            if response.status_code == 202:
                self.accepted.append(response.json()["lead_id"])
            await asyncio.sleep(self.concurrency / self.rate)


async def written(url: str, lead_ids: list[str]) -> set[str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(leads.c.lead_id).where(leads.c.lead_id.in_(lead_ids), leads.c.written_at.is_not(None))
            )
            return {r[0] for r in rows.all()}
    finally:
        await engine.dispose()


async def wait_all_written(url: str, lead_ids: list[str], bound: float = BOUND) -> None:
    deadline = time.monotonic() + bound
    missing = set(lead_ids)
    while missing and time.monotonic() < deadline:
        missing -= await written(url, sorted(missing))
        if missing:
            await asyncio.sleep(0.5)
    assert not missing, f"{len(missing)} of {len(lead_ids)} accepted leads not written within {bound}s"


async def decision_counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(select(decisions.c.lead_id, func.count()).group_by(decisions.c.lead_id))
            return {lead_id: int(n) for lead_id, n in rows.all()}
    finally:
        await engine.dispose()
