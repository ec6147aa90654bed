"""ICP fit of the company and persona fit of the person, each with a readable reason."""

from __future__ import annotations

import functools
import re
import unicodedata

from schemas.config import IcpConfig, Persona, Range, Vertical
from schemas.decision import Fit, FitResult
from schemas.enrichment import CompanyFacts, TitleFacts
from schemas.lead import Person

_NON_WORD = re.compile(r"[^a-z0-9]+")


@functools.lru_cache(maxsize=65_536)
def norm(text: str | None) -> str:
    """Lower-case ASCII words: "Étudiant(e)" -> "etudiant e", so keywords match across accents."""
    folded = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode()
    return _NON_WORD.sub(" ", folded.lower()).strip()


@functools.lru_cache(maxsize=4096)
def _any_pattern(keywords: tuple[str, ...]) -> re.Pattern[str] | None:
    words = sorted({norm(k) for k in keywords} - {""}, key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(map(re.escape, words)) + r")\b") if words else None


def has_any(haystack: str, keywords: tuple[str, ...]) -> bool:
    """Whether the normalised ``haystack`` holds any of ``keywords`` as whole words: one cached
    alternation per keyword list, one search."""
    pattern = _any_pattern(keywords)
    return pattern is not None and pattern.search(haystack) is not None


def _bounded(r: Range) -> bool:
    return r.min is not None or r.max is not None


def _money(value: float) -> str:
    return f"${value / 1e6:,.0f}M" if value >= 1e6 else f"${value:,.0f}"


def _vertical_misses(company: CompanyFacts, vertical: Vertical) -> tuple[list[str], list[str]]:
    """What rules this vertical out, and which fields it asks about that the company lacks."""
    misses: list[str] = []
    unknown: list[str] = []
    if vertical.industries:
        if company.industry is None:
            unknown.append("industry")
        elif not has_any(norm(company.industry), vertical.industries):
            misses.append(f"industry '{company.industry}' is not one of {', '.join(vertical.industries)}")
    if _bounded(vertical.employees):
        if company.employees is None:
            unknown.append("employees")
        elif company.employees not in vertical.employees:
            misses.append(f"{company.employees} employees is outside {vertical.employees.describe()}")
    # Revenue and technologies are checked when known: few leads state them, and size,
    # industry and country already decide whether a company can fit.
    if (
        _bounded(vertical.revenue)
        and company.revenue is not None
        and int(company.revenue) not in vertical.revenue
    ):
        misses.append(f"revenue {_money(company.revenue)} is outside the range")
    if vertical.countries:
        if company.country is None:
            unknown.append("country")
        elif company.country.upper() not in vertical.countries:
            misses.append(f"country {company.country} is not in {', '.join(vertical.countries)}")
    if vertical.technologies and company.technologies:
        used = {norm(t) for t in company.technologies}
        if not used & {norm(t) for t in vertical.technologies}:
            misses.append(f"uses none of {', '.join(vertical.technologies)}")
    return misses, unknown


def _describe_fit(company: CompanyFacts, vertical: Vertical) -> str:
    size = f"{company.employees} employees" if company.employees is not None else "A company"
    industry = (company.industry or "").lower()
    country = (company.country or "").upper()
    criteria = [f"{vertical.employees.describe()} employees"] if _bounded(vertical.employees) else []
    if vertical.countries:
        criteria.append(f"{country} among {len(vertical.countries)} countries")
    return f"{size} in {industry} in {country} fits '{vertical.name}' ({', '.join(criteria) or 'any size'})"


def icp_fit(company: CompanyFacts, icp: IcpConfig) -> tuple[FitResult, Vertical | None]:
    """Yes when a vertical matches; no when what we know rules out every vertical;
    inconclusive when a vertical could still match but a field it needs is missing."""
    judged = [(vertical, *_vertical_misses(company, vertical)) for vertical in icp.verticals]
    for vertical, misses, unknown in judged:
        if not misses and not unknown:
            return FitResult(
                status=Fit.YES, matched=vertical.name, reason=_describe_fit(company, vertical)
            ), vertical
    possible = [(vertical, unknown) for vertical, misses, unknown in judged if not misses]
    if possible:
        order = ("industry", "employees", "country")
        missing = tuple(f for f in order if any(f in u for _, u in possible))
        names = ", ".join(f"'{v.name}'" for v, _ in possible[:3])
        result = FitResult(
            status=Fit.INCONCLUSIVE,
            reason=f"could fit {names}, but {', '.join(missing)} unknown",
            missing=missing,
        )
        return result, None
    vertical, misses, _ = min(judged, key=lambda j: len(j[1]))
    return FitResult(
        status=Fit.NO, reason=f"no vertical fits; closest '{vertical.name}': {'; '.join(misses)}"
    ), None


def _function_fits(persona: Persona, title: str, facts: TitleFacts | None) -> bool:
    if facts is not None and facts.function in persona.functions:
        return True
    return has_any(title, persona.title_keywords)


def _senior_enough(persona: Persona, title: str, facts: TitleFacts | None) -> bool:
    if not (persona.seniorities or persona.seniority_keywords):
        return True
    if facts is not None and facts.seniority in persona.seniorities:
        return True
    if facts is None and not persona.seniority_keywords:
        return True  # no way to judge the level from words: the title keyword is the signal
    return has_any(title, persona.seniority_keywords)


def persona_fit(
    person: Person, facts: TitleFacts | None, personas: tuple[Persona, ...], vertical: Vertical | None = None
) -> FitResult:
    """Yes when the title is in a persona's function at a level it buys at. Every persona is
    tried: a title too junior for one may still fit another."""
    if vertical is not None and not vertical.personas:
        return FitResult(
            status=Fit.INCONCLUSIVE,
            skipped=True,
            reason=f"skipped: '{vertical.name}' names no personas, so anyone there may buy",
        )
    if not person.title:
        return FitResult(status=Fit.INCONCLUSIVE, reason="no job title given", missing=("title",))
    title = norm(person.title)
    too_junior: Persona | None = None
    for persona in personas:
        if not _function_fits(persona, title, facts):
            continue
        if not _senior_enough(persona, title, facts):
            too_junior = too_junior or persona
            continue
        return FitResult(
            status=Fit.YES, matched=persona.name, reason=f"'{person.title}' matches persona '{persona.name}'"
        )
    if too_junior is not None:
        return FitResult(
            status=Fit.NO,
            matched=too_junior.name,
            reason=f"'{person.title}' is in {too_junior.name}'s function but not senior enough",
        )
    return FitResult(status=Fit.NO, reason=f"'{person.title}' matches no buyer persona")
