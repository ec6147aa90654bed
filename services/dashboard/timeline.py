"""A lead's timeline: what happened to it, in order, from what the store kept. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from schemas.events import LeadRouted


@dataclass(frozen=True)
class Step:
    at: datetime | None  # None: not timestamped on its own (an enrichment call inside a stage)
    kind: str  # received | enrichment | evaluation | routing | review | crm | sla | notification
    title: str
    details: tuple[str, ...] = field(default=())


def _decision_steps(routed: LeadRouted, first: bool) -> list[Step]:
    ev, rt = routed.evaluation, routed.routing
    steps = []
    if first:
        steps.append(Step(routed.received_at, "received", f"received from {routed.lead.source}"))
        calls = routed.enrichment.calls if routed.enrichment else ()
        for call in calls:
            steps.append(
                Step(None, "enrichment", f"enrichment: {call.provider}",
                     (f"outcome {call.outcome}", f"{call.ms:.0f} ms", f"cost {call.cost:g}"))
            )  # fmt: skip
        steps.append(
            Step(routed.decided_at, "evaluation",
                 f"evaluated: {ev.status.value}, tier {ev.tier}, score {ev.score}", tuple(ev.reasons))
        )  # fmt: skip
    kind = "routing" if first else ("review" if rt.rule_id == "review" else "routing")
    where = rt.owner or (f"queue {rt.queue}" if rt.queue else "nobody")
    title = f"routed by rule '{rt.rule_id}' to {where}"
    if not first:
        title = f"new decision ({ev.status.value}, tier {ev.tier}): rule '{rt.rule_id}' to {where}"
    steps.append(Step(routed.decided_at, kind, title, (rt.reason, *rt.path)))
    return steps


def timeline(
    history: Sequence[LeadRouted],
    lead: dict[str, Any],
    slas: Sequence[dict[str, Any]] = (),
    notifications: Sequence[dict[str, Any]] = (),
) -> list[Step]:
    """Every step of the lead: its decisions, the CRM write of the current one, deadlines and
    notifications. Steps without their own time keep their place after the previous one."""
    steps: list[Step] = []
    for i, routed in enumerate(history):
        steps.extend(_decision_steps(routed, first=i == 0))
    if lead.get("written_at") is not None:
        steps.append(
            Step(lead["written_at"], "crm", f"written to {lead.get('crm')}",
                 (f"record {lead.get('crm_record_id')}", f"event {lead.get('event_id')}"))
        )  # fmt: skip
    else:
        steps.append(Step(None, "crm", "not written to the CRM yet"))
    for sla in slas:
        detail = [f"owner {sla['owner']}", f"due {sla['due_at']:%Y-%m-%d %H:%M} UTC"]
        if sla.get("touched_at"):
            detail.append(f"touched {sla['touched_at']:%Y-%m-%d %H:%M} UTC")
        if sla.get("breached_at"):
            detail.append(f"breached {sla['breached_at']:%Y-%m-%d %H:%M} UTC")
        steps.append(Step(sla["due_at"], "sla", f"first-touch deadline: {sla['state']}", tuple(detail)))
    for n in notifications:
        sent = [f"attempts {n['attempts']}"] + (
            [f"last error: {n['last_error']}"] if n.get("last_error") else []
        )
        steps.append(
            Step(n.get("next_at"), "notification", f"notify {n['channel']}: {n['state']}", tuple(sent))
        )
    return _ordered(steps)


def _ordered(steps: list[Step]) -> list[Step]:
    """Stable sort by time, an untimed step taking the time of the step before it."""
    keyed, last = [], None
    for i, step in enumerate(steps):
        last = step.at or last
        keyed.append((last is None, last, i, step))
    return [s for *_, s in sorted(keyed, key=lambda k: (k[0], k[1] or datetime.min, k[2]))]
