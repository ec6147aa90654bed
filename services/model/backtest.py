"""Backtest: decide the held-out part of a history through the production code (rules, model,
classification into tiers) and measure it, with the baselines computed in the same run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from schemas.config import LeadflowConfig
from services.model.baselines import NaiveBayes, logistic, points
from services.model.features import matrix
from services.model.history import History
from services.model.mapping import Mapping
from services.model.metrics import scores, tiers
from services.model.policy import Case, decide
from services.model.scoring import Model
from services.model.train import split, train

# Undated history is judged as if it had just arrived (engagement decays from its own dates).
UNDATED_NOW = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Backtest:
    summary: dict[str, Any]  # exactly the --json object
    labels: np.ndarray
    probabilities: dict[str, np.ndarray]  # model and each baseline, for the report's charts
    tier_of: list[str]
    model_version: str | None
    model_note: str | None  # why the model did not decide, when it did not
    split: str


def run(history: History, mapping: Mapping, config: LeadflowConfig, model: Model | None = None) -> Backtest:
    """Train on the training part unless a model is given, then judge the held-out part."""
    if model is None:
        trained = train(history, mapping)
        model, parts = trained.model, trained.split
    else:
        parts = split(history, mapping)
    # The backtest measures the model's policy: no lead is drawn into the live A/B holdout.
    config = config.model_copy(update={"model": config.model.model_copy(update={"holdout_share": 0.0})})
    test = [history.leads[i] for i in parts.test]
    labels = history.labels[parts.test].astype(float)
    cases = [
        Case(lead.source_record_id or str(row), lead, None, history.arrived(row) or UNDATED_NOW)
        for row, lead in zip(parts.test, test, strict=True)
    ]
    decided = [evaluation for evaluation, _ in decide(cases, config, model)]
    used = any(e.probability is not None for e in decided)
    probability = np.array([e.probability if e.probability is not None else e.score / 100 for e in decided])

    train_leads = [history.leads[i] for i in parts.train]
    train_rows, test_rows = matrix(train_leads, model.spec), matrix(test, model.spec)
    train_labels = history.labels[parts.train]
    baselines = {
        "points": np.array([points(lead, config.icp) for lead in test], dtype=float),
        "naive_bayes": NaiveBayes(model.spec).fit(train_rows, train_labels).predict(test_rows),
        "logistic": logistic(model.spec, train_rows, train_labels).predict_proba(test_rows)[:, 1],
    }
    tier_of = [e.tier for e in decided]
    summary = {
        "rows": len(history.labels),
        "test_rows": len(test),
        "positive_rate": round(float(history.labels.mean()), 4),
        "model": scores(labels, probability),
        "tiers": tiers(labels, tier_of),
        "baselines": {name: {"auc": scores(labels, p)["auc"]} for name, p in baselines.items()},
    }
    note = None if used else next((f.text for e in decided for f in e.factors if f.factor == "model"), None)
    return Backtest(
        summary, labels, {"model": probability, **baselines}, tier_of, model.version, note, parts.by
    )
