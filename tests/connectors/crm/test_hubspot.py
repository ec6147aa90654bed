"""HubSpot specifics beyond the contract: properties, tasks, crash safety, errors, reading, GDPR."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from starlette.requests import Request
from starlette.responses import Response

from connectors.crm import WriteAction, WriteOutcome
from connectors.crm.hubspot import HubSpotCrm
from connectors.crm.hubspot_api import HubSpotRejected, translate
from connectors.crm.resilience import Guard
from connectors.errors import CrmUnavailable, FatalConnectorError, RetriableConnectorError, Throttled
from schemas.crm import HubSpotCrm as HubSpotConfig
from schemas.decision import Status
from tests.connectors.crm.conftest import FAST, OWNERS
from tests.connectors.crm.contract import T0, routed
from tests.fakes.hubspot import HubSpotFake, running


@dataclass
class Setup:
    fake: HubSpotFake
    crm: HubSpotCrm
    url: str


@pytest.fixture
async def hub() -> AsyncIterator[Setup]:
    fake = HubSpotFake()
    async with running(fake) as url:
        crm = HubSpotCrm(fake.token, HubSpotConfig(owners=OWNERS), base_url=url, guard=Guard("hubspot", FAST))
        await crm.start()
        yield Setup(fake, crm, url)
        await crm.close()


async def test_the_fake_refuses_a_request_that_breaks_the_contract(hub: Setup) -> None:
    api = hub.crm.api
    with pytest.raises(HubSpotRejected) as refused:  # an input without its id
        await api.call("contacts.update", api.contacts_batch.update, {"inputs": [{"properties": {}}]})
    assert refused.value.status == 400
    assert any("'id' is a required property" in why for why in hub.fake.refused)


async def test_a_wrong_or_expired_token_waits_instead_of_dead_lettering(hub: Setup) -> None:
    # HubSpot answers 401 INVALID_AUTHENTICATION (or EXPIRED_AUTHENTICATION for an OAuth token):
    # the token is at fault, never the event, so no lead of the batch may be dead-lettered for it.
    other = HubSpotCrm("wrong", HubSpotConfig(), base_url=hub.url, guard=Guard("hubspot", FAST))
    with pytest.raises(CrmUnavailable) as away:
        await other.owners()
    assert "401" in str(away.value)
    with pytest.raises(CrmUnavailable):
        await other.write_many([routed(1), routed(2)])
    assert hub.fake.contact_by_email("person1@acme-logistics.com") is None
    await other.close()


async def test_a_private_app_missing_a_scope_waits_instead_of_dead_lettering(hub: Setup) -> None:
    # 403 MISSING_SCOPES: the app's install lacks a scope (here, creating contact properties).
    # Granting it fixes every waiting lead; none of them is at fault.
    hub.fake.unscoped.add("POST /crm/v3/properties/{kind}")
    with pytest.raises(CrmUnavailable, match="MISSING_SCOPES"):
        await hub.crm.write_many([routed(1), routed(2)])
    hub.fake.unscoped.clear()  # an admin grants the scope
    assert all(isinstance(r, WriteOutcome) for r in await hub.crm.write_many([routed(1), routed(2)]))


async def test_properties_are_created_once_before_the_first_write(hub: Setup) -> None:
    await hub.crm.write(routed(1))
    contact_props = hub.fake.properties["contacts"]
    assert {"leadflow_score", "leadflow_locked", "leadflow_last_event_id"} <= set(contact_props)
    assert contact_props["leadflow_lead_id"]["hasUniqueValue"] is True
    assert hub.fake.properties["notes"]["leadflow_event_id"]["hasUniqueValue"] is True
    assert "leadflow" in hub.fake.groups["contacts"]
    creations = hub.fake.calls["POST /crm/v3/properties/{kind}"]
    second = HubSpotCrm(hub.fake.token, HubSpotConfig(owners=OWNERS), base_url=hub.url)
    await second.write(routed(2))
    assert hub.fake.calls["POST /crm/v3/properties/{kind}"] == creations
    await second.close()


async def test_a_first_touch_deadline_becomes_one_task_on_the_contact(hub: Setup) -> None:
    event = routed(1)
    routing = event.routing.model_copy(update={"first_touch_due": T0 + timedelta(hours=1)})
    event = event.model_copy(update={"routing": routing})
    await hub.crm.write(event)
    await hub.crm.write(event)
    contact = hub.fake.contact_by_email("person1@acme-logistics.com")
    assert contact is not None
    tasks = hub.fake.notes_of(contact["id"], kind="tasks")
    assert len(tasks) == 1
    assert tasks[0]["properties"]["hubspot_owner_id"] == OWNERS["ana"]
    assert ("tasks", tasks[0]["id"], "contacts", contact["id"], 204) in hub.fake.associations


async def test_a_contact_that_lost_its_event_id_is_rewritten_without_a_second_note(hub: Setup) -> None:
    event = routed(1)
    await hub.crm.write(event)
    contact = hub.fake.contact_by_email("person1@acme-logistics.com")
    assert contact is not None
    contact["properties"]["leadflow_last_event_id"] = None  # as if the last call never happened
    contact["properties"]["leadflow_decided_at"] = None
    again = await hub.crm.write(event)
    assert again.action.value in ("created", "updated")
    assert len(hub.fake.notes_of(contact["id"])) == 1
    assert contact["properties"]["leadflow_last_event_id"] == "ev-1"


async def test_a_crash_between_the_contact_and_its_note_leaves_one_note_on_redelivery(hub: Setup) -> None:
    event = routed(1)
    await hub.crm.write(event)
    contact = hub.fake.contact_by_email("person1@acme-logistics.com")
    assert contact is not None and contact["properties"]["leadflow_last_event_id"] == "ev-1"
    (note,) = hub.fake.notes_of(contact["id"])
    hub.fake.remove("notes", note["id"])  # as if the process died before the notes call
    again = await hub.crm.write(event)
    assert again.action.value == "unchanged"  # the contact had it all; only the note was missing
    (redone,) = hub.fake.notes_of(contact["id"])
    assert redone["properties"]["leadflow_event_id"] == "ev-1"
    await hub.crm.write(event)
    assert len(hub.fake.notes_of(contact["id"])) == 1


async def test_a_contact_merged_since_its_webhook_is_written_under_its_new_id(hub: Setup) -> None:
    # Since HubSpot's 2024 merge change both earlier ids answer with a new record under a new id.
    webhook_id = hub.fake.add_contact(email="merged@acme-logistics.com", firstname="Maria")
    duplicate = hub.fake.add_contact(email="maria.alt@acme-logistics.com")
    event = routed(1, email="merged@acme-logistics.com")
    lead = event.lead.model_copy(update={"source": "hubspot", "source_record_id": webhook_id})
    event = event.model_copy(update={"lead": lead})
    merged_id = hub.fake.merge("contacts", webhook_id, duplicate)
    assert merged_id not in (webhook_id, duplicate)
    outcome = await hub.crm.write(event)
    assert outcome.record_id == merged_id
    merged = hub.fake.objects["contacts"][merged_id]["properties"]
    assert (merged["leadflow_last_event_id"], merged["hubspot_owner_id"]) == ("ev-1", OWNERS["ana"])
    assert len(hub.fake.notes_of(merged_id)) == 1
    assert (await hub.crm.write(event)).action.value == "unchanged"


@dataclass
class DeletingFake(HubSpotFake):
    """A person deletes a contact between the writer's read and its batch update."""

    delete_before_update: str = ""

    async def _batch_update(self, request: Request) -> Response:
        if self.delete_before_update in self.objects["contacts"]:
            self.remove("contacts", self.delete_before_update)
        return await super()._batch_update(request)


