"""ICP fit of the company and persona fit of the person, each with a readable reason."""

from __future__ import annotations

import re

from schemas.config import Persona, Vertical
from schemas.decision import Fit, FitResult
from schemas.lead import Company, Person


def _norm(text: str | None) -> str:
    return re.sub(r"[^a-z0-9]+", " ", (text or "").lower()).strip()


def _has_word(haystack: str, keyword: str) -> bool:
    return re.search(rf"\b{re.escape(_norm(keyword))}\b", haystack) is not None


def _vertical_misses(company: Company, vertical: Vertical) -> tuple[list[str], list[str]]:
    """What rules this vertical out, and which fields it asks about that the company lacks."""
    misses: list[str] = []
    unknown: list[str] = []
    if vertical.industries:
        industry = _norm(company.industry)
        if company.industry is None:
            unknown.append("industry")
        elif not any(_has_word(industry, i) for i in vertical.industries):
            misses.append(f"industry '{company.industry}' is not one of {', '.join(vertical.industries)}")
    if vertical.employees.min is not None or vertical.employees.max is not None:
        if company.employees is None:
            unknown.append("employees")
        elif company.employees not in vertical.employees:
            misses.append(f"{company.employees} employees is outside {vertical.employees.describe()}")
    if vertical.countries:
        if company.country is None:
            unknown.append("country")
        elif company.country.upper() not in vertical.countries:
            misses.append(f"country {company.country} is not in {', '.join(vertical.countries)}")
    return misses, unknown


def _describe_fit(company: Company, vertical: Vertical) -> str:
    size = f"{company.employees} employees" if company.employees is not None else "A company"
    industry = (company.industry or "").lower()
    country = (company.country or "").upper()
    criteria = [f"{vertical.employees.describe()} employees"]
    if vertical.countries:
        criteria.append(f"{country} among {len(vertical.countries)} countries")
    return f"{size} in {industry} in {country} fits '{vertical.name}' ({', '.join(criteria)})"


def icp_fit(company: Company, verticals: tuple[Vertical, ...]) -> FitResult:
    """Yes when a vertical matches; no when what we know rules out every vertical;
    inconclusive when a vertical could still match but a field it needs is missing."""
    judged = [(vertical, *_vertical_misses(company, vertical)) for vertical in verticals]
    for vertical, misses, unknown in judged:
        if not misses and not unknown:
            return FitResult(status=Fit.YES, matched=vertical.name, reason=_describe_fit(company, vertical))
    possible = [(vertical, unknown) for vertical, misses, unknown in judged if not misses]
    if possible:
        missing = tuple(f for f in ("industry", "employees", "country") if any(f in u for _, u in possible))
        names = ", ".join(f"'{v.name}'" for v, _ in possible[:3])
        return FitResult(
            status=Fit.INCONCLUSIVE,
            reason=f"could fit {names}, but {', '.join(missing)} unknown",
            missing=missing,
        )
    vertical, misses, _ = min(judged, key=lambda j: len(j[1]))
    return FitResult(
        status=Fit.NO, reason=f"no vertical fits; closest '{vertical.name}': {'; '.join(misses)}"
    )


def persona_fit(person: Person, personas: tuple[Persona, ...]) -> FitResult:
    """Yes when the title names a persona's function (and seniority, where one is asked for).

    Every persona is tried: a title too junior for one may still fit another.
    """
    if not person.title:
        return FitResult(status=Fit.INCONCLUSIVE, reason="no job title given", missing=("title",))
    title = _norm(person.title)
    too_junior: Persona | None = None
    for persona in personas:
        if not any(_has_word(title, k) for k in persona.title_keywords):
            continue
        if persona.seniority_keywords and not any(_has_word(title, s) for s in persona.seniority_keywords):
            too_junior = too_junior or persona
            continue
        return FitResult(
            status=Fit.YES,
            matched=persona.name,
            reason=f"'{person.title}' matches persona '{persona.name}'",
        )
    if too_junior is not None:
        return FitResult(
            status=Fit.NO,
            matched=too_junior.name,
            reason=f"'{person.title}' is in {too_junior.name}'s function but not senior enough",
        )
    return FitResult(status=Fit.NO, reason=f"'{person.title}' matches no buyer persona")
