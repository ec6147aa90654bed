"""5-fold cross-validation inside the training part, the figure training settings are chosen by.

    python -m tests.bench.bench_cv [--data ../shared/data/x-education-leads/Leads.csv]
                                   [--mapping deploy/mappings/x-education-leads.yaml]

Splits the history as training does (services.model.train.split), then cross-validates the
whole fit (vocabulary, out-of-fold calibration, booster) on the training part only: the
held-out part is never read. Prints one JSON object: the mean of the five fold AUCs (what
services/model/train.py's header quotes), each fold's, the raw booster's and the mean ECE.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from services.model.features import matrix
from services.model.history import load_history
from services.model.mapping import load_mapping
from services.model.metrics import ece
from services.model.train import FOLDS, fit, split

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data" / "x-education-leads" / "Leads.csv"
MAPPING = ROOT / "deploy" / "mappings" / "x-education-leads.yaml"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--mapping", type=Path, default=MAPPING)
    args = parser.parse_args()
    loaded = load_mapping(args.mapping)
    history = load_history(args.data, loaded)
    rows = split(history, loaded.mapping).train
    labels = history.labels[rows]
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=loaded.mapping.seed)
    start = time.perf_counter()
    auc, raw_auc, errors = [], [], []
    for fit_rows, held in folds.split(rows, labels):
        leads = [history.leads[i] for i in rows[fit_rows]]
        model = fit(leads, labels[fit_rows], history.features, history.kinds, loaded.mapping.seed)
        x = matrix([history.leads[i] for i in rows[held]], model.spec)
        probability = model.probabilities(x)
        auc.append(float(roc_auc_score(labels[held], probability)))
        raw_auc.append(float(roc_auc_score(labels[held], model.booster.predict(x, num_threads=1))))
        errors.append(ece(labels[held], probability))
    result = {
        "bench": "cv",
        "train_rows": len(rows),
        "auc": round(float(np.mean(auc)), 4),
        "folds": [round(a, 4) for a in auc],
        "raw_auc": round(float(np.mean(raw_auc)), 4),
        "ece": round(float(np.mean(errors)), 4),
        "seconds": round(time.perf_counter() - start, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