async def test_a_contact_left_out_of_a_207_batch_update_fails_alone_without_a_note() -> None:
    fake = DeletingFake()
    async with running(fake) as url:
        crm = HubSpotCrm(fake.token, HubSpotConfig(owners=OWNERS), base_url=url, guard=Guard("hubspot", FAST))
        events = []
        for n in (1, 2):
            event = routed(n)
            contact_id = fake.add_contact(email=f"person{n}@acme-logistics.com")
            lead = event.lead.model_copy(update={"source": "hubspot", "source_record_id": contact_id})
            events.append(event.model_copy(update={"lead": lead}))
        fake.delete_before_update = str(events[0].lead.source_record_id)
        first, second = await crm.write_many(events)
        assert isinstance(first, FatalConnectorError) and "not updated" in str(first)
        assert isinstance(second, WriteOutcome) and second.action is WriteAction.CREATED
        assert len(fake.notes_of(second.record_id)) == 1
        assert len(fake.objects["notes"]) == 1  # no note left behind for the deleted contact
        assert not fake.refused
        await crm.close()


async def test_a_batch_costs_a_few_calls_whatever_its_size(hub: Setup) -> None:
    await hub.crm.write_many([routed(0)])  # properties checked once
    before = hub.fake.requests
    await hub.crm.write_many([routed(n) for n in range(1, 101)])
    # read, upsert the contacts with their decisions, create the notes with their associations
    assert hub.fake.requests - before == 3


