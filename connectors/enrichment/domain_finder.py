"""Company name -> domain, through the firmographic table, by fuzzy matching (rapidfuzz).

Only for leads without a corporate email: their address already names the domain more surely
than any guess. Names are compared after normalising away what varies between a form and a
table (case, accents, punctuation, "Inc."/"GmbH"/"S.A."), and a name that matches two companies
equally well matches neither: a wrong account is worse than none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from connectors.enrichment.email import is_corporate
from connectors.enrichment.firmographics import FirmographicTable
from connectors.names import normalise_name
from schemas.enrichment import Enrichment, Patch
from schemas.lead import Lead

AMBIGUITY_MARGIN = 2.0  # two companies within this many points of each other: too close to call
MIN_FUZZY_LENGTH = 4  # "IAG" is one letter-swap from "AIG": names this short must match exactly


@dataclass(frozen=True)
class Match:
    domain: str
    score: float  # 0-100


@dataclass(frozen=True)
class NameIndex:
    """Normalised company names of one table, with their domains."""

    names: list[str]
    domains: list[str]
    exact: dict[str, str | None] = field(default_factory=dict)  # None: two companies share it

    @classmethod
    def from_table(cls, table: FirmographicTable) -> NameIndex:
        names: list[str] = []
        domains: list[str] = []
        exact: dict[str, str | None] = {}
        for raw, domain in table.names:
            name = normalise_name(raw)
            if not name:
                continue
            names.append(name)
            domains.append(domain)
            exact[name] = domain if exact.get(name, domain) == domain else None
        return cls(names, domains, exact)

    def find(
        self, name: str | None, min_score: float, scorer: Callable[..., float] = fuzz.WRatio
    ) -> Match | None:
        """The best match at ``min_score`` or more; None when none, or when two tie."""
        query = normalise_name(name)
        if not query:
            return None
        if query in self.exact:
            domain = self.exact[query]
            return Match(domain, 100.0) if domain else None
        if len(query) < MIN_FUZZY_LENGTH:
            return None
        best = process.extract(query, self.names, scorer=scorer, limit=2, score_cutoff=min_score)
        if not best:
            return None
        (_, score, i), *rest = best
        if rest and rest[0][1] >= score - AMBIGUITY_MARGIN and self.domains[rest[0][2]] != self.domains[i]:
            return None
        return Match(self.domains[i], float(score))


def has_corporate_email(lead: Lead) -> bool:
    email = lead.person.email
    return bool(email) and is_corporate(str(email).rpartition("@")[2].lower())


class DomainFinderProvider:
    fills = frozenset({"company.domain"})
    in_memory = True  # answers without waiting (see Provider)

    def __init__(
        self,
        index: NameIndex,
        *,
        min_score: float = 88.0,
        name: str = "domain_finder",
        cost_per_call: float = 0.0,
    ) -> None:
        self.index, self.min_score, self.name, self.cost_per_call = index, min_score, name, cost_per_call

    def key(self, lead: Lead, so_far: Enrichment) -> str | None:
        if so_far.company.domain or has_corporate_email(lead):
            return None
        return normalise_name(so_far.company.name or lead.company.name) or None

    async def lookup(self, lead: Lead, so_far: Enrichment) -> Patch | None:
        found = self.index.find(so_far.company.name or lead.company.name, self.min_score)
        if found is None:
            return None
        return Patch(values={"company.domain": found.domain}, confidence=found.score / 100)
