"""The pure scoring path: leads -> feature rows -> calibrated probability -> the factors that
moved it. No I/O: the qualifier and the backtest call the same function on a loaded model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import lightgbm as lgb
import numpy as np

from schemas.decision import Reason
from schemas.lead import Lead
from schemas.model import ModelScore
from services.model.features import FeatureSpec, describe, lookups, matrix

MIN_CONTRIBUTION = 0.05  # log-odds; smaller pushes are noise, not a reason


@dataclass(frozen=True)
class Calibration:
    """Monotone map from the booster's raw probability to an observed conversion rate, as two
    lists of plain numbers interpolated linearly (centred isotonic regression fitted on
    out-of-fold predictions; models saved with a plain isotonic staircase apply the same way)."""

    x: tuple[float, ...]
    y: tuple[float, ...]

    def apply(self, raw: np.ndarray) -> np.ndarray:
        if not self.x:
            return raw
        return np.asarray(np.clip(np.interp(raw, self.x, self.y), 0.0, 1.0))


@dataclass(frozen=True)
class Model:
    booster: lgb.Booster
    spec: FeatureSpec
    calibration: Calibration
    version: str
    metrics: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def _lookup(self) -> list[dict[str, int]]:
        return lookups(self.spec)  # once per model, not per lead

    @property
    def trained_rows(self) -> int:
        return int(self.metrics.get("train_rows", 0))

    @property
    def trained_positives(self) -> int:
        return int(self.metrics.get("train_positives", 0))

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        return self.calibration.apply(np.asarray(self.booster.predict(rows, num_threads=1)))

    def score(self, leads: Sequence[Lead], factors: int = 3) -> list[ModelScore]:
        """Score a batch; each lead gets its top ``factors`` positive and negative factors."""
        if not leads:
            return []
        rows = matrix(leads, self.spec, self._lookup)
        probability = self.probabilities(rows)
        contributions = self.booster.predict(rows, pred_contrib=True, num_threads=1) if factors else None
        return [
            ModelScore(
                version=self.version,
                probability=round(float(p), 4),
                factors=self._factors(rows[i], contributions[i], factors)
                if contributions is not None
                else (),
                trained_rows=self.trained_rows,
                trained_positives=self.trained_positives,
            )
            for i, p in enumerate(probability)
        ]

    def _factors(self, row: np.ndarray, contribution: np.ndarray, top: int) -> tuple[Reason, ...]:
        """The features that pushed this lead's log-odds most, each way (the last column is the bias)."""
        pushes = contribution[:-1]
        order = np.argsort(pushes)
        negative = [i for i in order[:top] if pushes[i] <= -MIN_CONTRIBUTION]
        positive = [i for i in order[::-1][:top] if pushes[i] >= MIN_CONTRIBUTION]
        reasons = []
        for i in positive + negative:
            feature = self.spec.features[i]
            up = pushes[i] > 0
            reasons.append(
                Reason(
                    factor=f"model:{feature.name}",
                    direction="positive" if up else "negative",
                    weight=round(float(pushes[i]), 2),
                    text=f"Model: {describe(feature, row[i])} {'raises' if up else 'lowers'} the chance"
                    f" of converting ({float(pushes[i]):+.2f} log-odds)",
                )
            )
        return tuple(reasons)