async def test_reading_owners_a_contact_a_company_and_forgetting_a_contact(hub: Setup) -> None:
    owners = await hub.crm.owners()
    assert [o.owner_id for o in owners] == [o["id"] for o in hub.fake.owners]
    event = routed(1)
    await hub.crm.write(event)
    match = await hub.crm.contact(event.lead_id)
    assert match is not None and (match.owner, match.status, match.locked) == (
        OWNERS["ana"],
        "qualified",
        False,
    )
    assert await hub.crm.contact("no-such-lead") is None
    hub.fake.add_company(name="Acme Logistics", domain="acme-logistics.com", hubspot_owner_id="70003",
                         lifecyclestage="customer")  # fmt: skip
    account = await hub.crm.by_domain("acme-logistics.com")
    assert account is not None and (account.owner, account.customer) == ("70003", True)
    assert await hub.crm.by_domain("gmail.com") is None  # free mail never matches an account
    assert await hub.crm.forget("Person1@acme-logistics.com") is True
    assert hub.fake.contact_by_email("person1@acme-logistics.com") is None
    assert await hub.crm.forget("person1@acme-logistics.com") is False
    # Someone HubSpot never knew: nothing deleted, and their email not blocklisted in the portal.
    assert await hub.crm.forget("stranger@elsewhere.example") is False
    assert hub.fake.blocklist == set()


async def test_requalify_reads_contacts_page_by_page(hub: Setup) -> None:
    from connectors.crm.reader import Selection

    await hub.crm.write_many([routed(n) for n in range(1, 8)])
    pages = [page async for page in hub.crm.records(Selection(), page_size=3)]
    assert [len(p) for p in pages] == [3, 3, 1]
    assert all(r.lead.source == "hubspot" and r.lead.person.email for p in pages for r in p)


async def test_requalify_pages_past_the_10000_results_one_hubspot_search_can_reach(hub: Setup) -> None:
    from connectors.crm.reader import Selection

    for n in range(10_050):
        hub.fake.add_contact(email=f"c{n}@acme-logistics.com")
    ids = [r.record_id async for page in hub.crm.records(Selection(), page_size=100) for r in page]
    assert len(ids) == len(set(ids)) == 10_050
    assert not hub.fake.refused


class FakeApiException(Exception):
    def __init__(self, status: int, headers: dict[str, str], body: dict[str, str]) -> None:
        self.status, self.headers, self.body = status, headers, json.dumps(body).encode()


def test_http_answers_become_the_connector_errors() -> None:
    interval = {"X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}
    ten_secondly = translate("op", FakeApiException(429, interval, {"policyName": "TEN_SECONDLY_ROLLING"}))
    assert isinstance(ten_secondly, Throttled) and ten_secondly.retry_after == pytest.approx(10)
    assert translate("op", FakeApiException(429, {"Retry-After": "2"}, {})).retry_after == 2  # type: ignore[attr-defined]
    assert isinstance(translate("op", FakeApiException(429, {}, {"policyName": "DAILY"})), CrmUnavailable)
    assert isinstance(translate("op", FakeApiException(502, {}, {})), RetriableConnectorError)
    rejected = translate(
        "op", FakeApiException(400, {}, {"category": "VALIDATION_ERROR", "message": "a@b.c"})
    )
    assert isinstance(rejected, HubSpotRejected) and "a@b.c" not in str(rejected)


async def test_looking_up_a_lead_before_its_property_exists_finds_nothing_and_fails_nothing(
    hub: Setup,
) -> None:
    # A qualifier may ask before any writer created leadflow_lead_id: HubSpot answers 400 then.
    assert "POST /crm/v3/properties/{kind}/batch/create" not in hub.fake.calls
    assert await hub.crm.contact("lead-before-any-write") is None
    assert hub.fake.refused, "the fake should have refused the lookup by a missing property"


async def test_a_batch_of_leads_is_looked_up_in_one_call_with_status_and_lock(hub: Setup) -> None:
    await hub.crm.write_many([routed(1), routed(2, status=Status.UNQUALIFIED)])
    contact = hub.fake.contact_by_email("person2@acme-logistics.com")
    assert contact is not None
    contact["properties"]["leadflow_locked"] = "true"  # an AE pinned it
    before = hub.fake.requests
    found = await hub.crm.contacts([routed(1).lead_id, routed(2).lead_id, "lead-nobody", routed(1).lead_id])
    assert hub.fake.requests - before == 1
    assert set(found) == {routed(1).lead_id, routed(2).lead_id}
    assert found[routed(1).lead_id].status == "qualified" and not found[routed(1).lead_id].locked
    assert found[routed(2).lead_id].status == "unqualified" and found[routed(2).lead_id].locked
    assert found[routed(1).lead_id].owner == OWNERS["ana"]


async def test_a_batch_lookup_before_the_property_exists_finds_nothing(hub: Setup) -> None:
    assert await hub.crm.contacts(["lead-before-any-write"]) == {}
