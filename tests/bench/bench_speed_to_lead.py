"""Received-to-written latency under a sustained load through intake, qualifier and writer.

    python -m tests.bench.bench_speed_to_lead [--rate 1000] [--duration 60] [--baseline-rate 20]

Each service is its own `leadflow` process on a fresh Tansu broker (Kafka protocol) sharing a
throwaway PostgreSQL, as deployed at scale. An open-loop client (raw asyncio streams over 32
keep-alive connections, each request sent at its scheduled time whether or not earlier ones
are answered) posts distinct demo leads to POST /v1/leads at ``--rate`` for ``--duration``
seconds, first with the local CRM, then with the HubSpot fake (tests/fakes/hubspot.py)
enforcing 190 requests per 10 s, which the qualifier (lookups) and the writer share 0.2 : 0.8
(LEADFLOW_CRM_BUDGET_SHARE). For every accepted lead the store's ``received_at`` (stamped
by the intake) and ``written_at`` (stamped by the writer) give the received-to-written time;
``backlog_at_end`` is how many accepted leads were not yet written when the load stopped;
``received_to_decided`` (the store's ``decided_at``) splits the time at the qualifier. The
baseline, in the same run, is the local CRM at ``--baseline-rate``. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select

from connectors.store.engine import make_engine
from connectors.store.sql import leads as leads_table
from services.demo import sample_leads
from tests.bench import cpu
from tests.conftest import CONFIG_DIR
from tests.fakes.hubspot import HubSpotFake, running
from tests.integration.hubspot_run import OWNERS, fake_hubspot
from tests.servers import postgres_server, start_service, tansu_broker

TOKEN = "bench-token"
CONNECTIONS = 32
# Seconds to wait for the backlog after the load, so `make bench` ends: the percentiles are over
# the leads written by then ("written" of "accepted"); a far larger backlog is the figure itself.
DRAIN_BOUND = 120.0


def config_dir(tmp: Path, crm: str, rate: float) -> Path:
    """deploy/config with rate limits out of the way and, for HubSpot, every lead sent there."""
    target = tmp / f"config-{crm}-{rate:g}"
    target.mkdir()
    for path in CONFIG_DIR.glob("*.yaml"):
        (target / path.name).write_text(path.read_text())
    sources = yaml.safe_load((target / "sources.yaml").read_text())
    sources["defaults"]["limits"].update(rate_per_minute=10**9, burst=10**6)
    (target / "sources.yaml").write_text(yaml.safe_dump(sources, sort_keys=False))
    if crm == "hubspot":
        current = yaml.safe_load((target / "crm.yaml").read_text())
        current["default"] = "hubspot"
        current["hubspot"]["owners"] = OWNERS
        (target / "crm.yaml").write_text(yaml.safe_dump(current, sort_keys=False))
    return target


# The HubSpot account's 190 requests / 10 s split between the two processes that call it.
BUDGET_SHARE = {"qualifier": "0.2", "writer": "0.8"}


class Stack:
    """intake, qualifier and writer as `python -m services ROLE` processes."""

    def __init__(self, tmp: Path, bootstrap: str, database: str, config: Path, hubspot_url: str | None):
        self.tmp, self.procs = tmp, list[subprocess.Popen[bytes]]()
        self.env = {
            **os.environ,
            "LEADFLOW_API_TOKEN": TOKEN,
            "LEADFLOW_DATABASE_URL": database,
            "LEADFLOW_KAFKA_IDEMPOTENCE": "false",  # Tansu has no idempotent producer
            "LEADFLOW_KAFKA_REPLICATION": "1",
            "LEADFLOW_CONFIG_RELOAD": "false",
        }
        if hubspot_url:
            self.env |= {"LEADFLOW_HUBSPOT_TOKEN": "test-token", "LEADFLOW_HUBSPOT_BASE_URL": hubspot_url}
        self.args = [
            "--bus",
            "kafka",
            "--bootstrap",
            bootstrap,
            "--config",
            str(config),
            "--data-dir",
            str(tmp),
        ]
        self.intake_port = 0

    def start(self, role: str) -> int:
        def command(port: int) -> list[str]:
            return [sys.executable, "-m", "services", role, "--port", str(port), *self.args]

        env = self.env | {"LEADFLOW_CRM_BUDGET_SHARE": BUDGET_SHARE.get(role, "1")}
        proc, port = start_service(command, self.tmp / f"{role}.log", env, timeout=90)
        self.procs.append(proc)
        return port

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def requests(port: int, count: int, tag: str) -> list[bytes]:
    out = []
    for i, lead in enumerate(sample_leads(count)):
        lead["email"] = f"p{i}.{tag}@" + (lead.get("email") or "x@acme-logistics.com").split("@")[1]
        body = json.dumps(lead).encode()
        out.append(
            f"POST /v1/leads HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
    return out


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))  # fmt: skip
    return status, await reader.readexactly(length)


async def one_connection(
    port: int, queue: asyncio.Queue[bytes | None], accepted: list[str], statuses: dict[int, int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while (request := await queue.get()) is not None:
            try:
                status, body = await exchange(reader, writer, request)
            except (asyncio.IncompleteReadError, ConnectionError):
                # The server closed an idle keep-alive connection before reading: send it afresh.
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                status, body = await exchange(reader, writer, request)
            statuses[status] = statuses.get(status, 0) + 1
            if status == 202:
                accepted.append(json.loads(body)["lead_id"])
    finally:
        writer.close()


async def load(port: int, rate: float, seconds: float, tag: str) -> tuple[list[str], dict[int, int], float]:
    """Open loop: request i is queued at start + i / rate; returns accepted ids, statuses, lateness."""
    batch = requests(port, int(rate * seconds), tag)
    queue: asyncio.Queue[bytes | None] = asyncio.Queue()
    accepted: list[str] = []
    statuses: dict[int, int] = {}
    workers = [
        asyncio.create_task(one_connection(port, queue, accepted, statuses)) for _ in range(CONNECTIONS)
    ]
    start = time.monotonic()
    for i, request in enumerate(batch):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait(request)
    lateness = time.monotonic() - (start + len(batch) / rate)  # > 0: the client could not keep up
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    return accepted, statuses, lateness


async def written_times(database: str, lead_ids: list[str]) -> dict[str, tuple[float, float]]:
    """Per written lead: (received to written, received to decided), in seconds."""
    engine = make_engine(database)
    columns = (
        leads_table.c.lead_id,
        leads_table.c.received_at,
        leads_table.c.decided_at,
        leads_table.c.written_at,
    )
    try:
        out: dict[str, tuple[float, float]] = {}
        async with engine.connect() as conn:
            for i in range(0, len(lead_ids), 5000):
                rows = await conn.execute(
                    select(*columns).where(
                        leads_table.c.lead_id.in_(lead_ids[i : i + 5000]),
                        leads_table.c.written_at.is_not(None),
                    )
                )
                out |= {
                    r[0]: ((r[3] - r[1]).total_seconds(), (r[2] - r[1]).total_seconds()) for r in rows.all()
                }
        return out
    finally:
        await engine.dispose()


async def written_count(database: str) -> int:
    """Leads written so far (the phase's database has no others)."""
    engine = make_engine(database)
    try:
        async with engine.connect() as conn:
            query = select(func.count()).select_from(leads_table).where(leads_table.c.written_at.is_not(None))
            return int(await conn.scalar(query) or 0)
    finally:
        await engine.dispose()


def quantile(values: list[float], q: float) -> float | None:
    if len(values) < 2:
        return round(values[0], 3) if values else None
    return round(statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1], 3)


