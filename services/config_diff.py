"""What a config change would do to past leads: replay each one through the old and the new
config with the production decision (services.model.policy ``decide``, then routing) and
compare status, tier, score, rule and owner.

Pure: the caller loads the configs, the history and the model; nothing here reads a file or
the clock. Each config routes from its own fresh in-memory rotation state, advanced lead by
lead as the store would be, so the two sides are comparable. A person picked by round robin
depends on the order leads arrive in: a change of team or queue ("destination") is a real
effect of the change, a different person in the same team ("person only") may just be a turn
shifted by an earlier lead.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from schemas.config import LeadflowConfig
from schemas.decision import Evaluation, RotationState, RoutingDecision
from services.core.routing import route
from services.logs import redact
from services.model.policy import Case, decide
from services.model.scoring import Model

# The kinds of change, in the order reports list them.
KINDS = ("status", "tier", "score", "rule", "owner", "destination", "person_only")


@dataclass(frozen=True)
class Outcome:
    """One lead's decision under one config."""

    status: str
    tier: str
    score: int
    rule_id: str
    owner: str | None
    destination: str  # "team 'X'", "queue 'Y'", "account owner", "nurture" or "archive"
    reasons: tuple[str, ...]  # the evaluation's reasons and the routing reason

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "tier": self.tier,
            "score": self.score,
            "rule_id": self.rule_id,
            "owner": self.owner,
            "destination": self.destination,
        }


@dataclass(frozen=True)
class LeadDiff:
    lead_id: str
    company: str | None  # never the email or phone: examples are printed
    before: Outcome
    after: Outcome

    @property
    def changes(self) -> tuple[str, ...]:
        b, a = self.before, self.after
        found = {
            "status": b.status != a.status,
            "tier": b.tier != a.tier,
            "score": b.score != a.score,
            "rule": b.rule_id != a.rule_id,
            "owner": b.owner != a.owner,
            "destination": b.destination != a.destination,
            "person_only": b.destination == a.destination and b.owner != a.owner,
        }
        return tuple(k for k in KINDS if found[k])

    def as_dict(self) -> dict[str, Any]:
        before, after = set(self.before.reasons), set(self.after.reasons)
        return {
            "lead_id": self.lead_id,
            "company": self.company,
            "changes": list(self.changes),
            "before": self.before.as_dict(),
            "after": self.after.as_dict(),
            "reasons_before_only": [redact(r) for r in self.before.reasons if r not in after],
            "reasons_after_only": [redact(r) for r in self.after.reasons if r not in before],
        }


@dataclass(frozen=True)
class RuleRow:
    rule_id: str
    before: int  # leads it decided under the old config
    after: int
    moved_in: int  # decided by it now, by another rule before
    moved_out: int


@dataclass(frozen=True)
class DiffReport:
    leads: list[LeadDiff]
    changed: dict[str, int]  # kind -> leads with that change; "any" for at least one
    transitions: dict[str, Counter[tuple[str, str]]]  # status|tier|destination -> (before, after) -> n
    rules: list[RuleRow]
    examples: dict[str, list[LeadDiff]] = field(default_factory=dict)  # kind -> first few

    def as_dict(self) -> dict[str, Any]:
        return {
            "leads": len(self.leads),
            "changed": self.changed,
            "transitions": {
                what: [{"before": b, "after": a, "leads": n} for (b, a), n in counts.most_common()]
                for what, counts in self.transitions.items()
            },
            "rules": [vars(row) for row in self.rules],
            "examples": {kind: [d.as_dict() for d in found] for kind, found in self.examples.items()},
        }


def destination(decision: RoutingDecision) -> str:
    """Where a lead went, without the person: what a change of rules moves deliberately."""
    if decision.team is not None:
        return f"team '{decision.team}'" + (f" -> queue '{decision.queue}'" if decision.queue else "")
    if decision.queue is not None:
        return f"queue '{decision.queue}'"
    if decision.disposition is not None:
        return decision.disposition
    return "account owner"


