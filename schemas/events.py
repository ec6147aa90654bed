"""The events on each topic. Bump SCHEMA_VERSION on any incompatible change."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.decision import Evaluation, RoutingDecision
from schemas.enrichment import Enrichment
from schemas.lead import Lead, UtcDatetime

SCHEMA_VERSION = 1
MAX_EVENT_ID = 200  # characters: a source's name, ":", and the sender's own delivery id

TOPIC_RECEIVED = "leads.received"
TOPIC_ROUTED = "leads.routed"
TOPIC_DLQ = "leads.dlq"
TOPIC_FEEDBACK = "leads.feedback"
ALL_TOPICS = (TOPIC_RECEIVED, TOPIC_ROUTED, TOPIC_DLQ, TOPIC_FEEDBACK)


class Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = SCHEMA_VERSION
    event_id: str = Field(min_length=1, max_length=MAX_EVENT_ID)
    lead_id: str = Field(min_length=1, max_length=100)


class LeadReceived(Event):
    type: Literal["lead.received"] = "lead.received"
    received_at: UtcDatetime  # the `now` of the evaluation: see schemas.lead._utc_as_utc
    # The sender's own id for this delivery (HubSpot eventId, Salesforce Notification Id...).
    source_event_id: str | None = None
    lead: Lead


class LeadFeedback(Event):
    """A person changed something on a lead in the CRM (status, lifecycle stage, won/lost)."""

    type: Literal["lead.feedback"] = "lead.feedback"
    received_at: AwareDatetime
    source: str
    source_event_id: str | None = None
    object_id: str
    property: str
    value: str | None
    occurred_at: AwareDatetime | None = None
    # Normalised for training (services.core.feedback): an AE's correction (good_lead, wrong_tier,
    # not_a_fit, wrong_owner) or a lifecycle outcome (won, lost); None for other changes.
    kind: Literal["correction", "outcome"] | None = None
    label: str | None = None


class LeadRouted(Event):
    type: Literal["lead.routed"] = "lead.routed"
    received_at: AwareDatetime
    decided_at: AwareDatetime
    config_version: str
    model_version: str | None = None
    lead: Lead
    enrichment: Enrichment | None = None
    evaluation: Evaluation
    routing: RoutingDecision
    briefing: str


class DeadLetter(BaseModel):
    """A message no consumer could handle, kept with its error so it can be replayed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = SCHEMA_VERSION
    topic: str
    key: str | None
    value: str
    encoding: Literal["utf-8", "base64"] = "utf-8"
    error: str
    consumer: str
    failed_at: AwareDatetime
