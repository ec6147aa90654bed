"""What the model must beat, computed in the same backtest run on the same split and columns.

- points: fixed points as RevOps teams set them (industry fit 20, title 15, pricing page visit
  10, 5 per email open; qualified at 50), with the ICP's own words (those
  tests/bench/bench_evaluate.py's naive scorer uses): an industry any vertical lists, a title
  holding a persona's keyword, both as whole words as the rules match them. Not the rules'
  verdict: that wants employees and country too, so a history without them scored every lead
  0 (AUC exactly 0.5 whatever its industries). History carries no activities, so the pricing
  and open points only ever count on live leads.
- naive_bayes: per-field frequency tables (numbers in quantile bins), as Odoo's predictive
  lead scoring does, with Laplace smoothing.
- logistic: one-hot logistic regression (median-imputed, standardised numbers).
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from schemas.config import IcpConfig
from schemas.lead import Lead
from services.core.fit import has_any, norm
from services.model.features import FeatureSpec

POINTS_QUALIFIED = 50


def points(lead: Lead, icp: IcpConfig) -> int:
    industries = tuple(i for v in icp.verticals for i in v.industries)
    keywords = tuple(k for p in icp.personas for k in p.title_keywords)
    score = 20 if has_any(norm(lead.company.industry), industries) else 0
    score += 15 if has_any(norm(lead.person.title), keywords) else 0
    for activity in lead.activities:
        kind = activity.type.lower()
        if kind == "page_view" and "pricing" in (activity.url or "").lower():
            score += 10
        elif kind == "email_open":
            score += 5
    return score


class NaiveBayes:
    """log P(converted | fields) up to a constant, fields taken as independent."""

    BINS = 5

    def __init__(self, spec: FeatureSpec) -> None:
        self.spec = spec
        self.edges: dict[int, np.ndarray] = {}
        self.tables: list[dict[float, float]] = []
        self.prior = 0.0

    def _bucket(self, i: int, column: np.ndarray) -> np.ndarray:
        if i in self.edges:
            binned = np.digitize(column, self.edges[i]).astype(float)
            return np.where(np.isnan(column), -1.0, binned)
        return np.where(np.isnan(column), -1.0, column)

    def fit(self, rows: np.ndarray, labels: np.ndarray) -> NaiveBayes:
        positives, negatives = labels.sum(), len(labels) - labels.sum()
        self.prior = math.log((positives + 1) / (negatives + 1))
        for i, feature in enumerate(self.spec.features):
            if feature.kind == "numeric":
                present = rows[:, i][~np.isnan(rows[:, i])]
                qs = np.quantile(present, np.linspace(0, 1, self.BINS + 1)[1:-1]) if len(present) else []
                self.edges[i] = np.unique(qs)
            buckets = self._bucket(i, rows[:, i])
            values = np.unique(buckets)
            table = {}
            for v in values:
                in_pos = float(np.sum((buckets == v) & (labels == 1)))
                in_neg = float(np.sum((buckets == v) & (labels == 0)))
                k = len(values) + 1
                table[float(v)] = math.log((in_pos + 1) / (positives + k)) - math.log(
                    (in_neg + 1) / (negatives + k)
                )
            self.tables.append(table)
        return self

    def predict(self, rows: np.ndarray) -> np.ndarray:
        logit = np.full(len(rows), self.prior)
        for i, table in enumerate(self.tables):
            buckets = self._bucket(i, rows[:, i])
            logit += np.array([table.get(float(b), 0.0) for b in buckets])
        return np.asarray(1 / (1 + np.exp(-np.clip(logit, -30, 30))))


def logistic(spec: FeatureSpec, rows: np.ndarray, labels: np.ndarray) -> Pipeline:
    # A number no row gives (a history without one of a given model's columns) has no median:
    # left out, as the imputer would drop it, which left the scaler no column at all.
    numeric = [
        i for i, f in enumerate(spec.features) if f.kind == "numeric" and not np.isnan(rows[:, i]).all()
    ]
    categorical = spec.categorical
    parts = []
    if numeric:
        parts.append(("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric))
    if categorical:
        parts.append(
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value=-1.0),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                categorical,
            )
        )
    if not parts:  # nothing to learn from: the base rate
        return make_pipeline(DummyClassifier(strategy="prior")).fit(rows, labels)
    model = make_pipeline(ColumnTransformer(parts), LogisticRegression(max_iter=5000))
    return model.fit(rows, labels)
