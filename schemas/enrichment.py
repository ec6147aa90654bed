"""What enrichment adds to a lead, and who said so.

Providers (connectors/enrichment/) each return a Patch: dotted field paths with values and a
confidence. The waterfall merges patches into one Enrichment, keeping for every field the
value and the provider it came from (provenance), and what each provider call cost.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, NonNegativeInt


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Seniority(StrEnum):
    C_LEVEL = "c_level"
    VP = "vp"
    HEAD = "head"
    DIRECTOR = "director"
    MANAGER = "manager"
    INDIVIDUAL = "individual_contributor"
    STUDENT = "student"
    UNKNOWN = "unknown"


class JobFunction(StrEnum):
    OPERATIONS = "operations"
    IT = "it"
    FINANCE = "finance"
    SALES = "sales"
    MARKETING = "marketing"
    HR = "hr"
    ENGINEERING = "engineering"
    EXECUTIVE = "executive"  # founders, CEOs, general managers: every function's buyer
    OTHER = "other"


class EmailFacts(Frozen):
    valid_syntax: bool
    domain: str | None = None
    free_mail: bool = False
    disposable: bool = False
    role_account: bool = False  # info@, sales@: a mailbox, not a person


class PhoneFacts(Frozen):
    valid: bool
    e164: str | None = None
    country: str | None = None  # ISO 3166 alpha-2 of the number


class TitleFacts(Frozen):
    seniority: Seniority = Seniority.UNKNOWN
    function: JobFunction = JobFunction.OTHER
    job_seeker: bool = False  # "looking for opportunities", "open to work"


class CompanyFacts(Frozen):
    name: str | None = None
    domain: str | None = None
    industry: str | None = None
    employees: NonNegativeInt | None = None
    revenue: NonNegativeFloat | None = None  # annual, USD
    country: str | None = None
    technologies: tuple[str, ...] = ()


class AccountMatch(Frozen):
    """The lead's company as the CRM already knows it."""

    crm: str
    account_id: str
    name: str | None = None
    owner: str | None = None
    matched_by: Literal["domain", "name"]
    customer: bool = False  # an existing customer: its account manager, not new business


class ContactMatch(Frozen):
    """The lead as a contact the CRM already has, with what a person set on it."""

    crm: str
    record_id: str
    owner: str | None = None
    status: str | None = None
    locked: bool = False  # a person pinned status and owner: automation keeps them


class Provenance(Frozen):
    provider: str  # "lead" when the lead said it itself
    confidence: float = Field(ge=0, le=1)


class ProviderCall(Frozen):
    provider: str
    outcome: Literal["ok", "empty", "cached", "timeout", "error", "skipped"]
    ms: NonNegativeFloat = 0
    cost: NonNegativeFloat = 0


class Patch(Frozen):
    """What one provider found: field path ("company.industry", "email", "title") -> value."""

    values: dict[str, Any] = Field(default_factory=dict)
    confidence: float = Field(default=1.0, ge=0, le=1)


class Enrichment(Frozen):
    email: EmailFacts | None = None
    phone: PhoneFacts | None = None
    title: TitleFacts | None = None
    company: CompanyFacts = CompanyFacts()  # the lead's own company facts, completed by providers
    account: AccountMatch | None = None
    contact: ContactMatch | None = None
    provenance: dict[str, Provenance] = Field(default_factory=dict)
    calls: tuple[ProviderCall, ...] = ()

    @property
    def cost(self) -> float:
        return sum(call.cost for call in self.calls)
