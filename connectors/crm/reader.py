"""Reading what is already in a CRM, to qualify it (``leadflow requalify``) and to route by its owners.

Each CRM adapter that can be read implements ``CrmReader``. Pages are bounded (``page_size``)
so a requalify of a whole CRM never holds more than one page in memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from schemas.lead import Lead


@dataclass(frozen=True)
class CrmRecord:
    """A contact/lead as the CRM holds it, turned into our Lead."""

    crm: str
    record_id: str
    lead: Lead
    locked: bool  # a person pinned status and owner: requalify skips it


@dataclass(frozen=True)
class CrmAccount:
    """A company/account: requalified for ICP status only."""

    crm: str
    record_id: str
    name: str | None
    domain: str | None
    industry: str | None = None
    employees: int | None = None
    revenue: float | None = None
    country: str | None = None
    owner: str | None = None


@dataclass(frozen=True)
class CrmOwner:
    """Someone who can own records, for routing rosters (HubSpot owners, Salesforce active users)."""

    crm: str
    owner_id: str
    email: str | None
    name: str | None
    active: bool = True


@dataclass(frozen=True)
class Selection:
    """Which records: explicit ids, a CRM-side query (HubSpot search / SOQL WHERE), or changed since."""

    ids: Sequence[str] = ()
    query: str | None = None
    since: datetime | None = None


class UnsupportedSelection(ValueError):
    """This CRM cannot select records that way (the local CRM has no query language)."""


@runtime_checkable
class CrmReader(Protocol):
    name: str

    def records(self, selection: Selection, page_size: int = 100) -> AsyncIterator[list[CrmRecord]]:
        """Contacts (HubSpot) or Leads (Salesforce), page by page."""
        ...

    def accounts(self, selection: Selection, page_size: int = 100) -> AsyncIterator[list[CrmAccount]]:
        """Companies (HubSpot) or Accounts (Salesforce), page by page."""
        ...

    async def owners(self) -> list[CrmOwner]: ...
