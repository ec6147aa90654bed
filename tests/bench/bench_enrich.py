"""Enrichment cost and time per lead: the demo waterfall over generated leads.

    python -m tests.bench.bench_enrich [--n 2000]

Prints one JSON object: leads per second through the waterfall (local providers and the demo
firmographic table, no network), the mean cost per lead (what paid providers would charge),
how many calls each provider made and how many were skipped or cached; the baseline, measured
in the same run, is the email provider alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import time
from collections import Counter
from pathlib import Path

from connectors.enrichment import build_waterfall
from schemas.lead import Lead
from services.config import load_config
from services.demo import sample_leads

CONFIG_DIR = Path(__file__).resolve().parents[2] / "deploy" / "config"


async def run(n: int, seed: int) -> dict[str, object]:
    # The CRM provider needs a CRM; this measures the rest (the local CRM is one indexed query).
    full = load_config(CONFIG_DIR).enrichment
    config = full.model_copy(update={"providers": tuple(p for p in full.providers if p.name != "crm")})
    leads = [Lead.model_validate(d) for d in sample_leads(n, seed=seed)]
    random.Random(seed).shuffle(leads)
    waterfall = build_waterfall(config, config_dir=CONFIG_DIR)
    outcomes: Counter[str] = Counter()
    cost = 0.0
    started = time.perf_counter()
    for lead in leads:
        enriched = await waterfall.enrich(lead)
        cost += enriched.cost
        outcomes.update(f"{c.provider}:{c.outcome}" for c in enriched.calls)
    seconds = time.perf_counter() - started
    await waterfall.aclose()

    email_only = build_waterfall(
        config.model_copy(update={"providers": tuple(p for p in config.providers if p.name == "email")}),
        config_dir=CONFIG_DIR,
    )
    started = time.perf_counter()
    for lead in leads:
        await email_only.enrich(lead)
    baseline = time.perf_counter() - started
    await email_only.aclose()
    return {
        "bench": "enrich",
        "n": n,
        "seconds": round(seconds, 3),
        "per_second": round(n / seconds),
        "ms_per_lead": round(1000 * seconds / n, 3),
        "cost_per_lead": round(cost / n, 6),
        "calls": dict(sorted(outcomes.items())),
        "baseline_email_only_per_second": round(n / baseline),
        "python": platform.python_version(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.n, args.seed))))


if __name__ == "__main__":
    main()
