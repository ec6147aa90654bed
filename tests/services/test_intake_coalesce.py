"""Coalescer: concurrent submissions share one call, a lone one goes at once, a failing batch
fails only its bad item."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.bus.memory import MemoryBus
from connectors.errors import StoreUnavailable
from connectors.store.engine import make_engine
from connectors.store.sql import SqlStore
from schemas.events import TOPIC_RECEIVED
from schemas.lead import Lead
from services.intake.coalesce import Coalescer
from services.intake.publish import Outcome, Publisher, lead_inbound


class Recorder:
    def __init__(self, bad: frozenset[int] = frozenset()) -> None:
        self.calls: list[list[int]] = []
        self.bad = bad

    async def run(self, items: Sequence[int]) -> list[int]:
        self.calls.append(list(items))
        await asyncio.sleep(0.01)  # a round trip: what arrives meanwhile waits for the next call
        if self.bad & set(items):
            raise ValueError(f"bad item in {list(items)}")
        return [i * 10 for i in items]


async def test_a_lone_item_goes_at_once_in_a_call_of_its_own() -> None:
    recorder = Recorder()
    coalescer = Coalescer(recorder.run)
    assert await coalescer.submit(1) == 10
    assert await coalescer.submit(2) == 20
    assert recorder.calls == [[1], [2]]


async def test_items_submitted_during_a_call_share_the_next_one_in_order() -> None:
    recorder = Recorder()
    coalescer = Coalescer(recorder.run)
    results = await asyncio.gather(*(coalescer.submit(i) for i in range(5)))
    assert results == [0, 10, 20, 30, 40]
    assert recorder.calls == [[0, 1, 2, 3, 4]]  # all came before the first call started
    first = asyncio.create_task(coalescer.submit(5))
    await asyncio.sleep(0)  # the call for 5 is in flight now
    later = await asyncio.gather(*(coalescer.submit(i) for i in (6, 7)))
    assert (await first, later) == (50, [60, 70])
    assert recorder.calls[1:] == [[5], [6, 7]]


async def test_a_batch_is_capped() -> None:
    recorder = Recorder()
    coalescer = Coalescer(recorder.run, max_batch=2)
    assert await asyncio.gather(*(coalescer.submit(i) for i in range(5))) == [0, 10, 20, 30, 40]
    assert recorder.calls == [[0, 1], [2, 3], [4]]


async def test_when_a_batch_fails_each_item_is_tried_alone_and_only_the_bad_one_fails() -> None:
    recorder = Recorder(bad=frozenset({2}))
    coalescer = Coalescer(recorder.run)
    results = await asyncio.gather(*(coalescer.submit(i) for i in range(4)), return_exceptions=True)
    assert results[:2] == [0, 10] and results[3] == 30
    assert isinstance(results[2], ValueError)
    assert recorder.calls[0] == [0, 1, 2, 3]
    assert sorted(recorder.calls[1:]) == [[0], [1], [2], [3]]


async def test_a_cancelled_submitter_does_not_stop_the_others() -> None:
    recorder = Recorder()
    coalescer = Coalescer(recorder.run)
    gone = asyncio.create_task(coalescer.submit(1))
    kept = asyncio.create_task(coalescer.submit(2))
    await asyncio.sleep(0)
    gone.cancel()
    assert await kept == 20
    with pytest.raises(asyncio.CancelledError):
        await gone


async def test_through_the_publisher_a_bad_id_fails_only_its_own_delivery(postgres_url: str) -> None:
    """PostgreSQL refuses a sender event id longer than its column: that delivery fails (its
    request gets a 503), the ones claimed in the same statement are published all the same."""
    now = datetime.now(UTC)
    lead = Lead.model_validate({"source": "bench", "person": {"email": "ana@acme.example"}})
    items = [lead_inbound("bench", i, lead, now) for i in ("a", "b", "c", "d")]
    items[1] = replace(items[1], source_event_id="x" * 300)  # past the claim's column
    store = SqlStore(make_engine(postgres_url))
    await store.start()
    bus = MemoryBus()
    publisher = Publisher(bus, store)
    try:
        results = await asyncio.gather(*(publisher.publish(i, now) for i in items), return_exceptions=True)
        again = await publisher.publish(items[0], now)
    finally:
        await publisher.close()
        await store.close()
    assert isinstance(results[1], StoreUnavailable)
    assert [results[i] for i in (0, 2, 3)] == [Outcome.PUBLISHED] * 3
    assert len(bus.values(TOPIC_RECEIVED)) == 3
    assert again is Outcome.DUPLICATE


async def test_deliveries_are_published_after_the_server_drops_the_claims_connections(
    postgres_url: str,
) -> None:
    """The claims' pool pings no connection before use: when the server has dropped them (a
    restart, a failover), the statement in flight fails, the pool is discarded, and each of its
    deliveries (a lone one too) is claimed again alone on a fresh connection: none of them fails."""
    now = datetime.now(UTC)
    lead = Lead.model_validate({"source": "bench", "person": {"email": "ana@acme.example"}})
    store = SqlStore(make_engine(postgres_url))
    await store.start()
    bus = MemoryBus()
    publisher = Publisher(bus, store)
    killer = make_engine(postgres_url)
    try:
        assert await publisher.publish(lead_inbound("bench", "warm", lead, now), now) is Outcome.PUBLISHED
        await drop_connections(killer)
        alone = await publisher.publish(lead_inbound("bench", "alone", lead, now), now)
        await drop_connections(killer)
        items = [lead_inbound("bench", i, lead, now) for i in ("a", "b", "c", "d")]
        together = await asyncio.gather(*(publisher.publish(i, now) for i in items))
    finally:
        await publisher.close()
        await killer.dispose()
        await store.close()
    assert (alone, together) == (Outcome.PUBLISHED, [Outcome.PUBLISHED] * 4)
    assert len(bus.values(TOPIC_RECEIVED)) == 6


async def drop_connections(engine: AsyncEngine) -> None:
    """What a server restart does to the store's connections: it ends them."""
    async with engine.connect() as conn:
        dropped = await conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
        assert dropped.all()  # the store's connections were there, and are gone now
