"""Request schemas for the HubSpot endpoints Leadflow uses that the contract subset does not cover.

Written by hand from HubSpot's public API reference pages (batch read/create/upsert, associations
v4 batch create, properties and property groups, GDPR delete); only the fields Leadflow sends are
required, and extra fields are allowed, as in the subset. Keyed by (method, route template).
"""

from __future__ import annotations

from typing import Any

_STR = {"type": "string"}
_PROPS = {"type": "object", "additionalProperties": {"type": ["string", "null"]}}

BATCH_READ = {
    "type": "object",
    "required": ["inputs"],
    "properties": {
        "inputs": {
            "type": "array",
            "maxItems": 100,
            "items": {"type": "object", "required": ["id"], "properties": {"id": _STR}},
        },
        "properties": {"type": "array", "items": _STR},
        "idProperty": _STR,
        "propertiesWithHistory": {"type": "array", "items": _STR},
    },
}
_TYPES = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["associationCategory", "associationTypeId"],
        "properties": {
            "associationCategory": {"enum": ["HUBSPOT_DEFINED", "USER_DEFINED", "INTEGRATOR_DEFINED"]},
            "associationTypeId": {"type": "integer"},
        },
    },
}
# An association given with a record's create (PublicAssociationsForObject): to whom, which types.
_INLINE = {
    "type": "object",
    "required": ["to", "types"],
    "properties": {"to": {"type": "object", "required": ["id"], "properties": {"id": _STR}}, "types": _TYPES},
}
BATCH_CREATE = {
    "type": "object",
    "required": ["inputs"],
    "properties": {
        "inputs": {
            "type": "array",
            "maxItems": 100,
            "items": {
                "type": "object",
                "required": ["properties"],
                "properties": {"properties": _PROPS, "associations": {"type": "array", "items": _INLINE}},
            },
        }
    },
}
BATCH_UPSERT = {
    "type": "object",
    "required": ["inputs"],
    "properties": {
        "inputs": {
            "type": "array",
            "maxItems": 100,
            "items": {
                "type": "object",
                "required": ["id", "idProperty", "properties"],
                "properties": {
                    "id": {"type": "string", "minLength": 1},
                    "idProperty": _STR,
                    "properties": _PROPS,
                },
            },
        }
    },
}
ASSOCIATE = {
    "type": "object",
    "required": ["inputs"],
    "properties": {
        "inputs": {
            "type": "array",
            "maxItems": 2000,
            "items": {
                "type": "object",
                "required": ["from", "to", "types"],
                "properties": {
                    "from": {"type": "object", "required": ["id"], "properties": {"id": _STR}},
                    "to": {"type": "object", "required": ["id"], "properties": {"id": _STR}},
                    "types": _TYPES,
                },
            },
        }
    },
}
PROPERTY_CREATE = {
    "type": "object",
    "required": ["name", "label", "type", "fieldType", "groupName"],
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
        "label": _STR,
        "type": {"enum": ["string", "number", "date", "datetime", "enumeration", "bool"]},
        "fieldType": {
            "enum": [
                "text",
                "textarea",
                "number",
                "date",
                "booleancheckbox",
                "select",
                "radio",
                "checkbox",
                "calculation_equation",
                "file",
                "html",
                "phonenumber",
            ]
        },
        "groupName": _STR,
        "hasUniqueValue": {"type": "boolean"},
        "options": {"type": "array"},
    },
}
GROUP_CREATE = {
    "type": "object",
    "required": ["name", "label"],
    "properties": {"name": _STR, "label": _STR, "displayOrder": {"type": "integer"}},
}
GDPR_DELETE = {
    "type": "object",
    "required": ["objectId"],
    "properties": {"objectId": _STR, "idProperty": _STR},
}

# (method, route) -> request body schema (None: no body). Routes use Starlette's templates.
DOCUMENTED: dict[tuple[str, str], dict[str, Any] | None] = {
    ("POST", "/crm/v3/objects/{kind}/batch/read"): BATCH_READ,
    ("POST", "/crm/v3/objects/{kind}/batch/create"): BATCH_CREATE,
    ("POST", "/crm/v3/objects/{kind}/batch/upsert"): BATCH_UPSERT,
    ("POST", "/crm/v4/associations/{src}/{dst}/batch/create"): ASSOCIATE,
    ("GET", "/crm/v3/properties/{kind}"): None,
    ("POST", "/crm/v3/properties/{kind}"): PROPERTY_CREATE,
    ("GET", "/crm/v3/properties/{kind}/groups"): None,
    ("POST", "/crm/v3/properties/{kind}/groups"): GROUP_CREATE,
    ("POST", "/crm/v3/objects/contacts/gdpr-delete"): GDPR_DELETE,
    ("GET", "/crm/v3/objects/{kind}/{object_id}"): None,
}
