"""Turn a sender's flat fields into a Lead, by the field map in sources.yaml."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def apply_mapping(values: Mapping[str, Any], mapping: Mapping[str, str]) -> dict[str, Any]:
    """``{"email": "a@b.co"}`` with ``{"email": "person.email"}`` -> ``{"person": {"email": ...}}``.

    Unmapped fields are kept under ``attributes`` so nothing the sender said is lost.
    """
    lead: dict[str, Any] = {"person": {}, "company": {}, "consent": {}, "attributes": {}}
    for name, value in values.items():
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        path = mapping.get(name)
        if path is None:
            lead["attributes"][name] = value
            continue
        head, _, rest = path.partition(".")
        if rest:
            lead.setdefault(head, {})[rest] = value.strip() if isinstance(value, str) else value
        else:
            lead[head] = value.strip() if isinstance(value, str) else value
    return lead  # person.name is split into first and last name by the Lead model
