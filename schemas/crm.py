"""deploy/config/crm.yaml: which CRM each source's leads are written to, field names, budgets.

Credentials never live here: they come from the environment (LEADFLOW_HUBSPOT_TOKEN,
LEADFLOW_SALESFORCE_*), see services/settings.py.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

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


# Leadflow field -> Lead field API name. Custom fields (ending in __c) must exist in the org
# (README "Connect Salesforce" lists their types); `status` is Leadflow's own status field, never
# the standard Lead Status an AE works with.
LeadField = Literal[
    "score", "tier", "status", "reasons", "icp_status", "persona_status", "config_version",
    "model_version", "last_event_id", "locked", "lead_id",
]  # fmt: skip
SALESFORCE_LEAD_FIELDS: dict[LeadField, str] = {
    "score": "Leadflow_Score__c",
    "tier": "Leadflow_Tier__c",
    "status": "Leadflow_Status__c",
    "reasons": "Leadflow_Reasons__c",
    "icp_status": "Leadflow_ICP_Status__c",
    "persona_status": "Leadflow_Persona_Status__c",
    "config_version": "Leadflow_Config_Version__c",
    "model_version": "Leadflow_Model_Version__c",
    "last_event_id": "Leadflow_Last_Event_Id__c",
    "locked": "Leadflow_Locked__c",
    "lead_id": "Leadflow_Lead_Id__c",  # External ID, unique: leads from other sources are upserted on it
}
SalesforceField = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,79}$")]
SalesforceId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$")]


class SalesforceCrm(Strict):
    api_version: str = Field(default="61.0", pattern=r"^\d{2,3}\.0$")
    # Overrides of SALESFORCE_LEAD_FIELDS (only the keys given change).
    fields: dict[LeadField, SalesforceField] = Field(default_factory=dict)
    # The Task that holds the briefing is upserted on this External ID (unique) field, so one event
    # never makes two Tasks, even when an answer is lost and the write is retried.
    task_event_field: SalesforceField = "Leadflow_Event_Id__c"
    account_icp_field: SalesforceField = "Leadflow_ICP_Status__c"  # on Account, written by requalify
    # Routing names -> Salesforce ids. An owner not listed is matched to an active User by
    # email, username or alias (also the part before the @); a queue not listed leaves OwnerId as is.
    owners: dict[str, SalesforceId] = Field(default_factory=dict)
    queues: dict[str, SalesforceId] = Field(default_factory=dict)
    # The org's rolling 24 h API allowance is read from Sforce-Limit-Info on every answer; `daily`
    # caps what Leadflow itself may use of it. A spent org limit is waited out this long per try.
    limit_exceeded_wait_seconds: float = Field(default=300.0, gt=0)
    limits: CrmLimits = CrmLimits(requests=25, window_seconds=1.0, concurrency=10)

    def field(self, name: LeadField) -> str:
        return self.fields.get(name) or SALESFORCE_LEAD_FIELDS[name]


class CrmConfig(Strict):
    default: CrmName = "local"
    # Lead source (the `source` on the lead: hubspot, salesforce, web, ...) -> the CRM its leads go to.
    sources: dict[str, CrmName] = Field(default_factory=dict)
    hubspot: HubSpotCrm = HubSpotCrm()
    salesforce: SalesforceCrm = SalesforceCrm()
    # How long the qualifier trusts a CRM's owner list (who is active) before reading it again.
    roster_ttl_seconds: float = Field(default=300, gt=0)

    def crm_for(self, source: str) -> CrmName:
        return self.sources.get(source, self.default)
