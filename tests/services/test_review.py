"""Review queue: GET /v1/review lists waiting leads; POST /v1/review/{id} approves or overrides,
is kept as feedback, published on leads.feedback, and written to the (local) CRM."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx

from connectors.bus.memory import MemoryBus
from connectors.crm.local import LocalCrm
from connectors.store.engine import make_engine
from connectors.store.sql import SqlStore
from schemas.events import TOPIC_FEEDBACK, TOPIC_ROUTED, LeadFeedback, LeadReceived, LeadRouted
from schemas.lead import Lead, lead_id_for
from services.bootstrap import bootstrap
from services.config import load_config
from services.qualifier.service import Qualifier
from services.settings import Settings
from services.web import create_app
from tests.conftest import CONFIG_DIR
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


async def test_review_approve_and_override_round_trip_to_the_crm(tmp_path: Path) -> None:
    store = SqlStore(make_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"))
    await store.start()
    crm = LocalCrm(store.engine)
    await crm.start()
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
        missing = await client.post("/v1/review/nobody", json={"action": "approve"}, headers=AUTH)
        assert missing.status_code == 404
        assert (await client.get("/v1/review")).status_code == 401

    for value in bus.values(TOPIC_ROUTED):  # the writer's work
        await crm.write(LeadRouted.model_validate_json(value))
    record = await crm.record(waiting[0].lead_id)
    assert record is not None
    assert (record["owner"], record["status"], record["tier"], record["queue"]) == (
        "ana.garcia",
        "qualified",
        "hot",
        None,
    )
    untouched = await crm.record(waiting[1].lead_id)
    assert untouched is not None and untouched["queue"] == "SDR review" and untouched["writes"] == 2
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
    await store.close()
