"""One fixture, ``crm``, parametrized by CRM: each harness gives the contract suite a started
CrmWriter and a way to look at (and lock) records the way a person in that CRM would.

To add a CRM, add its name to ``CRMS`` and a branch in ``crm`` that yields a ``Harness``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from connectors.crm import CrmWriter
from connectors.crm.hubspot import HubSpotCrm
from connectors.crm.local import LocalCrm
from connectors.crm.resilience import Guard, Limits
from connectors.store.engine import make_engine
from schemas.crm import HubSpotCrm as HubSpotConfig
from schemas.crm import SalesforceCrm as SalesforceConfig
from schemas.events import LeadRouted
from tests.connectors.crm.salesforce_fixture import USERS, salesforce_harness
from tests.fakes.hubspot import HubSpotFake, running
from tests.fakes.salesforce import VERSION
from tests.servers import postgres_database

CRMS = ["local", "local-postgresql", "hubspot", "salesforce"]
OWNERS = {"ana": "70001", "ben": "70002"}  # routing.yaml member -> HubSpot owner id (crm.yaml)
FAST = Limits(requests=1000, window_seconds=1.0, max_attempts=3, backoff_base=0.01, backoff_cap=0.05,
              breaker_reset_seconds=0.2)  # fmt: skip


@dataclass
class Record:
    """What a person sees on the record: the decision fields Leadflow writes."""

    status: str | None
    owner: str | None
    score: int | None
    tier: str | None
    last_event_id: str | None


@dataclass
class Harness:
    name: str
    crm: CrmWriter
    record: Callable[[LeadRouted], Awaitable[Record | None]]
    notes: Callable[[LeadRouted], Awaitable[int]]
    lock: Callable[[LeadRouted], Awaitable[None]]
    owner: Callable[[str], str]  # a routing owner as the CRM stores it
    # The lead's email drafts as their owner sees them in the CRM: (owner, subject, body) each.
    drafts: Callable[[LeadRouted], Awaitable[list[tuple[str | None, str, str]]]]
    # A decision this CRM refuses to store (None: the CRM refuses nothing a decision can hold).
    refused: Callable[[LeadRouted], LeadRouted] | None


async def _local(url: str) -> AsyncIterator[Harness]:
    """The local CRM on the embedded SQLite, or on PostgreSQL as at scale (its statements differ)."""
    engine = make_engine(url)
    crm = LocalCrm(engine)
    await crm.start()

    async def record(routed: LeadRouted) -> Record | None:
        row = await crm.record(routed.lead_id)
        if row is None:
            return None
        return Record(row["status"], row["owner"], row["score"], row["tier"], row["last_event_id"])

    async def notes(routed: LeadRouted) -> int:
        return (await crm.note_counts()).get(routed.lead_id, 0)

    async def lock(routed: LeadRouted) -> None:
        await crm.lock(routed.lead_id)

    async def drafts(routed: LeadRouted) -> list[tuple[str | None, str, str]]:
        return [(d["owner"], d["subject"], d["body"]) for d in await crm.drafts(routed.lead_id)]

    yield Harness("local", crm, record, notes, lock, lambda owner: owner, drafts, None)
    await crm.close()
    await engine.dispose()


async def _local_postgresql(server_url: str) -> AsyncIterator[Harness]:
    async with postgres_database(server_url) as url:
        async for harness in _local(url):
            yield harness


async def _hubspot() -> AsyncIterator[Harness]:
    fake = HubSpotFake()
    async with running(fake) as url:
        config = HubSpotConfig(owners=OWNERS)
        crm = HubSpotCrm(fake.token, config, base_url=url, guard=Guard("hubspot", FAST))
        await crm.start()

        def contact(routed: LeadRouted) -> dict[str, Any] | None:
            assert routed.lead.person.email
            return fake.contact_by_email(routed.lead.person.email)

        async def record(routed: LeadRouted) -> Record | None:
            found = contact(routed)
            if found is None:
                return None
            p, name = found["properties"], config.property_for
            score = p.get(name("score"))
            return Record(p.get(name("status")), p.get("hubspot_owner_id"), int(score) if score else None,
                          p.get(name("tier")), p.get(name("last_event_id")))  # fmt: skip

        async def notes(routed: LeadRouted) -> int:
            found = contact(routed)
            return len(fake.notes_of(found["id"])) if found else 0

        async def lock(routed: LeadRouted) -> None:
            found = contact(routed)
            assert found is not None
            found["properties"][config.property_for("locked")] = "true"  # a person ticks the box

        def refused(routed: LeadRouted) -> LeadRouted:
            # An owner id HubSpot does not know: the batch update is refused for that contact.
            routing = routed.routing.model_copy(update={"owner": "99999999"})
            return routed.model_copy(update={"routing": routing})

        async def drafts(routed: LeadRouted) -> list[tuple[str | None, str, str]]:
            found = contact(routed)
            tasks = fake.notes_of(found["id"], "tasks") if found else []
            return [
                (
                    p.get("hubspot_owner_id"),
                    p["hs_task_subject"].removeprefix("Email draft: "),
                    p["hs_task_body"],
                )
                for p in (t["properties"] for t in tasks)
                if p.get("hs_task_type") == "EMAIL"
            ]

        yield Harness("hubspot", crm, record, notes, lock, lambda o: OWNERS.get(o, o), drafts, refused)
        assert not fake.refused, f"the connector sent requests the contract refuses: {fake.refused}"
        await crm.close()


SF_OWNERS = {"ana": USERS["ana.garcia"], "ben": USERS["ben.dubois"]}  # crm.yaml salesforce.owners
SF_NAMES = {"ana": "ana.garcia", "ben": "ben.dubois"}  # how the harness reads an OwnerId back


async def _salesforce() -> AsyncIterator[Harness]:
    config = SalesforceConfig(api_version=VERSION, owners=SF_OWNERS)
    async with salesforce_harness(config=config) as h:

        async def record(routed: LeadRouted) -> Record | None:
            found = h.record(routed.lead_id)
            if found is None:
                return None
            score = found["score"]
            return Record(found["status"], found["owner"], int(score) if score is not None else None,
                          found["tier"], found["last_event_id"])  # fmt: skip

        async def notes(routed: LeadRouted) -> int:
            return h.note_count(routed.lead_id)  # briefing Tasks: Salesforce's notes

        async def lock(routed: LeadRouted) -> None:
            h.lock(routed.lead_id)

        def refused(routed: LeadRouted) -> LeadRouted:
            # A Lead that was deleted in Salesforce: the update is refused for that one event.
            lead = routed.lead.model_copy(
                update={"source": "salesforce", "source_record_id": "00Q000000000999AAA"}
            )
            return routed.model_copy(update={"lead": lead})

        async def drafts(routed: LeadRouted) -> list[tuple[str | None, str, str]]:
            return [
                (next((SF_NAMES[n] for n, uid in SF_OWNERS.items() if uid == t["OwnerId"]), t["OwnerId"]),
                 t["Subject"].removeprefix("Email draft: "), t["Description"])
                for t in h.drafts(routed.lead_id)
            ]  # fmt: skip

        yield Harness("salesforce", h.crm, record, notes, lock, lambda o: SF_NAMES.get(o, o), drafts, refused)


@pytest.fixture(params=CRMS)
async def crm(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Harness]:
    factories = {
        "local": lambda: _local(f"sqlite+aiosqlite:///{tmp_path / 'crm.db'}"),
        "local-postgresql": lambda: _local_postgresql(request.getfixturevalue("postgres_server_url")),
        "hubspot": _hubspot,
        "salesforce": _salesforce,
    }
    factory = factories[request.param]()
    async for harness in factory:
        yield harness
