"""The model of deploy/config/sources.yaml: which lead sources are on and how each is read.

Secrets never live here (they come from the environment or a secrets directory); this file
says only what is safe to review in a pull request.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, StringConstraints

SourceName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
# A dotted path into the Lead: person.email, person.first_name, company.name, message,
# attributes.<anything>, or person.name (split into first and last name).
LeadPath = Annotated[
    str,
    StringConstraints(
        pattern=r"^(person\.(name|first_name|last_name|email|phone|title|linkedin_url)"
        r"|company\.(name|domain|employees|revenue|industry|country)"
        r"|consent\.(marketing|contact|privacy_policy)|message|source_record_id|attributes\.[\w.-]+)$"
    ),
]


class Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Limits(Strict):
    """Checked before any work is done on a request."""

    max_body_bytes: int = Field(default=256 * 1024, ge=1024, le=16 * 1024 * 1024)
    rate_per_minute: int = Field(default=600, ge=1)
    burst: int = Field(default=100, ge=1)


class Defaults(Strict):
    limits: Limits = Limits()
    replay_window_seconds: int = Field(default=300, ge=30, le=3600)
    dedupe_days: int = Field(default=3, ge=3, le=30)


class Source(Strict):
    enabled: bool = True
    limits: Limits | None = None  # None: the defaults
    # None: the default. Wider only for senders that retry with the original signed timestamp.
    replay_window_seconds: int | None = Field(default=None, ge=30, le=86_400)


class HubSpotSource(Source):
    # v3 for apps created since 2021; v1/v2 only for older apps that still send them.
    signature_version: Literal["v1", "v2", "v3"] = "v3"
    # The public URL HubSpot calls (v2/v3 sign the full URI). Unset: taken from the request.
    public_url: AnyHttpUrl | None = None
    feedback_properties: tuple[str, ...] = ("lifecyclestage", "hs_lead_status", "leadflow_feedback")


OrgId = Annotated[str, StringConstraints(pattern=r"^00D[A-Za-z0-9]{12}([A-Za-z0-9]{3})?$")]


class SalesforceSource(Source):
    organization_ids: tuple[OrgId, ...] = ()
    # Lead sObject field -> Lead path; the defaults cover the standard Lead fields.
    fields: dict[str, LeadPath] = Field(default_factory=dict)


class FormSource(Source):
    source: SourceName = "web"
    fields: dict[str, LeadPath] = Field(default_factory=dict)  # posted field -> Lead path
    allowed_origins: tuple[str, ...] = ()  # CORS; empty: any origin may not post from a browser
    honeypot: str | None = None  # a hidden field bots fill in: such posts are dropped quietly
    redirect_url: AnyHttpUrl | None = None  # 303 here after a browser post


class EmailSource(Source):
    providers: tuple[Literal["mailgun", "sendgrid", "raw"], ...] = ("mailgun", "sendgrid", "raw")


class LinkedInSource(Source):
    pass


class TypeformSource(Source):
    source: SourceName = "typeform"
    answers: dict[str, LeadPath] = Field(default_factory=dict)  # field ref -> Lead path


class StandardSource(Source):
    """A Standard Webhooks sender whose payload is a Lead in our schema (optionally mapped)."""

    fields: dict[str, LeadPath] = Field(default_factory=dict)  # empty: payload is our Lead JSON


class SourcesConfig(Strict):
    defaults: Defaults = Defaults()
    hubspot: HubSpotSource = HubSpotSource(enabled=False)
    salesforce: SalesforceSource = SalesforceSource(enabled=False)
    forms: dict[SourceName, FormSource] = Field(default_factory=dict)
    email: EmailSource = EmailSource(enabled=False)
    linkedin: LinkedInSource = LinkedInSource(enabled=False)
    typeform: dict[SourceName, TypeformSource] = Field(default_factory=dict)
    standard: dict[SourceName, StandardSource] = Field(default_factory=dict)

    def limits_for(self, source: Source) -> Limits:
        return source.limits or self.defaults.limits

    def window_for(self, source: Source) -> int:
        return source.replay_window_seconds or self.defaults.replay_window_seconds
