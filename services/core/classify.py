"""Classification: fit and engagement through a matrix into a tier, a status and a score,
with every reason as data and as a sentence, and the next step when it cannot decide."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any, Literal

from schemas.config import IcpConfig
from schemas.decision import Evaluation, Fit, FitResult, Reason, Status
from schemas.enrichment import Enrichment
from schemas.lead import Lead
from services.core.disqualify import disqualifiers, is_customer
from services.core.engagement import engagement
from services.core.facts import company_facts
from services.core.fit import icp_fit, judge_persona

Grade = Literal["A", "B", "C"]
# How much of the fit weight each grade earns; an unjudged company earns a little.
FIT_SHARE: dict[Grade | None, float] = {"A": 1.0, "B": 0.65, "C": 0.35, None: 0.0}

STATUSES = frozenset(Status)
NO_SIGNALS = "No engagement signals yet"
CUSTOMER = Reason(
    factor="customer", direction="neutral", text="An existing customer: for its account manager"
)

NEXT_STEP = {
    "hot": "Call within the hour; offer a demo focused on their stated need.",
    "warm": "Reach out today with a relevant case study and one qualifying question.",
    "nurture": "No sales action yet; keep in marketing nurture.",
    "disqualified": "No action.",
}


def grade(icp: FitResult, persona: FitResult) -> Grade | None:
    persona_yes = persona.status is Fit.YES or persona.skipped
    if icp.status is Fit.YES:
        return "A" if persona_yes else "C" if persona.status is Fit.NO else "B"
    if icp.status is Fit.INCONCLUSIVE and persona_yes and not persona.skipped:
        return "B"
    return None


@functools.lru_cache(maxsize=65_536)
def _fit_reason(kind: str, status: Fit, reason: str, weight: float = 0.0) -> Reason:
    """The ICP or persona factor, one object per distinct one: persona results repeat with titles,
    ICP results with industries and sizes, and a Reason is immutable."""
    direction = "positive" if status is Fit.YES else "negative" if status is Fit.NO else "neutral"
    label = "Company" if kind == "icp" else "Person"
    return Reason(factor=kind, direction=direction, weight=weight, text=f"{label}: {reason}")


def _status(tier: str, icp: FitResult, fit: Grade | None, icp_config: IcpConfig) -> Status:
    if tier == "disqualified" or icp.status is Fit.NO or fit is None:
        return Status.UNQUALIFIED
    if tier in icp_config.classification.qualified_tiers and icp.status is Fit.YES:
        return Status.QUALIFIED
    return Status.POTENTIAL  # never qualified on a company we could not judge


def evaluate(lead: Lead, enrichment: Enrichment | None, icp_config: IcpConfig, now: datetime) -> Evaluation:
    """The whole judgment of one lead. ``now`` is when it arrived, so replays decide alike."""
    company = company_facts(lead, enrichment)
    title = enrichment.title if enrichment else None
    icp, vertical = icp_fit(company, icp_config)
    persona = judge_persona(lead.person, title, icp_config, vertical)
    engaged, signals = engagement(lead, icp_config.engagement, now, top=4)
    dq = disqualifiers(lead, enrichment, company, icp_config)
    customer = is_customer(company, enrichment, icp_config)
    classification = icp_config.classification
    fit = grade(icp, persona)
    insufficient = icp.status is Fit.INCONCLUSIVE and persona.status is Fit.INCONCLUSIVE and not dq
    if dq:
        tier = "disqualified"
    elif fit is None:
        tier = "nurture"
    else:
        tier = classification.matrix[fit][classification.band(engaged) - 1]
    status = Status.INSUFFICIENT_INFO if insufficient else _status(tier, icp, fit, icp_config)
    fit_points = classification.fit_weight * FIT_SHARE[fit]
    engagement_points = (100 - classification.fit_weight) * engaged / 100
    score = min(10, round(fit_points + engagement_points)) if dq else round(fit_points + engagement_points)

    # Other factors are plain dicts, validated once with the Evaluation: one call into pydantic's
    # core instead of one per factor (a fifth of an evaluation's time).
    factors: list[dict[str, Any] | Reason] = [
        _fit_reason("icp", icp.status, icp.reason, round(fit_points, 1)),
        _fit_reason("persona", persona.status, persona.reason),
        {
            "factor": "engagement",
            "direction": "positive" if engaged else "neutral",
            "weight": round(engagement_points, 1),
            "text": f"Engagement {engaged}/100: {', '.join(signals[:4])}" if signals else NO_SIGNALS,
        },
    ]
    factors += dq
    if customer:
        factors.append(CUSTOMER)
    missing = (
        tuple(dict.fromkeys(icp.missing + persona.missing)) if status is Status.INSUFFICIENT_INFO else ()
    )
    next_step = NEXT_STEP[tier]
    if missing:
        next_step = f"Find out {', '.join(missing)} (review queue, or ask the lead) before deciding."
        factors.append(
            {
                "factor": "missing",
                "direction": "neutral",
                "text": f"Not enough to decide: missing {', '.join(missing)}",
            }
        )

    contact = enrichment.contact if enrichment else None
    locked = contact is not None and contact.locked and contact.status in STATUSES
    if locked and contact is not None and contact.status is not None:
        status = Status(contact.status)
        if status is not Status.QUALIFIED:
            next_step = f"None from Leadflow: a person set this lead to {status.value} in the CRM."
        factors.append(
            {
                "factor": "locked",
                "direction": "neutral",
                "text": f"Status locked by a person in the CRM: kept as {status.value}",
            }
        )
    return Evaluation.model_validate(
        {
            "icp": icp,
            "persona": persona,
            "engagement": engaged,
            "fit": fit,
            "score": max(0, min(100, score)),
            "tier": tier,
            "status": status,
            "reasons": tuple(f.text if isinstance(f, Reason) else f["text"] for f in factors),
            "factors": factors,
            "disqualified": bool(dq),
            "customer": customer,
            "country": company.country,
            "missing": missing,
            "next_step": next_step,
            "locked": locked,
        }
    )
