"""JSON the caller serialised already, for the store's JSON columns.

A decision is serialised once (``LeadRouted.model_dump_json``) for the bus and the store alike:
dumping it to Python objects for SQLAlchemy to encode again cost a fifth of the qualifier's
per-lead CPU. The engines' ``json_serializer`` passes ``JsonText`` through unchanged and encodes
anything else as SQLAlchemy's default does (``json.dumps``); reading a column back parses it as
before, so the stored data is the same.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class JsonText:
    """Text that is one JSON value already (not a str subclass: nothing mistakes it for a string)."""

    text: str


def serialise(value: Any) -> str:
    """The engines' json_serializer."""
    if isinstance(value, JsonText):
        return value.text
    return json.dumps(value)
