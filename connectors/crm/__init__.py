"""CRM write-back: one small interface, one adapter per CRM (local, HubSpot, Salesforce).

Every adapter keeps the same promises, checked by one contract suite (tests/connectors/crm/):
- one write per event: a redelivered event changes nothing (the record's last event id, one note per event);
- a record a person locked keeps its status and owner (score, tier and reasons are still written);
- failures come out as the connector error tree (connectors.errors): Throttled and other retriable
  errors are retried by the connector's Guard; what is still failing is raised for the caller
  to dead-letter, except CrmUnavailable, which means "wait, the whole CRM is away".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from connectors.errors import ConnectorError
from schemas.events import LeadRouted


class WriteAction(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"  # this event was already written (a redelivery)
    LOCKED = "locked"  # a person locked the record: score written, status and owner kept
    CONVERTED = "converted"  # Salesforce: the Lead became a Contact; the briefing went on that


@dataclass(frozen=True)
class WriteOutcome:
    crm: str
    record_id: str
    action: WriteAction


# Per event in a batch: what was written, or why that one record failed (the others still count).
BatchResult = WriteOutcome | ConnectorError


class CrmWriter(Protocol):
    name: str
    max_batch: int  # events per write_many call that still fit the CRM's batch endpoints

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def write(self, routed: LeadRouted) -> WriteOutcome:
        """Write one decision to its CRM record, idempotently by ``routed.event_id``."""
        ...

    async def write_many(self, batch: Sequence[LeadRouted]) -> list[BatchResult]:
        """Write up to ``max_batch`` decisions for distinct leads, one result per event, in order.

        Raises (instead of returning per-event errors) only when nothing could be written,
        e.g. CrmUnavailable while the CRM is down.
        """
        ...

    async def forget(self, email: str) -> int | None:
        """Erase the person with this email (GDPR): their record and everything Leadflow wrote
        about them. Idempotent: forgetting someone unknown does nothing (an adapter that can
        tell returns how many records it erased)."""
        ...


def draft_event_id(event_id: str) -> str:
    """The id a decision's email draft is written under in the CRM: unique per event, so a
    redelivery finds (and never doubles) it."""
    return event_id + ":draft"


async def write_each(crm: CrmWriter, batch: Sequence[LeadRouted]) -> list[BatchResult]:
    """``write_many`` for a CRM without batch endpoints: one write per event, errors kept per event."""
    results: list[BatchResult] = []
    for routed in batch:
        try:
            results.append(await crm.write(routed))
        except ConnectorError as exc:
            results.append(exc)
    return results
