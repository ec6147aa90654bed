"""The figures a backtest reports: discrimination, calibration, and what each tier holds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

TIER_ORDER = ("hot", "warm", "nurture", "disqualified")


def ece(labels: np.ndarray, probability: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error over equal-width bins: the row-weighted gap between the
    mean predicted probability and the observed rate in each bin."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(probability, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.mean() * abs(float(probability[mask].mean()) - float(labels[mask].mean()))
    return total


def scores(labels: np.ndarray, probability: np.ndarray) -> dict[str, float]:
    return {
        "auc": round(float(roc_auc_score(labels, probability)), 4),
        "pr_auc": round(float(average_precision_score(labels, probability)), 4),
        "brier": round(float(np.mean((probability - labels) ** 2)), 4),
        "ece": round(float(ece(labels, probability)), 4),
    }


def tiers(labels: np.ndarray, tier_of: Sequence[str]) -> list[dict[str, Any]]:
    """Per tier: share of leads, its conversion rate, and its share of all conversions."""
    names = np.asarray(tier_of)
    conversions = max(int(labels.sum()), 1)
    present = [t for t in TIER_ORDER if t in set(tier_of)] + sorted(set(tier_of) - set(TIER_ORDER))
    out = []
    for tier in present:
        mask = names == tier
        out.append(
            {
                "tier": tier,
                "share_of_leads": round(float(mask.mean()), 4),
                "conversion_rate": round(float(labels[mask].mean()), 4) if mask.any() else 0.0,
                "share_of_conversions": round(float(labels[mask].sum()) / conversions, 4),
            }
        )
    return out


def calibration_curve(
    labels: np.ndarray, probability: np.ndarray, bins: int = 10
) -> list[tuple[float, float]]:
    """(mean predicted, observed rate) per non-empty equal-width bin, for the report."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(probability, edges[1:-1]), 0, bins - 1)
    return [
        (float(probability[which == b].mean()), float(labels[which == b].mean()))
        for b in range(bins)
        if (which == b).any()
    ]
