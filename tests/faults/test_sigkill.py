"""SIGKILL the intake, the qualifier and the writer in turn during a steady load on Kafka and
PostgreSQL, restart each, and find every accepted lead decided once and written once."""

from __future__ import annotations

import asyncio

import pytest

from services.demo import sample_leads
from tests.faults.cluster import Cluster, Load, decision_counts, until, wait_all_written, written
from tests.integration.crm_store import crm_counts_in

pytestmark = pytest.mark.integration


async def test_sigkill_each_service_in_turn_loses_nothing_and_duplicates_nothing(cluster: Cluster) -> None:
    await cluster.start_all("qualifier", "writer", "intake")
    load = Load(sample_leads(3000))
    stop = asyncio.Event()
    sending = asyncio.create_task(load.run(cluster.url, stop))
    in_flight: dict[str, int] = {}
    try:
        await until(lambda: len(load.accepted) >= 40)
        for name in ("intake", "qualifier", "writer"):
            mark, failures = len(load.accepted), load.failures
            # What the killed process may have had in hand: accepted but not yet written.
            in_flight[name] = mark - len(await written(cluster.database_url, list(load.accepted)))
            await cluster.kill(name)
            if name == "intake":
                await until(lambda f=failures: load.failures >= f + 4)  # senders find it gone
            else:
                await until(lambda m=mark: len(load.accepted) >= m + 20)  # leads pile up on the bus
            await cluster.start(name)
            await until(lambda m=mark: len(load.accepted) >= m + 40)
    finally:
        stop.set()
        await sending
    accepted = list(load.accepted)
    assert load.failures > 0, "the intake's death should have been seen by the senders"
    assert any(in_flight.values()), f"each kill landed with nothing in flight: {in_flight}"

    await wait_all_written(cluster.database_url, accepted)
    writes, notes = await crm_counts_in(cluster.database_url)
    decided = await decision_counts(cluster.database_url)
    assert all(writes[lead_id] == 1 and notes[lead_id] == 1 for lead_id in accepted)
    assert all(decided[lead_id] == 1 for lead_id in accepted)
    # Leads whose answer was lost in the intake's death may be written too, but never twice.
    assert set(writes.values()) == {1} and set(notes.values()) == {1} and set(decided.values()) == {1}
