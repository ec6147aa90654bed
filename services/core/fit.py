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


def _vertical_misses(company: Company, vertical: Vertical) -> list[str]:
    """What about the company rules out this vertical (empty: it fits)."""
    misses = []
    industry = _norm(company.industry)
    if vertical.industries and not any(_has_word(industry, i) for i in vertical.industries):
        misses.append(f"industry '{company.industry}' is not one of {', '.join(vertical.industries)}")
    if company.employees not in vertical.employees:
        misses.append(f"{company.employees} employees is outside {vertical.employees.describe()}")
    if vertical.countries and (company.country or "").upper() not in vertical.countries:
        misses.append(f"country {company.country} is not in {', '.join(vertical.countries)}")
    return misses


def _describe_fit(company: Company, vertical: Vertical) -> str:
    size = f"{company.employees} employees" if company.employees is not None else "A company"
    industry = (company.industry or "").lower()
    country = (company.country or "").upper()
    criteria = [f"{vertical.employees.describe()} employees"]
    if vertical.countries:
        criteria.append(f"{country} among {len(vertical.countries)} countries")
    return f"{size} in {industry} in {country} fits '{vertical.name}' ({', '.join(criteria)})"


def icp_fit(company: Company, verticals: tuple[Vertical, ...]) -> FitResult:
    """Yes when a vertical matches, no when every vertical is ruled out, else inconclusive."""
    missing = tuple(
        field
        for field, value in (
            ("industry", company.industry),
            ("employees", company.employees),
            ("country", company.country),
        )
        if value is None
    )
    if missing:
        return FitResult(
            status=Fit.INCONCLUSIVE,
            reason=f"cannot judge company fit without {', '.join(missing)}",
            missing=missing,
        )
    closest: tuple[Vertical, list[str]] | None = None
    for vertical in verticals:
        misses = _vertical_misses(company, vertical)
        if not misses:
            return FitResult(status=Fit.YES, matched=vertical.name, reason=_describe_fit(company, vertical))
        if closest is None or len(misses) < len(closest[1]):
            closest = (vertical, misses)
    assert closest is not None  # verticals is never empty (config validation)
    vertical, misses = closest
    return FitResult(
        status=Fit.NO,
        reason=f"no vertical fits; closest '{vertical.name}': {'; '.join(misses)}",
    )


def persona_fit(person: Person, personas: tuple[Persona, ...]) -> FitResult:
    """Yes when the title names a persona's function (and seniority, where one is asked for)."""
    if not person.title:
        return FitResult(status=Fit.INCONCLUSIVE, reason="no job title given", missing=("title",))
    title = _norm(person.title)
    for persona in personas:
        function = next((k for k in persona.title_keywords if _has_word(title, k)), None)
        if function is None:
            continue
        if persona.seniority_keywords and not any(_has_word(title, s) for s in persona.seniority_keywords):
            return FitResult(
                status=Fit.NO,
                matched=persona.name,
                reason=f"'{person.title}' is in {persona.name}'s function but not senior enough",
            )
        return FitResult(
            status=Fit.YES,
            matched=persona.name,
            reason=f"'{person.title}' matches persona '{persona.name}'",
        )
    return FitResult(status=Fit.NO, reason=f"'{person.title}' matches no buyer persona")
