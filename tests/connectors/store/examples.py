"""Decisions to store: one routed lead per number."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.decision import Evaluation, Fit, FitResult, RoutingDecision, Status
from schemas.events import LeadRouted
from schemas.lead import Lead

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def routed(
    n: int, *, lead_id: str | None = None, status: Status = Status.QUALIFIED, source: str = "web"
) -> LeadRouted:
    fit = FitResult(status=Fit.YES, reason="fits")
    return LeadRouted(
        event_id=f"ev-{n}",
        lead_id=lead_id or f"lead-{n}",
        received_at=T0 + timedelta(minutes=n),
        decided_at=T0 + timedelta(minutes=n, seconds=1),
        config_version="cfg",
        lead=Lead(person={"email": f"p{n}@example.com"}, source=source),  # type: ignore[arg-type]
        evaluation=Evaluation(
            icp=fit, persona=fit, engagement=10, score=80, tier="hot", status=status, reasons=("fits",)
        ),
        routing=RoutingDecision(rule_id="r", owner="ana", team="T", reason="next"),
        briefing="brief",
    )
