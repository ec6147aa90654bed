"""Review queue: GET /v1/review lists waiting leads; POST /v1/review/{id} approves or overrides,
is kept as feedback, published on leads.feedback, and written to the CRM: the local one, and
HubSpot (its fake, through hubspot-api-client)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from connectors.bus.memory import MemoryBus
from connectors.crm import CrmWriter
from connectors.crm.hubspot import HubSpotCrm
from connectors.crm.local import LocalCrm
from connectors.crm.resilience import Guard
from connectors.store.engine import make_engine
from connectors.store.sql import SqlStore
from schemas.crm import HubSpotCrm as HubSpotConfig
from schemas.events import TOPIC_FEEDBACK, TOPIC_ROUTED, LeadFeedback, LeadReceived, LeadRouted
from schemas.lead import Lead, lead_id_for
from services.bootstrap import bootstrap
from services.config import load_config
from services.dashboard.queries import DashboardQueries
from services.qualifier.service import Qualifier
from services.settings import Settings
from services.web import create_app
from tests.conftest import CONFIG_DIR
from tests.connectors.crm.conftest import FAST
from tests.fakes.hubspot import HubSpotFake, running
from tests.integration.hubspot_run import OWNERS, fake_hubspot
from tests.servers import serve

TOKEN = "review-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CONFIG = load_config(CONFIG_DIR)
NOW = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)


def unclear(n: int) -> LeadReceived:
    lead = Lead.model_validate(
        {"email": f"someone{n}@unknown-co.example", "company": {"name": f"Unknown {n}"}}
    )
    return LeadReceived(event_id=f"ev-{n}", lead_id=lead_id_for(lead.identity), received_at=NOW, lead=lead)


@dataclass
class Target:
    crm: CrmWriter
    fake: HubSpotFake | None = None

    async def seen(self, lead: LeadRouted) -> tuple[str | None, str | None, str | None]:
        """Owner, status and tier as the CRM holds them (routing.yaml's member id for the owner)."""
        if self.fake is None:
            assert isinstance(self.crm, LocalCrm)
            record = await self.crm.record(lead.lead_id) or {}
            return record.get("owner"), record.get("status"), record.get("tier")
        contact = self.fake.contact_by_email(lead.lead.person.email or "") or {"properties": {}}
        props = contact["properties"]
        member = {v: k for k, v in OWNERS.items()}.get(props.get("hubspot_owner_id") or "")
        return member, props.get("leadflow_status"), props.get("leadflow_tier")


@pytest.fixture(params=["local", "hubspot"])
async def target(request: pytest.FixtureRequest, store: SqlStore) -> AsyncIterator[Target]:
    if request.param == "local":
        crm = LocalCrm(store.engine)
        await crm.start()
        yield Target(crm)
        return
    fake = fake_hubspot()
    fake.limit = 1000
    async with running(fake) as url:
        hubspot = HubSpotCrm(
            fake.token, HubSpotConfig(owners=OWNERS), base_url=url, guard=Guard("hubspot", FAST)
        )
        await hubspot.start()
        yield Target(hubspot, fake)
        await hubspot.close()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    store = SqlStore(make_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"))
    await store.start()
    yield store
    await store.close()


async def test_review_approve_and_override_round_trip_to_the_crm(
    tmp_path: Path, store: SqlStore, target: Target
) -> None:
    crm = target.crm
    bus = MemoryBus()
    qualifier = Qualifier(bus, store, lambda: CONFIG, clock=lambda: NOW)
    waiting = [await qualifier.decide_and_record(unclear(n)) for n in (1, 2)]
    assert {w.routing.queue for w in waiting} == {"SDR review"}
    for routed in waiting:
        await crm.write(routed)
    settings = Settings(api_token=TOKEN, data_dir=tmp_path, config_dir=CONFIG_DIR)
    app = create_app(settings, ("intake",), build=lambda: bootstrap(settings, bus=bus, store=store, crm=crm))

    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        listed = (await client.get("/v1/review", headers=AUTH)).json()
        assert sorted(lead["lead_id"] for lead in listed["leads"]) == sorted(w.lead_id for w in waiting)

        override = {
            "action": "override",
            "status": "qualified",
            "tier": "hot",
            "owner": "ana.garcia",
            "note": "spoke to them: 300 staff",
        }
        answer = await client.post(f"/v1/review/{waiting[0].lead_id}", json=override, headers=AUTH)
        assert answer.status_code == 200, answer.text
        assert answer.json()["changes"] == {
            "status": ["insufficient_info", "qualified"],
            "tier": [waiting[0].evaluation.tier, "hot"],
            "owner": [None, "ana.garcia"],
        }
        approved = await client.post(
            f"/v1/review/{waiting[1].lead_id}", json={"action": "approve"}, headers=AUTH
        )
        assert approved.status_code == 200 and approved.json()["changes"] == {}

        left = (await client.get("/v1/review", headers=AUTH)).json()
        assert left["count"] == 0, left
        bad = await client.post(f"/v1/review/{waiting[0].lead_id}", json={"action": "maybe"}, headers=AUTH)
        assert bad.status_code == 422
        stranger = {"action": "override", "owner": "ana.garica"}  # a typo: nobody would get the lead
        typo = await client.post(f"/v1/review/{waiting[1].lead_id}", json=stranger, headers=AUTH)
        assert typo.status_code == 422 and typo.json()["error"] == "not_a_lead", typo.text
        assert "'ana.garica' is not a member" in typo.json()["detail"]
        assert typo.json()["fields"][0]["field"] == "owner"
        missing = await client.post("/v1/review/nobody", json={"action": "approve"}, headers=AUTH)
        assert missing.status_code == 404
        # No such lead is 404 whatever the body's owner: the lead is looked up first.
        nobody = await client.post("/v1/review/nobody", json=stranger, headers=AUTH)
        assert nobody.status_code == 404, nobody.text
        assert (await client.get("/v1/review")).status_code == 401

    for value in bus.values(TOPIC_ROUTED):  # the writer's work
        await crm.write(LeadRouted.model_validate_json(value))
    assert await target.seen(waiting[0]) == ("ana.garcia", "qualified", "hot")
    assert await target.seen(waiting[1]) == (None, "insufficient_info", waiting[1].evaluation.tier)
    feedback = [LeadFeedback.model_validate_json(v) for v in bus.values(TOPIC_FEEDBACK)]
    assert {(f.lead_id, f.property, f.value) for f in feedback} == {
        (waiting[0].lead_id, "status", "qualified"),
        (waiting[0].lead_id, "tier", "hot"),
        (waiting[0].lead_id, "owner", "ana.garcia"),
        (waiting[1].lead_id, "review", "approve"),
    }
    [kept] = await store.feedback_for(waiting[0].lead_id)
    assert kept["action"] == "override" and kept["note"] == "spoke to them: 300 staff"
    assert (await store.get_lead(waiting[0].lead_id) or {})["owner"] == "ana.garcia"


async def test_a_repeated_review_records_and_publishes_nothing_more(tmp_path: Path, store: SqlStore) -> None:
    # A double-clicked Override or a client's retry: once was a second decision, a second
    # first-touch deadline and notification for the owner, and feedback counted twice.
    crm = LocalCrm(store.engine)
    await crm.start()
    bus = MemoryBus()
    qualifier = Qualifier(bus, store, lambda: CONFIG, clock=lambda: NOW)
    first, second = [await qualifier.decide_and_record(unclear(n)) for n in (1, 2)]
    settings = Settings(api_token=TOKEN, data_dir=tmp_path, config_dir=CONFIG_DIR)
    app = create_app(settings, ("intake",), build=lambda: bootstrap(settings, bus=bus, store=store, crm=crm))
    override = {"action": "override", "tier": "hot", "owner": "ana.garcia"}
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:

        async def review(lead: LeadRouted, body: dict[str, str]) -> httpx.Response:
            return await client.post(f"/v1/review/{lead.lead_id}", json=body, headers=AUTH)

        done = await review(first, override)
        assert done.status_code == 200 and done.json()["changes"] != {}
        assert (await review(second, {"action": "approve"})).status_code == 200
        for lead, body in (
            (first, override),
            (first, {"action": "approve"}),
            (second, {"action": "approve"}),
        ):
            again = await review(lead, body)
            assert again.status_code == 200 and again.json()["changes"] == {}, again.text
        assert again.json()["event_id"] != done.json()["event_id"]  # second's own review
        assert (await review(first, override)).json()["event_id"] == done.json()["event_id"]
        noted = {"action": "override", "note": "called them"}  # a note is news: recorded, once
        assert (await review(second, noted)).json()["event_id"] != again.json()["event_id"]
        assert (await review(second, noted)).json()["changes"] == {}
    assert len(bus.values(TOPIC_ROUTED)) == 3  # one review each, and the note
    assert len(bus.values(TOPIC_FEEDBACK)) == 4  # tier and owner; review=approve, review=override
    assert len(await store.feedback_for(first.lead_id)) == 1
    assert [f["note"] for f in await store.feedback_for(second.lead_id)] == [None, "called them"]
    queries = DashboardQueries(store)
    assert len(await queries.slas_for(first.lead_id)) == 1
    assert [d.routing.rule_id for d in await queries.history(first.lead_id)] == ["needs-review", "review"]


async def test_reviews_of_one_lead_posted_together_record_one_decision(
    tmp_path: Path, store: SqlStore
) -> None:
    # A double-click sends both posts at once: each had read the lead before the other wrote.
    crm = LocalCrm(store.engine)
    await crm.start()
    bus = MemoryBus()
    qualifier = Qualifier(bus, store, lambda: CONFIG, clock=lambda: NOW)
    lead = await qualifier.decide_and_record(unclear(1))
    settings = Settings(api_token=TOKEN, data_dir=tmp_path, config_dir=CONFIG_DIR)
    app = create_app(settings, ("intake",), build=lambda: bootstrap(settings, bus=bus, store=store, crm=crm))
    override = {"action": "override", "owner": "ana.garcia"}
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        answers = await asyncio.gather(
            *(client.post(f"/v1/review/{lead.lead_id}", json=override, headers=AUTH) for _ in range(3))
        )
    assert all(a.status_code == 200 for a in answers)
    assert len({a.json()["event_id"] for a in answers}) == 1
    assert len(bus.values(TOPIC_ROUTED)) == 1
