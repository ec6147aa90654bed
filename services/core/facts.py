"""The facts the evaluation judges: the lead's own, completed by enrichment when there is one."""

from __future__ import annotations

from schemas.enrichment import CompanyFacts, Enrichment
from schemas.lead import Lead


def company_facts(lead: Lead, enrichment: Enrichment | None) -> CompanyFacts:
    if enrichment is not None:
        return enrichment.company
    c = lead.company
    return CompanyFacts(
        name=c.name,
        domain=c.domain,
        industry=c.industry,
        employees=c.employees,
        revenue=c.revenue,
        country=c.country,
    )
