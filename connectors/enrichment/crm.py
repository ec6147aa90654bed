"""Lead-to-account matching against the CRM the team already uses.

A small Protocol, AccountDirectory, stands for "the CRM's accounts": the local CRM implements it
here; HubSpot and Salesforce directories implement the same two methods later. Matching is by
email domain first (free-mail and throwaway domains never match: thousands of unrelated people
share gmail.com), then by normalised company name.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.crm.local import records
from connectors.enrichment.email import is_corporate
from connectors.enrichment.firmographics import domain_confidence, normalise_domain
from connectors.errors import RetriableConnectorError
from connectors.names import normalise_name
from schemas.enrichment import AccountMatch, Enrichment, Patch
from schemas.lead import Lead

# Statuses a person sets in the local CRM when the company already buys from us.
CUSTOMER_STATUSES = frozenset({"customer", "won", "closed_won"})
NAME_MATCH_CONFIDENCE = 0.9  # two companies can share a name; a domain is one company's


class AccountDirectory(Protocol):
    """The CRM's accounts, looked up by what a lead tells about its company."""

    crm: str

    async def by_domain(self, domain: str) -> AccountMatch | None: ...

    async def by_name(self, name: str) -> AccountMatch | None: ...


class LocalAccounts:
    """Accounts of the local CRM, which has no account table: an account is a company name.

    The local CRM stores one record per lead with its ``company`` (the lead's company name, or its
    domain when the lead gave no name) and no email or domain column. So ``by_domain`` finds only
    records whose company *is* that domain, and ``by_name`` compares normalised names exactly
    (no fuzzy matching: a near-miss would hand a lead to the wrong owner). The owner is the one
    on the most recently updated record. Both read the record's indexed ``company_key`` (the
    normalised name the local CRM stores with each record), so neither scans the table.
    """

    crm = "local"

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def by_domain(self, domain: str) -> AccountMatch | None:
        wanted = normalise_domain(domain)
        if not wanted or not is_corporate(wanted):
            return None
        spellings = [wanted, f"www.{wanted}"]
        # The indexed key narrows to a handful of records; the exact comparison decides.
        keyed = records.c.company_key.in_(sorted({normalise_name(s) for s in spellings}))
        return await self._account(keyed & func.lower(records.c.company).in_(spellings), wanted, "domain")

    async def by_name(self, name: str) -> AccountMatch | None:
        wanted = normalise_name(name)
        if not wanted:
            return None
        return await self._account(records.c.company_key == wanted, wanted, "name")

    async def _account(
        self, which: ColumnElement[bool], account_id: str, matched_by: Literal["domain", "name"]
    ) -> AccountMatch | None:
        """The records ``which`` selects as one account: newest name and owner first."""
        columns = (records.c.company, records.c.owner)
        newest = select(*columns).where(which).order_by(records.c.updated_at.desc()).limit(50)
        rows = await self._fetch(newest)
        if not rows:
            return None
        customer = select(func.count()).where(which, func.lower(records.c.status).in_(CUSTOMER_STATUSES))
        return AccountMatch(
            crm=self.crm,
            account_id=account_id,
            name=rows[0]["company"],
            owner=next((r["owner"] for r in rows if r["owner"]), None),
            matched_by=matched_by,
            customer=bool((await self._fetch(customer, scalars=True))[0]),
        )

    async def _fetch(self, query: Any, scalars: bool = False) -> list[Any]:
        try:
            async with self._engine.connect() as conn:
                result = await conn.execute(query)
                return list(result.scalars().all()) if scalars else [dict(r) for r in result.mappings().all()]
        except SQLAlchemyError as exc:
            raise RetriableConnectorError(f"local crm accounts: {exc.__class__.__name__}") from exc


class CrmProvider:
    """The existing account (and its owner) for a lead, by corporate domain, then by name."""

    fills = frozenset({"account"})

    def __init__(self, directory: AccountDirectory, *, name: str = "crm", cost_per_call: float = 0.0) -> None:
        self.directory, self.name, self.cost_per_call = directory, name, cost_per_call

    def _domain(self, so_far: Enrichment) -> str | None:
        domain = so_far.company.domain
        return domain if is_corporate(domain) else None

    def key(self, lead: Lead, so_far: Enrichment) -> str | None:
        domain, name = self._domain(so_far), normalise_name(so_far.company.name)
        if not (domain or name):
            return None
        return f"{domain or ''}@{domain_confidence(so_far):.2f}|{name}"

    async def lookup(self, lead: Lead, so_far: Enrichment) -> Patch | None:
        domain = self._domain(so_far)
        if domain:
            found = await self.directory.by_domain(domain)
            if found is not None:
                return Patch(values={"account": found}, confidence=domain_confidence(so_far))
        if so_far.company.name:
            found = await self.directory.by_name(so_far.company.name)
            if found is not None:
                return Patch(values={"account": found}, confidence=NAME_MATCH_CONFIDENCE)
        return None
