"""A storm of duplicates: one lead posted many times at once with one Idempotency-Key across two
intake replicas, and one event delivered many times on the bus: each decided and written once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from schemas.events import TOPIC_RECEIVED, LeadReceived
from schemas.lead import Lead, lead_id_for
from services.demo import sample_leads
from tests.faults.cluster import Cluster, decision_counts, until, wait_all_written
from tests.integration.crm_store import crm_counts_in
from tests.integration.helpers import AUTH

pytestmark = pytest.mark.integration


async def test_a_storm_of_duplicates_is_decided_and_written_once(cluster: Cluster) -> None:
    await cluster.start_all("intake-1", "intake-2", "qualifier", "writer")
    lead = sample_leads(1)[0]
    headers = {**AUTH, "Idempotency-Key": "storm-1"}
    statuses: list[int] = []

    async def until_answered(client: httpx.AsyncClient) -> str:
        # 503 means another replica is accepting it right now: retry, as a sender does.
        while True:
            response = await client.post("/v1/leads", json=lead, headers=headers)
            statuses.append(response.status_code)
            if response.status_code != 503:
                assert response.status_code in (200, 202), response.text
                return str(response.json()["lead_id"])
            await asyncio.sleep(0.2)

    async with (
        httpx.AsyncClient(base_url=cluster.url("intake-1"), timeout=30) as one,
        httpx.AsyncClient(base_url=cluster.url("intake-2"), timeout=30) as two,
    ):
        lead_ids = await asyncio.gather(*(until_answered(one if i % 2 else two) for i in range(60)))
    assert len(set(lead_ids)) == 1 and statuses.count(202) == 1  # published once, repeats get 200

    # At-least-once on the bus: the same event delivered 40 times (a producer retrying, a replay).
    bus_lead = Lead.model_validate({"email": "storm@freight.example", "first_name": "Ana", "source": "demo"})
    event = LeadReceived(
        event_id="bus-storm-1",
        lead_id=lead_id_for(bus_lead.identity),
        received_at=datetime.now(UTC),
        lead=bus_lead,
    )
    producer = AIOKafkaProducer(bootstrap_servers=cluster.bootstrap, acks="all")
    await producer.start()
    try:
        for _ in range(40):
            await producer.send(
                TOPIC_RECEIVED, event.model_dump_json().encode(), key=bus_lead.identity.encode()
            )
        await producer.flush()
    finally:
        await producer.stop()

    await wait_all_written(cluster.database_url, [lead_ids[0], event.lead_id])
    # Every copy reached the qualifier and then the writer, and changed nothing after the first.
    await until(lambda: cluster.log_count("writer", '"lead_written"') >= 41)
    writes, notes = await crm_counts_in(cluster.database_url)
    assert writes == {lead_ids[0]: 1, event.lead_id: 1} and notes == writes
    assert await decision_counts(cluster.database_url) == writes