async def phase(
    tmp: Path, bootstrap: str, database: str, crm: str, rate: float, seconds: float
) -> dict[str, Any]:
    async with HubSpotPhase(crm) as (fake, url):
        stack = Stack(tmp, bootstrap, database, config_dir(tmp, crm, rate), url)
        try:
            for role in ("qualifier", "writer"):
                await asyncio.to_thread(stack.start, role)
            port = await asyncio.to_thread(stack.start, "intake")
            # Joining the consumer groups takes seconds on Tansu: let them settle before the clock.
            await asyncio.sleep(6)
            cpu_before, started = cpu.snapshot(), time.monotonic()
            accepted, statuses, lateness = await load(port, rate, seconds, f"{crm}{rate:g}")
            # While the backlog drains, only a count (the database holds this phase's leads
            # alone): fetching every lead's times each second cost the machine a fifth of a core.
            backlog = len(accepted) - await written_count(database)
            deadline = time.monotonic() + DRAIN_BOUND
            while await written_count(database) < len(accepted) and time.monotonic() < deadline:
                await asyncio.sleep(1)
            spent, wall = cpu.used(cpu_before, cpu.snapshot()), time.monotonic() - started
            times = await written_times(database, accepted)
        finally:
            await asyncio.to_thread(stack.stop)
    values = sorted(total for total, _ in times.values())
    decided = sorted(until for _, until in times.values())
    result: dict[str, Any] = {
        "crm": crm,
        "rate_per_second": rate,
        "seconds": seconds,
        "sent": sum(statuses.values()),
        "accepted": len(accepted),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "client_late_seconds": round(max(lateness, 0.0), 2),
        "backlog_at_end": backlog,
        "written": len(values),
        "p50_s": quantile(values, 0.5),
        "p95_s": quantile(values, 0.95),
        "p99_s": quantile(values, 0.99),
        "max_s": round(values[-1], 3) if values else None,
        # Where the time went: intake and qualifier (received to decided); the rest is the writer's.
        "received_to_decided": {"p50_s": quantile(decided, 0.5), "p99_s": quantile(decided, 0.99)},
        # Which process spent the cores, from the load's start until the backlog drained (or the
        # drain bound): CPU milliseconds per lead written, and cores busy on average.
        "cpu_ms_per_lead": {k: round(1000 * v / max(len(values), 1), 3) for k, v in spent.items()},
        "cores_busy": round(sum(spent.values()) / wall, 2),
    }
    if fake is not None:
        result["hubspot_requests"] = fake.requests
        result["hubspot_max_requests_in_10s"] = fake.max_in_window
    return result


