"""What an SLA breach changes: the lead goes to the next available person in its pool (the late
owner skipped), or stays put when there is no pool or nobody else is free; the manager is told
either way (the caller sends that)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from schemas.config import RoutingConfig
from schemas.decision import OwnerStatus, RotationState, RoutingDecision, Take
from services.core.rotation import local_day, walk
from services.core.routing import Routed, first_touch_due


def reassign(
    late: RoutingDecision,
    tier: str,
    config: RoutingConfig,
    *,
    now: datetime,
    state: RotationState,
    roster: Mapping[str, OwnerStatus] | None = None,
) -> Routed:
    owner = late.owner or "the owner"
    found = config.member(owner)
    late_name = found[1].name if found else owner
    breach = f"first touch overdue: {late_name} did not touch it in time"
    team = next((t for t in config.teams if t.name == late.team), None)
    base = {"notify": ("owner",), "draft": None, "first_touch_due": None}
    if not config.sla.reassign or team is None:
        decision = late.model_copy(update={**base, "reason": f"{breach}; kept, manager notified"})
        return Routed(decision.model_copy(update={"path": (*late.path, decision.reason)}))
    seen = state.turns.get(team.name, 0)
    picked = walk(team, seen, now, state.assigned, roster, exclude={owner})
    if picked.member is None:
        reason = f"{breach}; {picked.describe(team)}, so it stays"
        decision = late.model_copy(update={**base, "reason": reason, "path": (*late.path, reason)})
        return Routed(decision)
    member = picked.member
    reason = f"{breach}; reassigned by {picked.describe(team)}"
    decision = late.model_copy(
        update={
            **base,
            "owner": member.id,
            "reason": reason,
            "path": (*late.path, reason),
            "first_touch_due": first_touch_due(config, tier, member.id, now),
        }
    )
    return Routed(decision, Take(team.name, seen, picked.next_turn, member.id, local_day(team, member, now)))
