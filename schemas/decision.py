"""What the qualifier decides: the evaluation (fit, score, tier, status) and the routing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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

    # icp, persona, engagement, disqualifier:<kind>, customer, missing, locked, model, model:<feature>
    factor: str
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
    probability: float | None = Field(default=None, ge=0, le=1)  # the model's P(convert), when scored
    arm: Literal["model", "holdout"] | None = None  # A/B holdout: holdout leads are decided by the rules


class EmailDraft(Frozen):
    """A first-touch email for the owner to approve; sent only when its rule says auto_send."""

    subject: str
    body: str
    auto_send: bool = False


class RoutingDecision(Frozen):
    """Who gets the lead, by which rule, and why."""

    rule_id: str
    owner: str | None = None
    team: str | None = None
    queue: str | None = None
    reason: str
    first_touch_due: AwareDatetime | None = None
    disposition: Literal["nurture", "archive"] | None = None  # with the reason in `reason`
    path: tuple[str, ...] = ()  # every rule tried and why it did or did not decide
    notify: tuple[str, ...] = ()  # the rule's notify targets ("owner", channel names)
    draft: EmailDraft | None = None


class OwnerStatus(Frozen):
    """What the CRM says about a person, overriding the roster in config (fed by CRM connectors)."""

    active: bool = True
    out_of_office_until: AwareDatetime | None = None


@dataclass(frozen=True)
class RotationState:
    """What the store holds: each pool's turn counter and leads taken per (person, local day)."""

    turns: Mapping[str, int] = field(default_factory=dict)
    assigned: Mapping[tuple[str, str], int] = field(default_factory=dict)


@dataclass(frozen=True)
class Take:
    """Move ``pool``'s counter from ``seen`` to ``turn`` and count one lead for ``member`` on ``day``.
    The store applies it as a compare-and-set: if the counter moved meanwhile, decide again."""

    pool: str
    seen: int
    turn: int
    member: str
    day: str
