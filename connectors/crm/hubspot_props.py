"""The HubSpot properties Leadflow writes, created on first start when missing.

Contacts get a property group and one property per Leadflow field (crm.yaml names them).
Notes and tasks get a unique-value event-id property, so both are created by a batch *upsert*
on it: a redelivered event, even after a crash between two calls, updates its note instead of
adding a second one.
"""

from __future__ import annotations

from typing import Any

from connectors.crm.hubspot_api import HubSpotApi, HubSpotRejected
from schemas.crm import HubSpotCrm, HubSpotField

_TEXT = {"type": "string", "fieldType": "text"}
_KINDS: dict[HubSpotField, tuple[str, dict[str, Any]]] = {
    "score": ("Leadflow score", {"type": "number", "fieldType": "number"}),
    "tier": ("Leadflow tier", _TEXT),
    "status": ("Leadflow status", _TEXT),
    "icp_status": ("Leadflow ICP status", _TEXT),
    "persona_status": ("Leadflow persona status", _TEXT),
    "reasons": ("Leadflow reasons", {"type": "string", "fieldType": "textarea"}),
    "config_version": ("Leadflow config version", _TEXT),
    "model_version": ("Leadflow model version", _TEXT),
    "last_event_id": ("Leadflow last event id", _TEXT),
    "decided_at": ("Leadflow decided at", {"type": "datetime", "fieldType": "date"}),
    # Unique: the contact of a lead that has no email is found (and upserted) by it.
    "lead_id": ("Leadflow lead id", {**_TEXT, "hasUniqueValue": True}),
    "locked": (
        "Leadflow locked (keep status and owner)",
        {
            "type": "bool",
            "fieldType": "booleancheckbox",
            "options": [
                {"label": "Yes", "value": "true", "displayOrder": 0, "hidden": False},
                {"label": "No", "value": "false", "displayOrder": 1, "hidden": False},
            ],
        },
    ),
}


def contact_properties(config: HubSpotCrm) -> list[dict[str, Any]]:
    """The contact properties to create, as the properties API takes them."""
    return [
        {"name": config.property_for(field), "label": label, "groupName": config.property_group, **kind}
        for field, (label, kind) in _KINDS.items()
    ]


def event_id_property(config: HubSpotCrm, group: str) -> dict[str, Any]:
    return {
        "name": config.event_id_property,
        "label": "Leadflow event id",
        "groupName": group,
        "hasUniqueValue": True,
        **_TEXT,
    }


async def _existing(api: HubSpotApi, object_type: str) -> set[str]:
    page = await api.call("properties.list", api.properties.get_all, object_type)
    return {p["name"] for p in page.get("results", [])}


async def _create(api: HubSpotApi, object_type: str, definition: dict[str, Any]) -> None:
    try:
        await api.call("properties.create", api.properties.create, object_type, definition)
    except HubSpotRejected as exc:
        if exc.status != 409:  # 409: created meanwhile by another replica
            raise


async def ensure_properties(api: HubSpotApi, config: HubSpotCrm) -> None:
    """Create the group and every missing property (idempotent, safe across replicas)."""
    groups = await api.call("groups.list", api.groups.get_all, "contacts")
    if config.property_group not in {g["name"] for g in groups.get("results", [])}:
        try:
            group = {"name": config.property_group, "label": "Leadflow", "displayOrder": -1}
            await api.call("groups.create", api.groups.create, "contacts", group)
        except HubSpotRejected as exc:
            if exc.status != 409:
                raise
    have = await _existing(api, "contacts")
    for definition in contact_properties(config):
        if definition["name"] not in have:
            await _create(api, "contacts", definition)
    for object_type in ("notes", "tasks"):
        if config.event_id_property not in await _existing(api, object_type):
            # Every object type has the default "<type>information" group.
            default_group = f"{object_type[:-1]}information"
            await _create(api, object_type, event_id_property(config, default_group))
