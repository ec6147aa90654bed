"""The local CRM's contract, on SQLite and on PostgreSQL: one write and one note per event, locked
records keep status and owner, and racing writers (a rebalance) still write once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.crm import WriteAction
from connectors.crm.local import LocalCrm
from connectors.store.engine import make_engine
from schemas.decision import Status
from schemas.events import LeadRouted
from schemas.lead import Lead
from tests.connectors.store.examples import routed


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url)
    await LocalCrm(engine).start()
    yield engine
    await engine.dispose()


@pytest.fixture
def crm(engine: AsyncEngine) -> LocalCrm:
    return LocalCrm(engine)


def named(n: int, first: str, last: str, **kw: object) -> LeadRouted:
    event = routed(n, **kw)  # type: ignore[arg-type]
    lead = Lead.model_validate({"email": f"p{n}@example.com", "first_name": first, "last_name": last})
    return event.model_copy(update={"lead": lead})


async def test_an_event_is_written_once_with_one_note(crm: LocalCrm) -> None:
    first = await crm.write(routed(1))
    again = await crm.write(routed(1))  # a redelivery
    assert (first.action, again.action) == (WriteAction.CREATED, WriteAction.UNCHANGED)
    assert await crm.write_counts() == {"lead-1": 1}
    assert await crm.note_counts() == {"lead-1": 1}
    record = await crm.record("lead-1")
    assert record is not None
    assert (
        record["status"],
        record["owner"],
        record["score"],
        record["last_event_id"],
        record["locked"],
    ) == (
        "qualified",
        "ana",
        80,
        "ev-1",
        False,
    )


async def test_a_newer_event_updates_and_an_older_one_redelivered_changes_nothing(crm: LocalCrm) -> None:
    await crm.write(routed(1, lead_id="L"))
    newer = await crm.write(routed(2, lead_id="L", status=Status.POTENTIAL))
    older = await crm.write(routed(1, lead_id="L"))
    assert (newer.action, older.action) == (WriteAction.UPDATED, WriteAction.UNCHANGED)
    record = await crm.record("L")
    assert record is not None and (record["last_event_id"], record["status"], record["writes"]) == (
        "ev-2",
        "potential",
        2,
    )
    assert await crm.note_counts() == {"L": 2}


async def test_a_locked_record_keeps_status_and_owner(crm: LocalCrm) -> None:
    await crm.write(routed(1, lead_id="L"))
    await crm.lock("L")
    outcome = await crm.write(routed(2, lead_id="L", status=Status.UNQUALIFIED))
    assert outcome.action == WriteAction.LOCKED
    contact = await crm.contact("L")
    assert contact is not None and (contact.status, contact.owner, contact.locked) == (
        "qualified",
        "ana",
        True,
    )
    record = await crm.record("L")
    assert record is not None and record["last_event_id"] == "ev-2"


async def test_writers_racing_on_one_event_write_it_once(database_url: str, engine: AsyncEngine) -> None:
    # A rebalance can hand an event to a second writer while the first still writes it.
    engines = [make_engine(database_url) for _ in range(4)]
    try:
        outcomes = await asyncio.gather(*(LocalCrm(engines[i % 4]).write(routed(1)) for i in range(12)))
    finally:
        for e in engines:
            await e.dispose()
    assert sorted(o.action for o in outcomes).count(WriteAction.CREATED) == 1
    assert {o.action for o in outcomes} == {WriteAction.CREATED, WriteAction.UNCHANGED}
    crm = LocalCrm(engine)
    assert await crm.write_counts() == {"lead-1": 1}
    assert await crm.note_counts() == {"lead-1": 1}


async def test_the_longest_names_a_lead_can_have_are_kept(crm: LocalCrm) -> None:
    first, last = "A" * 200, "B" * 200
    await crm.write(named(1, first, last))
    record = await crm.record("lead-1")
    assert record is not None and record["name"] == f"{first} {last}"
    await crm.write(named(2, "Ana\x00", "Ruiz"))  # PostgreSQL text cannot hold NUL: stored without it
    record = await crm.record("lead-2")
    assert record is not None and record["name"].replace("\x00", "") == "Ana Ruiz"
