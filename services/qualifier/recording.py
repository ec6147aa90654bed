"""Route a judged batch from one read of the rotation state and record it in one transaction.

Each lead is routed from the state as the leads before it in the batch left it (the turns and
daily counts they took), so the store can apply the batch's takes as chained compare-and-sets
(SqlStore.record_routed_many). When another replica moved a pool in between, nothing is recorded:
the batch is routed again from a fresh read, less the events another worker decided meanwhile.
The shares across replicas are exact, and each event takes its turn once.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from connectors.bus import Message
from connectors.errors import RetriableConnectorError
from connectors.store.sql import Recording, SqlStore
from schemas.config import LeadflowConfig
from schemas.decision import Evaluation, OwnerStatus, RotationState, Take
from schemas.enrichment import Enrichment
from schemas.events import LeadReceived, LeadRouted
from services import tracing
from services.briefing import Briefer, Suggestion
from services.core.briefing import briefing
from services.core.routing import route
from services.notify import outgoing

ROTATION_ATTEMPTS = 200  # compare-and-set retries when replicas race for the same pool


@dataclass(frozen=True)
class Judged:
    """A lead as evaluated, before routing: what every routing attempt reuses."""

    message: Message
    received: LeadReceived
    enrichment: Enrichment | None
    evaluation: Evaluation
    model_version: str | None
    account_owner: str | None
    suggestion: Suggestion
    roster: Mapping[str, OwnerStatus]

    @property
    def event_id(self) -> str:
        return self.received.event_id


class Stood(NamedTuple):
    """A decision that stands, with its JSON when this call made and recorded it (None when
    another worker recorded one first): the bytes stored are the bytes published."""

    routed: LeadRouted
    body: str | None = None


class Router:
    def __init__(self, store: SqlStore, clock: Callable[[], datetime], briefer: Briefer | None) -> None:
        self._store, self._clock, self._briefer = store, clock, briefer
        # One batch routes at a time in this process (the per-message path runs leads of different
        # keys at once), so only replicas race for a pool's turn: a handful of retries at most.
        self._lock = asyncio.Lock()

    async def route_and_record(
        self, config: LeadflowConfig, judged: list[Judged]
    ) -> tuple[list[Stood], list[tuple[Judged, BaseException]]]:
        """Route the batch from one rotation read and record it in one transaction; when another
        replica moved a pool first, read again and route what is left anew. The decisions that
        stand, in order, and the leads whose routing raised (to dead-letter), with their error."""
        failed: dict[str, BaseException] = {}
        decided: dict[str, Stood] = {}
        spans = [(j.message.headers, {"lead_id": j.received.lead_id}) for j in judged]
        with tracing.stages("route", spans) as opened:
            async with self._lock:
                pending = judged
                for attempt in range(ROTATION_ATTEMPTS):
                    if attempt:
                        # Some of them may have been decided by another worker meanwhile.
                        earlier = await self._store.decisions_for_events([j.event_id for j in pending])
                        decided |= {event_id: Stood(routed) for event_id, routed in earlier.items()}
                    pending = [j for j in pending if j.event_id not in decided and j.event_id not in failed]
                    stands = await self._attempt(config, pending, failed) if pending else []
                    if stands is not None:
                        decided |= {stood.routed.event_id: stood for stood in stands}
                        break
                    await asyncio.sleep(random.uniform(0, 0.005 * min(attempt + 1, 10)))
                else:
                    raise RetriableConnectorError(
                        f"rotation contended {ROTATION_ATTEMPTS} times; retrying the batch"
                    )
            for span, j in zip(opened, judged, strict=True):
                if j.event_id in decided:
                    span.set_attribute("rule_id", decided[j.event_id].routed.routing.rule_id)
        stands = [decided[j.event_id] for j in judged if j.event_id in decided]
        return stands, [(j, failed[j.event_id]) for j in judged if j.event_id in failed]

    async def _attempt(
        self, config: LeadflowConfig, judged: list[Judged], failed: dict[str, BaseException]
    ) -> list[Stood] | None:
        """Route each lead from the store's rotation state as the leads before it left it, and
        record them all; None when another decision moved a pool first. A lead whose routing
        raises goes into ``failed`` instead."""
        now = self._clock()
        read = await self._store.rotation_state(now)
        turns, assigned = dict(read.turns), dict(read.assigned)
        state = RotationState(turns, assigned)  # moved by each take, for the leads after it
        recordings = []
        for j in judged:
            try:
                event, take = self._routed(config, j, now, state)
                notes = outgoing(event, config.routing)
            except Exception as exc:  # a bug in one lead's routing must not stall the rest
                failed[j.event_id] = exc
                continue
            if take is not None:
                turns[take.pool] = take.turn
                assigned[(take.member, take.day)] = assigned.get((take.member, take.day), 0) + 1
            recordings.append(Recording(event, take, notes, body=event.model_dump_json()))
        stands = await self._store.record_routed_many(recordings)
        if stands is None:
            return None
        # The store hands back our own object where our decision was recorded.
        return [Stood(routed, r.body if routed is r.routed else None)
                for routed, r in zip(stands, recordings, strict=True)]  # fmt: skip

    def _routed(
        self, config: LeadflowConfig, judged: Judged, now: datetime, state: RotationState
    ) -> tuple[LeadRouted, Take | None]:
        received, lead, evaluation = judged.received, judged.received.lead, judged.evaluation
        routed = route(
            lead,
            evaluation,
            config.routing,
            now=now,
            enrichment=judged.enrichment,
            account_owner=judged.account_owner,
            state=state,
            roster=judged.roster,
        )
        decision = routed.decision
        found = config.routing.member(decision.owner) if decision.owner else None
        text = (
            self._briefer.brief(
                lead,
                judged.enrichment,
                evaluation,
                decision,
                judged.suggestion,
                found[1].name if found else None,
            )
            if self._briefer
            else briefing(lead, evaluation, decision)
        )
        event = LeadRouted(
            event_id=received.event_id,
            lead_id=received.lead_id,
            received_at=received.received_at,
            decided_at=now,
            config_version=config.version,
            model_version=judged.model_version,
            lead=lead,
            enrichment=judged.enrichment,
            evaluation=evaluation,
            routing=decision,
            briefing=text,
        )
        return event, routed.take
