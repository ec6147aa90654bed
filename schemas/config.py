"""The models of the YAML files under deploy/config/ that ops edit.

Validation here is the whole of `leadflow config check`'s semantic checks: a file that
loads into these models is safe to deploy.
"""

from __future__ import annotations

from datetime import date, time
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    NonNegativeInt,
    StringConstraints,
    ValidationInfo,
    model_validator,
)

from schemas.crm import CrmConfig
from schemas.enrichment import JobFunction, Seniority
from schemas.enrichment_config import EnrichmentConfig
from schemas.model import ModelConfig
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
    """One ideal-customer segment. Empty lists and open ranges mean "any"."""

    name: Name
    industries: tuple[Keyword, ...] = ()
    employees: Range = Range()
    revenue: Range = Range()  # annual, USD
    countries: tuple[Country, ...] = ()
    technologies: tuple[Keyword, ...] = ()  # the company uses at least one of these
    personas: tuple[Name, ...] = ()  # who buys here (persona names); empty: persona fit is skipped


class Persona(Strict):
    """A buyer, recognised by the title's function and seniority (from enrichment) or by words
    in the title. A persona without seniorities takes any level."""

    name: Name
    functions: tuple[JobFunction, ...] = ()
    seniorities: tuple[Seniority, ...] = ()
    title_keywords: tuple[Keyword, ...] = ()
    seniority_keywords: tuple[Keyword, ...] = ()

    @model_validator(mode="after")
    def _recognisable(self) -> Persona:
        if not (self.functions or self.title_keywords):
            raise ValueError("a persona needs functions or title_keywords")
        return self


class Exclusions(Strict):
    """Companies that are not new business, by domain or name."""

    competitors: tuple[Keyword, ...] = ()  # disqualified
    customers: tuple[Keyword, ...] = ()  # existing customers: their account manager, not new business


class Engagement(Strict):
    """Intent from activities: points per type, halved every half_life_days, capped at 100.
    Opens and clicks weigh little (security scanners inflate them); replies and meetings most."""

    half_life_days: float = Field(default=14, gt=0)
    points: dict[Keyword, NonNegativeInt] = Field(default_factory=dict)
    page_points: dict[Keyword, NonNegativeInt] = Field(default_factory=dict)  # URL contains -> points
    message_points: int = Field(default=0, ge=0, le=100)


class Disqualifiers(Strict):
    disposable_email: bool = True
    students: bool = True
    job_seekers: bool = True
    gibberish_names: bool = True
    max_links_in_message: int = Field(default=3, ge=0)
    do_not_contact: bool = True
    competitors: bool = True


FitGrade = Literal["A", "B", "C"]
TIERS = ("hot", "warm", "nurture", "disqualified")
TierName = Literal["hot", "warm", "nurture", "disqualified"]


class Classification(Strict):
    """Fit grade (A: company and buyer fit; B: one fits, the other is unknown; C: the company
    fits, the person does not) x engagement band (1 high, 2 medium, 3 low) -> tier."""

    engagement_bands: tuple[int, int] = (50, 20)  # band 1 from the first, band 2 from the second
    matrix: dict[FitGrade, tuple[TierName, TierName, TierName]] = {
        "A": ("hot", "hot", "warm"),
        "B": ("hot", "warm", "nurture"),
        "C": ("warm", "nurture", "nurture"),
    }
    qualified_tiers: tuple[TierName, ...] = ("hot", "warm")
    fit_weight: int = Field(default=70, ge=0, le=100)  # score = fit share + engagement share

    @model_validator(mode="after")
    def _consistent(self) -> Classification:
        high, medium = self.engagement_bands
        if not 0 <= medium <= high <= 100:
            raise ValueError("engagement_bands must be [high, medium] with 0 <= medium <= high <= 100")
        missing = {"A", "B", "C"} - set(self.matrix)
        if missing:
            raise ValueError(f"matrix needs rows for fit grades {', '.join(sorted(missing))}")
        return self

    def band(self, engagement: int) -> int:
        high, medium = self.engagement_bands
        return 1 if engagement >= high else 2 if engagement >= medium else 3


class IcpConfig(Strict):
    verticals: tuple[Vertical, ...] = Field(min_length=1)
    personas: tuple[Persona, ...] = Field(min_length=1)
    exclusions: Exclusions = Exclusions()
    engagement: Engagement = Engagement()
    disqualifiers: Disqualifiers = Disqualifiers()
    classification: Classification = Classification()

    @model_validator(mode="after")
    def _known_personas(self) -> IcpConfig:
        known = {p.name for p in self.personas}
        unknown = sorted({n for v in self.verticals for n in v.personas} - known)
        if unknown:
            raise ValueError(f"verticals name unknown personas: {', '.join(unknown)}")
        return self

    def personas_for(self, vertical: Vertical | None) -> tuple[Persona, ...]:
        if vertical is None or not vertical.personas:
            return self.personas
        return tuple(p for p in self.personas if p.name in vertical.personas)


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone '{value}' (use an IANA name like Europe/Madrid)") from exc
    return value


