"""The SLA timer: finds first-touch deadlines that passed without a touch and escalates each once.

Runs as a task in the writer role (and so in the embedded process). Any number of replicas may
run it: a breach is claimed in the same store transaction that records the escalation decision,
so exactly one replica escalates it. The escalation is a new LeadRouted event for the same lead
(event id ``<original>:sla``), so the writer updates the CRM owner as for any decision; it is
recorded before it is published, and a publish that failed is retried on the next tick.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from connectors.bus import Bus
from connectors.errors import ConnectorError
from connectors.store.sql import SqlStore
from schemas.config import LeadflowConfig
from schemas.decision import OwnerStatus
from schemas.events import TOPIC_ROUTED, LeadRouted
from services.core.escalation import reassign
from services.logs import get_logger
from services.notify import outgoing

log = get_logger(component="sla")


class TouchSource(Protocol):
    """CRM activity (a call, an email logged) that counts as the first touch; connectors may
    implement it. Without one, only ``POST /v1/leads/{id}/touch`` records touches."""

    async def first_touch(self, lead_id: str, since: datetime) -> datetime | None: ...


class SlaTimer:
    def __init__(
        self,
        bus: Bus,
        store: SqlStore,
        config: Callable[[], LeadflowConfig],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        touches: TouchSource | None = None,
        roster: Callable[[], Mapping[str, OwnerStatus]] | None = None,
    ) -> None:
        self._bus, self._store, self._config, self._clock = bus, store, config, clock
        self._touches, self._roster = touches, roster

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except ConnectorError as exc:
                log.warning("sla_check_failed", error=exc.__class__.__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._config().routing.sla.check_every_seconds)

    async def tick(self) -> int:
        """One pass; returns how many breaches this replica escalated."""
        for event_id in await self._store.unpublished_escalations():
            routed = await self._store.decision_for_event(event_id)
            if routed is not None:
                await self._publish(routed)
        escalated = 0
        now = self._clock()
        for row in await self._store.due_slas(now):
            if self._touches is not None:
                touched = await self._touches.first_touch(row["lead_id"], row["due_at"])
                if touched is not None and touched <= row["due_at"]:
                    await self._store.record_touch(row["lead_id"], touched)
                    continue
            escalation = await self._escalate(row, now)
            if escalation is not None:
                escalated += 1
                await self._publish(escalation)
        return escalated

    async def _escalate(self, row: dict[str, Any], now: datetime) -> LeadRouted | None:
        late = await self._store.decision_for_event(row["event_id"])
        if late is None:
            return None
        config = self._config()
        roster = self._roster() if self._roster else {}
        for _ in range(50):
            state = await self._store.rotation_state(now)
            routed = reassign(late.routing, row["tier"], config.routing, now=now, state=state, roster=roster)
            event = late.model_copy(
                update={"event_id": f"{late.event_id}:sla", "decided_at": now, "routing": routed.decision}
            )
            notes = outgoing(
                event, config.routing, kind="lead.sla_breached", manager=config.routing.sla.notify_manager
            )
            stands = await self._store.record_routed(event, routed.take, notes, claim_sla=late.event_id)
            if stands is not None:
                log.info(
                    "sla_breached",
                    lead_id=late.lead_id,
                    event_id=event.event_id,
                    tier=row["tier"],
                    reassigned=routed.take is not None,
                )
                return stands
            current = await self._store.sla_of(late.event_id)
            if current is None or current["state"] != "open":
                return None  # touched meanwhile, or another replica escalated it
        return None

    async def _publish(self, routed: LeadRouted) -> None:
        try:
            await self._bus.publish(TOPIC_ROUTED, routed.lead_id, routed.model_dump_json().encode())
        except ConnectorError as exc:
            log.warning("sla_publish_failed", lead_id=routed.lead_id, error=exc.__class__.__name__)
            return
        await self._store.mark_escalation_published(routed.event_id)
