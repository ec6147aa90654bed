"""A live intake (the dashboard with it) over a real SQLite store, the local CRM and the
in-memory bus, with a few decided leads: two waiting for review and one with a hostile name."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from connectors.bus.memory import MemoryBus
from connectors.crm.local import LocalCrm
from connectors.store.engine import make_engine
from connectors.store.sql import SqlStore
from schemas.events import LeadReceived, LeadRouted
from schemas.lead import Lead, lead_id_for
from services.bootstrap import bootstrap
from services.config import load_config
from services.qualifier.service import Qualifier
from services.settings import Settings
from services.web import create_app
from tests.conftest import CONFIG_DIR
from tests.servers import serve

TOKEN = "dash-token"
CONFIG = load_config(CONFIG_DIR)
NOW = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)
XSS = "<script>alert('x')</script>"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def received(n: int, data: dict[str, object]) -> LeadReceived:
    lead = Lead.model_validate(data)
    return LeadReceived(event_id=f"ev-{n}", lead_id=lead_id_for(lead.identity), received_at=NOW, lead=lead)


@dataclass
class Live:
    url: str
    client: httpx.AsyncClient
    bus: MemoryBus
    store: SqlStore
    crm: LocalCrm
    waiting: list[LeadRouted]
    hostile: LeadRouted

    async def login(self) -> str:
        """Log in; returns the session's CSRF token."""
        answer = await self.client.post("/dashboard/login", data={"token": TOKEN})
        assert answer.status_code == 303, answer.text
        page = await self.client.get("/dashboard/stream")
        assert page.status_code == 200
        found = CSRF.search(page.text)
        assert found is not None
        return found.group(1)


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    store = SqlStore(make_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"))
    await store.start()
    crm = LocalCrm(store.engine)
    await crm.start()
    bus = MemoryBus()
    qualifier = Qualifier(bus, store, lambda: CONFIG, clock=lambda: NOW)
    waiting = [
        await qualifier.decide_and_record(
            received(n, {"email": f"someone{n}@unknown-co.example", "company": {"name": f"Unknown {n}"}})
        )
        for n in (1, 2)
    ]
    hostile = await qualifier.decide_and_record(
        received(
            3,
            {
                "email": "mallory@freight.example",
                "first_name": XSS,
                "last_name": '"><img src=x onerror=alert(1)>',
                "title": "Head of Operations",
                "company": {"name": "Freight", "employees": 150, "industry": "Logistics", "country": "ES"},
            },
        )
    )
    for routed in [*waiting, hostile]:  # the writer's work
        outcome = await crm.write(routed)
        await store.mark_written(routed.lead_id, routed.event_id, NOW, outcome.crm, outcome.record_id)
    settings = Settings(api_token=TOKEN, data_dir=tmp_path, config_dir=CONFIG_DIR)
    app = create_app(settings, ("intake",), build=lambda: bootstrap(settings, bus=bus, store=store, crm=crm))
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        yield Live(url, client, bus, store, crm, waiting, hostile)
    await store.close()
