"""A routing roster from the CRMs' own owner lists (HubSpot owners, Salesforce active Users).

routing.yaml names people by member id; crm.yaml maps each member id to the CRM's owner id
(``hubspot.owners``, ``salesforce.owners``). A mapped person the CRM no longer lists as an active
owner (a HubSpot owner archived or removed, a Salesforce User deactivated) is out of the
rotation. The CRM only takes people out: a person it lists as active is left to routing.yaml
(their ``active``, ``out_of_office_until``), since neither CRM says who is on leave.

The lists are cached for a TTL, fetched by one caller at a time, with a timeout; when a CRM cannot
be read the last list is kept (or none), so a CRM outage never stops routing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from connectors.crm.reader import CrmOwner
from connectors.errors import ConnectorError
from schemas.decision import OwnerStatus

log = logging.getLogger(__name__)
INACTIVE = OwnerStatus(active=False)


@runtime_checkable
class OwnerLister(Protocol):
    name: str

    async def owners(self) -> list[CrmOwner]: ...


@dataclass(frozen=True)
class RosterFeed:
    """One CRM's owner list and crm.yaml's map from routing member id to that CRM's owner id."""

    crm: OwnerLister
    owner_map: Mapping[str, str]


def same_id(a: str, b: str) -> bool:
    """Salesforce ids compare on their case-sensitive 15 characters (18 adds a checksum)."""
    return a == b or (len(a) in (15, 18) and len(b) in (15, 18) and a[:15] == b[:15])


def statuses(owners: Sequence[CrmOwner], owner_map: Mapping[str, str]) -> dict[str, OwnerStatus]:
    """Member id -> inactive, for each mapped member the CRM does not list as an active owner."""
    active = [o.owner_id for o in owners if o.active]
    return {
        member: INACTIVE
        for member, crm_id in owner_map.items()
        if not any(same_id(crm_id, owner_id) for owner_id in active)
    }


class CrmRoster:
    """``RosterSource`` (services/qualifier) over one or more CRMs, cached for ``ttl`` seconds."""

    def __init__(
        self,
        feeds: Sequence[RosterFeed],
        *,
        ttl: float = 300.0,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._feeds, self._ttl, self._timeout, self._clock = list(feeds), ttl, timeout, clock
        self._cached: dict[str, dict[str, OwnerStatus]] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()

    def current(self) -> Mapping[str, OwnerStatus]:
        """The last roster read, without calling a CRM (for the SLA timer's synchronous hook)."""
        merged: dict[str, OwnerStatus] = {}
        for found in self._cached.values():
            merged |= found  # every entry is "inactive": inactive in any CRM is out
        return merged

    async def owners(self) -> Mapping[str, OwnerStatus]:
        async with self._lock:
            now = self._clock()
            if self._fetched_at is None or now - self._fetched_at >= self._ttl:
                for feed in self._feeds:
                    await self._refresh(feed)
                self._fetched_at = now
        return self.current()

    async def _refresh(self, feed: RosterFeed) -> None:
        try:
            owners = await asyncio.wait_for(feed.crm.owners(), self._timeout)
        except (ConnectorError, TimeoutError) as exc:
            # Keep the last list: one failed read must not put everyone back (or out).
            log.warning("roster unavailable: connector=%s error=%s", feed.crm.name, exc.__class__.__name__)
            return
        found = statuses(owners, feed.owner_map)
        if found != self._cached.get(feed.crm.name):
            log.info("roster changed: connector=%s inactive=%s", feed.crm.name, sorted(found))
        self._cached[feed.crm.name] = found
