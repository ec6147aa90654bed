"""The SQL store's contract, on SQLite and on PostgreSQL: decisions, the lead view, inbound claims,
and rotation shared by replicas."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import inspect

from connectors.store.engine import make_engine
from connectors.store.sql import Claim, InboundClaim, LeadFilter, Recording, SqlStore, Written, padded
from schemas.decision import Status, Take
from tests.connectors.store.examples import T0, routed


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[SqlStore]:
    s = SqlStore(make_engine(database_url))
    await s.start()
    yield s
    await s.close()


async def test_a_decision_is_kept_and_served_as_the_lead(store: SqlStore) -> None:
    await store.record_decision(routed(1))
    assert await store.decision_for_event("ev-1") == routed(1)
    lead = await store.get_lead("lead-1")
    assert lead is not None
    assert (lead["status"], lead["tier"], lead["owner"], lead["written_at"]) == (
        "qualified",
        "hot",
        "ana",
        None,
    )
    assert lead["received_at"] == T0 + timedelta(minutes=1)


async def test_recording_the_same_event_twice_keeps_one_decision(store: SqlStore) -> None:
    await store.record_decision(routed(1))
    await store.record_decision(routed(1))
    assert await store.count_decisions() == 1


async def test_a_newer_event_for_the_same_lead_becomes_its_state(store: SqlStore) -> None:
    await store.record_decision(routed(1, lead_id="L"))
    await store.record_decision(routed(2, lead_id="L", status=Status.POTENTIAL))
    lead = await store.get_lead("L")
    assert lead is not None and (lead["event_id"], lead["status"]) == ("ev-2", "potential")
    assert await store.count_decisions() == 2


async def test_mark_written_applies_only_to_the_current_event(store: SqlStore) -> None:
    await store.record_decision(routed(1, lead_id="L"))
    await store.record_decision(routed(2, lead_id="L"))
    await store.mark_written("L", "ev-1", T0, "local", "L")  # stale: ignored
    assert (await store.get_lead("L"))["written_at"] is None  # type: ignore[index]
    await store.mark_written("L", "ev-2", T0, "local", "L")
    assert (await store.get_lead("L"))["written_at"] == T0  # type: ignore[index]


async def test_mark_written_many_marks_each_current_event_in_one_call(store: SqlStore) -> None:
    await store.record_decision(routed(1, lead_id="A"))
    await store.record_decision(routed(2, lead_id="B"))
    await store.record_decision(routed(3, lead_id="B"))  # ev-2 is stale for B
    await store.mark_written_many(
        [Written("A", "ev-1", "hubspot", "101"), Written("B", "ev-2", "hubspot", "102")], T0
    )
    a, b = await store.get_lead("A"), await store.get_lead("B")
    assert a is not None and (a["written_at"], a["crm"], a["crm_record_id"]) == (T0, "hubspot", "101")
    assert b is not None and b["written_at"] is None
    await store.mark_written_many([Written("B", "ev-3", "hubspot", "102")], T0)
    b = await store.get_lead("B")
    assert b is not None and b["written_at"] == T0


async def test_list_filters_and_orders_newest_first(store: SqlStore) -> None:
    for n in range(1, 6):
        await store.record_decision(routed(n, source="web" if n % 2 else "email"))
    await store.record_decision(routed(6, status=Status.UNQUALIFIED))
    rows = await store.list_leads(LeadFilter())
    assert [r["lead_id"] for r in rows] == [f"lead-{n}" for n in range(6, 0, -1)]
    assert [r["lead_id"] for r in await store.list_leads(LeadFilter(source="email"))] == ["lead-4", "lead-2"]
    assert [r["lead_id"] for r in await store.list_leads(LeadFilter(status="unqualified"))] == ["lead-6"]
    since = await store.list_leads(LeadFilter(since=T0 + timedelta(minutes=5)))
    assert [r["lead_id"] for r in since] == ["lead-6", "lead-5"]
    assert len(await store.list_leads(LeadFilter(limit=2))) == 2


async def test_pages_after_a_cursor_neither_repeat_nor_skip_while_leads_arrive(store: SqlStore) -> None:
    # Leads 1-3 share one received_at: the lead id breaks the tie, so no page splits them wrongly.
    for n in range(1, 7):
        lead = routed(n)
        if n <= 3:
            lead = lead.model_copy(update={"received_at": T0})
        await store.record_decision(lead)
    first = await store.list_leads(LeadFilter(limit=4))
    assert [r["lead_id"] for r in first] == ["lead-6", "lead-5", "lead-4", "lead-3"]
    await store.record_decision(routed(7))  # newer than everything: must not shift the next page
    last = first[-1]
    rest = await store.list_leads(LeadFilter(limit=4, after=(last["received_at"], last["lead_id"])))
    assert [r["lead_id"] for r in rest] == ["lead-2", "lead-1"]
    web = await store.list_leads(LeadFilter(source="web", limit=1, after=(T0, "lead-2")))
    assert [r["lead_id"] for r in web] == ["lead-1"]


async def test_a_tier_is_in_use_while_a_current_decision_carries_it(store: SqlStore) -> None:
    await store.record_decision(routed(1, lead_id="L"))
    renamed = routed(2).model_copy(
        update={"evaluation": routed(2).evaluation.model_copy(update={"tier": "gold"})}
    )
    await store.record_decision(renamed)
    assert await store.tier_in_use("gold") and await store.tier_in_use("hot")
    assert not await store.tier_in_use("typo")


async def test_an_ended_session_is_ended_for_every_replica_until_it_expires(database_url: str) -> None:
    one, other = SqlStore(make_engine(database_url)), SqlStore(make_engine(database_url))
    await one.start()
    await other.start()
    try:
        await one.end_session("old", T0 + timedelta(hours=1), T0)
        await one.end_session("sid-1", T0 + timedelta(hours=12), T0)
        await one.end_session("sid-1", T0 + timedelta(hours=12), T0)  # a double-clicked logout
        assert await other.session_ended("sid-1") and not await other.session_ended("sid-2")
        await other.end_session("sid-2", T0 + timedelta(hours=14), T0 + timedelta(hours=2))
        assert not await one.session_ended("old")  # its cookie has expired: no longer kept
        assert await one.session_ended("sid-1") and await one.session_ended("sid-2")
    finally:
        await one.close()
        await other.close()


async def test_rotation_gives_each_turn_once_across_replicas(database_url: str) -> None:
    replicas = [SqlStore(make_engine(database_url)) for _ in range(3)]
    for replica in replicas:
        await replica.start()
    try:
        turns = await asyncio.gather(*(replicas[i % 3].next_turn("EMEA") for i in range(60)))
        other = await replicas[0].next_turn("NA")
    finally:
        for replica in replicas:
            await replica.close()
    assert sorted(turns) == list(range(60))
    assert other == 0


async def test_racing_replicas_record_one_decision_and_all_return_it(database_url: str) -> None:
    replicas = [SqlStore(make_engine(database_url)) for _ in range(4)]
    for replica in replicas:
        await replica.start()
    try:
        # Four workers decided the same event differently (a rebalance redelivered it).
        rivals = [routed(1).model_copy(update={"briefing": f"brief {i}"}) for i in range(4)]
        standing = await asyncio.gather(
            *(r.record_decision(d) for r, d in zip(replicas, rivals, strict=True))
        )
        assert len({s.briefing for s in standing}) == 1
        assert await replicas[0].count_decisions() == 1
        lead = await replicas[0].get_lead("lead-1")
        assert lead is not None and lead["briefing"] == standing[0].briefing
    finally:
        for replica in replicas:
            await replica.close()


def takes(pool: str, seen: int, n: int, member: str = "ana") -> list[Take]:
    """``n`` consecutive turns of ``pool`` from ``seen``, as one batch routed in memory takes them."""
    return [Take(pool, seen + i, seen + i + 1, member, "2026-11-20") for i in range(n)]


async def test_record_routed_many_records_a_batch_in_order_in_one_call(store: SqlStore) -> None:
    batch = [routed(1, lead_id="A"), routed(2, lead_id="B"), routed(3, lead_id="A", status=Status.POTENTIAL)]
    chain = takes("EMEA", 0, 3)
    stands = await store.record_routed_many([Recording(r, t) for r, t in zip(batch, chain, strict=True)])
    assert stands == batch
    assert await store.count_decisions() == 3
    a = await store.get_lead("A")
    assert a is not None and (a["event_id"], a["status"]) == ("ev-3", "potential")  # A's later event
    state = await store.rotation_state(T0)
    assert state.turns == {"EMEA": 3}
    assert state.assigned == {("ana", "2026-11-20"): 3}
    assert await store.decisions_for_events(["ev-1", "ev-3", "ev-9"]) == {"ev-1": batch[0], "ev-3": batch[2]}


async def test_record_routed_many_changes_nothing_when_a_pool_moved(store: SqlStore) -> None:
    await store.record_routed(routed(1), Take("EMEA", 0, 1, "ana", "2026-11-20"))
    stale = [Recording(routed(n), t) for n, t in zip((2, 3), takes("EMEA", 0, 2), strict=True)]
    assert await store.record_routed_many(stale) is None
    assert await store.count_decisions() == 1
    assert (await store.rotation_state(T0)).turns == {"EMEA": 1}
    fresh = [Recording(routed(n), t) for n, t in zip((2, 3), takes("EMEA", 1, 2), strict=True)]
    assert await store.record_routed_many(fresh) == [routed(2), routed(3)]
    assert (await store.rotation_state(T0)).turns == {"EMEA": 3}


async def test_record_routed_many_keeps_an_earlier_decision_and_skips_its_take(store: SqlStore) -> None:
    first = routed(1).model_copy(update={"briefing": "first"})
    await store.record_routed(first)
    batch = [Recording(routed(1), Take("NA", 0, 1, "bo", "2026-11-20")), Recording(routed(2))]
    assert await store.record_routed_many(batch) == [first, routed(2)]
    assert (await store.rotation_state(T0)).turns == {}  # the redelivered event took no turn
    # A take chained on the skipped one no longer holds: nothing is recorded, route again.
    chained = [Recording(routed(1), t) if n == 1 else Recording(routed(n), t)
               for n, t in zip((1, 3), takes("NA", 0, 2), strict=True)]  # fmt: skip
    assert await store.record_routed_many(chained) is None
    assert await store.count_decisions() == 2


async def test_replicas_recording_batches_share_one_pool_exactly(database_url: str) -> None:
    """Each replica routes a batch from the state it read and retries when the pool moved."""
    replicas = [SqlStore(make_engine(database_url)) for _ in range(3)]
    for replica in replicas:
        await replica.start()

    async def replica_records(store: SqlStore, first: int) -> None:
        while True:
            seen = (await store.rotation_state(T0)).turns.get("EMEA", 0)
            batch = [Recording(routed(first + i), t) for i, t in enumerate(takes("EMEA", seen, 10))]
            if await store.record_routed_many(batch) is not None:
                return
            await asyncio.sleep(0.001)

    try:
        await asyncio.gather(*(replica_records(replicas[i % 3], 100 * i) for i in range(9)))
        state = await replicas[0].rotation_state(T0)
    finally:
        for replica in replicas:
            await replica.close()
    assert state.turns == {"EMEA": 90}
    assert state.assigned == {("ana", "2026-11-20"): 90}


async def test_a_nul_character_in_lead_text_does_not_fail_the_lead(store: SqlStore) -> None:
    # PostgreSQL text cannot hold NUL (SQLite can): the store drops it rather than fail forever.
    await store.record_decision(routed(1).model_copy(update={"briefing": "brief\x00ing"}))
    lead = await store.get_lead("lead-1")
    assert lead is not None and lead["briefing"].replace("\x00", "") == "briefing"
    decision = await store.decision_for_event("ev-1")
    assert decision is not None and decision.briefing.replace("\x00", "") == "briefing"


async def test_a_delivery_is_claimed_once_then_seen_as_a_duplicate(store: SqlStore) -> None:
    stale = timedelta(minutes=1)
    assert await store.claim_inbound("hubspot", "e1", T0, stale, "d1") == Claim.NEW
    assert await store.claim_inbound("hubspot", "e1", T0, stale, "d1") == Claim.IN_PROGRESS
    await store.confirm_inbound("hubspot", "e1")
    assert await store.claim_inbound("hubspot", "e1", T0, stale, "d1") == Claim.DUPLICATE
    assert await store.claim_inbound("hubspot", "e1", T0, stale, "other") == Claim.CONFLICT
    assert await store.claim_inbound("typeform", "e1", T0, stale, "d1") == Claim.NEW  # ids are per source


async def test_a_stale_claim_is_taken_over_and_a_released_one_forgotten(store: SqlStore) -> None:
    stale = timedelta(minutes=1)
    assert await store.claim_inbound("web", "e1", T0, stale) == Claim.NEW
    # The claimer died mid-publish; the sender's retry after the stale period takes it over.
    assert await store.claim_inbound("web", "e1", T0 + timedelta(seconds=30), stale) == Claim.IN_PROGRESS
    assert await store.claim_inbound("web", "e1", T0 + timedelta(minutes=2), stale) == Claim.NEW
    await store.release_inbound("web", "e1")  # publishing failed
    assert await store.claim_inbound("web", "e1", T0 + timedelta(minutes=2), stale) == Claim.NEW
    await store.confirm_inbound("web", "e1")
    await store.release_inbound("web", "e1")  # never forgets a published one
    assert await store.claim_inbound("web", "e1", T0, stale) == Claim.DUPLICATE
    assert await store.prune_inbound(T0 + timedelta(minutes=3)) == 1
    assert await store.claim_inbound("web", "e1", T0, stale) == Claim.NEW


async def test_racing_claims_of_one_delivery_across_replicas_give_one_new(database_url: str) -> None:
    replicas = [SqlStore(make_engine(database_url)) for _ in range(4)]
    for replica in replicas:
        await replica.start()
    try:
        claims = await asyncio.gather(
            *(replicas[i % 4].claim_inbound("web", "storm", T0, timedelta(minutes=1), "d") for i in range(20))
        )
    finally:
        for replica in replicas:
            await replica.close()
    assert sorted(claims).count(Claim.NEW) == 1
    assert set(claims) == {Claim.NEW, Claim.IN_PROGRESS}


async def test_claims_many_at_once_answer_each_in_order(store: SqlStore) -> None:
    stale = timedelta(minutes=1)
    assert await store.claim_inbound("web", "old", T0, stale, "d") == Claim.NEW
    await store.confirm_inbound("web", "old")
    assert await store.claim_inbound("web", "busy", T0, stale, "d") == Claim.NEW
    claims = [
        InboundClaim("web", "a", T0, "d"),
        InboundClaim("web", "old", T0, "d"),
        InboundClaim("web", "old", T0, "other"),
        InboundClaim("web", "busy", T0, "d"),
        InboundClaim("web", "b", T0, "d"),
        InboundClaim("web", "b", T0, "d"),  # one id twice in one batch: only the first is new
    ]
    assert await store.claim_inbound_many(claims, stale) == [
        Claim.NEW, Claim.DUPLICATE, Claim.CONFLICT, Claim.IN_PROGRESS, Claim.NEW, Claim.IN_PROGRESS,
    ]  # fmt: skip
    assert await store.claim_inbound_many([], stale) == []
    await store.confirm_inbound_many([("web", "a"), ("web", "b")])
    await store.confirm_inbound_many([])
    again = [InboundClaim("web", "a", T0, "d"), InboundClaim("web", "b", T0, "d")]
    assert await store.claim_inbound_many(again, stale) == [Claim.DUPLICATE, Claim.DUPLICATE]


def test_a_batch_is_padded_to_a_power_of_two_with_its_last_row() -> None:
    assert [padded(list(range(n))) for n in (0, 1, 2, 3, 5)] == [
        [], [0], [0, 1], [0, 1, 2, 2], [0, 1, 2, 3, 4, 4, 4, 4],
    ]  # fmt: skip


async def test_score_counts_are_binned_by_the_database_as_numpy_bins_them(store: SqlStore) -> None:
    """Drift's daily counts: a day's scores of one model version, per bin of 0.1, the last bin
    closed at 1.0 as numpy.histogram's; other days and other versions not counted."""
    from services.model.drift import EDGES, counts
    from tests.model.test_feedback import routed as scored

    day = [0.0, 0.05, 0.1, 0.35, 0.5, 0.9, 0.95, 1.0]  # routed(2i) is decided on T0
    for i, p in enumerate(day):
        await store.record_decision(scored(2 * i, "model", p, version="v1"))
    await store.record_decision(scored(1, "model", 0.5, version="v1"))  # the next day
    await store.record_decision(scored(100, "model", 0.5, version="v0"))  # another version
    start = T0.replace(hour=0, minute=0, second=0, microsecond=0)
    got = await store.score_counts(start, start + timedelta(days=1), EDGES, "v1")
    assert got == counts(day) == [2, 1, 0, 1, 0, 1, 0, 0, 0, 3]
    assert sum(await store.score_counts(start, start + timedelta(days=1), EDGES)) == len(day) + 1


async def test_the_lead_written_as_a_crm_record_is_found_by_an_index(store: SqlStore) -> None:
    """Feedback that names a CRM record (a HubSpot contact) asks which lead was written there:
    an index probe per event, not a scan of every lead."""
    for n in (1, 2):
        await store.record_decision(routed(n))
        await store.mark_written(f"lead-{n}", f"ev-{n}", T0, "hubspot", "901")  # the newer one wins
    assert await store.lead_for_record("hubspot", "901") == "lead-2"
    assert await store.lead_for_record("salesforce", "901") is None
    async with store.engine.connect() as conn:
        indexes = await conn.run_sync(lambda sync: inspect(sync).get_indexes("leads"))
    assert any(i["column_names"][:2] == ["crm", "crm_record_id"] for i in indexes), indexes
