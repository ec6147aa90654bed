"""Training time on X Education and the scoring cost per lead, against the rules alone.

    python -m tests.bench.bench_train [--data ../shared/data/x-education-leads/Leads.csv]

Trains once (one thread) and times it; then times the production decision
(services.model.policy.decide: rules + model + explanations) per lead in batches of 1, 100
and 1,000 held-out leads, and the rules alone (the baseline, same leads, same run). The
scoring cost is the difference. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from services.config import load_config
from services.model.history import load_history
from services.model.mapping import load_mapping
from services.model.policy import Case, decide
from services.model.train import train

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data" / "x-education-leads" / "Leads.csv"
MAPPING = ROOT / "deploy" / "mappings" / "x-education-leads.yaml"


def _per_lead(cases: list[Case], batch: int, config: object, model: object) -> float:
    start = time.perf_counter()
    for i in range(0, len(cases), batch):
        decide(cases[i : i + batch], config, model)  # type: ignore[arg-type]
    return (time.perf_counter() - start) / len(cases) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    loaded = load_mapping(MAPPING)
    history = load_history(args.data, loaded)
    start = time.perf_counter()
    trained = train(history, loaded.mapping)
    seconds = time.perf_counter() - start
    config = load_config(ROOT / "deploy" / "config")
    from datetime import UTC, datetime

    now = datetime(2026, 1, 1, tzinfo=UTC)
    cases = [Case(str(i), history.leads[i], None, now) for i in trained.split.test[:1000]]
    decide(cases[:100], config, trained.model)  # warm-up
    result = {"bench": "train", "rows": len(history.labels), "train_seconds": round(seconds, 2)}
    for batch in (1, 100, 1000):
        with_model = _per_lead(cases, batch, config, trained.model)
        rules = _per_lead(cases, batch, config, None)
        result[f"ms_per_lead_batch_{batch}"] = round(with_model, 4)
        result[f"rules_ms_per_lead_batch_{batch}"] = round(rules, 4)
        result[f"model_adds_ms_batch_{batch}"] = round(with_model - rules, 4)
    result |= {"auc": trained.model.metrics["held_out"]["auc"], "python": platform.python_version()}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
