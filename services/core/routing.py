"""Routing: the first rule that matches decides; a team rule takes the next person in rotation."""

from __future__ import annotations

from schemas.config import Condition, RoutingConfig, Rule
from schemas.decision import Evaluation, RoutingDecision
from schemas.lead import Lead


def _matches(when: Condition, lead: Lead, evaluation: Evaluation) -> bool:
    checks = (
        (when.countries, (evaluation.country or lead.company.country or "").upper()),
        (when.statuses, evaluation.status.value),
        (when.tiers, evaluation.tier.lower()),
        (when.sources, lead.source.lower()),
        (when.verticals, evaluation.icp.matched or ""),
    )
    if when.customer is not None and when.customer != evaluation.customer:
        return False
    return all(not allowed or value in allowed for allowed, value in checks)


def match_rule(
    lead: Lead, evaluation: Evaluation, config: RoutingConfig, account_owner: str | None = None
) -> Rule:
    """The first rule whose condition holds and whose action can apply (an account_owner rule
    needs a known owner). Config validation guarantees a catch-all last rule."""
    return next(
        r
        for r in config.rules
        if _matches(r.when, lead, evaluation) and (not r.account_owner or account_owner is not None)
    )


def assign(rule: Rule, config: RoutingConfig, turn: int, account_owner: str | None = None) -> RoutingDecision:
    """Apply a matched rule. ``turn`` is the team's rotation counter, kept by the caller's store."""
    if rule.account_owner and account_owner is not None:
        return RoutingDecision(
            rule_id=rule.id, owner=account_owner, reason=f"rule '{rule.id}': the account's owner in the CRM"
        )
    if rule.queue is not None:
        return RoutingDecision(
            rule_id=rule.id,
            queue=rule.queue,
            reason=f"rule '{rule.id}' sends it to queue '{rule.queue}'",
        )
    assert rule.team is not None  # a rule has exactly one action (config validation)
    team = config.team(rule.team)
    member = team.members[turn % len(team.members)]
    return RoutingDecision(
        rule_id=rule.id,
        owner=member.id,
        team=team.name,
        reason=f"rule '{rule.id}': round robin in '{team.name}', {member.name} was next",
    )
