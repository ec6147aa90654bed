"""Routing: rules in order, first match decides; every step is recorded on the decision.

Pure: the caller hands in the clock, the rotation state read from the store, and what the
CRM says about people; ``route`` returns the decision plus the rotation ``Take`` the caller
must commit (compare-and-set) for the decision to stand.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

from schemas.config import RoutingConfig, Rule
from schemas.decision import EmailDraft, Evaluation, OwnerStatus, RotationState, RoutingDecision, Take
from schemas.enrichment import Enrichment
from schemas.lead import Lead
from services.core.conditions import checks
from services.core.hours import add_working_time
from services.core.rotation import local_day, walk


@dataclass(frozen=True)
class Routed:
    decision: RoutingDecision
    take: Take | None = None


def _matches(rule: Rule, lead: Lead, evaluation: Evaluation, config: RoutingConfig,
             enrichment: Enrichment | None = None) -> tuple[bool, str]:  # fmt: skip
    found = checks(rule.when, lead, enrichment, evaluation, config.regions)
    failed = [c.text for c in found if not c.ok]
    if failed:
        return False, "; ".join(failed)
    return True, "; ".join(c.text for c in found) or "no condition"


def match_rule(
    lead: Lead, evaluation: Evaluation, config: RoutingConfig, account_owner: str | None = None
) -> Rule:
    """The first rule whose condition holds and whose action can apply (an account_owner rule
    needs a known owner). Config validation guarantees a catch-all last rule."""
    return next(
        r
        for r in config.rules
        if _matches(r, lead, evaluation, config)[0] and (not r.account_owner or account_owner is not None)
    )


def assign(rule: Rule, config: RoutingConfig, turn: int, account_owner: str | None = None) -> RoutingDecision:
    """Apply a matched rule with a plain turn (no availability): kept for simple callers and tests."""
    if rule.team is not None:
        team = config.team(rule.team)
        member = team.members[turn % len(team.members)]
        return RoutingDecision(
            rule_id=rule.id,
            owner=member.id,
            team=team.name,
            reason=f"rule '{rule.id}': round robin in '{team.name}', {member.name} was next",
        )
    return _plain(rule, account_owner)


def _plain(rule: Rule, account_owner: str | None) -> RoutingDecision:
    """The actions that need no rotation."""
    if rule.account_owner and account_owner is not None:
        return RoutingDecision(
            rule_id=rule.id, owner=account_owner, reason=f"rule '{rule.id}': the account's owner in the CRM"
        )
    if rule.queue is not None:
        return RoutingDecision(
            rule_id=rule.id, queue=rule.queue, reason=f"rule '{rule.id}' sends it to queue '{rule.queue}'"
        )
    kind = "nurture" if rule.nurture is not None else "archive"
    why = rule.nurture if rule.nurture is not None else rule.archive
    return RoutingDecision(rule_id=rule.id, disposition=kind, reason=f"rule '{rule.id}': {kind}, {why}")


def first_touch_due(config: RoutingConfig, tier: str, owner: str | None, start: datetime) -> datetime | None:
    """The SLA deadline for ``owner`` to first touch a lead of ``tier``; None without an SLA."""
    target = config.sla.tiers.get(tier.lower())
    if target is None or owner is None:
        return None
    found = config.member(owner)
    if not target.working_hours or found is None:
        return add_working_time(start, target.minutes, None, "UTC")
    team, member = found
    return add_working_time(start, target.minutes, team.hours_of(member), team.zone_of(member))


def _draft(rule: Rule, lead: Lead, owner: str, config: RoutingConfig) -> EmailDraft:
    found = config.member(owner)
    sender = found[1].name if found else owner
    first = lead.person.first_name or "there"
    company = lead.company.name or lead.company.domain or "your team"
    body = (
        f"Hi {first},\n\nThanks for reaching out about {company}. I'd like to understand what you are"
        f" looking to solve and share how similar teams approach it. Would a 20-minute call this week"
        f" work?\n\nBest,\n{sender}"
    )
    return EmailDraft(subject=f"{company} and Leadflow", body=body, auto_send=rule.auto_send)


def route(
    lead: Lead,
    evaluation: Evaluation,
    config: RoutingConfig,
    *,
    now: datetime,
    enrichment: Enrichment | None = None,
    account_owner: str | None = None,
    state: RotationState | None = None,
    roster: Mapping[str, OwnerStatus] | None = None,
    exclude: Collection[str] = (),
) -> Routed:
    """Try each rule in order; the decision's ``path`` says what happened at every step.

    A team rule whose pool has nobody available goes to its ``overflow_queue`` when it names
    one, else on to the next rule; past the last rule, to ``config.overflow_queue``.
    ``exclude`` keeps people out of every pool (an SLA reassignment skips the late owner).
    """
    state = state or RotationState()
    path: list[str] = []
    for rule in config.rules:
        ok, why = _matches(rule, lead, evaluation, config, enrichment)
        if not ok:
            path.append(f"rule '{rule.id}': no match ({why})")
            continue
        if rule.account_owner and account_owner is None:
            path.append(f"rule '{rule.id}': matched ({why}), but the CRM knows no account owner")
            continue
        if rule.team is None:
            decision = _plain(rule, account_owner)
            path.append(f"rule '{rule.id}': matched ({why}) -> {decision.reason}")
            return Routed(_finish(decision, rule, lead, evaluation, config, now, path))
        team = config.team(rule.team)
        seen = state.turns.get(team.name, 0)
        picked = walk(team, seen, now, state.assigned, roster, exclude)
        described = picked.describe(team)
        if picked.member is None:
            if rule.overflow_queue is not None:
                path.append(
                    f"rule '{rule.id}': matched ({why}); {described} -> queue '{rule.overflow_queue}'"
                )
                decision = RoutingDecision(
                    rule_id=rule.id,
                    queue=rule.overflow_queue,
                    team=team.name,
                    reason=f"rule '{rule.id}': {described}; overflow to queue '{rule.overflow_queue}'",
                )
                return Routed(_finish(decision, rule, lead, evaluation, config, now, path))
            path.append(f"rule '{rule.id}': matched ({why}); {described} -> next rule")
            continue
        path.append(f"rule '{rule.id}': matched ({why}); {described}")
        member = picked.member
        decision = RoutingDecision(
            rule_id=rule.id, owner=member.id, team=team.name, reason=f"rule '{rule.id}': {described}"
        )
        take = Take(team.name, seen, picked.next_turn, member.id, local_day(team, member, now))
        return Routed(_finish(decision, rule, lead, evaluation, config, now, path), take)
    path.append(f"no rule could place it -> queue '{config.overflow_queue}'")
    decision = RoutingDecision(
        rule_id="overflow",
        queue=config.overflow_queue,
        reason=f"nobody available under any rule; queue '{config.overflow_queue}'",
    )
    return Routed(decision.model_copy(update={"path": tuple(path)}))


def _finish(
    decision: RoutingDecision,
    rule: Rule,
    lead: Lead,
    evaluation: Evaluation,
    config: RoutingConfig,
    now: datetime,
    path: list[str],
) -> RoutingDecision:
    owner = decision.owner
    due = first_touch_due(config, evaluation.tier, owner, now)
    if due is not None:
        path.append(f"first touch due {due:%Y-%m-%d %H:%M} UTC (SLA for tier {evaluation.tier})")
    return decision.model_copy(
        update={
            "path": tuple(path),
            "first_touch_due": due,
            "notify": rule.notify,
            "draft": _draft(rule, lead, owner, config) if rule.draft_email and owner else None,
        }
    )
