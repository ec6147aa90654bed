"""One contract for every Bus adapter: in-memory, SQLite and Kafka (a real Tansu broker)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from connectors.bus import Bus, Consumer, Message
from connectors.bus.kafka import MAX_BATCH_BYTES, KafkaBus, KafkaSettings
from connectors.bus.memory import MemoryBus
from connectors.bus.sqlite import SqliteBus
from connectors.errors import BusUnavailable

# Joining a consumer group on Kafka takes a few seconds (initial rebalance delay).
FETCH_WAIT = 20.0


@pytest.fixture(params=["memory", "sqlite", "kafka"])
async def bus(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Bus]:
    adapter: Bus
    if request.param == "memory":
        adapter = MemoryBus()
    elif request.param == "sqlite":
        adapter = SqliteBus(tmp_path / "bus.db")
    else:
        bootstrap = request.getfixturevalue("kafka_bootstrap")
        adapter = KafkaBus(KafkaSettings(bootstrap=bootstrap, idempotence=False, partitions=3), topics=[])
    await adapter.start()
    yield adapter
    await adapter.close()


def topic() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


async def drain(consumer: Consumer, count: int, wait: float = FETCH_WAIT) -> list[Message]:
    """Fetch until ``count`` messages arrived or ``wait`` seconds passed."""
    got: list[Message] = []
    deadline = asyncio.get_running_loop().time() + wait
    while len(got) < count and asyncio.get_running_loop().time() < deadline:
        got += await consumer.fetch(max_records=500, timeout=0.5)
    return got


async def test_published_messages_reach_a_consumer_with_key_value_and_headers(bus: Bus) -> None:
    t = topic()
    await bus.publish(t, "lead-1", b'{"n": 1}', (("trace", b"abc"),))
    consumer = await bus.consumer([t], "g1")
    try:
        [msg] = await drain(consumer, 1)
    finally:
        await consumer.close()
    assert (msg.topic, msg.key, msg.value, dict(msg.headers)) == (
        t,
        "lead-1",
        b'{"n": 1}',
        {"trace": b"abc"},
    )


async def test_messages_with_one_key_keep_their_order(bus: Bus) -> None:
    t = topic()
    for i in range(50):
        await bus.publish(t, f"k{i % 3}", str(i).encode())
    consumer = await bus.consumer([t], "g-order")
    try:
        got = await drain(consumer, 50)
    finally:
        await consumer.close()
    assert len(got) == 50
    for key in ("k0", "k1", "k2"):
        values = [int(m.value) for m in got if m.key == key]
        assert values == sorted(values)


async def test_concurrent_publishes_are_all_kept(bus: Bus) -> None:
    t = topic()
    await asyncio.gather(*(bus.publish(t, f"k{i}", str(i).encode()) for i in range(200)))
    consumer = await bus.consumer([t], "g-conc")
    try:
        got = await drain(consumer, 200)
    finally:
        await consumer.close()
    assert sorted(int(m.value) for m in got) == list(range(200))


async def test_full_producer_batches_of_routed_size_messages_arrive_whole(bus: Bus) -> None:
    # Routed leads are about 5.5 KiB: on one key (one partition) these fill two of the Kafka
    # producer's batches (MAX_BATCH_BYTES), which the broker must take and a consumer fetch.
    t, size = topic(), 5632
    values = [str(i).encode().ljust(size, b".") for i in range(2 * MAX_BATCH_BYTES // size)]
    await asyncio.gather(*(bus.publish(t, "one-lead", v) for v in values))
    consumer = await bus.consumer([t], "g-large")
    try:
        got = await drain(consumer, len(values))
    finally:
        await consumer.close()
    assert sorted(m.value for m in got) == sorted(values)


async def test_a_group_resumes_after_its_committed_offset(bus: Bus) -> None:
    t = topic()
    for i in range(10):
        await bus.publish(t, "same-key", str(i).encode())
    first = await bus.consumer([t], "g-resume")
    got = await drain(first, 10)
    await first.commit([m for m in got if int(m.value) < 6])
    await first.close()

    second = await bus.consumer([t], "g-resume")
    try:
        # Tansu waits out the first member's session before the second one is given the
        # partitions (~20 s): allow for it on a loaded machine.
        again = await drain(second, 4, wait=60)
    finally:
        await second.close()
    # What was fetched but never committed comes again; nothing committed does.
    assert sorted(int(m.value) for m in again) == [6, 7, 8, 9]


async def test_each_group_sees_every_message(bus: Bus) -> None:
    t = topic()
    for i in range(5):
        await bus.publish(t, None, str(i).encode())
    a, b = await bus.consumer([t], "g-a"), await bus.consumer([t], "g-b")
    try:
        got_a, got_b = await drain(a, 5), await drain(b, 5)
    finally:
        await a.close()
        await b.close()
    assert (
        sorted(m.value for m in got_a)
        == sorted(m.value for m in got_b)
        == [str(i).encode() for i in range(5)]
    )


async def test_ping_answers_while_up(bus: Bus) -> None:
    await bus.ping()


async def test_sqlite_bus_keeps_messages_and_offsets_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "bus.db"
    first = SqliteBus(path)
    await first.start()
    for i in range(3):
        await first.publish("t", None, str(i).encode())
    consumer = await first.consumer(["t"], "g")
    await consumer.commit((await consumer.fetch())[:1])
    await first.close()

    reopened = SqliteBus(path)
    await reopened.start()
    try:
        again = await (await reopened.consumer(["t"], "g")).fetch()
    finally:
        await reopened.close()
    assert [m.value for m in again] == [b"1", b"2"]


async def test_sqlite_bus_answers_every_publisher_when_a_batch_cannot_be_written(tmp_path: Path) -> None:
    bus = SqliteBus(tmp_path / "bus.db")
    await bus.start()
    try:
        bad = asyncio.create_task(bus.publish("t", "\ud800", b"x"))  # a key SQLite cannot encode
        good = asyncio.create_task(bus.publish("t", "k", b"y"))
        results = await asyncio.wait_for(asyncio.gather(bad, good, return_exceptions=True), 5)
    finally:
        await bus.close()
    assert isinstance(results[0], BusUnavailable)  # answered, not left hanging


async def test_kafka_two_members_of_one_group_share_the_work(kafka_bootstrap: str) -> None:
    t = topic()
    bus = KafkaBus(
        KafkaSettings(bootstrap=kafka_bootstrap, idempotence=False, partitions=3, replication=1), [t]
    )
    await bus.start()
    try:
        for i in range(60):
            await bus.publish(t, f"k{i}", str(i).encode())
        a, b = await bus.consumer([t], "g-pair"), await bus.consumer([t], "g-pair")
        seen: list[Message] = []

        async def work(consumer: Consumer) -> None:
            deadline = asyncio.get_running_loop().time() + FETCH_WAIT
            while len({m.value for m in seen}) < 60 and asyncio.get_running_loop().time() < deadline:
                batch = await consumer.fetch(max_records=10, timeout=0.5)
                seen.extend(batch)
                await consumer.commit(batch)

        await asyncio.gather(work(a), work(b))
        await a.close()
        await b.close()
        assert {int(m.value) for m in seen} == set(range(60))  # at least once, across a rebalance
        late = await bus.consumer([t], "g-pair")
        try:
            assert await late.fetch(max_records=100, timeout=3) == []  # everything was committed
        finally:
            await late.close()
    finally:
        await bus.close()


async def test_lag_counts_the_messages_after_the_consumers_position(bus: Bus) -> None:
    t = topic()
    for n in range(5):
        await bus.publish(t, "same-key", f'{{"n": {n}}}'.encode())  # one key: one partition
    consumer = await bus.consumer([t], "lag")
    try:
        first: list[Message] = []
        deadline = asyncio.get_running_loop().time() + FETCH_WAIT
        while not first and asyncio.get_running_loop().time() < deadline:
            first = await consumer.fetch(max_records=2, timeout=0.5)
        assert 1 <= len(first) <= 2
        behind = await consumer.lag()
        rest = await drain(consumer, 5 - len(first))
        assert len(rest) == 5 - len(first)
        caught_up = await consumer.lag()
    finally:
        await consumer.close()
    assert sum(behind.values()) == 5 - len(first)
    assert {key[0] for key in behind} == {t}
    assert set(caught_up.values()) == {0}
