"""Fair rotation across two qualifier replicas on a real Kafka-protocol broker (Tansu).

Two Qualifier instances (handling one message at a time, or whole fetched batches), each with its
own KafkaBus and consumer in one consumer group and its own engine on one shared SQLite store
file, take 1,000 leads into a pool of five equal people and 1,000 into a pool weighted 2:1:1.
The issue asks for 200 ± 1 each and shares within 1% of 50/25/25; the compare-and-set rotation
gives exact shares, and the test allows what was asked.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.bus.kafka import KafkaBus, KafkaSettings
from connectors.store.engine import make_engine
from connectors.store.sql import SqlStore
from schemas.config import Condition, LeadflowConfig, Member, RoutingConfig, Rule, Team
from schemas.events import ALL_TOPICS, TOPIC_RECEIVED, LeadReceived
from schemas.lead import Lead, lead_id_for
from services.config import load_config
from services.consumer import ConsumerLoop
from services.qualifier.service import GROUP, Qualifier
from tests.conftest import CONFIG_DIR
from tests.servers import tansu_broker

EQUAL = Team(name="Equal", members=tuple(Member(id=f"p{i}", name=f"Person {i}") for i in range(5)))
WEIGHTED = Team(
    name="Weighted",
    members=(Member(id="heavy", name="Heavy", weight=2), Member(id="b", name="B"), Member(id="c", name="C")),
)
ROUTING = RoutingConfig(
    teams=(EQUAL, WEIGHTED),
    rules=(
        Rule(id="equal", when=Condition(sources=("eq",)), team="Equal"),
        Rule(id="weighted", when=Condition(sources=("wt",)), team="Weighted"),
        Rule(id="fallback", queue="Else"),
    ),
)
CONFIG: LeadflowConfig = load_config(CONFIG_DIR).model_copy(update={"routing": ROUTING})
PER_POOL = 1000


@pytest.fixture(scope="module")
def fresh_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Its own broker: other tests' leads on leads.received must not reach these replicas."""
    with tansu_broker(tmp_path_factory.mktemp("tansu-rotation") / "tansu.log") as bootstrap:
        yield bootstrap


def bus(bootstrap: str) -> KafkaBus:
    return KafkaBus(
        KafkaSettings(bootstrap, idempotence=False, partitions=4, replication=1), topics=ALL_TOPICS
    )


def received(n: int, source: str) -> LeadReceived:
    lead = Lead.model_validate(
        {
            "email": f"buyer{n}@{source}.example",
            "title": "Head of Operations",
            "source": source,
            "company": {"name": f"Co {n}", "employees": 150, "industry": "Logistics", "country": "ES"},
        }
    )
    return LeadReceived(
        event_id=f"{source}-{n}", lead_id=lead_id_for(lead.identity), received_at=datetime.now(UTC), lead=lead
    )


def owners(db: Path) -> tuple[int, Counter[str]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT owner FROM leads").fetchall()
    return len(rows), Counter(owner for (owner,) in rows)


@pytest.mark.parametrize("batched", [False, True], ids=["per-message", "batch"])
async def test_two_replicas_share_the_pools_fairly(tmp_path: Path, fresh_broker: str, batched: bool) -> None:
    db = tmp_path / "store.db"
    stores = [SqlStore(make_engine(f"sqlite+aiosqlite:///{db}")) for _ in range(2)]
    for store in stores:
        await store.start()
    buses = [bus(fresh_broker) for _ in range(3)]  # two replicas and a producer
    for b in buses:
        await b.start()
    qualifiers = [Qualifier(b, s, lambda: CONFIG) for b, s in zip(buses[:2], stores, strict=True)]
    loops = [
        ConsumerLoop(b, [TOPIC_RECEIVED], GROUP, q.handle, batch_handler=q.handle_batch if batched else None)
        for b, q in zip(buses[:2], qualifiers, strict=True)
    ]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(loop.run(stop)) for loop in loops]
    try:
        producer = buses[2]
        events = [received(n, source) for n in range(PER_POOL) for source in ("eq", "wt")]
        for event in events:
            await producer.publish(TOPIC_RECEIVED, event.lead.identity, event.model_dump_json().encode())
        deadline = time.monotonic() + 300
        while owners(db)[0] < len(events) and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        for b in buses:
            await b.close()
        for store in stores:
            await store.close()

    decided, got = owners(db)
    assert decided == len(events)
    assert all(loop.handled > 0 for loop in loops), "both replicas must have taken part"
    assert sum(loop.dead_lettered for loop in loops) == 0
    for member in EQUAL.members:
        assert abs(got[member.id] - 200) <= 1, got
    assert abs(got["heavy"] / PER_POOL - 0.50) <= 0.01, got
    assert abs(got["b"] / PER_POOL - 0.25) <= 0.01, got
    assert abs(got["c"] / PER_POOL - 0.25) <= 0.01, got
    print(
        {
            "equal": {m.id: got[m.id] for m in EQUAL.members},
            "weighted": {m.id: got[m.id] for m in WEIGHTED.members},
            "handled_per_replica": [loop.handled for loop in loops],
        }
    )
