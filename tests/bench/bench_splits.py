"""How much the held-out figure owes to which rows were held out: the same fit, other splits.

    python -m tests.bench.bench_splits [--data ../shared/data/x-education-leads/Leads.csv]
                                       [--mapping deploy/mappings/x-education-leads.yaml]
                                       [--splits 10]

For a history without dates (a stratified split), refits the model as training does on
`--splits` other stratified splits (seeds 0, 1, ... skipping the mapping's), and on the
mapping's own, and reports each one's held-out AUC beside the one-hot logistic baseline's on
the same rows, and for the mapping's split the model AUC's 95 % bootstrap interval. The
booster's seed stays the mapping's: only which rows are held out changes.
A dated history has one split (the newest rows), so there is nothing to vary: it says so.

This is a measurement, not a way to choose a split: backtests and the AUC target always use
the mapping's seed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from services.model.baselines import logistic
from services.model.features import matrix
from services.model.history import History, load_history
from services.model.mapping import Mapping, load_mapping
from services.model.train import fit, split

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data" / "x-education-leads" / "Leads.csv"
MAPPING = ROOT / "deploy" / "mappings" / "x-education-leads.yaml"


def held_out(history: History, mapping: Mapping, split_seed: int, resamples: int = 0) -> dict[str, Any]:
    """Model and logistic AUC on the part held out by a stratified split drawn with split_seed;
    with resamples, also the model AUC's 95 % bootstrap interval over the held-out rows."""
    parts = split(history, mapping.model_copy(update={"seed": split_seed}))
    train_leads = [history.leads[i] for i in parts.train]
    test_leads = [history.leads[i] for i in parts.test]
    train_labels, test_labels = history.labels[parts.train], history.labels[parts.test]
    model = fit(train_leads, train_labels, history.features, history.kinds, mapping.seed)
    train_rows, test_rows = matrix(train_leads, model.spec), matrix(test_leads, model.spec)
    baseline = logistic(model.spec, train_rows, train_labels).predict_proba(test_rows)[:, 1]
    auc = float(roc_auc_score(test_labels, model.probabilities(test_rows)))
    logistic_auc = float(roc_auc_score(test_labels, baseline))
    result: dict[str, Any] = {
        "seed": split_seed,
        "model_auc": round(auc, 4),
        "logistic_auc": round(logistic_auc, 4),
        "gain": round(auc - logistic_auc, 4),
    }
    if resamples:
        probability, rng = model.probabilities(test_rows), np.random.default_rng(0)
        draws = [rng.integers(0, len(test_labels), len(test_labels)) for _ in range(resamples)]
        aucs = [roc_auc_score(test_labels[d], probability[d]) for d in draws]
        result["model_auc_95"] = [round(float(v), 4) for v in np.percentile(aucs, [2.5, 97.5])]
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--mapping", type=Path, default=MAPPING)
    parser.add_argument("--splits", type=int, default=10)
    args = parser.parse_args()
    mapping = load_mapping(args.mapping).mapping
    history = load_history(args.data, load_mapping(args.mapping))
    if history.dates is not None:
        sys.exit("bench_splits: this history is dated, so its split is by time and there is only one")
    start = time.perf_counter()
    named = held_out(history, mapping, mapping.seed, resamples=1000)
    seeds = [s for s in range(args.splits + 1) if s != mapping.seed][: args.splits]
    others = [held_out(history, mapping, s) for s in seeds]
    model = [float(o["model_auc"]) for o in others]
    gains = [float(o["gain"]) for o in others]
    result = {
        "bench": "splits",
        "rows": len(history.labels),
        "test_share": mapping.test_share,
        "named_split": named,
        "other_splits": others,
        "model_auc_mean": round(statistics.fmean(model), 4),
        "model_auc_sd": round(statistics.pstdev(model), 4),
        "model_auc_min": min(model),
        "model_auc_max": max(model),
        "logistic_auc_mean": round(statistics.fmean(float(o["logistic_auc"]) for o in others), 4),
        "gain_mean": round(statistics.fmean(gains), 4),
        "other_splits_below_named": sum(m < float(named["model_auc"]) for m in model),
        "seconds": round(time.perf_counter() - start, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
