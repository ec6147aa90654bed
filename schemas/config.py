"""The models of the YAML files under deploy/config/ that ops edit.

Validation here is the whole of `leadflow config check`'s semantic checks: a file that
loads into these models is safe to deploy.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    NonNegativeInt,
    StringConstraints,
    ValidationInfo,
    model_validator,
)

from schemas.sources import SourcesConfig

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Keyword = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1)]


def _upper(value: Any) -> Any:
    # Before the pattern check: pydantic checks a pattern before its own to_upper.
    return value.strip().upper() if isinstance(value, str) else value


Country = Annotated[str, BeforeValidator(_upper), StringConstraints(pattern=r"^[A-Z]{2}$")]

# Passed as validation context by the config loader, which reports cross-reference problems
# itself, one per offending rule with its line, instead of one joined model-level error.
DEFER_CROSS_CHECKS = "defer_cross_checks"


class Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Range(Strict):
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, int):
            return False
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)

    def describe(self) -> str:
        if self.min is not None and self.max is not None:
            return f"{self.min}-{self.max}"
        if self.min is not None:
            return f"{self.min}+"
        if self.max is not None:
            return f"up to {self.max}"
        return "any number of"


class Vertical(Strict):
    """One ideal-customer segment. Empty lists mean "any"."""

    name: Name
    industries: tuple[Keyword, ...] = ()
    employees: Range = Range()
    countries: tuple[Country, ...] = ()


class Persona(Strict):
    """A buyer we want to talk to, recognised by words in the job title."""

    name: Name
    title_keywords: tuple[Keyword, ...] = Field(min_length=1)
    seniority_keywords: tuple[Keyword, ...] = ()


class Tier(Strict):
    name: Name
    min_score: int = Field(ge=0, le=100)


class Weights(Strict):
    icp: int = Field(default=45, ge=0, le=100)
    persona: int = Field(default=30, ge=0, le=100)
    engagement: int = Field(default=25, ge=0, le=100)

    @model_validator(mode="after")
    def _sum_to_100(self) -> Weights:
        total = self.icp + self.persona + self.engagement
        if total != 100:
            raise ValueError(f"weights must add up to 100, they add up to {total}")
        return self


class Scoring(Strict):
    weights: Weights = Weights()
    # Points per activity type (and for a written message); engagement is capped at 100.
    engagement_points: dict[Keyword, NonNegativeInt] = Field(default_factory=dict)
    pricing_page_points: int = Field(default=0, ge=0, le=100)
    message_points: int = Field(default=0, ge=0, le=100)
    qualified_min_score: int = Field(default=70, ge=0, le=100)
    potential_min_score: int = Field(default=40, ge=0, le=100)
    tiers: tuple[Tier, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Scoring:
        if self.potential_min_score > self.qualified_min_score:
            raise ValueError("potential_min_score must not exceed qualified_min_score")
        if not any(t.min_score == 0 for t in self.tiers):
            raise ValueError("one tier must have min_score 0, so every score has a tier")
        if len({t.name for t in self.tiers}) != len(self.tiers):
            raise ValueError("tier names must be unique")
        return self

    def tier_for(self, score: int) -> str:
        return max((t for t in self.tiers if score >= t.min_score), key=lambda t: t.min_score).name


class IcpConfig(Strict):
    verticals: tuple[Vertical, ...] = Field(min_length=1)
    personas: tuple[Persona, ...] = Field(min_length=1)
    scoring: Scoring


class Member(Strict):
    id: Name
    name: Name


class Team(Strict):
    name: Name
    members: tuple[Member, ...] = Field(min_length=1)


class Condition(Strict):
    """All given fields must match; an empty condition matches every lead."""

    countries: tuple[Country, ...] = ()
    statuses: tuple[Keyword, ...] = ()
    tiers: tuple[Keyword, ...] = ()
    sources: tuple[Keyword, ...] = ()
    verticals: tuple[Name, ...] = ()

    @property
    def is_catch_all(self) -> bool:
        return not (self.countries or self.statuses or self.tiers or self.sources or self.verticals)


class Rule(Strict):
    """A routing rule: when the condition holds, send to a team (round robin) or a queue."""

    id: Name
    description: str | None = None
    when: Condition = Condition()
    team: Name | None = None
    queue: Name | None = None

    @model_validator(mode="after")
    def _one_action(self) -> Rule:
        if (self.team is None) == (self.queue is None):
            raise ValueError("a rule needs exactly one of 'team' or 'queue'")
        return self


class RoutingConfig(Strict):
    teams: tuple[Team, ...] = Field(min_length=1)
    rules: tuple[Rule, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _coherent(self, info: ValidationInfo) -> RoutingConfig:
        if info.context and info.context.get(DEFER_CROSS_CHECKS):
            return self
        problems = self.cross_check()
        if problems:
            raise ValueError("; ".join(message for _, message in problems))
        return self

    def cross_check(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Problems that span rules and teams, each with the location of the rule at fault."""
        teams = {t.name for t in self.teams}
        problems: list[tuple[tuple[str | int, ...], str]] = []
        seen: set[str] = set()
        for i, rule in enumerate(self.rules):
            if rule.team and rule.team not in teams:
                problems.append((("rules", i, "team"), f"rule '{rule.id}' names unknown team '{rule.team}'"))
            if rule.id in seen:
                problems.append((("rules", i, "id"), f"rule id '{rule.id}' is used more than once"))
            seen.add(rule.id)
        if not self.rules[-1].when.is_catch_all:
            problems.append(
                (
                    ("rules", len(self.rules) - 1, "when"),
                    "the last rule must be a fallback with no 'when' condition",
                )
            )
        return problems

    def team(self, name: str) -> Team:
        return next(t for t in self.teams if t.name == name)


class LeadflowConfig(Strict):
    """Everything under deploy/config/, with the content hash that every decision records."""

    version: str
    icp: IcpConfig
    routing: RoutingConfig
    sources: SourcesConfig = SourcesConfig()
