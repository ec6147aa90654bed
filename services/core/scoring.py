"""Engagement, score, tier and status: the classification of one lead."""

from __future__ import annotations

from schemas.config import IcpConfig, Scoring
from schemas.decision import Evaluation, Fit, FitResult, Status
from schemas.lead import Lead
from services.core.fit import icp_fit, persona_fit

_FIT_SHARE = {Fit.YES: 1.0, Fit.INCONCLUSIVE: 0.4, Fit.NO: 0.0}


def engagement(lead: Lead, scoring: Scoring) -> tuple[int, list[str]]:
    """Points for what the lead did, capped at 100, with the signals that earned them."""
    points = 0
    signals: list[str] = []
    for activity in lead.activities:
        gained = scoring.engagement_points.get(activity.type.lower(), 0)
        if activity.url and "pricing" in activity.url.lower():
            gained += scoring.pricing_page_points
            signals.append("visited the pricing page")
        elif gained:
            signals.append(activity.type.replace("_", " "))
        points += gained
    if lead.message and lead.message.strip():
        points += scoring.message_points
        signals.append("wrote a message")
    return min(points, 100), list(dict.fromkeys(signals))


def _status(icp: FitResult, persona: FitResult, score: int, scoring: Scoring) -> Status:
    if icp.status is Fit.NO:
        return Status.UNQUALIFIED
    if icp.status is Fit.INCONCLUSIVE and persona.status is Fit.INCONCLUSIVE:
        return Status.INSUFFICIENT_INFO
    if icp.status is Fit.INCONCLUSIVE and score >= scoring.potential_min_score:
        # Promising but unproven: never "qualified" on a company we could not judge.
        return Status.POTENTIAL
    if icp.status is Fit.INCONCLUSIVE:
        return Status.INSUFFICIENT_INFO
    if score >= scoring.qualified_min_score and persona.status is not Fit.NO:
        # Engagement alone never qualifies someone who is not a buyer (a student, an intern).
        return Status.QUALIFIED
    if score >= scoring.potential_min_score:
        return Status.POTENTIAL
    return Status.UNQUALIFIED


def evaluate(lead: Lead, icp_config: IcpConfig) -> Evaluation:
    """Score 0-100, tier and status, with every reason that went into them."""
    scoring = icp_config.scoring
    icp = icp_fit(lead.company, icp_config.verticals)
    persona = persona_fit(lead.person, icp_config.personas)
    engaged, signals = engagement(lead, scoring)
    weights = scoring.weights
    score = round(
        weights.icp * _FIT_SHARE[icp.status]
        + weights.persona * _FIT_SHARE[persona.status]
        + weights.engagement * engaged / 100
    )
    status = _status(icp, persona, score, scoring)
    reasons = [f"Company: {icp.reason}", f"Person: {persona.reason}"]
    reasons.append(
        f"Engagement {engaged}/100: {', '.join(signals)}" if signals else "No engagement signals yet"
    )
    if status is Status.INSUFFICIENT_INFO:
        missing = sorted(set(icp.missing + persona.missing))
        reasons.append(f"Not enough to decide: missing {', '.join(missing)}")
    return Evaluation(
        icp=icp,
        persona=persona,
        engagement=engaged,
        score=score,
        tier=scoring.tier_for(score),
        status=status,
        reasons=tuple(reasons),
    )
