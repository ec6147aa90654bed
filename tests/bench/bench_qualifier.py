"""Leads per second through one qualifier process: enrichment, rules and model, recorded.

    python -m tests.bench.bench_qualifier [--n 5000] [--batch-size 200]
        [--data ../shared/data/x-education-leads/Leads.csv]

The production consume loop of the qualifier (services.web.workers_for: decode, dedupe,
enrich with the demo waterfall and its in-memory firmographic table, decide with rules and the
champion model, route, brief, record the decision in the store, publish leads.routed) drains
``--n`` leads.received events from the in-memory bus, the store a SQLite file on tmpfs, in
fetched batches of ``--batch-size`` (the consume loop's default) through the qualifier's batch
handler. The
leads are X Education's (their attributes are what the model scores), with a model trained on
the same history and promoted; without that dataset, the demo's generated leads and the rules
alone (the JSON says so). Baseline in the same run: the pure decision
(services.model.policy.decide, rules + model, one lead at a time) over the same leads.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.bus.memory import MemoryBus
from schemas.events import TOPIC_RECEIVED, TOPIC_ROUTED, LeadReceived
from schemas.lead import Lead, lead_id_for
from services import heap
from services.bootstrap import bootstrap
from services.config import load_config
from services.demo import sample_leads
from services.logs import configure as configure_logging
from services.model import artifact
from services.model.policy import Case, decide
from services.model.registry import Registry
from services.settings import Settings
from services.web import workers_for

ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = ROOT / "deploy" / "config"
DATA = ROOT.parent / "shared" / "data" / "x-education-leads" / "Leads.csv"
MAPPING = ROOT / "deploy" / "mappings" / "x-education-leads.yaml"
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
TMPFS = "/dev/shm" if Path("/dev/shm").is_dir() else None
BATCH_SIZE = 200  # services.consumer.ConsumerLoop's default


def leads_and_model(data: Path, n: int, models: Path) -> tuple[list[Lead], str | None]:
    """X Education's leads with a promoted model trained on them, or generated leads, no model."""
    if not data.exists():
        return [Lead.model_validate(d) for d in sample_leads(n)], None
    from services.model.history import load_history
    from services.model.mapping import load_mapping
    from services.model.train import train

    loaded = load_mapping(MAPPING)
    history = load_history(data, loaded)
    trained = train(history, loaded.mapping)
    target = models / trained.model.version
    artifact.save(trained.model, target, loaded.text)
    registry = Registry(models)
    registry.add(target)
    registry.promote()
    rows = history.leads
    return [rows[i % len(rows)] for i in range(n)], trained.model.version


def received(lead: Lead, i: int) -> bytes:
    # Each event a distinct lead: the X Education rows carry no email, so key by a made-up identity.
    event = LeadReceived(event_id=f"bench:{i}", lead_id=lead_id_for(f"bench-{i}"), received_at=NOW, lead=lead)
    return event.model_dump_json().encode()


async def through_qualifier(tmp: Path, leads: list[Lead], batch_size: int = BATCH_SIZE) -> float:
    settings = Settings(api_token="bench", data_dir=tmp, config_dir=CONFIG_DIR, config_reload=False)
    bus = MemoryBus()
    container = await bootstrap(settings, bus=bus)
    try:
        for i, lead in enumerate(leads):
            await bus.publish(TOPIC_RECEIVED, f"bench-{i}", received(lead, i))
        [loop, *_] = workers_for(container, ("qualifier",))
        loop.batch_size = batch_size
        stop = asyncio.Event()
        with heap.settled():  # as the app's lifespan runs its workers (services.web.create_app)
            started = time.perf_counter()
            task = asyncio.create_task(loop.run(stop))
            while len(bus.topics[TOPIC_ROUTED]) < len(leads):
                if task.done():
                    task.result()
                    raise RuntimeError("the qualifier loop stopped")
                await asyncio.sleep(0.05)
            seconds = time.perf_counter() - started
            stop.set()
            await task
        return seconds
    finally:
        await container.close()


def pure_decision(leads: list[Lead], model_dir: Path | None) -> float:
    config = load_config(CONFIG_DIR)
    model = artifact.load(model_dir) if model_dir else None
    cases = [Case(f"bench-{i}", lead, None, NOW) for i, lead in enumerate(leads)]
    decide(cases[:200], config, model)  # warm-up
    started = time.perf_counter()
    for case in cases:
        decide([case], config, model)
    return time.perf_counter() - started


def run(n: int, data: Path, batch_size: int = BATCH_SIZE) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(dir=TMPFS) as name:
        tmp = Path(name)
        leads, version = leads_and_model(data, n, tmp / "models")
        # Warm-up on a separate store: imports, caches, the model's first load.
        with tempfile.TemporaryDirectory(dir=TMPFS) as warm:
            (Path(warm) / "models").symlink_to(tmp / "models", target_is_directory=True)
            asyncio.run(through_qualifier(Path(warm), leads[:300], batch_size))
        seconds = asyncio.run(through_qualifier(tmp, leads, batch_size))
        baseline = pure_decision(leads, tmp / "models" / version if version else None)
    return {
        "benchmark": "qualifier",
        "leads": n,
        "batch_size": batch_size,
        "leads_from": "x-education" if version else "generated (X Education absent: rules only)",
        "model_version": version,
        "seconds": round(seconds, 2),
        "per_second": round(n / seconds, 1),
        "baseline_pure_decision_per_second": round(n / baseline, 1),
        "ratio": round(baseline / seconds, 3),
        "target_per_second": 5000,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="messages fetched at once")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    # As deployed: one JSON log line per lead, on stderr, counted in the figure; stdout is the result.
    configure_logging("info")
    print(json.dumps(run(args.n, args.data, args.batch_size)))


if __name__ == "__main__":
    main()
