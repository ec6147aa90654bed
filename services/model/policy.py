"""The production decision for a batch of leads: the rules (services.core.classify), the model's
score, then services.core.predict. The qualifier calls it with one lead, the backtest with
thousands: the same function, so a backtest measures what production does."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from schemas.config import LeadflowConfig
from schemas.decision import Evaluation
from schemas.enrichment import Enrichment
from schemas.lead import Lead
from services.core.classify import evaluate
from services.core.predict import with_model
from services.model.scoring import Model


@dataclass(frozen=True)
class Case:
    lead_id: str
    lead: Lead
    enrichment: Enrichment | None
    now: datetime


def decide(
    cases: Sequence[Case], config: LeadflowConfig, model: Model | None
) -> list[tuple[Evaluation, str | None]]:
    """Each lead's evaluation and the version of the model consulted (None without one)."""
    scores = model.score([c.lead for c in cases], config.model.factors) if model else [None] * len(cases)
    qualified = config.icp.classification.qualified_tiers
    out = []
    for case, score in zip(cases, scores, strict=True):
        judged = evaluate(case.lead, case.enrichment, config.icp, now=case.now)
        out.append(
            (
                with_model(judged, score, config.model, case.lead_id, qualified),
                model.version if model else None,
            )
        )
    return out
