"""CRM write-back: one small interface, one adapter per CRM (local now; HubSpot, Salesforce next)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from schemas.events import LeadRouted


class WriteAction(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"  # this event was already written (a redelivery)
    LOCKED = "locked"  # a person locked the record: score written, status and owner kept


@dataclass(frozen=True)
class WriteOutcome:
    crm: str
    record_id: str
    action: WriteAction


class CrmWriter(Protocol):
    name: str

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def write(self, routed: LeadRouted) -> WriteOutcome:
        """Write the decision to the CRM record, idempotently by ``routed.event_id``."""
        ...

    async def forget(self, email: str) -> None:
        """Erase the person with this email (GDPR): their record and everything Leadflow wrote
        about them. Idempotent: forgetting someone unknown does nothing."""
        ...