class _Rotation:
    """The store's rotation state, in memory: each Take is applied as the store would."""

    def __init__(self) -> None:
        self.turns: dict[str, int] = {}
        self.assigned: dict[tuple[str, str], int] = {}

    def state(self) -> RotationState:
        return RotationState(turns=self.turns, assigned=self.assigned)


def replay(cases: Sequence[Case], config: LeadflowConfig, model: Model | None = None) -> list[Outcome]:
    """Each lead's outcome under ``config``, in order, from a fresh rotation state."""
    rotation = _Rotation()
    outcomes = []
    for case, (evaluation, _) in zip(cases, decide(cases, config, model), strict=True):
        enrichment = case.enrichment
        account_owner = enrichment.account.owner if enrichment and enrichment.account else None
        routed = route(
            case.lead,
            evaluation,
            config.routing,
            now=case.now,
            enrichment=enrichment,
            account_owner=account_owner,
            state=rotation.state(),
        )
        if routed.take is not None:
            take = routed.take
            rotation.turns[take.pool] = take.turn
            key = (take.member, take.day)
            rotation.assigned[key] = rotation.assigned.get(key, 0) + 1
        outcomes.append(_outcome(evaluation, routed.decision))
    return outcomes


def _outcome(evaluation: Evaluation, decision: RoutingDecision) -> Outcome:
    return Outcome(
        status=evaluation.status.value,
        tier=evaluation.tier,
        score=evaluation.score,
        rule_id=decision.rule_id,
        owner=decision.owner,
        destination=destination(decision),
        reasons=(*evaluation.reasons, decision.reason),
    )


def diff(
    before: LeadflowConfig,
    after: LeadflowConfig,
    cases: Sequence[Case],
    *,
    model: Model | None = None,
    examples: int = 3,
) -> DiffReport:
    """Replay ``cases`` (in arrival order) through both configs and compare them."""
    old, new = replay(cases, before, model), replay(cases, after, model)
    leads = [
        LeadDiff(c.lead_id, c.lead.company.name or c.lead.company.domain, b, a)
        for c, b, a in zip(cases, old, new, strict=True)
    ]
    return summarize(
        leads, [r.id for r in before.routing.rules], [r.id for r in after.routing.rules], examples
    )


def summarize(
    leads: list[LeadDiff], old_rules: Sequence[str], new_rules: Sequence[str], examples: int = 3
) -> DiffReport:
    """The counts, transition tables, per-rule table and examples of a list of lead diffs."""
    changed = Counter({kind: 0 for kind in (*KINDS, "any")})
    found: dict[str, list[LeadDiff]] = {kind: [] for kind in KINDS}
    for lead in leads:
        kinds = lead.changes
        changed.update(kinds)
        changed["any"] += bool(set(kinds) - {"score"})  # a score moving alone changes no hand-off
        for kind in kinds:
            if len(found[kind]) < examples:
                found[kind].append(lead)
    transitions = {
        "status": Counter((d.before.status, d.after.status) for d in leads),
        "tier": Counter((d.before.tier, d.after.tier) for d in leads),
        "destination": Counter((d.before.destination, d.after.destination) for d in leads),
    }
    return DiffReport(
        leads, dict(changed), transitions, _rule_table(leads, old_rules, new_rules),
        {k: v for k, v in found.items() if v},
    )  # fmt: skip


def _rule_table(leads: list[LeadDiff], old_rules: Sequence[str], new_rules: Sequence[str]) -> list[RuleRow]:
    before = Counter(d.before.rule_id for d in leads)
    after = Counter(d.after.rule_id for d in leads)
    moved_in = Counter(d.after.rule_id for d in leads if d.before.rule_id != d.after.rule_id)
    moved_out = Counter(d.before.rule_id for d in leads if d.before.rule_id != d.after.rule_id)
    # Old rules in their order, then rules only the new config has, then "overflow" when used.
    ids = list(dict.fromkeys([*old_rules, *new_rules, *before, *after]))
    return [RuleRow(i, before[i], after[i], moved_in[i], moved_out[i]) for i in ids]
