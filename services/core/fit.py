"""ICP fit of the company and persona fit of the person, each with a readable reason."""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

from schemas.config import IcpConfig, Persona, Range, Vertical
from schemas.decision import Fit, FitResult
from schemas.enrichment import CompanyFacts, TitleFacts
from schemas.lead import Person
from services.core.memo import Bounded, per_config

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


@dataclass(frozen=True, slots=True)
class _Vertical:
    """A vertical's tests, prepared once per config: a pattern, sets, plain bounds."""

    vertical: Vertical
    industries: re.Pattern[str] | None
    employees: Range | None  # None: any size
    revenue: Range | None
    countries: frozenset[str]
    technologies: frozenset[str]


@per_config
def _verticals(icp: IcpConfig) -> tuple[_Vertical, ...]:
    return tuple(
        _Vertical(
            vertical=v,
            industries=_any_pattern(v.industries) if v.industries else None,
            employees=v.employees if _bounded(v.employees) else None,
            revenue=v.revenue if _bounded(v.revenue) else None,
            countries=frozenset(v.countries),
            technologies=frozenset(norm(t) for t in v.technologies),
        )
        for v in icp.verticals
    )


@per_config
def _industry_memo(icp: IcpConfig) -> Bounded:
    return Bounded()


def _industry_fits(industry: str, verticals: tuple[_Vertical, ...], icp: IcpConfig) -> tuple[bool, ...]:
    """Per vertical, whether it takes this industry: industries repeat far more than companies."""
    memo = _industry_memo(icp)
    hit = memo.get(industry)
    if isinstance(hit, tuple):
        return hit
    text = norm(industry)
    fits = tuple(v.industries is None or v.industries.search(text) is not None for v in verticals)
    return memo.remember(industry, fits)


def _check(
    company: CompanyFacts, v: _Vertical, industry_fits: bool | None, country: str | None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Which criteria rule this vertical out, and which fields it asks about that the company
    lacks. ``industry_fits`` is None when the company's industry is unknown; ``country`` is
    upper-cased."""
    misses: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
    if v.industries is not None:
        if industry_fits is None:
            unknown += ("industry",)
        elif not industry_fits:
            misses += ("industry",)
    if v.employees is not None:
        if company.employees is None:
            unknown += ("employees",)
        elif company.employees not in v.employees:
            misses += ("employees",)
    # Revenue and technologies are checked when known: few leads state them, and size,
    # industry and country already decide whether a company can fit.
    if v.revenue is not None and company.revenue is not None and int(company.revenue) not in v.revenue:
        misses += ("revenue",)
    if v.countries:
        if country is None:
            unknown += ("country",)
        elif country not in v.countries:
            misses += ("country",)
    if (
        v.technologies
        and company.technologies
        and v.technologies.isdisjoint(norm(t) for t in company.technologies)
    ):
        misses += ("technologies",)
    return misses, unknown


def _miss_text(miss: str, company: CompanyFacts, vertical: Vertical) -> str:
    if miss == "industry":
        return f"industry '{company.industry}' is not one of {', '.join(vertical.industries)}"
    if miss == "employees":
        return f"{company.employees} employees is outside {vertical.employees.describe()}"
    if miss == "revenue":
        return f"revenue {_money(company.revenue or 0)} is outside the range"
    if miss == "country":
        return f"country {company.country} is not in {', '.join(vertical.countries)}"
    return f"uses none of {', '.join(vertical.technologies)}"


def _describe_fit(company: CompanyFacts, vertical: Vertical) -> str:
    size = f"{company.employees} employees" if company.employees is not None else "A company"
    industry = (company.industry or "").lower()
    country = (company.country or "").upper()
    criteria = [f"{vertical.employees.describe()} employees"] if _bounded(vertical.employees) else []
    if vertical.countries:
        criteria.append(f"{country} among {len(vertical.countries)} countries")
    return f"{size} in {industry} in {country} fits '{vertical.name}' ({', '.join(criteria) or 'any size'})"


_ASKED = ("industry", "employees", "country")  # the fields a missing fact is named by, in order


@functools.lru_cache(maxsize=4096)
def _inconclusive(names: tuple[str, ...], missing: tuple[str, ...]) -> FitResult:
    """One result per (verticals, missing fields): a FitResult is immutable, and these repeat."""
    named = ", ".join(f"'{n}'" for n in names)
    reason = f"could fit {named}, but {', '.join(missing)} unknown"
    return FitResult(status=Fit.INCONCLUSIVE, reason=reason, missing=missing)


def icp_fit(company: CompanyFacts, icp: IcpConfig) -> tuple[FitResult, Vertical | None]:
    """Yes when a vertical matches; no when what we know rules out every vertical;
    inconclusive when a vertical could still match but a field it needs is missing."""
    possible: list[tuple[Vertical, tuple[str, ...]]] = []
    closest: tuple[Vertical, tuple[str, ...]] | None = None
    verticals = _verticals(icp)
    industry = company.industry
    fits: tuple[bool | None, ...] = (
        (None,) * len(verticals) if industry is None else _industry_fits(industry, verticals, icp)
    )
    country = company.country.upper() if company.country is not None else None
    for v, industry_fits in zip(verticals, fits, strict=True):
        misses, unknown = _check(company, v, industry_fits, country)
        if misses:
            if closest is None or len(misses) < len(closest[1]):
                closest = (v.vertical, misses)
        elif unknown:
            possible.append((v.vertical, unknown))
        else:
            reason = _describe_fit(company, v.vertical)
            return FitResult(status=Fit.YES, matched=v.vertical.name, reason=reason), v.vertical
    if possible:
        missing = tuple(f for f in _ASKED if any(f in u for _, u in possible))
        return _inconclusive(tuple(v.name for v, _ in possible[:3]), missing), None
    assert closest is not None  # a config has at least one vertical
    vertical, misses = closest
    texts = "; ".join(_miss_text(m, company, vertical) for m in misses)
    return FitResult(status=Fit.NO, reason=f"no vertical fits; closest '{vertical.name}': {texts}"), None


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


@per_config
def _persona_memo(icp: IcpConfig) -> Bounded:
    return Bounded()


def judge_persona(
    person: Person, facts: TitleFacts | None, icp: IcpConfig, vertical: Vertical | None
) -> FitResult:
    """``persona_fit`` against the personas ``vertical`` names, remembered per title and facts:
    titles repeat far more than companies do, and a FitResult is immutable."""
    key = (person.title, facts.function if facts else None, facts.seniority if facts else None, facts is None)
    memo = _persona_memo(icp)
    hit = memo.get((key, vertical.name if vertical else None))
    if isinstance(hit, FitResult):
        return hit
    result = persona_fit(person, facts, icp.personas_for(vertical), vertical)
    return memo.remember((key, vertical.name if vertical else None), result)