TimeZone = Annotated[str, AfterValidator(_zone)]


class WorkingHours(Strict):
    """When a person takes leads, in their own time zone (the clock of an SLA runs only then)."""

    days: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")
    start: time = time(9)
    end: time = time(18)

    @model_validator(mode="after")
    def _ordered(self) -> WorkingHours:
        if self.start >= self.end:
            raise ValueError("working hours need start before end (overnight shifts are not supported)")
        if not self.days:
            raise ValueError("working hours need at least one day")
        return self


class Member(Strict):
    """A person in a pool. Omitted time zone and hours come from the team."""

    id: Name
    name: Name
    weight: int = Field(default=1, ge=1, le=100)  # share of the rotation: 2 gets twice a 1's leads
    daily_cap: int | None = Field(default=None, ge=1)  # leads per local day, across pools
    timezone: TimeZone | None = None
    hours: WorkingHours | None = None
    out_of_office_until: date | None = None  # back on this (local) date; the CRM may override
    active: bool = True
    notify: Name | None = None  # a channel that reaches this person (a Slack DM webhook...)
    email: str | None = None  # their address: the Reply-To of first-touch emails sent for them


class Team(Strict):
    name: Name
    members: tuple[Member, ...] = Field(min_length=1)
    timezone: TimeZone = "UTC"
    hours: WorkingHours | None = None  # None: the team takes leads around the clock
    manager: Name | None = None  # who hears about SLA breaches (a person's name, for messages)
    manager_notify: Name | None = None  # the channel that reaches the manager

    def zone_of(self, member: Member) -> str:
        return member.timezone or self.timezone

    def hours_of(self, member: Member) -> WorkingHours | None:
        return member.hours or self.hours


Scalar = str | int | float | bool


class Condition(Strict):
    """All given fields must match; an empty condition matches every lead. Lists mean "any of"."""

    countries: tuple[Country, ...] = ()
    statuses: tuple[Keyword, ...] = ()
    tiers: tuple[Keyword, ...] = ()
    sources: tuple[Keyword, ...] = ()
    verticals: tuple[Name, ...] = ()
    customer: bool | None = None  # an existing customer (exclusions.customers or the CRM says so)
    regions: tuple[Name, ...] = ()  # named country groups (RoutingConfig.regions)
    employees: Range | None = None  # the company's size as judged (the lead's or enrichment's)
    languages: tuple[Keyword, ...] = ()  # the lead's `language` attribute (forms send it)
    score: Range | None = None  # 0-100
    personas: tuple[Name, ...] = ()  # the matched persona
    # Escape hatch: a dotted path into lead / enrichment / evaluation -> a value or any of values,
    # e.g. {"lead.attributes.campaign": "spring", "enrichment.title.seniority": ["vp", "c_level"]}.
    field: dict[str, Scalar | tuple[Scalar, ...]] = Field(default_factory=dict)

    @property
    def is_catch_all(self) -> bool:
        given = (
            self.countries, self.statuses, self.tiers, self.sources, self.verticals, self.regions,
            self.languages, self.personas, self.field,
        )  # fmt: skip
        return not any(given) and self.customer is None and self.employees is None and self.score is None

    @model_validator(mode="after")
    def _paths(self) -> Condition:
        bad = [p for p in self.field if p.split(".", 1)[0] not in ("lead", "enrichment", "evaluation")]
        if bad:
            raise ValueError(f"field paths start with lead., enrichment. or evaluation.: {', '.join(bad)}")
        return self


class Rule(Strict):
    """A routing rule: when the condition holds, send to the owner of the lead's account in the
    CRM, to a team (weighted round robin), to a queue, or to nurture / archive with a reason.
    An account_owner rule that finds no owner passes the lead on to the next rule; so does a
    team rule whose members are all unavailable, unless it names an overflow_queue."""

    id: Name
    description: str | None = None
    when: Condition = Condition()
    account_owner: bool = False
    team: Name | None = None
    queue: Name | None = None
    nurture: str | None = None  # the reason, e.g. "too small for sales"
    archive: str | None = None  # the reason, e.g. "spam"
    overflow_queue: Name | None = None  # team rules: where a lead goes when nobody can take it
    notify: tuple[Name, ...] = ()  # "owner" and/or channel names
    draft_email: bool = False  # store a first-touch email draft for the owner to approve
    auto_send: bool = False  # send the draft without approval (needs a configured sender)

    @model_validator(mode="after")
    def _one_action(self) -> Rule:
        actions = (
            self.account_owner,
            self.team is not None,
            self.queue is not None,
            self.nurture is not None,
            self.archive is not None,
        )
        if sum(actions) != 1:
            raise ValueError(
                "a rule needs exactly one of 'account_owner', 'team', 'queue', 'nurture' or 'archive'"
            )
        if self.overflow_queue is not None and self.team is None:
            raise ValueError("'overflow_queue' only applies to a 'team' rule")
        if self.auto_send and not self.draft_email:
            raise ValueError("'auto_send' needs 'draft_email: true'")
        return self


