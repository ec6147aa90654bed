"""Qualifier, writer and the consume loop on the in-memory bus and a real SQLite store."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from connectors.bus import Message
from connectors.bus.memory import MemoryBus
from connectors.crm import WriteAction, WriteOutcome
from connectors.crm.local import LocalCrm
from connectors.errors import FatalConnectorError, RetriableConnectorError, StoreUnavailable
from connectors.store.engine import make_engine, translated
from connectors.store.sql import SqlStore
from schemas.enrichment import ContactMatch
from schemas.events import TOPIC_DLQ, TOPIC_RECEIVED, TOPIC_ROUTED, DeadLetter, LeadReceived, LeadRouted
from schemas.lead import Lead, lead_id_for
from services.config import load_config
from services.consumer import ConsumerLoop
from services.qualifier.service import Qualifier
from services.writer.service import Writer
from tests.conftest import CONFIG_DIR

CONFIG = load_config(CONFIG_DIR)
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def received(n: int, country: str = "ES") -> LeadReceived:
    lead = Lead.model_validate(
        {
            "email": f"buyer{n}@freight.example",
            "first_name": "Ana",
            "title": "Head of Operations",
            "company": {"name": "Freight", "employees": 150, "industry": "Logistics", "country": country},
            "activities": [{"type": "demo_request"}],
        }
    )
    return LeadReceived(event_id=f"ev-{n}", lead_id=lead_id_for(lead.identity), received_at=NOW, lead=lead)


@dataclass
class Pipeline:
    bus: MemoryBus
    store: SqlStore
    crm: LocalCrm
    qualifier: Qualifier
    writer: Writer

    async def publish(self, event: LeadReceived) -> None:
        await self.bus.publish(TOPIC_RECEIVED, event.lead.identity, event.model_dump_json().encode())

    def routed(self) -> list[LeadRouted]:
        return [LeadRouted.model_validate_json(v) for v in self.bus.values(TOPIC_ROUTED)]


@pytest.fixture
async def pipeline(tmp_path: Path) -> AsyncIterator[Pipeline]:
    store = SqlStore(make_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"))
    await store.start()
    crm = LocalCrm(store.engine)
    await crm.start()
    bus = MemoryBus()
    yield Pipeline(
        bus, store, crm, Qualifier(bus, store, lambda: CONFIG, clock=lambda: NOW), Writer(store, crm)
    )
    await store.close()


async def run_loop(loop: ConsumerLoop, until: object) -> None:
    """Run a consume loop until ``until()`` is true (bounded by the test timeout)."""
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    try:
        while not until():  # type: ignore[operator]
            await asyncio.sleep(0.01)
    finally:
        stop.set()
        await task


async def test_a_lead_is_decided_published_and_written(pipeline: Pipeline) -> None:
    await pipeline.publish(received(1))
    await pipeline.qualifier.handle(pipeline.bus.topics[TOPIC_RECEIVED][0])
    [routed] = pipeline.routed()
    assert routed.evaluation.status.value == "qualified"
    assert routed.routing.rule_id == "emea" and routed.routing.owner == "ana.garcia"
    assert routed.config_version == CONFIG.version and routed.decided_at == NOW

    await pipeline.writer.handle(pipeline.bus.topics[TOPIC_ROUTED][0])
    record = await pipeline.crm.record(routed.lead_id)
    assert record is not None and (record["owner"], record["status"]) == ("ana.garcia", "qualified")
    lead = await pipeline.store.get_lead(routed.lead_id)
    assert lead is not None and lead["written_at"] is not None


class BrittleContacts:
    """A CRM directory whose lookup of one lead raises (a bug, not an outage)."""

    def __init__(self, breaks_for: str) -> None:
        self.breaks_for = breaks_for

    async def contact(self, lead_id: str) -> ContactMatch | None:
        if lead_id == self.breaks_for:
            raise ValueError("unexpected answer")
        return None


async def test_a_batch_dead_letters_only_what_fails_alone(pipeline: Pipeline) -> None:
    events = [received(n) for n in (1, 2, 3, 4)]
    qualifier = Qualifier(pipeline.bus, pipeline.store, lambda: CONFIG, clock=lambda: NOW,
                          contacts=BrittleContacts(events[2].lead_id))  # fmt: skip
    for event in events[:2]:
        await pipeline.publish(event)
    await pipeline.bus.publish(TOPIC_RECEIVED, "k", b"\xff not json")
    for event in events[2:]:
        await pipeline.publish(event)
    letters: list[tuple[int, str]] = []

    async def dead_letter(message: Message, exc: BaseException) -> None:
        letters.append((message.offset, exc.__class__.__name__))

    await qualifier.handle_batch(pipeline.bus.topics[TOPIC_RECEIVED], dead_letter)
    assert sorted(letters) == [(2, "PoisonEvent"), (3, "ValueError")]
    assert [r.event_id for r in pipeline.routed()] == ["ev-1", "ev-2", "ev-4"]
    assert await pipeline.store.count_decisions() == 3
    assert await pipeline.store.next_turn("EMEA mid-market") == 3  # one turn per decided lead


async def test_a_redelivered_batch_is_republished_not_decided_again(pipeline: Pipeline) -> None:
    for n in range(1, 6):
        await pipeline.publish(received(n))
    batch = pipeline.bus.topics[TOPIC_RECEIVED]

    async def dead_letter(message: Message, exc: BaseException) -> None:
        raise AssertionError(f"dead-lettered {message.offset}: {exc}")

    await pipeline.qualifier.handle_batch(batch, dead_letter)
    first = pipeline.routed()
    owners = [r.routing.owner for r in first]
    await pipeline.qualifier.handle_batch(batch, dead_letter)  # the commit was lost: redelivered
    again = pipeline.routed()[len(first) :]
    assert [r.model_dump_json() for r in again] == [r.model_dump_json() for r in first]
    assert await pipeline.store.count_decisions() == 5
    assert await pipeline.store.next_turn("EMEA mid-market") == 5  # the rotation advanced once each
    assert len(set(owners)) > 1  # the batch was spread over the pool, not given to one person


async def test_a_redelivered_event_is_decided_and_written_once(pipeline: Pipeline) -> None:
    await pipeline.publish(received(1))
    message = pipeline.bus.topics[TOPIC_RECEIVED][0]
    for _ in range(3):
        await pipeline.qualifier.handle(message)
    routed = pipeline.routed()
    # Republished each time (the publish may have been what failed), always the same decision.
    assert len(routed) == 3 and len({r.model_dump_json() for r in routed}) == 1
    assert await pipeline.store.count_decisions() == 1
    assert await pipeline.store.next_turn("EMEA mid-market") == 1  # rotation advanced once
    for message in pipeline.bus.topics[TOPIC_ROUTED]:
        await pipeline.writer.handle(message)
    assert await pipeline.crm.write_counts() == {routed[0].lead_id: 1}
    assert await pipeline.crm.note_counts() == {routed[0].lead_id: 1}


async def test_round_robin_takes_turns_within_the_team(pipeline: Pipeline) -> None:
    for n in range(4):
        await pipeline.publish(received(n))
    for message in pipeline.bus.topics[TOPIC_RECEIVED]:
        await pipeline.qualifier.handle(message)
    assert [r.routing.owner for r in pipeline.routed()] == [
        "ana.garcia",
        "ben.dubois",
        "clara.weber",
        "ana.garcia",
    ]


async def test_a_locked_record_keeps_its_status_and_owner(pipeline: Pipeline) -> None:
    first, second = received(1), received(1).model_copy(update={"event_id": "ev-again"})
    for event in (first, second):
        await pipeline.publish(event)
    for message in pipeline.bus.topics[TOPIC_RECEIVED]:
        await pipeline.qualifier.handle(message)
    routed = pipeline.bus.topics[TOPIC_ROUTED]
    await pipeline.writer.handle(routed[0])
    await pipeline.crm.lock(first.lead_id)
    await pipeline.writer.handle(routed[1])
    record = await pipeline.crm.record(first.lead_id)
    assert record is not None
    assert record["owner"] == "ana.garcia"  # the second decision went to ben.dubois
    assert record["last_event_id"] == "ev-again"  # score and briefing still written


async def test_poison_goes_to_the_dlq_and_the_loop_moves_on(pipeline: Pipeline) -> None:
    await pipeline.bus.publish(TOPIC_RECEIVED, "k", b"{not json")
    await pipeline.publish(received(2))
    loop = ConsumerLoop(pipeline.bus, [TOPIC_RECEIVED], "g", pipeline.qualifier.handle)
    await run_loop(loop, lambda: pipeline.bus.committed.get(("g", TOPIC_RECEIVED)) == 2)
    [letter] = [DeadLetter.model_validate_json(v) for v in pipeline.bus.values(TOPIC_DLQ)]
    assert letter.topic == TOPIC_RECEIVED and letter.value == "{not json" and letter.key == "k"
    assert letter.error.startswith("PoisonEvent: not a LeadReceived event")
    assert len(pipeline.routed()) == 1


class FlakyCrm:
    """A CRM that fails a set number of times with a given error before it succeeds."""

    name = "flaky"

    def __init__(self, failures: int, error: type[Exception]) -> None:
        self.failures, self.error, self.calls = failures, error, 0

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def write(self, routed: LeadRouted) -> WriteOutcome:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error("crm said no")
        return WriteOutcome(self.name, routed.lead_id, WriteAction.CREATED)


@pytest.mark.parametrize(
    ("failures", "error", "calls", "dead"),
    [
        (2, RetriableConnectorError, 3, 0),  # retried, then written
        (99, RetriableConnectorError, 3, 1),  # retries exhausted: dead-lettered
        (99, FatalConnectorError, 1, 1),  # no retry for a fatal error
    ],
)
async def test_writer_retries_then_dead_letters(
    pipeline: Pipeline, failures: int, error: type[Exception], calls: int, dead: int
) -> None:
    await pipeline.publish(received(1))
    await pipeline.qualifier.handle(pipeline.bus.topics[TOPIC_RECEIVED][0])
    crm = FlakyCrm(failures, error)
    loop = ConsumerLoop(pipeline.bus, [TOPIC_ROUTED], "w", Writer(pipeline.store, crm).handle, max_attempts=3)
    await asyncio.wait_for(run_loop(loop, lambda: ("w", TOPIC_ROUTED) in pipeline.bus.committed), 30)
    assert pipeline.bus.committed[("w", TOPIC_ROUTED)] == 1
    assert crm.calls == calls
    letters = pipeline.bus.values(TOPIC_DLQ)
    assert len(letters) == dead
    if dead:
        assert json.loads(letters[0])["error"] == f"{error.__name__}: crm said no"


async def test_two_workers_racing_on_one_event_publish_one_decision(pipeline: Pipeline) -> None:
    await pipeline.publish(received(1))
    message = pipeline.bus.topics[TOPIC_RECEIVED][0]
    await asyncio.gather(pipeline.qualifier.handle(message), pipeline.qualifier.handle(message))
    routed = pipeline.routed()
    assert len(routed) == 2 and routed[0] == routed[1]  # both published the decision that stands
    assert await pipeline.store.count_decisions() == 1
    lead = await pipeline.store.get_lead(routed[0].lead_id)
    assert lead is not None and lead["owner"] == routed[0].routing.owner


async def test_an_older_event_redelivered_never_overwrites_a_newer_write(pipeline: Pipeline) -> None:
    first, second = received(1), received(1).model_copy(update={"event_id": "ev-newer"})
    for event in (first, second):
        await pipeline.publish(event)
    for message in pipeline.bus.topics[TOPIC_RECEIVED]:
        await pipeline.qualifier.handle(message)
    older, newer = pipeline.bus.topics[TOPIC_ROUTED]
    await pipeline.writer.handle(older)
    await pipeline.writer.handle(newer)
    await pipeline.writer.handle(older)  # a redelivered batch
    record = await pipeline.crm.record(first.lead_id)
    assert record is not None and record["last_event_id"] == "ev-newer" and record["writes"] == 2


@pytest.mark.parametrize("batched", [False, True], ids=["per-message", "batch"])
async def test_a_store_outage_is_retried_not_dead_lettered(pipeline: Pipeline, batched: bool) -> None:
    await pipeline.publish(received(1))
    real = pipeline.store.decisions_for_events
    calls = {"n": 0}

    @translated
    async def flaky(event_ids: Sequence[str]) -> dict[str, LeadRouted]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("SELECT ... 'buyer1@freight.example'", {}, Exception("database is locked"))
        return await real(event_ids)

    pipeline.store.decisions_for_events = flaky  # type: ignore[method-assign]
    qualifier = pipeline.qualifier
    loop = ConsumerLoop(pipeline.bus, [TOPIC_RECEIVED], "q", qualifier.handle,
                        batch_handler=qualifier.handle_batch if batched else None)  # fmt: skip
    await asyncio.wait_for(run_loop(loop, lambda: ("q", TOPIC_RECEIVED) in pipeline.bus.committed), 30)
    assert calls["n"] == 2
    assert pipeline.bus.values(TOPIC_DLQ) == [] and len(pipeline.routed()) == 1


async def test_store_errors_say_only_their_class() -> None:
    @translated
    async def failing() -> None:
        raise OperationalError("INSERT ... 'maria@acme.example'", {}, Exception("locked"))

    with pytest.raises(StoreUnavailable) as caught:
        await failing()
    assert str(caught.value) == "store failing: OperationalError"
