"""The briefing an AE reads in 30 seconds: the facts a template renders (``build_context``),
and the built-in plain text used when the template cannot be rendered (``briefing``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from schemas.decision import Evaluation, RoutingDecision
from schemas.enrichment import Enrichment
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


class Fact(BaseModel):
    model_config = ConfigDict(frozen=True)

    label: str
    value: str
    source: str  # "lead" (they said it) or the enrichment provider that found it
    said: str | None = None  # what the lead had said, when enrichment corrected it


class Signal(BaseModel):
    model_config = ConfigDict(frozen=True)

    when: str  # YYYY-MM-DD, or "" when the activity has no time
    what: str


class BriefingContext(BaseModel):
    """Everything the ops-editable template may use (README: "Briefings" lists these)."""

    model_config = ConfigDict(frozen=True)

    name: str
    title: str | None
    company: str
    facts: tuple[Fact, ...]
    status: str
    tier: str
    score: int
    source: str
    icp_reason: str
    persona_reason: str
    reasons: tuple[str, ...]
    signals: tuple[Signal, ...]
    message: str | None
    missing: tuple[str, ...]
    owner: str | None
    routing: str
    angle: str
    next_step: str
    suggested_by: str  # "template" or "llm"
    first_touch_due: str | None
    # The predictive model's view: filled once a model is trained (None / empty until then).
    model_probability: float | None = None
    model_factors: tuple[str, ...] = ()


_FACTS = (
    ("employees", "employees"),
    ("industry", "industry"),
    ("country", "country"),
    ("revenue", "revenue (USD)"),
    ("domain", "domain"),
)


def _shown(field: str, value: object) -> str:
    return f"{value:,.0f}" if field == "revenue" else str(value)


def _facts(lead: Lead, enrichment: Enrichment | None) -> tuple[Fact, ...]:
    """The company facts the decision judged (the enriched ones, services/core/facts.py), each with
    where it came from; a value enrichment corrected also says what the lead had said."""
    facts = []
    for field, label in _FACTS:
        said = getattr(lead.company, field)
        used = getattr(enrichment.company, field) if enrichment else said
        if used is None:
            continue
        source = "lead"
        if enrichment is not None and (said is None or used != said):
            known = enrichment.provenance.get(f"company.{field}")
            source = known.provider if known else "enrichment"

        corrected = _shown(field, said) if said is not None and used != said else None
        facts.append(Fact(label=label, value=_shown(field, used), source=source, said=corrected))
    return tuple(facts)


def _signals(lead: Lead, limit: int = 5) -> tuple[Signal, ...]:
    dated = sorted(lead.activities, key=lambda a: (a.at is None, a.at), reverse=False)
    recent = [a for a in dated if a.at is not None][-limit:] or list(dated[:limit])
    return tuple(
        Signal(
            when=a.at.date().isoformat() if a.at else "",
            what=f"{a.type.replace('_', ' ')}" + (f" {a.url}" if a.url else ""),
        )
        for a in recent
    )


def default_angle(lead: Lead, evaluation: Evaluation) -> str:
    """A suggested opening when no LLM writes one: their own words first, else the fit."""
    if lead.message:
        return "Open with what they asked for in their message, then qualify budget and timing."
    if evaluation.icp.matched:
        return f"Lead with how teams in '{evaluation.icp.matched}' use us; ask about their current process."
    return "Ask one qualifying question about their need before pitching."


def build_context(
    lead: Lead,
    enrichment: Enrichment | None,
    evaluation: Evaluation,
    routing: RoutingDecision,
    *,
    owner_name: str | None = None,
    angle: str | None = None,
    next_step: str | None = None,
    suggested_by: str = "template",
    model_probability: float | None = None,
    model_factors: tuple[str, ...] = (),
) -> BriefingContext:
    company = lead.company.name or lead.company.domain
    if company is None and enrichment is not None:
        company = enrichment.company.name or enrichment.company.domain
    message = " ".join(lead.message.split()) if lead.message else None
    due = routing.first_touch_due
    return BriefingContext(
        name=lead.person.name or "Unknown contact",
        title=lead.person.title,
        company=company or "unknown company",
        facts=_facts(lead, enrichment),
        status=evaluation.status.value.replace("_", " "),
        tier=evaluation.tier,
        score=evaluation.score,
        source=lead.source,
        icp_reason=evaluation.icp.reason,
        persona_reason=evaluation.persona.reason,
        reasons=evaluation.reasons,
        signals=_signals(lead),
        message=(message[:280] + ("..." if len(message) > 280 else "")) if message else None,
        missing=evaluation.missing,
        owner=owner_name or routing.owner,
        routing=routing.reason,
        angle=angle or default_angle(lead, evaluation),
        next_step=next_step or evaluation.next_step,
        suggested_by=suggested_by,
        first_touch_due=f"{due:%Y-%m-%d %H:%M} UTC" if due else None,
        model_probability=model_probability,
        model_factors=model_factors,
    )
