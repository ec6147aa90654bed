"""Routing: the first rule that matches decides; a team rule takes the next person in rotation."""

from __future__ import annotations

from schemas.config import Condition, RoutingConfig, Rule
from schemas.decision import Evaluation, RoutingDecision
from schemas.lead import Lead


def _matches(when: Condition, lead: Lead, evaluation: Evaluation) -> bool:
    checks = (
        (when.countries, (lead.company.country or "").upper()),
        (when.statuses, evaluation.status.value),
        (when.tiers, evaluation.tier.lower()),
        (when.sources, lead.source.lower()),
        (when.verticals, evaluation.icp.matched or ""),
    )
    return all(not allowed or value in allowed for allowed, value in checks)


def match_rule(lead: Lead, evaluation: Evaluation, config: RoutingConfig) -> Rule:
    """The first rule whose condition holds. Config validation guarantees a catch-all last rule."""
    return next(r for r in config.rules if _matches(r.when, lead, evaluation))


def assign(rule: Rule, config: RoutingConfig, turn: int) -> RoutingDecision:
    """Apply a matched rule. ``turn`` is the team's rotation counter, kept by the caller's store."""
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
