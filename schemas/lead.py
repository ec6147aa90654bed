"""The one shape every source is normalised into."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AnyUrl,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    model_validator,
)

# The namespace that turns a lead identity into a stable lead_id (uuid5).
LEAD_ID_NAMESPACE = uuid.UUID("6f1c3c64-6a47-4d0e-9a3b-2f4f3b6f8e21")

_PERSON_FIELDS = ("first_name", "last_name", "email", "phone", "title", "linkedin_url")
_LEAD_FIELDS = {
    "person",
    "company",
    "source",
    "source_record_id",
    "consent",
    "activities",
    "message",
    "attributes",
}


_ZERO = timedelta(0)


def _utc_as_utc(at: datetime) -> datetime:
    """A UTC time with ``datetime.UTC`` as its tzinfo (same instant, same ISO text): pydantic
    parses "Z" into its own TzInfo, and subtracting two times whose tzinfo objects differ asks
    each for its offset, which made the age of an activity a tenth of an evaluation."""
    return at.replace(tzinfo=UTC) if at.tzinfo is not UTC and at.utcoffset() == _ZERO else at


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_utc_as_utc)]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Person(Frozen):
    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    email: EmailStr | None = None
    phone: str | None = Field(default=None, max_length=50)
    title: str | None = Field(default=None, max_length=300)
    linkedin_url: AnyUrl | None = None

    @property
    def name(self) -> str | None:
        first, last = self.first_name, self.last_name
        return f"{first} {last}" if first and last else first or last or None


class Company(Frozen):
    name: str | None = Field(default=None, max_length=300)
    domain: str | None = Field(default=None, max_length=253)
    employees: NonNegativeInt | None = None
    revenue: NonNegativeFloat | None = Field(default=None, description="Annual revenue, USD")
    industry: str | None = Field(default=None, max_length=200)
    country: str | None = Field(default=None, max_length=60, description="ISO 3166 alpha-2")


class Consent(Frozen):
    marketing: bool | None = None
    contact: bool | None = None
    privacy_policy: bool | None = None


class Activity(Frozen):
    """Something the lead did: a page view, a form fill, an email open, a demo request."""

    model_config = ConfigDict(frozen=True, extra="allow")

    type: str = Field(min_length=1, max_length=100)
    at: UtcDatetime | None = None
    url: str | None = Field(default=None, max_length=2000)


class Lead(Frozen):
    """A lead as every source is normalised into.

    Accepts the flat form a web form posts (``email``, ``first_name``... at the top level)
    as well as the nested ``person`` form; unknown top-level keys are kept in ``attributes``
    rather than dropped, so nothing a sender said is lost.
    """

    person: Person = Person()
    company: Company = Company()
    source: str = Field(default="api", min_length=1, max_length=100)
    source_record_id: str | None = Field(default=None, max_length=200)
    consent: Consent = Consent()
    activities: tuple[Activity, ...] = Field(default=(), max_length=500)
    message: str | None = Field(default=None, max_length=20_000)
    attributes: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _lift_flat_fields(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        person = data.get("person") or {}
        if not isinstance(person, dict):
            return data  # not an object: let validation say so
        person = dict(person)
        for key in _PERSON_FIELDS:
            if key in data:
                person.setdefault(key, data.pop(key))
        # Many forms have one "name" field: split it rather than lose it.
        full_name = data.pop("name", None) or person.pop("name", None)
        if isinstance(full_name, str) and full_name.strip():
            first, _, last = full_name.strip().partition(" ")
            person.setdefault("first_name", first)
            if last.strip():
                person.setdefault("last_name", last.strip())
        if isinstance(data.get("company"), str):
            data["company"] = {"name": data["company"]}
        extras = {k: data.pop(k) for k in list(data) if k not in _LEAD_FIELDS}
        attributes = data.get("attributes") or {}
        if extras and isinstance(attributes, dict):
            data["attributes"] = {**extras, **attributes}
        data["person"] = person
        return data

    @model_validator(mode="after")
    def _needs_a_way_to_reach(self) -> Lead:
        reachable = self.person.email or self.person.phone or self.company.name or self.company.domain
        # A bare record id is enough when the source can be asked for the rest (a HubSpot contact).
        if not (reachable or self.source_record_id):
            raise ValueError(
                "a lead needs an email, a phone, a company (name or domain) or a source record id"
            )
        return self

    @property
    def identity(self) -> str:
        """The lead's identity: lower-cased email, else source + source record id.

        It is the bus message key (so one lead's events stay in order) and the seed of lead_id.
        Empty when the lead has neither; the caller then falls back to the event id.
        """
        if self.person.email:
            return self.person.email.lower()
        if self.source_record_id:
            return f"{self.source}:{self.source_record_id}"
        return ""


def lead_id_for(identity: str) -> str:
    """A stable, opaque id for a lead identity; no PII can be read back from it."""
    return str(uuid.uuid5(LEAD_ID_NAMESPACE, identity))


def pii_hash(value: str) -> str:
    """A short one-way hash for logs, where an email or phone must never appear in clear."""
    return hashlib.sha256(value.lower().encode()).hexdigest()[:12]


def utc_iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")