class SlaTarget(Strict):
    minutes: int = Field(ge=1)
    working_hours: bool = True  # the clock runs only inside the owner's working hours


class SlaConfig(Strict):
    """First-touch deadlines by tier, and what happens when one passes."""

    tiers: dict[Keyword, SlaTarget] = Field(default_factory=dict)
    reassign: bool = True  # to the next available person in the pool
    notify_manager: bool = True
    check_every_seconds: float = Field(default=30, gt=0)


class Channel(Strict):
    """Where notifications go: a Slack-compatible incoming webhook, or any HTTPS endpoint signed as
    Standard Webhooks (the secret in LEADFLOW_NOTIFY_SECRETS; a URL there overrides this one)."""

    kind: Literal["slack", "webhook"]
    url: str | None = None


class LlmConfig(Strict):
    """An OpenAI-compatible chat-completions endpoint that writes the angle and next step.
    Off unless enabled: no lead data leaves otherwise. Key: LEADFLOW_LLM_API_KEY."""

    enabled: bool = False
    url: str = "http://127.0.0.1:11434/v1/chat/completions"
    model: str = "llama3.1"
    timeout_seconds: float = Field(default=5, gt=0, le=60)


class BriefingConfig(Strict):
    template: str = "briefing.md.j2"  # in the config directory
    max_chars: int = Field(default=1500, ge=200)  # longer is cut: it must read in 30 seconds
    record_url: str = "http://127.0.0.1:8000/v1/leads/{lead_id}"  # the CRM link in notifications
    llm: LlmConfig = LlmConfig()


class EmailConfig(Strict):
    """Sending auto_send drafts (the SMTP server is LEADFLOW_SMTP_URL): who they come from, and how
    many tries a draft gets before it is marked failed."""

    from_address: str | None = None  # e.g. sales@example.com; unset: nothing is sent
    max_attempts: int = Field(default=5, ge=1, le=20)


class RoutingConfig(Strict):
    teams: tuple[Team, ...] = Field(min_length=1)
    rules: tuple[Rule, ...] = Field(min_length=1)
    regions: dict[Name, tuple[Country, ...]] = Field(default_factory=dict)
    channels: dict[Name, Channel] = Field(default_factory=dict)
    sla: SlaConfig = SlaConfig()
    review_queues: tuple[Name, ...] = ("SDR review",)
    # Where a lead goes when its team rule finds nobody available and no later rule takes it.
    overflow_queue: Name = "Unassigned"
    briefing: BriefingConfig = BriefingConfig()
    email: EmailConfig = EmailConfig()

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
            for region in rule.when.regions:
                if region not in self.regions:
                    problems.append((("rules", i, "when", "regions"), f"unknown region '{region}'"))
            for target in rule.notify:
                if target != "owner" and target not in self.channels:
                    problems.append((("rules", i, "notify"), f"unknown channel '{target}'"))
        for i, team in enumerate(self.teams):
            for name in [team.manager_notify, *(m.notify for m in team.members)]:
                if name is not None and name not in self.channels:
                    problems.append((("teams", i), f"team '{team.name}' names unknown channel '{name}'"))
        last = self.rules[-1]
        if not last.when.is_catch_all or last.account_owner:
            problems.append(
                (
                    ("rules", len(self.rules) - 1, "when"),
                    "the last rule must be a fallback with no 'when' condition",
                )
            )
        return problems

    def team(self, name: str) -> Team:
        return next(t for t in self.teams if t.name == name)

    def member(self, member_id: str) -> tuple[Team, Member] | None:
        """The first team that lists this person, with their entry."""
        return next(((t, m) for t in self.teams for m in t.members if m.id == member_id), None)


class LeadflowConfig(Strict):
    """Everything under deploy/config/, with the content hash that every decision records."""

    version: str
    icp: IcpConfig
    routing: RoutingConfig
    sources: SourcesConfig = SourcesConfig()
    enrichment: EnrichmentConfig = EnrichmentConfig()
    crm: CrmConfig = CrmConfig()
    model: ModelConfig = ModelConfig()
