"""The SQL store's contract, on SQLite and on PostgreSQL: decisions, the lead view, inbound claims,
and rotation shared by replicas."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from connectors.store.engine import make_engine
from connectors.store.sql import LeadFilter, SqlStore
from schemas.decision import Evaluation, Fit, FitResult, RoutingDecision, Status
from schemas.events import LeadRouted
from schemas.lead import Lead

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def routed(
    n: int, *, lead_id: str | None = None, status: Status = Status.QUALIFIED, source: str = "web"
) -> LeadRouted:
    fit = FitResult(status=Fit.YES, reason="fits")
    return LeadRouted(
        event_id=f"ev-{n}",
        lead_id=lead_id or f"lead-{n}",
        received_at=T0 + timedelta(minutes=n),
        decided_at=T0 + timedelta(minutes=n, seconds=1),
        config_version="cfg",
        lead=Lead(person={"email": f"p{n}@example.com"}, source=source),  # type: ignore[arg-type]
        evaluation=Evaluation(
            icp=fit, persona=fit, engagement=10, score=80, tier="hot", status=status, reasons=("fits",)
        ),
        routing=RoutingDecision(rule_id="r", owner="ana", team="T", reason="next"),
        briefing="brief",
    )


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
