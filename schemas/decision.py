"""What the qualifier decides: the evaluation (fit, score, tier, status) and the routing."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


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
    skipped: bool = False  # persona fit when the vertical names no personas


class Reason(Frozen):
    """One factor of a decision, as data (for reports and the model) and as a sentence."""

    factor: str  # icp, persona, engagement, disqualifier:<kind>, customer, missing, locked, model
    direction: Literal["positive", "negative", "neutral"]
    weight: float = 0.0  # points it moved the score (0 for factors that decide by rule)
    text: str


class Evaluation(Frozen):
    icp: FitResult
    persona: FitResult
    engagement: int = Field(ge=0, le=100)
    fit: Literal["A", "B", "C"] | None = None  # None: not judged (no fit, or not enough facts)
    score: int = Field(ge=0, le=100)
    tier: str
    status: Status
    reasons: tuple[str, ...]
    factors: tuple[Reason, ...] = ()
    disqualified: bool = False
    customer: bool = False  # an existing customer: to its account manager
    country: str | None = None  # the company's country as judged (the lead's or enrichment's)
    missing: tuple[str, ...] = ()
    next_step: str = ""
    locked: bool = False  # a person locked the status in the CRM: kept as they set it


class RoutingDecision(Frozen):
    """Who gets the lead, by which rule, and why."""

    rule_id: str
    owner: str | None = None
    team: str | None = None
    queue: str | None = None
    reason: str
    first_touch_due: AwareDatetime | None = None
