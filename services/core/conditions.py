"""Rule conditions: each given check with a sentence saying why it held or not (for --explain)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from pydantic import BaseModel

from schemas.config import Condition, Scalar
from schemas.decision import Evaluation
from schemas.enrichment import Enrichment
from schemas.lead import Lead


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    text: str


def resolve(path: str, lead: Lead, enrichment: Enrichment | None, evaluation: Evaluation) -> Any:
    """``lead.company.industry``, ``enrichment.title.seniority``, ``lead.attributes.campaign``..."""
    roots: dict[str, Any] = {"lead": lead, "enrichment": enrichment, "evaluation": evaluation}
    head, *rest = path.split(".")
    value = roots.get(head)
    for part in rest:
        if isinstance(value, BaseModel):
            value = getattr(value, part, None)
        elif isinstance(value, Mapping):
            value = value.get(part)
        else:
            return None
    return value.value if isinstance(value, Enum) else value


def _same(actual: Any, expected: Scalar) -> bool:
    if isinstance(actual, str) and isinstance(expected, str):
        return actual.strip().lower() == expected.strip().lower()
    return bool(actual == expected)


def _in(ok: bool) -> str:
    return "in" if ok else "not in"


def _one_of(name: str, allowed: tuple[str, ...], value: str | None, label: str) -> Check:
    ok = value is not None and value in allowed
    shown = value if value else "unknown"
    return Check(name, ok, f"{label} {shown} {'is' if ok else 'is not'} in {', '.join(allowed)}")


def checks(
    when: Condition,
    lead: Lead,
    enrichment: Enrichment | None,
    evaluation: Evaluation,
    regions: Mapping[str, tuple[str, ...]],
) -> list[Check]:
    """One Check per condition the rule gives; the rule matches when all are ok."""
    found: list[Check] = []
    country = (evaluation.country or lead.company.country or "").upper() or None
    if when.countries:
        found.append(_one_of("countries", when.countries, country, "country"))
    if when.regions:
        members = tuple(c for r in when.regions for c in regions.get(r, ()))
        ok = country is not None and country in members
        text = f"country {country or 'unknown'} {_in(ok)} region {' / '.join(when.regions)}"
        found.append(Check("regions", ok, text))
    if when.statuses:
        found.append(_one_of("statuses", when.statuses, evaluation.status.value, "status"))
    if when.tiers:
        found.append(_one_of("tiers", when.tiers, evaluation.tier.lower(), "tier"))
    if when.sources:
        found.append(_one_of("sources", when.sources, lead.source.lower(), "source"))
    if when.verticals:
        found.append(_one_of("verticals", when.verticals, evaluation.icp.matched, "vertical"))
    if when.personas:
        found.append(_one_of("personas", when.personas, evaluation.persona.matched, "persona"))
    if when.languages:
        raw = lead.attributes.get("language")
        language = str(raw).strip().lower().split("-")[0] if raw else None
        found.append(_one_of("languages", when.languages, language, "language"))
    if when.customer is not None:
        ok = when.customer == evaluation.customer
        found.append(
            Check("customer", ok, "an existing customer" if evaluation.customer else "not a customer")
        )
    if when.employees is not None:
        size = (
            enrichment.company.employees if enrichment and enrichment.company.employees is not None else None
        )
        size = size if size is not None else lead.company.employees
        ok = size in when.employees
        found.append(
            Check(
                "employees",
                ok,
                f"{size if size is not None else 'unknown'} employees "
                f"{'in' if ok else 'not in'} {when.employees.describe()}",
            )
        )
    if when.score is not None:
        ok = evaluation.score in when.score
        found.append(Check("score", ok, f"score {evaluation.score} {_in(ok)} {when.score.describe()}"))
    for path, expected in when.field.items():
        actual = resolve(path, lead, enrichment, evaluation)
        options = expected if isinstance(expected, tuple) else (expected,)
        ok = any(_same(actual, e) for e in options)
        verb = "matches" if ok else "does not match"
        found.append(Check(f"field {path}", ok, f"{path} = {actual!r} {verb} {list(options)}"))
    return found
