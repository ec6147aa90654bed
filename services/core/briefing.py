"""The plain-text briefing an AE reads in 30 seconds."""

from __future__ import annotations

from schemas.decision import Evaluation, RoutingDecision
from schemas.lead import Lead


def briefing(lead: Lead, evaluation: Evaluation, routing: RoutingDecision) -> str:
    person, company = lead.person, lead.company
    who = person.name or "Unknown contact"
    if person.title:
        who += f", {person.title}"
    facts = [
        f"{company.employees} employees" if company.employees is not None else None,
        company.industry,
        company.country,
    ]
    at = company.name or company.domain or "unknown company"
    known = ", ".join(f for f in facts if f)
    lines = [
        f"{who} at {at}" + (f" ({known})" if known else ""),
        f"{evaluation.status.value.replace('_', ' ').capitalize()}, tier {evaluation.tier},"
        f" score {evaluation.score}/100. Source: {lead.source}.",
        "Why:",
        *(f"- {reason}" for reason in evaluation.reasons),
    ]
    if lead.message:
        text = " ".join(lead.message.split())
        lines.append(f'They wrote: "{text[:280]}{"..." if len(text) > 280 else ""}"')
    lines.append(f"Routing: {routing.reason}.")
    lines.append(f"Next step: {evaluation.next_step}")
    return "\n".join(lines)
