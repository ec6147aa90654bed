"""deploy/config/crm.yaml: which CRM each source's leads are written to, field names, budgets.

Credentials never live here: they come from the environment (LEADFLOW_HUBSPOT_TOKEN,
LEADFLOW_SALESFORCE_*), see services/settings.py.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

CrmName = Literal["local", "hubspot", "salesforce"]


class Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CrmLimits(Strict):
    """A CRM account's request budget and failure policy (connectors.crm.resilience.Limits)."""

    requests: int = Field(default=190, ge=1)
    window_seconds: float = Field(default=10.0, gt=0)
    daily: int | None = Field(default=None, ge=1)
    concurrency: int = Field(default=4, ge=1, le=64)
    timeout_seconds: float = Field(default=20.0, gt=0)
    max_attempts: int = Field(default=5, ge=1, le=20)
    backoff_base: float = Field(default=0.5, gt=0)
    backoff_cap: float = Field(default=30.0, gt=0)
    breaker_failures: int = Field(default=5, ge=1)
    breaker_reset_seconds: float = Field(default=30.0, gt=0)


# What Leadflow writes on a HubSpot contact, and the default internal property names.
HUBSPOT_FIELDS = {
    "score": "leadflow_score",
    "tier": "leadflow_tier",
    "status": "leadflow_status",
    "icp_status": "leadflow_icp_status",
    "persona_status": "leadflow_persona_status",
    "reasons": "leadflow_reasons",
    "config_version": "leadflow_config_version",
    "model_version": "leadflow_model_version",
    "last_event_id": "leadflow_last_event_id",
    "decided_at": "leadflow_decided_at",
    "lead_id": "leadflow_lead_id",
    "locked": "leadflow_locked",
}
HubSpotField = Literal[
    "score", "tier", "status", "icp_status", "persona_status", "reasons", "config_version",
    "model_version", "last_event_id", "decided_at", "lead_id", "locked",
]  # fmt: skip


class HubSpotCrm(Strict):
    """HubSpot: the property group and contact properties Leadflow creates on start if missing."""

    property_group: str = Field(default="leadflow", pattern=r"^[a-z][a-z0-9_]{0,99}$")
    # Leadflow field -> contact property internal name; fields not named here use HUBSPOT_FIELDS.
    properties: dict[HubSpotField, str] = Field(default_factory=dict)
    # The unique-value property on notes and tasks that makes their creation idempotent.
    event_id_property: str = Field(default="leadflow_event_id", pattern=r"^[a-z][a-z0-9_]{0,99}$")
    # Owner ids by Leadflow owner name (routing.yaml members); a name not here is used as the id.
    owners: dict[str, str] = Field(default_factory=dict)
    limits: CrmLimits = CrmLimits(daily=250_000)

    def property_for(self, field: HubSpotField) -> str:
        return self.properties.get(field, HUBSPOT_FIELDS[field])


class SalesforceCrm(Strict):
    api_version: str = "61.0"
    # Leadflow field -> Lead field API name (custom fields end in __c and must exist in the org).
    fields: dict[str, str] = Field(default_factory=dict)
    limits: CrmLimits = CrmLimits(requests=25, window_seconds=1.0, concurrency=10)


class CrmConfig(Strict):
    default: CrmName = "local"
    # Lead source (the `source` on the lead: hubspot, salesforce, web, ...) -> the CRM its leads go to.
    sources: dict[str, CrmName] = Field(default_factory=dict)
    hubspot: HubSpotCrm = HubSpotCrm()
    salesforce: SalesforceCrm = SalesforceCrm()

    def crm_for(self, source: str) -> CrmName:
        return self.sources.get(source, self.default)