class HubSpotPhase:
    """The HubSpot fake (190 requests / 10 s) for the hubspot phase; nothing for the local CRM."""

    def __init__(self, crm: str) -> None:
        self.crm = crm
        self._cm: Any = None

    async def __aenter__(self) -> tuple[HubSpotFake | None, str | None]:
        if self.crm != "hubspot":
            return None, None
        fake = fake_hubspot()
        fake.limit, fake.window = 190, 10.0
        self._cm = running(fake)
        return fake, await self._cm.__aenter__()

    async def __aexit__(self, *exc: object) -> None:
        if self._cm is not None:
            await self._cm.__aexit__(*exc)


def run(args: argparse.Namespace) -> dict[str, Any]:
    phases: dict[str, Any] = {}
    plan = [("baseline_local_crm_low_rate", "local", args.baseline_rate, min(args.duration, 20)),
            ("local_crm", "local", args.rate, args.duration),
            ("hubspot_fake_190_per_10s", "hubspot", args.rate, args.duration)]  # fmt: skip
    for name, crm, rate, seconds in plan:
        if name.startswith("hubspot") and args.skip_hubspot:
            continue
        # A fresh broker and database per phase: Tansu's in-memory log only grows.
        with tempfile.TemporaryDirectory() as tmp_name, ExitStack() as stack:
            tmp = Path(tmp_name)
            bootstrap = stack.enter_context(tansu_broker(tmp / "tansu.log"))
            server = stack.enter_context(postgres_server())
            phases[name] = asyncio.run(phase(tmp, bootstrap, server + "/postgres", crm, rate, seconds))
    return {
        "benchmark": "speed_to_lead",
        "load_generator": f"open-loop asyncio streams, {CONNECTIONS} keep-alive connections, POST /v1/leads",
        **phases,
        "target": {"rate_per_second": 1000, "p99_s_local_crm": 1.0},
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="leads per second offered")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--baseline-rate", type=float, default=20.0)
    parser.add_argument("--skip-hubspot", action="store_true")
    args = parser.parse_args()
    print(json.dumps(run(args)))


if __name__ == "__main__":
    main()
