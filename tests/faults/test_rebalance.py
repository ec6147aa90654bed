"""Two qualifier replicas with rebalances mid-run (one joins, then the first leaves) during a
steady load: every accepted lead decided once and written once, and both replicas took part."""

from __future__ import annotations

import asyncio
import signal

import pytest

from services.demo import sample_leads
from tests.faults.cluster import Cluster, Load, decision_counts, until, wait_all_written
from tests.integration.crm_store import crm_counts_in

pytestmark = pytest.mark.integration


async def test_qualifier_replicas_rebalancing_mid_run_decide_each_lead_once(cluster: Cluster) -> None:
    await cluster.start_all("qualifier-1", "writer", "intake")
    load = Load(sample_leads(3000))
    stop = asyncio.Event()
    sending = asyncio.create_task(load.run(cluster.url, stop))
    try:
        await until(lambda: len(load.accepted) >= 40)
        await cluster.start("qualifier-2")  # joins: the partitions are shared out again
        await until(lambda: cluster.log_count("qualifier-2", '"lead_routed"') >= 10)
        await cluster.kill("qualifier-1", signal.SIGTERM)  # leaves: qualifier-2 takes all
        mark = len(load.accepted)
        await until(lambda: len(load.accepted) >= mark + 40)
    finally:
        stop.set()
        await sending
    accepted = list(load.accepted)

    await wait_all_written(cluster.database_url, accepted)
    writes, notes = await crm_counts_in(cluster.database_url)
    decided = await decision_counts(cluster.database_url)
    assert all(decided[lead_id] == 1 for lead_id in accepted)
    assert set(decided.values()) == {1} and set(writes.values()) == {1} and set(notes.values()) == {1}
    assert set(accepted) <= set(writes)
    # Both replicas decided leads; a redelivery after a rebalance republishes, never re-decides.
    assert cluster.log_count("qualifier-1", '"lead_routed"') > 0
    assert cluster.log_count("qualifier-2", '"lead_routed"') > 0
