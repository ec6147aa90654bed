"""Drift: how far the distribution of scores moved from training's, as a population stability
index (PSI) over ten fixed probability bins. Under 0.1 is stable, 0.1-0.25 worth a look, above
0.25 a shift that calls for retraining (the usual reading of PSI)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

EDGES = tuple(i / 10 for i in range(11))
FLOOR = 1e-4  # an empty bin would make the index infinite


def counts(probabilities: Sequence[float] | np.ndarray) -> list[int]:
    found, _ = np.histogram(np.clip(np.asarray(probabilities, dtype=float), 0, 1), bins=EDGES)
    return [int(c) for c in found]


def shares(probabilities: Sequence[float] | np.ndarray) -> list[float]:
    return shares_of(counts(probabilities))


def shares_of(binned: Sequence[int]) -> list[float]:
    total = max(sum(binned), 1)
    return [round(c / total, 6) for c in binned]


def reference(probabilities: np.ndarray) -> dict[str, Any]:
    return {"edges": list(EDGES), "shares": shares(probabilities)}


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, FLOOR), max(a, FLOOR)
        total += (a - e) * math.log(a / e)
    return round(total, 4)


def level(value: float) -> str:
    return "stable" if value < 0.1 else "watch" if value < 0.25 else "shifted"


def daily_counts(reference_shares: Sequence[float], by_day: dict[str, list[int]]) -> list[dict[str, Any]]:
    """PSI of each day's live scores against training's, oldest day first, from each day's
    scores counted per bin of EDGES (as the store counts them: SqlStore.score_counts)."""
    out = []
    for day in sorted(by_day):
        value = psi(reference_shares, shares_of(by_day[day]))
        out.append({"day": day, "leads": sum(by_day[day]), "psi": value, "level": level(value)})
    return out
