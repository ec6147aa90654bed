"""Pure mapping between Leadflow's decisions and HubSpot's records (no I/O)."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from connectors.crm import draft_event_id
from schemas.crm import HubSpotCrm
from schemas.events import LeadRouted

FindBy = Literal["id", "email", "lead_id"]
NOTE_TO_CONTACT = 202  # HUBSPOT_DEFINED association type ids
TASK_TO_CONTACT = 204


@dataclass
class Target:
    """One event's contact: how to find it, and what HubSpot holds on it (once read)."""

    index: int
    routed: LeadRouted
    by: FindBy
    key: str
    contact_id: str | None = None
    current: dict[str, Any] = field(default_factory=dict)
    stale: bool = False  # HubSpot holds a newer decision for the contact: only the note is written


def target_for(index: int, routed: LeadRouted, config: HubSpotCrm) -> Target:
    """The lead's HubSpot record id when it came from HubSpot, else its email, else its lead id."""
    lead = routed.lead
    if lead.source == "hubspot" and lead.source_record_id:
        return Target(index, routed, "id", lead.source_record_id)
    if lead.person.email:
        return Target(index, routed, "email", lead.person.email.lower())
    return Target(index, routed, "lead_id", routed.lead_id)


def iso(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: Any) -> datetime | None:
    """HubSpot returns datetime properties as ISO 8601 (or epoch ms when written so)."""
    if not value:
        return None
    text = str(value)
    try:
        if text.isdigit():
            return datetime.fromtimestamp(int(text) / 1000, UTC)
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def is_locked(current: dict[str, Any], config: HubSpotCrm) -> bool:
    return str(current.get(config.property_for("locked")) or "").lower() == "true"


def owner_id(owner: str | None, config: HubSpotCrm) -> str | None:
    """HubSpot owner id for a routing owner: mapped in crm.yaml, or already an id (account owners)."""
    if owner is None:
        return None
    mapped = config.owners.get(owner)
    if mapped:
        return mapped
    return owner if owner.isdigit() else None


def contact_properties(routed: LeadRouted, config: HubSpotCrm, *, locked: bool) -> dict[str, str]:
    """What the decision writes on the contact; a locked contact keeps its status and owner."""
    ev, name = routed.evaluation, config.property_for
    props = {
        name("score"): str(ev.score),
        name("tier"): ev.tier,
        name("icp_status"): ev.icp.status.value,
        name("persona_status"): ev.persona.status.value,
        name("reasons"): "\n".join(ev.reasons),
        name("config_version"): routed.config_version,
        name("model_version"): routed.model_version or "",
        name("last_event_id"): routed.event_id,
        name("decided_at"): iso(routed.decided_at),
        name("lead_id"): routed.lead_id,
    }
    if not locked:
        props[name("status")] = ev.status.value
        owner = owner_id(routed.routing.owner, config)
        if owner is not None:
            props["hubspot_owner_id"] = owner
    return props


def identity_properties(target: Target, config: HubSpotCrm) -> dict[str, str]:
    """Who a new contact is, from the lead: written with the decision when the contact is new."""
    lead = target.routed.lead
    values = {
        "email": lead.person.email.lower() if lead.person.email else None,
        "firstname": lead.person.first_name,
        "lastname": lead.person.last_name,
        "jobtitle": lead.person.title,
        "phone": lead.person.phone,
        "company": lead.company.name,
        "website": lead.company.domain,
        config.property_for("lead_id"): target.routed.lead_id,
    }
    return {k: v for k, v in values.items() if v}


def note_body(briefing: str) -> str:
    return "<p>" + "<br>".join(html.escape(line) for line in briefing.splitlines()) + "</p>"


def note_input(routed: LeadRouted, config: HubSpotCrm, owner: str | None) -> dict[str, Any]:
    props = {
        config.event_id_property: routed.event_id,
        "hs_note_body": note_body(routed.briefing),
        "hs_timestamp": iso(routed.decided_at),
    }
    if owner:
        props["hubspot_owner_id"] = owner
    return {"idProperty": config.event_id_property, "id": routed.event_id, "properties": props}


def task_input(routed: LeadRouted, config: HubSpotCrm, owner: str | None) -> dict[str, Any]:
    due = routed.routing.first_touch_due
    assert due is not None
    lead = routed.lead
    who = lead.person.name or lead.company.name or lead.company.domain or "new lead"
    props = {
        config.event_id_property: routed.event_id,
        "hs_task_subject": f"First touch: {who} ({routed.evaluation.tier})",
        "hs_task_body": routed.briefing,
        "hs_timestamp": iso(due),
        "hs_task_status": "NOT_STARTED",
        "hs_task_priority": "HIGH",
        "hs_task_type": "CALL",
    }
    if owner:
        props["hubspot_owner_id"] = owner
    return {"idProperty": config.event_id_property, "id": routed.event_id, "properties": props}


def draft_task_input(routed: LeadRouted, config: HubSpotCrm, owner: str | None) -> dict[str, Any]:
    """The first-touch email draft as an EMAIL task for the owner to approve and send."""
    draft = routed.routing.draft
    assert draft is not None
    event_id = draft_event_id(routed.event_id)
    props = {
        config.event_id_property: event_id,
        "hs_task_subject": f"Email draft: {draft.subject}",
        "hs_task_body": draft.body,
        "hs_timestamp": iso(routed.routing.first_touch_due or routed.decided_at),
        "hs_task_status": "NOT_STARTED",
        "hs_task_priority": "HIGH",
        "hs_task_type": "EMAIL",
    }
    if owner:
        props["hubspot_owner_id"] = owner
    return {"idProperty": config.event_id_property, "id": event_id, "properties": props}


def task_inputs(routed: LeadRouted, config: HubSpotCrm, owner: str | None) -> list[dict[str, Any]]:
    """The event's tasks: the first-touch deadline and the email draft, each when the decision has one."""
    tasks = []
    if routed.routing.first_touch_due is not None:
        tasks.append(task_input(routed, config, owner))
    if routed.routing.draft is not None:
        tasks.append(draft_task_input(routed, config, owner))
    return tasks


def association(from_id: str, to_id: str, type_id: int) -> dict[str, Any]:
    return {
        "from": {"id": from_id},
        "to": {"id": to_id},
        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
    }


def linked(contact_id: str, type_id: int) -> dict[str, Any]:
    """An association given inline with a record's create: to the contact, by type id."""
    return {
        "to": {"id": contact_id},
        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
    }
