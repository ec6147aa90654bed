"""SLA lapse -> reassigned and manager notified once (two timer replicas), touches, notification
delivery with retries and Standard Webhooks signatures, against a local receiver."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.bus.memory import MemoryBus
from connectors.crm.local import LocalCrm
from connectors.store.engine import make_engine
from connectors.store.sql import SqlStore
from schemas.config import Channel, LeadflowConfig, Member, RoutingConfig, Rule, SlaConfig, SlaTarget, Team
from schemas.events import TOPIC_ROUTED, LeadReceived, LeadRouted
from schemas.lead import Lead, lead_id_for
from services.config import load_config
from services.intake.signatures import secret_keys
from services.intake.sources.standard import verify
from services.notify import Notifier
from services.qualifier.service import Qualifier
from services.sla import SlaTimer
from tests.conftest import CONFIG_DIR
from tests.fakes.receiver import Receiver
from tests.servers import serve

T0 = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def config(url: str) -> LeadflowConfig:
    pool = Team(
        name="Pool",
        members=(Member(id="ana", name="Ana", notify="ana-dm"), Member(id="ben", name="Ben")),
        manager="Marta",
        manager_notify="managers",
    )
    routing = RoutingConfig(
        teams=(pool,),
        rules=(Rule(id="hot", team="Pool", notify=("owner",), draft_email=True),),
        channels={
            "managers": Channel(kind="slack", url=f"{url}/hooks/managers"),
            "ana-dm": Channel(kind="webhook", url=f"{url}/hooks/ana-dm"),
        },
        sla=SlaConfig(tiers={"hot": SlaTarget(minutes=5), "warm": SlaTarget(minutes=5)}),
    )
    return load_config(CONFIG_DIR).model_copy(update={"routing": routing})


def received(n: int = 1) -> LeadReceived:
    lead = Lead.model_validate(
        {
            "email": f"maria{n}@acme-logistics.com",
            "first_name": "Maria",
            "title": "Head of Operations",
            "phone": "+34 600 123 456",
            "company": {"name": "Acme Logistics", "employees": 150, "industry": "Logistics", "country": "ES"},
            "activities": [{"type": "demo_request"}],
        }
    )
    return LeadReceived(event_id=f"ev-{n}", lead_id=lead_id_for(lead.identity), received_at=T0, lead=lead)


@dataclass
class World:
    now: list[datetime]
    bus: MemoryBus
    stores: list[SqlStore]
    crm: LocalCrm
    config: LeadflowConfig
    receiver: Receiver

    def clock(self) -> datetime:
        return self.now[0]

    def routed(self) -> list[LeadRouted]:
        return [LeadRouted.model_validate_json(v) for v in self.bus.values(TOPIC_ROUTED)]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    receiver = Receiver()
    async with serve(receiver.app()) as url:
        stores = [SqlStore(make_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")) for _ in range(2)]
        for store in stores:
            await store.start()
        crm = LocalCrm(stores[0].engine)
        await crm.start()
        yield World([T0], MemoryBus(), stores, crm, config(url), receiver)
        for store in stores:
            await store.close()


def notifier(world: World, store: SqlStore) -> Notifier:
    from pydantic import SecretStr

    return Notifier(
        store, lambda: world.config.routing, secrets={"ana-dm": SecretStr(SECRET)}, clock=world.clock
    )


async def test_an_sla_lapse_reassigns_and_notifies_the_manager_once(world: World) -> None:
    qualifier = Qualifier(world.bus, world.stores[0], lambda: world.config, clock=world.clock)
    first = await qualifier.decide_and_record(received())
    assert first.routing.owner == "ana"
    assert first.routing.first_touch_due == T0 + timedelta(minutes=5)
    timers = [SlaTimer(world.bus, s, lambda: world.config, clock=world.clock) for s in world.stores]

    world.now[0] = T0 + timedelta(minutes=4)
    assert await timers[0].tick() == 0
    world.now[0] = T0 + timedelta(minutes=6)
    escalated = await asyncio.gather(*(t.tick() for t in timers))  # two replicas, one breach
    assert sum(escalated) == 1
    assert sum(await asyncio.gather(*(t.tick() for t in timers))) == 0

    [escalation] = world.routed()
    assert escalation.event_id == "ev-1:sla"
    assert escalation.routing.owner == "ben"
    assert "Ana did not touch it in time" in escalation.routing.reason
    await world.crm.write(escalation)  # what the writer does with it
    record = await world.crm.record(first.lead_id)
    assert record is not None and record["owner"] == "ben"

    senders = [notifier(world, store) for store in world.stores]
    sent = sum([await sender.tick() for sender in senders])
    for sender in senders:
        await sender.aclose()
    assert sent == 2  # Ana's new-lead message, the manager's breach message
    [manager] = world.receiver.bodies("managers")
    assert manager["text"].startswith("SLA breached, new lead for ben")
    assert (
        "maria" not in manager["text"].lower() or "Maria" in manager["text"]
    )  # the name may show; contacts never
    assert "@" not in manager["text"] and "600 123" not in manager["text"]
    adherence = await world.stores[0].sla_adherence()
    assert {(r["owner"], r["breached"], r["open"]) for r in adherence} == {("ana", 1, 0), ("ben", 0, 1)}


async def test_a_new_owner_ends_the_old_owner_s_deadline_so_it_never_escalates(world: World) -> None:
    # The same lead decided again (a second form fill; a reviewer's override does the same) goes
    # to Ben: Ana's deadline must not breach later and take the lead away from him again.
    qualifier = Qualifier(world.bus, world.stores[0], lambda: world.config, clock=world.clock)
    first = await qualifier.decide_and_record(received())
    world.now[0] = T0 + timedelta(minutes=2)
    again = received().model_copy(update={"event_id": "ev-1-again", "received_at": world.now[0]})
    second = await qualifier.decide_and_record(again)
    assert (first.routing.owner, second.routing.owner) == ("ana", "ben")
    timer = SlaTimer(world.bus, world.stores[0], lambda: world.config, clock=world.clock)

    world.now[0] = T0 + timedelta(minutes=6)  # Ana's deadline has passed, Ben's not
    assert await timer.tick() == 0
    superseded = await world.stores[0].sla_of("ev-1")
    assert superseded is not None and superseded["state"] == "superseded"
    world.now[0] = T0 + timedelta(minutes=8)  # Ben's has: his is escalated, once
    assert await timer.tick() == 1
    [escalation] = [r for r in world.routed() if r.event_id.endswith(":sla")]
    assert (escalation.event_id, escalation.routing.owner) == ("ev-1-again:sla", "ana")
    adherence = await world.stores[0].sla_adherence()  # Ana's first deadline counts nowhere
    assert {(r["owner"], r["met"], r["breached"], r["open"]) for r in adherence} == {
        ("ana", 0, 0, 1),  # the escalation's deadline
        ("ben", 0, 1, 0),
    }


async def test_a_touch_in_time_meets_the_sla(world: World) -> None:
    qualifier = Qualifier(world.bus, world.stores[0], lambda: world.config, clock=world.clock)
    routed = await qualifier.decide_and_record(received())
    assert await world.stores[0].record_touch(routed.lead_id, T0 + timedelta(minutes=2)) == 1

    world.now[0] = T0 + timedelta(minutes=30)
    assert await SlaTimer(world.bus, world.stores[0], lambda: world.config, clock=world.clock).tick() == 0
    assert world.routed() == []
    [row] = await world.stores[0].sla_adherence()
    assert (row["owner"], row["met"], row["breached"]) == ("ana", 1, 0)


async def test_crm_activity_counts_as_a_touch(world: World) -> None:
    class Crm:
        async def first_touch(self, lead_id: str, since: datetime) -> datetime | None:
            return T0 + timedelta(minutes=1)

    await Qualifier(world.bus, world.stores[0], lambda: world.config, clock=world.clock).decide_and_record(
        received()
    )
    world.now[0] = T0 + timedelta(minutes=10)

    assert (
        await SlaTimer(
            world.bus, world.stores[0], lambda: world.config, clock=world.clock, touches=Crm()
        ).tick()
        == 0
    )


async def test_notifications_are_signed_retried_and_sent_once(world: World) -> None:
    world.receiver.fail_first = 1
    routed = await Qualifier(
        world.bus, world.stores[0], lambda: world.config, clock=world.clock
    ).decide_and_record(received())
    sender = notifier(world, world.stores[0])

    assert await sender.tick() == 0  # 503: retried later, never blocking the decision
    assert await sender.tick() == 0  # not due yet
    world.now[0] = T0 + timedelta(seconds=3)
    assert await sender.tick() == 1
    assert await sender.tick() == 0
    await sender.aclose()

    [(_, headers, body)] = world.receiver.received
    msg_id = verify(body, headers, secret_keys(SECRET), now=world.now[0].timestamp(), window=300)
    assert msg_id == f"{routed.event_id}:ana-dm"
    assert world.receiver.bodies("ana-dm")[0]["link"].endswith(routed.lead_id)
    [draft] = await world.stores[0].drafts_for(routed.lead_id)
    assert draft["state"] == "pending_approval" and not draft["auto_send"]
