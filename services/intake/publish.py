"""Publish each delivery at most once per sender event id, and answer only once it is durable.

Dedupe has two layers: concurrent repeats inside this process wait for the first one's outcome;
across replicas a claim row in the store decides (see SqlStore.claim_inbound_many). Claims and
confirmations of concurrent requests share one store statement each (services/intake/coalesce.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from connectors.bus import Bus
from connectors.store.sql import Claim, InboundClaim, SqlStore
from schemas.events import MAX_EVENT_ID, TOPIC_FEEDBACK, TOPIC_RECEIVED, LeadFeedback, LeadReceived
from schemas.lead import Lead, lead_id_for
from services.errors import Busy, Malformed, Replayed
from services.intake.coalesce import Coalescer
from services.intake.recent import RecentDeliveries
from services.logs import get_logger

log = get_logger(component="intake")

# A claim left pending this long belonged to a process that died while publishing.
STALE_CLAIM = timedelta(seconds=30)


class Outcome(StrEnum):
    PUBLISHED = "published"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class Inbound:
    """One event a delivery asks us to publish."""

    source: str
    source_event_id: str | None  # None: the sender gives no id (a browser form): no dedupe
    topic: str
    key: str
    event: LeadReceived | LeadFeedback


def digest(item: Inbound) -> str:
    """What makes two deliveries with one id the same delivery: the content, not when it came."""
    content = item.event.model_dump_json(exclude={"received_at"})
    return hashlib.sha256(content.encode()).hexdigest()


def lead_inbound(source: str, source_event_id: str | None, lead: Lead, now: datetime) -> Inbound:
    event_id = f"{source}:{source_event_id}" if source_event_id else str(uuid.uuid4())
    if len(event_id) > MAX_EVENT_ID:
        # A sender's own delivery id (webhook-id, an event id) is free text: refused, not a 500.
        most = MAX_EVENT_ID - len(source) - 1
        raise Malformed(f"the delivery id is {len(source_event_id or '')} characters long; at most {most}")
    lead_id = lead_id_for(lead.identity or f"event:{event_id}")
    event = LeadReceived(
        event_id=event_id, lead_id=lead_id, received_at=now, source_event_id=source_event_id, lead=lead
    )
    return Inbound(source, source_event_id, TOPIC_RECEIVED, lead.identity or lead_id, event)


def feedback_inbound(event: LeadFeedback) -> Inbound:
    return Inbound(event.source, event.source_event_id, TOPIC_FEEDBACK, event.lead_id, event)


class Publisher:
    def __init__(self, bus: Bus, store: SqlStore) -> None:
        self._bus, self._store = bus, store
        self._inflight: dict[tuple[str, str], asyncio.Future[Outcome]] = {}
        # Events this process published lately, with their digest: a sender's retry storm is
        # answered from memory instead of a store transaction each. The store stays the truth.
        self._recent = RecentDeliveries(ttl=1800, maxsize=100_000)
        self._claims: Coalescer[InboundClaim, Claim] = Coalescer(self._claim_many)
        self._confirms: Coalescer[tuple[str, str], None] = Coalescer(self._confirm_many)
        self._confirming: set[asyncio.Task[None]] = set()

    async def _claim_many(self, claims: Sequence[InboundClaim]) -> list[Claim]:
        return await self._store.claim_inbound_many(claims, STALE_CLAIM)

    async def _confirm_many(self, keys: Sequence[tuple[str, str]]) -> list[None]:
        await self._store.confirm_inbound_many(keys)
        return [None] * len(keys)

    async def publish(self, item: Inbound, now: datetime) -> Outcome:
        """Raises BusUnavailable or Busy (503: another replica holds the event), or Replayed (409)."""
        if item.source_event_id is None:
            await self._send(item)
            return Outcome.PUBLISHED
        key = (item.source, item.source_event_id)
        content = digest(item)
        seen = self._recent.get(*key)
        if seen is not None:
            if seen != content:
                raise Replayed(f"event id '{item.source_event_id}' was already used for different content")
            return Outcome.DUPLICATE
        running = self._inflight.get(key)
        if running is not None:
            try:
                await asyncio.shield(running)
                return Outcome.DUPLICATE
            except Exception:  # noqa: S110 - the first attempt failed: this one tries afresh
                pass
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            outcome = await self._claim_and_send(item, now, content)
            future.set_result(outcome)
            return outcome
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise nothing, they retry
            raise
        finally:
            self._inflight.pop(key, None)

    async def _claim_and_send(self, item: Inbound, now: datetime, content: str) -> Outcome:
        assert item.source_event_id is not None
        claim = await self._claims.submit(InboundClaim(item.source, item.source_event_id, now, content))
        if claim is Claim.CONFLICT:
            raise Replayed(f"event id '{item.source_event_id}' was already used for different content")
        if claim is Claim.DUPLICATE:
            self._recent.put(item.source, item.source_event_id, content)
            log.info("duplicate", source=item.source, event_id=item.event.event_id, outcome="duplicate")
            return Outcome.DUPLICATE
        if claim is Claim.IN_PROGRESS:
            raise Busy(
                f"event '{item.source_event_id}' is being accepted right now; retry shortly",
                headers={"Retry-After": str(int(STALE_CLAIM.total_seconds()))},
            )
        try:
            await self._send(item)
        except BaseException:
            await self._store.release_inbound(item.source, item.source_event_id)
            raise
        key = (item.source, item.source_event_id)
        self._recent.put(*key, content)
        # The event is on the bus: the answer need not wait for the claim's confirmation too.
        confirming = asyncio.create_task(self._confirm(key))
        self._confirming.add(confirming)
        confirming.add_done_callback(self._confirming.discard)
        return Outcome.PUBLISHED

    async def _confirm(self, key: tuple[str, str]) -> None:
        try:
            await self._confirms.submit(key)
        except Exception as exc:
            # The claim stays pending: after STALE_CLAIM the sender's retry (if any) is published
            # again, and the qualifier's dedupe by event id keeps it to one decision.
            log.warning("confirm_failed", source=key[0], error=exc.__class__.__name__)

    async def close(self) -> None:
        """Wait for the confirmations still in flight (at shutdown, before the store closes)."""
        await asyncio.gather(*self._confirming, return_exceptions=True)

    async def _send(self, item: Inbound) -> None:
        await self._bus.publish(item.topic, item.key, item.event.model_dump_json().encode())
        log.info(
            "accepted",
            source=item.source,
            event_id=item.event.event_id,
            lead_id=item.event.lead_id,
            topic=item.topic,
            outcome="published",
        )
