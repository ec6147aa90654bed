"""What the qualifier decides: the evaluation (fit, score, tier, status) and the routing."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Fit(StrEnum):
    YES = "yes"
    NO = "no"
    INCONCLUSIVE = "inconclusive"


class Status(StrEnum):
    QUALIFIED = "qualified"
    POTENTIAL = "potential"
    UNQUALIFIED = "unqualified"
    INSUFFICIENT_INFO = "insufficient_info"


class FitResult(Frozen):
    """ICP or persona fit, with the name of what matched and a sentence a person can read."""

    status: Fit
    matched: str | None = None
    reason: str
    missing: tuple[str, ...] = ()


class Evaluation(Frozen):
    icp: FitResult
    persona: FitResult
    engagement: int = Field(ge=0, le=100)
    score: int = Field(ge=0, le=100)
    tier: str
    status: Status
    reasons: tuple[str, ...]


class RoutingDecision(Frozen):
    """Who gets the lead, by which rule, and why."""

    rule_id: str
    owner: str | None = None
    team: str | None = None
    queue: str | None = None
    reason: str
