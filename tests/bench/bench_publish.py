"""Routed leads published to Kafka (Tansu) per second, by producer batch size.

    python -m tests.bench.bench_publish [--n 6000]

The qualifier publishes a fetched batch of results at once, one send per lead (different keys
concurrently), each a leads.routed event of about 5.5 KiB (the lead, its evaluation and its
briefing). Here the demo qualifier on the in-memory bus makes 200 real routed events, then
``connectors.bus.kafka.KafkaBus`` publishes ``--n`` of them to a fresh Tansu broker (acks=all)
in rounds of 200 concurrent sends, with Leadflow's batch size (``MAX_BATCH_BYTES``) and, as
the baseline in the same run, aiokafka's default of 16 KiB, twice each, alternated. Reports
messages per second and the publisher's CPU milliseconds per message. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from connectors.bus import kafka
from connectors.bus.kafka import KafkaBus, KafkaSettings
from connectors.bus.memory import MemoryBus
from schemas.events import TOPIC_RECEIVED, TOPIC_ROUTED
from schemas.lead import Lead
from services.bootstrap import bootstrap
from services.demo import sample_leads
from services.logs import configure as configure_logging
from services.settings import Settings
from services.web import workers_for
from tests.bench.bench_qualifier import CONFIG_DIR, received
from tests.servers import tansu_broker

AIOKAFKA_DEFAULT = 16_384
ROUND = 200  # the qualifier's fetched batch


async def routed_events(tmp: Path) -> list[bytes]:
    """200 leads.routed values from the demo qualifier on the in-memory bus."""
    settings = Settings(api_token="bench", data_dir=tmp, config_dir=CONFIG_DIR, config_reload=False)
    bus = MemoryBus()
    container = await bootstrap(settings, bus=bus)
    try:
        for i, lead in enumerate(Lead.model_validate(d) for d in sample_leads(ROUND)):
            await bus.publish(TOPIC_RECEIVED, f"bench-{i}", received(lead, i))
        [loop, *_] = workers_for(container, ("qualifier",))
        stop = asyncio.Event()
        task = asyncio.create_task(loop.run(stop))
        while len(bus.topics[TOPIC_ROUTED]) < ROUND:
            await asyncio.sleep(0.05)
        stop.set()
        await task
        return [m.value for m in bus.topics[TOPIC_ROUTED]]
    finally:
        await container.close()


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def publish(bootstrap_address: str, values: list[bytes], n: int, batch_bytes: int) -> dict[str, float]:
    kafka.MAX_BATCH_BYTES = batch_bytes  # read when the producer starts
    bus = KafkaBus(KafkaSettings(bootstrap=bootstrap_address, idempotence=False, replication=1), ["routed"])
    await bus.start()
    try:
        await asyncio.gather(*(bus.publish("routed", f"warm-{i}", v) for i, v in enumerate(values)))
        cpu, started = cpu_seconds(), time.perf_counter()
        for r in range(n // ROUND):
            await asyncio.gather(*(bus.publish("routed", f"{r}-{i}", v) for i, v in enumerate(values)))
        seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    finally:
        await bus.close()
    sent = n // ROUND * ROUND
    return {"per_second": round(sent / seconds), "cpu_ms_per_message": round(1000 * cpu / sent, 4)}


def run(n: int) -> dict[str, Any]:
    configured = kafka.MAX_BATCH_BYTES
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        values = asyncio.run(routed_events(tmp))
        runs: dict[int, list[dict[str, float]]] = {configured: [], AIOKAFKA_DEFAULT: []}
        with tansu_broker(tmp / "tansu.log") as address:
            for _ in range(2):
                for size in runs:
                    runs[size].append(asyncio.run(publish(address, values, n, size)))
    kafka.MAX_BATCH_BYTES = configured

    def best(size: int) -> dict[str, float]:
        return max(runs[size], key=lambda r: r["per_second"])

    ours, baseline = best(configured), best(AIOKAFKA_DEFAULT)
    return {
        "benchmark": "publish",
        "messages": n // ROUND * ROUND,
        "concurrent_sends": ROUND,
        "mean_message_bytes": round(sum(map(len, values)) / len(values)),
        "batch_bytes": configured,
        **ours,
        "baseline_batch_bytes": AIOKAFKA_DEFAULT,
        "baseline_per_second": baseline["per_second"],
        "baseline_cpu_ms_per_message": baseline["cpu_ms_per_message"],
        "runs": {str(size): results for size, results in runs.items()},
        "python": platform.python_version(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=6000)
    args = parser.parse_args()
    configure_logging("info")  # the demo qualifier's log lines on stderr; stdout is the result
    print(json.dumps(run(args.n)))


if __name__ == "__main__":
    main()
